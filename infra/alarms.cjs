// The alarms (README, "When an alarm fires"): a topic, its optional e-mail subscription, and one
// CloudWatch alarm per row of ALARMS. Every alarm has the same shape (a 5-minute period, one
// evaluation period, missing data is not breaching, the topic told on alarm and on OK), so the
// rows give only what differs and the blocks are generated here. serverless.yml includes this
// file with `${file(./infra/alarms.cjs)}`; `${…}` in the strings are resolved by osls afterwards.
'use strict';

/** A Lambda function's metric: the dimension names the function osls creates for `name`. */
const lambda = (name) => ({
  Namespace: 'AWS/Lambda',
  Dimensions: [{ Name: 'FunctionName', Value: { Ref: `${name}LambdaFunction` } }],
});

/** The metric the sign-in trigger's error lines feed (a metric filter on its log group). */
const REFRESH_FAILURES = { namespace: '${self:service}/${sls:stage}', name: 'PostAuthenticationRefreshFailures' };

/** Logical id → what differs. Statistic defaults to Sum and Threshold to 1. */
const ALARMS = {
  ApiServerErrorsAlarm: {
    description: 'The API answered 5xx (500, or 503 when AWS stays unreachable) five times or more in 5 minutes.',
    Namespace: 'AWS/ApiGateway',
    MetricName: '5XXError',
    Dimensions: [{ Name: 'ApiName', Value: '${sls:stage}-${self:service}' }],
    Threshold: 5,
  },
  PatchUserErrorsAlarm: {
    description: 'The API function crashed or timed out (Lambda Errors).',
    ...lambda('PatchUser'),
    MetricName: 'Errors',
  },
  PatchUserThrottlesAlarm: {
    description: 'Invocations of the API function were throttled (account or function concurrency).',
    ...lambda('PatchUser'),
    MetricName: 'Throttles',
  },
  GetUserErrorsAlarm: {
    description: 'The GET function crashed or timed out (Lambda Errors).',
    ...lambda('GetUser'),
    MetricName: 'Errors',
  },
  GetUserThrottlesAlarm: {
    description: 'Invocations of the GET function were throttled (account or function concurrency).',
    ...lambda('GetUser'),
    MetricName: 'Throttles',
  },
  PostConfirmationErrorsAlarm: {
    description:
      'The sign-up trigger failed (Lambda Errors): Cognito refused those confirmations, or a confirmed person may have no user (README, alarms).',
    ...lambda('PostConfirmation'),
    MetricName: 'Errors',
  },
  PostConfirmationThrottlesAlarm: {
    description: 'Invocations of the sign-up trigger were throttled; those sign-ups failed.',
    ...lambda('PostConfirmation'),
    MetricName: 'Throttles',
  },
  PostAuthenticationErrorsAlarm: {
    description:
      'The sign-in trigger crashed or timed out (Lambda Errors): Cognito refused those sign-ins (README, alarms).',
    ...lambda('PostAuthentication'),
    MetricName: 'Errors',
  },
  PostAuthenticationThrottlesAlarm: {
    description: 'Invocations of the sign-in trigger were throttled; those sign-ins failed.',
    ...lambda('PostAuthentication'),
    MetricName: 'Throttles',
  },
  // The trigger never fails a sign-in for what it can catch (its error metric stays quiet then):
  // it logs an error line, which the metric filter below counts.
  PostAuthenticationRefreshFailedAlarm: {
    description:
      "A sign-in's e-mail refresh failed and was logged (the sign-in went through): /me/ may show an e-mail older than the pool's until the next sign-in.",
    Namespace: REFRESH_FAILURES.namespace,
    MetricName: REFRESH_FAILURES.name,
    Dimensions: [],
  },
  MediaEventsErrorsAlarm: {
    description: 'The stream function crashed or timed out (Lambda Errors); its batches are being retried.',
    ...lambda('MediaEvents'),
    MetricName: 'Errors',
  },
  MediaEventsThrottlesAlarm: {
    description: 'Invocations of the stream function were throttled; the stream falls behind.',
    ...lambda('MediaEvents'),
    MetricName: 'Throttles',
  },
  MediaEventsIteratorAgeAlarm: {
    description:
      "The stream's oldest unprocessed record is over 10 minutes old (a batch keeps failing, or the function cannot keep up); records leave the stream after 24 hours.",
    ...lambda('MediaEvents'),
    MetricName: 'IteratorAge',
    Statistic: 'Maximum',
    Threshold: 600000,
  },
  MediaEventsDeadLetterAlarm: {
    description:
      'A stream batch failed every retry and is in the dead-letter queue; S3 may not follow the table until `npm run reconcile` runs.',
    Namespace: 'AWS/SQS',
    MetricName: 'ApproximateNumberOfMessagesVisible',
    Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': ['MediaEventsDeadLetterQueue', 'QueueName'] } }],
    Statistic: 'Maximum',
  },
};

const alarm = ({ description, Namespace, MetricName, Dimensions, Statistic = 'Sum', Threshold = 1 }) => ({
  Type: 'AWS::CloudWatch::Alarm',
  Properties: {
    AlarmDescription: description,
    Namespace,
    MetricName,
    Dimensions,
    Statistic,
    Period: 300,
    EvaluationPeriods: 1,
    Threshold,
    ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    TreatMissingData: 'notBreaching',
    AlarmActions: [{ Ref: 'AlarmTopic' }],
    OKActions: [{ Ref: 'AlarmTopic' }],
  },
});

module.exports = () => ({
  Conditions: {
    AlarmEmailGiven: { 'Fn::Not': [{ 'Fn::Equals': ['${param:alarmEmail}', ''] }] },
  },
  Resources: {
    AlarmTopic: {
      Type: 'AWS::SNS::Topic',
      Properties: { DisplayName: '${self:service}-${sls:stage} alarms' },
    },
    AlarmEmailSubscription: {
      Type: 'AWS::SNS::Subscription',
      Condition: 'AlarmEmailGiven',
      Properties: { TopicArn: { Ref: 'AlarmTopic' }, Protocol: 'email', Endpoint: '${param:alarmEmail}' },
    },
    ...Object.fromEntries(Object.entries(ALARMS).map(([id, row]) => [id, alarm(row)])),
    PostAuthenticationRefreshFailedMetricFilter: {
      Type: 'AWS::Logs::MetricFilter',
      Properties: {
        LogGroupName: { Ref: 'PostAuthenticationLogGroup' },
        // The JSON lines of src/platform/log.ts: `level` is lower-case.
        FilterPattern: '{ $.level = "error" }',
        MetricTransformations: [{ MetricNamespace: REFRESH_FAILURES.namespace, MetricName: REFRESH_FAILURES.name, MetricValue: '1' }],
      },
    },
  },
  Outputs: {
    AlarmTopicArn: { Value: { Ref: 'AlarmTopic' } },
  },
});
