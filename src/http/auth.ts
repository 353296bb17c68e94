// Who the caller is: the `sub` of a Cognito token in `Authorization: Bearer`, verified here and
// never taken from `requestContext.authorizer` (serverless-offline fills that from unverified tokens).
import { readFileSync } from 'node:fs';
import { CognitoJwtVerifier } from 'aws-jwt-verify';
import { FetchError } from 'aws-jwt-verify/error';
import { SimpleJwksCache } from 'aws-jwt-verify/jwk';
import type { Jwks } from 'aws-jwt-verify/jwk';
import { SimpleFetcher, type Fetcher } from 'aws-jwt-verify/https';
import type { Config } from '../platform/config.ts';
import { AuthenticationError, ServiceUnavailableError } from './errors.ts';

/** The verified caller: who (`sub`) and the pool groups the token names (`cognito:groups`). */
export interface Caller {
  sub: string;
  groups: readonly string[];
}

export type Authenticate = (authorization: string | undefined) => Promise<Caller>;

export interface AuthenticatorOptions {
  /** Fetches the pool's JWKS on deployed stages; aws-jwt-verify's HTTPS fetcher by default. */
  jwksFetcher?: Fetcher;
}

export function createAuthenticator(config: Config, options: AuthenticatorOptions = {}): Authenticate {
  const localJwks = config.cognitoJwksFile ? readJwks(config.cognitoJwksFile) : undefined;
  // Locally the key file stands in for the pool's JWKS endpoint: a token with an unknown key id
  // is refused without any network call. Deployed stages fetch the pool's keys, once per
  // container for known keys; the cache's penalty box keeps unknown key ids from causing more.
  const fetcher: Fetcher = localJwks
    ? { fetch: async () => encodeJwks(localJwks) }
    : // The library's fetcher, bounded like an AWS call (its default waits 3 s, then retries once).
      (options.jwksFetcher ??
      new SimpleFetcher({ defaultRequestOptions: { responseTimeout: config.awsRequestTimeoutMs } }));
  const jwksCache = new SimpleJwksCache({ fetcher });
  const verifier = CognitoJwtVerifier.create(
    {
      userPoolId: config.cognitoUserPoolId,
      clientId: config.cognitoClientId,
      tokenUse: config.cognitoTokenUse,
      // Cognito always sets exp and sub: a token without exp must not live forever, and one
      // without a sub names nobody.
      customJwtCheck: ({ payload }) => {
        if (typeof payload.exp !== 'number') throw new MissingClaimError('exp');
        if (typeof payload.sub !== 'string' || payload.sub === '') throw new MissingClaimError('sub');
      },
    },
    { jwksCache },
  );
  if (localJwks) verifier.cacheJwks(localJwks);
  const verified = new VerifiedTokens(VERIFIED_TOKENS_KEPT);

  return async (authorization) => {
    const token = bearerToken(authorization);
    const known = verified.get(token);
    if (known) return known;
    try {
      const payload = await verifier.verify(token);
      const caller = { sub: payload.sub as string, groups: groupsOf(payload['cognito:groups']) };
      verified.add(token, caller, payload.exp, payload.nbf);
      return caller;
    } catch (error) {
      // The pool's key endpoint out of reach is our outage, not the caller's fault.
      if (error instanceof FetchError && !localJwks) {
        throw new ServiceUnavailableError();
      }
      // Anything else went wrong with the caller's token, even where the library trips over it
      // (a date claim beyond what Date can hold throws a RangeError while being reported).
      const name = error instanceof Error ? error.constructor.name : typeof error;
      throw new AuthenticationError('authentication_failed', `${name}: ${(error as Error)?.message}`);
    }
  };
}

/** Tokens remembered per container; at about 1 KB each, a bounded, small amount of memory. */
const VERIFIED_TOKENS_KEPT = 1000;

/**
 * Tokens this container has verified, with their sub, until they expire. Verifying the same bytes
 * against the same keys (the verifier keeps the pool's keys for the container's life anyway) gives
 * the same answer but for the time claims, which are checked again at every use: the signature
 * check, the largest part of the handler's own work on a warm request, is done once per token.
 */
class VerifiedTokens {
  private readonly entries = new Map<string, { caller: Caller; exp: number; nbf: number }>();
  constructor(private readonly capacity: number) {}

  get(token: string): Caller | undefined {
    const entry = this.entries.get(token);
    if (!entry) return undefined;
    const now = Date.now() / 1000;
    if (now >= entry.exp || now < entry.nbf) {
      // Verified again from scratch, which refuses it with the library's own reason.
      this.entries.delete(token);
      return undefined;
    }
    return entry.caller;
  }

  add(token: string, caller: Caller, exp: unknown, nbf: unknown): void {
    if (typeof exp !== 'number') return;
    // Oldest first: Map keeps insertion order.
    if (this.entries.size >= this.capacity) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(token, { caller, exp, nbf: typeof nbf === 'number' ? nbf : -Infinity });
  }
}

/** `cognito:groups` as Cognito writes it (an array of names); anything else names no group. */
function groupsOf(claim: unknown): readonly string[] {
  return Array.isArray(claim) ? claim.filter((group): group is string => typeof group === 'string') : [];
}

class MissingClaimError extends Error {
  override name = 'MissingClaimError';
  constructor(claim: string) {
    super(`token has no ${claim} claim`);
  }
}

function bearerToken(authorization: string | undefined): string {
  if (!authorization || !authorization.trim()) {
    throw new AuthenticationError('not_authenticated', 'no Authorization header');
  }
  const match = /^Bearer[ \t]+(\S+)\s*$/i.exec(authorization.trim());
  if (!match) {
    throw new AuthenticationError('authentication_failed', 'Authorization is not "Bearer <token>"');
  }
  return match[1]!;
}

function readJwks(file: string): Jwks {
  return JSON.parse(readFileSync(file, 'utf8')) as Jwks;
}

function encodeJwks(jwks: Jwks): ArrayBuffer {
  const bytes = new TextEncoder().encode(JSON.stringify(jwks));
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}
