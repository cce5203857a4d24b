// Realistic file activity of three workloads, one "window" at a time: the
// same kind of activity with fresh pids, temp names, request ids, WAL
// segments and log dates per window. Names follow what the programs
// really write (nginx temp and cache levels, postgres data directory
// layout, JVM and library temp-file templates, logback and logrotate).
import { rng } from '../../support/rng.js';

export { rng };

export interface Window {
  read: string[];
  write: string[];
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const HEX = '0123456789abcdef';

class Gen {
  readonly r: () => number;
  constructor(seed: number) {
    this.r = rng(seed);
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.r() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.r() * xs.length)]!;
  }
  sample<T>(xs: readonly T[], n: number): T[] {
    const copy = [...xs];
    const out: T[] = [];
    while (out.length < n && copy.length > 0) out.push(copy.splice(Math.floor(this.r() * copy.length), 1)[0]!);
    return out;
  }
  chars(alphabet: string, n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[Math.floor(this.r() * alphabet.length)];
    return s;
  }
  digits(n: number): string {
    return String(this.int(1, 9)) + this.chars('0123456789', n - 1);
  }
  uuid(sep = '-'): string {
    const h = (n: number): string => this.chars(HEX, n);
    return [h(8), h(4), `4${h(3)}`, `${this.pick(['8', '9', 'a', 'b'])}${h(3)}`, h(12)].join(sep);
  }
  hex(n: number): string {
    return this.chars(HEX, n);
  }
  /** mkstemp's XXXXXX. */
  mkstemp(): string {
    return this.chars(ALNUM, 6);
  }
  /** Python tempfile's 8 characters. */
  pyTemp(): string {
    return this.chars('abcdefghijklmnopqrstuvwxyz0123456789_', 8);
  }
  /** A day in late 2026, as the window's "today". */
  date(sep = '-'): string {
    return ['2026', '11', String(this.int(10, 28))].join(sep);
  }
}

const pad = (n: number, w: number): string => String(n).padStart(w, '0');

const LIBC = ['/etc/ld.so.cache', '/lib/x86_64-linux-gnu/libc.so.6', '/lib/x86_64-linux-gnu/libm.so.6', '/lib/x86_64-linux-gnu/libpthread.so.0'];
const NSS = ['/etc/nsswitch.conf', '/etc/passwd', '/etc/group', '/etc/hosts', '/etc/resolv.conf', '/etc/localtime', '/etc/host.conf', '/etc/gai.conf'];

// ---------------------------------------------------------------- nginx

const SHOP_PAGES = ['index.html', 'about.html', 'contact.html', 'cart.html', 'checkout.html', '404.html', '50x.html', 'robots.txt', 'favicon.ico', 'sitemap.xml', 'manifest.json'];
const SHOP_ASSETS = [
  'css/app.4e1f9a2c.css', 'css/vendor.77ab01d3.css', 'css/print.0c2d8e11.css',
  'js/app.3f2a1b4c.js', 'js/chunk-vendors.8f3a2b1c.js', 'js/runtime.19ac0e4d.js', 'js/cart.a1b2c3d4.js', 'js/checkout.5e6f7a8b.js', 'js/search.c0ffee11.js',
  'fonts/inter-v12-latin-regular.woff2', 'fonts/inter-v12-latin-600.woff2', 'fonts/inter-v12-latin-700.woff2',
  'img/logo.svg', 'img/hero.webp', 'img/hero@2x.webp', 'img/icons/cart.svg', 'img/icons/user.svg', 'img/icons/search.svg', 'img/icons/menu.svg',
];

