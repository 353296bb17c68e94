// What differs between stages (demo, dev) and what serverless.yml and its infra/ files hold.
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { PROJECT_DIR } from '../../tools/local/local-stack.ts';
import { demo, dev } from './packaging.ts';
import { resource, resourcesOfType, environmentOf, condition, resolveIfs } from './template-support.ts';

describe('osls package --stage demo (own user pool, CORS, media domain)', () => {
  test('the stack creates a user pool and client and the function uses them', () => {
    assert.equal(condition(demo.template, 'CreateDemoUserPool'), true);
    const pool = resource(demo.template, 'DemoUserPool', 'AWS::Cognito::UserPool');
    // People sign up themselves; the Post confirmation trigger creates their user.
    assert.equal(pool.Properties.AdminCreateUserConfig.AllowAdminCreateUserOnly, false);
    const client = resource(demo.template, 'DemoUserPoolClient', 'AWS::Cognito::UserPoolClient');
    assert.deepEqual(client.Properties.UserPoolId, { Ref: 'DemoUserPool' });
    assert.equal(client.Properties.GenerateSecret, false);
    const env = environmentOf(demo.template);
    assert.deepEqual(env.COGNITO_USER_POOL_ID, { Ref: 'DemoUserPool' });
    assert.deepEqual(env.COGNITO_CLIENT_ID, { Ref: 'DemoUserPoolClient' });
  });

  test('a demo stage is disposable: nothing retained or protected, short log retention', () => {
    const table = resource(demo.template, 'UsersTable', 'AWS::DynamoDB::Table');
    assert.equal(table.DeletionPolicy, 'Delete');
    assert.equal(table.Properties.DeletionProtectionEnabled, false);
    assert.equal(resource(demo.template, 'MediaBucket', 'AWS::S3::Bucket').DeletionPolicy, 'Delete');
    assert.equal(resource(demo.template, 'PatchUserLogGroup', 'AWS::Logs::LogGroup').Properties.RetentionInDays, 14);
  });

  test('configured origins get a preflight and reach the function', () => {
    const origins = 'https://app.example.org,https://admin.example.org';
    assert.equal(environmentOf(demo.template).CORS_ALLOWED_ORIGINS, origins);
    const options = resourcesOfType(demo.template, 'AWS::ApiGateway::Method').find(
      ([, r]) => r.Properties.HttpMethod === 'OPTIONS' && r.Properties.ResourceId.Ref === 'ApiGatewayResourceApiV2UserIdVar',
    );
    assert.ok(options, 'an OPTIONS method');
    const [integration] = options[1].Properties.Integration.IntegrationResponses;
    const headers = integration.ResponseParameters;
    assert.equal(headers['method.response.header.Access-Control-Allow-Headers'], "'Authorization,Content-Type,If-Match,If-None-Match'");
    assert.deepEqual(headers['method.response.header.Access-Control-Allow-Methods'].replace(/'/g, '').split(',').sort(), ['GET', 'OPTIONS', 'PATCH']);
    assert.equal(headers['method.response.header.Access-Control-Allow-Credentials'], undefined);
    const template = integration.ResponseTemplates['application/json'];
    assert.match(template, /https:\/\/app\[\.\]example\[\.\]org/);
    assert.match(template, /https:\/\/admin\[\.\]example\[\.\]org/);
  });

  test('every path answers the preflight for exactly its methods, the client\'s headers and the configured origins', () => {
    // The contract ("Avatars", "User settings", "Hidden users", "Paths, methods and browsers").
    const contract: Record<string, string[]> = {
      ApiGatewayResourceApiV2UserMe: ['GET'],
      ApiGatewayResourceApiV2UserIdVar: ['GET', 'PATCH'],
      ApiGatewayResourceApiV2UserAvatar: ['DELETE', 'GET', 'PATCH', 'POST'],
      ApiGatewayResourceApiV2UserHiddenusers: ['GET'],
      ApiGatewayResourceApiV2UserHiddenusersid: ['GET'],
      ApiGatewayResourceApiV2UserIdVarSettings: ['GET', 'PATCH'],
      ApiGatewayResourceApiV2UserIdVarHide: ['POST'],
      ApiGatewayResourceApiV2UserIdVarIshidden: ['GET'],
      ApiGatewayResourceApiV2UserIdVarIshiddenby: ['GET'],
      // The community's configuration the stock front ends load first (docs/stock-ui.md).
      ApiGatewayResourceApiV2Dynamicpreference: ['GET'],
      ApiGatewayResourceApiV2Feature: ['GET'],
    };
    const methods = resourcesOfType(demo.template, 'AWS::ApiGateway::Method').map(([, r]) => r.Properties);
    const preflights = methods.filter((m) => m.HttpMethod === 'OPTIONS').map((m) => m.ResourceId.Ref).sort();
    assert.deepEqual(preflights, Object.keys(contract).sort(), 'one preflight per path, none elsewhere');
    for (const [resourceId, allowed] of Object.entries(contract)) {
      const on = methods.filter((m) => m.ResourceId.Ref === resourceId);
      assert.ok(on.some((m) => m.HttpMethod === 'ANY'), `ANY on ${resourceId}`);
      // OPTIONS is a method of its own, which API Gateway prefers over ANY: the preflight never
      // reaches a function, and it allows only the methods the path serves.
      const options = on.find((m) => m.HttpMethod === 'OPTIONS');
      assert.equal(options.AuthorizationType, 'NONE', `a browser's preflight carries no token (${resourceId})`);
      assert.equal(options.Integration.Type, 'MOCK');
      const [integration] = options.Integration.IntegrationResponses;
      const headers = integration.ResponseParameters;
      assert.deepEqual(headers['method.response.header.Access-Control-Allow-Methods'].replace(/'/g, '').split(',').sort(), [...allowed, 'OPTIONS'].sort(), resourceId);
      assert.deepEqual(headers['method.response.header.Access-Control-Allow-Headers'].replace(/'/g, '').split(',').sort(), ['Authorization', 'Content-Type', 'If-Match', 'If-None-Match'], resourceId);
      assert.equal(headers['method.response.header.Access-Control-Allow-Credentials'], undefined, resourceId);
      const template = integration.ResponseTemplates['application/json'];
      assert.match(template, /https:\/\/app\[\.\]example\[\.\]org/, resourceId);
      assert.match(template, /https:\/\/admin\[\.\]example\[\.\]org/, resourceId);
      // Each method the path serves lets a browser read its answers: a route of its own with CORS.
      for (const method of allowed) assert.ok(on.some((m) => m.HttpMethod === method), `${method} on ${resourceId}`);
    }
  });

  test('a media domain of your own goes on the distribution and into the image URLs', () => {
    const config = resolveIfs(demo.template, resource(demo.template, 'MediaDistribution', 'AWS::CloudFront::Distribution').Properties.DistributionConfig);
    assert.deepEqual(config.Aliases, ['media.example.org']);
    assert.equal(config.ViewerCertificate.AcmCertificateArn, 'arn:aws:acm:us-east-1:000000000000:certificate/example');
    assert.equal(config.ViewerCertificate.SslSupportMethod, 'sni-only');
    assert.equal(resolveIfs(demo.template, environmentOf(demo.template).MEDIA_BASE_URL), 'https://media.example.org');
  });

  test('the pool ids are outputs', () => {
    assert.deepEqual(demo.template.Outputs.DemoUserPoolId, { Condition: 'CreateDemoUserPool', Value: { Ref: 'DemoUserPool' } });
    assert.deepEqual(demo.template.Outputs.DemoUserPoolClientId, { Condition: 'CreateDemoUserPool', Value: { Ref: 'DemoUserPoolClient' } });
  });
});

describe('osls package --stage dev with MEDIA_BASE_URL', () => {
  test('an explicit media base URL wins over the distribution', () => {
    assert.equal(resolveIfs(dev.template, environmentOf(dev.template).MEDIA_BASE_URL), 'https://cdn.example.net/media');
    assert.equal(resource(dev.template, 'UsersTable', 'AWS::DynamoDB::Table').DeletionPolicy, 'Delete');
  });
});

describe('serverless.yml', () => {
  test('holds no account id, pool id, client id or key', async () => {
    // The configuration and the resource files it includes (infra/).
    const files = ['serverless.yml', ...(await readdir(join(PROJECT_DIR, 'infra'), { recursive: true })).map((file) => join('infra', file))];
    const texts = await Promise.all(files.filter((file) => /\.(ya?ml|c?js)$/.test(file)).map((file) => readFile(join(PROJECT_DIR, file), 'utf8')));
    const text = texts.join('\n');
    assert.doesNotMatch(text, /\b\d{12}\b/, 'an AWS account id');
    assert.doesNotMatch(text, /\b[a-z]{2}(-[a-z]+)+-\d_[0-9A-Za-z]{9}\b/, 'a user pool id');
    assert.doesNotMatch(text, /arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d/, 'an ARN with an account');
    assert.doesNotMatch(text, /(secret|password|private_?key)\s*[:=]\s*['"]?[A-Za-z0-9+/]{8,}/i, 'a secret');
  });
});
