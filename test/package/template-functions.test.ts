// The GET function and the sign-up trigger, and each function's environment.
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { readZip, staticClosure } from '../../tools/support/zip.ts';
import { PROJECT_DIR } from '../../tools/local/local-stack.ts';
import { readConfig, readSignUpConfig } from '../../src/platform/config.ts';
import { readStreamConfig } from '../../src/functions/media-events/config.ts';
import { accessToken, makeKey, TEST_POOL, writeJwksFile } from '../../tools/support/tokens.ts';
import { type Json, type Template, SIGNUP_USER_POOL_ID, prod, demo, dev, local, workDir, LOCAL_ONLY } from './packaging.ts';
import { ENTRY, resource, resourcesOfType, environmentOf, condition, actionsOf, actionsTheCodeNeeds, functionRole, splitStatements, ENTRIES, mayCall, run, list, ACTIONS_OF_COMMAND } from './template-support.ts';
import { profileEvent } from '../support/profile-requests.ts';

/**
 * The table calls getUser's code makes, by running its handler over every path it reads with a
 * table that answers each read (a user, the caller's sub index item, a hidden-users item).
 */
async function getUserCalls(): Promise<{ action: string; keys: string[] }[]> {
  const { createHandler } = await import('../../src/functions/get-user/handler.ts');
  const { marshall, unmarshall } = await import('@aws-sdk/util-dynamodb');
  const key = makeKey();
  const config = readConfig({
    AWS_REGION: TEST_POOL.region,
    TABLE_NAME: 'users',
    MEDIA_BUCKET: 'media',
    MEDIA_BASE_URL: 'https://media.example',
    COGNITO_USER_POOL_ID: TEST_POOL.userPoolId,
    COGNITO_CLIENT_ID: TEST_POOL.clientId,
    COGNITO_JWKS_FILE: writeJwksFile([key]),
  });
  const user = (pk: string) => ({ pk, id: Number(pk.slice(5)), sub: 'sub-5', username: `u${pk.slice(5)}`, version: 1, date_joined: '2024-01-01T00:00:00Z' });
  const item = (pk: string) =>
    pk.startsWith('SUB#') ? { pk, user_id: 5 } : pk.startsWith('HIDDEN#') ? { pk, hidden: new Set([6, 7]) } : user(pk);
  const calls: { action: string; keys: string[] }[] = [];
  const dynamo = {
    send: async (command: { constructor: { name: string }; input: Json }) => {
      const [action] = ACTIONS_OF_COMMAND[command.constructor.name] ?? [command.constructor.name];
      if (command.constructor.name === 'BatchGetItemCommand') {
        const [table, { Keys }] = Object.entries(command.input.RequestItems as Record<string, { Keys: Json[] }>)[0]!;
        const pks = Keys.map((k: Json) => unmarshall(k).pk as string);
        calls.push({ action: action!, keys: pks });
        return { Responses: { [table]: pks.map((pk: string) => marshall(item(pk))) } };
      }
      const pk = unmarshall(command.input.Key).pk as string;
      calls.push({ action: action!, keys: [pk] });
      return { Item: marshall(item(pk)) };
    },
  };
  const handler = createHandler(config, dynamo as never);
  const token = accessToken(key, { sub: 'sub-5' }, TEST_POOL);
  for (const path of ['5/', 'me/', '5/settings/', '6/is_hidden/', '6/is_hidden_by/', 'hidden_users/', 'hidden_users_id/']) {
    const response = await handler(profileEvent({ path, method: 'GET', token }));
    assert.equal(response.statusCode, 200, `${path}: ${response.body}`);
  }
  return calls;
}

