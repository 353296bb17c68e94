// Avatar and cover objects in S3. Every upload gets a fresh key and is tagged `state=pending`; the
// table's stream tags it `state=live` once a user item holds it (handlers/media-events.ts). A bucket
// lifecycle rule expires pending objects long after the stream's retry window, so an upload whose
// write never happened (a crash, a lost answer) disappears by itself.
import { randomUUID } from 'node:crypto';
import { DeleteObjectCommand, PutObjectCommand, PutObjectTaggingCommand, type S3Client } from '@aws-sdk/client-s3';
import type { ImageField } from './user-record.ts';

export const PENDING_TAG = { Key: 'state', Value: 'pending' } as const;
export const LIVE_TAG = { Key: 'state', Value: 'live' } as const;

export class MediaStore {
  /**
   * `abortSignal` ends uploads when the request's time is up. Deleting does not take it: it must
   * still run after a write that was refused late in the request.
   */
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly uploadOptions: { abortSignal?: AbortSignal } = {},
  ) {}

  /** `<field>/<user id>/<random>.<ext>`: unguessable, never reused, so caches never go stale. */
  newKey(field: ImageField, userId: number, ext: string): string {
    return `${field}/${userId}/${randomUUID()}.${ext}`;
  }

  async putPending(key: string, bytes: Buffer, contentType: string): Promise<void> {
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: bytes,
        ContentType: contentType,
        ContentLength: bytes.length,
        CacheControl: 'public, max-age=31536000, immutable',
        Tagging: `${PENDING_TAG.Key}=${PENDING_TAG.Value}`,
      }),
      this.uploadOptions,
    );
  }

  /**
   * A user holds the object now: take it out of the lifecycle rule's reach. Idempotent. Returns
   * false when the object is gone: a replayed stream record whose key a later record released
   * (keys are never reused, so a gone key is never held again).
   */
  async markLive(key: string): Promise<boolean> {
    try {
      await this.s3.send(
        new PutObjectTaggingCommand({
          Bucket: this.bucket,
          Key: key,
          Tagging: { TagSet: [{ ...LIVE_TAG }] },
        }),
      );
      return true;
    } catch (error) {
      if ((error as Error).name === 'NoSuchKey') return false;
      throw error;
    }
  }

  /** Idempotent: deleting a key that is already gone succeeds. */
  async delete(key: string): Promise<void> {
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }
}
