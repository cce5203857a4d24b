// What the secret-leak tests (env, argv) search for a secret: every file
// a directory holds, and every body a webhook receiver got.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';

/** Every regular file below a directory, read as text. */
export function filesBelow(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? filesBelow(p) : [readFileSync(p, 'utf8')];
  });
}

/** A webhook receiver on loopback that keeps each request as "URL\nbody". */
export async function recordingServer(bodies: string[]): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      bodies.push(`${req.url ?? ''}\n${body}`);
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port };
}
