// The local EventBridge recorder, called by the real EventBridge client as the stream function
// calls it locally (EVENTBRIDGE_ENDPOINT), and with raw requests for what the client would not
// send. Expected answers follow EventBridge's PutEvents reference: 1-10 entries, at most 256 KB of
// entries, Source, DetailType and Detail required, Detail a JSON object, an existing bus.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { startEventRecorder, type EventRecorder, type RecordedEvent } from '../scripts/local-events.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

let recorder: EventRecorder;
let client: EventBridgeClient;

before(async () => {
  recorder = await startEventRecorder({ eventBuses: ['default', 'community'], region: 'eu-west-1', accountId: '000000000000' });
  client = new EventBridgeClient({
    region: 'eu-west-1',
    endpoint: recorder.url,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
});

after(async () => {
  client?.destroy();
  await recorder?.close();
});

async function served(): Promise<RecordedEvent[]> {
  const response = await fetch(`${recorder.url}/events`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /ndjson/);
  const text = await response.text();
  return text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as RecordedEvent);
}

const raw = (body: string, headers: Record<string, string> = {}) =>
  fetch(recorder.url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AWSEvents.PutEvents', ...headers },
    body,
  });

describe('local EventBridge recorder', () => {
  test('the SDK client puts events; they are kept and served as JSON lines', async () => {
    const before = (await served()).length;
    const detail = { id: 7, version: 3, changed: ['bio'], user: { id: 7, bio: 'héllo' } };
    const time = new Date('2026-01-02T03:04:05Z');
    const answer = await client.send(
      new PutEventsCommand({
        Entries: [
          { Source: 'selfcommunity.users', DetailType: 'user.updated', Detail: JSON.stringify(detail), Time: time, Resources: ['user/7'] },
          { Source: 'selfcommunity.users', DetailType: 'user.updated', Detail: '{}', EventBusName: 'community' },
          { Source: 'selfcommunity.users', DetailType: 'user.updated', Detail: '{}', EventBusName: 'arn:aws:events:eu-west-1:000000000000:event-bus/community' },
        ],
      }),
    );
    assert.equal(answer.FailedEntryCount, 0);
    assert.equal(answer.Entries?.length, 3);
    for (const entry of answer.Entries ?? []) assert.match(entry.EventId ?? '', /^[0-9a-f-]{36}$/);

    const events = (await served()).slice(before);
    assert.equal(events.length, 3);
    const [first, second, third] = events as [RecordedEvent, RecordedEvent, RecordedEvent];
    assert.equal(first.EventId, answer.Entries?.[0]?.EventId);
    assert.equal(first.EventBusName, 'default');
    assert.equal(first.Source, 'selfcommunity.users');
    assert.equal(first.DetailType, 'user.updated');
    assert.deepEqual(JSON.parse(first.Detail), detail);
    assert.equal(first.Time, time.toISOString());
    assert.deepEqual(first.Resources, ['user/7']);
    assert.equal(second.EventBusName, 'community');
    assert.equal(third.EventBusName, 'community');
    assert.ok(Math.abs(Date.parse(second.Time) - Date.now()) < 60_000, 'no Time: the time of the call');
  });

  test('entries EventBridge refuses fail one by one, the others are kept', async () => {
    const before = (await served()).length;
    const answer = await client.send(
      new PutEventsCommand({
        Entries: [
          { Source: 'selfcommunity.users', DetailType: 'user.updated', Detail: '{"ok":true}' },
          { Source: 'selfcommunity.users', DetailType: 'user.updated' },
          { Source: 'selfcommunity.users', DetailType: 'user.updated', Detail: '[1, 2]' },
          { Source: 'selfcommunity.users', DetailType: 'user.updated', Detail: '{not json' },
          { DetailType: 'user.updated', Detail: '{}' },
          { Source: 'selfcommunity.users', Detail: '{}' },
          { Source: 'selfcommunity.users', DetailType: 'user.updated', Detail: '{}', EventBusName: 'nobody-made-this' },
        ],
      }),
    );
    assert.equal(answer.FailedEntryCount, 6);
    const codes = answer.Entries?.map((entry) => entry.ErrorCode ?? 'ok');
    assert.deepEqual(codes, ['ok', 'InvalidArgument', 'MalformedDetail', 'MalformedDetail', 'InvalidArgument', 'InvalidArgument', 'NotFound']);
    for (const entry of answer.Entries?.slice(1) ?? []) {
      assert.equal(entry.EventId, undefined);
      assert.match(entry.ErrorMessage ?? '', /\S/);
    }
    assert.equal((await served()).length, before + 1);
  });

  test('no entries, more than 10, or over 256 KB of entries: the whole request is refused', async () => {
    const before = (await served()).length;
    const entry = { Source: 's', DetailType: 'd', Detail: '{}' };
    for (const Entries of [[], Array.from({ length: 11 }, () => entry)]) {
      await assert.rejects(client.send(new PutEventsCommand({ Entries })), (error: Error) => error.name === 'ValidationException');
    }
    // 14 (Time) + 1 + 1 + Detail: exactly 256 KB passes, one byte more does not.
    const detailOf = (bytes: number) => `{"a":"${'x'.repeat(bytes - 8)}"}`;
    const limit = 256 * 1024 - 16;
    const big = (bytes: number) => [{ Source: 's', DetailType: 'd', Time: new Date(), Detail: detailOf(bytes) }];
    assert.equal((await client.send(new PutEventsCommand({ Entries: big(limit) }))).FailedEntryCount, 0);
    await assert.rejects(client.send(new PutEventsCommand({ Entries: big(limit + 1) })), (error: Error) =>
      error.name === 'ValidationException' && /Total size/.test(error.message),
    );
    // Ten entries that are small alone but too large together.
    const tenth = Array.from({ length: 10 }, () => ({ Source: 's', DetailType: 'd', Detail: detailOf(27_000) }));
    await assert.rejects(client.send(new PutEventsCommand({ Entries: tenth })), (error: Error) => error.name === 'ValidationException');
    assert.equal((await served()).length, before + 1);
  });

  test('other operations, content types and bodies are refused as the JSON protocol does', async () => {
    const entries = JSON.stringify({ Entries: [{ Source: 's', DetailType: 'd', Detail: '{}' }] });
    const wrongTarget = await raw(entries, { 'x-amz-target': 'AWSEvents.PutRule' });
    assert.equal(wrongTarget.status, 400);
    assert.equal(((await wrongTarget.json()) as { __type: string }).__type, 'UnknownOperationException');
    const wrongType = await raw(entries, { 'content-type': 'application/json' });
    assert.equal(wrongType.status, 400);
    assert.equal(((await wrongType.json()) as { __type: string }).__type, 'SerializationException');
    const notJson = await raw('{"Entries": [');
    assert.equal(notJson.status, 400);
    assert.equal(((await notJson.json()) as { __type: string }).__type, 'SerializationException');
    const noEntries = await raw('{}');
    assert.equal(noEntries.status, 400);
    assert.equal(((await noEntries.json()) as { __type: string }).__type, 'ValidationException');
    const ok = await raw(entries);
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('content-type'), 'application/x-amz-json-1.1');
    const body = (await ok.json()) as { FailedEntryCount: number; Entries: { EventId: string }[] };
    assert.equal(body.FailedEntryCount, 0);
    assert.equal(body.Entries.length, 1);
  });
});
