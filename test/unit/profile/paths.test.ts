// Path generalisation for behavioural profiles: realistic activity of an
// nginx server, a postgres server and a Spring Boot app is learned over one
// window; later windows of the same activity (fresh pids, temp names,
// request ids, WAL segments, log dates) must add nothing, while genuinely
// new behaviour still shows.
import { describe, expect, it } from 'vitest';
import { globMatch, normalisePath } from '../../../src/detect/profile/glob.js';
import { generalise, PathSet, type CollapseSummary } from '../../../src/detect/profile/paths.js';
import { INTRUSIONS, javaWindow, nginxWindow, postgresWindow, rng, type Window } from './fixtures.js';

function learn(paths: readonly string[], set = new PathSet()): PathSet {
  for (const p of paths) set.add(p);
  return set;
}

/** What the entries imply for a path, by brute force over every entry. */
function implied(entries: readonly string[], path: string): boolean {
  const p = normalisePath(path);
  return p !== null && entries.some((e) => globMatch(e, p));
}

describe('generalise', () => {
  it.each([
    ['/proc/1234/stat', '/proc/*/stat'],
    ['/proc/self/fd/12', '/proc/self/fd/*'],
    ['/proc/1234/task/1240/stat', '/proc/*/task/*/stat'],
    ['/proc/77/map_files/7f1a2b000-7f1a2c000', '/proc/*/map_files/*'],
    ['/dev/pts/3', '/dev/pts/*'],
    ['/sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod3f2a1b4c_5d6e_4f70_8a9b_0c1d2e3f4a5b.slice/cri-containerd-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope/memory.max',
      '/sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod*.slice/cri-containerd-*.scope/memory.max'],
    ['/sys/fs/cgroup/app/1234/cgroup.procs', '/sys/fs/cgroup/app/*/cgroup.procs'],
    // Temp names.
    ['/tmp/tmpa8Xk2_q1', '/tmp/tmp*'],
    ['/tmp/tmpab12cd34', '/tmp/tmp*'],
    ['/tmp/tmp.Xk2a9QzP1w', '/tmp/tmp*'],
    ['/tmp/sh-thd.Ab3kQz', '/tmp/sh-thd.*'],
    ['/tmp/.#lock', '/tmp/.#*'],
    ['/tmp/hsperfdata_app/4711', '/tmp/hsperfdata_app/*'],
    ['/tmp/jetty-0_0_0_0-8080-app_war-_-any-1234567/webapp/index.jsp', '/tmp/jetty-*-app_war-_-any-*/webapp/index.jsp'],
    ['/tmp/+~JF1234567890.tmp', '/tmp/+~JF*.tmp'],
    ['/tmp/liblz4-java-12345.so', '/tmp/liblz4-java-*.so'],
    ['/tmp/go-build123456789/b001/exe/main', '/tmp/go-build*/b001/exe/main'],
    ['/tmp/.java_pid7', '/tmp/.java_pid*'],
    ['/dev/shm/PostgreSQL.1804289383', '/dev/shm/PostgreSQL.*'],
    // Hashes, UUIDs, timestamps.
    ['/var/lib/shop/uploads/3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b.png', '/var/lib/shop/uploads/*.png'],
    ['/var/lib/docker/overlay2/0123456789abcdef0123456789abcdef/merged/etc/hosts', '/var/lib/docker/overlay2/*/merged/etc/hosts'],
    ['/var/log/app/app-2026-11-23.log', '/var/log/app/app-*.log'],
    ['/var/log/app/app.2026-11-23T10-00-00.log', '/var/log/app/app.*.log'],
    ['/srv/app/out/report-1732350000000.json', '/srv/app/out/report-*.json'],
    ['/var/lib/php/sessions/sess_k3j4h5g6f7d8s9a0q1w2e3r4t5', '/var/lib/php/sessions/sess_*'],
    // Log rotation.
    ['/var/log/nginx/access.log.3.gz', '/var/log/nginx/access.log*'],
    ['/var/log/nginx/access.log.1', '/var/log/nginx/access.log*'],
    ['/var/log/nginx/error.log-20261123', '/var/log/nginx/error.log*'],
    ['/srv/app/logs/x.1.log', '/srv/app/logs/x.*.log'],
    ['/var/log/syslog.2.gz', '/var/log/syslog*'],
    ['/app/logs/shop.2026-11-23.0.log.gz', '/app/logs/shop.*.log*'],
    // Per-request and cache files.
    ['/var/cache/nginx/client_temp/0000000012', '/var/cache/nginx/client_temp/*'],
    ['/var/cache/nginx/proxy_temp/7/45/0000000457', '/var/cache/nginx/proxy_temp/*/*/*'],
    ['/var/cache/nginx/proxy_cache/c/29/b7f54b2df7773722d382f4809d65029c', '/var/cache/nginx/proxy_cache/*/*/*'],
    ['/var/lib/postgresql/data/base/16384/2619', '/var/lib/postgresql/data/base/*/*'],
    ['/var/lib/postgresql/data/base/1/112_fsm', '/var/lib/postgresql/data/base/*/*_fsm'],
    ['/var/lib/postgresql/data/pg_wal/000000010000000000000003', '/var/lib/postgresql/data/pg_wal/*'],
    ['/var/lib/postgresql/data/pg_xact/0000', '/var/lib/postgresql/data/pg_xact/*'],
    ['/var/lib/postgresql/data/pg_stat_tmp/db_16384.stat', '/var/lib/postgresql/data/pg_stat_tmp/db_*.stat'],
    ['/var/lib/postgresql/data/base/pgsql_tmp/pgsql_tmp87.0', '/var/lib/postgresql/data/base/pgsql_tmp/pgsql_tmp*'],
  ])('%s → %s', (path, pattern) => {
    expect(generalise(path)).toBe(pattern);
    expect(globMatch(pattern, path)).toBe(true);
  });

  it.each([
    '/etc/nginx/nginx.conf', '/usr/lib/x86_64-linux-gnu/libssl.so.3', '/etc/ssl/certs/5a4d6896.0', '/app/BOOT-INF/lib/spring-core-6.1.2.jar',
    '/var/lib/postgresql/15/main/PG_VERSION', '/proc/self/status', '/proc/meminfo', '/sys/devices/system/cpu/online', '/dev/pts/ptmx',
    '/tmp/SpringBootApp/application.properties', '/tmp/liblz4-java.so', '/var/www/shop/assets/js/app.3f2a1b4c.js', '/srv/x86_64/python3/lib',
    '/var/log/nginx/access.log', '/etc/logrotate.d/nginx', '/home/app/.bashrc',
  ])('%s stays exact', (path) => {
    expect(generalise(path)).toBe(path);
  });

  it('below exact-only prefixes only clearly volatile names become patterns', () => {
    // A Kubernetes projected volume rotates its timestamped directory.
    const token = '/var/run/secrets/kubernetes.io/serviceaccount/..2026_11_23_10_00_00.123456789/token';
    expect(generalise(token, true)).toBe('/var/run/secrets/kubernetes.io/serviceaccount/..*/token');
    expect(generalise('/etc/app/conf-2026-11-23.yaml', true)).toBe('/etc/app/conf-2026-11-23.yaml');
    expect(generalise('/etc/app/conf-2026-11-23.yaml')).toBe('/etc/app/conf-*.yaml');
    expect(generalise('/etc/app/x.log.1', true)).toBe('/etc/app/x.log.1');
    expect(generalise('/proc/1234/stat', true)).toBe('/proc/*/stat');
  });

  it('escapes names holding pattern characters, and refuses relative paths', () => {
    expect(generalise('/data/a*b?c\\d')).toBe('/data/a\\*b\\?c\\\\d');
    expect(generalise('/proc//1234/./stat')).toBe('/proc/*/stat');
    expect(() => generalise('proc/1/stat')).toThrow(/not an absolute path/);
  });
});

