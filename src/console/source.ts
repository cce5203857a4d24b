// What the console reads from and asks of the engine: a narrow interface,
// so the console depends on no engine internals (engine-source.ts is the
// one adapter). Every action returns what was done or why not.
import type { Alert } from '../model/alert.js';
import type { Mode } from '../model/mode.js';
import type { WorkloadProfileDocument } from '../detect/profile/document.js';
import type { Event, Mechanism } from '../model/event.js';
import type { AuditEntry } from './api.js';

export interface SourceWorkload {
  key: string;
  name: string;
  kind: string;
  namespace: string;
  mode: Mode;
  events: number;
  labels: Record<string, string>;
  /** Privileged containers (the container runtime's word); null when not known. */
  privileged: boolean | null;
  images: string[];
}

export interface ProbeFacts {
  connected: boolean;
  /** What the probe said it can do (exec-kill, connect-refuse, write-kill, quarantine, capture). */
  capabilities: string[];
  /** How each enforced operation is stopped on this node, as the probe's Hello said (probe.proto EnforcementHook). */
  enforcement: { operation: string; mechanism: Mechanism; program: string; why: string }[];
  eventsLost: number;
}

export interface Outcome {
  ok: boolean;
  error: string;
  detail: string;
  warnings: string[];
}

export interface CaptureEnd {
  ok: boolean;
  error: string;
  file: string;
  packets: number;
  bytes: number;
  ended: string;
}

export interface CaptureStart {
  ok: boolean;
  error: string;
  file: string;
  finished?: Promise<CaptureEnd>;
}

export interface ConsoleActions {
  setMode(key: string, mode: Mode): Promise<Outcome>;
  quarantine(key: string, reason: string): Promise<Outcome>;
  release(key: string): Promise<Outcome>;
  capture(key: string, seconds: number): Promise<CaptureStart>;
  /** Replaces a workload's profile with a reviewed document (as `vigil policy apply`). */
  applyProfile(doc: WorkloadProfileDocument): Promise<Outcome>;
}

/** Who acted from the console, as its credentials say. */
export interface ConsoleCaller {
  /** A bearer token, a client certificate (mutual TLS), or both. */
  by: 'token' | 'certificate';
  /** The client certificate's subject, when there is one. */
  certificate: string;
  /** The browser's address (host:port). */
  address: string;
}

/** An action taken from the console, as the engine's audit log records it. */
export interface ConsoleAction {
  action: 'set-mode' | 'accept-anomaly' | 'quarantine' | 'release' | 'capture';
  /** The workload's key (to name it in the alert) and name. */
  workloadKey: string;
  target: string;
  request: Record<string, string | number | boolean>;
  ok: boolean;
  outcome: string;
  caller: ConsoleCaller;
  /** A mode lowered, a quarantine lifted, a profile widened. */
  lowersProtection: boolean;
}

/**
 * The engine's one audit log (control/audit.ts, <stateDir>/audit.jsonl):
 * the console's actions are written there, with who made them, as the
 * CLI's are, and raised as alerts.
 */
export interface ConsoleAudit {
  /** Written (synced) before the console answers. */
  record(a: ConsoleAction): void;
  /** The latest entries of the log, newest first, whoever made them. */
  latest(n: number): AuditEntry[];
}

export interface ConsoleSource {
  readonly nodeName: string;
  /** Where capture files are written (the console serves only files from here). */
  readonly captureDir: string;
  onAlert(fn: (a: Alert) => void): () => void;
  onEvent(fn: (e: Event) => void): () => void;
  workloads(): SourceWorkload[];
  /** The workload's profile as a WorkloadProfile document; null when it has none. */
  profile(key: string): WorkloadProfileDocument | null;
  quarantine(key: string): { since: string; reason: string } | null;
  /** Whether its kernel policy is in place, and what this node cannot enforce of it. */
  enforcement(key: string): { active: boolean; gaps: string[] };
  probe(): ProbeFacts;
  readonly actions: ConsoleActions;
  readonly audit: ConsoleAudit;
}