export function nginxWindow(seed: number, first = seed === 1): Window {
  const g = new Gen(seed);
  const read: string[] = [
    '/usr/sbin/nginx', ...LIBC, ...NSS,
    '/usr/lib/x86_64-linux-gnu/libpcre2-8.so.0', '/usr/lib/x86_64-linux-gnu/libssl.so.3', '/usr/lib/x86_64-linux-gnu/libcrypto.so.3', '/lib/x86_64-linux-gnu/libz.so.1', '/lib/x86_64-linux-gnu/libcrypt.so.1',
    '/etc/nginx/nginx.conf', '/etc/nginx/mime.types', '/etc/nginx/conf.d/default.conf', '/etc/nginx/conf.d/upstream.conf', '/etc/nginx/snippets/ssl-params.conf', '/etc/nginx/fastcgi_params',
    '/etc/ssl/certs/shop.example.pem', '/etc/ssl/private/shop.example.key', '/etc/ssl/certs/dhparam.pem', '/etc/ssl/openssl.cnf',
    '/sys/devices/system/cpu/online', '/proc/sys/kernel/ngroups_max', '/dev/urandom', '/dev/null',
  ];
  // A full crawl in the first window, a sample afterwards.
  const pages = first ? SHOP_PAGES : g.sample(SHOP_PAGES, 6);
  const assets = first ? SHOP_ASSETS : g.sample(SHOP_ASSETS, 10);
  for (const p of pages) read.push(`/var/www/shop/${p}`);
  for (const a of assets) read.push(`/var/www/shop/assets/${a}`);
  // Product images: a catalogue of 5000 SKUs, a few hundred requested per window.
  for (let i = 0; i < 220; i++) {
    const sku = g.int(10000, 14999);
    read.push(`/var/www/shop/img/products/sku-${sku}-${g.pick(['thumb', 'medium', 'large'])}.jpg`);
  }
  const write: string[] = ['/run/nginx.pid', '/var/log/nginx/access.log', '/var/log/nginx/error.log'];
  // Request bodies buffered to disk, proxied responses buffered (levels=1:2), cache fills (levels=1:2).
  let counter = g.int(1, 9_000_000);
  const levels = (name: string): string => `${name.slice(-1)}/${name.slice(-3, -1)}`;
  for (let i = 0; i < 60; i++) write.push(`/var/cache/nginx/client_temp/${pad(++counter, 10)}`);
  for (let i = 0; i < 80; i++) {
    const name = pad(++counter, 10);
    write.push(`/var/cache/nginx/proxy_temp/${levels(name)}/${name}`);
  }
  for (let i = 0; i < 20; i++) {
    const name = pad(++counter, 10);
    write.push(`/var/cache/nginx/fastcgi_temp/${levels(name)}/${name}`);
  }
  for (let i = 0; i < 70; i++) {
    const key = g.hex(32);
    const path = `/var/cache/nginx/proxy_cache/${key.slice(-1)}/${key.slice(-3, -1)}/${key}`;
    write.push(path);
    read.push(path);
  }
  // logrotate (daily, rotate 14, compress, delaycompress) in the same workload.
  for (const log of ['access', 'error']) {
    write.push(`/var/log/nginx/${log}.log.1`);
    for (let n = g.int(2, 5); n <= 14; n += g.int(1, 4)) write.push(`/var/log/nginx/${log}.log.${n}.gz`);
    write.push(`/var/log/nginx/${log}.log-${g.date('')}`);
  }
  write.push('/var/lib/logrotate/status', '/var/lib/logrotate/status.tmp');
  read.push('/etc/logrotate.conf', '/etc/logrotate.d/nginx', '/var/lib/logrotate/status');
  return { read, write };
}

// ---------------------------------------------------------------- postgres