const WORKLOADS: [string, (seed: number) => Window][] = [['nginx', nginxWindow], ['postgres', postgresWindow], ['java', javaWindow]];

/** What an operator reviews: the entries a window of activity leaves, per workload and kind. */
const MOST_ENTRIES: Record<string, { read: number; write: number }> = {
  nginx: { read: 70, write: 12 },
  postgres: { read: 50, write: 30 },
  java: { read: 90, write: 22 },
};

describe.each(WORKLOADS)('a learned %s profile', (name, window) => {
  describe.each(['read', 'write'] as const)('files %s', (kind) => {
    const first = window(1)[kind];
    const later = [2, 3, 4].flatMap((seed) => window(seed)[kind]);

    it('absorbs fresh pids, temp names, request ids and log dates of later windows', () => {
      const set = learn(first);
      const added = later.filter((p) => set.add(p));
      expect(added).toEqual([]);
      expect(first.length).toBeGreaterThan(100);
      expect(set.size).toBeLessThanOrEqual(MOST_ENTRIES[name]![kind]);
      expect(set.dropped).toBe(0);
    });

    it('still shows genuinely new behaviour', () => {
      const set = learn(first);
      for (const p of INTRUSIONS) expect(set.has(p), p).toBe(false);
      const size = set.size;
      for (const p of INTRUSIONS) expect(set.add(p), p).toBe(true);
      expect(set.size).toBeGreaterThan(size);
    });

    it('round-trips through its entries to identical answers', () => {
      const set = learn(first);
      const entries = set.entries();
      expect([...entries].sort()).toEqual(entries);
      const again = PathSet.from(entries);
      expect(again.entries()).toEqual(entries);
      expect(again.size).toBe(set.size);
      const probes = [...first, ...later, ...INTRUSIONS, ...later.map((p) => `${p}x`), ...later.map((p) => p.replace(/\/[^/]+$/, '/other'))];
      for (const p of probes) {
        expect(again.has(p), p).toBe(set.has(p));
        expect(set.has(p), p).toBe(implied(entries, p));
      }
    });

    it('is the same profile whatever order the paths came in', () => {
      const shuffled = [...first];
      const r = rng(99);
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = Math.floor(r() * (i + 1));
        [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
      }
      const a = learn(first);
      const b = learn(shuffled);
      for (const p of [...later, ...INTRUSIONS]) expect(b.has(p), p).toBe(a.has(p));
    });
  });
});

