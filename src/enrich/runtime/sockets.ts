// Which container runtimes this node has: the configured sockets, or else
// every well-known one that exists (a unix socket at its path).
import { statSync } from 'node:fs';
import type { SourceKind } from './sources.js';

export interface RuntimeEndpoint {
  type: SourceKind;
  socket: string;
}

/** Where runtimes put their sockets: containerd (also k3s, RKE2, MicroK8s), CRI-O, Docker. */
export const WELL_KNOWN_SOCKETS: readonly RuntimeEndpoint[] = [
  { type: 'cri', socket: '/run/containerd/containerd.sock' },
  { type: 'cri', socket: '/run/crio/crio.sock' },
  { type: 'cri', socket: '/run/k3s/containerd/containerd.sock' },
  { type: 'cri', socket: '/var/snap/microk8s/common/run/containerd.sock' },
  { type: 'docker', socket: '/var/run/docker.sock' },
];

/** Whether a unix socket exists at `path` (/var/run and /run are often one directory: callers dedupe). */
export function isSocket(path: string): boolean {
  try {
    return statSync(path).isSocket();
  } catch {
    return false;
  }
}

/** The configured endpoints, or the well-known ones whose sockets exist, each socket once. */
export function findRuntimes(configured: readonly RuntimeEndpoint[] | null): RuntimeEndpoint[] {
  const candidates = configured ?? WELL_KNOWN_SOCKETS.filter((e) => isSocket(e.socket));
  const seen = new Set<string>();
  const out: RuntimeEndpoint[] = [];
  for (const e of candidates) {
    let ino: string;
    try {
      const st = statSync(e.socket);
      ino = `${st.dev}:${st.ino}`;
    } catch {
      ino = e.socket; // configured but absent (yet): kept, and tried with backoff
    }
    if (seen.has(ino)) continue;
    seen.add(ino);
    out.push({ type: e.type, socket: e.socket });
  }
  return out;
}
