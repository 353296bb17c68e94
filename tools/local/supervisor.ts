// The supervisor of a local stack's children (process groups, ordered stops, deaths during start-up)
// and waitUntil, the polling every start-up wait uses.

import { spawn } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { LocalStackError } from './config.ts';

export interface ChildExit {
  name: string;
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The child's last lines of output. */
  output: string;
}

export interface ManagedChild {
  name: string;
  pid: number;
  process: ChildProcess;
  exited: Promise<ChildExit>;
  /** The last lines the child wrote (stdout and stderr). */
  output(): string;
}

export class ChildExitedError extends LocalStackError {
  override name = 'ChildExitedError';
  constructor(readonly exit: ChildExit) {
    super(
      `${exit.name} (pid ${exit.pid}) exited unexpectedly ` +
        `(${exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`})` +
        (exit.output ? `; its last output:\n${exit.output}` : ''),
    );
  }
}

export class StackStoppedError extends LocalStackError {
  override name = 'StackStoppedError';
}

const OUTPUT_LINES_KEPT = 60;

/**
 * Owns everything a local stack starts and stops it all. Children run in their own process
 * groups, so a signal to the starter's group reaches only the starter, which then stops them in
 * order; stopping signals the whole group of each child, which takes grandchildren (esbuild's
 * service process under osls) along.
 */
export class LocalStackSupervisor {
  readonly #children: ManagedChild[] = [];
  readonly #cleanups: { name: string; run: () => Promise<void> }[] = [];
  readonly #firstStops: { name: string; run: () => Promise<void> }[] = [];
  readonly #exited = new Set<ManagedChild>();
  #stopPromise: Promise<void> | undefined;
  #resolveDied!: (exit: ChildExit) => void;
  #resolveStopping!: () => void;
  /** Resolves with the first child that exits while the stack is not stopping. */
  readonly died: Promise<ChildExit>;
  readonly #stoppingPromise: Promise<void>;

  constructor(
    private readonly options: {
      /** Receives each line a child writes. */
      onOutput?: (name: string, line: string) => void;
      /** Grace period between SIGTERM and SIGKILL. */
      killAfterMs?: number;
    } = {},
  ) {
    this.died = new Promise((resolveDied) => (this.#resolveDied = resolveDied));
    this.#stoppingPromise = new Promise((resolveStopping) => (this.#resolveStopping = resolveStopping));
    process.once('exit', this.#killAllNow);
  }

  // Last resort when the process ends without stop() (an uncaught error): no orphaned java.
  readonly #killAllNow = (): void => {
    for (const child of this.#children) {
      if (!this.#exited.has(child)) killGroup(child.pid, 'SIGKILL');
    }
  };

  get stopping(): boolean {
    return this.#stopPromise !== undefined;
  }

  get children(): readonly ManagedChild[] {
    return this.#children;
  }

  /** Takes charge of a child spawned elsewhere; it must have been spawned `detached`. */
  adopt(name: string, child: ChildProcess): ManagedChild {
    if (child.pid === undefined) {
      // The reason arrives later as an 'error' event, which must not go unhandled.
      child.once('error', () => undefined);
      throw new LocalStackError(`${name} could not be started (is its program installed?)`);
    }
    const pid = child.pid;
    const lines: string[] = [];
    const collect = (stream: NodeJS.ReadableStream | null): void => {
      if (!stream) return;
      let pending = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        pending += chunk;
        const parts = pending.split(/\r?\n/);
        pending = parts.pop() ?? '';
        for (const line of parts) {
          lines.push(line);
          if (lines.length > OUTPUT_LINES_KEPT) lines.shift();
          this.options.onOutput?.(name, line);
        }
      });
    };
    collect(child.stdout);
    collect(child.stderr);

    const managed: ManagedChild = {
      name,
      pid,
      process: child,
      output: () => lines.join('\n'),
      exited: new Promise((resolveExit) => {
        child.once('exit', (code, signal) => {
          this.#exited.add(managed);
          const exit: ChildExit = { name, pid, code, signal, output: lines.join('\n') };
          if (!this.stopping) this.#resolveDied(exit);
          resolveExit(exit);
        });
      }),
    };
    child.once('error', (error) => {
      lines.push(String(error));
      // 'exit' does not follow a failed spawn.
      if (!this.#exited.has(managed)) child.emit('exit', null, null);
    });
    this.#children.push(managed);
    if (this.stopping) void this.#terminate(managed);
    return managed;
  }

  spawn(name: string, command: string, args: readonly string[], options: SpawnOptions = {}): ManagedChild {
    if (this.stopping) throw new StackStoppedError(`not starting ${name}: the stack is stopping`);
    return this.adopt(
      name,
      spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options, detached: true }),
    );
  }

  /**
   * Runs `run` when the stack stops, after the children are gone (last registered, first run);
   * right away if the stack is already stopping, so a part that finished starting late is not
   * left running.
   */
  onStop(name: string, run: () => Promise<void>): void {
    if (this.stopping) {
      void this.#stopPromise!.then(run).catch((error: unknown) => {
        console.error(`local stack: stopping ${name} failed:`, error);
      });
      return;
    }
    this.#cleanups.push({ name, run });
  }

  /**
   * Resolves like `promise`, but rejects as soon as a child dies (ChildExitedError) or the stack
   * starts stopping (StackStoppedError), so start-up waits never outlive the stack.
   */
  guard<T>(promise: Promise<T>): Promise<T> {
    return Promise.race([
      promise,
      this.died.then((exit) => {
        throw new ChildExitedError(exit);
      }),
      this.#stoppingPromise.then(() => {
        throw new StackStoppedError('the local stack is stopping');
      }),
    ]);
  }

  async #terminate(child: ManagedChild): Promise<void> {
    if (this.#exited.has(child)) return;
    killGroup(child.pid, 'SIGTERM');
    const killAfterMs = this.options.killAfterMs ?? 5000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      child.exited.then(() => false),
      new Promise<boolean>((resolveTimer) => (timer = setTimeout(() => resolveTimer(true), killAfterMs))),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      killGroup(child.pid, 'SIGKILL');
      await child.exited;
    }
  }

  /**
   * Runs `run` when the stack stops, before the children are stopped: for a part that uses them
   * and would otherwise take their going for failures (the stream poller).
   */
  onStopFirst(name: string, run: () => Promise<void>): void {
    if (this.stopping) {
      this.onStop(name, run);
      return;
    }
    this.#firstStops.push({ name, run });
  }

  /** Stops the first stops, children (SIGTERM to each group, SIGKILL after the grace period), then cleanups. */
  stop(): Promise<void> {
    this.#stopPromise ??= (async () => {
      this.#resolveStopping();
      await Promise.all(
        this.#firstStops.map((first) =>
          first.run().catch((error: unknown) => console.error(`local stack: stopping ${first.name} failed:`, error)),
        ),
      );
      await Promise.all(this.#children.map((child) => this.#terminate(child)));
      for (const cleanup of [...this.#cleanups].reverse()) {
        try {
          await cleanup.run();
        } catch (error) {
          console.error(`local stack: stopping ${cleanup.name} failed:`, error);
        }
      }
      process.removeListener('exit', this.#killAllNow);
    })();
    return this.#stopPromise;
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolveSleep) => setTimeout(resolveSleep, ms));

/** Calls `probe` until it returns something other than undefined or the time is up. */
export async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  { timeoutMs = 30_000, intervalMs = 100 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const result = await probe();
      if (result !== undefined) return result;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const cause = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new LocalStackError(`timed out after ${timeoutMs} ms waiting for ${what}${cause}`);
    }
    await sleep(intervalMs);
  }
}
