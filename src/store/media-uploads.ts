// Uploads of avatar and cover objects to S3, for the API. Every upload gets a fresh key and is
// tagged `state=pending`; the table's stream tags it `state=live` once a user item holds it
// (src/store/media-lifecycle.ts, src/functions/media-events/handler.ts), so an upload whose write never happened (a
// crash, a lost answer) is left to the bucket's lifecycle rule.
import { randomUUID } from 'node:crypto';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { MediaObjects, PENDING_TAG } from './media-lifecycle.ts';
import type { ImageField } from '../users/user-record.ts';

export class MediaStore extends MediaObjects {
  /**
   * `abortSignal` ends uploads when the request's time is up. Deleting does not take it: it must
   * still run after a write that was refused late in the request.
   */
  constructor(
    s3: S3Client,
    bucket: string,
    private readonly uploadOptions: { abortSignal?: AbortSignal } = {},
  ) {
    super(s3, bucket);
  }

  /** `<field>/<user id>/<random>.<ext>`: unguessable, never reused, so caches never go stale. */
  newKey(field: ImageField, userId: number, ext: string): string {
    return `${field}/${userId}/${randomUUID()}.${ext}`;
  }

  /**
   * A new object only (`If-None-Match: *`): the API's role may create pending objects and never
   * overwrite one (serverless.yml, PatchUserRole), so a compromised function cannot replace
   * another user's live image. The tags travel with the upload; the role may not tag an existing
   * object.
   */
  async putPending(key: string, bytes: Buffer, contentType: string): Promise<void> {
    try {
      await this.s3.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: bytes,
          ContentType: contentType,
          ContentLength: bytes.length,
          CacheControl: 'public, max-age=31536000, immutable',
          Tagging: `${PENDING_TAG.Key}=${PENDING_TAG.Value}`,
          IfNoneMatch: '*',
        }),
        this.uploadOptions,
      );
    } catch (error) {
      // The key is fresh and random: when a retried attempt finds it taken, an earlier attempt of
      // this very call stored it and only its answer was lost. A single attempt refused is not ours.
      if (isPreconditionFailed(error) && ((error as { $metadata?: { attempts?: number } }).$metadata?.attempts ?? 1) > 1) return;
      throw error;
    }
  }
}

const isPreconditionFailed = (error: unknown): boolean =>
  error instanceof Error &&
  (error.name === 'PreconditionFailed' || (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 412);
