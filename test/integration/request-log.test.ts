// The handler's log: one JSON line per request with the keys Lambda tooling searches by (request
// id, function, trace), user id, outcome and duration, and nothing of the caller's token, body or profile.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createHandler, type Handler } from '../../src/functions/patch-user/handler.ts';
import { createAwsClients } from '../../src/store/aws-clients.ts';
import { createLogger } from '../../src/platform/log.ts';
import { fixtureEvent, multipartBody, startTestBackend, type TestBackend } from '../support/backend.ts';
import { pngImage } from '../../tools/support/images.ts';
import { accessToken, makeKey } from '../../tools/support/tokens.ts';
import { logLines } from '../support/log-lines.ts';

const key = makeKey();
let backend: TestBackend;
let handler: Handler;
before(async () => {
  backend = await startTestBackend({ keys: [key] });
  handler = createHandler(backend.config);
});
after(() => backend.stop());

describe('request log', () => {
  it('logs one line with request id, user id, outcome and duration, and no personal data', async () => {
    const user = { id: 31, sub: 'sub-log-31', username: 'logged' };
    await backend.seed([user]);
    const token = accessToken(key, { sub: user.sub }, backend.pool);
    const secretBio = 'My secret bio text';
    const event = fixtureEvent('multipart', {
      id: user.id,
      token,
      ...multipartBody({ bio: secretBio, avatar: { bytes: pngImage(), filename: 'me.png', type: 'image/png' } }),
    });
    process.env._X_AMZN_TRACE_ID = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';
    const lines = await logLines(() => handler(event, { awsRequestId: 'req-123', functionName: 'patchUser' })).finally(
      () => delete process.env._X_AMZN_TRACE_ID,
    );
    assert.equal(lines.length, 1);
    const [line] = lines;
    assert.equal(line!.level, 'info');
    assert.equal(line!.function_request_id, 'req-123');
    assert.equal(line!.function_name, 'patchUser');
    assert.equal(line!.service, 'selfcommunity-user-patch');
    assert.equal(line!.xray_trace_id, '1-5759e988-bd862e3fe1be46a994272793');
    assert.equal(typeof line!.cold_start, 'boolean');
    assert.equal(line!.message, 'request handled');
    assert.equal(line!.userId, 31);
    assert.equal(line!.status, 200);
    assert.equal(line!.outcome, 'updated');
    assert.equal(typeof line!.durationMs, 'number');
    const text = JSON.stringify(lines);
    for (const secret of [token, token.split('.')[1]!, secretBio, user.sub, user.username, event.body!.slice(0, 40)]) {
      assert.ok(!text.includes(secret), `the log holds ${secret.slice(0, 20)}…`);
    }
  });

  it('logs why a token was refused, never the token', async () => {
    const token = accessToken(key, { sub: 'x', expiresInSeconds: -60 }, backend.pool);
    const lines = await logLines(() => handler(fixtureEvent('json', { id: 5, token })));
    assert.equal(lines[0]!.status, 401);
    assert.equal(lines[0]!.outcome, 'authentication_failed');
    assert.match(String(lines[0]!.reason), /Expired/);
    assert.ok(!JSON.stringify(lines).includes(token.split('.')[2]!));
  });

  it('logs which AWS failure made a 503', async () => {
    const user = { id: 32, sub: 'sub-log-32', username: 'logged32' };
    await backend.seed([user]);
    const down = createHandler(backend.config, createAwsClients({ ...backend.config, dynamodbEndpoint: 'http://localhost:9', awsMaxAttempts: 1 }));
    const lines = await logLines(() => down(fixtureEvent('json', { id: user.id, token: accessToken(key, { sub: user.sub }, backend.pool) })));
    assert.equal(lines[0]!.level, 'error');
    assert.equal(lines[0]!.status, 503);
    assert.equal(lines[0]!.outcome, 'service_unavailable');
    assert.ok(lines[0]!.error || lines[0]!.code, JSON.stringify(lines[0]));
    assert.equal(lines[0]!.detail, undefined, 'an AWS outage is not a bug: no details');
  });

  it('writes JSON lines with the level and timestamp keys Lambda reads', () => {
    const written: string[] = [];
    createLogger({ function_request_id: 'r' }, (line) => written.push(line)).warn('w', { a: 1 });
    const entry = JSON.parse(written[0]!) as Record<string, unknown>;
    assert.equal(entry.level, 'warn');
    assert.equal(entry.function_request_id, 'r');
    assert.match(String(entry.timestamp), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });
});
