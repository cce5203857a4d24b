// The one alert format. Rules, baselines and the engine itself produce
// alerts in this shape; every sink renders it (JSON, text, Falco's
// output shape, Slack blocks, webhooks).
import { randomUUID } from 'node:crypto';
import type { ProcessLineage } from './process.js';
import type { Workload } from './workload.js';
import { deniesBefore, mechanismDid, type Event } from './event.js';
import { eventSummary } from './event-kinds.js';
import { redactArgv } from './argv.js';

/** Falco's priorities, most severe first; rule files use these names. */
export const PRIORITIES = ['emergency', 'alert', 'critical', 'error', 'warning', 'notice', 'informational', 'debug'] as const;
export type Priority = (typeof PRIORITIES)[number];

/** Where an alert came from. */
export type AlertSource = 'rule' | 'profile' | 'response' | 'engine';

/** What was done about it. */
export interface AlertAction {
  /** none | killed | blocked | quarantined | captured | … */
  taken: string;
  ok: boolean;
  detail: string;
}

export interface AlertProcess {
  pid: number;
  /** The pid in its own pid namespace (what the container sees); 0 when unknown. */
  vpid: number;
  ppid: number;
  exe: string;
  cmdline: string;
  comm: string;
  uid: number;
  gid: number;
  /** The audit login uid (-1: nobody logged in); null when unknown. */
  loginuid: number | null;
  /** Parent chain, nearest first (not including the process itself). */
  parents: { pid: number; exe: string; cmdline: string }[];
}

export interface AlertWorkload {
  name: string;
  key: string;
  kind: string;
  namespace: string;
  pod: string;
  container: string;
  /** Pod labels (Kubernetes); empty elsewhere. */
  labels: Record<string, string>;
  cgroupPath: string;
  mode: string;
  /** The container's id when the alert is about one; '' otherwise. */
  containerId: string;
  /** The container as its runtime describes it; null when not known. */
  containerInfo: AlertContainer | null;
}

export interface AlertContainer {
  runtime: string;
  image: string;
  imageRepository: string;
  imageTag: string;
  imageDigest: string;
  imageId: string;
  privileged: boolean;
  labels: Record<string, string>;
  podUid: string;
}

export interface Alert {
  id: string;
  /** ISO time of the event that raised it. */
  time: string;
  source: AlertSource;
  /** Rule name, or the anomaly kind (e.g. "new-executable"). */
  rule: string;
  priority: Priority;
  /** One line for a person. */
  message: string;
  /** Falco-style formatted output line (rules); the message otherwise. */
  output: string;
  /** Tags, MITRE ATT&CK technique ids among them (e.g. "T1059"). */
  tags: string[];
  node: string;
  workload: AlertWorkload;
  process: AlertProcess;
  /** The event, as eventSummary renders it. */
  event: Record<string, unknown>;
  action: AlertAction;
  /** Falco's output_fields: the fields the rule's output names, with their values. */
  fields: Record<string, string | number | boolean | null>;
  /** Identical alerts folded into this one (noise control); 1 when alone. */
  count: number;
}

export interface AlertInput {
  source: AlertSource;
  rule: string;
  priority: Priority;
  message: string;
  output?: string;
  tags?: string[];
  fields?: Alert['fields'];
  action?: AlertAction;
}

export const NO_ACTION: AlertAction = { taken: 'none', ok: true, detail: '' };

/** A command line as an alert carries it: secrets redacted (model/argv.ts), as everywhere argv leaves the engine. */
export function cmdline(argv: readonly string[]): string {
  return redactArgv(argv).join(' ');
}

function alertWorkload(w: Workload | null): AlertWorkload {
  const c = w?.containerInfo ?? null;
  return {
    name: w?.name ?? '', key: w?.key ?? '', kind: w?.kind ?? '', namespace: w?.namespace ?? '', pod: w?.pod ?? '',
    container: w?.container ?? '', labels: { ...(w?.labels ?? {}) }, cgroupPath: w?.cgroupPath ?? '', mode: w?.mode ?? '',
    containerId: w?.containerId ?? '',
    containerInfo: c && {
      runtime: c.runtime, image: c.image, imageRepository: c.imageRepository, imageTag: c.imageTag, imageDigest: c.imageDigest,
      imageId: c.imageId, privileged: c.privileged, labels: { ...c.labels }, podUid: c.pod?.uid ?? '',
    },
  };
}

