// The command-line frame of the small local scripts (`npm run -s token`, `npm run -s signup`):
// messages go to stderr prefixed with the command's name, so stdout holds only the answer; a
// wrong argument exits 2 with the usage, `--help` prints it and exits 0.
import { parseArgs } from 'node:util';

let command = 'script';

/** Ends the command with `message` on stderr. */
export function fail(message: string, code = 1): never {
  console.error(`${command}: ${message}`);
  process.exit(code);
}

/**
 * The command's string options, and those it takes more than once (`lists`, e.g. `--group a
 * --group b`); `--help` and unknown options are handled here.
 */
export function commandLine<K extends string, L extends string = never>(
  name: string,
  usage: string,
  options: Record<K, { type: 'string' }>,
  lists: readonly L[] = [],
): Partial<Record<K, string>> & Partial<Record<L, string[]>> {
  command = name;
  type Values = Partial<Record<K, string>> & Partial<Record<L, string[]>> & { help?: boolean };
  let values: Values;
  const repeated = Object.fromEntries(lists.map((list) => [list, { type: 'string' as const, multiple: true as const }]));
  try {
    ({ values } = parseArgs({
      options: { ...options, ...repeated, help: { type: 'boolean' as const, short: 'h' } },
      strict: true,
    }) as unknown as { values: Values });
  } catch (error) {
    return fail(`${(error as Error).message}\n${usage}`, 2);
  }
  if (values.help) {
    console.error(usage);
    process.exit(0);
  }
  return values;
}
