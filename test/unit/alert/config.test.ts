// The sink and alert keys of the config file: defaults, and errors that
// name the key and never repeat a secret.
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfigYaml } from '../../../src/config/load.js';

function problems(text: string): string[] {
  try {
    parseConfigYaml(text, 'vigil.yaml');
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected the config to be rejected');
}

describe('alert config', () => {
  it('gives every sink and alert key a default', () => {
    const c = parseConfigYaml(
      ['sinks:', '  - { type: file, path: /var/log/vigil/alerts.jsonl }', '  - { type: webhook, urlFile: /run/secrets/hook }', '  - { type: slack, url: "https://hooks.slack.com/services/T/B/x" }'].join('\n'),
      'vigil.yaml',
    );
    expect(c.sinks).toEqual([
      { type: 'file', path: '/var/log/vigil/alerts.jsonl', format: 'json', maxBytes: 100 << 20, keep: 5 },
      { type: 'webhook', urlFile: '/run/secrets/hook', timeoutMs: 5000, format: 'vigil', headers: {} },
      { type: 'slack', url: 'https://hooks.slack.com/services/T/B/x', timeoutMs: 5000 },
    ]);
    expect(c.alerts).toEqual({
      foldWindowMs: 60_000,
      rateLimit: {
        perRule: { perMinute: 60, burst: 20 },
        perWorkload: { perMinute: 120, burst: 40 },
        global: { perMinute: 600, burst: 100 },
        priorities: {},
        summaryDelayMs: 1000,
        summaryMs: 60_000,
      },
      queue: { maxBytes: 256 << 20 },
      retry: { initialMs: 1000, maxMs: 300_000 },
    });
  });

  it('takes the older rate-limit keys as before, and per-priority shapes that replace the defaults for one priority', () => {
    const old = parseConfigYaml('alerts:\n  rateLimit: { perRule: null, global: { perMinute: 10, burst: 5 }, summaryMs: 5000 }\n', 'vigil.yaml');
    expect(old.alerts.rateLimit).toMatchObject({ perRule: null, global: { perMinute: 10, burst: 5 }, summaryMs: 5000, summaryDelayMs: 1000 });
    const c = parseConfigYaml(
      ['alerts:', '  rateLimit:', '    priorities:', '      critical: { perWorkload: null, global: { perMinute: 6000, burst: 1000 } }', '      debug: { global: null }'].join('\n'),
      'vigil.yaml',
    );
    expect(c.alerts.rateLimit.priorities).toEqual({ critical: { perWorkload: null, global: { perMinute: 6000, burst: 1000 } }, debug: { global: null } });
    expect(problems('alerts:\n  rateLimit:\n    priorities:\n      severe: { global: null }\n')[0]).toMatch(/^vigil\.yaml:4:7: alerts\.rateLimit\.priorities/);
  });

  it('names the sink and key of each mistake, without repeating the URL', () => {
    const out = problems(
      [
        'sinks:',
        '  - { type: webhook, url: "ftp://hooks.example/T0KEN123" }',
        '  - { type: slack, url: "https://hooks.slack.com/x", urlFile: /run/secrets/slack }',
        '  - { type: webhook, url: "https://h.example/", secret: short }',
        '  - { type: webhook, url: "https://h.example/", headers: { X-Vigil-Signature: forged } }',
        '  - { type: stdout, id: webhook-1 }',
        'alerts:',
        '  retry: { initialMs: 5000, maxMs: 100 }',
      ].join('\n'),
    );
    expect(out).toEqual([
      'vigil.yaml:2:27: sinks[0].url: must be an http:// or https:// URL',
      'vigil.yaml:3:5: sinks[1]: give exactly one of url, urlFile',
      'vigil.yaml:4:57: sinks[2].secret: must be at least 16 characters',
      'vigil.yaml:5:58: sinks[3].headers: must not set Content-Type, Content-Length, Host or X-Vigil-*',
      "vigil.yaml:6:25: sinks[4].id: sink id 'webhook-1' is already used by sinks[0]",
      'vigil.yaml:8:10: alerts.retry: initialMs must not exceed maxMs',
    ]);
    expect(out.join('\n')).not.toContain('T0KEN123');
  });

  it('rejects unknown sink keys and types', () => {
    expect(problems('sinks:\n  - { type: slack, url: "https://h/x", channel: "#sec" }\n')).toEqual(["vigil.yaml:2:5: sinks[0]: unknown key 'channel'"]);
    expect(problems('sinks:\n  - { type: pagerduty }\n')[0]).toMatch(/^vigil\.yaml:2:\d+: sinks\[0\]\.type: /);
  });
});
