// The configuration file's shape: every key, its default, its limits.
// The README's Configuration section documents the same keys.
import { hostname } from 'node:os';
import { z } from 'zod';
import { PRIORITIES } from '../model/alert.js';
import { MODES } from '../model/mode.js';
import { argvPatternProblems } from '../model/argv.js';
import { DEFAULT_CONTROL_LISTEN, DEFAULT_SERVER_NAME, LISTEN_MESSAGE, LISTEN_PATTERN, TCP_NEEDS_TLS_MESSAGE, TLS_KEYS, tcpNeedsTls, type TlsConfig } from './control.js';

/** unix:///absolute/path or tcp://host:port */
const listenAddress = z.string().regex(LISTEN_PATTERN, LISTEN_MESSAGE);

const cgroupPath = z.string().regex(/^\/.*/, 'must be a cgroup path starting with /');

/** A sink's name in logs and stats, and its queue's directory name. */
const sinkId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit')
  .optional();

/** Webhook and Slack URLs carry tokens: never echo them in errors. */
const httpUrl = z.url({ protocol: /^https?$/, message: 'must be an http:// or https:// URL' });
const RESERVED_HEADERS = /^(content-type|content-length|host|x-vigil-.*)$/i;

const remoteSink = {
  id: sinkId,
  url: httpUrl.optional(),
  /** A file holding the URL (a mounted Secret), so the token need not sit in a ConfigMap. */
  urlFile: z.string().min(1).optional(),
  timeoutMs: z.number().int().min(100).max(600_000).default(5000),
};
const oneUrl = (s: { url?: string; urlFile?: string }) => (s.url === undefined) !== (s.urlFile === undefined);

const sink = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('stdout'), id: sinkId, format: z.enum(['text', 'json', 'falco']).default('text') }),
  z.strictObject({
    type: z.literal('file'),
    id: sinkId,
    path: z.string().min(1),
    format: z.enum(['json', 'falco']).default('json'),
    maxBytes: z.number().int().min(4096).default(100 << 20),
    keep: z.number().int().min(0).max(1000).default(5),
  }),
  z
    .strictObject({
      type: z.literal('webhook'),
      ...remoteSink,
      secret: z.string().min(16, 'must be at least 16 characters').optional(),
      secretFile: z.string().min(1).optional(),
      format: z.enum(['vigil', 'falco']).default('vigil'),
      headers: z
        .record(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'must be an HTTP header name'), z.string())
        .refine((h) => !Object.keys(h).some((k) => RESERVED_HEADERS.test(k)), 'must not set Content-Type, Content-Length, Host or X-Vigil-*')
        .default({}),
    })
    .refine(oneUrl, 'give exactly one of url, urlFile')
    .refine((s) => s.secret === undefined || s.secretFile === undefined, 'give at most one of secret, secretFile'),
  z.strictObject({ type: z.literal('slack'), ...remoteSink }).refine(oneUrl, 'give exactly one of url, urlFile'),
]);
export type SinkType = z.infer<typeof sink>['type'];

/** Each sink's id: its `id`, or its type and ordinal among sinks of that type ("webhook-1"). */
export function sinkIds(sinks: readonly { type: string; id?: string | undefined }[]): string[] {
  const seen = new Map<string, number>();
  return sinks.map((s) => {
    const n = (seen.get(s.type) ?? 0) + 1;
    seen.set(s.type, n);
    return s.id ?? `${s.type}-${n}`;
  });
}

const rateLimit = z.strictObject({
  perMinute: z.number().min(0.001).max(1_000_000),
  burst: z.number().int().min(1).max(1_000_000),
});

