// The control service's methods and their message shapes (control.proto).
import type { ServiceDefinition } from '@grpc/grpc-js';
import { method } from '../rpc/proto.js';
import type { WireLossReport } from '../probe/wire.js';

/** The probe's loss counters, as it reports them (probe.proto LossReport). */
export type LossCounters = WireLossReport;

export interface ProbeStatus {
  nodeName: string;
  sessionId: string;
  probeVersion: string;
  probePid: number;
  connected: boolean;
  connectedAtMs: number;
  hooks: number;
  batches: number;
  events: number;
  batchGaps: number;
  losses: LossCounters;
  lastBatchAtMs: number;
}

export interface WorkloadStatus {
  name: string;
  cgroupPath: string;
  mode: string;
  events: number;
}

export interface StatusReply {
  nodeName: string;
  engineVersion: string;
  startedAtMs: number;
  probes: ProbeStatus[];
  eventsByType: Record<string, number>;
  workloads: WorkloadStatus[];
  processes: number;
  malformedEvents: number;
  unknownCgroups: number;
  quarantined: string[];
  probeCapabilities: string[];
  rulesLoaded: number;
  rulesSkipped: number;
  alertsRaised: number;
}

export interface WorkloadRequest {
  workload: string;
  reason: string;
}

export interface ActionReply {
  ok: boolean;
  error: string;
  detail: string;
}

export interface CaptureRequest {
  workload: string;
  seconds: number;
  maxPackets: number;
}

export interface CaptureReply {
  ok: boolean;
  error: string;
  file: string;
  packets: number;
  bytes: number;
  ended: string;
}

export interface KillRequest {
  pid: number;
}

export interface SetModeRequest {
  workload: string;
  mode: string;
}

export interface SetModeReply {
  ok: boolean;
  error: string;
  from: string;
  warnings: string[];
}

export interface ExportPolicyRequest {
  workload: string;
  format: string;
}

export interface PolicyText {
  text: string;
  source: string;
  ok: boolean;
  error: string;
}

export interface ApplyPolicyReply {
  ok: boolean;
  error: string;
  applied: string[];
  warnings: string[];
}

export interface ControlHandlers {
  Status(req: Record<string, never>): StatusReply | Promise<StatusReply>;
  Quarantine(req: WorkloadRequest): Promise<ActionReply>;
  Release(req: WorkloadRequest): Promise<ActionReply>;
  Capture(req: CaptureRequest): Promise<CaptureReply>;
  Kill(req: KillRequest): Promise<ActionReply>;
  SetMode(req: SetModeRequest): Promise<SetModeReply>;
  ExportPolicy(req: ExportPolicyRequest): Promise<PolicyText>;
  ApplyPolicy(req: PolicyText): Promise<ApplyPolicyReply>;
  DiffPolicy(req: PolicyText): Promise<PolicyText>;
}

const unary = { request: false, response: false };

export const controlMethods = {
  Status: method<Record<string, never>, StatusReply>('ControlService', 'Status', 'StatusRequest', 'StatusReply', unary),
  Quarantine: method<WorkloadRequest, ActionReply>('ControlService', 'Quarantine', 'WorkloadRequest', 'ActionReply', unary),
  Release: method<WorkloadRequest, ActionReply>('ControlService', 'Release', 'WorkloadRequest', 'ActionReply', unary),
  Capture: method<CaptureRequest, CaptureReply>('ControlService', 'Capture', 'CaptureRequest', 'CaptureReply', unary),
  Kill: method<KillRequest, ActionReply>('ControlService', 'Kill', 'KillRequest', 'ActionReply', unary),
  SetMode: method<SetModeRequest, SetModeReply>('ControlService', 'SetMode', 'SetModeRequest', 'SetModeReply', unary),
  ExportPolicy: method<ExportPolicyRequest, PolicyText>('ControlService', 'ExportPolicy', 'ExportPolicyRequest', 'PolicyText', unary),
  ApplyPolicy: method<PolicyText, ApplyPolicyReply>('ControlService', 'ApplyPolicy', 'PolicyText', 'ApplyPolicyReply', unary),
  DiffPolicy: method<PolicyText, PolicyText>('ControlService', 'DiffPolicy', 'PolicyText', 'PolicyText', unary),
} satisfies ServiceDefinition;
