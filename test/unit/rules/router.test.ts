// Routing by event class and the per-value filters: the rules detector
// raises exactly the alerts that evaluating every rule's plain per-type
// function would, on many generated events (built-in rules and Falco's
// stable rules), and a reloaded rule set never answers from the old one's
// memory.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { Alert } from '../../../src/model/alert.js';
import type { DetectContext } from '../../../src/detect/detector.js';
import { RulesDetector } from '../../../src/detect/rules/detector.js';
import { SYSCALLS_OF } from '../../../src/detect/rules/event-type-names.js';
import { MEMO_SIZE } from '../../../src/detect/rules/router.js';
import { buildRuleSet, builtinFiles, type RuleSet } from '../../../src/detect/rules/ruleset.js';
import { SequenceState, ThresholdState } from '../../../src/detect/rules/stateful.js';
import { EVENT_TYPES, type Event } from '../../../src/model/event.js';
import { silentLogger } from '../../../src/log.js';
import { HOST, load, ruleYaml, workload, World } from './support.js';
import { rng } from '../../support/rng.js';
import { type EventFields } from '../../support/events.js';

const FALCO = fileURLToPath(new URL('../../fixtures/falco/falco_rules.yaml', import.meta.url));

/** Every string in the rule files' lists and conditions: names, paths and fragments the rules look for. */
function ruleStrings(files: string[]): { names: string[]; paths: string[]; words: string[] } {
  const names = new Set<string>();
  const paths = new Set<string>();
  const words = new Set<string>();
  for (const f of files) {
    for (const item of parse(readFileSync(f, 'utf8')) as Record<string, unknown>[]) {
      const texts: string[] = [];
      if (Array.isArray(item.items)) texts.push(...item.items.map(String));
      if (typeof item.condition === 'string') texts.push(...item.condition.split(/[\s(),=]+/));
      for (const t of texts) {
        const v = t.replace(/^["']|["']$/g, '');
        if (v.startsWith('/')) paths.add(v.replace(/\*+/g, 'x'));
        else if (/^[\w.+-]+$/.test(v) && v.length <= 15) names.add(v);
        if (v.length > 1 && !v.includes(' ')) words.add(v);
      }
    }
  }
  return { names: [...names], paths: [...paths], words: [...words] };
}

/** Random events of every type, built from what the rules look for plus benign values. */
class EventMaker {
  private readonly r: () => number;
  private readonly names: string[];
  private readonly paths: string[];
  private readonly words: string[];

  constructor(
    seed: number,
    files: string[],
    private readonly world: World,
  ) {
    this.r = rng(seed);
    const s = ruleStrings(files);
    this.names = [...s.names, 'worker', 'nginx', 'python3', 'bash', 'sh', 'curl', 'nc', 'find', 'dpkg', 'sshd', 'runc', 'containerd-shim'];
    const files1 = ['id_rsa', 'authorized_keys', 'credentials', 'config.json', 'mem', 'shadow', '.bash_history', 'x.sh', 'libc.so.6', 'token', 'a'];
    this.paths = [
      ...s.paths,
      ...s.paths.map((p) => `${p.replace(/\/$/, '')}/${this.pick(files1)}`),
      '/etc/passwd', '/etc/shadow', '/etc/sudoers.d/x', '/etc/ld.so.preload', '/root/.ssh/id_rsa', '/home/u/.ssh/authorized_keys',
      '/proc/1/mem', '/proc/self/environ', '/var/log/syslog', '/var/log/app/access.log', '/tmp/x', '/tmp/go-build1/a', '/dev/shm/x',
      '/memfd:x', '/', '/usr/bin/curl', '/usr/lib/python3/__pycache__/a.pyc', '/srv/app/config.yaml', '/dev/null', '',
      '/var/run/secrets/kubernetes.io/serviceaccount/token', '/home/u/.aws/credentials', '/etc/cron.d/x', '/etc/systemd/system/x.service',
    ];
    this.words = s.words;
  }

  private pick<T>(a: readonly T[]): T {
    return a[Math.floor(this.r() * a.length)]!;
  }

  private chance(p: number): boolean {
    return this.r() < p;
  }

  event(): Event {
    const type = this.pick(EVENT_TYPES);
    const pid = 100 + Math.floor(this.r() * 40);
    const w = this.chance(0.2) ? HOST : this.chance(0.5) ? workload() : workload({ key: 'k8s:shop/Deployment/api', name: 'api', kind: 'k8s', namespace: 'shop', pod: 'api-1', container: 'c0ffee' });
    const path = this.pick(this.paths);
    const f: EventFields = {
      pid, tid: pid, ppid: this.chance(0.7) ? 100 + Math.floor(this.r() * 40) : 1,
      uid: this.pick([0, 0, 1000, 33]), gid: this.pick([0, 1000]), comm: this.pick(this.names),
      path, path2: this.pick(this.paths),
      flags: this.pick([0, 1, 2, 3]) | (this.chance(0.4) ? 0o100 : 0) | (this.chance(0.3) ? 0o1000 : 0) | (this.chance(0.2) ? 0o200000 : 0) | (this.chance(0.2) ? 0o2000 : 0) | (this.chance(0.1) ? 0o200 : 0),
      mode: this.pick([0, 0o644, 0o755, 0o4755, 0o2755, 0o777]),
      result: this.pick([0, 0, 3, 5, -1, -2, -13, -115, -111]),
      family: this.pick([2, 2, 10, 1, 0]),
      addr: this.pick(['', '10.0.0.1', '10.0.0.2', '169.254.169.254', '127.0.0.1', '8.8.8.8', '192.168.1.5', 'fd00::1', '::1', '::ffff:10.1.2.3', '100.100.100.200']),
      port: this.pick([0, 22, 80, 443, 3333, 4444, 5555, 8080, 14444, 45700]),
      localAddr: this.pick(['', '0.0.0.0', '10.0.0.9', '::']), localPort: this.pick([0, 22, 8080, 4444]),
      protocol: this.pick(['tcp', 'udp', ''] as const),
      unixPath: this.pick(['', '/var/run/docker.sock', '/run/containerd/containerd.sock', '/tmp/x.sock']),
      call: this.pick([...SYSCALLS_OF[type], '']), id: this.pick([-1, 0, 1, 2, 16, 0x20000, 0x40000000]), targetPid: this.pick([0, 1, 100]),
      tty: this.pick([0, 0, 34816]),
    };
    if (type === 'exec') {
      const exe = this.chance(0.5) ? path || '/bin/sh' : `/usr/bin/${f.comm}`;
      const argv = [f.comm!, ...Array.from({ length: Math.floor(this.r() * 4) }, () => this.pick([...this.words, '-e', '-c', '-d', '--sh-exec', 'stratum+tcp://pool:3333', 'id_rsa', '/bin/sh']))];
      return this.world.exec(pid, f.ppid!, exe, argv, w, { uid: f.uid, tty: f.tty, comm: f.comm });
    }
    if (type === 'fork') f.childPid = 100 + Math.floor(this.r() * 40);
    // A terminal is an exec's own field (ExecMore): picked for every kind all the same, so the draws stay as they were.
    delete f.tty;
    return this.world.event(type, f, w);
  }
}

/** The alerts (rule names) each event raises, from every rule's plain per-type function, in rule order. */
class Reference {
  private readonly thresholds = new Map<string, ThresholdState>();
  private readonly sequences = new Map<string, SequenceState>();

  constructor(private readonly set: RuleSet) {
    for (const r of set.rules) {
      if (r.threshold) this.thresholds.set(r.name, new ThresholdState(r.threshold));
      if (r.sequence) this.sequences.set(r.name, new SequenceState(r.sequence));
    }
  }

  alerts(e: Event, world: World): string[] {
    const out: string[] = [];
    for (const r of this.set.rules) {
      const seq = this.sequences.get(r.name);
      if (seq && r.sequence!.after.byType.get(e.type)?.(e, world.x)) seq.record(e, world.x);
      const fn = r.condition.byType.get(e.type);
      if (!fn?.(e, world.x)) continue;
      if (seq && !seq.matches(e, world.x)) continue;
      const th = this.thresholds.get(r.name);
      if (th && th.hit(e, world.x) === 0) continue;
      out.push(r.name);
    }
    return out;
  }
}

function compare(files: string[], builtin: boolean, seed: number, events: number): { fired: Map<string, number>; checked: number } {
  const world = new World();
  const raised: Alert[] = [];
  const ctx: DetectContext = { tree: world.tree, raise: (a) => raised.push(a) };
  const detector = new RulesDetector({ builtin, files: builtin ? [] : files, watch: false }, silentLogger(), world.x);
  detector.load();
  const reference = new Reference(buildRuleSet([...(builtin ? builtinFiles() : []), ...(builtin ? [] : files)]));
  const maker = new EventMaker(seed, builtin ? builtinFiles() : files, world);
  const fired = new Map<string, number>();
  for (let i = 0; i < events; i++) {
    const e = maker.event();
    raised.length = 0;
    detector.onEvent(e, ctx);
    const want = reference.alerts(e, world); // the same evt.num: the detector counted the event already
    expect(raised.map((a) => a.rule), `event ${i}: ${JSON.stringify({ ...e, process: null, workload: e.workload?.key })}`).toEqual(want);
    for (const name of want) fired.set(name, (fired.get(name) ?? 0) + 1);
  }
  expect(detector.errors).toBe(0);
  return { fired, checked: events };
}

describe('rules routed by event class, with per-value filters', () => {
  it('raise exactly the alerts every built-in rule raises evaluated on its own', () => {
    const { fired } = compare([], true, 7, 40_000);
    // The events reach most rules: the comparison means something.
    expect(fired.size).toBeGreaterThanOrEqual(25);
  });

  it("raise exactly the alerts Falco's stable rules raise evaluated on their own", () => {
    const { fired } = compare([FALCO], false, 11, 40_000);
    expect(fired.size).toBeGreaterThanOrEqual(8);
  });

  it('fold what an open class decides: a read runs no write rule, a failed open no rule needing an fd', () => {
    const set = load(ruleYaml('evt.type = open and evt.is_open_write = true and fd.num >= 0 and fd.typechar = f and fd.name startswith /etc/'));
    const open = set.route.open;
    const classOf = (flags: number, result: number): number => open.classify!({ ...new World().event('open', { flags, result }) });
    expect(open.classes[classOf(0, 3)]!.entries).toHaveLength(0); // O_RDONLY
    expect(open.classes[classOf(1, -2)]!.entries).toHaveLength(0); // failed
    expect(open.classes[classOf(1 | 0o200000, 3)]!.entries).toHaveLength(0); // a directory
    const write = open.classes[classOf(1, 3)]!;
    expect(write.entries).toHaveLength(1);
    expect(write.entries[0]!.full.toString()).toBe('function rule_Test_rule_open_1(e, x) { return (e.path.startsWith("/etc/")); }');
    expect(write.filters.map((f) => f.dim)).toEqual(['path']);
    // The path filter decides the whole condition: nothing is left to run for an open it lets through.
    expect(write.entries[0]!.fn.toString()).toBe('function rule_Test_rule_past_filters_open_1(e, x) { return true; }');
  });

  it('run only what the filters left undecided, and not what they answered', () => {
    const set = load(ruleYaml('evt.type = open and fd.name startswith /etc/ and user.uid = 0 and proc.name in (cat, less)'));
    const entry = set.route.open.classes[0]!.entries[0]!;
    expect(set.route.open.classes[0]!.filters.map((f) => f.dim).sort()).toEqual(['comm', 'path']);
    expect(entry.full.toString()).toContain('startsWith("/etc/")');
    const rest = entry.fn.toString();
    expect(rest).not.toContain('startsWith');
    expect(rest).not.toContain('e.comm');
    expect(rest).toContain('uid');
    const world = new World();
    const raised: string[] = [];
    const ctx: DetectContext = { tree: world.tree, raise: (a) => raised.push(a.rule) };
    const dir = mkdtempSync(join(tmpdir(), 'vigil-router-'));
    try {
      writeFileSync(join(dir, 'r.yaml'), ruleYaml('evt.type = open and fd.name startswith /etc/ and user.uid = 0 and proc.name in (cat, less)'));
      const d = new RulesDetector({ builtin: false, files: [join(dir, 'r.yaml')], watch: false }, silentLogger(), world.x);
      d.load();
      const cases: [EventFields, boolean][] = [
        [{ path: '/etc/shadow', uid: 0, comm: 'cat' }, true],
        [{ path: '/etc/shadow', uid: 1000, comm: 'cat' }, false],
        [{ path: '/srv/shadow', uid: 0, comm: 'cat' }, false],
        [{ path: '/etc/shadow', uid: 0, comm: 'vi' }, false],
        [{ path: '/etc/shadow', uid: 0, comm: 'less' }, true],
      ];
      for (let round = 0; round < 2; round++) {
        for (const [f, want] of cases) {
          raised.length = 0;
          d.onEvent(world.event('open', { flags: 0, result: 3, ...f }), ctx);
          expect(raised, `${JSON.stringify(f)}, round ${round}`).toEqual(want ? ['Test rule'] : []);
        }
      }
      d.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('run the whole condition of a rule whose filter threw: the error is counted, no alert raised on what the filter could not decide', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-router-'));
    try {
      const file = join(dir, 'r.yaml');
      writeFileSync(file, ruleYaml('evt.type = open and fd.name startswith /etc/'));
      const world = new World();
      const raised: string[] = [];
      const ctx: DetectContext = { tree: world.tree, raise: (a) => raised.push(a.rule) };
      const detector = new RulesDetector({ builtin: false, files: [file], watch: false }, silentLogger(), world.x);
      detector.load();
      detector.onEvent(world.event('open', { path: '/etc/passwd', flags: 0, result: 3 }), ctx);
      expect(raised).toEqual(['Test rule']);
      raised.length = 0;
      // A path that is not a string (a decoder bug): the filter's startsWith throws, and so does the rule.
      const bad = world.event('open', { path: 7 as unknown as string, flags: 0, result: 3 });
      detector.onEvent(bad, ctx);
      detector.onEvent(bad, ctx);
      expect(raised).toEqual([]);
      expect(detector.errors).toBe(2);
      detector.onEvent(world.event('open', { path: '/etc/hosts', flags: 0, result: 3 }), ctx);
      expect(raised).toEqual(['Test rule']);
      detector.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fold what a socket family decides: an IP connect runs no unix socket rule', () => {
    const set = load(ruleYaml('evt.type = connect and fd.sockfamily = unix and fd.name endswith /docker.sock'));
    const connect = set.route.connect;
    const world = new World();
    expect(connect.classes[connect.classify!(world.event('connect', { family: 2, addr: '10.0.0.1' }))]!.entries).toHaveLength(0);
    expect(connect.classes[connect.classify!(world.event('connect', { family: 1, unixPath: '/run/docker.sock' }))]!.entries).toHaveLength(1);
  });

  it('run every entry a filter leaves, in rule order, past the 31 a mask covers too', () => {
    // 40 rules on one open class: even ones read /etc/, odd ones /var/; the
    // first 31 are skipped by the path filter's mask, the rest always run.
    const dir = mkdtempSync(join(tmpdir(), 'vigil-router-'));
    try {
      const file = join(dir, 'many.yaml');
      const rules = Array.from({ length: 40 }, (_, i) =>
        `- rule: R${i}\n  desc: d\n  condition: evt.type = open and fd.name startswith ${i % 2 ? '/var/' : '/etc/'}\n  output: o\n  priority: NOTICE\n`);
      writeFileSync(file, rules.join(''));
      const world = new World();
      const raised: string[] = [];
      const ctx: DetectContext = { tree: world.tree, raise: (a) => raised.push(a.rule) };
      const detector = new RulesDetector({ builtin: false, files: [file], watch: false }, silentLogger(), world.x);
      detector.load();
      expect(detector.report!.loaded).toBe(40);
      const even = Array.from({ length: 20 }, (_, i) => `R${2 * i}`);
      const odd = Array.from({ length: 20 }, (_, i) => `R${2 * i + 1}`);
      for (let round = 0; round < 2; round++) {
        // The second round answers from the filters' memos.
        for (const [path, want] of [['/etc/passwd', even], ['/var/log/x', odd], ['/tmp/x', []]] as const) {
          raised.length = 0;
          detector.onEvent(world.event('open', { path, flags: 0, result: 3 }), ctx);
          expect(raised, `${path}, round ${round}`).toEqual(want);
        }
      }
      detector.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('answer from the rule set in use: a reload with other rules re-decides the same path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-router-'));
    try {
      const file = join(dir, 'local.yaml');
      const rule = (prefix: string): string => ruleYaml(`evt.type = open and evt.is_open_write = true and fd.name startswith ${prefix}`);
      const world = new World();
      const raised: string[] = [];
      const ctx: DetectContext = { tree: world.tree, raise: (a) => raised.push(a.rule) };
      const detector = new RulesDetector({ builtin: false, files: [file], watch: false }, silentLogger(), world.x);
      const write = (): void => detector.onEvent(world.event('open', { path: '/srv/data/x', flags: 1, result: 3 }), ctx);
      writeFileSync(file, rule('/etc/'));
      detector.load();
      for (let i = 0; i < 3; i++) write();
      expect(raised).toEqual([]);
      writeFileSync(file, rule('/srv/'));
      expect(detector.reload()).toBe(true);
      write();
      expect(raised).toEqual(['Test rule']);
      writeFileSync(file, rule('/etc/'));
      expect(detector.reload()).toBe(true);
      write();
      expect(raised).toEqual(['Test rule']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stay right past the memo bound: the answers start over, and are the same', () => {
    const set = load(ruleYaml('evt.type = open and evt.is_open_write = true and fd.name endswith 7'));
    const filter = set.route.open.classes[1]!.filters[0]!;
    const world = new World();
    let hits = 0;
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < MEMO_SIZE + 100; i++) {
        const e = world.event('open', { path: `/srv/f${i}`, flags: 1, result: 3 });
        if (filter.mask(e, world.x) !== 0) hits++;
        expect(filter.size).toBeLessThanOrEqual(MEMO_SIZE);
      }
    }
    expect(hits).toBe(2 * Array.from({ length: MEMO_SIZE + 100 }, (_, i) => i).filter((i) => String(i).endsWith('7')).length);
  });

  it('count a per-process threshold on the process entry: one scan per process, a new process on the pid counted afresh', () => {
    const world = new World();
    const raised: Alert[] = [];
    const ctx: DetectContext = { tree: world.tree, raise: (a) => raised.push(a) };
    const detector = new RulesDetector({ builtin: true, files: [], watch: false }, silentLogger(), world.x);
    detector.load();
    const scan = (pid: number, n: number, from = 0): void => {
      for (let i = from; i < from + n; i++) {
        detector.onEvent(world.event('connect', { pid, tid: pid, family: 2, addr: `10.0.${i >> 8}.${i & 255}`, port: 22, protocol: 'tcp', result: -111 }), ctx);
      }
    };
    const scans = (): number => raised.filter((a) => a.rule === 'Internal port scan').length;
    scan(300, 39);
    scan(301, 39); // another process's connects do not count towards pid 300's
    expect(scans()).toBe(0);
    scan(300, 1, 39);
    expect(scans()).toBe(1);
    expect(raised.find((a) => a.rule === 'Internal port scan')!.fields['threshold.count']).toBe(40);
    // pid 301 exits and the pid is reused (a fork makes a new process on it): its 39 are gone.
    detector.onEvent(world.event('exit', { pid: 301, tid: 301 }), ctx);
    detector.onEvent(world.event('fork', { pid: 1, tid: 1, childPid: 301 }), ctx);
    scan(301, 1, 39);
    expect(scans()).toBe(1);
    scan(301, 39);
    expect(scans()).toBe(2);
  });

  it("read a threshold's key by the field's argument (proc.env[HOME]: that variable's value)", () => {
    const set = load(ruleYaml('evt.type = exec', '  threshold:\n    by:\n      - proc.env[HOME]\n    count: 2\n    window: 1m\n'));
    expect(set.report.errors).toEqual([]);
    const by = set.rules[0]!.threshold!.by[0]!;
    const world = new World();
    const run = (pid: number, env: string[]): Event => world.exec(pid, 1, '/bin/true', ['true'], undefined, { env });
    expect(by(run(10, ['HOME=/root', 'USER=root']), world.x)).toBe('/root');
    expect(by(run(11, ['USER=root', 'HOME=/home/u']), world.x)).toBe('/home/u');
    expect(by(run(12, ['USER=root']), world.x)).toBeUndefined();
  });

  it('answer by intern slot only for the same string: values sharing a slot (a collision, a stale hint) are each decided', () => {
    const set = load(ruleYaml('evt.type = open and evt.is_open_write = true and fd.name endswith 7'));
    const filter = set.route.open.classes[1]!.filters[0]!;
    const world = new World();
    let hits = 0;
    let want = 0;
    for (let i = 0; i < 2000; i++) {
      // Eight slots for 2000 paths, in turn: every lookup finds another path at its slot.
      const e = world.event('open', { path: `/srv/f${i % 50}`, flags: 1, result: 3, pathKey: i % 8, comm: 'app', commKey: 3 });
      if (filter.mask(e, world.x) !== 0) hits++;
      if ((i % 50) % 10 === 7) want++;
    }
    expect(hits).toBe(want);
  });
});

