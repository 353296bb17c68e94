// CORS answer headers. API Gateway answers the preflight; the actual answer must carry
// Access-Control-Allow-Origin itself, or a browser hides it from the page.

export function corsHeaders(allowedOrigins: readonly string[], origin: string | undefined): Record<string, string> {
  if (allowedOrigins.length === 0) return {};
  // The token travels in a header, never a cookie: no Allow-Credentials, and `*` is safe.
  const expose = { 'Access-Control-Expose-Headers': 'WWW-Authenticate, ETag' };
  if (allowedOrigins.includes('*')) return { 'Access-Control-Allow-Origin': '*', ...expose };
  // The answer depends on Origin, so caches must keep one copy per origin.
  const vary = { Vary: 'Origin' };
  if (origin === undefined || !allowedOrigins.includes(origin)) return vary;
  return { 'Access-Control-Allow-Origin': origin, ...expose, ...vary };
}