const PG = '/var/lib/postgresql/data';
const PG_CATALOGS = [
  1247, 1249, 1255, 1259, 2600, 2601, 2602, 2603, 2604, 2605, 2606, 2607, 2608, 2609, 2610, 2611, 2612, 2613, 2615, 2616, 2617,
  2618, 2619, 2620, 2650, 2651, 2652, 2653, 2654, 2655, 2656, 2657, 2658, 2659, 2660, 2661, 2662, 2663, 2664, 2665, 2666, 2667,
  2668, 2669, 2670, 2673, 2674, 2675, 2678, 2679, 2680, 2681, 2682, 2683, 2684, 2685, 2686, 2687, 2688, 2689, 2690, 2691, 2692,
  2693, 2696, 2699, 2701, 2702, 2703, 2704, 2753, 2754, 2755, 2756, 2757, 2830, 2831, 2832, 2833, 2834, 2835, 2836, 2837, 2838,
  2839, 2840, 2841, 3079, 3080, 3081, 3085, 3118, 3119, 3164, 3256, 3257, 3258, 3350, 3351, 3379, 3380, 3381, 3394, 3395, 3455,
  3456, 3466, 3467, 3468, 3501, 3502, 3503, 3534, 3541, 3542, 3574, 3575, 3576, 3596, 3597, 3598, 3599, 3600, 3601, 3602, 3603,
  3764, 3766, 3767, 112, 113, 174, 175, 548, 549, 826, 827, 828,
];
const PG_GLOBAL = [1213, 1214, 1232, 1233, 1260, 1261, 1262, 2396, 2397, 2671, 2672, 2676, 2677, 2694, 2695, 2697, 2698, 2846, 2847, 2964, 2965, 2966, 2967, 3592, 3593, 4060, 4061, 6000, 6001, 6002, 6100, 6114, 6115];