/** Builds an alert about an enriched event. */
export function alertFor(e: Event, tree: ProcessLineage | null, input: AlertInput): Alert {
  const p = e.process;
  const chain = p && tree ? tree.chain(p, 6).slice(1) : [];
  const w = e.workload;
  return {
    id: randomUUID(),
    time: new Date(e.time).toISOString(),
    source: input.source,
    rule: input.rule,
    priority: input.priority,
    message: input.message,
    output: input.output ?? input.message,
    tags: input.tags ?? [],
    node: e.nodeName,
    workload: alertWorkload(w),
    process: {
      pid: e.pid, vpid: p?.vpid ?? 0, ppid: e.ppid, exe: p?.exe ?? '', cmdline: cmdline(p?.argv ?? []), comm: e.comm, uid: e.uid, gid: e.gid,
      loginuid: p?.loginuid ?? null,
      parents: chain.map((c) => ({ pid: c.pid, exe: c.exe, cmdline: cmdline(c.argv) })),
    },
    event: eventSummary(e),
    action: input.action ?? NO_ACTION,
    fields: input.fields ?? {},
    count: 1,
  };
}

/** What an alert about an event is made of before it is built: enough to tell a repeat (repeatKey). */
export interface AlertDraft {
  source: AlertSource;
  rule: string;
  priority: Priority;
  /** The enriched event (its process and workload set). */
  event: Event;
  /** What the alert starts with (blockedAction); undefined: nothing done. */
  action: AlertAction | undefined;
}

/**
 * A key of every part of an event that the alert alertFor builds from a
 * draft is folded by (alert/noise.ts foldKey reads the rule, the workload,
 * the action, the executable and the event's path, names and address; a
 * socket's summary says its SOCK_* type, the flags, as `type`): drafts with
 * one key build alerts that fold together. It may tell apart more than the
 * fold does, never less. The separator is a NUL, which no kernel string
 * (path, name, address) holds.
 */
export function repeatKey(d: AlertDraft): string {
  const e = d.event;
  return `${d.source}\0${d.rule}\0${d.priority}\0${e.workload?.key ?? ''}\0${d.action?.taken ?? NO_ACTION.taken}\0${e.type}\0${e.flags}\0${e.process?.exe ?? ''}\0${e.path}\0${e.path2}\0${e.addr}\0${e.port}\0${e.unixPath}\0${e.call}`;
}

/**
 * What Vigil's enforcement did to a blocked event, as an alert's action (a
 * rule matching a denied bpf() or exec says it was denied); undefined when
 * the event was not blocked.
 */
export function blockedAction(e: Event): AlertAction | undefined {
  if (!e.blocked) return undefined;
  const by = e.blockedBy;
  const taken = deniesBefore(by) ? 'denied' : by === 'cgroup' ? 'refused' : 'killed';
  return { taken, ok: true, detail: mechanismDid(by, e.type === 'exec') };
}

/** An alert about a workload rather than one event (a promotion, enforcement that cannot be complete). */
export function alertAbout(w: Workload, node: string, input: AlertInput): Alert {
  return {
    id: randomUUID(),
    time: new Date().toISOString(),
    source: input.source,
    rule: input.rule,
    priority: input.priority,
    message: input.message,
    output: input.output ?? input.message,
    tags: input.tags ?? [],
    node,
    workload: alertWorkload(w),
    process: { pid: 0, vpid: 0, ppid: 0, exe: '', cmdline: '', comm: '', uid: 0, gid: 0, loginuid: null, parents: [] },
    event: {},
    action: input.action ?? NO_ACTION,
    fields: input.fields ?? {},
    count: 1,
  };
}

/** Lower is more severe. */
export function severity(p: Priority): number {
  return PRIORITIES.indexOf(p);
}
