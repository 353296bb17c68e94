// The state of avatar and cover objects in S3, as the table's stream keeps it: an object a user
// holds is tagged `state=live`; one nobody holds any more is deleted. Uploads start `pending`
// (src/store/media-uploads.ts), and a bucket lifecycle rule expires pending objects only after the stream's
// retry window and the dead-letter queue's retention (serverless.yml params). The stream function
// imports only this module: its role may tag and delete, never write an object.
import { DeleteObjectCommand, PutObjectTaggingCommand, type S3Client } from '@aws-sdk/client-s3';

export const PENDING_TAG = { Key: 'state', Value: 'pending' } as const;
export const LIVE_TAG = { Key: 'state', Value: 'live' } as const;

export class MediaObjects {
  constructor(
    protected readonly s3: S3Client,
    protected readonly bucket: string,
  ) {}

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
