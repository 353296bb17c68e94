// The stream function, its dead-letter queue, the event bus and the alarms.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Json, type Resource, type Template, prod, demo, dev } from './packaging.ts';
import { MEDIA_EVENTS_MODULE, resource, resourcesOfType, condition, resolveIfs, bucketObjects, distributionUrl, list, roleStatements, actionsTheCodeNeeds } from './template-support.ts';

describe('the stream function, its dead-letter queue and the alarms', () => {
  const mapping = (template: Template): Resource => {
    const mappings = resourcesOfType(template, 'AWS::Lambda::EventSourceMapping');
    assert.equal(mappings.length, 1, 'one event source mapping');
    return mappings[0]![1];
  };
  const busArn = (name: string) => ({
    'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':events:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, `:event-bus/${name}`]],
  });

  test('the table keeps a stream of new and old images', () => {
    for (const template of [prod.template, demo.template]) {
      const table = resource(template, 'UsersTable', 'AWS::DynamoDB::Table');
      assert.deepEqual(table.Properties.StreamSpecification, { StreamViewType: 'NEW_AND_OLD_IMAGES' });
    }
  });

  test('the stream triggers mediaEvents with partial batch responses, bisection, bounded retries and a dead-letter queue', () => {
    const { Properties } = mapping(prod.template);
    assert.deepEqual(Properties.EventSourceArn, { 'Fn::GetAtt': ['UsersTable', 'StreamArn'] });
    assert.deepEqual(Properties.FunctionName, { 'Fn::GetAtt': ['MediaEventsLambdaFunction', 'Arn'] });
    assert.equal(Properties.Enabled, true);
    assert.equal(Properties.StartingPosition, 'TRIM_HORIZON', 'nothing written before the mapping existed is skipped');
    assert.ok(Properties.BatchSize >= 1 && Properties.BatchSize <= 100, `batch size ${Properties.BatchSize}`);
    assert.ok(Properties.MaximumRetryAttempts >= 1, 'failed batches are retried');
    assert.equal(Properties.BisectBatchOnFunctionError, true);
    assert.deepEqual(Properties.FunctionResponseTypes, ['ReportBatchItemFailures']);
    assert.deepEqual(Properties.DestinationConfig, { OnFailure: { Destination: { 'Fn::GetAtt': ['MediaEventsDeadLetterQueue', 'Arn'] } } });
  });

  test('the stream function: its module, Node 24 on arm64, its own environment', () => {
    const fn = resource(prod.template, 'MediaEventsLambdaFunction', 'AWS::Lambda::Function').Properties;
    assert.equal(fn.Handler, `${MEDIA_EVENTS_MODULE}.handler`);
    assert.equal(fn.Runtime, 'nodejs24.x');
    assert.deepEqual(fn.Architectures, ['arm64']);
    assert.ok(fn.Timeout >= 10 && fn.Timeout <= 900, `timeout ${fn.Timeout}`);
    const env = fn.Environment.Variables;
    assert.deepEqual(env.MEDIA_BUCKET, { Ref: 'MediaBucket' });
    assert.deepEqual(resolveIfs(prod.template, env.MEDIA_BASE_URL), distributionUrl);
    assert.deepEqual(env.EVENT_BUS_NAME, { Ref: 'UserEventBus' }, 'the stack’s own bus, never the account’s default');
    const demoEnv = resource(demo.template, 'MediaEventsLambdaFunction', 'AWS::Lambda::Function').Properties.Environment.Variables;
    assert.deepEqual(demoEnv.EVENT_BUS_NAME, { Ref: 'UserEventBus' });
    assert.equal(resolveIfs(demo.template, demoEnv.MEDIA_BASE_URL), 'https://media.example.org');
    for (const name of ['S3_ENDPOINT', 'EVENTBRIDGE_ENDPOINT', 'DYNAMODB_ENDPOINT', 'DEAD_LETTER_FILE']) assert.equal(env[name], undefined, name);
    // Records no retry can fix go to the stack's dead-letter queue; deleted images leave its distribution.
    assert.deepEqual(env.DEAD_LETTER_QUEUE_URL, { Ref: 'MediaEventsDeadLetterQueue' });
    assert.deepEqual(env.CDN_DISTRIBUTION_ID, { Ref: 'MediaDistribution' });
    assert.ok(resource(prod.template, 'MediaEventsLogGroup', 'AWS::Logs::LogGroup'));
  });

  test('the stream function’s role: read the stream, tag and delete media, put events on the bus, dead-letter; nothing else', async () => {
    for (const template of [prod.template, demo.template]) {
      const statements = roleStatements(template, 'MediaEventsLambdaFunction');
      assert.deepEqual(statements, [
        { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: [{ 'Fn::GetAtt': ['MediaEventsLogGroup', 'Arn'] }] },
        {
          Effect: 'Allow',
          Action: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams'],
          Resource: [{ 'Fn::GetAtt': ['UsersTable', 'StreamArn'] }],
        },
        { Effect: 'Allow', Action: ['s3:PutObjectTagging', 's3:DeleteObject'], Resource: [bucketObjects('avatar'), bucketObjects('cover')] },
        { Effect: 'Allow', Action: ['events:PutEvents'], Resource: [{ 'Fn::GetAtt': ['UserEventBus', 'Arn'] }] },
        { Effect: 'Allow', Action: ['sqs:SendMessage'], Resource: [{ 'Fn::GetAtt': ['MediaEventsDeadLetterQueue', 'Arn'] }] },
        {
          Effect: 'Allow',
          Action: ['cloudfront:CreateInvalidation'],
          Resource: [
            {
              'Fn::Join': [
                '',
                ['arn:', { Ref: 'AWS::Partition' }, ':cloudfront::', { Ref: 'AWS::AccountId' }, ':distribution/', { Ref: 'MediaDistribution' }],
              ],
            },
          ],
        },
      ]);
    }
    // Exactly what the stream function's code sends, besides its logs and the stream reads the
    // event source mapping makes with its role.
    const granted = roleStatements(prod.template, 'MediaEventsLambdaFunction')
      .flatMap((s) => list(s.Action))
      .filter((action) => !action.startsWith('logs:') && !action.startsWith('dynamodb:'));
    assert.deepEqual(granted.sort(), await actionsTheCodeNeeds(`${MEDIA_EVENTS_MODULE}.ts`));
  });

  test('events go to a bus of the stack’s own whose policy lets only the stream function put (contract, "Events")', () => {
    for (const [template, name] of [[prod.template, 'selfcommunity-users-prod'], [demo.template, 'community-events']] as const) {
      const buses = resourcesOfType(template, 'AWS::Events::EventBus');
      assert.deepEqual(buses.map(([id]) => id), ['UserEventBus'], 'one bus, the stack’s');
      const { Name, Policy } = buses[0]![1].Properties;
      assert.equal(Name, name);
      assert.notEqual(Name, 'default');
      const role = { 'Fn::GetAtt': ['MediaEventsRole', 'Arn'] };
      const statements = Policy.Statement as Json[];
      const puts = statements.filter((s) => list(s.Action).includes('events:PutEvents'));
      assert.deepEqual(
        puts.map((s) => ({ Effect: s.Effect, Principal: s.Principal, Resource: s.Resource, Condition: s.Condition })),
        [
          { Effect: 'Allow', Principal: { AWS: role }, Resource: busArn(name), Condition: undefined },
          { Effect: 'Deny', Principal: '*', Resource: busArn(name), Condition: { ArnNotEquals: { 'aws:PrincipalArn': role } } },
        ],
        'the stream function’s role may put, and every other principal is denied whatever its own IAM says',
      );
      // Reading is through rules on this bus, by this account only; nobody is granted more.
      for (const s of statements.filter((s) => !puts.includes(s))) {
        assert.equal(s.Effect, 'Allow');
        assert.deepEqual(s.Principal, { AWS: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, ':root']] } });
        for (const action of list(s.Action)) assert.match(action, /^events:(PutRule|PutTargets|DeleteRule|RemoveTargets|DescribeRule|ListTargetsByRule)$/);
        assert.ok(JSON.stringify(s.Resource).includes(`:rule/${name}/*`), JSON.stringify(s.Resource));
      }
      assert.deepEqual(template.Outputs.UserEventBusName.Value, { Ref: 'UserEventBus' });
    }
  });

  test('the dead-letter queue keeps messages 14 days, encrypted', () => {
    const queue = resource(prod.template, 'MediaEventsDeadLetterQueue', 'AWS::SQS::Queue').Properties;
    assert.equal(queue.MessageRetentionPeriod, 1_209_600);
    assert.equal(queue.SqsManagedSseEnabled, true);
  });

  test('no pending upload expires while a record holding it can still be applied or replayed', () => {
    // A record waits at most 24 h in the table's stream (DynamoDB's fixed retention), then as long
    // as the dead-letter queue keeps it; the image it holds must still exist when it is replayed.
    const STREAM_RETENTION_SECONDS = 24 * 3600;
    for (const template of [prod.template, demo.template, dev.template]) {
      const [rule] = resource(template, 'MediaBucket', 'AWS::S3::Bucket').Properties.LifecycleConfiguration.Rules;
      const queue = resource(template, 'MediaEventsDeadLetterQueue', 'AWS::SQS::Queue').Properties;
      assert.equal(typeof rule.ExpirationInDays, 'number');
      assert.equal(typeof queue.MessageRetentionPeriod, 'number');
      assert.ok(
        rule.ExpirationInDays * 86400 > STREAM_RETENTION_SECONDS + queue.MessageRetentionPeriod,
        `pending uploads expire after ${rule.ExpirationInDays} days; a record may wait 1 + ${queue.MessageRetentionPeriod / 86400} days`,
      );
    }
  });

  test('alarms on API 5xx, errors and throttles of each function, iterator age and dead letters, to one topic', () => {
    const api = resource(prod.template, 'ApiGatewayRestApi', 'AWS::ApiGateway::RestApi');
    const alarms = resourcesOfType(prod.template, 'AWS::CloudWatch::Alarm').map(([, r]) => r.Properties);
    const watched = alarms.map((a) => `${a.Namespace} ${a.MetricName} ${JSON.stringify(a.Dimensions.map((d: Json) => d.Value))}`).sort();
    assert.deepEqual(watched, [
      `AWS/ApiGateway 5XXError ${JSON.stringify([api.Properties.Name])}`,
      'AWS/Lambda Errors [{"Ref":"GetUserLambdaFunction"}]',
      'AWS/Lambda Errors [{"Ref":"MediaEventsLambdaFunction"}]',
      'AWS/Lambda Errors [{"Ref":"PatchUserLambdaFunction"}]',
      'AWS/Lambda Errors [{"Ref":"PostAuthenticationLambdaFunction"}]',
      'AWS/Lambda Errors [{"Ref":"PostConfirmationLambdaFunction"}]',
      'AWS/Lambda IteratorAge [{"Ref":"MediaEventsLambdaFunction"}]',
      'AWS/Lambda Throttles [{"Ref":"GetUserLambdaFunction"}]',
      'AWS/Lambda Throttles [{"Ref":"MediaEventsLambdaFunction"}]',
      'AWS/Lambda Throttles [{"Ref":"PatchUserLambdaFunction"}]',
      'AWS/Lambda Throttles [{"Ref":"PostAuthenticationLambdaFunction"}]',
      'AWS/Lambda Throttles [{"Ref":"PostConfirmationLambdaFunction"}]',
      'AWS/SQS ApproximateNumberOfMessagesVisible [{"Fn::GetAtt":["MediaEventsDeadLetterQueue","QueueName"]}]',
      'selfcommunity-user-patch/prod PostAuthenticationRefreshFailures []',
    ]);
    // The sign-in trigger's failures it answers anyway are its error lines, counted on its log group.
    const filter = resource(prod.template, 'PostAuthenticationRefreshFailedMetricFilter', 'AWS::Logs::MetricFilter').Properties;
    resource(prod.template, 'PostAuthenticationLogGroup', 'AWS::Logs::LogGroup');
    assert.deepEqual(filter.LogGroupName, { Ref: 'PostAuthenticationLogGroup' });
    assert.equal(filter.FilterPattern, '{ $.level = "error" }');
    assert.deepEqual(filter.MetricTransformations, [
      { MetricNamespace: 'selfcommunity-user-patch/prod', MetricName: 'PostAuthenticationRefreshFailures', MetricValue: '1' },
    ]);
    for (const alarm of alarms) {
      assert.deepEqual(alarm.AlarmActions, [{ Ref: 'AlarmTopic' }]);
      assert.equal(alarm.TreatMissingData, 'notBreaching', 'no data (no traffic) is not an alarm');
      assert.equal(alarm.ComparisonOperator, 'GreaterThanOrEqualToThreshold');
      assert.ok(alarm.Threshold > 0 && alarm.EvaluationPeriods >= 1 && alarm.Period >= 60);
      assert.ok(alarm.AlarmDescription, 'says what happened');
    }
    const iteratorAge = alarms.find((a) => a.MetricName === 'IteratorAge');
    assert.equal(iteratorAge.Statistic, 'Maximum');
    assert.ok(iteratorAge.Threshold < 24 * 3600 * 1000, 'fires long before records leave the stream');
    assert.equal(alarms.find((a) => a.Namespace === 'AWS/SQS').Threshold, 1, 'one dead letter is enough');
    resource(prod.template, 'AlarmTopic', 'AWS::SNS::Topic');
    assert.deepEqual(prod.template.Outputs.AlarmTopicArn, { Value: { Ref: 'AlarmTopic' } });
    assert.deepEqual(prod.template.Outputs.MediaEventsDeadLetterQueueUrl, { Value: { Ref: 'MediaEventsDeadLetterQueue' } });
  });

  test('an e-mail subscription to the alarms only when ALARM_EMAIL is given', () => {
    assert.equal(prod.template.Resources.AlarmEmailSubscription?.Condition, 'AlarmEmailGiven');
    assert.equal(condition(prod.template, 'AlarmEmailGiven'), false);
    assert.equal(condition(demo.template, 'AlarmEmailGiven'), true);
    const subscription = resource(demo.template, 'AlarmEmailSubscription', 'AWS::SNS::Subscription').Properties;
    assert.deepEqual(subscription, { TopicArn: { Ref: 'AlarmTopic' }, Protocol: 'email', Endpoint: 'ops@example.org' });
  });
});