describe('what the realistic profiles hold', () => {
  const profile = (w: Window[keyof Window]): { entries: string[]; summaries: CollapseSummary[] } => {
    const set = learn(w);
    return { entries: set.entries(), summaries: set.summaries() };
  };

  it('nginx: temp and cache levels, rotated logs, a catalogue directory collapsed with a summary', () => {
    const write = profile(nginxWindow(1).write);
    expect(write.entries).toEqual(expect.arrayContaining([
      '/var/cache/nginx/client_temp/*', '/var/cache/nginx/proxy_temp/*/*/*', '/var/cache/nginx/fastcgi_temp/*/*/*',
      '/var/cache/nginx/proxy_cache/*/*/*', '/var/log/nginx/access.log*', '/var/log/nginx/error.log*', '/run/nginx.pid',
    ]));
    expect(write.entries).not.toContain('/var/log/nginx/access.log');
    expect(write.summaries).toContainEqual({ pattern: '/var/log/nginx/access.log*', absorbed: 2, reason: 'volatile' });
    const read = profile(nginxWindow(1).read);
    const products = read.summaries.find((s) => s.pattern === '/var/www/shop/img/products/*');
    expect(products).toMatchObject({ reason: 'directory' });
    expect(products!.absorbed).toBe(33);
    // Pages and assets stay exact: a few dozen files, below the collapse threshold.
    expect(read.entries).toContain('/var/www/shop/assets/js/app.3f2a1b4c.js');
    expect(read.entries).toContain('/etc/nginx/nginx.conf');
  });

  it('postgres: relation files, WAL, SLRUs, stats and sort spills as patterns', () => {
    const write = profile(postgresWindow(1).write);
    const data = '/var/lib/postgresql/data';
    expect(write.entries).toEqual(expect.arrayContaining([
      `${data}/base/*/*`, `${data}/pg_wal/*`, `${data}/pg_wal/archive_status/*.done`, `${data}/pg_xact/*`, `${data}/pg_subtrans/*`,
      `${data}/pg_stat_tmp/db_*.stat`, `${data}/log/postgresql-*.log`, '/dev/shm/PostgreSQL.*', `${data}/postmaster.pid`,
    ]));
    expect(write.entries.filter((e) => e.startsWith(`${data}/base/`))).toEqual([`${data}/base/*/*`]);
  });

  it('java: hsperfdata, extracted native libraries, Tomcat uploads, rotated logs, thread stats', () => {
    const write = profile(javaWindow(1).write);
    expect(write.entries).toEqual(expect.arrayContaining([
      '/tmp/hsperfdata_app/*', '/tmp/liblz4-java-*.so', '/tmp/snappy-*-libsnappyjava.so', '/tmp/tomcat.*/work/Tomcat/localhost/ROOT/upload_*.tmp',
      '/tmp/tmp*', '/app/logs/shop.log', '/app/logs/shop.*.log*', '/app/logs/gc.log*', '/var/lib/shop/uploads/*.png',
    ]));
    const read = profile(javaWindow(1).read);
    expect(read.entries).toEqual(expect.arrayContaining(['/proc/self/task/*/stat', '/proc/self/fd/*', '/app/BOOT-INF/lib/*']));
    expect(read.summaries).toContainEqual({ pattern: '/app/BOOT-INF/lib/*', absorbed: 33, reason: 'directory' });
  });
});

