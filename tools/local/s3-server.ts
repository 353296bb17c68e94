// s3rver in this process, patched where it differs from S3 in what the service relies on (any
// access key, object tags, If-None-Match), and the media bucket in it.

import { CreateBucketCommand, HeadBucketCommand } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import type { S3rverMiddleware } from 's3rver';
import * as objectController from 's3rver/lib/controllers/object.js';
import AWSAccount from 's3rver/lib/models/account.js';
import { TaggingConfiguration } from 's3rver/lib/models/config.js';
import S3Error from 's3rver/lib/models/error.js';
import { waitUntil } from './supervisor.ts';

// unknown keys map to its dummy account. The registry is process-wide, hence once.
let anyAccessKeyAccepted = false;
function acceptAnyAccessKey(): void {
  if (anyAccessKeyAccepted) return;
  anyAccessKeyAccepted = true;
  const registry = AWSAccount.registry;
  AWSAccount.registry = new (class extends Map<string, AWSAccount> {
    override get(accessKeyId: string): AWSAccount | undefined {
      return super.get(accessKeyId) ?? AWSAccount.DUMMY_ACCOUNT;
    }
  })(registry);
}

// s3rver ignores the tags of a PutObject (`x-amz-tagging`), so uploads tagged `state=pending`
// would be untagged, a state S3 never shows them in; and it keeps an object's tags after a delete.
// As S3 does: PutObject replaces the tags with the header's (none without it), DeleteObject drops
// them. Koa composes its middleware on run(), so this goes in before the router.
const OBJECT_SUBRESOURCES = new Set<string>([...objectController.METHODS, 'partNumber']);
function objectTagsAsS3Keeps(): S3rverMiddleware {
  return async (ctx, next) => {
    await next();
    const method = ctx.method;
    if ((method !== 'PUT' && method !== 'DELETE') || ctx.status >= 300) return;
    if (Object.keys(ctx.query).some((name) => OBJECT_SUBRESOURCES.has(name))) return;
    if (ctx.get('x-amz-copy-source')) return;
    const match = /^\/([^/]+)\/(.+)$/.exec(ctx.path);
    if (!match) return;
    const bucket = decodeURIComponent(match[1]!);
    const key = decodeURIComponent(match[2]!);
    const tagging = ctx.get('x-amz-tagging');
    if (method === 'PUT' && tagging) {
      const tags = [...new URLSearchParams(tagging)]
        .map(([name, value]) => `<Tag><Key>${escapeXml(name)}</Key><Value>${escapeXml(value)}</Value></Tag>`)
        .join('');
      await ctx.store.putSubresource(bucket, key, new TaggingConfiguration(`<Tagging><TagSet>${tags}</TagSet></Tagging>`));
    } else {
      await ctx.store.deleteSubresource(bucket, key, 'tagging');
    }
  };
}

// s3rver ignores `If-None-Match` on a PutObject and overwrites. S3 refuses with 412 when the key
// exists, and the API's role allows only such conditional uploads (serverless.yml, PatchUserRole):
// without this the local stack would accept an overwrite that AWS refuses. S3 accepts only `*`.
function conditionalPutAsS3Does(): S3rverMiddleware {
  return async (ctx, next) => {
    const condition = ctx.get('if-none-match');
    if (ctx.method !== 'PUT' || !condition || ctx.get('x-amz-copy-source')) return next();
    if (Object.keys(ctx.query).some((name) => OBJECT_SUBRESOURCES.has(name))) return next();
    const match = /^\/([^/]+)\/(.+)$/.exec(ctx.path);
    if (!match) return next();
    if (condition !== '*') throw new S3Error('NotImplemented', 'A header you provided implies functionality that is not implemented.', { Header: 'If-None-Match' });
    if (await ctx.store.existsObject(decodeURIComponent(match[1]!), decodeURIComponent(match[2]!))) {
      throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', { Condition: 'If-None-Match' });
    }
    return next();
  };
}

const escapeXml = (text: string): string =>
  text.replace(/[<>&'"]/g, (char) => `&#${char.charCodeAt(0)};`);

/** Starts s3rver in this process, storing objects under `directory`; it accepts any access key. */
export async function startS3Server(port: number, directory: string): Promise<S3rver> {
  acceptAnyAccessKey();
  const server = new S3rver({ port, address: 'localhost', silent: true, directory });
  // The router is the last middleware s3rver adds.
  server.middleware.splice(server.middleware.length - 1, 0, objectTagsAsS3Keeps(), conditionalPutAsS3Does());
  await server.run();
  return server;
}

export async function stopS3Server(server: S3rver): Promise<void> {
  // close() would wait for keep-alive connections of SDK clients.
  server.httpServer?.closeAllConnections();
  await server.close();
}

/** Creates the media bucket unless it exists; resolves once it answers. */
export async function ensureBucket(client: S3Client, bucket: string): Promise<void> {
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (error) {
    const name = (error as Error).name;
    if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw error;
  }
  await waitUntil(`bucket ${bucket}`, async () => {
    await client.send(new HeadBucketCommand({ Bucket: bucket }));
    return true;
  });
}
