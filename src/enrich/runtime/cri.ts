// A client of a container runtime's CRI (Kubernetes' runtime.v1 API:
// containerd, CRI-O) over its unix socket. The schema is the part of the
// CRI Vigil uses, proto/cri/runtime-v1.proto; messages are plain objects in
// protobufjs's camelCase (podSandboxId), enums by name (CONTAINER_RUNNING).
// Every call has a deadline: a runtime that hangs costs a timeout, never
// a stalled caller.
import { Client, credentials, Metadata, status as grpcStatus, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { protoDir } from '../../rpc/proto.js';

const root = new protobuf.Root();
root.loadSync(join(protoDir, 'cri/runtime-v1.proto'), { keepCase: false });
root.resolveAll();
const runtimeService = root.lookupService('runtime.v1.RuntimeService');

const PLAIN: protobuf.IConversionOptions = { defaults: true, arrays: true, objects: true, longs: Number, enums: String };

export interface CriContainerMetadata {
  name: string;
  attempt: number;
}

/** What ListContainers and ContainerStatus both say of a container (the fields Vigil reads). */
interface CriContainerBase {
  id: string;
  metadata: CriContainerMetadata | null;
  image: { image: string } | null;
  imageRef: string;
  state: string;
  createdAt: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface CriContainer extends CriContainerBase {
  podSandboxId: string;
}

export interface CriContainerStatus extends CriContainerBase {
  startedAt: number;
  finishedAt: number;
}

/** A pod sandbox, as ListPodSandbox and PodSandboxStatus both say it (the fields Vigil reads). */
export interface CriPodSandbox {
  id: string;
  metadata: { name: string; uid: string; namespace: string; attempt: number } | null;
  state: string;
  createdAt: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface CriContainerEvent {
  containerId: string;
  containerEventType: string;
  createdAt: number;
  podSandboxStatus: CriPodSandbox | null;
  containersStatuses: CriContainerStatus[];
}

/** A CRI call that failed: the method, the runtime's socket and gRPC's reason. */
export class CriError extends Error {
  constructor(
    readonly method: string,
    readonly socket: string,
    readonly code: number,
    detail: string,
  ) {
    super(`CRI ${method} on ${socket}: ${detail}`);
  }

  get unimplemented(): boolean {
    return this.code === grpcStatus.UNIMPLEMENTED;
  }

  get notFound(): boolean {
    return this.code === grpcStatus.NOT_FOUND;
  }
}

export interface CriClientOptions {
  /** Deadline of every unary call. */
  timeoutMs?: number;
}

export class CriClient {
  private readonly client: Client;
  private readonly timeoutMs: number;

  /** `socket` is a path (/run/containerd/containerd.sock) or a unix:// address. */
  constructor(
    readonly socket: string,
    opts: CriClientOptions = {},
  ) {
    const address = socket.startsWith('unix:') ? socket : `unix://${socket}`;
    // No reconnect backoff beyond a second: a runtime restarting is back soon, and calls have deadlines anyway.
    this.client = new Client(address, credentials.createInsecure(), {
      'grpc.max_receive_message_length': 16 << 20,
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 1000,
    });
    this.timeoutMs = opts.timeoutMs ?? 2000;
  }

  /** Any RuntimeService method by name, with a plain request object. */
  call<T>(method: string, request: object, timeoutMs = this.timeoutMs): Promise<T> {
    const { path, req, res } = methodOf(method);
    return new Promise<T>((resolve, reject) => {
      this.client.makeUnaryRequest(
        path,
        (m: object) => Buffer.from(req.encode(req.fromObject(m)).finish()),
        (b: Buffer) => res.toObject(res.decode(b), PLAIN) as T,
        request,
        new Metadata(),
        { deadline: Date.now() + timeoutMs },
        (err: ServiceError | null, value?: T) => (err ? reject(new CriError(method, this.socket, err.code, err.details || err.message)) : resolve(value!)),
      );
    });
  }

  async version(): Promise<{ runtimeName: string; runtimeVersion: string; runtimeApiVersion: string }> {
    return this.call('Version', { version: 'v1' });
  }

  async listContainers(): Promise<CriContainer[]> {
    return (await this.call<{ containers: CriContainer[] }>('ListContainers', {})).containers;
  }

  async listPodSandbox(): Promise<CriPodSandbox[]> {
    return (await this.call<{ items: CriPodSandbox[] }>('ListPodSandbox', {})).items;
  }

  /** A container's status; `info` is the runtime's verbose detail (containerd, CRI-O: one JSON document under "info"). */
  async containerStatus(id: string, verbose = true): Promise<{ status: CriContainerStatus; info: Record<string, string> }> {
    return this.call('ContainerStatus', { containerId: id, verbose });
  }

  async podSandboxStatus(id: string, verbose = false): Promise<{ status: CriPodSandbox; info: Record<string, string> }> {
    return this.call('PodSandboxStatus', { podSandboxId: id, verbose });
  }

  /**
   * Container lifecycle events (created, started, stopped, deleted), where
   * the runtime has them (containerd 1.7+, CRI-O 1.26+). `onError` gets a
   * CriError; `unimplemented` says the runtime has no such stream.
   */
  events(onEvent: (e: CriContainerEvent) => void, onError: (err: CriError) => void): () => void {
    const { path, req, res } = methodOf('GetContainerEvents');
    const stream: ClientReadableStream<CriContainerEvent> = this.client.makeServerStreamRequest(
      path,
      (m: object) => Buffer.from(req.encode(req.fromObject(m)).finish()),
      (b: Buffer) => res.toObject(res.decode(b), PLAIN) as CriContainerEvent,
      {},
      new Metadata(),
      {},
    );
    // Called once: an error is followed by 'end', and a cancel by both.
    let done = false;
    const fail = (err: CriError) => {
      if (done) return;
      done = true;
      onError(err);
    };
    stream.on('data', onEvent);
    stream.on('error', (err: ServiceError) => fail(new CriError('GetContainerEvents', this.socket, err.code, err.details || err.message)));
    stream.on('end', () => fail(new CriError('GetContainerEvents', this.socket, grpcStatus.UNAVAILABLE, 'the event stream ended')));
    return () => {
      done = true;
      stream.cancel();
    };
  }

  close(): void {
    this.client.close();
  }
}

function methodOf(name: string): { path: string; req: protobuf.Type; res: protobuf.Type } {
  const m = runtimeService.methods[name];
  if (!m) throw new Error(`no CRI method ${name}`);
  return { path: `/runtime.v1.RuntimeService/${name}`, req: root.lookupType(m.requestType), res: root.lookupType(m.responseType) };
}
