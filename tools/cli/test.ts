// npm test [-- FILES or node --test options]: runs the test files with one DynamoDB Local and one
// s3rver shared by all of them (TEST_DYNAMODB_ENDPOINT / TEST_S3_ENDPOINT), so each file does not
// pay for its own. Files that start whole stacks (test/stack/local-stack.test.ts) pick their own ports.

import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { LocalStackSupervisor, PROJECT_DIR, startEmulators } from '../local/local-stack.ts';

const args = process.argv.slice(2);
const filesGiven = args.some((arg) => !arg.startsWith('-') && arg.endsWith('.ts'));
const files = filesGiven
  ? []
  : (await readdir(join(PROJECT_DIR, 'test'), { recursive: true }))
      .filter((file) => file.endsWith('.test.ts'))
      .sort()
      .map((file) => join('test', file));

const supervisor = new LocalStackSupervisor();
const hostileReport = join(await mkdtemp(join(tmpdir(), 'selfcommunity-test-report-')), 'hostile.json');

let exitCode = 1;
try {
  const { dynamodbEndpoint, s3Endpoint } = await startEmulators(supervisor);

  const child = spawn(process.execPath, ['--import', 'tsx', '--test', ...args, ...files], {
    cwd: PROJECT_DIR,
    stdio: 'inherit',
    env: {
      ...process.env,
      TEST_DYNAMODB_ENDPOINT: dynamodbEndpoint,
      TEST_S3_ENDPOINT: s3Endpoint,
      HOSTILE_REPORT_FILE: hostileReport,
    },
  });
  // Stay alive until the runner is done, so the emulators (own process groups) are stopped; pass
  // the signal on for the case it was sent to this process alone.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
  exitCode = await new Promise<number>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))),
  );
} catch (error) {
  console.error('test: could not start the emulators:', error);
} finally {
  await supervisor.stop();
}
printHostileSummary();
rmSync(dirname(hostileReport), { recursive: true, force: true });
process.exit(exitCode);

/** test/integration/hostile.test.ts leaves a count of its cases; the run ends with it. */
function printHostileSummary() {
  if (!existsSync(hostileReport)) return;
  const report = JSON.parse(readFileSync(hostileReport, 'utf8')) as { cases: number; asContract: number; failed: string[] };
  console.log(`\nhostile cases: ${report.cases} ran, ${report.asContract} answered as the contract says`);
  for (const name of report.failed) console.log(`  not as the contract says: ${name}`);
}