describe('exact-only prefixes', () => {
  it('a learned /etc/nginx/nginx.conf never makes /etc/nginx/evil.conf covered, however many files are learned there', () => {
    const set = new PathSet({ collapseAt: 4, maxEntries: 500 });
    for (let i = 0; i < 100; i++) set.add(`/etc/nginx/conf.d/site${i}.conf`);
    set.add('/etc/nginx/nginx.conf');
    expect(set.size).toBe(101);
    expect(set.entries().every((e) => !/[*?]/.test(e))).toBe(true);
    expect(set.has('/etc/nginx/evil.conf')).toBe(false);
    expect(set.has('/etc/nginx/conf.d/site100.conf')).toBe(false);
    expect(set.summaries()).toEqual([]);
  });

  it('never collapses a directory above one, so no pattern reaches into it', () => {
    const set = new PathSet({ collapseAt: 4, exactBelow: ['/srv/secrets/'] });
    for (let i = 0; i < 10; i++) set.add(`/srv/site${i}/index.html`);
    for (let i = 0; i < 10; i++) set.add(`/data/d${i}/x`);
    expect(set.has('/srv/secrets/key')).toBe(false);
    expect(set.has('/srv/site99/index.html')).toBe(false);
    expect(set.has('/data/d99/y')).toBe(true);
    expect(set.summaries()).toContainEqual({ pattern: '/data/**', absorbed: 5, reason: 'directory' });
  });

  it('still follows clearly volatile names there (a rotating Kubernetes token directory)', () => {
    const set = new PathSet();
    const dir = '/var/run/secrets/kubernetes.io/serviceaccount';
    set.add(`${dir}/..2026_11_23_10_00_00.123456789/token`);
    set.add(`${dir}/..data/token`);
    expect(set.add(`${dir}/..2026_11_23_11_00_00.987654321/token`)).toBe(false);
    expect(set.has(`${dir}/..2026_11_23_11_00_00.987654321/namespace`)).toBe(false);
    expect(set.has(`${dir}/evil`)).toBe(false);
  });

  it('collapse there when the prefix list is empty', () => {
    const set = new PathSet({ collapseAt: 4, exactBelow: [] });
    for (let i = 0; i < 5; i++) set.add(`/etc/nginx/conf.d/site${i}.conf`);
    expect(set.entries()).toEqual(['/etc/nginx/conf.d/*']);
    expect(set.has('/etc/nginx/conf.d/evil.conf')).toBe(true);
  });
});

