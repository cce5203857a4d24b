// The WorkloadProfile document: a learned baseline as reviewable YAML
// (policy as code) and, in a cluster, as a custom resource. The CRD in
// daemonset/ describes the same shape.
import type { Mode } from '../../model/mode.js';

export const PROFILE_API_VERSION = 'vigil.dev/v1alpha1';
export const PROFILE_KIND = 'WorkloadProfile';

/** An executable the workload runs. */
export interface ProcessRule {
  /** Absolute path, or a glob pattern ("/usr/lib/jvm/*\/bin/java"). */
  exe: string;
  /** Executables seen starting it (parent exe paths or patterns); empty: any parent. */
  parents?: string[];
  /** User ids seen running it; empty: any user. */
  users?: number[];
  /** Argument patterns, only where the arguments were stable while learning. */
  args?: string[];
  /** The contents learned (sha256, lower-case hex): another file at `exe` is a new executable. */
  sha256?: string[];
}

export interface FileRules {
  /** Paths or glob patterns read. */
  read: string[];
  /** Paths or glob patterns written (created, truncated, renamed, removed, chmod-ed). */
  write: string[];
}

export interface EgressRule {
  /** An address or CIDR ("10.0.0.0/24", "2001:db8::/64"). */
  to: string;
  port: number;
  protocol: 'tcp' | 'udp';
}

/** A destination by the name the workload resolved it from. */
export interface EgressNameRule {
  /** A DNS name ("api.example.com"), or every name below a domain ("*.s3.amazonaws.com"). */
  name: string;
  port: number;
  protocol: 'tcp' | 'udp';
  /** Addresses the name resolved to (the latest few), for exports that have no names (NetworkPolicy). */
  seen?: string[];
}

export interface ListenRule {
  port: number;
  protocol: 'tcp' | 'udp';
}

export interface IngressRule {
  /** Peer address or CIDR. */
  from: string;
  /** Local port the peer reached. */
  port: number;
}

export interface NetworkRules {
  egress: EgressRule[];
  /** Destinations by name, judged by the name a connect's address was resolved from (docs/dns.md). */
  egressNames?: EgressNameRule[];
  listen: ListenRule[];
  ingress: IngressRule[];
}

export interface WorkloadProfileSpec {
  workload: {
    /** Stable identity the engine keys profiles on (Workload.key). */
    key: string;
    name: string;
    kind: string;
    namespace?: string;
  };
  mode: Mode;
  processes: ProcessRule[];
  files: FileRules;
  network: NetworkRules;
}

export interface WorkloadProfileDocument {
  apiVersion: typeof PROFILE_API_VERSION;
  kind: typeof PROFILE_KIND;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    resourceVersion?: string;
  };
  spec: WorkloadProfileSpec;
  status?: {
    /** When learning started and when the last new behaviour was seen (ISO times). */
    learningSince?: string;
    lastNewBehaviour?: string;
    /** Nodes that contributed to this profile. */
    nodes?: string[];
  };
}
