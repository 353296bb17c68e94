// The prod stage as `osls package` makes it: the API function's settings, environment and role,
// the table, the bucket and CDN, logs, API Gateway's own errors, outputs, required inputs, and the
// concurrency and throttling of the functions.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Json, type Template, PROD_INPUTS, prod, demo, dev, withoutInputs, LOCAL_ONLY } from './packaging.ts';
import { resource, resourcesOfType, fnFunction, environmentOf, condition, resolveIfs, bucketObjects, distributionUrl, type Statement, list, allStatements, roleStatements, actionsTheCodeNeeds } from './template-support.ts';

describe('osls package --stage prod', () => {
  test('the function runs on Node.js 24, arm64, one full vCPU (1769 MB), 10 s', () => {
    const { Properties } = fnFunction(prod.template);
    // The Node that scripts and tests run on (package.json devDependency `node`) is 24 as well.
    assert.equal(Properties.Runtime, 'nodejs24.x');
    assert.deepEqual(Properties.Architectures, ['arm64']);
    // Lambda gives one vCPU at 1769 MB: the CPU the images' 3 s budget was measured with
    // (npm run bench, "Images at Lambda's CPU share"); the other functions keep 1024 MB.
    assert.equal(Properties.MemorySize, 1769);
    assert.equal(Properties.Timeout, 10);
    assert.equal(resource(prod.template, 'GetUserLambdaFunction', 'AWS::Lambda::Function').Properties.MemorySize, 1024);
  });

  test('the timeout leaves room for every AWS call attempt and stays under API Gateway’s 29 s', () => {
    const { Properties } = fnFunction(prod.template);
    const env = environmentOf(prod.template);
    const worstCallMs = Number(env.AWS_MAX_ATTEMPTS) * Number(env.AWS_REQUEST_TIMEOUT_MS);
    assert.ok(worstCallMs > 0 && worstCallMs < Properties.Timeout * 1000, `${worstCallMs} ms per call, timeout ${Properties.Timeout} s`);
    assert.ok(Properties.Timeout < 29);
  });

  test('the images’ budget and the AWS calls after it add up inside the timeout', () => {
    // The contract: all the images of a request finish, or are stopped, well inside the function's
    // timeout, and a request they slowed is never the 503 of a spent deadline. After the images:
    // the uploads and the write (one attempt each), and the one call the deadline keeps, plus 0.5 s.
    const { Properties } = fnFunction(prod.template);
    const env = environmentOf(prod.template);
    const afterImagesMs = 3 * Number(env.AWS_REQUEST_TIMEOUT_MS) + 500;
    const imagesMs = Number(env.IMAGE_TIMEOUT_SECONDS) * 1000;
    assert.ok(imagesMs > 0 && imagesMs + afterImagesMs < Properties.Timeout * 1000, `${imagesMs} + ${afterImagesMs} ms, timeout ${Properties.Timeout} s`);
  });

  test('the environment names the table, bucket, pool, client, media URL and limits, and nothing local', () => {
    const env = environmentOf(prod.template);
    assert.deepEqual(Object.keys(env).sort(), [
      'AVATAR_MAX_BYTES', 'AVATAR_SIZE', 'AWS_MAX_ATTEMPTS', 'AWS_REQUEST_TIMEOUT_MS', 'COGNITO_CLIENT_ID', 'COGNITO_TOKEN_USE',
      'COGNITO_USER_POOL_ID', 'CORS_ALLOWED_ORIGINS', 'COVER_MAX_BYTES', 'COVER_MAX_SIDE', 'IMAGE_MAX_ANIMATION_PIXELS',
      'IMAGE_MAX_FRAMES', 'IMAGE_MAX_PIXELS', 'IMAGE_MAX_SIDE', 'IMAGE_TIMEOUT_SECONDS', 'JPEG_MAX_SCANS',
      'MAX_AVATARS', 'MAX_BODY_BYTES', 'MAX_HIDDEN_USERS', 'MEDIA_BASE_URL', 'MEDIA_BUCKET', 'TABLE_NAME',
    ]);
    // The contract's gallery of at most 20 avatars.
    assert.equal(env.MAX_AVATARS, '20');
    assert.deepEqual(env.TABLE_NAME, { Ref: 'UsersTable' });
    assert.deepEqual(env.MEDIA_BUCKET, { Ref: 'MediaBucket' });
    assert.equal(env.COGNITO_USER_POOL_ID, PROD_INPUTS.COGNITO_USER_POOL_ID);
    assert.equal(env.COGNITO_CLIENT_ID, PROD_INPUTS.COGNITO_CLIENT_ID);
    assert.equal(env.COGNITO_TOKEN_USE, 'access');
    assert.deepEqual(
      [env.AVATAR_MAX_BYTES, env.COVER_MAX_BYTES, env.IMAGE_MAX_SIDE, env.IMAGE_MAX_PIXELS, env.MAX_BODY_BYTES],
      // The largest file one request carries (README, "Largest avatar and cover"), for both.
      ['4693501', '4693501', '8192', '40000000', '6000000'],
    );
    assert.deepEqual(
      [env.IMAGE_MAX_FRAMES, env.IMAGE_MAX_ANIMATION_PIXELS, env.JPEG_MAX_SCANS, env.AVATAR_SIZE, env.COVER_MAX_SIDE, env.IMAGE_TIMEOUT_SECONDS],
      ['300', '60000000', '64', '400', '1600', '3'],
    );
    // Without MEDIA_BASE_URL or a media domain, images are served by the stack's distribution.
    assert.deepEqual(resolveIfs(prod.template, env.MEDIA_BASE_URL), distributionUrl);
  });

  test('no local endpoint or key file reaches the template', () => {
    const text = JSON.stringify(prod.template);
    for (const name of Object.keys(LOCAL_ONLY)) assert.ok(!text.includes(name), `${name} in the template`);
    for (const value of Object.values(LOCAL_ONLY)) assert.ok(!text.includes(value), `${value} in the template`);
    for (const marker of ['localhost', '127.0.0.1', 'jwks', '.local/', 'LocalPool', 'localclient']) {
      assert.ok(!text.includes(marker), `"${marker}" in the template`);
    }
  });

  test('API Gateway passes multipart bodies as binary', () => {
    const api = resource(prod.template, 'ApiGatewayRestApi', 'AWS::ApiGateway::RestApi');
    assert.ok(api.Properties.BinaryMediaTypes.includes('multipart/form-data'));
    // The routes themselves: template-functions.test.ts; the preflight: template-stages.test.ts.
    const methods = resourcesOfType(prod.template, 'AWS::ApiGateway::Method').map(([, r]) => r.Properties.HttpMethod);
    assert.ok(methods.includes('PATCH') && !methods.includes('OPTIONS'), 'no CORS preflight unless origins are configured');
  });

  test('no policy statement allows a wildcard action, resource or principal', () => {
    const statements = allStatements(prod.template);
    assert.ok(statements.length > 0);
    for (const statement of statements.filter((s) => s.Effect === 'Allow')) {
      const where = JSON.stringify(statement);
      for (const action of list(statement.Action)) assert.ok(!action.includes('*'), `action ${action} in ${where}`);
      for (const resource of list(statement.Resource)) assert.notEqual(resource, '*', `resource * in ${where}`);
      assert.notEqual(statement.Principal, '*', `principal * in ${where}`);
      assert.notDeepEqual(statement.Principal, { AWS: '*' }, `principal * in ${where}`);
    }
  });

  test('the API function may make exactly the AWS calls its code makes, on this table and the media prefixes', async () => {
    const [logs, ...others] = roleStatements(prod.template, 'PatchUserLambdaFunction');
    assert.deepEqual(logs, {
      Effect: 'Allow',
      Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      Resource: [{ 'Fn::GetAtt': ['PatchUserLogGroup', 'Arn'] }],
    });
    // An action may have more than one grant (UpdateItem of users, and of hidden-users items).
    const granted = new Set(others.filter((s) => s.Effect === 'Allow').flatMap((s) => list(s.Action)));
    assert.deepEqual([...granted].sort(), await actionsTheCodeNeeds('src/functions/patch-user/handler.ts'));

    const dynamodb = others.filter((s) => list(s.Action).some((a) => a.startsWith('dynamodb:')));
    const s3 = others.filter((s) => list(s.Action).some((a) => a.startsWith('s3:')));
    assert.equal(dynamodb.length + s3.length, others.length);
    for (const s of dynamodb) assert.deepEqual(list(s.Resource), [{ 'Fn::GetAtt': ['UsersTable', 'Arn'] }]);
    for (const s of s3) assert.deepEqual(list(s.Resource), [bucketObjects('avatar'), bucketObjects('cover')]);
    // No role shared by both functions, which would give the API the stream function's rights.
    assert.equal(prod.template.Resources.IamRoleLambdaExecution, undefined);
  });

  test('the table is on demand, recoverable, protected from deletion and retained', () => {
    const table = resource(prod.template, 'UsersTable', 'AWS::DynamoDB::Table');
    assert.equal(table.DeletionPolicy, 'Retain');
    assert.equal(table.UpdateReplacePolicy, 'Retain');
    assert.equal(table.Properties.BillingMode, 'PAY_PER_REQUEST');
    assert.equal(table.Properties.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled, true);
    assert.equal(table.Properties.DeletionProtectionEnabled, true);
    assert.deepEqual(table.Properties.KeySchema, [{ AttributeName: 'pk', KeyType: 'HASH' }]);
    assert.deepEqual(table.Properties.AttributeDefinitions, [{ AttributeName: 'pk', AttributeType: 'S' }]);
    assert.equal(table.Properties.GlobalSecondaryIndexes, undefined);
  });

  test('the bucket is private, encrypted, retained, and expires pending uploads', () => {
    const bucket = resource(prod.template, 'MediaBucket', 'AWS::S3::Bucket');
    assert.equal(bucket.DeletionPolicy, 'Retain');
    assert.equal(bucket.UpdateReplacePolicy, 'Retain');
    const p = bucket.Properties;
    assert.deepEqual(p.PublicAccessBlockConfiguration, {
      BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true,
    });
    assert.deepEqual(p.OwnershipControls.Rules, [{ ObjectOwnership: 'BucketOwnerEnforced' }]);
    assert.deepEqual(p.BucketEncryption.ServerSideEncryptionConfiguration, [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }]);
    // src/store/media-lifecycle.ts PENDING_TAG: uploads nobody points at yet (or any more) are garbage, but
    // only well after the stream's retry window (its records live 24 h) has passed.
    const [rule, ...others] = p.LifecycleConfiguration.Rules;
    assert.deepEqual(others, []);
    assert.deepEqual({ ...rule, ExpirationInDays: undefined }, {
      Id: 'expire-pending-uploads', Status: 'Enabled', TagFilters: [{ Key: 'state', Value: 'pending' }], ExpirationInDays: undefined,
    });
    assert.equal(p.CorsConfiguration, undefined, 'browsers never call the bucket');
    assert.equal(p.WebsiteConfiguration, undefined);
  });

  test('only the media distribution reads the bucket, and only avatars and covers', () => {
    const policy = resource(prod.template, 'MediaBucketPolicy', 'AWS::S3::BucketPolicy').Properties;
    assert.deepEqual(policy.Bucket, { Ref: 'MediaBucket' });
    const allows = (policy.PolicyDocument.Statement as Statement[]).filter((s) => s.Effect === 'Allow');
    assert.equal(allows.length, 1);
    const [read] = allows;
    assert.deepEqual(read!.Principal, { Service: 'cloudfront.amazonaws.com' });
    assert.deepEqual(list(read!.Action), ['s3:GetObject']);
    assert.deepEqual(list(read!.Resource), [bucketObjects('avatar'), bucketObjects('cover')]);
    const sourceArn = read!.Condition.StringEquals['AWS:SourceArn'];
    assert.ok(JSON.stringify(sourceArn).includes('{"Ref":"MediaDistribution"}'), JSON.stringify(sourceArn));
    const denies = (policy.PolicyDocument.Statement as Statement[]).filter((s) => s.Effect === 'Deny');
    assert.deepEqual(denies.map((s) => s.Condition), [{ Bool: { 'aws:SecureTransport': 'false' } }]);
  });

  test('CloudFront serves the media over HTTPS through origin access control', () => {
    const oac = resource(prod.template, 'MediaOriginAccessControl', 'AWS::CloudFront::OriginAccessControl');
    assert.deepEqual(
      { ...oac.Properties.OriginAccessControlConfig, Name: undefined, Description: undefined },
      { Name: undefined, Description: undefined, OriginAccessControlOriginType: 's3', SigningBehavior: 'always', SigningProtocol: 'sigv4' },
    );
    const config = resolveIfs(prod.template, resource(prod.template, 'MediaDistribution', 'AWS::CloudFront::Distribution').Properties.DistributionConfig);
    assert.equal(config.Enabled, true);
    assert.deepEqual(config.Origins, [
      {
        Id: 'media-bucket',
        DomainName: { 'Fn::GetAtt': ['MediaBucket', 'RegionalDomainName'] },
        OriginAccessControlId: { 'Fn::GetAtt': ['MediaOriginAccessControl', 'Id'] },
        S3OriginConfig: { OriginAccessIdentity: '' },
      },
    ]);
    const behavior = config.DefaultCacheBehavior;
    assert.equal(behavior.TargetOriginId, 'media-bucket');
    assert.equal(behavior.ViewerProtocolPolicy, 'redirect-to-https');
    assert.deepEqual(behavior.AllowedMethods, ['GET', 'HEAD']);
    assert.equal(behavior.CachePolicyId, '658327ea-f89d-4fab-a63d-7e88639e58f6', 'managed policy CachingOptimized');
    assert.equal(behavior.ResponseHeadersPolicyId, '67f7725c-6f97-4210-82d7-5512b31e9d03', 'managed SecurityHeadersPolicy');
    assert.equal(config.Aliases, undefined);
    assert.deepEqual(config.ViewerCertificate, { CloudFrontDefaultCertificate: true });
    assert.deepEqual(resolveIfs(prod.template, prod.template.Outputs.MediaBaseUrl.Value), distributionUrl);
  });

  test('logs: JSON lines, retained for 30 days, no API Gateway logging', () => {
    const group = resource(prod.template, 'PatchUserLogGroup', 'AWS::Logs::LogGroup');
    assert.equal(group.Properties.RetentionInDays, 30);
    assert.deepEqual(fnFunction(prod.template).Properties.LoggingConfig, {
      LogFormat: 'JSON', ApplicationLogLevel: 'INFO', SystemLogLevel: 'INFO',
    });
    const groups = resourcesOfType(prod.template, 'AWS::Logs::LogGroup').map(([id]) => id);
    assert.deepEqual(
      groups.sort(),
      ['GetUserLogGroup', 'MediaEventsLogGroup', 'PatchUserLogGroup', 'PostAuthenticationLogGroup', 'PostConfirmationLogGroup'],
      'no API Gateway access log group',
    );
    assert.deepEqual(resourcesOfType(prod.template, 'Custom::ApiGatewayAccountRole'), []);
  });

  test('API Gateway’s own errors use the error envelope and are part of the first deployment', () => {
    const responses = resourcesOfType(prod.template, 'AWS::ApiGateway::GatewayResponse');
    const byType = Object.fromEntries(
      responses.map(([, r]) => {
        const body = JSON.parse(r.Properties.ResponseTemplates['application/json']);
        return [r.Properties.ResponseType, { status: r.Properties.StatusCode, code: body.errors[0].code }];
      }),
    );
    assert.deepEqual(byType, {
      MISSING_AUTHENTICATION_TOKEN: { status: '404', code: 'not_found' },
      REQUEST_TOO_LARGE: { status: '413', code: 'request_too_large' },
      THROTTLED: { status: '429', code: 'throttled' },
      DEFAULT_4XX: { status: undefined, code: 'error' },
      DEFAULT_5XX: { status: undefined, code: 'server_error' },
    });
    for (const [, r] of responses) {
      // Fixed bodies: API Gateway's own message can quote the Authorization header back, and a
      // gateway response's template only substitutes variables (it is not Velocity).
      assert.doesNotMatch(r.Properties.ResponseTemplates['application/json'], /\$/, r.Properties.ResponseType);
      assert.deepEqual(Object.keys(r.Properties.ResponseTemplates), ['application/json']);
    }
    // A body past the limit: API Gateway's 413 (over its 10 MB, or an event over Lambda's 6 MiB)
    // in the contract's envelope, as the function answers the bodies it can still take.
    const tooLarge = responses.find(([, r]) => r.Properties.ResponseType === 'REQUEST_TOO_LARGE')![1].Properties;
    assert.deepEqual(JSON.parse(tooLarge.ResponseTemplates['application/json']), {
      errors: [{ code: 'request_too_large', message: 'Request body is too large.' }],
    });
    const method = resource(prod.template, 'ApiGatewayMethodApiV2UserIdVarPatch', 'AWS::ApiGateway::Method');
    for (const [id] of responses) assert.ok(method.DependsOn?.includes(id), `the method waits for ${id}`);
  });

  test('the demo user pool is not created, and conditions compare strings', () => {
    assert.equal(condition(prod.template, 'CreateDemoUserPool'), false);
    assert.equal(prod.template.Resources.DemoUserPool?.Condition, 'CreateDemoUserPool');
    assert.equal(prod.template.Resources.DemoUserPoolClient?.Condition, 'CreateDemoUserPool');
    for (const name of Object.keys(prod.template.Conditions ?? {})) condition(prod.template, name);
  });

  test('CORS is off without configured origins', () => {
    assert.equal(environmentOf(prod.template).CORS_ALLOWED_ORIGINS, '');
    assert.ok(!resourcesOfType(prod.template, 'AWS::ApiGateway::Method').some(([, r]) => r.Properties.HttpMethod === 'OPTIONS'));
  });

  test('the outputs a deployer needs', () => {
    const outputs = prod.template.Outputs;
    for (const name of ['ServiceEndpoint', 'UsersTableName', 'MediaBucketName', 'MediaDistributionId', 'MediaDistributionDomainName', 'MediaBaseUrl']) {
      assert.ok(outputs[name], `output ${name}`);
    }
    assert.equal(outputs.DemoUserPoolId.Condition, 'CreateDemoUserPool');
  });

  test('without the Cognito inputs packaging fails and names them', () => {
    assert.notEqual(withoutInputs.code, 0);
    const output = `${withoutInputs.stdout}\n${withoutInputs.stderr}`;
    assert.match(output, /COGNITO_USER_POOL_ID/);
    assert.match(output, /COGNITO_CLIENT_ID/);
  });
});

