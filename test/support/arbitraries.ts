// fast-check generators of whole requests to PATCH /api/v2/user/{id}/ for test/integration/fuzz.test.ts.
//
// A generated request is plain data (a "spec") so that fast-check can shrink it and print it; the
// builders (arbitraries/encode.ts) turn a spec into an API Gateway event's parts (body,
// isBase64Encoded, Content-Type, Authorization). Tokens are made by the test (they need its key),
// so an auth spec only names which token to use.
//
// Two families of bodies are generated:
//   - valid bodies: every field writable and every value accepted, honestly encoded, so the
//     request's outcome is predictable (200 for the owner, 403/404 otherwise, `unique` at most);
//   - wild bodies: random field names and values, every content type, lying base64 flags,
//     truncated and corrupted multipart, mutated images, oversized bodies. Only the envelope and
//     the consistency of the status with the request are predictable.
//
// Each concern is a module under arbitraries/; this is their one index.

export * from './arbitraries/pool.ts';
export * from './arbitraries/images.ts';
export * from './arbitraries/values.ts';
export * from './arbitraries/bodies.ts';
export * from './arbitraries/requests.ts';
export * from './arbitraries/encode.ts';
export * from './arbitraries/settings.ts';
