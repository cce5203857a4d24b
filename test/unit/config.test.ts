// Config files: defaults for everything, and errors that say where.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfigYaml } from '../../src/config/load.js';
import { probeArgs } from '../../src/probe/supervisor.js';

function problems(text: string): string[] {
  try {
    parseConfigYaml(text, 'vigil.yaml');
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected the config to be rejected');
}

describe('config', () => {
  it('gives every key a default (the built-in config npm start runs with)', () => {
    const c = loadConfig(undefined);
    expect(c.engine.listen).toBe('unix:///run/vigil/engine.sock');
    expect(c.defaultMode).toBe('learn');
    expect(c.stateDir).toBe('/var/lib/vigil');
    expect(c.sinks).toEqual([{ type: 'stdout', format: 'text' }]);
    expect(c.eventLog).toBeNull();
  });

  it('reads the documented keys', () => {
    const c = parseConfigYaml(
      [
        'engine:',
        '  listen: tcp://127.0.0.1:7700',
        '  tls: { ca: /tls/ca.crt, cert: /tls/engine.crt, key: /tls/engine.key }',
        'defaultMode: monitor',
        'workloads:',
        '  - { name: web, cgroup: /shop/web }',
        'sinks:',
        '  - { type: stdout }',
        '  - { type: file, path: /var/log/vigil/alerts.jsonl }',
        'eventLog: /var/log/vigil/events.jsonl',
      ].join('\n'),
      'vigil.yaml',
    );
    expect(c.engine.listen).toBe('tcp://127.0.0.1:7700');
    expect(c.workloads).toEqual([{ name: 'web', cgroup: '/shop/web' }]);
    expect(c.sinks[1]).toEqual({ type: 'file', path: '/var/log/vigil/alerts.jsonl', format: 'json', maxBytes: 100 << 20, keep: 5 });
  });

  it('names file, line, column and key path of a wrong value', () => {
    expect(problems('stateDir: /x\ndefaultMode: protect\n')).toEqual([
      expect.stringMatching(/^vigil\.yaml:2:14: defaultMode: .*"learn"\|"monitor"\|"enforce"/),
    ]);
    expect(problems('workloads:\n  - { name: web, cgroup: shop/web }\n')).toEqual([
      'vigil.yaml:2:26: workloads[0].cgroup: must be a cgroup path starting with /',
    ]);
    expect(problems('probe:\n  ringbufBytes: 1000000\n')[0]).toMatch(/^vigil\.yaml:2:17: probe\.ringbufBytes: must be a power of two$/);
    expect(problems('probe:\n  flushMs: 4\n  flushBusyMs: 2\n')).toEqual([
      'vigil.yaml:3:16: probe.flushBusyMs: must be at least probe.flushMs: a busy flow is read no more often than any other',
    ]);
  });

  it('passes a busy flow\'s read period to the probe only when set (unset, the probe reads it every 4 flush periods)', () => {
    const args = (yaml: string) => {
      const c = parseConfigYaml(yaml, 'vigil.yaml');
      return probeArgs({
        path: '/p', engine: c.engine.listen, nodeName: 'n', ringbufBytes: c.probe.ringbufBytes, batchMax: c.probe.batchMax,
        flushMs: c.probe.flushMs, ...(c.probe.flushBusyMs !== undefined ? { flushBusyMs: c.probe.flushBusyMs } : {}),
        lossReportMs: c.probe.lossReportMs, queueEvents: c.probe.queueEvents, excludePids: [],
      });
    };
    expect(args('probe:\n  flushBusyMs: 16\n').join(' ')).toContain('--flush-ms 2 --loss-report-ms 1000 --queue-events 262144 --flush-busy-ms 16');
    expect(args('probe: {}\n')).not.toContain('--flush-busy-ms');
  });

  it('refuses an argv redaction pattern that is not a regular expression or matches nothing but the empty string, naming which', () => {
    expect(problems("redaction:\n  argvPatterns: ['--license=(\\S+)', '(unclosed', 'x*']\n")).toEqual([
      expect.stringMatching(/^vigil\.yaml:2:37: redaction\.argvPatterns\[1\]: "\(unclosed": not a regular expression: .*Unterminated group/),
      'vigil.yaml:2:50: redaction.argvPatterns[2]: "x*": matches the empty string',
    ]);
    expect(parseConfigYaml("redaction: { argvPatterns: ['--license=(\\S+)'] }", 'vigil.yaml').redaction.argvPatterns).toEqual(['--license=(\\S+)']);
  });

  it('rejects unknown keys (a typo must not be silently ignored)', () => {
    expect(problems('engine:\n  lisen: unix:///x\n')).toEqual(["vigil.yaml:2:3: engine: unknown key 'lisen'"]);
  });

  it('reports YAML syntax errors with their position', () => {
    expect(problems('engine:\n  listen: [unclosed\n')[0]).toMatch(/^vigil\.yaml:\d+:\d+: /);
  });

  it('rejects listen addresses that are neither unix nor tcp', () => {
    expect(problems('engine: { listen: "0.0.0.0:7700" }')[0]).toMatch(/engine\.listen: must be unix:\/\/\/absolute\/path or tcp:\/\/host:port/);
  });

  it('accepts the configuration docs/configuration.md documents, key for key, and the excerpt in README.md', () => {
    const yamlBlock = (file: string): string => {
      const text = readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');
      const block = /```yaml\n([\s\S]*?)```/.exec(text.slice(text.indexOf('Configuration')))?.[1];
      expect(block, `${file}'s configuration block`).toBeDefined();
      return block!;
    };
    const c = parseConfigYaml(yamlBlock('docs/configuration.md'), 'docs/configuration.md');
    expect(c.engine.tls?.serverName).toBe('vigil-engine');
    expect(c.profiles.protectedPaths).toContain('/etc/');
    expect(c.responses).toHaveLength(2);
    const short = parseConfigYaml(yamlBlock('README.md'), 'README.md');
    expect(short.sinks.map((x) => x.type)).toEqual(['stdout', 'webhook', 'slack']);
  });

  it('names an unreadable file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-cfg-'));
    expect(() => loadConfig(join(dir, 'missing.yaml'))).toThrow(/missing\.yaml: cannot read/);
    writeFileSync(join(dir, 'ok.yaml'), 'nodeName: n1\n');
    expect(loadConfig(join(dir, 'ok.yaml')).nodeName).toBe('n1');
  });
});