describe('GET function and sign-up trigger (osls package)', () => {
  test('getUser serves the reads of every path and the 405s, and may only read users, sub index and hidden-users items, and batch-read users', async () => {
    const fn = resource(prod.template, 'GetUserLambdaFunction', 'AWS::Lambda::Function');
    assert.equal(fn.Properties.Handler, 'src/functions/get-user/handler.handler');
    const routes = resourcesOfType(prod.template, 'AWS::ApiGateway::Method')
      .filter(([, r]) => JSON.stringify(r.Properties.Integration).includes('GetUserLambdaFunction'))
      .map(([id, r]) => `${r.Properties.HttpMethod} ${id}`)
      .sort();
    // The reads of every path, and every method of every path that no write names (ANY).
    assert.deepEqual(routes, [
      'ANY ApiGatewayMethodApiV2DynamicpreferenceAny',
      'ANY ApiGatewayMethodApiV2FeatureAny',
      'ANY ApiGatewayMethodApiV2UserAvatarAny',
      'ANY ApiGatewayMethodApiV2UserHiddenusersAny',
      'ANY ApiGatewayMethodApiV2UserHiddenusersidAny',
      'ANY ApiGatewayMethodApiV2UserIdVarAny',
      'ANY ApiGatewayMethodApiV2UserIdVarHideAny',
      'ANY ApiGatewayMethodApiV2UserIdVarIshiddenAny',
      'ANY ApiGatewayMethodApiV2UserIdVarIshiddenbyAny',
      'ANY ApiGatewayMethodApiV2UserIdVarSettingsAny',
      'ANY ApiGatewayMethodApiV2UserMeAny',
      'GET ApiGatewayMethodApiV2DynamicpreferenceGet',
      'GET ApiGatewayMethodApiV2FeatureGet',
      'GET ApiGatewayMethodApiV2UserAvatarGet',
      'GET ApiGatewayMethodApiV2UserHiddenusersGet',
      'GET ApiGatewayMethodApiV2UserHiddenusersidGet',
      'GET ApiGatewayMethodApiV2UserIdVarGet',
      'GET ApiGatewayMethodApiV2UserIdVarIshiddenGet',
      'GET ApiGatewayMethodApiV2UserIdVarIshiddenbyGet',
      'GET ApiGatewayMethodApiV2UserIdVarSettingsGet',
      'GET ApiGatewayMethodApiV2UserMeGet',
    ]);
    const statements = functionRole(prod.template, 'GetUserLambdaFunction', 'GetUserRole');
    const { logs, keys } = splitStatements(statements);
    // Exactly the calls its code makes on every path it reads, each allowed on the keys it names.
    const calls = await getUserCalls();
    assert.deepEqual(Object.keys(keys).sort(), [...new Set(calls.map((c) => c.action))].sort());
    for (const { action, keys: names } of calls) {
      for (const name of names) assert.ok(mayCall(statements, action, name), `getUser's own ${action} of ${name} is denied`);
    }
    for (const s of logs) assert.match(s.Resource['Fn::Sub'], /:log-group:\/aws\/lambda\/selfcommunity-user-patch-prod-getUser:\*$/);
    // The data model's items, as IAM decides a GetItem of each: users, sub index items and
    // hidden-users items only; a BatchGetItem (a page of hidden users) of users only. `USER#*`
    // alone would match username claims (`USERNAME#…`) too.
    for (const [key, get, batch] of [
      ['USER#5', true, true],
      ['USER#123456789012345', true, true],
      ['SUB#0b5c5e3a-1c1d-4f4e-9c1b-6a8f7f0e2d11', true, false],
      ['HIDDEN#5', true, false],
      ['USERNAME#alice', false, false],
      ['USERNAME#user#5', false, false],
      ['USERNAME#', false, false],
      ['COUNTER#user', false, false],
      ['user#5', false, false],
    ] as const) {
      assert.equal(mayCall(statements, 'dynamodb:GetItem', key), get, `GetItem of ${key}`);
      assert.equal(mayCall(statements, 'dynamodb:BatchGetItem', key), batch, `BatchGetItem of ${key}`);
    }
    for (const action of ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:Scan', 'dynamodb:Query']) {
      for (const key of ['USER#5', 'HIDDEN#5']) assert.equal(mayCall(statements, action, key), false, `${action} of ${key}`);
    }
  });

  test('every method of the API’s paths reaches a function: reads getUser, writes patchUser, any other getUser', () => {
    const methods = resourcesOfType(prod.template, 'AWS::ApiGateway::Method').map(([, r]) => r.Properties);
    const target = (m: Json) => {
      assert.equal(m.Integration.Type, 'AWS_PROXY');
      assert.equal(m.AuthorizationType, 'NONE', 'the function authenticates, so 401 comes before 405');
      return JSON.stringify(m.Integration.Uri).match(/"(\w+)LambdaFunction"/)?.[1];
    };
    const routes = Object.fromEntries(methods.map((m) => [`${m.HttpMethod} ${m.ResourceId.Ref}`, target(m)]));
    // The contract's paths and methods ("Paths, methods and browsers"): reads to getUser, writes to
    // patchUser, and API Gateway prefers a method's own route over ANY (DELETE, PUT, HEAD, OPTIONS, …).
    const contract: Record<string, { GET?: true; PATCH?: true; POST?: true; DELETE?: true }> = {
      ApiGatewayResourceApiV2UserMe: { GET: true },
      ApiGatewayResourceApiV2UserIdVar: { GET: true, PATCH: true },
      ApiGatewayResourceApiV2UserAvatar: { GET: true, POST: true, PATCH: true, DELETE: true },
      ApiGatewayResourceApiV2UserHiddenusers: { GET: true },
      ApiGatewayResourceApiV2UserHiddenusersid: { GET: true },
      ApiGatewayResourceApiV2UserIdVarSettings: { GET: true, PATCH: true },
      ApiGatewayResourceApiV2UserIdVarHide: { POST: true },
      ApiGatewayResourceApiV2UserIdVarIshidden: { GET: true },
      ApiGatewayResourceApiV2UserIdVarIshiddenby: { GET: true },
      // The community's configuration the stock front ends load first (docs/stock-ui.md).
      ApiGatewayResourceApiV2Dynamicpreference: { GET: true },
      ApiGatewayResourceApiV2Feature: { GET: true },
    };
    const expected: Record<string, string> = {};
    for (const [resourceId, methods] of Object.entries(contract)) {
      for (const method of Object.keys(methods)) expected[`${method} ${resourceId}`] = method === 'GET' ? 'GetUser' : 'PatchUser';
      expected[`ANY ${resourceId}`] = 'GetUser';
    }
    assert.deepEqual(routes, expected);
    // So API Gateway's own 404 (MISSING_AUTHENTICATION_TOKEN) is left for paths the API lacks.
    const paths = resourcesOfType(prod.template, 'AWS::ApiGateway::Resource').map(([id, r]) => `${id} ${r.Properties.PathPart}`);
    assert.deepEqual(paths.sort(), [
      'ApiGatewayResourceApi api',
      'ApiGatewayResourceApiV2 v2',
      'ApiGatewayResourceApiV2Dynamicpreference dynamic_preference',
      'ApiGatewayResourceApiV2Feature feature',
      'ApiGatewayResourceApiV2User user',
      'ApiGatewayResourceApiV2UserAvatar avatar',
      'ApiGatewayResourceApiV2UserHiddenusers hidden_users',
      'ApiGatewayResourceApiV2UserHiddenusersid hidden_users_id',
      'ApiGatewayResourceApiV2UserIdVar {id}',
      'ApiGatewayResourceApiV2UserIdVarHide hide',
      'ApiGatewayResourceApiV2UserIdVarIshidden is_hidden',
      'ApiGatewayResourceApiV2UserIdVarIshiddenby is_hidden_by',
      'ApiGatewayResourceApiV2UserIdVarSettings settings',
      'ApiGatewayResourceApiV2UserMe me',
    ]);
    // API Gateway may invoke getUser for any method and path of this API.
    const permission = resourcesOfType(prod.template, 'AWS::Lambda::Permission').find(
      ([, r]) => JSON.stringify(r.Properties.FunctionName).includes('GetUserLambdaFunction') && r.Properties.Principal === 'apigateway.amazonaws.com',
    );
    assert.ok(permission, 'API Gateway may invoke getUser');
    assert.match(JSON.stringify(permission[1].Properties.SourceArn), /\/\*\/\*"\]\]\}$/);
  });

  test('what getUser loads at start holds no body parser, no S3 client, no image code and no confusables data; patchUser loads the confusables only by import()', () => {
    const sources = new Map(readZip(prod.artifact).map((f) => [f.name, f.data.toString('utf8')]));
    const getStart = staticClosure(ENTRIES.getUser, sources);
    const patchStart = staticClosure(ENTRY, sources);
    const text = getStart.map((name) => sources.get(name)!).join('\n');
    const patchText = patchStart.map((name) => sources.get(name)!).join('\n');
    // Markers of busboy, the S3 client and the image header checks, as found in PATCH's start files.
    for (const marker of ['Unexpected end of form', 'PutObjectTagging', 'Malformed part header']) {
      assert.ok(patchText.includes(marker), `${marker} is a marker PATCH loads`);
      assert.ok(!text.includes(marker), `${marker} is loaded by getUser at start`);
    }
    // The confusables data (Cherokee Ꭺ to Latin A, src/users/username-keys.ts) is in PATCH's part of
    // the artifact, for a body that sends a username, but neither function reads it at start.
    const confusables = '\\u13AA:"A"';
    const patchFiles = [...sources.keys()].filter((name) => name.startsWith('src/functions/patch-user/'));
    assert.ok(patchFiles.some((name) => sources.get(name)!.includes(confusables)), 'the confusables data is in PATCH\'s files');
    assert.ok(!patchText.includes(confusables), 'the confusables data is loaded by patchUser at start');
    assert.ok(!text.includes(confusables), 'the confusables data is loaded by getUser at start');
    // The community's configuration (config/community.json and its reader) is in getUser's part of
    // the artifact, loaded by import() on the first request for it, never at start.
    for (const marker of ['user_default_cover', 'community configuration: needs a']) {
      const getFiles = [...sources.keys()].filter((name) => name.startsWith('src/functions/get-user/'));
      assert.ok(getFiles.some((name) => sources.get(name)!.includes(marker)), `${marker} is in getUser's files`);
      assert.ok(!text.includes(marker), `${marker} is loaded by getUser at start`);
    }
    const size = (names: string[]) => names.reduce((sum, name) => sum + sources.get(name)!.length, 0);
    assert.ok(size(getStart) < size(patchStart) * 0.8, `getUser loads ${size(getStart)} bytes at start, patchUser ${size(patchStart)}`);
  });

  test('postConfirmation may take an id, read a sub index and its user, put the three items, check the index and the name’s old claim key, nothing more', async () => {
    const fn = resource(prod.template, 'PostConfirmationLambdaFunction', 'AWS::Lambda::Function');
    assert.equal(fn.Properties.Handler, 'src/functions/post-confirmation/handler.handler');
    assert.ok(fn.Properties.Timeout <= 5, 'Cognito waits 5 s for a trigger');
    const { logs, keys } = splitStatements(functionRole(prod.template, 'PostConfirmationLambdaFunction', 'PostConfirmationRole'));
    assert.deepEqual(Object.keys(keys).sort(), await actionsOf(['src/functions/post-confirmation/sign-up.ts']));
    assert.deepEqual(keys, {
      'dynamodb:GetItem': ['SUB#*', 'USER#*'],
      'dynamodb:ConditionCheckItem': ['SUB#*', 'USERNAME#*'],
      'dynamodb:UpdateItem': ['COUNTER#user'],
      'dynamodb:PutItem': ['SUB#*', 'USER#*', 'USERNAME#*'],
    });
    for (const s of logs) assert.match(s.Resource['Fn::Sub'], /:log-group:\/aws\/lambda\/selfcommunity-user-patch-prod-postConfirmation:\*$/);
    // Without SIGNUP_USER_POOL_ID no pool may invoke it on prod (there is no demo pool either).
    assert.equal(condition(prod.template, 'SignUpUserPoolGiven'), false);
    assert.equal(prod.template.Resources.PostConfirmationExistingPoolPermission?.Condition, 'SignUpUserPoolGiven');
    assert.equal(prod.template.Resources.PostConfirmationDemoPoolPermission?.Condition, 'CreateDemoUserPool');
  });

  test('the triggers’ AWS calls give up inside Cognito’s 5 s: two calls that hang both fail in time', () => {
    for (const template of [prod.template, demo.template, dev.template]) for (const id of ['PostConfirmationLambdaFunction', 'PostAuthenticationLambdaFunction']) {
      // Sign-up reads the sub index and takes an id; sign-in reads the sub index and updates the user.
      const fn = resource(template, id, 'AWS::Lambda::Function').Properties;
      const env = fn.Environment.Variables;
      const attempts = Number(env.AWS_MAX_ATTEMPTS);
      const attemptMs = Number(env.AWS_REQUEST_TIMEOUT_MS);
      assert.ok(attempts >= 2, `a failed attempt is retried once at least (${attempts})`);
      assert.ok(attemptMs >= 500, `an attempt has time for a cold TLS handshake (${attemptMs} ms)`);
      assert.ok(2 * attempts * attemptMs < fn.Timeout * 1000, `${attempts} × ${attemptMs} ms per call, timeout ${fn.Timeout} s`);
      assert.equal(fn.Timeout, 5);
    }
    // The API functions keep theirs (3 × 2 s within 10 s).
    const api = environmentOf(prod.template);
    assert.deepEqual([api.AWS_MAX_ATTEMPTS, api.AWS_REQUEST_TIMEOUT_MS], ['3', '2000']);
  });

  test('the demo pool invokes postConfirmation after a confirmed sign-up, and may', () => {
    const pool = resource(demo.template, 'DemoUserPool', 'AWS::Cognito::UserPool');
    const fn = resource(demo.template, 'PostConfirmationLambdaFunction', 'AWS::Lambda::Function');
    assert.equal(fn.Properties.FunctionName, 'selfcommunity-user-patch-demo-postConfirmation');
    const signIn = resource(demo.template, 'PostAuthenticationLambdaFunction', 'AWS::Lambda::Function');
    assert.equal(signIn.Properties.FunctionName, 'selfcommunity-user-patch-demo-postAuthentication');
    const arn = (name: string) => ({ 'Fn::Sub': `arn:\${AWS::Partition}:lambda:\${AWS::Region}:\${AWS::AccountId}:function:${name}` });
    assert.deepEqual(pool.Properties.LambdaConfig, {
      PostConfirmation: arn(fn.Properties.FunctionName),
      PostAuthentication: arn(signIn.Properties.FunctionName),
    });
    const permission = resource(demo.template, 'PostConfirmationDemoPoolPermission', 'AWS::Lambda::Permission');
    assert.equal(condition(demo.template, permission.Condition!), true);
    assert.deepEqual(permission.Properties, {
      Action: 'lambda:InvokeFunction',
      FunctionName: { 'Fn::GetAtt': ['PostConfirmationLambdaFunction', 'Arn'] },
      Principal: 'cognito-idp.amazonaws.com',
      SourceAccount: { Ref: 'AWS::AccountId' },
      SourceArn: { 'Fn::GetAtt': ['DemoUserPool', 'Arn'] },
    });
    assert.equal(condition(demo.template, 'SignUpUserPoolGiven'), false);
  });

  test('postAuthentication may read a sub index and update a user’s mirrored e-mail and version, nothing more', async () => {
    const fn = resource(prod.template, 'PostAuthenticationLambdaFunction', 'AWS::Lambda::Function');
    assert.equal(fn.Properties.Handler, 'src/functions/post-authentication/handler.handler');
    // As the sign-up trigger: Cognito's 5 s, and executions of its own (README, concurrency).
    const signUp = resource(prod.template, 'PostConfirmationLambdaFunction', 'AWS::Lambda::Function');
    assert.equal(fn.Properties.Timeout, signUp.Properties.Timeout);
    assert.equal(fn.Properties.ReservedConcurrentExecutions, signUp.Properties.ReservedConcurrentExecutions);
    const statements = functionRole(prod.template, 'PostAuthenticationLambdaFunction', 'PostAuthenticationRole');
    const { logs, keys } = splitStatements(statements);
    assert.deepEqual(
      Object.keys(keys).sort(),
      await actionsTheCodeNeeds('src/functions/post-authentication/handler.ts'),
    );
    assert.deepEqual(keys, { 'dynamodb:GetItem': ['SUB#*'], 'dynamodb:UpdateItem': ['USER#*'] });
    for (const s of logs) assert.match(s.Resource['Fn::Sub'], /:log-group:\/aws\/lambda\/selfcommunity-user-patch-prod-postAuthentication:\*$/);
    for (const [action, key, allowed] of [
      ['dynamodb:GetItem', 'SUB#0b5c5e3a-1c1d-4f4e-9c1b-6a8f7f0e2d11', true],
      ['dynamodb:GetItem', 'USER#5', false],
      ['dynamodb:UpdateItem', 'USER#5', true],
      ['dynamodb:UpdateItem', 'USERNAME#alice', false],
      ['dynamodb:UpdateItem', 'SUB#x', false],
      ['dynamodb:UpdateItem', 'COUNTER#user', false],
      ['dynamodb:PutItem', 'USER#5', false],
      ['dynamodb:DeleteItem', 'USER#5', false],
    ] as const) {
      assert.equal(mayCall(statements, action, key), allowed, `${action} of ${key}`);
    }
    // The update names these attributes only (IAM counts the key and the condition's reads).
    const update = statements.find((s) => s.Effect === 'Allow' && list(s.Action).includes('dynamodb:UpdateItem'))!;
    assert.deepEqual(update.Condition['ForAllValues:StringEquals']['dynamodb:Attributes'], ['pk', 'email', 'email_verified', 'version']);
    const { UpdateItemCommand } = await import('@aws-sdk/client-dynamodb');
    const { refreshPoolEmail } = await import('../../src/functions/post-authentication/refresh-email.ts');
    const sent: InstanceType<typeof UpdateItemCommand>[] = [];
    const dynamo = {
      send: async (command: { input: unknown }) => {
        if (command instanceof UpdateItemCommand) sent.push(command);
        return command instanceof UpdateItemCommand ? {} : { Item: { pk: { S: 'SUB#s' }, user_id: { N: '5' } } };
      },
    } as never;
    await refreshPoolEmail(dynamo, 'users', 's', { email: 'a@example.org', email_verified: true });
    const names = Object.values(sent[0]!.input.ExpressionAttributeNames!).sort();
    assert.deepEqual(names, ['email', 'email_verified', 'pk', 'version']);
    // Without SIGNUP_USER_POOL_ID no pool may invoke it on prod (there is no demo pool either).
    assert.equal(prod.template.Resources.PostAuthenticationExistingPoolPermission?.Condition, 'SignUpUserPoolGiven');
    assert.equal(prod.template.Resources.PostAuthenticationDemoPoolPermission?.Condition, 'CreateDemoUserPool');
  });

  test('the demo pool invokes postAuthentication after a sign-in, and may', () => {
    const permission = resource(demo.template, 'PostAuthenticationDemoPoolPermission', 'AWS::Lambda::Permission');
    assert.equal(condition(demo.template, permission.Condition!), true);
    assert.deepEqual(permission.Properties, {
      Action: 'lambda:InvokeFunction',
      FunctionName: { 'Fn::GetAtt': ['PostAuthenticationLambdaFunction', 'Arn'] },
      Principal: 'cognito-idp.amazonaws.com',
      SourceAccount: { Ref: 'AWS::AccountId' },
      SourceArn: { 'Fn::GetAtt': ['DemoUserPool', 'Arn'] },
    });
  });

  test('an existing pool named by SIGNUP_USER_POOL_ID may invoke postAuthentication too', () => {
    const permission = resource(dev.template, 'PostAuthenticationExistingPoolPermission', 'AWS::Lambda::Permission');
    assert.equal(condition(dev.template, permission.Condition!), true);
    assert.deepEqual(permission.Properties, {
      Action: 'lambda:InvokeFunction',
      FunctionName: { 'Fn::GetAtt': ['PostAuthenticationLambdaFunction', 'Arn'] },
      Principal: 'cognito-idp.amazonaws.com',
      SourceAccount: { Ref: 'AWS::AccountId' },
      SourceArn: {
        'Fn::Sub': `arn:\${AWS::Partition}:cognito-idp:\${AWS::Region}:\${AWS::AccountId}:userpool/${SIGNUP_USER_POOL_ID}`,
      },
    });
    assert.deepEqual(dev.template.Outputs.PostAuthenticationFunctionArn, { Value: { 'Fn::GetAtt': ['PostAuthenticationLambdaFunction', 'Arn'] } });
  });

  test('an existing pool named by SIGNUP_USER_POOL_ID may invoke it', () => {
    const permission = resource(dev.template, 'PostConfirmationExistingPoolPermission', 'AWS::Lambda::Permission');
    assert.equal(condition(dev.template, permission.Condition!), true);
    assert.equal(permission.Properties.Principal, 'cognito-idp.amazonaws.com');
    assert.deepEqual(permission.Properties.FunctionName, { 'Fn::GetAtt': ['PostConfirmationLambdaFunction', 'Arn'] });
    assert.equal(
      permission.Properties.SourceArn['Fn::Sub'],
      `arn:\${AWS::Partition}:cognito-idp:\${AWS::Region}:\${AWS::AccountId}:userpool/${SIGNUP_USER_POOL_ID}`,
    );
    assert.equal(condition(dev.template, 'CreateDemoUserPool'), false);
    assert.ok(dev.template.Outputs.PostConfirmationFunctionArn, 'the ARN to attach is an output');
  });

  test('from their start files alone, as on Lambda, both entries run', async () => {
    const files = readZip(prod.artifact);
    const sources = new Map(files.map((f) => [f.name, f.data.toString('utf8')]));
    const dir = join(workDir, 'prod-entries');
    const needed = new Set([
      ...staticClosure(ENTRIES.getUser, sources),
      ...staticClosure(ENTRIES.postConfirmation, sources),
      ...staticClosure(ENTRIES.postAuthentication, sources),
    ]);
    for (const f of files.filter((file) => needed.has(file.name))) {
      await mkdir(join(dir, dirname(f.name)), { recursive: true });
      await writeFile(join(dir, f.name), f.data);
    }
    const closedPort = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as AddressInfo;
        server.close(() => resolve(port));
      });
    });
    const fixture = await readFile(join(PROJECT_DIR, 'test', 'fixtures', 'events', 'cognito-post-confirmation.json'), 'utf8');
    const key = makeKey();
    const jwksFile = join(workDir, 'entries-jwks.json');
    await writeFile(jwksFile, JSON.stringify({ keys: [key.jwk] }));
    const script = `
      const get = await import('./${ENTRIES.getUser}');
      const signUp = await import('./${ENTRIES.postConfirmation}');
      const signIn = await import('./${ENTRIES.postAuthentication}');
      const event = JSON.parse(process.env.FIXTURE);
      const signInEvent = { ...event, triggerSource: 'PostAuthentication_Authentication' };
      // DynamoDB unreachable: the sign-in still goes through.
      const signedIn = JSON.stringify(await signIn.handler(signInEvent)) === JSON.stringify(signInEvent);
      const reset = { ...event, triggerSource: 'PostConfirmation_ConfirmForgotPassword' };
      const ignored = JSON.stringify(await signUp.handler(reset)) === JSON.stringify(reset);
      const failed = await signUp.handler(event).then(() => 'created', (error) => error.name);
      const read = await get.handler({ httpMethod: 'GET', path: '/api/v2/user/me/', headers: { Authorization: 'Bearer ' + process.env.TOKEN } });
      // What API Gateway's ANY routes to getUser: a DELETE, with a token and without.
      const pathParameters = { id: '5' };
      const del = await get.handler({ httpMethod: 'DELETE', path: '/api/v2/user/5/', pathParameters, headers: { Authorization: 'Bearer ' + process.env.TOKEN } });
      const anonymous = await get.handler({ httpMethod: 'DELETE', path: '/api/v2/user/5/', pathParameters, headers: {} });
      const answer = (r) => ({ status: r.statusCode, allow: r.headers.Allow, auth: r.headers['WWW-Authenticate'], code: JSON.parse(r.body).errors[0].code });
      console.log('RESULT ' + JSON.stringify({ ignored, failed, signedIn, read: read.statusCode, del: answer(del), anonymous: answer(anonymous) }));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
      cwd: dir,
      env: {
        PATH: process.env.PATH,
        FIXTURE: fixture,
        TOKEN: accessToken(key, { sub: 'someone' }),
        AWS_REGION: TEST_POOL.region,
        AWS_ACCESS_KEY_ID: 'ASIAEXAMPLEEXAMPLE00',
        AWS_SECRET_ACCESS_KEY: 'example-secret',
        AWS_SESSION_TOKEN: 'example-session-token',
        AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${closedPort}`,
        TABLE_NAME: 'users',
        MEDIA_BUCKET: 'media',
        MEDIA_BASE_URL: 'https://media.example.org',
        COGNITO_USER_POOL_ID: TEST_POOL.userPoolId,
        COGNITO_CLIENT_ID: TEST_POOL.clientId,
        COGNITO_JWKS_FILE: jwksFile,
        AWS_MAX_ATTEMPTS: '1',
        AWS_REQUEST_TIMEOUT_MS: '1000',
      },
    });
    const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
    assert.ok(line, stdout);
    // DynamoDB unreachable: the trigger fails (Cognito retries), the read is a 503; no missing chunk.
    const result = JSON.parse(line.slice('RESULT '.length));
    assert.equal(result.ignored, true);
    assert.equal(result.signedIn, true);
    assert.notEqual(result.failed, 'created');
    assert.doesNotMatch(result.failed, /ERR_MODULE_NOT_FOUND/);
    assert.equal(result.read, 503);
    // The contract: authentication first, then 405 with the path's methods.
    assert.deepEqual(result.del, { status: 405, allow: 'GET, PATCH', code: 'method_not_allowed' });
    assert.deepEqual(result.anonymous, { status: 401, auth: 'Bearer', code: 'not_authenticated' });
  });
});

