// The dev page server of the local stack (docs/stock-ui.md): serves the stock-UI page
// (tools/page/app/main.tsx, bundled by esbuild on first request, in memory, nothing fetched from
// the network) and a local-only helper that mints tokens and signs people up the way `npm run
// token` and `npm run signup` do. Never part of the deployed product: the functions' bundles hold
// nothing under tools/.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { PROJECT_DIR } from '../local/config.ts';

export interface PageUser {
  sub: string;
  id?: number;
  username: string;
  email: string;
}

export interface PageServerOptions {
  /** Port to listen on; 0 picks a free one. A taken port falls back to a free one when `fallback`. */
  port: number;
  fallback?: boolean;
  /** The API the page's components call (the local stack's base URL). */
  apiBaseUrl: string;
  /** The people the page offers to sign in as. */
  users(): Promise<PageUser[]>;
  /** An access token for `sub`, as `npm run token` mints it (a sign-in). */
  mintToken(sub: string): Promise<string>;
  /** A confirmed sign-up through the sign-up trigger, as `npm run signup` makes it. */
  signUp(email: string): Promise<PageUser>;
}

export interface PageServer {
  url: string;
  port: number;
  /** The origins the API must allow (CORS) for the page's requests. */
  origins: string[];
  /** Bundles the page now (else on first request); resolves when it is ready. */
  build(): Promise<void>;
  stop(): Promise<void>;
}

const APP_ENTRY = join(PROJECT_DIR, 'tools', 'page', 'app', 'main.tsx');

const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Stock SelfCommunity UI on the local stack</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/app/main.css">
<style>
  body { margin: 0; font-family: system-ui, sans-serif; background: #f5f5f5; }
  header.session { display: flex; flex-wrap: wrap; gap: 16px; align-items: center; padding: 8px 16px; background: #fff; border-bottom: 1px solid #ddd; }
  header.session .api { color: #666; font-size: 12px; }
  header.session form { display: flex; gap: 4px; }
  main { max-width: 960px; margin: 0 auto; padding: 16px; }
  main section { background: #fff; padding: 16px; margin-bottom: 24px; border-radius: 8px; }
</style>
</head>
<body>
<div id="root"></div>
<script type="module" src="/app/main.js"></script>
</body>
</html>
`;

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.eot': 'application/vnd.ms-fontobject',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.gif': 'image/gif',
  '.jpg': 'image/jpeg',
};

interface Built {
  files: Map<string, Uint8Array>;
}

async function bundle(): Promise<Built> {
  // esbuild is a dependency of the project already (the functions' bundles); loaded only here.
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [APP_ENTRY],
    bundle: true,
    write: false,
    outdir: join(PROJECT_DIR, '.page-build', 'app'),
    publicPath: '/app',
    assetNames: 'assets/[name]-[hash]',
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    jsx: 'automatic',
    legalComments: 'none',
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"', global: 'globalThis' },
    loader: {
      '.woff': 'file',
      '.woff2': 'file',
      '.ttf': 'file',
      '.eot': 'file',
      '.svg': 'file',
      '.png': 'file',
      '.gif': 'file',
      '.jpg': 'file',
    },
  });
  const root = join(PROJECT_DIR, '.page-build');
  return { files: new Map(result.outputFiles.map((file) => [file.path.slice(root.length), file.contents])) };
}

function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
  response.end(JSON.stringify(body));
}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > 10_000) throw new Error('body too large');
    chunks.push(chunk);
  }
  const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
  return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
}

async function listen(server: ReturnType<typeof createServer>, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // Loopback only: the helper mints tokens for anyone who can reach it.
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

export async function startPageServer(options: PageServerOptions): Promise<PageServer> {
  let built: Promise<Built> | undefined;
  const build = () => {
    built ??= bundle().catch((error: unknown) => {
      built = undefined;
      throw error;
    });
    return built;
  };
  let origins: string[] = [];

  const server = createServer((request, response) => {
    void (async () => {
      const url = new URL(request.url ?? '/', 'http://localhost');
      // Only this page may use the helper: no other site's page (its Origin) and no other host
      // name resolving here (DNS rebinding: its Host).
      const host = request.headers.host ?? '';
      const origin = request.headers.origin;
      if (!origins.some((o) => o === `http://${host}`) || (origin !== undefined && !origins.includes(origin))) {
        return json(response, 403, { error: 'this page is served to localhost only' });
      }
      if (request.method === 'GET' && url.pathname === '/') {
        response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
        return void response.end(INDEX_HTML);
      }
      if (request.method === 'GET' && url.pathname.startsWith('/app/')) {
        const file = (await build()).files.get(url.pathname);
        if (!file) return json(response, 404, { error: 'not found' });
        const type = TYPES[url.pathname.slice(url.pathname.lastIndexOf('.'))] ?? 'application/octet-stream';
        response.writeHead(200, { 'Content-Type': type, 'Cache-Control': 'no-cache' });
        return void response.end(file);
      }
      if (request.method === 'GET' && url.pathname === '/local/config') {
        return json(response, 200, { apiBaseUrl: options.apiBaseUrl, users: await options.users() });
      }
      if (request.method === 'POST' && url.pathname === '/local/token') {
        const { sub } = await readJson(request);
        if (typeof sub !== 'string' || !sub) return json(response, 400, { error: 'sub is required' });
        return json(response, 200, { token: await options.mintToken(sub) });
      }
      if (request.method === 'POST' && url.pathname === '/local/signup') {
        const { email } = await readJson(request);
        if (typeof email !== 'string' || !/^[^@\s]+@[^@\s]+$/.test(email)) return json(response, 400, { error: 'an e-mail address is required' });
        return json(response, 200, await options.signUp(email));
      }
      return json(response, 404, { error: 'not found' });
    })().catch((error: unknown) => {
      if (!response.headersSent) json(response, 500, { error: (error as Error).message });
      else response.destroy();
    });
  });

  let port: number;
  try {
    port = await listen(server, options.port);
  } catch (error) {
    if (!(options.fallback && (error as NodeJS.ErrnoException).code === 'EADDRINUSE')) throw error;
    port = await listen(server, 0);
  }
  origins = [`http://localhost:${port}`, `http://127.0.0.1:${port}`];
  return {
    url: `http://localhost:${port}/`,
    port,
    origins,
    build: async () => void (await build()),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
