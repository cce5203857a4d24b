// proc.env: Falco's field over the environment the probe sends (names, and
// values only for an allow-list), the engine's own redaction of anything
// else, and the built-in loader-variable rules with their exceptions.
import { describe, expect, it } from 'vitest';
import { compileOutput, formatOutput } from '../../../src/detect/rules/output.js';
import { buildRuleSet, builtinFiles } from '../../../src/detect/rules/ruleset.js';
import { redactEnvEntry } from '../../../src/model/env.js';
import type { Event } from '../../../src/model/event.js';
import { compile, HOST, matches, World } from './support.js';

const ENV = ['HOME=<redacted>', 'AWS_SECRET_ACCESS_KEY=<redacted>', 'PATH=/usr/bin:/bin', 'LD_PRELOAD=/tmp/evil.so'];

function check(condition: string, e: (w: World) => Event, w = new World()): boolean {
  return matches(compile(condition), e(w), w.x);
}

describe('proc.env', () => {
  const exec = (w: World) => w.exec(200, 1, '/usr/bin/curl', ['curl'], undefined, { env: ENV });

  it("reads as Falco's 'NAME=value NAME2=value2', and proc.env[NAME] as one value", () => {
    const w = new World();
    const e = exec(w);
    expect(matches(compile('proc.env exists'), e, w.x)).toBe(true);
    const out = (text: string): string => formatOutput(compileOutput(text, { file: 't', line: 1, col: 1 }), e, w.x).output;
    // Free text with spaces is quoted, as every free-text field in an output.
    expect(out('env=%proc.env')).toBe(`env=${JSON.stringify(ENV.join(' '))}`);
    expect(out('%proc.env[LD_PRELOAD] %proc.env[AWS_SECRET_ACCESS_KEY] %proc.env[NOPE]')).toBe('/tmp/evil.so "<redacted>" <NA>');
  });

  it('matches names whatever their value, and values on the list', () => {
    expect(check('proc.env icontains aws_secret_access_key', exec)).toBe(true);
    expect(check('proc.env[LD_PRELOAD] = /tmp/evil.so', exec)).toBe(true);
    expect(check('proc.env[AWS_SECRET_ACCESS_KEY] exists', exec)).toBe(true);
    expect(check('proc.env[HTTP_PROXY] exists', exec)).toBe(false);
    expect(check('proc.env icontains HTTP_PROXY', exec)).toBe(false);
  });

  it("is the process's from its exec on, inherited over fork, and unknown for a process that never exec-ed before the engine", () => {
    const w = new World();
    exec(w);
    const open = w.event('open', { pid: 200, path: '/etc/hosts', result: 3 });
    expect(matches(compile('proc.env[LD_PRELOAD] = /tmp/evil.so'), open, w.x)).toBe(true);
    w.event('fork', { pid: 200, childPid: 201 });
    const child = w.event('open', { pid: 201, ppid: 200, path: '/etc/hosts', result: 3 });
    expect(matches(compile('proc.env[LD_PRELOAD] = /tmp/evil.so'), child, w.x)).toBe(true);
    const stranger = w.event('open', { pid: 999, path: '/etc/hosts', result: 3 });
    expect(matches(compile('proc.env exists'), stranger, w.x)).toBe(false);
  });
});

describe("proc.aenv: an ancestor's environment", () => {
  // 100 → 200 → 300: each exec-ed with its own environment.
  const world = (): { w: World; e: Event } => {
    const w = new World();
    w.exec(100, 1, '/usr/bin/bash', ['bash'], undefined, { env: ['HOME=<redacted>', 'LD_PRELOAD=/tmp/evil.so', 'PATH=/bin'] });
    w.event('fork', { pid: 100, childPid: 200 });
    w.exec(200, 100, '/usr/bin/make', ['make'], undefined, { env: ['PATH=/usr/bin', 'MAKEFLAGS=<redacted>'] });
    w.event('fork', { pid: 200, ppid: 100, childPid: 300 });
    const e = w.exec(300, 200, '/usr/bin/cc', ['cc'], undefined, { env: ['PATH=/usr/local/bin'] });
    return { w, e };
  };

  it('reads the N-th ancestor by index, a variable in the nearest ancestor that has it by name (the parent first)', () => {
    const { w, e } = world();
    const out = (text: string): string => formatOutput(compileOutput(text, { file: 't', line: 1, col: 1 }), e, w.x).output;
    expect(out('%proc.aenv[0] | %proc.aenv[1] | %proc.aenv[3]')).toBe('"PATH=/usr/local/bin" | "PATH=/usr/bin MAKEFLAGS=<redacted>" | <NA>');
    expect(out('%proc.aenv[PATH] %proc.aenv[LD_PRELOAD] %proc.aenv[NOPE]')).toBe('/usr/bin /tmp/evil.so <NA>');
    expect(out('%proc.aenv')).toBe('"PATH=/usr/local/bin"');
  });

  it('matches any ancestor without an argument', () => {
    const { w, e } = world();
    expect(matches(compile('proc.aenv contains "LD_PRELOAD=/tmp/evil.so"'), e, w.x)).toBe(true);
    expect(matches(compile('proc.env contains LD_PRELOAD'), e, w.x)).toBe(false);
    expect(matches(compile('proc.aenv contains NOPE'), e, w.x)).toBe(false);
    expect(matches(compile('proc.aenv[LD_PRELOAD] = /tmp/evil.so'), e, w.x)).toBe(true);
    expect(matches(compile('proc.aenv[2] contains LD_PRELOAD'), e, w.x)).toBe(true);
  });
});

