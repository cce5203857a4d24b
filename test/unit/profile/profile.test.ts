// The profile model: what counts as new, how network rules widen, and the
// WorkloadProfile document it exports, validates, diffs and enforces.
import { describe, expect, it } from 'vitest';
import type { Event } from '../../../src/model/event.js';
import {
  diffDocuments, fromDocument, kernelPolicy, parsePolicyYaml, PolicyError, toDocument, toNetworkPolicy, toYaml,
} from '../../../src/detect/profile/policy.js';
import { DEFAULT_LIMITS, Profile } from '../../../src/detect/profile/profile.js';
import { assignEvent, makeEvent, type EventFields } from '../../support/events.js';

const W = { key: 'named:web', name: 'web', kind: 'named', namespace: '' };

function ev(type: Event['type'], fields: EventFields): Event {
  return makeEvent(type, { pid: 10, uid: 33, ...fields });
}
const exec = (exe: string, argv: string[] = [exe], uid = 33) => ev('exec', { path: exe, argv, uid });
const connect = (addr: string, port: number) => ev('connect', { addr, port, protocol: 'tcp', family: 2 });
const accept = (addr: string, localPort: number) => ev('accept', { addr, localPort, protocol: 'tcp', result: 5 });

describe('profile', () => {
  it('tells new executables, users, parents and arguments apart, learning them in learn mode only', () => {
    const p = new Profile();
    expect(p.observe(exec('/usr/sbin/nginx', ['nginx', '-g', 'daemon off;']), '/usr/bin/dash', true)?.kind).toBe('new-executable');
    expect(p.observe(exec('/usr/sbin/nginx', ['nginx', '-g', 'daemon off;']), '/usr/bin/dash', false)).toBeNull();
    expect(p.observe(exec('/usr/sbin/nginx', ['nginx', '-g', 'daemon off;'], 0), '/usr/bin/dash', false)).toMatchObject({ kind: 'new-user', message: '/usr/sbin/nginx runs as a new user: uid 0 (seen: 33)' });
    expect(p.observe(exec('/usr/sbin/nginx', ['nginx', '-g', 'daemon off;']), '/usr/bin/python3', false)?.kind).toBe('new-parent');
    expect(p.observe(exec('/usr/sbin/nginx', ['nginx', '-s', 'reload']), '/usr/bin/dash', false)).toMatchObject({ kind: 'new-arguments', what: '/usr/sbin/nginx -s reload' });
    const nc = p.observe(exec('/usr/bin/nc', ['nc', '-e', '/bin/sh']), '/usr/bin/dash', false);
    expect(nc).toMatchObject({ kind: 'new-executable', message: 'new executable /usr/bin/nc, parent /usr/bin/dash' });
    // Monitoring did not teach it anything.
    expect(p.observe(exec('/usr/bin/nc'), '/usr/bin/dash', false)?.kind).toBe('new-executable');
  });

  it('learns argument lists with their secrets redacted: the next run with another secret matches, and the export and a reload hold none', () => {
    const p = new Profile();
    const run = (secret: string, path = '/srv/dump.sql') => exec('/usr/bin/mysqldump', ['mysqldump', '-uroot', `-p${secret}`, `--password=${secret}`, 'shop', `--result-file=${path}`]);
    p.observe(run('hunter2'), '/usr/bin/dash', true);
    expect(p.observe(run('s3cr3t'), '/usr/bin/dash', false)).toBeNull();
    expect(p.observe(run('s3cr3t', '/tmp/x.sql'), '/usr/bin/dash', false)).toMatchObject({
      kind: 'new-arguments', what: '/usr/bin/mysqldump -uroot -p<redacted> --password=<redacted> shop --result-file=/tmp/x.sql',
    });
    const yaml = toYaml([toDocument(p, W, 'monitor')]);
    expect(yaml).toContain('-uroot -p<redacted> --password=<redacted> shop --result-file=/srv/dump.sql');
    expect(yaml).not.toContain('hunter2');
    // A file reviewed by hand (or written before redaction) with a secret in it: loaded redacted, and matching.
    const [doc] = parsePolicyYaml(yaml.replace('-p<redacted> --password=<redacted>', '-pOLD --password=OLD'), 'p.yaml');
    const loaded = fromDocument(doc!, DEFAULT_LIMITS);
    expect(toYaml([toDocument(loaded, W, 'monitor')])).not.toContain('OLD');
    expect(loaded.observe(run('new'), '/usr/bin/dash', false)).toBeNull();
    // vigil policy diff: the file's secret is no difference, and is not printed.
    expect(diffDocuments(doc!, toDocument(p, W, 'monitor'))).toEqual([]);
  });

  it('knows a learned executable by its content: another file at its path is a new executable, in the document and the kernel policy too', () => {
    const A = 'a'.repeat(64);
    const B = 'b'.repeat(64);
    const p = new Profile();
    p.observe(assignEvent(exec('/usr/bin/cat'), { sha256: A }), '/bin/sh', true);
    expect(p.observe(assignEvent(exec('/usr/bin/cat'), { sha256: A }), '/bin/sh', false)).toBeNull();
    expect(p.observe(assignEvent(exec('/usr/bin/cat'), { sha256: B }), '/bin/sh', false)).toMatchObject({ kind: 'new-executable', what: `/usr/bin/cat sha256 ${B}` });
    // Stopped by the kernel with no content read: still another file.
    expect(p.observe(Object.assign(exec('/usr/bin/cat'), { blocked: true }), '/bin/sh', false)?.kind).toBe('new-executable');
    // An exec whose content the probe could not read is not judged by it.
    expect(p.observe(exec('/usr/bin/cat'), '/bin/sh', false)).toBeNull();
    const doc = toDocument(p, W, 'enforce');
    expect(doc.spec.processes).toEqual([{ exe: '/usr/bin/cat', parents: ['/bin/sh'], users: [33], args: [''], sha256: [A] }]);
    expect(kernelPolicy(doc, []).execContents).toEqual([{ path: '/usr/bin/cat', sha256: [A] }]);
    const back = fromDocument(parsePolicyYaml(toYaml([doc]), 'cat.yaml')[0]!, DEFAULT_LIMITS);
    expect(back.observe(assignEvent(exec('/usr/bin/cat'), { sha256: B }), '/bin/sh', false)?.kind).toBe('new-executable');
  });

  it('stops comparing arguments that vary while learning', () => {
    const p = new Profile({ ...DEFAULT_LIMITS, stableArgs: 3 });
    for (let i = 0; i < 5; i++) p.observe(exec('/usr/bin/python3', ['python3', `job-${i}.py`]), '/bin/sh', true);
    expect(p.observe(exec('/usr/bin/python3', ['python3', 'anything.py']), '/bin/sh', false)).toBeNull();
    expect(p.processes.get('/usr/bin/python3')!.args).toBeNull();
  });

  it('separates reads from writes (a writer may read what it writes, not the reverse)', () => {
    const p = new Profile();
    p.observe(ev('open', { path: '/etc/nginx/nginx.conf', flags: 0 }), '', true);
    p.observe(ev('open', { path: '/var/log/nginx/access.log', flags: 0o2101 }), '', true);
    expect(p.observe(ev('open', { path: '/var/log/nginx/access.log', flags: 0 }), '', false)).toBeNull();
    expect(p.observe(ev('open', { path: '/etc/nginx/nginx.conf', flags: 0o1 }), '', false)).toMatchObject({ kind: 'new-file-write' });
    expect(p.observe(ev('unlink', { path: '/etc/nginx/nginx.conf' }), '', false)?.kind).toBe('new-file-write');
    expect(p.observe(ev('rename', { path: '/var/log/nginx/access.log', path2: '/etc/passwd' }), '', false)).toMatchObject({ kind: 'new-file-write', what: '/etc/passwd' });
  });

  it('counts a mkdir or a link as a write where a security hook denied it, and not otherwise', () => {
    const p = new Profile();
    p.observe(ev('open', { path: '/etc/nginx/nginx.conf', flags: 0 }), '', true);
    expect(p.observe(ev('mkdir', { path: '/etc/nginx/conf.d', result: -1, blocked: true, blockedBy: 'bpf-lsm' }), '', false)).toMatchObject({ kind: 'new-file-write', what: '/etc/nginx/conf.d' });
    expect(p.observe(ev('link', { path: '/etc/nginx/evil', path2: '/etc/shadow', call: 'symlink', result: -1, blocked: true, blockedBy: 'fmod_ret' }), '', false)).toMatchObject({ kind: 'new-file-write', what: '/etc/nginx/evil' });
    expect(p.observe(ev('mkdir', { path: '/tmp/work' }), '', false)).toBeNull();
    expect(p.observe(ev('link', { path: '/tmp/work/l', path2: '/tmp/x', call: 'link' }), '', false)).toBeNull();
  });

  it('widens many hosts of one network on one port into a CIDR, and keeps other ports exact', () => {
    const p = new Profile({ ...DEFAULT_LIMITS, widenAt: 3 });
    for (let i = 1; i <= 4; i++) p.observe(connect(`10.0.7.${i}`, 5432), '', true);
    p.observe(connect('10.0.7.1', 6379), '', true);
    expect(p.egress()).toEqual([
      { to: '10.0.7.1', port: 6379, protocol: 'tcp' },
      { to: '10.0.7.0/24', port: 5432, protocol: 'tcp' },
    ]);
    expect(p.observe(connect('10.0.7.200', 5432), '', false)).toBeNull();
    expect(p.observe(connect('10.0.7.200', 6379), '', false)?.kind).toBe('new-egress');
    expect(p.observe(connect('10.0.8.1', 5432), '', false)).toMatchObject({ kind: 'new-egress', message: 'connects to a new destination 10.0.8.1 port 5432/tcp' });
  });

  it('widens inbound peers from many networks to anyone, per port', () => {
    const p = new Profile({ ...DEFAULT_LIMITS, widenAt: 2 });
    for (let net = 0; net < 4; net++) for (let h = 1; h <= 3; h++) p.observe(accept(`192.168.${net}.${h}`, 8080), '', true);
    expect(p.ingress()).toEqual([{ from: '0.0.0.0/0', port: 8080 }]);
    expect(p.observe(accept('203.0.113.9', 8080), '', false)).toBeNull();
    expect(p.observe(accept('203.0.113.9', 22), '', false)).toMatchObject({ kind: 'new-ingress' });
  });
});

