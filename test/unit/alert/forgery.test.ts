// Every free-text field an attacker controls — the executable's name, its
// command line, its parent's, paths, cgroup, pod and container names — is
// forged with text that looks like more fields, a line break and
// characters that reorder or hide text. Each rendering (text, Vigil's
// JSON, Falco's JSON, Slack) must keep it inside its own field, escaped.
import { describe, expect, it } from 'vitest';
import { falcoJson, textLine, vigilJson } from '../../../src/alert/render.js';
import { slackMessage } from '../../../src/alert/slack.js';
import { compileOutput, formatOutput } from '../../../src/detect/rules/output.js';
import { FieldContext } from '../../../src/detect/rules/context.js';
import { ProcessTree } from '../../../src/enrich/process-tree.js';
import { alertFor, type Alert } from '../../../src/model/alert.js';
import type { Event } from '../../../src/model/event.js';
import type { Workload } from '../../../src/model/workload.js';
import { safeJson } from '../../../src/model/text.js';
import { makeEvent } from '../../support/events.js';

/** What a crafted name would make a careless line say. */
const FORGED = 'x uid=33 parent=nginx mode=enforce action=killed';
/** Plus a quote and a separator, a newline, right-to-left override, line separator, isolate. */
const HOSTILE = `${FORGED}" | pid=1 ]\n\u202e\u2028\u2066\u0085\u200f`;
// eslint-disable-next-line no-control-regex
const RAW_UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/;

const forgedWorkload: Workload = {
  key: `/shop/${HOSTILE}`,
  name: `web ${HOSTILE}`,
  kind: 'cgroup',
  namespace: `ns ${HOSTILE}`,
  pod: `pod ${HOSTILE}`,
  container: `ctr ${HOSTILE}`,
  labels: { app: HOSTILE },
  cgroupPath: `/shop/${HOSTILE}`,
  mode: 'monitor',
  events: 0,
  containerId: `c0ffee ${HOSTILE}`,
  // An image name and labels are the deployer's free text too.
  containerInfo: {
    id: `c0ffee ${HOSTILE}`, name: `ctr ${HOSTILE}`, runtime: 'containerd', image: `img ${HOSTILE}`, imageRepository: `img ${HOSTILE}`, imageTag: HOSTILE, imageDigest: '', imageId: '',
    privileged: false, labels: { app: HOSTILE }, createdAt: 0, pod: null, sandbox: false,
  },
  pathsIncomplete: 0,
};

function tree(): ProcessTree {
  const t = new ProcessTree(1024);
  t.addSnapshot([{ pid: 100, ppid: 1, uid: 0, gid: 0, comm: `p ${HOSTILE}`.slice(0, 15), exe: `/srv/${HOSTILE}`, argv: [`/srv/${HOSTILE}`, HOSTILE], cwd: '/', cgroupId: 77, startKtimeNs: 0, tty: 0, capEffective: 0, capPermitted: 0, loginuid: 4294967295, vpid: 100 }]);
  return t;
}

/** Events of several kinds, each with every string the process could choose forged. */
function forgedEvents(t: ProcessTree): Event[] {
  const base = { time: Date.parse('2026-01-02T03:04:05.678Z'), pid: 101, ppid: 100, uid: 0, gid: 0, comm: HOSTILE.slice(0, 15), cgroupId: 77, nodeName: 'node-a' };
  const exec = makeEvent('exec', base, { path: `/tmp/${HOSTILE}`, filename: `/tmp/${HOSTILE}`, argv: [`/tmp/${HOSTILE}`, '-c', HOSTILE], cwd: `/${HOSTILE}` });
  exec.process = t.apply(exec);
  const rest: Event[] = [
    makeEvent('open', base, { path: `/etc/${HOSTILE}`, flags: 0, result: 3 }),
    makeEvent('rename', base, { path: `/a/${HOSTILE}`, path2: `/b/${HOSTILE}`, result: 0 }),
    makeEvent('connect', base, { family: 1, unixPath: `/run/${HOSTILE}`, result: 0 }),
    makeEvent('mount', base, { path: `/mnt/${HOSTILE}`, path2: `/dev/${HOSTILE}`, call: 'ext4', result: 0 }),
  ];
  for (const e of rest) e.process = t.apply(e);
  return [exec, ...rest].map((e) => Object.assign(e, { workload: forgedWorkload }));
}

function forgedAlerts(): Alert[] {
  const t = tree();
  const x = new FieldContext();
  x.tree = t;
  // A rule output that names every field, as Falco rules do.
  const template = compileOutput('Suspicious %proc.name ran %proc.exe from %proc.pname (file=%fd.name cmd=%proc.cmdline container=%container.id) | user=%user.uid', { file: 't.yaml', line: 1, col: 1 });
  return forgedEvents(t).map((e) => {
    const out = formatOutput(template, e, x);
    return alertFor(e, t, { source: 'rule', rule: 'Forgery test', priority: 'critical', message: out.message, output: out.output, fields: out.fields, tags: ['T1059'] });
  });
}