describe('built-in rule: environment too large to inspect', () => {
  const set = buildRuleSet(builtinFiles());
  const rule = set.rules.find((r) => r.name === 'Environment too large to inspect in a container')!;
  const fires = (envTruncated: boolean, host = false): boolean => {
    const w = new World();
    const e = w.exec(300, 1, '/usr/bin/id', ['id'], host ? HOST : undefined, { env: ['PAD_0=<redacted>'], envTruncated });
    return rule.condition.byType.get(e.type)?.(e, w.x) ?? false;
  };

  it('fires for an exec in a container whose environment the probe cut, not for a whole one, nor on the node', () => {
    expect(rule.priority).toBe('notice');
    expect(fires(true)).toBe(true);
    expect(fires(false)).toBe(false);
    expect(fires(true, true)).toBe(false);
  });
});

describe("the engine's own redaction", () => {
  it('keeps names and the allowed values, redacts the rest and proxy credentials', () => {
    expect(redactEnvEntry('DB_PASSWORD=hunter2')).toBe('DB_PASSWORD=<redacted>');
    expect(redactEnvEntry('LD_PRELOAD=/tmp/x.so')).toBe('LD_PRELOAD=/tmp/x.so');
    expect(redactEnvEntry('ld_preload=/tmp/x.so')).toBe('ld_preload=<redacted>');
    expect(redactEnvEntry('HTTPS_PROXY=http://bob:s3cr3t@proxy.example:3128/')).toBe('HTTPS_PROXY=http://<redacted>@proxy.example:3128/');
    expect(redactEnvEntry('http_proxy=tok3n@proxy:8080')).toBe('http_proxy=<redacted>@proxy:8080');
    expect(redactEnvEntry('HTTP_PROXY=http://proxy:8080/a@b')).toBe('HTTP_PROXY=http://proxy:8080/a@b');
    expect(redactEnvEntry('NO_PROXY=localhost,10.0.0.0/8')).toBe('NO_PROXY=localhost,10.0.0.0/8');
    expect(redactEnvEntry('s3cr3t-without-a-name')).toBe('<redacted>');
  });
});

describe('built-in rules: dynamic loader variables', () => {
  const set = buildRuleSet(builtinFiles());
  const fired = (e: Event, w: World): string[] =>
    set.rules.filter((r) => r.name.startsWith('Dynamic loader variable')).filter((r) => r.condition.byType.get(e.type)?.(e, w.x)).map((r) => r.name);
  const run = (env: string[], host = false, name = '/usr/bin/id'): string[] => {
    const w = new World();
    const e = w.exec(300, 1, name, [name], host ? HOST : undefined, { env });
    return fired(e, w);
  };

  it('fire for LD_PRELOAD, LD_AUDIT and GLIBC_TUNABLES, in a container and (lower) on the node', () => {
    expect(run(['LD_PRELOAD=/tmp/evil.so'])).toEqual(['Dynamic loader variable set in a container']);
    expect(run(['LD_AUDIT=/dev/shm/a.so'])).toEqual(['Dynamic loader variable set in a container']);
    expect(run(['GLIBC_TUNABLES=glibc.malloc.mxfast=glibc.malloc.mxfast=A'])).toEqual(['Dynamic loader variable set in a container']);
    expect(run(['LD_PRELOAD=/tmp/evil.so'], true)).toEqual(['Dynamic loader variable set on the node']);
    const node = set.rules.find((r) => r.name === 'Dynamic loader variable set on the node')!;
    const container = set.rules.find((r) => r.name === 'Dynamic loader variable set in a container')!;
    expect(node.priority).toBe('notice');
    expect(container.priority).toBe('warning');
  });

  it('stay quiet for the environment of an ordinary program and for the values on the exception lists', () => {
    expect(run(['PATH=/usr/bin', 'HOME=<redacted>', 'LD_LIBRARY_PATH=/usr/local/cuda/lib64'])).toEqual([]);
    expect(run(['LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2'])).toEqual([]);
    expect(run(['GLIBC_TUNABLES=glibc.pthread.rseq=0'])).toEqual([]);
    expect(run(['LD_PRELOAD=libfakeroot-sysv.so'], true)).toEqual([]);
    expect(run(['LD_PRELOAD=libjemalloc.so.2', 'LD_AUDIT=/tmp/a.so'])).toEqual(['Dynamic loader variable set in a container']);
  });
});
