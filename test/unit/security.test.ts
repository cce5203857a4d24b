// Who may talk to the engine: over TCP only peers with a certificate from
// the configured CA (mutual TLS), over a unix socket only root; and
// secrets in config never come back in errors.
import { execFileSync, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { credentials } from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig, parseConfigYaml } from '../../src/config/load.js';
import { ControlClient } from '../../src/control/client.js';
import { clientCredentials } from '../../src/rpc/listen.js';
import { TestEngine } from '../support/engine.js';
import { waitFor } from '../support/kernel.js';
import { SyntheticProbe } from '../support/synthetic-probe.js';
import { makePki, type TestPki } from '../support/tls.js';

let pki: TestPki;
beforeAll(() => {
  pki = makePki();
});
afterAll(() => rmSync(pki.dir, { recursive: true, force: true }));

let t: TestEngine | undefined;
const probes: SyntheticProbe[] = [];
afterEach(async () => {
  for (const p of probes.splice(0)) await p.close();
  await t?.stop();
  t = undefined;
});

const tls = () => ({ ca: pki.ca, cert: pki.serverCert, key: pki.serverKey, clientCert: pki.clientCert, clientKey: pki.clientKey });

describe('TCP takes mutual TLS', () => {
  it('refuses a tcp:// listen address without tls in config', () => {
    expect(() => parseConfig({ engine: { listen: 'tcp://127.0.0.1:7700' } })).toThrow(/engine\.tls: a tcp:\/\/ listen address needs tls/);
    expect(() => parseConfig({ control: { listen: 'tcp://127.0.0.1:7701' } })).toThrow(/control\.tls: a tcp:\/\/ listen address needs tls/);
  });

  it('serves a probe with a certificate from its CA, and refuses one without, one from another CA, and plaintext', async () => {
    t = await TestEngine.start({ engine: { listen: 'tcp://127.0.0.1:0', tls: tls() } });
    const target = `127.0.0.1:${t.engine.ingest.boundPort}`;
    const good = clientCredentials({ ...tls(), serverName: 'vigil-engine' });
    const ok = SyntheticProbe.connect(target, { creds: good.creds, channelOptions: good.options, sessionId: 'good' });
    probes.push(ok);
    ok.sendBatch([{ pid: 5, cgroupId: 1, fork: { childPid: 6 } }]);
    await waitFor('the good probe served', () => t!.events.length === 1);

    const ca = readFileSync(pki.ca);
    const attempts = {
      'no client certificate': SyntheticProbe.connect(target, { creds: credentials.createSsl(ca), channelOptions: good.options, sessionId: 'nocert' }),
      'a certificate from another CA': SyntheticProbe.connect(target, {
        creds: credentials.createSsl(ca, readFileSync(pki.rogueKey), readFileSync(pki.rogueCert)), channelOptions: good.options, sessionId: 'rogue',
      }),
      plaintext: SyntheticProbe.connect(target, { sessionId: 'plain' }),
    };
    for (const [why, p] of Object.entries(attempts)) {
      probes.push(p);
      p.sendBatch([{ pid: 7, cgroupId: 1, fork: { childPid: 8 } }]);
      await waitFor(`${why}: refused`, () => p.error);
      expect(p.error!.message, why).toMatch(/UNAVAILABLE|handshake|certificate|Connection dropped|No connection established/i);
    }
    expect(t.engine.ingest.sessions().map((s) => s.hello.sessionId)).toEqual(['good']);
    expect(t.events).toHaveLength(1);
  });

  it('lets the CLI reach a TCP control endpoint only with its client certificate', async () => {
    t = await TestEngine.start({ control: { listen: 'tcp://127.0.0.1:0', tls: tls() } });
    const port = (t.engine as unknown as { control: { boundPort: number } }).control.boundPort;
    const ok = new ControlClient(`tcp://127.0.0.1:${port}`, { ...tls(), serverName: 'vigil-engine' });
    expect((await ok.status()).nodeName).toBe('test-node');
    ok.close();
    const rogue = new ControlClient(`tcp://127.0.0.1:${port}`, { ...tls(), clientCert: pki.rogueCert, clientKey: pki.rogueKey, serverName: 'vigil-engine' });
    await expect(rogue.status()).rejects.toThrow(/no engine answers/);
    rogue.close();
  });
});

describe.skipIf(process.getuid?.() !== 0)('unix sockets', () => {
  it('are open to root only: another user cannot connect to the probe or control socket', async () => {
    t = await TestEngine.start();
    for (const sock of [`${t.dir}/engine.sock`, `${t.dir}/control.sock`]) {
      const script = `require('net').connect(${JSON.stringify(sock)}).on('connect', () => { console.log('connected'); process.exit(0); }).on('error', (e) => { console.log(e.code); process.exit(1); })`;
      const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script], { encoding: 'utf8' });
      expect(r.stdout.trim(), sock).toBe('EACCES');
    }
    const mode = execFileSync('stat', ['-c', '%a', `${t.dir}/engine.sock`], { encoding: 'utf8' }).trim();
    expect(mode).toBe('600');
  });
});

describe('secrets in config', () => {
  it('never come back in a validation error', () => {
    const secret = 'hooks.example/T00000000/B00000000/XXXXs3cr3tXXXX';
    let message = '';
    try {
      parseConfigYaml(`sinks:\n  - { type: webhook, url: "ftp://${secret}", secret: "short-key" }\n`, 'vigil.yaml');
    } catch (err) {
      message = (err as ConfigError).message;
    }
    expect(message).toMatch(/vigil\.yaml:2:\d+: sinks\[0\]\.url: must be an http/);
    expect(message).toMatch(/sinks\[0\]\.secret: must be at least 16 characters/);
    expect(message).not.toContain('s3cr3t');
    expect(message).not.toContain('short-key');
  });
});
