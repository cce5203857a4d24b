// A throwaway PKI for mutual-TLS tests, made with openssl: a CA, the
// engine's server certificate (name vigil-engine), a client certificate it
// signed, and a client certificate from a different CA.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestPki {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  rogueCert: string;
  rogueKey: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
}

function issue(dir: string, name: string, ca: string, extfile: string): void {
  openssl(dir, ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '2', '-out', `${name}.crt`, '-extfile', extfile]);
}

export function makePki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-pki-'));
  for (const ca of ['ca', 'rogue-ca']) {
    openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${ca}.key`, '-out', `${ca}.crt`, '-days', '2', '-subj', `/CN=${ca}`]);
  }
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=DNS:vigil-engine\nextendedKeyUsage=serverAuth\n');
  writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  issue(dir, 'server', 'ca', 'server.ext');
  issue(dir, 'client', 'ca', 'client.ext');
  issue(dir, 'rogue', 'rogue-ca', 'client.ext');
  const f = (n: string): string => join(dir, n);
  return {
    dir, ca: f('ca.crt'), serverCert: f('server.crt'), serverKey: f('server.key'), clientCert: f('client.crt'), clientKey: f('client.key'),
    rogueCert: f('rogue.crt'), rogueKey: f('rogue.key'),
  };
}
