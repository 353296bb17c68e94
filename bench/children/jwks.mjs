// The JWKS on a deployed configuration (no local key file): a fresh `node` imports the handler
// bundle and calls its Lambda entry `handler` (configuration, clients and verifier made on first
// use) with many valid tokens. The JWKS request goes through aws-jwt-verify's own HTTPS fetcher;
// https.request is replaced here so that it is answered locally and counted.
// Usage: node jwks.mjs <handler bundle> <input json>
import { syncBuiltinESMExports } from 'node:module';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';

const [bundle, inputFile] = process.argv.slice(2);
const input = JSON.parse(readFileSync(inputFile, 'utf8'));

const fetched = [];
https.request = (uri, options, callback) => {
  fetched.push(String(uri));
  const response = Readable.from([Buffer.from(JSON.stringify(input.jwks))]);
  response.statusCode = 200;
  const request = {
    on: () => request,
    end: () => setImmediate(() => callback(response)),
    destroy: () => {},
    socket: undefined,
  };
  return request;
};
syncBuiltinESMExports(); // the bundle's `import { request } from "https"` now sees the stand-in

Object.assign(process.env, input.env);
const { handler } = await import(pathToFileURL(bundle).href);
const statuses = {};
for (const event of input.events) {
  const response = await handler(event);
  statuses[response.statusCode] = (statuses[response.statusCode] ?? 0) + 1;
}
process.stdout.write(`\nBENCH_RESULT ${JSON.stringify({ requests: input.events.length, statuses, fetched })}\n`);