function learned(): Profile {
  const p = new Profile();
  p.observe(exec('/usr/sbin/nginx', ['nginx']), '/usr/bin/dash', true);
  p.observe(exec('/usr/bin/dash', ['sh', '-c', 'nginx']), '/usr/bin/containerd-shim', true);
  p.observe(ev('open', { path: '/etc/nginx/nginx.conf', flags: 0 }), '', true);
  p.observe(ev('open', { path: '/proc/4242/stat', flags: 0 }), '', true);
  p.observe(ev('open', { path: '/etc/nginx/conf.d/cache', flags: 0o101 }), '', true);
  p.observe(ev('open', { path: '/var/cache/nginx/client_temp/0000000001', flags: 0o101 }), '', true);
  p.observe(connect('10.0.0.9', 443), '', true);
  p.observe(ev('listen', { localPort: 80, protocol: 'tcp' }), '', true);
  p.observe(accept('10.1.1.1', 80), '', true);
  return p;
}

describe('WorkloadProfile documents', () => {
  it('export with a stable order and load back to the same decisions', () => {
    const doc = toDocument(learned(), W, 'enforce');
    const yaml = toYaml([doc]);
    const spec = (y: string): string => y.replace(/\nstatus:[\s\S]*$/, '');
    // The same behaviour learned again exports the same text (only the learning times differ).
    expect(spec(toYaml([toDocument(learned(), W, 'enforce')]))).toBe(spec(yaml));
    expect(doc.spec.processes.map((p) => p.exe)).toEqual(['/usr/bin/dash', '/usr/sbin/nginx']);
    expect(doc.spec.files.read).toContain('/proc/*/stat');
    expect(doc.spec.network).toEqual({
      egress: [{ to: '10.0.0.9', port: 443, protocol: 'tcp' }],
      listen: [{ port: 80, protocol: 'tcp' }],
      ingress: [{ from: '10.1.1.1', port: 80 }],
    });
    const [parsed] = parsePolicyYaml(yaml, 'web.yaml');
    const back = fromDocument(parsed!, DEFAULT_LIMITS);
    for (const e of [exec('/usr/sbin/nginx', ['nginx']), ev('open', { path: '/proc/99/stat' }), connect('10.0.0.9', 443), accept('10.1.1.1', 80)]) {
      expect(back.observe(e, e.type === 'exec' ? '/usr/bin/dash' : '', false)).toBeNull();
    }
    for (const e of [exec('/usr/bin/nc'), ev('open', { path: '/etc/shadow' }), connect('10.0.0.10', 443)]) {
      expect(back.observe(e, '', false)).not.toBeNull();
    }
    expect(spec(toYaml([toDocument(back, W, 'enforce')]))).toBe(spec(yaml));
  });

  it('rejects invalid documents with file, line, column and key, and nothing half-applied', () => {
    const yaml = toYaml([toDocument(learned(), W, 'monitor')])
      .replace('mode: monitor', 'mode: protect')
      .replace('to: 10.0.0.9', 'to: 10.0.0.999');
    let problems: string[] = [];
    try {
      parsePolicyYaml(yaml, 'web.yaml');
    } catch (err) {
      problems = (err as PolicyError).problems;
    }
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^web\.yaml:\d+:\d+: spec\.mode: /);
    expect(problems[1]).toMatch(/^web\.yaml:\d+:\d+: spec\.network\.egress\[0\]\.to: must be an IP address or CIDR$/);
    expect(() => parsePolicyYaml('kind: Deployment\n', 'x.yaml')).toThrow(/x\.yaml:1:1: apiVersion/);
    expect(() => parsePolicyYaml('spec: [unclosed\n', 'x.yaml')).toThrow(/x\.yaml:\d+:\d+: /);
  });

  it('diffs what a file has against what was learned', () => {
    const file = toDocument(learned(), W, 'enforce');
    const more = learned();
    more.observe(exec('/usr/bin/curl'), '/usr/bin/dash', true);
    more.observe(connect('10.0.0.9', 8443), '', true);
    const lines = diffDocuments(file, toDocument(more, W, 'monitor'));
    expect(lines).toEqual(['~ mode: monitor → enforce', '- process: /usr/bin/curl (parents /usr/bin/dash) (users 33)', '- egress: tcp 10.0.0.9 port 8443']);
    expect(diffDocuments(file, file)).toEqual([]);
  });

  it('gives the kernel exact executables, destinations and protected writes, and says what it cannot take', () => {
    const doc = toDocument(learned(), W, 'enforce');
    doc.spec.processes.push({ exe: '/opt/app/*/bin/app' });
    const k = kernelPolicy(doc, ['/etc/', '/usr/']);
    expect(k.exec).toEqual(['/usr/bin/dash', '/usr/sbin/nginx']);
    expect(k.write).toEqual(['/etc/nginx/conf.d/cache']);
    expect(k.connect).toEqual([{ family: 2, address: Uint8Array.from([10, 0, 0, 9]), prefixLen: 32, port: 443, protocol: 6 }]);
    expect(k.afterTheFact).toEqual(['1 executable pattern(s) are checked after exec, not at exec']);
  });

  it('exports the network part as a Kubernetes NetworkPolicy', () => {
    const np = toNetworkPolicy(toDocument(learned(), W, 'enforce'), { app: 'web' }) as { spec: Record<string, unknown> };
    expect(np.spec).toEqual({
      podSelector: { matchLabels: { app: 'web' } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [{ from: [{ ipBlock: { cidr: '10.1.1.1/32' } }], ports: [{ protocol: 'TCP', port: 80 }] }],
      egress: [{ to: [{ ipBlock: { cidr: '10.0.0.9/32' } }], ports: [{ protocol: 'TCP', port: 443 }] }],
    });
  });
});
