import { normalizeImages } from '../lib/image-normalize.ts';
import { readConfig } from '../lib/config.ts';
import { gif } from './support/images.ts';
import { inspectImage } from '../lib/images.ts';
const hostile = gif({ width: 1, height: 2048, packed: true, frames: [{ width: 1, height: 2048 }, ...Array.from({ length: Number(process.env.N ?? 120) - 1 }, () => ({ width: 8192, height: 2048 }))] });
const limits = { ...readConfig({ AWS_REGION: 'x', TABLE_NAME: 't', MEDIA_BUCKET: 'b', MEDIA_BASE_URL: 'http://x', COGNITO_USER_POOL_ID: 'p', COGNITO_CLIENT_ID: 'c' }).images, timeoutSeconds: Number(process.env.B ?? 1) };
const info = { type: 'gif' as const, mime: 'image/gif', ext: 'gif', width: 1, height: 2048, frames: Number(process.env.N ?? 120), decodeBytes: 0 };
let t = performance.now();
try { await normalizeImages({ text: {}, images: { avatar: { field: 'avatar', bytes: hostile, info } } }, limits); console.log('no error'); } catch (e) { console.log('error', JSON.stringify((e as any).fields ?? (e as any).message ?? e).slice(0, 300)); }
console.log('elapsed', performance.now() - t);
t = performance.now();
const small = gif({ width: 8, height: 8, frames: [{ width: 8, height: 8 }, { width: 8, height: 8 }] });
const r = await normalizeImages({ text: {}, images: { avatar: { field: 'avatar', bytes: small, info: inspectImage(small, { maxBytes: 1e9, maxSide: 8192, maxPixels: 4e7, maxFrames: 300, maxAnimationPixels: 6e7, maxJpegScans: 64, maxDecodeBytes: 1e9 }) } } }, limits);
console.log('second ok', r.images.avatar?.info, performance.now() - t);
t = performance.now();
const r2 = await normalizeImages({ text: {}, images: { avatar: { field: 'avatar', bytes: small, info: r.images.avatar!.info } } }, limits);
console.log('third (warm)', performance.now() - t);
