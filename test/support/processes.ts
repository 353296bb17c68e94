// What runs below a process, for the tests that start `npm start` and check that stopping it
// leaves nothing behind.
import { spawnSync } from 'node:child_process';

/** Every descendant of `pid` (children first, then theirs), with its command line. */
export function processTree(pid: number): { pid: number; args: string }[] {
  const result = spawnSync('ps', ['-o', 'pid=,args=', '--ppid', String(pid)], { encoding: 'utf8' });
  const children = result.stdout
    .split('\n')
    .map((line) => /^\s*(\d+)\s+(.*)$/.exec(line))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => ({ pid: Number(match[1]), args: match[2] ?? '' }));
  return children.flatMap((child) => [child, ...processTree(child.pid)]);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
