// What is done through the control API or the web console to change
// protection — a mode changed, a policy applied, an anomaly accepted into a
// profile, a quarantine put on or released, a capture, a kill — is written to an audit log (<stateDir>/audit.jsonl, JSON lines,
// 0600, each record synced before the call is answered) and raised as an
// alert, both naming who did it (control/peer.ts) and whether it worked.
// Refused and failed attempts are recorded too.
import { closeSync, fstatSync, fsyncSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../log.js';
import { alertAbout, type Alert, type Priority } from '../model/alert.js';
import { nodeWorkload, type Workload } from '../model/workload.js';
import { safeJson } from '../model/text.js';
import { describeCaller, type Caller } from './peer.js';

export const AUDIT_FILE = 'audit.jsonl';
/** How much of the file's end latest() reads. */
const LATEST_BYTES = 256 * 1024;

export type AuditAction = 'set-mode' | 'apply-policy' | 'accept-anomaly' | 'quarantine' | 'release' | 'capture' | 'kill';

const RULES: Record<AuditAction, string> = {
  'set-mode': 'Workload mode changed',
  'apply-policy': 'Policy applied',
  'accept-anomaly': 'Anomaly accepted into the profile',
  quarantine: 'Workload quarantined',
  release: 'Quarantine released',
  capture: 'Capture started',
  kill: 'Process killed by hand',
};

export interface AuditRecord {
  time: string;
  action: AuditAction;
  /** The workload (or pid) acted on. */
  target: string;
  /** What was asked, in a few fields (a policy by its workloads and size, not its text). */
  request: Record<string, string | number | boolean>;
  ok: boolean;
  /** What was done, or why not. */
  outcome: string;
  caller: Caller;
  /** Whether it lowered what the kernel enforces (a mode lowered, a quarantine lifted, a policy widened): such records alert at error. */
  lowersProtection: boolean;
  /** Where it was asked: the control API (vigil CLI) or the web console. */
  via?: 'control' | 'console';
}

export interface AuditOptions {
  file: string;
  node: string;
  raise(a: Alert): void;
  log: Logger;
}

export class AuditLog {
  /** Records written, by action: /metrics. */
  readonly counts = new Map<AuditAction, number>();

  constructor(private readonly o: AuditOptions) {}

  /** The latest records, newest first, read back from the file's end (whoever made them: the CLI or the console). */
  latest(n: number): AuditRecord[] {
    let text: string;
    try {
      const fd = openSync(this.o.file, 'r');
      try {
        const size = fstatSync(fd).size;
        const len = Math.min(size, LATEST_BYTES);
        const buf = Buffer.alloc(len);
        readSync(fd, buf, 0, len, size - len);
        text = buf.toString('utf8');
        if (len < size) text = text.slice(text.indexOf('\n') + 1); // the first line may be cut
      } finally {
        closeSync(fd);
      }
    } catch {
      return [];
    }
    const out: AuditRecord[] = [];
    for (const line of text.split('\n').reverse()) {
      if (out.length >= n) break;
      if (!line) continue;
      try {
        out.push(JSON.parse(line) as AuditRecord);
      } catch {
        // a line cut by a crash mid-write: skipped
      }
    }
    return out;
  }

  /** Writes the record (synced) and raises its alert; a write that fails is logged and alerted, never dropped quietly. */
  record(r: Omit<AuditRecord, 'time'>, workload: Workload | null): void {
    const rec: AuditRecord = { time: new Date().toISOString(), ...r };
    this.counts.set(r.action, (this.counts.get(r.action) ?? 0) + 1);
    let written = true;
    try {
      mkdirSync(dirname(this.o.file), { recursive: true, mode: 0o700 });
      const fd = openSync(this.o.file, 'a', 0o600);
      try {
        writeSync(fd, `${safeJson(rec)}\n`);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      written = false;
      this.o.log.error({ file: this.o.file, err: (err as Error).message, action: r.action, target: r.target }, 'cannot write the audit log');
    }
    const who = describeCaller(r.caller);
    const verb = r.ok ? 'done' : `refused or failed: ${r.outcome}`;
    const message = `${RULES[r.action]} through ${r.via === 'console' ? 'the web console' : 'the control API'}: ${summary(rec)} — ${verb}; by ${who}${written ? '' : '. The audit log could not be written: this alert is the only record'}`;
    const priority: Priority = !written || r.lowersProtection ? 'error' : r.ok ? 'notice' : 'warning';
    const fields: Alert['fields'] = {
      'vigil.audit.action': r.action,
      'vigil.audit.target': r.target,
      'vigil.audit.ok': r.ok,
      'vigil.caller.uid': r.caller.uid,
      'vigil.caller.pid': r.caller.pid,
      'vigil.caller.exe': r.caller.exe,
      'vigil.caller.loginuid': r.caller.loginUid,
      'vigil.caller.verified': r.caller.verifiedBy,
      'vigil.caller.certificate': r.caller.certificate,
    };
    for (const [k, v] of Object.entries(r.request)) fields[`vigil.audit.${k}`] = v;
    this.o.log.info({ audit: rec }, 'control action');
    this.o.raise(alertAbout(workload ?? nodeWorkload(this.o.node), this.o.node, { source: 'engine', rule: RULES[r.action], priority, message, fields, tags: ['vigil', 'audit'] }));
  }
}

function summary(r: AuditRecord): string {
  const q = r.request;
  switch (r.action) {
    case 'set-mode':
      return `${r.target} from ${q.from || '?'} to ${q.mode}`;
    case 'apply-policy':
      return `${q.documents} document(s) for ${r.target || 'no workload'} (${q.bytes} bytes, sha256 ${String(q.sha256).slice(0, 16)}…)`;
    case 'accept-anomaly':
      return `${r.target}: ${q.kind} ${q.what}`;
    case 'kill':
      return `pid ${r.target}`;
    default:
      return r.target;
  }
}