const alerts = z
  .strictObject({
    /** Identical alerts within this window fold into one with a count; 0 turns folding off. */
    foldWindowMs: z.number().int().min(0).max(86_400_000).default(60_000),
    /**
     * Token buckets. Every priority has budgets of its own (`global` for all
     * workloads, `perWorkload` for each), so lower priorities never hold back
     * higher ones and one workload's noise never holds back another's.
     */
    rateLimit: z
      .strictObject({
        /** Each rule within each workload. */
        perRule: rateLimit.nullable().default({ perMinute: 60, burst: 20 }),
        /** Each workload, at each priority. */
        perWorkload: rateLimit.nullable().default({ perMinute: 120, burst: 40 }),
        /** All workloads together, at each priority (before per-priority budgets, one bucket for every priority). */
        global: rateLimit.nullable().default({ perMinute: 600, burst: 100 }),
        /** A priority's own shapes in place of `perWorkload` and `global` (a key left out keeps those). */
        priorities: z
          .partialRecord(z.enum(PRIORITIES), z.strictObject({ perWorkload: rateLimit.nullable().optional(), global: rateLimit.nullable().optional() }))
          .default({}),
        /** The first held alert is summarised this soon… */
        summaryDelayMs: z.number().int().min(0).max(3_600_000).default(1000),
        /** …and while holding goes on, at most one summary this often (held error and above: within summaryDelayMs). */
        summaryMs: z.number().int().min(10).max(86_400_000).default(60_000),
      })
      .prefault({}),
    queue: z.strictObject({ maxBytes: z.number().int().min(1024).default(256 << 20) }).prefault({}),
    retry: z
      .strictObject({
        initialMs: z.number().int().min(1).max(3_600_000).default(1000),
        maxMs: z.number().int().min(1).max(86_400_000).default(300_000),
      })
      .refine((r) => r.initialMs <= r.maxMs, 'initialMs must not exceed maxMs')
      .prefault({}),
  })
  .prefault({});

/** An automatic response: which alerts (by priority, mode, source, rule) get which actions. */
const responseRule = z.strictObject({
  priority: z.enum(PRIORITIES),
  modes: z.array(z.enum(MODES)).default([]),
  sources: z.array(z.enum(['rule', 'profile'])).default([]),
  rules: z.array(z.string().min(1)).default([]),
  actions: z.array(z.enum(['kill', 'quarantine', 'capture'])).min(1),
});

const capture = z
  .strictObject({
    seconds: z.number().int().min(1).max(3600).default(30),
    maxPackets: z.number().int().min(1).max(10_000_000).default(10_000),
    maxBytes: z.number().int().min(4096).default(64 << 20),
    snaplen: z.number().int().min(64).max(1536).default(1536),
    /** All capture files together; a capture stops when it would pass this. */
    diskCapBytes: z.number().int().min(65_536).default(1 << 30),
  })
  .prefault({});

/** Where a write needs the profile's say-so in enforce mode (each at most 64 bytes; at most 16). */
export const DEFAULT_PROTECTED_PATHS = ['/etc/', '/bin/', '/sbin/', '/usr/', '/lib/', '/lib64/', '/boot/', '/root/', '/var/spool/cron/'];

const profiles = z
  .strictObject({
    /** The root cgroup and systemd's slices are the host, not a container: not profiled. */
    ignoreHost: z.boolean().default(true),
    /**
     * When enforcement cannot be kept up for a workload in enforce mode (its
     * policy could not reach a new cgroup, a kill after the fact failed):
     * false (the default) keeps it running and raises an error alert — fail
     * open, said out loud; true cuts its network (quarantine) and raises a
     * critical alert — fail closed. Per workload in workloads[].failClosed.
     */
    failClosed: z.boolean().default(false),
    promotion: z
      .strictObject({
        /** learn → monitor once at least this long has been learned… */
        minLearningSeconds: z.number().int().min(0).default(3600),
        /** …and nothing new has been seen for this long. */
        quietSeconds: z.number().int().min(1).default(900),
        /** monitor → enforce after this long without an anomaly; null: only by hand. */
        enforceAfterCleanSeconds: z.number().int().min(1).nullable().default(null),
      })
      .prefault({}),
    protectedPaths: z
      .array(z.string().regex(/^\/.{0,62}$/, 'must be an absolute path prefix of at most 64 bytes'))
      .max(16)
      .default(DEFAULT_PROTECTED_PATHS),
    limits: z
      .strictObject({
        /** Paths kept per list (read, write) before directories collapse into patterns. */
        maxFileEntries: z.number().int().min(16).default(2048),
        /** Distinct names in one directory before it collapses to dir/*. */
        collapseAt: z.number().int().min(2).default(32),
        /** Distinct argument lists per executable before arguments count as unstable. */
        stableArgs: z.number().int().min(1).default(8),
        /** Distinct addresses of one /24 (/64) on one port before the rule widens to the network. */
        widenAt: z.number().int().min(1).default(8),
        /** Executables plus network rules kept per workload. */
        maxEntries: z.number().int().min(16).default(4096),
      })
      .prefault({}),
  })
  .prefault({});

