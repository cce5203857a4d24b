// The control service's methods and their message shapes (control.proto).
import type { ServiceDefinition } from '@grpc/grpc-js';
import { method } from '../rpc/proto.js';

export interface LossCounters {
  ringbufFull: number;
  decodeErrors: number;
  queueFull: number;
  pathTruncated: number;
  eventsTotal: number;
  inflightFull: number;
  packetsLost: number;
}

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
}

export interface ControlHandlers {
  Status(req: Record<string, never>): StatusReply | Promise<StatusReply>;
}

const unary = { request: false, response: false };

export const controlMethods = {
  Status: method<Record<string, never>, StatusReply>('ControlService', 'Status', 'StatusRequest', 'StatusReply', unary),
} satisfies ServiceDefinition;
