import { readFileSync } from 'node:fs';
import { normalizeImage, loadSharp } from './src/images/normalize.ts';
import { inspectImage } from './src/images/header-check.ts';
import { imageRules } from './src/users/patch-fields.ts';
import { readConfig } from './src/platform/config.ts';
const config = readConfig({ ...process.env, TABLE_NAME: 't', AWS_REGION: 'eu-west-1', MEDIA_BUCKET: 'b', MEDIA_BASE_URL: 'http://x', COGNITO_USER_POOL_ID: 'eu-west-1_x', COGNITO_CLIENT_ID: 'c' } as any);
const limits = { ...config.images, timeoutSeconds: 60 };
await loadSharp();
const bytes = readFileSync(process.argv[2]!);
const rss = () => Math.round(process.memoryUsage().rss / 1e6);
const line: number[] = [rss()];
for (let i = 0; i < 30; i++) {
  const info = inspectImage(bytes, imageRules('avatar', limits));
  await normalizeImage({ field: 'avatar', bytes, info }, 'avatar', limits);
  if (i % 3 === 2) line.push(rss());
}
console.log(process.env.MALLOC_ARENA_MAX ?? '-', line.join(' '));
process.exit(0);