const metrics = z
  .strictObject({
    /** /metrics, /healthz, /readyz; null turns them off. Loopback by default: scrape through the node or a Service. */
    listen: z.string().regex(/^(unix:\/\/\/.+|tcp:\/\/[^/]+:\d+)$/, 'must be unix:///absolute/path or tcp://host:port').nullable().default('tcp://127.0.0.1:9464'),
    /** /healthz fails once no probe has been connected for this long. */
    probeGoneSeconds: z.number().int().min(1).default(60),
    /** /healthz fails when a connected probe has sent no events for this long. */
    maxEventGapSeconds: z.number().int().min(1).default(120),
  })
  .prefault({});

/**
 * Mutual TLS for a TCP endpoint: the server presents cert/key and accepts
 * only clients whose certificate `ca` signed; clients (the probe, the CLI)
 * check the server against `ca` under `serverName` and present
 * clientCert/clientKey. Files are PEM.
 */
const tls = z.strictObject({
  ca: z.string().min(1),
  cert: z.string().min(1),
  key: z.string().min(1),
  clientCert: z.string().min(1).optional(),
  clientKey: z.string().min(1).optional(),
  serverName: z.string().min(1).default(DEFAULT_SERVER_NAME),
} satisfies Record<keyof typeof TLS_KEYS, z.ZodType>);
export type { TlsConfig };
// control.ts reads tls blocks without zod: its type and this schema's must not part.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const tlsTypesAgree: Same<z.infer<typeof tls>, TlsConfig> = true;
void tlsTypesAgree;

const TCP_NEEDS_TLS = { message: TCP_NEEDS_TLS_MESSAGE, path: ['tls'] };

/**
 * The web console (src/console/): off by default. Always authenticated — a
 * bearer token read from a file, mutual TLS, or both — and on loopback
 * unless allowNonLoopback says otherwise (then TLS is required: a token
 * must not cross a network in the clear).
 */
const consoleBlock = z
  .strictObject({
    enabled: z.boolean().default(false),
    listen: z.string().regex(/^tcp:\/\/[^/]+:\d+$/, 'must be tcp://host:port').default('tcp://127.0.0.1:9465'),
    allowNonLoopback: z.boolean().default(false),
    /** A file holding the bearer token (32+ characters; a mounted Secret). */
    tokenFile: z.string().min(1).nullable().default(null),
    /** HTTPS; clients must present a certificate `ca` signed (mutual TLS). */
    tls: z.strictObject({ ca: z.string().min(1), cert: z.string().min(1), key: z.string().min(1) }).optional(),
    /** Alerts kept in memory for the console (oldest dropped first, counted). */
    alertHistory: z.number().int().min(100).max(1_000_000).default(10_000),
    /** Network edges (workload, peer, port, protocol, direction) kept (least recently seen dropped first, counted). */
    networkEdges: z.number().int().min(100).max(1_000_000).default(20_000),
  })
  .refine((c) => !c.enabled || c.tokenFile !== null || c.tls !== undefined, { message: 'an enabled console needs tokenFile, tls (mutual TLS) or both', path: ['tokenFile'] })
  .prefault({});

/** Vigil's findings as PolicyReports (wgpolicyk8s.io, and openreports.io where installed), for Policy Reporter and the like. */
const policyReports = z
  .strictObject({
    enabled: z.boolean().default(false),
    /** How often the reports are rewritten (only when they changed). */
    intervalSeconds: z.number().int().min(5).max(86_400).default(60),
    /** Results per report, most severe and most recent first; the rest are counted in an annotation. */
    maxResults: z.number().int().min(10).max(5000).default(500),
  })
  .prefault({});

