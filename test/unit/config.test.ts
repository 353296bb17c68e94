import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, DEFAULTS, readConfig } from '../../src/platform/config.ts';

const REQUIRED = {
  AWS_REGION: 'eu-west-1',
  TABLE_NAME: 'users',
  MEDIA_BUCKET: 'media',
  MEDIA_BASE_URL: 'https://media.example.org/',
  COGNITO_USER_POOL_ID: 'eu-west-1_abc',
  COGNITO_CLIENT_ID: 'client',
};

describe('readConfig', () => {
  it('reads the required settings and applies the defaults', () => {
    const config = readConfig(REQUIRED);
    assert.equal(config.tableName, 'users');
    assert.equal(config.mediaBaseUrl, 'https://media.example.org', 'trailing slash dropped');
    assert.equal(config.cognitoTokenUse, 'access');
    // The largest file one request carries (contract: by default, the same for avatar and cover).
    assert.equal(config.images.avatarMaxBytes, 4_693_501);
    assert.equal(config.images.coverMaxBytes, 4_693_501);
    assert.equal(config.maxBodyBytes, 6_000_000);
    assert.equal(config.cognitoJwksFile, undefined);
    assert.equal(config.dynamodbEndpoint, undefined);
    assert.equal(config.s3Endpoint, undefined);
  });
  it('reads need no token unless READ_REQUIRES_TOKEN is "true"; another value is refused', () => {
    assert.equal(readConfig(REQUIRED).readRequiresToken, false);
    assert.equal(readConfig({ ...REQUIRED, READ_REQUIRES_TOKEN: 'true' }).readRequiresToken, true);
    assert.equal(readConfig({ ...REQUIRED, READ_REQUIRES_TOKEN: 'false' }).readRequiresToken, false);
    for (const value of ['yes', '1', 'TRUE']) {
      assert.throws(() => readConfig({ ...REQUIRED, READ_REQUIRES_TOKEN: value }), /READ_REQUIRES_TOKEN/);
    }
  });
  it('hides at most 1000 users unless MAX_HIDDEN_USERS says otherwise; not a positive integer is refused', () => {
    assert.equal(readConfig(REQUIRED).maxHiddenUsers, 1000);
    assert.equal(readConfig({ ...REQUIRED, MAX_HIDDEN_USERS: '25' }).maxHiddenUsers, 25);
    for (const value of ['0', '-1', 'many', '1.5']) {
      assert.throws(() => readConfig({ ...REQUIRED, MAX_HIDDEN_USERS: value }), /MAX_HIDDEN_USERS/);
    }
  });
  it('names every missing variable at once', () => {
    assert.throws(() => readConfig({ AWS_REGION: 'eu-west-1' }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      for (const name of ['TABLE_NAME', 'MEDIA_BUCKET', 'MEDIA_BASE_URL', 'COGNITO_USER_POOL_ID', 'COGNITO_CLIENT_ID']) {
        assert.match(error.message, new RegExp(name));
      }
      return true;
    });
  });
  it('a gallery holds at most 20 avatars unless MAX_AVATARS says otherwise (contract, "Avatars")', () => {
    assert.equal(readConfig(REQUIRED).maxAvatars, 20);
    assert.equal(readConfig({ ...REQUIRED, MAX_AVATARS: '5' }).maxAvatars, 5);
    for (const value of ['0', '-1', 'many']) assert.throws(() => readConfig({ ...REQUIRED, MAX_AVATARS: value }), /MAX_AVATARS/);
  });
  it('refuses limits that are not positive integers', () => {
    for (const value of ['0', '-1', '1.5', 'lots']) {
      assert.throws(() => readConfig({ ...REQUIRED, AVATAR_MAX_BYTES: value }), /AVATAR_MAX_BYTES/);
    }
    assert.equal(readConfig({ ...REQUIRED, COVER_MAX_BYTES: '1000' }).images.coverMaxBytes, 1000);
  });
  it('reads the image limits and sizes, with the contract\'s defaults', () => {
    const { images } = readConfig(REQUIRED);
    assert.deepEqual(
      [images.maxFrames, images.maxAnimationPixels, images.maxJpegScans, images.avatarSize, images.coverMaxSide],
      [300, 60_000_000, 64, 400, 1600],
    );
    const set = readConfig({
      ...REQUIRED,
      IMAGE_MAX_FRAMES: '10',
      IMAGE_MAX_ANIMATION_PIXELS: '1000000',
      JPEG_MAX_SCANS: '12',
      AVATAR_SIZE: '256',
      COVER_MAX_SIDE: '1024',
      IMAGE_TIMEOUT_SECONDS: '3',
    }).images;
    assert.deepEqual(
      [set.maxFrames, set.maxAnimationPixels, set.maxJpegScans, set.avatarSize, set.coverMaxSide, set.timeoutSeconds],
      [10, 1_000_000, 12, 256, 1024, 3],
    );
    assert.throws(() => readConfig({ ...REQUIRED, JPEG_MAX_SCANS: '0' }), /JPEG_MAX_SCANS/);
  });
  it('accepts only access or id as token use', () => {
    assert.equal(readConfig({ ...REQUIRED, COGNITO_TOKEN_USE: 'id' }).cognitoTokenUse, 'id');
    assert.throws(() => readConfig({ ...REQUIRED, COGNITO_TOKEN_USE: 'refresh' }), /COGNITO_TOKEN_USE/);
  });
  it('refuses a media base URL that is not absolute', () => {
    assert.throws(() => readConfig({ ...REQUIRED, MEDIA_BASE_URL: 'media.example.org' }), /MEDIA_BASE_URL/);
  });
  it('treats empty local-only settings as unset', () => {
    const config = readConfig({ ...REQUIRED, DYNAMODB_ENDPOINT: '', S3_ENDPOINT: ' ', COGNITO_JWKS_FILE: '' });
    assert.equal(config.dynamodbEndpoint, undefined);
    assert.equal(config.s3Endpoint, undefined);
    assert.equal(config.cognitoJwksFile, undefined);
  });
});