// ---------------------------------------------------------------------------------------------
// Each function's environment: what its configuration reader reads, nothing of the others'

type Reader = (env: Record<string, string | undefined>) => unknown;
const READERS: Record<string, { id: string; reader: Reader }> = {
  patchUser: { id: 'PatchUserLambdaFunction', reader: readConfig },
  getUser: { id: 'GetUserLambdaFunction', reader: readConfig },
  postConfirmation: { id: 'PostConfirmationLambdaFunction', reader: readSignUpConfig },
  postAuthentication: { id: 'PostAuthenticationLambdaFunction', reader: readSignUpConfig },
  mediaEvents: { id: 'MediaEventsLambdaFunction', reader: readStreamConfig },
};

/**
 * Runs `reader` on `env` (plus AWS_REGION, which Lambda sets) and returns the names it looked at;
 * it throws when a required setting is missing or invalid. Values CloudFormation resolves at
 * deploy time stand in as an https URL, which every setting of that kind accepts.
 */
function namesRead(reader: Reader, env: Record<string, Json>): Set<string> {
  const values: Record<string, string> = { AWS_REGION: 'eu-west-1' };
  for (const [name, value] of Object.entries(env)) values[name] = typeof value === 'string' ? value : 'https://resolved.example';
  const read = new Set<string>();
  const recorder = new Proxy(values, {
    get(target, name) {
      if (typeof name === 'string') read.add(name);
      return Reflect.get(target, name);
    },
  });
  reader(recorder);
  return read;
}

