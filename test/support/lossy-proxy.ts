// An HTTP proxy in front of an emulator that lets chosen requests reach it and then loses the
// answer: the connection reset, or the answer held back past the client's timeout. The service
// has applied the call; the client cannot know. This is the fault a proxy before the service
// (a refused connection, a throttle) cannot show.
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Fate = 'pass' | 'reset' | 'delay';

export interface SeenRequest {
  method: string;
  /** Path and query. */
  url: string;
  /** `X-Amz-Target` (DynamoDB's operation), if any. */
  target: string;
}

export interface LossyProxy {
  endpoint: string;
  /** Decides each request's fate; applied after the upstream answered. */
  decide: (request: SeenRequest) => Fate;
  /** How long a delayed answer is held (past the client's timeout). */
  delayMs: number;
  /** Requests forwarded, with what happened to their answers. */
  log: Array<SeenRequest & { fate: Fate; status: number }>;
  stop(): Promise<void>;
}

export async function startLossyProxy(upstream: string): Promise<LossyProxy> {
  const target = new URL(upstream);
  const held = new Set<NodeJS.Timeout>();
  const proxy: LossyProxy = {
    endpoint: '',
    decide: () => 'pass',
    delayMs: 5000,
    log: [],
    stop: async () => {
      for (const timer of held) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server: Server = createServer(async (req, res) => {
    const body = Buffer.concat(await collect(req));
    const seen: SeenRequest = { method: req.method ?? '', url: req.url ?? '/', target: String(req.headers['x-amz-target'] ?? '') };
    const upstreamRequest = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      async (answer: IncomingMessage) => {
        const answerBody = Buffer.concat(await collect(answer));
        const fate = proxy.decide(seen);
        proxy.log.push({ ...seen, fate, status: answer.statusCode ?? 0 });
        const reply = () => {
          if (res.destroyed) return;
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          res.end(answerBody);
        };
        if (fate === 'reset') req.socket.destroy();
        else if (fate === 'delay') {
          const timer = setTimeout(() => {
            held.delete(timer);
            reply();
          }, proxy.delayMs);
          held.add(timer);
        } else reply();
      },
    );
    upstreamRequest.on('error', () => res.destroy());
    upstreamRequest.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}

async function collect(stream: IncomingMessage): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return chunks;
}

/** S3 operations by method and query, as the SDK sends them (path-style). */
export const s3Operation = (request: SeenRequest): string => {
  const query = new URL(request.url, 'http://x').searchParams;
  if (request.method === 'PUT') return query.has('tagging') ? 'PutObjectTagging' : 'PutObject';
  if (request.method === 'DELETE') return 'DeleteObject';
  if (request.method === 'GET') return query.has('tagging') ? 'GetObjectTagging' : 'GetObject';
  return request.method;
};

/** DynamoDB operation of a request (`DynamoDB_20120810.UpdateItem` -> `UpdateItem`). */
export const dynamoOperation = (request: SeenRequest): string => request.target.split('.').pop() ?? '';