describe('collapsing', () => {
  it('collapses a crowded directory to dir/* and says what it replaced', () => {
    const set = new PathSet({ collapseAt: 4 });
    for (const n of ['a', 'b', 'c', 'd']) expect(set.add(`/data/in/${n}.json`)).toBe(true);
    expect(set.size).toBe(4);
    expect(set.add('/data/in/e.json')).toBe(true);
    expect(set.entries()).toEqual(['/data/in/*']);
    expect(set.summaries()).toEqual([{ pattern: '/data/in/*', absorbed: 5, reason: 'directory' }]);
    expect(set.has('/data/in/zzz.csv')).toBe(true);
    expect(set.has('/data/in/sub/x.json')).toBe(false);
    expect(set.has('/data/in')).toBe(false);
  });

  it('collapses to dir/** when children are directories with children, absorbing the directory itself', () => {
    const set = new PathSet({ collapseAt: 3 });
    set.add('/srv/users');
    for (const u of ['ann', 'bob', 'cy', 'dee']) set.add(`/srv/users/${u}/profile.json`);
    expect(set.entries()).toEqual(['/srv/users/**']);
    expect(set.summaries()).toEqual([{ pattern: '/srv/users/**', absorbed: 5, reason: 'directory' }]);
    expect(set.has('/srv/users')).toBe(true);
    expect(set.has('/srv/users/eve/a/b/c')).toBe(true);
    expect(set.has('/srv/usersx')).toBe(false);
  });

  it('stays within maxEntries by collapsing the deepest directories first, never losing coverage', () => {
    const set = new PathSet({ maxEntries: 20, collapseAt: 1000 });
    const seen: string[] = [];
    for (const mod of ['auth', 'cart', 'pay', 'ship', 'user', 'mail']) {
      for (const f of ['a', 'b', 'c', 'd', 'e', 'f']) {
        const p = `/srv/app/modules/${mod}/${f}.js`;
        set.add(p);
        seen.push(p);
        expect(set.size).toBeLessThanOrEqual(20);
        for (const s of seen) expect(set.has(s), s).toBe(true);
      }
    }
    const sizes = set.summaries().filter((s) => s.reason === 'size');
    expect(sizes.length).toBeGreaterThan(0);
    expect(sizes[0]!.pattern).toMatch(/^\/srv\/app\/modules\/[a-z]+\/\*$/);
    expect(set.entries()).not.toContain('/srv/**');
    expect(set.has('/srv/app/config.json')).toBe(false);
    expect(set.dropped).toBe(0);
  });

  it('drops and counts new paths when only exact-only directories are left to collapse', () => {
    const set = new PathSet({ maxEntries: 5 });
    const added = Array.from({ length: 8 }, (_, i) => set.add(`/etc/app/conf${i}.yaml`));
    expect(added).toEqual(Array(8).fill(true));
    expect(set.size).toBe(5);
    expect(set.dropped).toBe(3);
    expect(set.has('/etc/app/conf7.yaml')).toBe(false);
    expect(set.has('/etc/app/conf0.yaml')).toBe(true);
  });

  it('a volatile pattern absorbs the exact entries it covers', () => {
    const set = new PathSet();
    set.add('/var/log/nginx/access.log');
    set.add('/var/log/nginx/error.log');
    set.add('/var/log/nginx/access.log.1');
    expect(set.entries()).toEqual(['/var/log/nginx/access.log*', '/var/log/nginx/error.log']);
    expect(set.add('/var/log/nginx/access.log')).toBe(false);
  });

  it('keeps only the latest summaries', () => {
    const set = new PathSet({ maxEntries: 100_000, collapseAt: 100_000 });
    for (let i = 0; i < 600; i++) set.add(`/srv/d${i}/out-${1_000_000 + i}.bin`);
    const s = set.summaries();
    expect(s.length).toBe(512);
    expect(s[s.length - 1]!.pattern).toBe('/srv/d599/out-*.bin');
  });
});

