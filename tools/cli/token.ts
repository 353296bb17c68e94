// npm run -s token -- --sub SUB [--username NAME] [--expires-in SECONDS]
// Prints one access token the running local stack accepts, and nothing else on stdout.

import { commandLine, fail } from './cli.ts';
import { loadLocalKeys, readJwksFile, signAccessToken } from '../local/keys.ts';
import { readLocalStackConfig } from '../local/local-stack.ts';

const usage = 'usage: npm run -s token -- --sub SUB [--username NAME] [--expires-in SECONDS]';
const values = commandLine('token', usage, { sub: { type: 'string' }, username: { type: 'string' }, 'expires-in': { type: 'string' } });
const sub = values.sub?.trim();
if (!sub) fail(`--sub is required\n${usage}`, 2);

let expiresInSeconds: number | undefined;
if (values['expires-in'] !== undefined) {
  expiresInSeconds = Number(values['expires-in']);
  if (!Number.isSafeInteger(expiresInSeconds)) fail('--expires-in must be a whole number of seconds', 2);
}

try {
  const config = readLocalStackConfig();
  const keys = await loadLocalKeys(config.stateDir);
  if (config.jwksFileProvided) {
    const jwks = await readJwksFile(config.jwksFile);
    if (!jwks.keys.some((key) => key.kid === keys.kid)) {
      console.error(
        `token: warning: COGNITO_JWKS_FILE (${config.jwksFile}) does not hold the local key ` +
          `${keys.kid}; a stack started with it will reject this token`,
      );
    }
  }
  const token = signAccessToken(keys, {
    sub,
    region: config.region,
    userPoolId: config.userPoolId,
    clientId: config.clientId,
    ...(values.username ? { username: values.username } : {}),
    ...(expiresInSeconds !== undefined ? { expiresInSeconds } : {}),
  });
  process.stdout.write(`${token}\n`);
} catch (error) {
  fail((error as Error).message);
}
