// Secrets on a command line: what redactArgv keeps (the binary, flags,
// paths, non-secret values) and what it replaces, for each form the
// module promises; and that a redacted argument is the same whatever the
// secret was (a learned profile matches the next run).
import { afterEach, describe, expect, it } from 'vitest';
import { argvPatternProblems, isSecretName, redactArgsLine, redactArgv, setArgvPatterns } from '../../../src/model/argv.js';

const R = '<redacted>';
const red = (...argv: string[]): readonly string[] => redactArgv(argv);

describe('argv redaction', () => {
  afterEach(() => setArgvPatterns([]));

  it('redacts the value of a flag named like a secret, attached or the next word, whatever its case or separator', () => {
    expect(red('app', '--password=hunter2', '--db_password', 'x1', '--API-KEY=k', '--api_key', 'k2', '--client-secret', 's', '--access-key=a', '--token', 't', '--auth=u', '--passphrase', 'p', '--dbPassword=c')).toEqual([
      'app', `--password=${R}`, '--db_password', R, `--API-KEY=${R}`, '--api_key', R, '--client-secret', R, `--access-key=${R}`, '--token', R, `--auth=${R}`, '--passphrase', R, `--dbPassword=${R}`,
    ]);
    expect(red('java', '-Djavax.net.ssl.keyStorePassword=changeit', '-jar', '/app.jar')).toEqual(['java', `-Djavax.net.ssl.keyStorePassword=${R}`, '-jar', '/app.jar']);
  });

  it('keeps flags that only look alike, and the word after a secret flag when it is another flag', () => {
    expect(red('app', '--password-file', '/run/secrets/pw', '--no-password', 'db', '--token-ttl=5m', '--password', '--verbose')).toEqual([
      'app', '--password-file', '/run/secrets/pw', '--no-password', 'db', '--token-ttl=5m', '--password', '--verbose',
    ]);
    expect(red('ls', '-la', '/tmp')).toEqual(['ls', '-la', '/tmp']);
    expect(red('nc', '-p', '4444', '-e', '/bin/sh')).toEqual(['nc', '-p', '4444', '-e', '/bin/sh']);
  });

  it('redacts short flags only for the tools where they are unambiguous', () => {
    expect(red('/usr/bin/mysql', '-uroot', '-pS3cret', 'shop')).toEqual(['/usr/bin/mysql', '-uroot', `-p${R}`, 'shop']);
    expect(red('mysql', '-p', 'shop')).toEqual(['mysql', '-p', 'shop']); // -p alone prompts; shop is the database
    expect(red('sshpass', '-p', 'pw', 'ssh', 'host')).toEqual(['sshpass', '-p', R, 'ssh', 'host']);
    expect(red('redis-cli', '-a', 'pw', 'ping')).toEqual(['redis-cli', '-a', R, 'ping']);
    expect(red('curl', '-u', 'bob:pw', '--user=al:pw2', 'http://h/')).toEqual(['curl', '-u', `bob:${R}`, `--user=al:${R}`, 'http://h/']);
    expect(red('docker', 'run', '-u', '1000:1000', '-p', '8080:80', 'img')).toEqual(['docker', 'run', '-u', '1000:1000', '-p', '8080:80', 'img']);
    expect(red('docker', 'login', '-u', 'bot', '-p', 'pw', 'registry:5000')).toEqual(['docker', 'login', '-u', 'bot', '-p', R, 'registry:5000']);
    expect(red('ssh', '-p', '2222', 'host')).toEqual(['ssh', '-p', '2222', 'host']);
  });

  it('redacts URL passwords, secret query parameters and authorisation headers, keeping user, host and scheme', () => {
    expect(red('psql', 'postgres://app:p@ss@db:5432/shop?sslmode=require')).toEqual(['psql', `postgres://app:${R}@db:5432/shop?sslmode=require`]);
    expect(red('curl', 'https://h/x?token=abc&page=2&api_key=k')).toEqual(['curl', `https://h/x?token=${R}&page=2&api_key=${R}`]);
    expect(red('curl', '-H', 'Authorization: Bearer abc.def', '-H', 'X-Api-Key: k', '-H', 'Accept: */*')).toEqual([
      'curl', '-H', `Authorization: Bearer ${R}`, '-H', `X-Api-Key: ${R}`, '-H', 'Accept: */*',
    ]);
  });

  it('redacts an assignment given as a flag\'s value, and JSON members named like secrets', () => {
    expect(red('kubectl', 'create', 'secret', 'generic', 'db', '--from-literal=password=p1', '--from-literal', 'user=app')).toEqual([
      'kubectl', 'create', 'secret', 'generic', 'db', `--from-literal=password=${R}`, '--from-literal', 'user=app',
    ]);
    expect(red('helm', 'install', 'x', '--set=db.password=p2', '--set', 'auth.rootPassword=p3', '--set', 'replicas=2')).toEqual([
      'helm', 'install', 'x', `--set=db.password=${R}`, '--set', `auth.rootPassword=${R}`, '--set', 'replicas=2',
    ]);
    expect(red('curl', '-d', '{"user": "bob", "password": "p\\"4", "client_secret":"s"}', '-d', 'user=bob&password=p5')).toEqual([
      'curl', '-d', `{"user": "bob", "password": "${R}", "client_secret":"${R}"}`, '-d', `user=bob&password=${R}`,
    ]);
  });

  it('redacts well-known token shapes wherever they are', () => {
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk';
    expect(red('aws', 'AKIAIOSFODNN7EXAMPLE', `ghp_${'a1'.repeat(18)}`, `github_pat_${'b'.repeat(40)}`, 'xoxb-1234-5678-abcdefgh', `x=${jwt}`)).toEqual(['aws', R, R, R, R, `x=${R}`]);
    // Cut where the probe's argv limit fell: what is left of the token still goes; so does a key without its END line.
    expect(red('git', 'clone', 'https://ghp_1234567890ab@github.com/o/r', '-----BEGIN PRIVATE KEY-----MIIEvQIBADAN')).toEqual(['git', 'clone', `https://${R}@github.com/o/r`, `-----BEGIN PRIVATE KEY-----${R}-----END PRIVATE KEY-----`]);
    const pem = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----';
    expect(red('tool', pem)).toEqual(['tool', `-----BEGIN OPENSSH PRIVATE KEY-----${R}-----END OPENSSH PRIVATE KEY-----`]);
  });

  it('applies the environment rules to assignments before the command, the secret-name rule after', () => {
    expect(red('/usr/bin/env', '-i', 'DB_PASSWORD=x', 'PATH=/bin', 'LD_PRELOAD=/tmp/i.so', 'HTTPS_PROXY=http://u:p@h:3128', '/bin/app', 'MODE=fast', 'API_TOKEN=t')).toEqual([
      '/usr/bin/env', '-i', `DB_PASSWORD=${R}`, 'PATH=/bin', 'LD_PRELOAD=/tmp/i.so', `HTTPS_PROXY=http://${R}@h:3128`, '/bin/app', 'MODE=fast', `API_TOKEN=${R}`,
    ]);
    expect(red('make', 'CC=gcc', 'DB_PASSWORD=q')).toEqual(['make', 'CC=gcc', `DB_PASSWORD=${R}`]);
    expect(red('dd', 'if=/dev/zero', 'of=/tmp/x')).toEqual(['dd', 'if=/dev/zero', 'of=/tmp/x']);
    expect(red('docker', 'run', '-e', 'GREETING=hi', '-e', 'PATH=/p', '--env=AWS_SECRET_ACCESS_KEY=k', 'img')).toEqual([
      'docker', 'run', '-e', `GREETING=${R}`, '-e', 'PATH=/p', `--env=AWS_SECRET_ACCESS_KEY=${R}`, 'img',
    ]);
  });

  it("reads an argument holding a command line (sh -c) as one, quotes kept together", () => {
    const line = "DB_PASSWORD=z psql -h db && mysql -pHUNTER shop; curl -H 'Authorization: Bearer tok en' https://u:p@h/ --password 'two words' /tmp/out";
    expect(red('sh', '-c', line)).toEqual([
      'sh', '-c', `DB_PASSWORD=${R} psql -h db && mysql -p${R} shop; curl -H 'Authorization: Bearer ${R}' https://u:${R}@h/ --password '${R}' /tmp/out`,
    ]);
    expect(red('sh', '-c', `sh -c "mysql -pX db"`)).toEqual(['sh', '-c', `sh -c "mysql -p${R} db"`]);
  });

  it('is the same for any secret (a baseline learned on one run matches the next), the same array when nothing changed, and idempotent', () => {
    expect(red('app', '--password=one', 'AKIAIOSFODNN7EXAMPLE')).toEqual(red('app', '--password=two', 'AKIAI44QH8DHBEXAMPLE'));
    const clean = ['ls', '-la', '/tmp'];
    expect(redactArgv(clean)).toBe(clean);
    const once = redactArgv(['sh', '-c', "mysql -pX db; curl -H 'Authorization: Bearer t' https://u:p@h/?token=1"]);
    expect(redactArgv([...once])).toEqual(once);
    expect(redactArgsLine('/usr/bin/mysql', '-uroot -pX db')).toBe(`-uroot -p${R} db`);
    expect(redactArgsLine('/usr/bin/mysql', `-uroot -p${R} db`)).toBe(`-uroot -p${R} db`);
  });

  it('names a secret by the end of its name', () => {
    for (const n of ['password', 'DB_PASSWORD', 'clientSecret', 'api-key', 'APIKEY', 'auth', 'basic-auth', 'session_token', 'pass']) expect(isSecretName(n), n).toBe(true);
    for (const n of ['password-file', 'no-password', 'token-ttl', 'passive', 'author', 'compass', 'user', 'path']) expect(isSecretName(n), n).toBe(false);
  });

  it('takes extra patterns from the configuration: capture groups (else the match) redacted; a bad pattern is refused with its index', () => {
    expect(argvPatternProblems(['ok-(\\d+)', '(', 'a*'])).toEqual([
      { index: 1, problem: expect.stringContaining('not a regular expression') },
      { index: 2, problem: 'matches the empty string' },
    ]);
    expect(() => setArgvPatterns(['('])).toThrow(/pattern 0: not a regular expression/);
    setArgvPatterns(['--license[= ](\\S+)', 'INTERNAL-[0-9a-f]{8}']);
    expect(red('app', '--license=L-123', 'id=INTERNAL-deadbeef', '--mode=x')).toEqual(['app', `--license=${R}`, `id=${R}`, '--mode=x']);
    setArgvPatterns([]);
    expect(red('app', '--license=L-124')).toEqual(['app', '--license=L-124']);
  });
});
