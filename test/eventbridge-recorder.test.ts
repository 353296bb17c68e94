// The PutEvents recorder refuses what EventBridge refuses (the service's documented limits), so a
// test that passes against it does not pass by the recorder's leniency.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { startEventBridgeRecorder, type EventBridgeRecorder } from '../scripts/eventbridge-recorder.ts';

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

describe('PutEvents recorder', () => {
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
      'InvalidArgument', 'InvalidArgument', 'InvalidArgument', 'MalformedDetail', 'MalformedDetail', 'ResourceNotFoundException', 'ok',
    ]);
    assert.equal(recorder.events().length, 1);
  });
});
