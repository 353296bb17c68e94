// Objects are served through CloudFront with `Cache-Control: public, max-age=31536000, immutable`:
// deleting one in S3 leaves the copies edge locations hold. The stream function invalidates the
// paths of the objects it deleted, once per batch (README, "Stream": how long until every edge
// has let go).
import { createHash } from 'node:crypto';
import { CloudFrontClient, CreateInvalidationCommand } from '@aws-sdk/client-cloudfront';
import type { ClientSettings } from '../../store/aws-clients.ts';
import { commonClientOptions } from '../../store/dynamo-client.ts';

export interface Cdn {
  /** Makes every edge drop `keys` (object keys; their URL path is `/<key>`). */
  invalidate(keys: string[]): Promise<void>;
}

/** CloudFront is a global service: its API lives in us-east-1 whatever the stack's region. */
export function createCloudFrontClient(settings: ClientSettings): CloudFrontClient {
  return new CloudFrontClient({ ...commonClientOptions(settings), region: 'us-east-1' });
}

export class CloudFrontCdn implements Cdn {
  constructor(
    private readonly cloudFront: CloudFrontClient,
    private readonly distributionId: string,
  ) {}

  async invalidate(keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    // Keys are URL-safe by construction and never reused, so the same set of paths is never due
    // twice: a caller reference made from them makes a retried batch's call the same invalidation
    // (CloudFront answers the existing one) instead of a second, billed one.
    const paths = [...new Set(keys)].sort().map((key) => `/${key}`);
    const reference = createHash('sha256').update(paths.join('\n')).digest('hex');
    await this.cloudFront.send(
      new CreateInvalidationCommand({
        DistributionId: this.distributionId,
        InvalidationBatch: { CallerReference: reference, Paths: { Quantity: paths.length, Items: paths } },
      }),
    );
  }
}
