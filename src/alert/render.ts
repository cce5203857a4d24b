// Alert renderings: Vigil's JSON, Falco's JSON output shape (so existing
// falcosidekick set-ups can take Vigil's alerts) and one line for a person.
import type { Alert, Priority } from '../model/alert.js';
import { escapeUnsafe, quote, safeJson, shown } from '../model/text.js';

/** Falco spells priorities capitalised in its JSON output. */
export const FALCO_PRIORITY: Record<Priority, string> = {
  emergency: 'Emergency',
  alert: 'Alert',
  critical: 'Critical',
  error: 'Error',
  warning: 'Warning',
  notice: 'Notice',
  informational: 'Informational',
  debug: 'Debug',
};

/** Falco's `json_output` shape, as falcosidekick reads it. */
export interface FalcoAlert {
  uuid: string;
  output: string;
  priority: string;
  rule: string;
  time: string;
  output_fields: Record<string, string | number | boolean | null>;
  source: string;
  tags: string[];
  hostname: string;
}

export function vigilJson(a: Alert): string {
  return safeJson(a);
}

export function falcoShape(a: Alert): FalcoAlert {
  const w = a.workload;
  const p = a.process;
  const e = a.event;
  // The fields falcosidekick keys on, under whatever the rule's output names.
  const context: FalcoAlert['output_fields'] = {
    'evt.time.iso8601': a.time,
    'evt.type': str(e.type),
    'proc.pid': p.pid,
    'proc.ppid': p.ppid,
    'proc.exe': p.exe,
    'proc.cmdline': p.cmdline,
    'proc.name': p.comm,
    'user.uid': p.uid,
    'k8s.ns.name': w.namespace || null,
    'k8s.pod.name': w.pod || null,
    'container.id': w.containerId ? w.containerId.slice(0, 12) : null,
    'container.name': w.container || null,
    'container.image.repository': w.containerInfo?.imageRepository || null,
    'container.image.tag': w.containerInfo?.imageTag || null,
    'vigil.workload': w.name,
    'vigil.mode': w.mode,
    'vigil.source': a.source,
    'vigil.action': a.action.taken,
  };
  if (e.path !== undefined) context['fd.name'] = str(e.path);
  if (e.addr) context['fd.rip'] = str(e.addr);
  if (e.port) context['fd.rport'] = Number(e.port);
  if (w.containerInfo?.imageDigest) context['container.image.digest'] = w.containerInfo.imageDigest;
  if (w.containerInfo) context['container.privileged'] = w.containerInfo.privileged;
  if (e.sipName) context['fd.sip.name'] = str(e.sipName);
  if (e.cipName) context['fd.cip.name'] = str(e.cipName);
  if (a.count > 1) context['vigil.count'] = a.count;
  return {
    uuid: a.id,
    output: a.output,
    priority: FALCO_PRIORITY[a.priority],
    rule: a.rule,
    time: a.time,
    output_fields: { ...context, ...a.fields },
    // Every Vigil event comes from system calls, Falco's "syscall" source.
    source: 'syscall',
    tags: a.tags,
    hostname: a.node,
  };
}

export function falcoJson(a: Alert): string {
  return safeJson(falcoShape(a));
}

/** What the event was, in a few words: "open /etc/shadow (-13)", "connect 10.0.0.1:443". */
export function eventDetail(e: Record<string, unknown>): string {
  const parts: string[] = [str(e.type)];
  // Paths and names are the process's to choose: quoted when they hold anything but a plain path.
  const target =
    e.type === 'exec'
      ? shown(str(e.exe))
      : e.addr
        ? `${str(e.addr)}:${str(e.port)}`
        : e.unixPath
          ? shown(str(e.unixPath))
          : e.type === 'mount'
            ? `${shown(str(e.source))} on ${shown(str(e.target))}`
            : e.type === 'ptrace'
              ? `pid ${str(e.targetPid)}`
              : e.path !== undefined
                ? shown(str(e.path))
                : str(e.call ?? '');
  if (target) parts.push(target);
  if (e.newPath) parts.push(`→ ${shown(str(e.newPath))}`);
  if (typeof e.result === 'number' && e.result < 0) parts.push(`(${e.result})`);
  return parts.join(' ');
}

/** Where the alert happened: "shop/web-7d9/nginx" for pods, the workload name otherwise. */
export function workloadLabel(a: Alert): string {
  const w = a.workload;
  if (w.namespace || w.pod) return [w.namespace, w.pod, w.container].filter(Boolean).join('/');
  return w.name || (a.source === 'engine' ? 'vigil' : '-');
}

/**
 * One line for a person (the stdout sink's text format):
 *   TIME Priority [rule] "message" | workload="…" node="…" pid=N exe="…" cmd="…" uid=N parent="…" event="…" mode=M action=A tags="…" count=N
 * Every value that is text is quoted, with quotes, backslashes, control,
 * bidirectional and invisible characters escaped, so an executable named
 * `x uid=0 mode=enforce` stays inside exe="…" and cannot forge a field.
 */
export function textLine(a: Alert): string {
  const p = a.process;
  const parent = p.parents[0];
  const fields = [`workload=${quote(workloadLabel(a))}`, `node=${quote(a.node)}`];
  const c = a.workload.containerInfo;
  if (c) fields.push(`image=${quote(c.image || c.imageId)}`, ...(c.privileged ? ['privileged'] : []));
  else if (a.workload.containerId) fields.push(`container=${quote(a.workload.containerId.slice(0, 12))}`);
  // Alerts about a workload or about Vigil itself have no process or event.
  if (p.pid) fields.push(`pid=${p.pid}`, `exe=${quote(p.exe || p.comm)}`, `cmd=${quote(p.cmdline)}`, `uid=${p.uid}`);
  if (parent) fields.push(`parent=${quote(parent.exe)}`);
  if (a.event.type) fields.push(`event=${quote(eventDetail(a.event))}`);
  fields.push(`mode=${shown(a.workload.mode || '-')}`, `action=${shown(`${a.action.taken}${a.action.ok ? '' : '(failed)'}`)}`);
  if (a.tags.length) fields.push(`tags=${quote(a.tags.join(','))}`);
  if (a.count > 1) fields.push(`count=${a.count}`);
  return `${a.time} ${FALCO_PRIORITY[a.priority]} [${oneLine(a.rule).replace(/[[\]]/g, (c) => `\\x${c.charCodeAt(0).toString(16)}`)}] ${quote(a.message)} | ${fields.join(' ')}`;
}

/** Control, bidirectional and invisible characters shown escaped, never interpreted. */
export function oneLine(s: string): string {
  return escapeUnsafe(s);
}

function str(v: unknown): string {
  return v === undefined || v === null ? '' : String(v);
}
