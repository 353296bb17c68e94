// The PutEvents recorder (tests' and the local stack's EventBridge), called by the real EventBridge
// client as the stream function calls it (EVENTBRIDGE_ENDPOINT), and with raw requests for what the
// client would not send. It refuses what EventBridge refuses (the service's documented limits: 1-10
// entries, at most 256 KB of entries, Source, DetailType and Detail required, Detail a JSON object,
// an existing bus), so a test that passes against it does not pass by the recorder's leniency.
import assert from 'node:assert/strict';
import { after, before, describe, it, test } from 'node:test';
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { startEventBridgeRecorder, type EventBridgeRecorder, type StoredEvent } from '../../tools/local/eventbridge-recorder.ts';

describe('PutEvents recorder', () => {
  let recorder: EventBridgeRecorder;
  let client: EventBridgeClient;
  before(async () => {
    recorder = await startEventBridgeRecorder({ busNames: ['users'] });
    client = new EventBridgeClient({
      region: 'eu-west-1',
      endpoint: recorder.endpoint,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 1,
    });
  });
  after(async () => {
    client.destroy();
    await recorder.stop();
  });

  const entry = (fields: Partial<PutEventsRequestEntry> = {}): PutEventsRequestEntry => ({
    EventBusName: 'users',
    Source: 'selfcommunity.users',
    DetailType: 'user.updated',
    Detail: JSON.stringify({ id: 1, version: 2 }),
    ...fields,
  });

  it('keeps accepted events with their bus, source, detail type and parsed detail', async () => {
    recorder.clear();
    const out = await client.send(new PutEventsCommand({ Entries: [entry(), entry({ EventBusName: 'arn:aws:events:eu-west-1:123456789012:event-bus/users' })] }));
    assert.equal(out.FailedEntryCount, 0);
    assert.equal(out.Entries?.length, 2);
    const events = recorder.events();
    assert.deepEqual(events.map((e) => [e.source, e.detailType, e.detail]), [
      ['selfcommunity.users', 'user.updated', { id: 1, version: 2 }],
      ['selfcommunity.users', 'user.updated', { id: 1, version: 2 }],
    ]);
  });

  it('refuses a request of no entries or more than 10, keeping nothing', async () => {
    recorder.clear();
    for (const count of [0, 11]) {
      await assert.rejects(
        client.send(new PutEventsCommand({ Entries: Array.from({ length: count }, () => entry()) })),
        (error: Error) => error.name === 'ValidationException',
      );
    }
    assert.deepEqual(recorder.events(), []);
  });

  it('refuses a request whose entries total more than 256 KB', async () => {
    const half = JSON.stringify({ pad: 'x'.repeat(130 * 1024) });
    await assert.rejects(
      client.send(new PutEventsCommand({ Entries: [entry({ Detail: half }), entry({ Detail: half })] })),
      (error: Error) => error.name === 'ValidationException',
    );
    const out = await client.send(new PutEventsCommand({ Entries: [entry({ Detail: half })] }));
    assert.equal(out.FailedEntryCount, 0);
  });

  it('fails an entry without Source, DetailType or Detail, with a Detail that is not a JSON object, or for a bus that does not exist; the others go through', async () => {
    recorder.clear();
    const out = await client.send(
      new PutEventsCommand({
        Entries: [
          entry({ Source: undefined }),
          entry({ DetailType: undefined }),
          entry({ Detail: undefined }),
          entry({ Detail: '[1,2]' }),
          entry({ Detail: '{not json' }),
          entry({ EventBusName: 'elsewhere' }),
          entry(),
        ],
      }),
    );
    assert.equal(out.FailedEntryCount, 6);
    assert.deepEqual(out.Entries?.map((e) => e.ErrorCode ?? 'ok'), [
      'InvalidArgument', 'InvalidArgument', 'InvalidArgument', 'MalformedDetail', 'MalformedDetail', 'NotFound', 'ok',
    ]);
    assert.equal(recorder.events().length, 1);
  });
});

describe('PutEvents recorder: who may put (the stack’s bus policy and the stream function’s IAM)', () => {
  test('with putAllowed, an entry for another bus, the account’s default included, refuses the whole call, as AWS does', async () => {
    const recorder = await startEventBridgeRecorder({ busNames: ['users'], putAllowed: ['users'], region: 'eu-west-1', accountId: '000000000000' });
    const client = new EventBridgeClient({
      region: 'eu-west-1',
      endpoint: recorder.endpoint,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 1,
    });
    try {
      const entry = (bus?: string): PutEventsRequestEntry => ({ EventBusName: bus, Source: 'selfcommunity.users', DetailType: 'user.updated', Detail: '{"id":1}' });
      for (const entries of [[entry('default')], [entry(undefined)], [entry('users'), entry('default')]]) {
        await assert.rejects(client.send(new PutEventsCommand({ Entries: entries })), (error: Error) => error.name === 'AccessDeniedException');
      }
      assert.equal(recorder.events().length, 0);
      const out = await client.send(new PutEventsCommand({ Entries: [entry('users'), entry('arn:aws:events:eu-west-1:000000000000:event-bus/users')] }));
      assert.equal(out.FailedEntryCount, 0);
      assert.deepEqual(recorder.events().map((event) => event.eventBusName), ['users', 'users']);
    } finally {
      client.destroy();
      await recorder.stop();
    }
  });
});

describe('PutEvents recorder: raw requests, Time, Resources, bus ARNs of one region and account, GET /events', () => {
  let recorder: EventBridgeRecorder;
  let client: EventBridgeClient;

  before(async () => {
    recorder = await startEventBridgeRecorder({ busNames: ['community'], region: 'eu-west-1', accountId: '000000000000' });
    client = new EventBridgeClient({
      region: 'eu-west-1',
      endpoint: recorder.endpoint,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 1,
    });
  });

  after(async () => {
    client?.destroy();
    await recorder?.stop();
  });

  async function served(): Promise<StoredEvent[]> {
    const response = await fetch(`${recorder.endpoint}/events`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /ndjson/);
    const text = await response.text();
    return text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as StoredEvent);
  }

  const raw = (body: string, headers: Record<string, string> = {}) =>
    fetch(recorder.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AWSEvents.PutEvents', ...headers },
      body,
    });

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
    const [first, second, third] = events as [StoredEvent, StoredEvent, StoredEvent];
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
