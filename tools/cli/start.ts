// npm start: runs the local stack in the foreground until SIGINT, SIGTERM or SIGHUP, or until the
// process that started it ends, then stops everything it started and exits 0; exits 1 when it
// cannot start or a part of it dies.

import {
  ChildExitedError,
  LocalStackError,
  LocalStackSupervisor,
  formatReadyBanner,
  readLocalStackConfig,
  startLocalStack,
} from '../local/local-stack.ts';

const supervisor = new LocalStackSupervisor({
  // Child output goes to stderr so that stdout holds only the banner that scripts parse.
  onOutput: (name, line) => {
    if (name === 'offline') process.stderr.write(`[offline] ${line}\n`);
  },
});

let exiting = false;
async function shutdown(code: number, reason: string): Promise<void> {
  // npm forwards the terminal's Ctrl-C, so the same signal often arrives twice.
  if (exiting) return;
  exiting = true;
  console.error(`local stack: ${reason}, stopping`);
  await supervisor.stop();
  process.exit(code);
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => void shutdown(0, `got ${signal}`));
}

// A closed terminal or pipe must not crash the shutdown that follows it.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);

// npm forwards only SIGINT and SIGTERM to its script, and dies of the others (SIGHUP: the IDE or
// terminal went away; SIGKILL): this process is then handed to init, and nothing else would tell
// it. The children live in process groups of their own, so they would outlive it.
const parentPid = process.ppid;
setInterval(() => {
  if (process.ppid !== parentPid) void shutdown(0, `its parent process (pid ${parentPid}) ended`);
}, 200).unref();

try {
  const config = readLocalStackConfig();
  const stack = await startLocalStack(config, {
    supervisor,
    log: (message) => console.error(`local stack: ${message}`),
    page: true,
  });
  console.log(formatReadyBanner(stack));
  // The page's bundle is made now, so the first visit does not wait for it.
  const bundling = Date.now();
  stack.page?.build().then(
    () => console.error(`local stack: page bundled in ${((Date.now() - bundling) / 1000).toFixed(1)} s`),
    (error: unknown) => console.error(`local stack: the page could not be bundled: ${(error as Error).message}`),
  );
  const exit = await stack.died;
  console.error(`local stack: ${new ChildExitedError(exit).message}`);
  await shutdown(1, `${exit.name} died`);
} catch (error) {
  // A signal during start-up aborts the start; shutdown() is already on its way.
  if (!exiting) {
    console.error(
      error instanceof LocalStackError ? `local stack: ${error.message}` : error,
    );
    await shutdown(1, 'start-up failed');
  }
}
