// Uploads create new objects only: S3's conditional write (`If-None-Match: *`), which the API's
// role requires (serverless.yml, PatchUserRole), refuses a key that exists. Against the shared
// s3rver, whose local patch refuses as S3 does (tools/local/local-stack.ts).
import assert from 'node:assert/strict';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { after, before, describe, it } from 'node:test';
import { MediaStore } from '../../src/store/media-uploads.ts';
import { startTestBackend, type TestBackend } from '../support/backend.ts';

let backend: TestBackend;
let media: MediaStore;

before(async () => {
  backend = await startTestBackend({ keys: [] });
  media = new MediaStore(backend.s3, backend.config.mediaBucket);
});
after(() => backend.stop());

const body = async (key: string) =>
  Buffer.from(await (await backend.s3.send(new GetObjectCommand({ Bucket: backend.config.mediaBucket, Key: key }))).Body!.transformToByteArray());

describe('MediaStore.putPending', () => {
  it('stores a new object tagged pending', async () => {
    const key = media.newKey('avatar', 7001, 'png');
    await media.putPending(key, Buffer.from('new image'), 'image/png');
    assert.deepEqual(await backend.objectTags(key), { state: 'pending' });
    assert.equal((await body(key)).toString(), 'new image');
  });

  it('never overwrites: a key that exists is refused (412) and the object keeps its bytes and tags', async () => {
    const key = media.newKey('cover', 7002, 'jpg');
    await backend.s3.send(
      new PutObjectCommand({ Bucket: backend.config.mediaBucket, Key: key, Body: Buffer.from('live image'), Tagging: 'state=live' }),
    );
    await assert.rejects(media.putPending(key, Buffer.from('attacker bytes'), 'image/jpeg'), (error: Error & { $metadata?: { httpStatusCode?: number } }) => {
      assert.equal(error.$metadata?.httpStatusCode, 412);
      return true;
    });
    assert.equal((await body(key)).toString(), 'live image');
    assert.deepEqual(await backend.objectTags(key), { state: 'live' });
  });
});