describe('lookups', () => {
  const set = learn([...nginxWindow(1).write, ...postgresWindow(1).write, ...javaWindow(1).write, '/srv/www/index.html', '/proc/1/stat'], new PathSet({ collapseAt: 8 }));
  for (let i = 0; i < 10; i++) set.add(`/srv/www/page${i}/index.html`);
  const entries = set.entries();

  it('answer exactly what the entries imply, for thousands of paths', () => {
    expect(entries).toContain('/srv/www/**');
    const r = rng(7);
    const pieces = ['tmp', 'var', 'srv', 'www', 'proc', '1234', 'self', 'stat', 'a.log', 'access.log.1', '..', '.', '', 'base', '16384', 'pg_wal', 'x*y', 'hsperfdata_app'];
    const probes: string[] = [];
    for (const w of [nginxWindow(5), postgresWindow(5), javaWindow(5)]) probes.push(...w.write, ...w.read);
    for (let i = 0; i < 3000; i++) {
      const base = probes[Math.floor(r() * probes.length)]!;
      const parts = base.split('/');
      const k = 1 + Math.floor(r() * (parts.length - 1));
      parts[k] = pieces[Math.floor(r() * pieces.length)]!;
      probes.push(parts.join('/'));
    }
    let covered = 0;
    for (const p of probes) {
      const want = implied(entries, p);
      expect(set.has(p), p).toBe(want);
      if (want) covered++;
    }
    expect(covered).toBeGreaterThan(probes.length / 4);
    expect(covered).toBeLessThan(probes.length);
  });

  it('normalise paths first, so ".." cannot climb out of a pattern', () => {
    expect(set.has('/proc//1234/./stat')).toBe(true);
    expect(set.has('/proc/1234/../stat')).toBe(false);
    expect(set.has('/tmp/x/../hsperfdata_app/99')).toBe(true);
    expect(set.has('/tmp/hsperfdata_app/99/')).toBe(true);
    expect(set.has('/srv/www/../../etc/shadow')).toBe(false);
    expect(set.has('/srv/www/a/../../../etc/shadow')).toBe(false);
    expect(set.has('/srv/www/a/b/../c')).toBe(true);
  });

  it('refuse relative paths', () => {
    expect(set.has('tmp/hsperfdata_app/1')).toBe(false);
    expect(set.has('')).toBe(false);
    expect(() => new PathSet().add('tmp/x')).toThrow('PathSet.add: not an absolute path: "tmp/x"');
  });

  it('see what was learned after a cached answer', () => {
    const s = new PathSet();
    s.add('/proc/1/status');
    expect(s.has('/proc/99/stat')).toBe(false);
    expect(s.has('/proc/99/stat')).toBe(false);
    s.add('/proc/1/stat');
    expect(s.has('/proc/99/stat')).toBe(true);
    const off = new PathSet({ lookupCache: 0 });
    off.add('/proc/1/status');
    expect(off.has('/proc/42/status')).toBe(true);
  });
});

describe('PathSet.from', () => {
  it('takes a reviewed list as it is: nothing generalised, absorbed or collapsed', () => {
    const set = PathSet.from(['/tmp/*', '/tmp/a', '/etc/app/conf-2026-11-23.yaml', '/srv/x/1', '/srv/x/2', '/srv/x/3'], { collapseAt: 2, maxEntries: 3 });
    expect(set.size).toBe(6);
    expect(set.entries()).toEqual(['/etc/app/conf-2026-11-23.yaml', '/srv/x/1', '/srv/x/2', '/srv/x/3', '/tmp/*', '/tmp/a']);
    expect(set.has('/tmp/anything')).toBe(true);
    expect(set.has('/etc/app/conf-2026-11-24.yaml')).toBe(false);
    expect(set.has('/srv/x/4')).toBe(false);
  });

  it('round-trips names holding pattern characters', () => {
    const set = new PathSet();
    set.add('/data/a*b');
    set.add('/data/what?');
    expect(set.entries()).toEqual(['/data/a\\*b', '/data/what\\?']);
    const again = PathSet.from(set.entries());
    expect(again.has('/data/a*b')).toBe(true);
    expect(again.has('/data/axxb')).toBe(false);
    expect(again.has('/data/what?')).toBe(true);
    expect(again.has('/data/whatx')).toBe(false);
  });

  it('names the entry that is wrong', () => {
    expect(() => PathSet.from(['/ok', 'relative/x'])).toThrow('PathSet.from: entry 1 ("relative/x"): not an absolute path');
    expect(() => PathSet.from(['/a//b'])).toThrow(/entry 0 .*empty path component/);
    expect(() => PathSet.from(['/a/\\x'])).toThrow(/entry 0 .*must be followed by/);
  });

  it('rejects bad options by name', () => {
    expect(() => new PathSet({ maxEntries: 0 })).toThrow(/maxEntries must be a positive integer/);
    expect(() => new PathSet({ collapseAt: 1.5 })).toThrow(/collapseAt/);
    expect(() => new PathSet({ exactBelow: ['etc/'] })).toThrow(/exactBelow\[0\] must be an absolute path/);
  });
});