export function postgresWindow(seed: number): Window {
  const g = new Gen(seed);
  const read: string[] = [
    '/usr/lib/postgresql/15/bin/postgres', ...LIBC, ...NSS,
    '/usr/lib/x86_64-linux-gnu/libxml2.so.2', '/usr/lib/x86_64-linux-gnu/libicuuc.so.72', '/usr/lib/x86_64-linux-gnu/libicudata.so.72', '/usr/lib/x86_64-linux-gnu/libssl.so.3', '/usr/lib/x86_64-linux-gnu/libcrypto.so.3', '/usr/lib/x86_64-linux-gnu/libzstd.so.1', '/usr/lib/x86_64-linux-gnu/liblz4.so.1',
    '/usr/lib/postgresql/15/lib/plpgsql.so', '/usr/lib/postgresql/15/lib/pg_stat_statements.so', '/usr/share/postgresql/15/timezonesets/Default', '/usr/share/postgresql/15/timezone/Etc/UTC', '/usr/share/zoneinfo/Etc/UTC',
    '/etc/ssl/certs/ca-certificates.crt', '/etc/ssl/openssl.cnf', '/etc/postgresql-common/user_clusters',
    `${PG}/PG_VERSION`, `${PG}/postgresql.conf`, `${PG}/postgresql.auto.conf`, `${PG}/pg_hba.conf`, `${PG}/pg_ident.conf`,
    `${PG}/global/pg_control`, `${PG}/global/pg_filenode.map`, `${PG}/pg_logical/replorigin_checkpoint`,
    '/proc/meminfo', '/sys/kernel/mm/transparent_hugepage/enabled', '/dev/urandom',
  ];
  const write: string[] = [
    `${PG}/postmaster.pid`, `${PG}/postmaster.opts`, `${PG}/global/pg_control`, `${PG}/global/pg_internal.init`,
    `${PG}/pg_logical/replorigin_checkpoint.tmp`, `${PG}/pg_logical/replorigin_checkpoint`, '/var/run/postgresql/.s.PGSQL.5432.lock',
    `${PG}/pg_stat/pgstat.stat`, `${PG}/pg_stat/pgstat.tmp`,
  ];
  const rel = (db: number, node: number): string[] => [`${PG}/base/${db}/${node}`, `${PG}/base/${db}/${node}_fsm`, `${PG}/base/${db}/${node}_vm`];
  for (const oid of PG_GLOBAL) read.push(`${PG}/global/${oid}`);
  for (const db of [1, 4, 5, 16384]) {
    read.push(`${PG}/base/${db}/PG_VERSION`, `${PG}/base/${db}/pg_filenode.map`, `${PG}/base/${db}/pg_internal.init`);
    write.push(`${PG}/base/${db}/pg_internal.init.${g.int(30, 900)}`);
    for (const oid of g.sample(PG_CATALOGS, db === 16384 ? 110 : 40)) read.push(...rel(db, oid));
  }
  // User tables: stable ones plus new relfilenodes (CREATE TABLE, TRUNCATE, VACUUM FULL rewrite).
  const tables = Array.from({ length: 40 }, (_, i) => 16385 + i * 7);
  for (let i = 0; i < 25; i++) tables.push(g.int(17000, 99999));
  for (const t of tables) {
    read.push(...rel(16384, t));
    write.push(`${PG}/base/16384/${t}`, `${PG}/base/16384/${t}_fsm`, `${PG}/base/16384/${t}_vm`);
    if (g.r() < 0.2) write.push(`${PG}/base/16384/${t}.1`, `${PG}/base/16384/${t}.2`);
  }
  // WAL: a run of new segments, archive status, recycled segment temp files.
  const tli = '00000001';
  const seg0 = g.int(0x10, 0xf000);
  for (let s = seg0; s < seg0 + 24; s++) {
    const name = `${tli}${pad(0, 8)}${s.toString(16).toUpperCase().padStart(8, '0')}`;
    write.push(`${PG}/pg_wal/${name}`, `${PG}/pg_wal/archive_status/${name}.ready`, `${PG}/pg_wal/archive_status/${name}.done`);
    read.push(`${PG}/pg_wal/${name}`);
  }
  for (let i = 0; i < 4; i++) write.push(`${PG}/pg_wal/xlogtemp.${g.int(30, 4000)}`);
  // SLRUs.
  const slru = (dir: string, max: number): void => {
    for (let i = 0; i <= g.int(1, max); i++) {
      const name = i.toString(16).toUpperCase().padStart(4, '0');
      write.push(`${PG}/${dir}/${name}`);
      read.push(`${PG}/${dir}/${name}`);
    }
  };
  slru('pg_xact', 3);
  slru('pg_subtrans', 12);
  slru('pg_multixact/offsets', 1);
  slru('pg_multixact/members', 1);
  slru('pg_notify', 1);
  // Exported snapshots, logical decoding snapshots.
  for (let i = 0; i < 3; i++) write.push(`${PG}/pg_snapshots/${pad(g.int(3, 9), 8)}-${g.hex(8).toUpperCase()}-${g.int(1, 3)}`);
  for (let i = 0; i < 5; i++) write.push(`${PG}/pg_logical/snapshots/0-${g.hex(7).toUpperCase()}.snap`);
  // Statistics (older collector files too), sort spills, dynamic shared memory.
  for (const db of [0, 1, 5, 16384]) write.push(`${PG}/pg_stat_tmp/db_${db}.stat`, `${PG}/pg_stat_tmp/db_${db}.tmp`);
  write.push(`${PG}/pg_stat_tmp/global.stat`, `${PG}/pg_stat_tmp/global.tmp`);
  for (let i = 0; i < 12; i++) {
    const p = `${PG}/base/pgsql_tmp/pgsql_tmp${g.int(40, 30000)}.${g.int(0, 9)}`;
    write.push(p);
    read.push(p);
  }
  for (let i = 0; i < 6; i++) write.push(`/dev/shm/PostgreSQL.${g.int(1_000_000, 2_147_483_647)}`);
  // The logging collector: one file per day (postgresql-%Y-%m-%d_%H%M%S.log).
  for (let i = 0; i < 3; i++) write.push(`${PG}/log/postgresql-${g.date()}_${pad(g.int(0, 23), 2)}0000.log`);
  write.push('/proc/self/oom_score_adj');
  for (let i = 0; i < 8; i++) read.push(`/proc/${g.int(30, 60000)}/status`, `/proc/${g.int(30, 60000)}/cmdline`);
  return { read, write };
}

// ---------------------------------------------------------------- Java (Spring Boot on Tomcat)

