// A client of Docker's Engine API on its unix socket: inspect a container,
// follow its /events stream. Unversioned paths (the daemon's own API
// version): Vigil reads only fields every version since 1.24 has. Every
// request has a deadline; the event stream reconnects by itself.
import { request, type IncomingMessage } from 'node:http';

/** What Vigil reads of GET /containers/{id}/json. */
export interface DockerInspect {
  Id: string;
  Name: string;
  Created: string;
  Image: string;
  State?: { Pid?: number; Running?: boolean; StartedAt?: string };
  Config?: { Image?: string; Labels?: Record<string, string> | null };
  HostConfig?: { Privileged?: boolean; CapAdd?: string[] | null; CapDrop?: string[] | null; CgroupParent?: string };
}

/** What Vigil reads of GET /images/{id}/json. */
export interface DockerImageInspect {
  Id: string;
  RepoTags?: string[] | null;
  RepoDigests?: string[] | null;
}

/** One message of GET /events. */
export interface DockerEvent {
  Type: string;
  Action: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  time?: number;
}

export class DockerError extends Error {
  constructor(
    readonly path: string,
    readonly socket: string,
    readonly status: number,
    detail: string,
  ) {
    super(`Docker ${path} on ${socket}: ${detail}`);
  }

  get notFound(): boolean {
    return this.status === 404;
  }
}

export interface DockerClientOptions {
  timeoutMs?: number;
}

/** Largest response body read (an inspect is a few KiB). */
const MAX_BODY = 4 << 20;

export class DockerClient {
  private readonly socketPath: string;
  private readonly timeoutMs: number;

  /** `socket` is a path (/var/run/docker.sock) or a unix:// address. */
  constructor(
    readonly socket: string,
    opts: DockerClientOptions = {},
  ) {
    this.socketPath = socket.replace(/^unix:\/\//, '');
    this.timeoutMs = opts.timeoutMs ?? 2000;
  }

  /** GET `path` as JSON. */
  get<T>(path: string, timeoutMs = this.timeoutMs): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const fail = (status: number, why: string) => reject(new DockerError(path, this.socket, status, why));
      const req = request({ socketPath: this.socketPath, path, method: 'GET', headers: { Host: 'docker' }, timeout: timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_BODY) {
            req.destroy();
            fail(res.statusCode ?? 0, `response larger than ${MAX_BODY} bytes`);
          } else {
            chunks.push(c);
          }
        });
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) return fail(res.statusCode ?? 0, `HTTP ${res.statusCode}: ${messageOf(body)}`);
          try {
            resolve(JSON.parse(body) as T);
          } catch {
            fail(res.statusCode, 'the answer is not JSON');
          }
        });
        res.on('error', (err) => fail(0, err.message));
      });
      req.on('timeout', () => {
        req.destroy();
        fail(0, `no answer within ${timeoutMs} ms`);
      });
      req.on('error', (err) => fail(0, err.message));
      req.end();
    });
  }

  async version(): Promise<{ Version: string; ApiVersion: string }> {
    return this.get('/version');
  }

  async inspect(id: string): Promise<DockerInspect> {
    return this.get(`/containers/${encodeURIComponent(id)}/json`);
  }

  async inspectImage(id: string): Promise<DockerImageInspect> {
    return this.get(`/images/${encodeURIComponent(id)}/json`);
  }

  async listContainers(): Promise<{ Id: string }[]> {
    return this.get('/containers/json');
  }

  /**
   * Follows container events (start, die, destroy…) from `since` (unix
   * seconds). The stream is one JSON object per line. `onEnd` is called
   * once when it ends or fails; the caller reconnects.
   */
  events(onEvent: (e: DockerEvent) => void, onEnd: (err: Error) => void, since?: number): () => void {
    const filters = encodeURIComponent(JSON.stringify({ type: ['container'] }));
    const path = `/events?filters=${filters}${since ? `&since=${since}` : ''}`;
    let ended = false;
    const end = (err: Error) => {
      if (ended) return;
      ended = true;
      onEnd(err);
    };
    const req = request({ socketPath: this.socketPath, path, method: 'GET', headers: { Host: 'docker' } }, (res: IncomingMessage) => {
      if (res.statusCode !== 200) {
        res.resume();
        return end(new DockerError(path, this.socket, res.statusCode ?? 0, `HTTP ${res.statusCode}`));
      }
      let pending = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        pending += chunk;
        if (pending.length > MAX_BODY) return req.destroy(new Error('an event line longer than 4 MiB'));
        let nl: number;
        while ((nl = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, nl).trim();
          pending = pending.slice(nl + 1);
          if (!line) continue;
          try {
            onEvent(JSON.parse(line) as DockerEvent);
          } catch {
            // One unreadable line is not worth the stream.
          }
        }
      });
      res.on('end', () => end(new DockerError(path, this.socket, 0, 'the event stream ended')));
      res.on('error', (err) => end(new DockerError(path, this.socket, 0, err.message)));
    });
    req.on('error', (err) => end(new DockerError(path, this.socket, 0, err.message)));
    req.end();
    return () => {
      ended = true;
      req.destroy();
    };
  }
}

function messageOf(body: string): string {
  try {
    const m = (JSON.parse(body) as { message?: unknown }).message;
    if (typeof m === 'string') return m.slice(0, 200);
  } catch {
    // not JSON
  }
  return body.slice(0, 200);
}
