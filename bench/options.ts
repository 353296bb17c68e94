// The bench's command line, sample counts and progress log, shared by its parts (bench/run.ts).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

export const execFileAsync = promisify(execFile);
const PARTS = ['cold', 'package', 'warm', 'memory', 'jwks', 'images', 'stream'];
const USAGE = `npm run bench [-- options]

  --quick              fewer samples, for trying the bench itself
  --no-package         skip part package (part images still packages the zip for its arm64 column)
  --only=PART,...      run only these parts (the bundles are always built): ${PARTS.join(',')}
  --docs               write docs/performance.md even for a partial run (--only, --quick, --no-package)
  --no-docs            do not write docs/performance.md after a whole run
  --help               this text

The table goes to stdout, progress to stderr. A whole run writes the table to docs/performance.md.`;
export const args = new Set(process.argv.slice(2));
if (args.has('--help') || args.has('-h')) {
  console.log(USAGE);
  process.exit(0);
}
export const QUICK = args.has('--quick');
export const only = [...args].find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',');
const unknownPart = only?.find((part) => !PARTS.includes(part));
if (unknownPart !== undefined) {
  console.error(`unknown part ${unknownPart}\n\n${USAGE}`);
  process.exit(2);
}
export const runs = (part: string) => !only || only.includes(part);
const WHOLE = !only && !QUICK && !args.has('--no-package');
export const WRITE_DOCS = args.has('--docs') || (WHOLE && !args.has('--no-docs'));
export const COLD_SAMPLES = QUICK ? 5 : 21;
export const WARM_SAMPLES = QUICK ? 40 : 200;
export const WARM_UP = QUICK ? 5 : 25;
export const KB = 1000;
export const MB = 1000 * 1000;

export const CHILD_ENV = { ...process.env };
export const started = performance.now();
export const log = (message: string) =>
  process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s] ${message}\n`);
