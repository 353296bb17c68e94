// The whole local stack (`npm start` in this process) for the tests that call it over HTTP: free
// ports, a state directory of its own, the generated local key trusted (no JWKS file).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findFreePorts, readLocalStackConfig, startLocalStack, type LocalStack } from '../../tools/local/local-stack.ts';

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
