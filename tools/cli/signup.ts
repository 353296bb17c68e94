// npm run -s signup -- --email EMAIL [--preferred-username NAME] [--sub SUB] [--group NAME]...
// Signs a user up on the running local stack the way Cognito would after a confirmed sign-up (the
// Post confirmation trigger through serverless-offline's Lambda endpoint), signs them in (the Post
// authentication trigger), then prints the new user's id and an access token for it whose
// `cognito:groups` are the --group names (`admin`, `moderator` or `editor` give /me/ its role).
// The e-mail and groups are kept in the state directory for `npm run token` (users.json).
import { commandLine, fail } from './cli.ts';
import { loadLocalKeys, signAccessToken } from '../local/keys.ts';
import { createDynamoDbClient, readLocalStackConfig } from '../local/local-stack.ts';
import { rememberLocalUser } from '../local/local-users.ts';
import { readLambdaPort, signInLocally, signUpLocally } from '../local/signup.ts';

const usage = 'usage: npm run -s signup -- --email EMAIL [--preferred-username NAME] [--sub SUB] [--group NAME]...';
const values = commandLine(
  'signup',
  usage,
  { email: { type: 'string' }, 'preferred-username': { type: 'string' }, sub: { type: 'string' } },
  ['group'],
);
const email = values.email?.trim();
if (!email || !email.includes('@')) fail(`--email with an e-mail address is required\n${usage}`, 2);
const groups = (values.group ?? []).map((group) => group.trim());
if (groups.some((group) => group === '')) fail(`--group needs a group name\n${usage}`, 2);

const config = readLocalStackConfig();
const lambdaPort = Number(process.env.LAMBDA_PORT) || (await readLambdaPort(config.stateDir, config.port));
if (!lambdaPort) {
  fail(
    `no local stack found for PORT=${config.port} (no ${config.stateDir}/stack-${config.port}.json); ` +
      'is npm start running with the same PORT and LOCAL_STATE_DIR?',
  );
}
const dynamo = createDynamoDbClient(config);
try {
  const user = await signUpLocally(lambdaPort, dynamo, config.tableName, config, {
    email,
    ...(values['preferred-username'] !== undefined && { preferredUsername: values['preferred-username'] }),
    ...(values.sub && { sub: values.sub }),
  });
  await rememberLocalUser(config.stateDir, user.sub, { email, groups });
  // The token is a sign-in: the pool's e-mail as of now reaches the user (an existing --sub's too).
  await signInLocally(lambdaPort, config, { sub: user.sub, email });
  const keys = await loadLocalKeys(config.stateDir);
  const token = signAccessToken(keys, {
    sub: user.sub,
    region: config.region,
    userPoolId: config.userPoolId,
    clientId: config.clientId,
    groups,
  });
  // Machine-readable lines: `id`, `username`, `sub`, `token`.
  console.log(`id: ${user.id}`);
  console.log(`username: ${user.username}`);
  console.log(`sub: ${user.sub}`);
  console.log(`token: ${token}`);
} catch (error) {
  const err = error as Error & { cause?: { code?: string } };
  if (err.cause?.code === 'ECONNREFUSED') fail(`nothing answers on the lambda port ${lambdaPort}; is the stack running?`);
  fail(err.message);
} finally {
  dynamo.destroy();
}
