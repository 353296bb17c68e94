// Who the caller is: the `sub` of a Cognito token in `Authorization: Bearer`, verified here and
// never taken from `requestContext.authorizer` (serverless-offline fills that from unverified tokens).
import { readFileSync } from 'node:fs';
import { CognitoJwtVerifier } from 'aws-jwt-verify';
import { FetchError } from 'aws-jwt-verify/error';
import { SimpleJwksCache } from 'aws-jwt-verify/jwk';
import type { Jwks } from 'aws-jwt-verify/jwk';
import { SimpleFetcher, type Fetcher } from 'aws-jwt-verify/https';
import type { Config } from './config.ts';
import { AuthenticationError, ServiceUnavailableError } from './errors.ts';

export type Authenticate = (authorization: string | undefined) => Promise<string>;

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

  return async (authorization) => {
    const token = bearerToken(authorization);
    try {
      const payload = await verifier.verify(token);
      return payload.sub as string;
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
