// fd.sip.name & co.: addresses compared with domain names, as Falco's
// dns_manager does it. The system resolver is used for real, on
// `localhost` only (answered from /etc/hosts: no DNS traffic leaves the
// machine); the refresh schedule with a lookup the test controls.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { lookup } from 'node:dns/promises';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DnsNames } from '../../../src/detect/rules/dns-names.js';
import { formatOutput } from '../../../src/detect/rules/output.js';
import { RulesDetector } from '../../../src/detect/rules/detector.js';
import { createLogger } from '../../../src/log.js';
import { load, ruleYaml, World } from './support.js';
import { waitFor } from '../../support/kernel.js';

const connect = (w: World, addr: string, family = 2) => w.event('connect', { family, addr, port: 443, protocol: 'tcp', result: 0 });

describe('domain names in conditions', () => {
  const opened: DnsNames[] = [];
  afterEach(() => {
    for (const d of opened.splice(0)) d.close();
    vi.useRealTimers();
  });

  it("matches a connect to an address the name resolves to (the system resolver, localhost from /etc/hosts)", async () => {
    const localhost = (await lookup('localhost', { all: true })).map((a) => a.address);
    const w = new World();
    const set = load(ruleYaml('evt.type = connect and fd.sip.name = localhost'));
    expect(set.report.errors).toEqual([]);
    expect(set.dnsNames).toEqual(['localhost']);
    const dns = new DnsNames();
    opened.push(dns);
    w.x.dns = dns;
    const fn = set.rules[0]!.condition.byType.get('connect')!;
    // Before the first answer nothing matches (rules never wait for a lookup).
    dns.watch(set.dnsNames);
    expect(fn(connect(w, localhost[0]!), w.x)).toBe(false);
    await waitFor('localhost to resolve', () => dns.settled);
    for (const a of localhost) expect(fn(connect(w, a, a.includes(':') ? 10 : 2), w.x)).toBe(true);
    expect(fn(connect(w, '10.1.2.3'), w.x)).toBe(false);
    // As output: the watched name the address came from.
    const out = formatOutput(load(`- rule: O\n  desc: d\n  condition: evt.type = connect\n  output: "to %fd.sip.name"\n  priority: INFO\n`).rules[0]!.output, connect(w, localhost[0]!), w.x);
    expect(out.output).toBe('to localhost');
  });

  it('takes =, != and in, missing where there is no address, and refuses other operators', async () => {
    const w = new World();
    w.x.dns = new DnsNames(true, async (name) => (name === 'c2.example' ? ['192.0.2.7'] : []));
    opened.push(w.x.dns);
    const fn = (cond: string) => load(ruleYaml(cond)).rules[0]!.condition.byType.get('connect')!;
    w.x.dns.watch(['c2.example', 'nope.example']);
    await waitFor('the names to resolve', () => w.x.dns.settled);
    expect(fn('evt.type = connect and fd.sip.name in (nope.example, c2.example)')(connect(w, '192.0.2.7'), w.x)).toBe(true);
    expect(fn('evt.type = connect and fd.sip.name != c2.example')(connect(w, '192.0.2.8'), w.x)).toBe(true);
    expect(fn('evt.type = connect and fd.sip.name != c2.example')(connect(w, '192.0.2.7'), w.x)).toBe(false);
    // A unix socket has no address: missing, so even != is false.
    expect(fn('evt.type = connect and fd.sip.name != c2.example')(w.event('connect', { family: 1, unixPath: '/run/x.sock' }), w.x)).toBe(false);
    expect(load(ruleYaml('evt.type = connect and fd.sip.name endswith .example')).report.errors[0]!.message).toContain("field fd.sip.name compares only with =, ==, !=, in, not 'endswith'");
  });

  it('resolves again in the background, every 10 s while the answer changes and less often while it does not', async () => {
    vi.useFakeTimers();
    let answer = ['192.0.2.1'];
    const asked: number[] = [];
    const dns = new DnsNames(true, async () => {
      asked.push(Date.now());
      return answer;
    });
    opened.push(dns);
    dns.watch(['c2.example']);
    await vi.advanceTimersByTimeAsync(0);
    expect(dns.matches('c2.example', '192.0.2.1')).toBe(true);
    answer = ['192.0.2.2'];
    await vi.advanceTimersByTimeAsync(10_000);
    expect(dns.matches('c2.example', '192.0.2.1')).toBe(false);
    expect(dns.matches('c2.example', '192.0.2.2')).toBe(true);
    // Unchanged now: the next lookups come 20 s, then 40 s apart.
    await vi.advanceTimersByTimeAsync(10_000 + 20_000 + 40_000);
    const gaps = asked.slice(1).map((t, i) => t - asked[i]!);
    expect(gaps).toEqual([10_000, 10_000, 20_000, 40_000]);
  });

  it('a failed lookup keeps the last answer and is counted', async () => {
    let fail = false;
    const dns = new DnsNames(true, async () => {
      if (fail) throw new Error('SERVFAIL');
      return ['192.0.2.1'];
    });
    opened.push(dns);
    vi.useFakeTimers();
    dns.watch(['c2.example']);
    await vi.advanceTimersByTimeAsync(0);
    fail = true;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(dns.failures).toBe(1);
    expect(dns.matches('c2.example', '192.0.2.1')).toBe(true);
  });

  it('with rules.resolveNames false looks nothing up, matches nothing, and says so when the rules load', () => {
    const lines: { msg: string }[] = [];
    const log = createLogger('debug', { destination: { write: (s: string) => void lines.push(JSON.parse(s) as { msg: string }) } as never });
    const w = new World();
    const dir = mkdtempSync(join(tmpdir(), 'vigil-dns-'));
    const file = join(dir, 'rules.yaml');
    writeFileSync(file, ruleYaml('evt.type = connect and fd.sip.name = localhost'));
    const det = new RulesDetector({ builtin: false, files: [file], watch: false, resolveNames: false }, log, w.x);
    try {
      expect(w.x.dns.enabled).toBe(false);
      // Loading a set that names a domain: nothing resolved, a warning.
      det.load();
      expect(w.x.dns.watched).toBe(1);
      expect(w.x.dns.matches('localhost', '127.0.0.1')).toBe(false);
      expect(lines.some((l) => /rules.resolveNames is false: those comparisons never match/.test(l.msg))).toBe(true);
    } finally {
      det.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
