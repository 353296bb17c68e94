// The whole local stack (`npm start` in this process) for the tests that call it over HTTP: free
// ports, a state directory of its own, the generated local key trusted (no JWKS file).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { checkInvariants } from '../../tools/cli/check-invariants.ts';
import {
  createDocumentClient,
  createS3Client,
  findFreePorts,
  PROJECT_DIR,
  readLocalStackConfig,
  startLocalStack,
  type LocalStack,
} from '../../tools/local/local-stack.ts';
import { catchUpStream, settledInvariants } from './stream.ts';

/** The stack, and its state directory: the caller stops the one and removes the other. */
export async function startTestStack(name: string, options: { page?: boolean } = {}): Promise<{ stack: LocalStack; stateDir: string }> {
  const stateDir = await mkdtemp(join(tmpdir(), `${name}-state-`));
  try {
    const [port, dynamodbPort, s3Port] = await findFreePorts(3);
    const config = readLocalStackConfig({
      ...process.env,
      PORT: String(port),
      DYNAMODB_PORT: String(dynamodbPort),
      S3_PORT: String(s3Port),
      LOCAL_STATE_DIR: stateDir,
      COGNITO_JWKS_FILE: '',
      PAGE_PORT: '0',
    });
    return { stack: await startLocalStack(config, { log: () => {}, page: options.page ?? false }), stateDir };
  } catch (error) {
    await rm(stateDir, { recursive: true, force: true });
    throw error;
  }
}

/**
 * Stops a stack of startTestStack and removes its state, after checking what every request left:
 * the stream caught up without a dead letter (S3 follows the table), and the invariants hold.
 */
export async function stopCheckedStack(stack: LocalStack | undefined, stateDir: string | undefined): Promise<void> {
  try {
    if (stack) {
      const { deadLetters, report } = await settledInvariants(() => catchUpStream({ ...stack.config, mediaBucket: stack.config.bucket }), () =>
        checkInvariants(createDocumentClient(stack.config), createS3Client(stack.config), {
          tableName: stack.config.tableName,
          mediaBucket: stack.config.bucket,
        }),
      );
      assert.deepEqual(deadLetters, []);
      assert.deepEqual(report.problems, []);
    }
  } finally {
    await stack?.stop();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  }
}

/** `npm run -s <script> -- ...args` against a stack of startTestStack, as a developer runs it: its standard output. */
export async function npmRunAgainst(stack: LocalStack, stateDir: string, script: string, ...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)('npm', ['run', '-s', script, '--', ...args], {
    cwd: PROJECT_DIR,
    env: {
      ...process.env,
      PORT: String(stack.config.port),
      DYNAMODB_PORT: String(stack.config.dynamodbPort),
      S3_PORT: String(stack.config.s3Port),
      LOCAL_STATE_DIR: stateDir,
      COGNITO_JWKS_FILE: '',
    },
  });
  return stdout;
}