export const configSchema = z.strictObject({
  /** Default: $NODE_NAME (the DaemonSet sets it from spec.nodeName), else the host name. */
  nodeName: z.string().min(1).default(() => process.env.NODE_NAME || hostname()),
  engine: z
    .strictObject({
      listen: listenAddress.default('unix:///run/vigil/engine.sock'),
      /** TCP on a non-loopback address exposes the engine to the node's pods. */
      allowNonLoopback: z.boolean().default(false),
      tls: tls.optional(),
      /** A connected probe silent this long (it reports its counters every second) is stalled, and no probe this long is a gap: each an alert. */
      probeStallSeconds: z.number().int().min(2).max(3600).default(5),
      /**
       * Detection threads: 1 detects on the engine's main thread; N > 1
       * splits rules and profiles over N worker threads by workload (docs/workers.md).
       */
      workers: z.number().int().min(1).max(64).default(1),
    })
    .refine(tcpNeedsTls, TCP_NEEDS_TLS)
    .prefault({}),
  control: z
    .strictObject({ listen: listenAddress.default(DEFAULT_CONTROL_LISTEN), tls: tls.optional() })
    .refine(tcpNeedsTls, TCP_NEEDS_TLS)
    .prefault({}),
  stateDir: z.string().min(1).default('/var/lib/vigil'),
  defaultMode: z.enum(MODES).default('learn'),
  workloads: z
    .array(z.strictObject({
      name: z.string().min(1),
      cgroup: cgroupPath,
      mode: z.enum(MODES).optional(),
      /** In enforce mode, when enforcement cannot be kept up: quarantine (true) or carry on alerting (false). */
      failClosed: z.boolean().optional(),
    }))
    .default([]),
  /** Kubernetes: defaults for every workload in a namespace (a workload's own profile mode wins). */
  namespaces: z
    .array(z.strictObject({ name: z.string().min(1), mode: z.enum(MODES).optional(), failClosed: z.boolean().optional() }))
    .default([]),
  sinks: z
    .array(sink)
    .superRefine((sinks, ctx) => {
      const ids = sinkIds(sinks);
      ids.forEach((id, i) => {
        if (ids.indexOf(id) !== i) ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `sink id '${id}' is already used by sinks[${ids.indexOf(id)}]` });
      });
    })
    .default([{ type: 'stdout', format: 'text' }]),
  alerts,
  eventLog: z.string().min(1).nullable().default(null),
  /** Secrets on command lines (model/argv.ts): patterns redacted besides the built-in ones. */
  redaction: z
    .strictObject({
      /** JavaScript regular expressions over each argument: a match's capture groups (else the whole match) become <redacted>. */
      argvPatterns: z
        .array(z.string().min(1))
        .max(64)
        .superRefine((patterns, ctx) => {
          for (const p of argvPatternProblems(patterns)) ctx.addIssue({ code: 'custom', path: [p.index], message: `${JSON.stringify(patterns[p.index])}: ${p.problem}` });
        })
        .default([]),
    })
    .prefault({}),
  /** Signature rules: the built-in set, then Falco-format files in order (later ones may override earlier). */
  rules: z
    .strictObject({
      builtin: z.boolean().default(true),
      files: z.array(z.string().min(1)).default([]),
      /** Reload when a file changes (SIGHUP always reloads). */
      watch: z.boolean().default(true),
      /**
       * Resolve the domain names rules compare addresses with (fd.sip.name = …), as Falco does
       * (getaddrinfo, refreshed in the background). false: no lookups, and those comparisons never match.
       */
      resolveNames: z.boolean().default(true),
      /**
       * Where containers' /etc/passwd and /etc/group (user.name, group.name) are read:
       * auto: here, through /proc/<pid>/root, and through the probe when the engine may not
       * (no CAP_SYS_PTRACE: the DaemonSet's engine); probe: always through the probe.
       */
      userFiles: z.enum(['auto', 'probe']).default('auto'),
    })
    .prefault({}),
  /** Default: kill the process behind a critical alert in a workload in enforce mode. */
  responses: z
    .array(responseRule)
    .default([{ priority: 'critical', modes: ['enforce'], sources: [], rules: [], actions: ['kill'] }]),
  capture,
  profiles,
  metrics,
  console: consoleBlock,
  /** Kubernetes: workload identity from the API, cluster-wide profiles, quarantine by pod label. */
  kubernetes: z
    .strictObject({
      enabled: z.boolean().default(false),
      /** This node's name in the API; default: $NODE_NAME, else nodeName. */
      nodeName: z.string().min(1).optional(),
      /** A kubeconfig file; default: the pod's service account (in-cluster). */
      kubeconfig: z.string().min(1).nullable().default(null),
      /** Share profiles across nodes as WorkloadProfile custom resources. */
      profileSync: z.boolean().default(true),
      /** Quarantine also labels the pod for the deny-all NetworkPolicy. */
      quarantineLabel: z.boolean().default(true),
      policyReports,
    })
    .prefault({}),
  /** Container identity from the node's runtimes (README, Containers). */
  containers: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** The runtimes to ask; null: every well-known socket that exists (containerd, CRI-O, Docker). */
      runtimes: z
        .array(z.strictObject({ type: z.enum(['cri', 'docker']), socket: z.string().regex(/^\//, 'must be an absolute path') }))
        .nullable()
        .default(null),
      /** Deadline of each call to a runtime. */
      timeoutMs: z.number().int().min(50).max(60_000).default(2000),
      /** A new container's first events wait at most this long for its identity. */
      holdMs: z.number().int().min(0).max(10_000).default(1000),
      /** Most events held at once, over all new containers; past it they go on named by their cgroup. */
      holdEvents: z.number().int().min(0).max(1_048_576).default(16_384),
      /** A CRI runtime without a container event stream (containerd before 1.7) is listed this often. */
      pollMs: z.number().int().min(100).max(600_000).default(2000),
      /** A Docker container label whose value names its workload (profiles are per workload). */
      workloadLabel: z.string().default('vigil.dev/workload'),
    })
    .prefault({}),
  processTree: z
    .strictObject({ maxProcesses: z.number().int().min(1024).max(4_194_304).default(65_536) })
    .default({ maxProcesses: 65_536 }),
  probe: z
    .strictObject({
      /** Spawn the probe as a child (`vigil run`); `vigil engine` never does. */
      path: z.string().min(1).nullable().default(null),
      ringbufBytes: z
        .number()
        .int()
        .min(4096)
        .max(1 << 30)
        .refine((n) => (n & (n - 1)) === 0, 'must be a power of two')
        // Records are sent only to their last used byte: 4 MiB holds ~30,000 opens (bench/loss.ts: none lost at 400K/s).
        .default(1 << 22),
      batchMax: z.number().int().min(1).max(65_536).default(256),
      flushMs: z.number().int().min(1).max(10_000).default(2),
      /**
       * The longest the probe waits between reads of a sustained flow; unset:
       * 4 × flushMs. Between flushMs and this, the period follows the flow's
       * rate, each read aiming at half a batch (batchMax / 2): a slow flow (a
       * build) is read this often, a fast one every flushMs. Longer trades
       * alert latency within a slow flow for CPU: bench/README.md, "What a
       * build's batching trades".
       */
      flushBusyMs: z.number().int().min(1).max(10_000).optional(),
      lossReportMs: z.number().int().min(10).max(600_000).default(1000),
      queueEvents: z.number().int().min(1).max(1 << 26).default(1 << 18),
      /**
       * Fairness (bpf/fair.bpf.h, bpf/probe/fairness.h): the node's budget of
       * events/s toward the engine, split max-min fairly among workloads; a
       * workload over its share is sampled and counted in the kernel. It
       * shrinks while the probe's queue backs up. 0 turns fairness off.
       */
      fairEventsPerSec: z.number().int().min(0).max(100_000_000).default(50_000),
      /**
       * In-kernel de-duplication: a process repeating an open (same path,
       * access, result) or a connect (same peer) within `windowMs` is
       * counted in the kernel instead of crossing to user space (bpf/dedup.bpf.h).
       */
      dedup: z
        .strictObject({
          enabled: z.boolean().default(true),
          windowMs: z.number().int().min(1).max(3_600_000).default(10_000),
        })
        .prefault({}),
      /**
       * Enforcement that outlives the probe (bpf/README.md): its links pinned
       * below `dir` (default /sys/fs/bpf/vigil/NODE; '' turns pinning off).
       * `onExit`: on a clean stop, keep the pins while a workload is enforced
       * (an upgrade leaves no gap), or unpin.
       */
      pinning: z
        .strictObject({
          dir: z.string().refine((d) => d === '' || d.startsWith('/'), 'an absolute path, or empty for off').optional(),
          onExit: z.enum(['keep-while-enforcing', 'unpin']).default('keep-while-enforcing'),
        })
        .prefault({}),
    })
    .prefault({}),
  log: z
    .strictObject({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info') })
    .default({ level: 'info' }),
}).refine((c) => c.engine.probeStallSeconds * 1000 >= 2 * c.probe.lossReportMs, {
  message: 'must be at least twice probe.lossReportMs: the probe reports its counters that often, and a probe silent for longer is stalled',
  path: ['engine', 'probeStallSeconds'],
}).refine((c) => c.probe.flushBusyMs === undefined || c.probe.flushBusyMs >= c.probe.flushMs, {
  message: 'must be at least probe.flushMs: a busy flow is read no more often than any other',
  path: ['probe', 'flushBusyMs'],
});

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export type SinkConfig = Config['sinks'][number];
export type AlertsConfig = Config['alerts'];
