// One container runtime on this node, as the directory asks it: who is
// container <id>, which containers exist, and tell me when they come and
// go. CRI runtimes (containerd, CRI-O) and Docker each implement it.
import type { Logger } from '../../log.js';
import type { ContainerInfo, PodMeta } from '../../model/container.js';
import { fromCri, fromCriSandbox, fromDocker, criVerboseInfo, podFromSandbox } from './container.js';
import { CriClient, CriError } from './cri.js';
import { DockerClient, DockerError, type DockerImageInspect } from './docker.js';
import { LRUCache } from 'lru-cache';

export type SourceKind = 'cri' | 'docker';

/** A container came (with what is known of it, if anything) or went. */
export type ChangeListener = (change: 'started' | 'removed', id: string) => void;

export interface RuntimeSource {
  readonly kind: SourceKind;
  readonly socket: string;
  /** What answered: containerd, cri-o, docker (after connect()). */
  runtimeName: string;
  /** Asks the runtime its name and version; rejects when nobody answers. */
  connect(): Promise<string>;
  /** The container, or null when this runtime has none by that id. Rejects when the runtime cannot be asked. */
  inspect(id: string): Promise<ContainerInfo | null>;
  /** Ids of the containers that exist now. */
  list(): Promise<string[]>;
  /** Follows containers coming and going (an event stream, or polling); returns the stop function. */
  follow(onChange: ChangeListener): () => void;
  close(): void;
}

export interface SourceOptions {
  timeoutMs: number;
  /** CRI runtimes without an event stream are listed this often. */
  pollMs: number;
  log: Logger;
}

export class CriSource implements RuntimeSource {
  readonly kind = 'cri';
  runtimeName = 'cri';
  private readonly client: CriClient;
  /** Pods by sandbox id: the containers of one pod share one lookup. */
  private readonly pods = new LRUCache<string, PodMeta>({ max: 4096, ttl: 10 * 60_000 });

  constructor(
    readonly socket: string,
    private readonly opts: SourceOptions,
  ) {
    this.client = new CriClient(socket, { timeoutMs: opts.timeoutMs });
  }

  async connect(): Promise<string> {
    const v = await this.client.version();
    this.runtimeName = v.runtimeName || 'cri';
    return `${v.runtimeName} ${v.runtimeVersion}`;
  }

  async inspect(id: string): Promise<ContainerInfo | null> {
    let status;
    try {
      status = await this.client.containerStatus(id, true);
    } catch (err) {
      if (!(err instanceof CriError && err.notFound)) throw err;
      // The pod's own infrastructure container is a sandbox, not a container.
      try {
        const sandbox = await this.client.podSandboxStatus(id, false);
        return fromCriSandbox(this.runtimeName, id, sandbox.status);
      } catch (err2) {
        if (err2 instanceof CriError && err2.notFound) return null;
        throw err2;
      }
    }
    const verbose = criVerboseInfo(status.info);
    const sandboxId = verbose.sandboxID ?? '';
    let pod = sandboxId ? this.pods.get(sandboxId) ?? null : null;
    if (!pod && sandboxId) {
      pod = podFromSandbox((await this.client.podSandboxStatus(sandboxId, false)).status);
      if (pod) this.pods.set(sandboxId, pod);
    }
    if (!pod) pod = podFromLabels(status.status.labels);
    return fromCri(this.runtimeName, status.status, verbose, pod);
  }

  async list(): Promise<string[]> {
    return (await this.client.listContainers()).map((c) => c.id);
  }