/** The text with every "…" value (escapes honoured) taken out: what is left is what a reader takes for structure. */
function outsideQuotes(line: string): string {
  let out = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted && c === '\\') i++;
    else if (c === '"') quoted = !quoted;
    else if (!quoted) out += c;
  }
  expect(quoted, `unterminated quote in ${line}`).toBe(false);
  return out;
}

/** Reads a "…" value back the way quote() wrote it. */
function unquote(s: string): string {
  return JSON.parse(s.replace(/\\x([0-9a-f]{2})/g, '\\u00$1')) as string;
}

describe('forged free-text fields', () => {
  const alerts = forgedAlerts();

  it('text: every value stays inside its own quoted field, escaped, and reads back exactly', () => {
    for (const a of alerts) {
      const line = textLine(a);
      expect(line).not.toMatch(RAW_UNSAFE);
      const structure = outsideQuotes(line);
      expect(structure).not.toContain('nginx');
      expect(structure).not.toContain('killed');
      // Each key exactly once: none forged.
      for (const key of ['workload', 'node', 'image', 'pid', 'exe', 'cmd', 'uid', 'parent', 'event', 'mode', 'action', 'tags']) {
        expect(structure.match(new RegExp(`(^| )${key}=`, 'g')), `${key}= in ${line}`).toHaveLength(1);
      }
      expect(structure).toMatch(/^\S+ Critical \[Forgery test\] {2}\| workload= node= image= pid=101 exe= cmd= uid=0 parent= event= mode=monitor action=none tags=$/);
      // The quoted values are what the process chose, byte for byte.
      const value = (k: string): string => unquote(new RegExp(` ${k}=("(?:[^"\\\\]|\\\\.)*")`).exec(line)![1]!);
      expect(value('exe')).toBe(a.process.exe);
      expect(value('cmd')).toBe(a.process.cmdline);
      expect(value('parent')).toBe(`/srv/${HOSTILE}`);
      expect(value('workload')).toBe(`ns ${HOSTILE}/pod ${HOSTILE}/ctr ${HOSTILE}`);
      expect(value('image')).toBe(`img ${HOSTILE}`);
    }
  });

  it("JSON (Vigil's and Falco's): no raw control, bidirectional or separator character, and the values decode exactly", () => {
    for (const a of alerts) {
      for (const render of [vigilJson, falcoJson]) {
        const text = render(a);
        expect(text).not.toMatch(RAW_UNSAFE);
        expect(text).not.toContain('\n');
        const back = JSON.parse(text) as Record<string, unknown>;
        expect(JSON.stringify(back)).toBe(JSON.stringify(JSON.parse(JSON.stringify(render === vigilJson ? a : back))));
      }
      const v = JSON.parse(vigilJson(a)) as Alert;
      expect(v.process.exe).toBe(a.process.exe);
      expect(v.workload.name).toBe(forgedWorkload.name);
      const f = JSON.parse(falcoJson(a)) as { output: string; output_fields: Record<string, unknown> };
      expect(f.output_fields['proc.exe']).toBe(a.process.exe);
      // Falco's one-line output keeps each value quoted: the forged words never stand as fields of their own.
      expect(outsideQuotes(f.output)).not.toContain('nginx');
      expect(f.output).not.toMatch(RAW_UNSAFE);
    }
  });

  it('Slack: attacker text only inside code spans or the quoted message, escaped, with no mention or link syntax', () => {
    for (const a of alerts) {
      const m = slackMessage(a);
      const raw = safeJson(m);
      expect(raw).not.toMatch(RAW_UNSAFE);
      const texts = [m.text, ...m.attachments[0]!.blocks.flatMap((b) => ('fields' in b && b.fields ? b.fields.map((f) => f.text) : 'text' in b && b.text ? [b.text.text] : 'elements' in b ? b.elements.map((e) => e.text) : []))];
      for (const field of texts) {
        // A field's title is its own line (Slack's layout); the value after it is one line.
        const t = field.replace(/^\*[^*\n]+\*\n/, '');
        expect(t).not.toMatch(RAW_UNSAFE);
        expect(t).not.toMatch(/<[!@#]|<https?:/);
        // Code spans and quoted values removed, nothing forged is left standing.
        expect(outsideQuotes(t.replace(/`[^`]*`/g, ''))).not.toContain('nginx');
      }
    }
  });

  it('safeJson escapes only what JSON.stringify leaves raw, and decodes to the same value', () => {
    const v = { s: `a\u202eb\u2028c\u0085d\u007fe\u{1f600}` };
    expect(safeJson(v)).toBe('{"s":"a\\u202eb\\u2028c\\u0085d\\u007fe\u{1f600}"}');
    expect(JSON.parse(safeJson(v))).toEqual(v);
  });
});
