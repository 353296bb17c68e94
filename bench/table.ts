// The one table every part adds its rows to, printed on stdout and written to docs/performance.md.
import { writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { PROJECT_DIR } from '../tools/local/local-stack.ts';
import { args, KB, log, MB, only, QUICK } from './options.ts';

export interface Row {
  figure: string;
  value: string;
  floor?: string;
  ratio?: string;
  target?: string;
  /** undefined: informational, no target. */
  ok?: boolean;
}
export const rows: Row[] = [];
const sections: { title: string; rows: Row[] }[] = [];
export const section = (title: string) => sections.push({ title, rows: [] });
export const row = (r: Row) => {
  rows.push(r);
  sections.at(-1)!.rows.push(r);
};

export const kb = (bytes: number) => `${(bytes / KB).toFixed(1)} KB`;
export const mb = (bytes: number) => `${(bytes / MB).toFixed(2)} MB`;
export const ms = (value: number) => `${value < 10 ? value.toFixed(2) : value.toFixed(1)} ms`;
export const times = (value: number) => `${value.toFixed(2)}×`;
export const median = (values: number[]) => percentile(values, 0.5);
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!;
}

/** The table as Markdown lines: the same text on stdout and in docs/performance.md. */
export function tableLines(): string[] {
  const header: Row = { figure: 'figure', value: 'value', floor: 'floor', ratio: 'ratio', target: 'target' };
  const cells = (r: Row, okText: string) =>
    [r.figure, r.value, r.floor ?? '', r.ratio ?? '', r.target ?? '', okText].map((cell) => cell.replaceAll('|', '\\|'));
  const okText = (r: Row) => (r.ok === undefined ? '' : r.ok ? 'ok' : 'MISSED');
  const all = [cells(header, 'ok'), ...rows.map((r) => cells(r, okText(r)))];
  const widths = all[0]!.map((_, c) => Math.max(...all.map((line) => line[c]!.length)));
  const line = (values: string[]) =>
    `| ${values.map((v, c) => (c === 0 || c === 4 ? v.padEnd(widths[c]!) : v.padStart(widths[c]!))).join(' | ')} |`;
  const rule = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  const out = [line(cells(header, 'ok')), rule];
  for (const s of sections) {
    out.push(line([`**${s.title}**`, '', '', '', '', '']));
    for (const r of s.rows) out.push(line(cells(r, okText(r))));
  }
  return out;
}

export function summary(): string {
  const missed = rows.filter((r) => r.ok === false);
  return missed.length
    ? `MISSED ${missed.length} target(s): ${missed.map((r) => r.figure).join('; ')}`
    : 'Every target met.';
}

const PERFORMANCE_PAGE = join(PROJECT_DIR, 'docs', 'performance.md');

/** docs/performance.md: this run's table with when and where it ran; the prose is docs/benchmarks.md. */
export async function writePerformancePage(when: string, machine: string, seconds: string): Promise<void> {
  const partial = [
    only && `parts ${only.join(', ')} only`,
    QUICK && '--quick',
    args.has('--no-package') && 'without osls package',
  ].filter(Boolean);
  const page = [
    '<!-- Written by `npm run bench` (bench/run.ts) after a whole run: change the bench, not this page. -->',
    '',
    '# Performance',
    '',
    `The table of one run of \`npm run bench\`: ${when}, ${machine}, ${seconds} s` +
      `${partial.length ? ` (${partial.join(', ')})` : ''}. What each figure measures, its floor, and`,
    'which figures carry over to Lambda: [How the bench measures, and how to read it](benchmarks.md).',
    '',
    ...tableLines(),
    '',
    summary(),
    '',
  ];
  await writeFile(PERFORMANCE_PAGE, page.join('\n'));
  log(`wrote ${relative(PROJECT_DIR, PERFORMANCE_PAGE)}`);
}