  follow(onChange: ChangeListener): () => void {
    let stopped = false;
    let stopStream: (() => void) | null = null;
    let timer: NodeJS.Timeout | null = null;
    let known = new Set<string>();
    let failing = false;
    // Polling: what appeared and disappeared since the last list.
    const poll = async () => {
      try {
        const now = new Set(await this.list());
        if (failing) this.opts.log.info({ socket: this.socket }, 'container runtime answers again');
        failing = false;
        for (const id of now) if (!known.has(id)) onChange('started', id);
        for (const id of known) if (!now.has(id)) onChange('removed', id);
        known = now;
      } catch (err) {
        if (!failing) this.opts.log.warn({ socket: this.socket, err: (err as Error).message }, 'cannot list containers; retrying');
        failing = true;
      }
      if (!stopped) timer = setTimeout(() => void poll(), this.opts.pollMs);
    };
    // The runtime's event stream where it has one (containerd 1.7+, CRI-O 1.26+); polling where not.
    const stream = () => {
      stopStream = this.client.events(
        (e) => {
          failing = false;
          if (e.containerEventType === 'CONTAINER_DELETED_EVENT') onChange('removed', e.containerId);
          else if (e.containerEventType === 'CONTAINER_CREATED_EVENT' || e.containerEventType === 'CONTAINER_STARTED_EVENT') onChange('started', e.containerId);
        },
        (err) => {
          stopStream = null;
          if (stopped) return;
          if (err.unimplemented) {
            this.opts.log.info({ socket: this.socket, runtime: this.runtimeName, everyMs: this.opts.pollMs }, 'this runtime has no container event stream: listing containers periodically');
            void poll();
            return;
          }
          if (!failing) this.opts.log.warn({ socket: this.socket, err: err.message }, 'container event stream lost; reconnecting');
          failing = true;
          timer = setTimeout(stream, 1000);
        },
      );
    };
    stream();
    return () => {
      stopped = true;
      stopStream?.();
      if (timer) clearTimeout(timer);
    };
  }

  close(): void {
    this.client.close();
  }
}

/** The pod as the kubelet labels its containers, where the sandbox cannot be read (its own labels unknown). */
function podFromLabels(labels: Record<string, string>): PodMeta | null {
  const name = labels['io.kubernetes.pod.name'];
  const namespace = labels['io.kubernetes.pod.namespace'];
  const uid = labels['io.kubernetes.pod.uid'];
  return name && namespace && uid ? { uid, name, namespace, labels: {}, annotations: {} } : null;
}

export class DockerSource implements RuntimeSource {
  readonly kind = 'docker';
  runtimeName = 'docker';
  private readonly client: DockerClient;
  /** Images by id: the containers of one image share one lookup. */
  private readonly images = new LRUCache<string, DockerImageInspect>({ max: 1024, ttl: 10 * 60_000 });

  constructor(
    readonly socket: string,
    private readonly opts: SourceOptions,
  ) {
    this.client = new DockerClient(socket, { timeoutMs: opts.timeoutMs });
  }

  async connect(): Promise<string> {
    const v = await this.client.version();
    return `docker ${v.Version} (API ${v.ApiVersion})`;
  }

  async inspect(id: string): Promise<ContainerInfo | null> {
    let d;
    try {
      d = await this.client.inspect(id);
    } catch (err) {
      if (err instanceof DockerError && err.notFound) return null;
      throw err;
    }
    let image = this.images.get(d.Image) ?? null;
    if (!image) {
      // Only for the repo digest: the container is known without it.
      image = await this.client.inspectImage(d.Image).catch(() => null);
      if (image) this.images.set(d.Image, image);
    }
    return fromDocker(d, image);
  }

  async list(): Promise<string[]> {
    return (await this.client.listContainers()).map((c) => c.Id);
  }

  follow(onChange: ChangeListener): () => void {
    let stopped = false;
    let stop: (() => void) | null = null;
    let timer: NodeJS.Timeout | null = null;
    let since = Math.floor(Date.now() / 1000);
    let failing = false;
    const connect = () => {
      stop = this.client.events(
        (e) => {
          if (failing) this.opts.log.info({ socket: this.socket }, 'docker event stream back');
          failing = false;
          if (e.time) since = e.time;
          const id = e.Actor?.ID;
          if (!id) return;
          if (e.Action === 'create' || e.Action === 'start') onChange('started', id);
          else if (e.Action === 'destroy') onChange('removed', id);
        },
        (err) => {
          if (stopped) return;
          if (!failing) this.opts.log.warn({ socket: this.socket, err: err.message }, 'docker event stream lost; reconnecting');
          failing = true;
          // From the last event seen, so nothing in between is missed.
          timer = setTimeout(connect, 1000);
        },
        since,
      );
    };
    connect();
    return () => {
      stopped = true;
      stop?.();
      if (timer) clearTimeout(timer);
    };
  }

  close(): void {}
}
