// The Lambda entry every function shares: made once per container, a failed configuration logged
// and answered as the function's kind needs (API: the 500 envelope; stream and trigger: thrown).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lambdaEntry } from '../../src/platform/entry.ts';
import { invocationLogger } from '../../src/platform/log.ts';
import { apiEntry } from '../../src/http/frame.ts';
import { logLines } from '../support/log-lines.ts';

describe('lambdaEntry', () => {
  it('logs cold_start on the container\'s first invocation only (this file\'s first test: one container)', async () => {
    const entry = lambdaEntry(() => async (_event: unknown, context?: { awsRequestId?: string }) => {
      invocationLogger(context).info('handled');
    });
    const lines = await logLines(async () => {
      await entry({}, { awsRequestId: 'a' });
      await entry({}, { awsRequestId: 'b' });
    });
    assert.deepEqual(lines.map((line) => line.cold_start), [true, false]);
  });

  it('makes the handler once and reuses it', async () => {
    let made = 0;
    const entry = lambdaEntry(() => {
      made += 1;
      return async (event: number) => event * 2;
    });
    assert.equal(await entry(1), 2);
    assert.equal(await entry(2), 4);
    assert.equal(made, 1);
  });

  it('throws a configuration failure for a stream or trigger, logs why, and tries again next time', async () => {
    let attempts = 0;
    const entry = lambdaEntry(() => {
      attempts += 1;
      if (attempts === 1) throw new Error('TABLE_NAME is not set');
      return async () => 'ok';
    });
    let thrown: unknown;
    const lines = await logLines(() => entry({}, { awsRequestId: 'r-1', functionName: 'mediaEvents' }).catch((error) => (thrown = error)));
    assert.match(String((thrown as Error).message), /TABLE_NAME/);
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.level, 'error');
    assert.equal(lines[0]!.message, 'configuration failed');
    assert.equal(lines[0]!.function_request_id, 'r-1');
    assert.equal(lines[0]!.function_name, 'mediaEvents');
    assert.equal(await entry({}), 'ok');
  });

  it('answers a configuration failure of an API function with the 500 envelope', async () => {
    const entry = apiEntry(() => {
      throw new Error('USER_POOL_ID is not set');
    });
    let response: Awaited<ReturnType<typeof entry>> | undefined;
    const lines = await logLines(async () => (response = await entry({ httpMethod: 'GET', path: '/api/v2/user/me/' })));
    assert.equal(response!.statusCode, 500);
    assert.deepEqual(JSON.parse(response!.body), { errors: [{ code: 'server_error', message: 'A server error occurred.' }] });
    assert.ok(!response!.body.includes('USER_POOL_ID'), 'no internals in the body');
    assert.equal(lines[0]!.message, 'configuration failed');
    assert.match(String(lines[0]!.error), /USER_POOL_ID/);
  });

});