const JDK = '/usr/lib/jvm/java-17-openjdk-amd64';
const JARS = [
  'spring-boot-3.2.1', 'spring-boot-autoconfigure-3.2.1', 'spring-boot-actuator-3.2.1', 'spring-boot-actuator-autoconfigure-3.2.1',
  'spring-core-6.1.2', 'spring-beans-6.1.2', 'spring-context-6.1.2', 'spring-aop-6.1.2', 'spring-expression-6.1.2', 'spring-jcl-6.1.2',
  'spring-web-6.1.2', 'spring-webmvc-6.1.2', 'spring-jdbc-6.1.2', 'spring-tx-6.1.2', 'spring-orm-6.1.2', 'spring-data-jpa-3.2.1',
  'spring-data-commons-3.2.1', 'tomcat-embed-core-10.1.17', 'tomcat-embed-el-10.1.17', 'tomcat-embed-websocket-10.1.17',
  'jackson-databind-2.15.3', 'jackson-core-2.15.3', 'jackson-annotations-2.15.3', 'jackson-datatype-jsr310-2.15.3',
  'hibernate-core-6.4.1.Final', 'jakarta.persistence-api-3.1.0', 'jakarta.annotation-api-2.1.1', 'jakarta.transaction-api-2.0.1',
  'HikariCP-5.0.1', 'postgresql-42.6.0', 'logback-classic-1.4.14', 'logback-core-1.4.14', 'slf4j-api-2.0.9', 'snakeyaml-2.2',
  'micrometer-core-1.12.1', 'micrometer-observation-1.12.1', 'micrometer-registry-prometheus-1.12.1', 'lz4-java-1.8.0',
  'snappy-java-1.1.10.5', 'netty-transport-native-epoll-4.1.104.Final-linux-x86_64', 'jna-5.13.0', 'byte-buddy-1.14.10',
  'antlr4-runtime-4.13.0', 'classmate-1.6.0', 'jboss-logging-3.5.3.Final', 'hibernate-validator-8.0.1.Final',
];
const CLASSES = ['ShopApplication', 'web/CartController', 'web/OrderController', 'web/ProductController', 'web/UploadController', 'service/CartService', 'service/OrderService', 'service/PricingService', 'repo/OrderRepository', 'repo/ProductRepository', 'model/Order', 'model/Product', 'model/Cart', 'config/WebConfig', 'config/SecurityConfig'];

