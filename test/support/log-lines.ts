// The JSON log lines code writes to stdout while it runs, for tests of what is logged.

/** Runs `action` and returns the JSON lines it wrote to stdout. */
export async function logLines(action: () => Promise<unknown>): Promise<Record<string, unknown>[]> {
  const written: string[] = [];
  const write = process.stdout.write;
  // Node 24's test runner reports to its parent through stdout in binary frames (Buffers): pass
  // those on, keep the log's text lines.
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    if (typeof chunk !== 'string') return (write as (...args: unknown[]) => boolean).call(process.stdout, chunk, ...rest);
    written.push(chunk);
    return true;
  }) as typeof process.stdout.write;
  try {
    await action();
  } finally {
    process.stdout.write = write;
  }
  return written.join('').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
}
