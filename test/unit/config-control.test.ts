// The CLI's client commands read only the config's control block, without
// the schema (src/config/control.ts). Both readings must take and refuse
// the same control blocks, at the same key, or `vigil status` would dial an
// address the engine never listened on.
import { describe, expect, it } from 'vitest';
import { controlOf, loadControlConfig } from '../../src/config/control.js';
import { ConfigError, parseConfigYaml } from '../../src/config/load.js';
import { parseYaml } from '../../src/config/source.js';

type Reading = { ok: true; control: unknown } | { ok: false; problems: string[] };

function read(fn: () => { control: unknown }): Reading {
  try {
    return { ok: true, control: fn().control };
  } catch (err) {
    if (err instanceof ConfigError) return { ok: false, problems: err.problems };
    throw err;
  }
}

/** "vigil.yaml:2:3: control.tls.ca: ..." → "control.tls.ca" */
const keys = (problems: string[]): string[] => problems.map((p) => /^vigil\.yaml:(?:\d+:\d+:)? ([^:]+):/.exec(p)?.[1] ?? p).sort();

const TLS = 'tls: { ca: /etc/vigil/ca.pem, cert: /etc/vigil/c.pem, key: /etc/vigil/k.pem, clientCert: /etc/vigil/cc.pem, clientKey: /etc/vigil/ck.pem }';

const BLOCKS: Record<string, string> = {
  'no control block': 'defaultMode: monitor',
  'an empty file': '',
  'a unix socket': 'control: { listen: unix:///run/v/control.sock }',
  'tcp with mutual TLS': `control: { listen: 'tcp://127.0.0.1:7701', ${TLS} }`,
  'tcp with a server name': `control: { listen: 'tcp://127.0.0.1:7701', tls: { ca: a, cert: b, key: c, serverName: engine.local } }`,
  'tcp without TLS': "control: { listen: 'tcp://127.0.0.1:7701' }",
  'a listen address of another scheme': "control: { listen: 'http://127.0.0.1:7701' }",
  'a relative unix path': 'control: { listen: unix://run/control.sock }',
  'a number for listen': 'control: { listen: 7701 }',
  'an unknown key': 'control: { listen: unix:///run/v/control.sock, port: 3 }',
  'control as a string': 'control: unix:///run/v/control.sock',
  'control as a list': 'control: [a]',
  'tls without its CA': "control: { listen: 'tcp://127.0.0.1:7701', tls: { cert: b, key: c } }",
  'tls with an empty key': "control: { listen: 'tcp://127.0.0.1:7701', tls: { ca: a, cert: b, key: '' } }",
  'tls with an unknown key': "control: { listen: 'tcp://127.0.0.1:7701', tls: { ca: a, cert: b, key: c, password: x } }",
  'tls as a string': "control: { listen: 'tcp://127.0.0.1:7701', tls: yes }",
  'a YAML syntax error': 'control: { listen: [',
  'a repeated key': 'control: { listen: unix:///a }\ncontrol: { listen: unix:///b }',
};

describe("the control block read on its own (the CLI's client commands)", () => {
  it.each(Object.entries(BLOCKS))('agrees with the whole schema: %s', (_why, text) => {
    const whole = read(() => parseConfigYaml(text, 'vigil.yaml'));
    const alone = read(() => controlOf(parseYaml(text, 'vigil.yaml')));
    expect(alone.ok).toBe(whole.ok);
    if (whole.ok && alone.ok) expect(alone.control).toEqual(whole.control);
    if (!whole.ok && !alone.ok) {
      expect(keys(alone.problems)).toEqual(keys(whole.problems));
      // Each problem names the file and, where the key is in it, its line.
      for (const p of alone.problems) expect(p).toMatch(/^vigil\.yaml:(\d+:\d+:)? /);
    }
  });

  it('does not judge the rest of the file: the engine did when it started', () => {
    const text = 'control: { listen: unix:///run/v/control.sock }\nsinks: 5';
    expect(read(() => parseConfigYaml(text, 'vigil.yaml')).ok).toBe(false);
    expect(read(() => controlOf(parseYaml(text, 'vigil.yaml')))).toEqual({ ok: true, control: { listen: 'unix:///run/v/control.sock' } });
  });

  it('is the built-in default without a file, and names a file it cannot read', () => {
    expect(loadControlConfig(undefined).control).toEqual({ listen: 'unix:///run/vigil/control.sock' });
    expect(() => loadControlConfig('/nonexistent/vigil.yaml')).toThrow(/\/nonexistent\/vigil\.yaml: cannot read/);
  });
});
