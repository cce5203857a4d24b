// "Review rule": an anomaly accepted into a workload's profile. The
// anomaly's kind and `what` (as the profile detector raised them) become
// the entry the profile lacked; the result is an ordinary
// WorkloadProfile document, so it is diffed (diffDocuments) and applied
// (ProfileDetector.apply) exactly as a reviewed policy file would be.
import type { WorkloadProfileDocument } from './document.js';
import type { AnomalyKind } from './profile.js';

export interface AcceptedAnomaly {
  kind: AnomalyKind | string;
  /** As Deviation.what: "/usr/bin/id", "tcp 10.0.0.9:4444", "/usr/bin/sh → /usr/bin/id", … */
  what: string;
  /** The process behind it (its executable, parent executable and uid). */
  process: { exe: string; parent: string; uid: number };
}

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The document with the anomaly added; throws when `what` cannot be read as its kind. */
export function acceptAnomaly(doc: WorkloadProfileDocument, a: AcceptedAnomaly): WorkloadProfileDocument {
  const out = structuredClone(doc);
  const s = out.spec;
  const proc = (exe: string) => {
    let p = s.processes.find((x) => x.exe === exe);
    if (!p) {
      p = { exe };
      s.processes.push(p);
      s.processes.sort((x, y) => byString(x.exe, y.exe));
    }
    return p;
  };
  const fail = (): never => {
    throw new Error(`cannot read the ${a.kind} anomaly "${a.what}"`);
  };
  switch (a.kind) {
    case 'new-executable': {
      const p = proc(a.what);
      if (a.process.parent) p.parents = [...new Set([...(p.parents ?? []), a.process.parent])].sort(byString);
      p.users = [...new Set([...(p.users ?? []), a.process.uid])].sort((x, y) => x - y);
      break;
    }
    case 'new-user': {
      const m = /^(.*) uid (\d+)$/.exec(a.what) ?? fail();
      const p = proc(m[1]!);
      p.users = [...new Set([...(p.users ?? []), Number(m[2])])].sort((x, y) => x - y);
      break;
    }
    case 'new-parent': {
      const m = /^(.*) → (.*)$/.exec(a.what) ?? fail();
      const p = proc(m[2]!);
      p.parents = [...new Set([...(p.parents ?? []), m[1]!])].sort(byString);
      break;
    }
    case 'new-arguments': {
      const exe = a.process.exe && a.what.startsWith(`${a.process.exe} `) ? a.process.exe : a.what.split(' ')[0]!;
      const p = proc(exe);
      // No argument list: arguments are not compared (they varied while learning).
      if (p.args?.length) p.args = [...new Set([...p.args, a.what.slice(exe.length + 1)])].sort(byString);
      break;
    }
    case 'new-file-read':
      s.files.read = [...new Set([...s.files.read, a.what])].sort(byString);
      break;
    case 'new-file-write':
      s.files.write = [...new Set([...s.files.write, a.what])].sort(byString);
      break;
    case 'new-egress': {
      const m = /^(tcp|udp) (.*):(\d+)$/.exec(a.what) ?? fail();
      const rule = { to: m[2]!.replace(/^\[|\]$/g, ''), port: Number(m[3]), protocol: m[1] as 'tcp' | 'udp' };
      if (!s.network.egress.some((r) => r.to === rule.to && r.port === rule.port && r.protocol === rule.protocol)) s.network.egress.push(rule);
      break;
    }
    case 'new-listen': {
      const m = /^(tcp|udp) (\d+)$/.exec(a.what) ?? fail();
      const rule = { port: Number(m[2]), protocol: m[1] as 'tcp' | 'udp' };
      if (!s.network.listen.some((r) => r.port === rule.port && r.protocol === rule.protocol)) s.network.listen.push(rule);
      break;
    }
    case 'new-ingress': {
      const m = /^(.*) → :(\d+)$/.exec(a.what) ?? fail();
      const rule = { from: m[1]!, port: Number(m[2]) };
      if (!s.network.ingress.some((r) => r.from === rule.from && r.port === rule.port)) s.network.ingress.push(rule);
      break;
    }
    default:
      throw new Error(`anomalies of kind ${a.kind} cannot be accepted into a profile`);
  }
  return out;
}