describe('concurrency of the functions and throttling of the API', () => {
  const ACCOUNT_CONCURRENCY = 1000; // Lambda's default per account and region
  const UNRESERVED_MINIMUM = 100; // Lambda keeps at least this many unreserved
  const reserved = (template: Template, id: string): number | undefined =>
    resource(template, id, 'AWS::Lambda::Function').Properties.ReservedConcurrentExecutions;

  test('the stream function and the sign-up trigger have executions of their own; the API functions share the rest', () => {
    for (const template of [prod.template, demo.template, dev.template]) {
      const stream = reserved(template, 'MediaEventsLambdaFunction');
      const signUp = reserved(template, 'PostConfirmationLambdaFunction');
      const signIn = reserved(template, 'PostAuthenticationLambdaFunction');
      assert.ok(stream !== undefined && stream >= 1, 'the stream function has reserved concurrency');
      assert.ok(signUp !== undefined && signUp >= 1, 'the sign-up trigger has reserved concurrency');
      assert.ok(signIn !== undefined && signIn >= 1, 'the sign-in trigger has reserved concurrency');
      // One batch per shard at a time, times the parallelization factor: at least one shard's worth.
      const [, mapping] = resourcesOfType(template, 'AWS::Lambda::EventSourceMapping')[0]!;
      assert.ok(stream >= (mapping.Properties.ParallelizationFactor ?? 1), 'a shard’s batches fit');
      // A reservation is a ceiling too: no cap on the API functions, whose load is the stage's throttle.
      assert.equal(reserved(template, 'PatchUserLambdaFunction'), undefined);
      assert.equal(reserved(template, 'GetUserLambdaFunction'), undefined);
      assert.ok(stream + signUp + signIn <= ACCOUNT_CONCURRENCY - UNRESERVED_MINIMUM, 'deployable in an account with the default limit');
    }
  });

  test('the stage is throttled, the methods that decode images (PATCH /{id}, POST avatar) more, within what the account can run', () => {
    for (const template of [prod.template, demo.template, dev.template]) {
      const deployments = resourcesOfType(template, 'AWS::ApiGateway::Deployment');
      assert.equal(deployments.length, 1);
      const stage = deployments[0]![1].Properties.StageDescription;
      assert.ok(stage, 'the deployment’s stage has settings');
      assert.ok(stage.ThrottlingRateLimit > 0 && stage.ThrottlingBurstLimit >= stage.ThrottlingRateLimit, JSON.stringify(stage));
      const patch = resource(template, 'ApiGatewayMethodApiV2UserIdVarPatch', 'AWS::ApiGateway::Method');
      assert.deepEqual(patch.Properties.ResourceId, { Ref: 'ApiGatewayResourceApiV2UserIdVar' });
      const post = resource(template, 'ApiGatewayMethodApiV2UserAvatarPost', 'AWS::ApiGateway::Method');
      assert.deepEqual(post.Properties.ResourceId, { Ref: 'ApiGatewayResourceApiV2UserAvatar' });
      const limitsOf = (setting: Json) => ({ ThrottlingRateLimit: setting.ThrottlingRateLimit, ThrottlingBurstLimit: setting.ThrottlingBurstLimit });
      assert.deepEqual(stage.MethodSettings, [
        { ResourcePath: '/~1api~1v2~1user~1{id}', HttpMethod: 'PATCH', ...limitsOf(stage.MethodSettings[0]) },
        { ResourcePath: '/~1api~1v2~1user~1avatar', HttpMethod: 'POST', ...limitsOf(stage.MethodSettings[1]) },
      ]);
      for (const limits of stage.MethodSettings) {
        assert.ok(limits.ThrottlingRateLimit > 0 && limits.ThrottlingRateLimit < stage.ThrottlingRateLimit);
        assert.ok(limits.ThrottlingBurstLimit >= limits.ThrottlingRateLimit);
      }
      // Both image methods at their limits, each request running to the function's timeout, leave
      // the reserved functions theirs and the unreserved minimum: slow images cannot take the
      // account's executions.
      const timeout = fnFunction(template).Properties.Timeout;
      const reservations = ['MediaEventsLambdaFunction', 'PostConfirmationLambdaFunction', 'PostAuthenticationLambdaFunction']
        .reduce((sum, id) => sum + (reserved(template, id) ?? 0), 0);
      const decoding = stage.MethodSettings.reduce((sum: number, l: Json) => sum + l.ThrottlingBurstLimit + l.ThrottlingRateLimit * timeout, 0);
      assert.ok(decoding <= ACCOUNT_CONCURRENCY - reservations - UNRESERVED_MINIMUM, `${decoding} executions`);
      // The throttled answer is the contract's 429 envelope (GatewayResponseThrottled).
      resource(template, 'GatewayResponseThrottled', 'AWS::ApiGateway::GatewayResponse');
    }
  });
});