export function javaWindow(seed: number): Window {
  const g = new Gen(seed);
  const pid = g.pick([1, 7, g.int(300, 40000)]);
  const tomcat = `/tmp/tomcat.8080.${g.digits(19)}`;
  const read: string[] = [
    `${JDK}/bin/java`, ...LIBC, ...NSS, '/etc/timezone', '/etc/os-release', '/etc/ssl/certs/java/cacerts', '/dev/urandom', '/dev/random',
    `${JDK}/lib/modules`, `${JDK}/lib/jvm.cfg`, `${JDK}/lib/server/libjvm.so`, `${JDK}/lib/libjava.so`, `${JDK}/lib/libjimage.so`, `${JDK}/lib/libzip.so`, `${JDK}/lib/libnet.so`, `${JDK}/lib/libnio.so`, `${JDK}/lib/libverify.so`, `${JDK}/lib/libmanagement.so`, `${JDK}/lib/libextnet.so`, `${JDK}/lib/tzdb.dat`, `${JDK}/lib/security/default.policy`, `${JDK}/lib/security/cacerts`,
    `${JDK}/conf/security/java.security`, `${JDK}/conf/net.properties`, `${JDK}/conf/logging.properties`,
    '/app/app.jar', '/app/META-INF/MANIFEST.MF', '/app/BOOT-INF/classes/application.yml', '/app/BOOT-INF/classes/application-prod.yml', '/app/BOOT-INF/classes/logback-spring.xml',
    '/proc/self/mountinfo', '/proc/self/cgroup', '/proc/self/stat', '/proc/self/status', '/proc/self/maps', '/proc/self/fd', '/proc/meminfo', '/proc/stat', '/proc/cpuinfo', '/proc/loadavg', '/proc/sys/kernel/pid_max',
    '/sys/fs/cgroup/cpu.max', '/sys/fs/cgroup/cpu.weight', '/sys/fs/cgroup/cpu.stat', '/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory.current', '/sys/fs/cgroup/memory.stat', '/sys/fs/cgroup/memory.swap.max', '/sys/fs/cgroup/pids.max',
    '/sys/devices/system/cpu/online', '/sys/devices/system/cpu/possible', '/sys/kernel/mm/transparent_hugepage/enabled',
  ];
  for (const j of JARS) read.push(`/app/BOOT-INF/lib/${j}.jar`);
  for (const c of CLASSES) read.push(`/app/BOOT-INF/classes/com/example/shop/${c}.class`);
  // Per-thread CPU time (JMX), the process as other tools see it, fds counted by metrics.
  for (let i = 0; i < 40; i++) read.push(`/proc/self/task/${pid + g.int(1, 300)}/stat`);
  read.push(`/proc/${pid}/stat`, `/proc/${pid}/status`, `/proc/${pid}/cmdline`, `/proc/${pid}/fd`);
  for (let i = 0; i < 10; i++) read.push(`/proc/self/fd/${g.int(3, 400)}`);
  const write: string[] = [
    `/tmp/hsperfdata_app/${pid}`, `/tmp/.java_pid${pid}`,
    `${tomcat}/work/Tomcat/localhost/ROOT`, `/tmp/tomcat-docbase.8080.${g.digits(19)}`,
    `/tmp/liblz4-java-${g.digits(19)}.so`, `/tmp/snappy-1.1.10-${g.uuid()}-libsnappyjava.so`,
    `/tmp/libnetty_transport_native_epoll_x86_64${g.digits(19)}.so`, `/tmp/+~JF${g.digits(19)}.tmp`,
    '/app/logs/shop.log', '/app/logs/gc.log',
  ];
  read.push(...write.filter((p) => p.endsWith('.so')));
  const jna = `/tmp/jna--${g.digits(10)}`;
  write.push(`${jna}/jna${g.digits(19)}.tmp`);
  // Multipart uploads buffered by Tomcat, then stored under a UUID by the app.
  for (let i = 0; i < 30; i++) {
    write.push(`${tomcat}/work/Tomcat/localhost/ROOT/upload_${g.uuid('_')}_${pad(g.int(1, 99_999_999), 8)}.tmp`);
    write.push(`/var/lib/shop/uploads/${g.uuid()}.${g.pick(['png', 'jpg', 'pdf'])}`);
  }
  // Nightly exports, one per day.
  for (let i = 0; i < 3; i++) write.push(`/var/lib/shop/exports/orders-${g.date()}.csv`);
  // logback SizeAndTimeBasedRollingPolicy with compression; JVM unified GC log rotation.
  for (let i = 0; i < 4; i++) {
    const day = g.date();
    const n = g.int(0, 9);
    write.push(`/app/logs/shop.${day}.${n}.log.gz`, `/app/logs/shop.${day}.${n}.log${g.digits(15)}.tmp`);
  }
  for (let n = 0; n < 5; n++) write.push(`/app/logs/gc.log.${n}`);
  // Java Flight Recorder repository: a directory per start, a chunk per interval.
  const jfr = `/tmp/${g.date('_')}_${pad(g.int(0, 23), 2)}_${pad(g.int(0, 59), 2)}_${pad(g.int(0, 59), 2)}_${pid}`;
  for (let i = 0; i < 6; i++) write.push(`${jfr}/${g.date('_')}_${pad(g.int(0, 23), 2)}_${pad(g.int(0, 59), 2)}_${pad(g.int(0, 59), 2)}.jfr`);
  // A Python helper the app shells out to for thumbnails: tempfile names.
  for (let i = 0; i < 15; i++) {
    write.push(`/tmp/tmp${g.pyTemp()}`, `/tmp/tmp${g.pyTemp()}.png`);
  }
  return { read, write };
}

/** Paths a compromised workload would touch: none is part of normal activity. */
export const INTRUSIONS = [
  '/etc/shadow', '/etc/sudoers', '/root/.ssh/id_rsa', '/root/.ssh/authorized_keys', '/etc/crontab', '/etc/cron.d/backdoor',
  '/etc/ld.so.preload', '/usr/bin/curl', '/bin/sh', '/proc/self/environ', '/var/run/secrets/kubernetes.io/serviceaccount/token',
  '/etc/nginx/conf.d/evil.conf', '/etc/nginx/nginx.conf.bak', '/home/app/.bash_history', '/dev/mem', '/boot/vmlinuz',
];
