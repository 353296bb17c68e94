// npm run -s token -- --sub SUB [--username NAME] [--expires-in SECONDS] [--group NAME]...
// Prints one access token the running local stack accepts, and nothing else on stdout. Its
// `cognito:groups` are the person's groups as `npm run signup --group` recorded them
// (users.json in the state directory), or the --group names given here. Minting a token is a
// sign-in: for a person the state directory knows, the running stack's Post authentication
// trigger is invoked, as Cognito does, and refreshes the e-mail their user mirrors for /me/.

import { commandLine, fail } from './cli.ts';
import { loadLocalKeys, readJwksFile, signAccessToken } from '../local/keys.ts';
import { readLocalStackConfig } from '../local/local-stack.ts';
import { readLocalUsers } from '../local/local-users.ts';
import { readLambdaPort, signInLocally } from '../local/signup.ts';

const usage = 'usage: npm run -s token -- --sub SUB [--username NAME] [--expires-in SECONDS] [--group NAME]...';
const values = commandLine(
  'token',
  usage,
  { sub: { type: 'string' }, username: { type: 'string' }, 'expires-in': { type: 'string' } },
  ['group'],
);
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
  const known = (await readLocalUsers(config.stateDir))[sub];
  const groups = values.group ?? known?.groups ?? [];
  const token = signAccessToken(keys, {
    sub,
    region: config.region,
    userPoolId: config.userPoolId,
    clientId: config.clientId,
    groups,
    ...(values.username ? { username: values.username } : {}),
    ...(expiresInSeconds !== undefined ? { expiresInSeconds } : {}),
  });
  // A sign-in never fails because of its trigger (docs/users.md): a stack that is not running, or
  // a person with no e-mail on record, only skips the refresh.
  const lambdaPort = Number(process.env.LAMBDA_PORT) || (await readLambdaPort(config.stateDir, config.port));
  if (known && lambdaPort) {
    await signInLocally(lambdaPort, config, { sub, email: known.email, ...(known.emailVerified === false && { emailVerified: false }) }).catch((error: unknown) => {
      console.error(`token: warning: the sign-in trigger failed: ${(error as Error).message}`);
    });
  }
  process.stdout.write(`${token}\n`);
} catch (error) {
  fail((error as Error).message);
}
