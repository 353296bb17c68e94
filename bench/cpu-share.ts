// Lambda's CPU, as a share of this machine's: Lambda gives a function CPU in proportion to its
// memory, "at 1,769 MB, the equivalent of one vCPU (one vCPU-second of credits per second)"
// (AWS Lambda Developer Guide, "Configure Lambda function memory"), so 1,024 MB is 0.58 of one.
// A child run in a cgroup whose CFS quota is that share of one CPU gets what such a function gets,
// on this machine's cores (not Graviton's: the per-core speed is the part this cannot stand in for).
//
// Needs a writable cgroup file system (root, as on this project's machines): the v1 `cpu`
// controller or v2 `cpu.max`. Where there is none, shares() says why and the bench leaves the rows out.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** CPU seconds a second per MB of function memory (one vCPU at 1,769 MB). */
export const VCPU_PER_MB = 1 / 1769;
const PERIOD_US = 100_000;

export interface CpuShare {
  /** Function memory in MB this share stands for. */
  memoryMb: number;
  /** Of one CPU. */
  share: number;
  /** The command, run so that it (and every process it starts) is held to the share. */
  wrap(command: string, args: readonly string[]): [string, string[]];
  dispose(): void;
}

/** One cgroup per function memory size, or the reason there can be none here. */
export function cpuShares(memoryMbs: readonly number[]): CpuShare[] | { unavailable: string } {
  const v1 = '/sys/fs/cgroup/cpu';
  const v2 = '/sys/fs/cgroup';
  const made: CpuShare[] = [];
  try {
    for (const memoryMb of memoryMbs) {
      const share = Math.min(1, memoryMb * VCPU_PER_MB);
      const quota = Math.round(share * PERIOD_US);
      let dir: string;
      let root: string;
      if (existsSync(join(v1, 'cpu.cfs_quota_us'))) {
        root = v1;
        dir = join(v1, `bench-lambda-${memoryMb}mb-${process.pid}`);
        mkdirSync(dir);
        writeFileSync(join(dir, 'cpu.cfs_period_us'), String(PERIOD_US));
        writeFileSync(join(dir, 'cpu.cfs_quota_us'), String(quota));
      } else if (existsSync(join(v2, 'cgroup.controllers')) && readFileSync(join(v2, 'cgroup.controllers'), 'utf8').includes('cpu')) {
        root = v2;
        dir = join(v2, `bench-lambda-${memoryMb}mb-${process.pid}`);
        mkdirSync(dir);
        writeFileSync(join(dir, 'cpu.max'), `${quota} ${PERIOD_US}`);
      } else {
        return { unavailable: 'no cgroup cpu controller here' };
      }
      const procs = join(dir, 'cgroup.procs');
      made.push({
        memoryMb,
        share,
        // The shell moves itself into the cgroup, then becomes the command: nothing runs outside it.
        wrap: (command, args) => ['sh', ['-c', `echo $$ > '${procs}' && exec "$0" "$@"`, command, ...args]],
        dispose: () => release(dir, root),
      });
    }
    return made;
  } catch (error) {
    for (const share of made) share.dispose();
    return { unavailable: `cannot make a cgroup here (${(error as Error).message.split('\n')[0]})` };
  }
}

/**
 * The cgroup removed. A process of a run may still be ending (the image worker exits when its
 * parent is gone): whatever is left is moved back to the root group first.
 */
function release(dir: string, root: string): void {
  for (const pid of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
    try {
      writeFileSync(join(root, 'cgroup.procs'), pid);
    } catch {
      // ended meanwhile
    }
  }
  rmdirSync(dir);
}
