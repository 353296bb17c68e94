// `osls offline` as a child of the supervisor, and the stream trigger's settings it is deployed with.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { LocalStackError, offlineEnvironment, PROJECT_DIR } from './config.ts';
import type { LocalStackConfig } from './config.ts';
import type { LocalStackSupervisor, ManagedChild } from './supervisor.ts';

const OSLS_BIN = join(PROJECT_DIR, 'node_modules', 'osls', 'bin', 'serverless.js');

/** Spawns `osls offline --stage local` for `config` (not waiting for it). */
export function startOffline(
  supervisor: LocalStackSupervisor,
  config: LocalStackConfig,
  {
    lambdaPort,
    esbuildWorkFolder,
    eventbridgeEndpoint,
  }: { lambdaPort: number; esbuildWorkFolder?: string; eventbridgeEndpoint?: string },
): ManagedChild {
  return supervisor.spawn(
    'offline',
    process.execPath,
    [
      OSLS_BIN,
      'offline',
      '--stage',
      'local',
      '--httpPort',
      String(config.port),
      '--lambdaPort',
      String(lambdaPort),
    ],
    {
      cwd: PROJECT_DIR,
      env: { ...process.env, ...offlineEnvironment(config, esbuildWorkFolder, eventbridgeEndpoint) },
    },
  );
}

// osls reports a failed command with a line "Error:" but may keep running (its lambda server
// stays up), so the output is the only early sign of failure.
export function failureInOutput(child: ManagedChild): string | undefined {
  const output = child.output();
  return /^Error:\s*$/m.test(output) || /EADDRINUSE/.test(output) ? output : undefined;
}

export interface StreamTriggerSettings {
  batchSize: number;
  maximumRetryAttempts: number;
  bisectBatchOnFunctionError: boolean;
}

/**
 * The stream event of functions.mediaEvents in serverless.yml: the local poller retries and
 * splits batches as the deployed event source mapping is configured to.
 */
export async function readStreamTriggerSettings(): Promise<StreamTriggerSettings> {
  const service = parseYaml(await readFile(join(PROJECT_DIR, 'serverless.yml'), 'utf8')) as {
    functions?: Record<string, { events?: { stream?: Record<string, unknown> }[] }>;
  };
  const stream = service.functions?.mediaEvents?.events?.find((event) => event.stream)?.stream;
  const { batchSize, maximumRetryAttempts, bisectBatchOnFunctionError } = stream ?? {};
  if (typeof batchSize !== 'number' || typeof maximumRetryAttempts !== 'number' || typeof bisectBatchOnFunctionError !== 'boolean') {
    throw new LocalStackError('serverless.yml: functions.mediaEvents needs a stream event with batchSize, maximumRetryAttempts and bisectBatchOnFunctionError');
  }
  return { batchSize, maximumRetryAttempts, bisectBatchOnFunctionError };
}