describe('each function’s environment (osls package and osls print --stage local)', () => {
  const deployedEnv = (template: Template, name: string) =>
    resource(template, READERS[name]!.id, 'AWS::Lambda::Function').Properties.Environment.Variables as Record<string, Json>;
  const API_CALLS = ['AWS_MAX_ATTEMPTS', 'AWS_REQUEST_TIMEOUT_MS'];
  const IMAGE_AND_BODY_LIMITS = [
    'AVATAR_MAX_BYTES', 'AVATAR_SIZE', 'COVER_MAX_BYTES', 'COVER_MAX_SIDE', 'IMAGE_MAX_ANIMATION_PIXELS', 'IMAGE_MAX_FRAMES',
    'IMAGE_MAX_PIXELS', 'IMAGE_MAX_SIDE', 'IMAGE_TIMEOUT_SECONDS', 'JPEG_MAX_SCANS', 'MAX_BODY_BYTES',
  ];
  const COGNITO = ['COGNITO_CLIENT_ID', 'COGNITO_TOKEN_USE', 'COGNITO_USER_POOL_ID'];
  const DEPLOYED: Record<string, string[]> = {
    patchUser: [...API_CALLS, ...COGNITO, ...IMAGE_AND_BODY_LIMITS, 'CORS_ALLOWED_ORIGINS', 'MAX_AVATARS', 'MAX_HIDDEN_USERS', 'MEDIA_BASE_URL', 'MEDIA_BUCKET', 'TABLE_NAME'],
    // readConfig requires the bucket; the image and body limits and the gallery's size have
    // defaults a read never uses.
    getUser: [...API_CALLS, ...COGNITO, 'CORS_ALLOWED_ORIGINS', 'MEDIA_BASE_URL', 'MEDIA_BUCKET', 'READ_REQUIRES_TOKEN', 'TABLE_NAME'],
    postConfirmation: [...API_CALLS, 'TABLE_NAME'],
    postAuthentication: [...API_CALLS, 'TABLE_NAME'],
    mediaEvents: [...API_CALLS, 'CDN_DISTRIBUTION_ID', 'DEAD_LETTER_QUEUE_URL', 'EVENT_BUS_NAME', 'MEDIA_BASE_URL', 'MEDIA_BUCKET'],
  };
  /** Deployed resources the local stack has none of: locally a dead-letter file, no CDN. */
  const DEPLOYED_ONLY: Record<string, string[]> = { mediaEvents: ['CDN_DISTRIBUTION_ID', 'DEAD_LETTER_QUEUE_URL'] };
  const LOCAL_ADDS: Record<string, Array<keyof typeof LOCAL_ONLY>> = {
    patchUser: ['COGNITO_JWKS_FILE', 'DYNAMODB_ENDPOINT', 'S3_ENDPOINT'],
    getUser: ['COGNITO_JWKS_FILE', 'DYNAMODB_ENDPOINT'],
    postConfirmation: ['DYNAMODB_ENDPOINT'],
    postAuthentication: ['DYNAMODB_ENDPOINT'],
    mediaEvents: ['DEAD_LETTER_FILE', 'EVENTBRIDGE_ENDPOINT', 'S3_ENDPOINT'],
  };

  test('deployed, each function has exactly the settings its reader reads, and the reader accepts them', () => {
    for (const template of [prod.template, demo.template, dev.template]) {
      for (const [name, { reader }] of Object.entries(READERS)) {
        const env = deployedEnv(template, name);
        assert.deepEqual(Object.keys(env).sort(), [...DEPLOYED[name]!].sort(), `${name}'s environment`);
        const read = namesRead(reader, env);
        for (const key of Object.keys(env)) assert.ok(read.has(key), `${name} is given ${key}, which its reader never reads`);
      }
    }
    // No provider-level environment gives every function the API's settings.
    const sls = JSON.stringify(prod.template.Resources.GetUserLambdaFunction);
    for (const key of [...IMAGE_AND_BODY_LIMITS, 'S3_ENDPOINT']) assert.ok(!sls.includes(key), `getUser has ${key}`);
  });

  test('the values: the table and bucket of the stack, the pool of the stage, the same media URL everywhere', () => {
    for (const template of [prod.template, demo.template]) {
      const patch = deployedEnv(template, 'patchUser');
      for (const name of ['getUser', 'postConfirmation', 'postAuthentication', 'mediaEvents']) {
        const env = deployedEnv(template, name);
        for (const [key, value] of Object.entries(env)) {
          if ((name.startsWith('post') && API_CALLS.includes(key)) || key === 'EVENT_BUS_NAME' || key === 'READ_REQUIRES_TOKEN') continue;
          if (DEPLOYED_ONLY[name]?.includes(key)) continue;
          assert.deepEqual(value, patch[key], `${name}'s ${key} is the API's`);
        }
      }
    }
    assert.deepEqual(deployedEnv(demo.template, 'getUser').COGNITO_USER_POOL_ID, { Ref: 'DemoUserPool' });
    assert.equal(deployedEnv(demo.template, 'getUser').CORS_ALLOWED_ORIGINS, 'https://app.example.org,https://admin.example.org');
    // Profiles are public unless the stage says otherwise (contract, "Reading a user").
    assert.equal(deployedEnv(prod.template, 'getUser').READ_REQUIRES_TOKEN, 'false');
    assert.deepEqual(deployedEnv(prod.template, 'postConfirmation').TABLE_NAME, { Ref: 'UsersTable' });
  });

  test('on the local stage (npm start), each function also gets the local endpoints its reader reads, and only those', () => {
    for (const [name, { reader }] of Object.entries(READERS)) {
      const env = local.functions[name]!.environment;
      const deployed = DEPLOYED[name]!.filter((key) => !DEPLOYED_ONLY[name]?.includes(key));
      assert.deepEqual(Object.keys(env).sort(), [...deployed, ...LOCAL_ADDS[name]!].sort(), `${name}'s local environment`);
      for (const key of LOCAL_ADDS[name]!) assert.equal(env[key], LOCAL_ONLY[key], `${name}'s ${key}`);
      const read = namesRead(reader, env);
      for (const key of Object.keys(env)) assert.ok(read.has(key), `${name} is given ${key}, which its reader never reads`);
    }
    // No Cognito waits locally, and DynamoDB Local may be slow: the trigger calls as the API does
    // (a timed-out counter ADD that landed would skip an id; the demo users' ids are fixed).
    const { patchUser, postConfirmation, postAuthentication } = local.functions;
    for (const key of ['AWS_MAX_ATTEMPTS', 'AWS_REQUEST_TIMEOUT_MS']) {
      assert.equal(postConfirmation!.environment[key], patchUser!.environment[key], key);
      assert.equal(postAuthentication!.environment[key], patchUser!.environment[key], key);
    }
  });
});
