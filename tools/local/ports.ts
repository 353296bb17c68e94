// Free and taken ports: the stack refuses to start on a taken one, tests pick free ones.

import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { LocalStackError } from './config.ts';

function listenOn(port: number): Promise<Server> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.once('error', reject);
    // The wildcard address collides with a listener on any local address, IPv4 or IPv6.
    server.listen({ port, exclusive: true }, () => resolvePromise(server));
  });
}

const closeServer = (server: Server): Promise<void> =>
  new Promise((resolvePromise) => server.close(() => resolvePromise()));

export async function isPortFree(port: number): Promise<boolean> {
  try {
    await closeServer(await listenOn(port));
    return true;
  } catch {
    return false;
  }
}

export class PortInUseError extends LocalStackError {
  override name = 'PortInUseError';
}

/** Throws a PortInUseError naming every taken port, e.g. `{ PORT: 3000 }`. */
export async function assertPortsFree(ports: Record<string, number>): Promise<void> {
  const taken: string[] = [];
  for (const [name, port] of Object.entries(ports)) {
    if (!(await isPortFree(port))) taken.push(`${name}=${port}`);
  }
  if (taken.length) {
    throw new PortInUseError(
      `port already in use: ${taken.join(', ')} (another local stack?). ` +
        'Stop whatever listens there or choose other ports through these variables.',
    );
  }
}

/** `count` distinct ports that were free a moment ago (held together so none repeats). */
export async function findFreePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) servers.push(await listenOn(0));
    return servers.map((server) => {
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('no TCP address');
      return address.port;
    });
  } finally {
    await Promise.all(servers.map(closeServer));
  }
}

export async function findFreePort(): Promise<number> {
  const [port] = await findFreePorts(1);
  if (port === undefined) throw new Error('no free port');
  return port;
}

/**
 * A free port that is none of `reserved`: the configured ports are free until their servers bind
 * them, so the system may hand one of them out meanwhile.
 */
export async function findFreePortExcept(reserved: readonly number[]): Promise<number> {
  for (;;) {
    const port = await findFreePort();
    if (!reserved.includes(port)) return port;
  }
}
