// What runs below a process, for the tests that start `npm start` and check that stopping it
// leaves nothing behind.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

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

/**
 * The addresses the processes `pids` listen on for TCP (IPv4 and IPv6), read from /proc: each
 * listening socket of /proc/net/tcp{,6} whose inode one of the processes holds open.
 */
export function listeningAddresses(pids: readonly number[]): { address: string; port: number; pid: number }[] {
  const owners = new Map<string, number>();
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // gone meanwhile
    }
    for (const fd of fds) {
      try {
        const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
        if (inode) owners.set(inode, pid);
      } catch {
        // closed meanwhile
      }
    }
  }
  const found: { address: string; port: number; pid: number }[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const [, local, , state, , , , , , inode] = line.trim().split(/\s+/);
      // 0A: LISTEN.
      if (state !== '0A' || !local || !inode || !owners.has(inode)) continue;
      const [hex, port] = local.split(':');
      found.push({ address: procAddress(hex!), port: parseInt(port!, 16), pid: owners.get(inode)! });
    }
  }
  return found;
}

/** An address as /proc/net/tcp{,6} writes it (32-bit words in host order, little-endian here). */
function procAddress(hex: string): string {
  const words = hex.match(/.{8}/g)!.map((word) => word.match(/../g)!.reverse().join(''));
  if (words.length === 1) return words[0]!.match(/../g)!.map((byte) => parseInt(byte, 16)).join('.');
  const groups = words.flatMap((word) => [word.slice(0, 4), word.slice(4)]).map((group) => parseInt(group, 16).toString(16));
  return groups.join(':');
}

/** Whether an address from listeningAddresses() is on the loopback interface (127/8, ::1, ::ffff:127/104). */
export function isLoopback(address: string): boolean {
  if (/^127\./.test(address)) return true;
  if (address === '0:0:0:0:0:0:0:1') return true;
  const mapped = /^0:0:0:0:0:ffff:([0-9a-f]+):[0-9a-f]+$/.exec(address);
  return mapped !== null && parseInt(mapped[1]!, 16) >> 8 === 0x7f;
}
