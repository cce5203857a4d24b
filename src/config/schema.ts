// The configuration file's shape: every key, its default, its limits.
// The README's Configuration section documents the same keys.
import { hostname } from 'node:os';
import { z } from 'zod';

export const MODES = ['learn', 'monitor', 'enforce'] as const;
export type Mode = (typeof MODES)[number];

/** unix:///absolute/path or tcp://host:port */
const listenAddress = z
  .string()
  .regex(/^(unix:\/\/\/.+|tcp:\/\/[^/]+:\d+)$/, 'must be unix:///absolute/path or tcp://host:port');

const cgroupPath = z.string().regex(/^\/.*/, 'must be a cgroup path starting with /');

const sink = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('stdout'), format: z.enum(['text', 'json']).default('text') }),
  z.strictObject({ type: z.literal('file'), path: z.string().min(1) }),
]);

export const configSchema = z.strictObject({
  nodeName: z.string().min(1).default(() => hostname()),
  engine: z
    .strictObject({
      listen: listenAddress.default('unix:///run/vigil/engine.sock'),
      /** TCP on a non-loopback address exposes the engine to the node's pods. */
      allowNonLoopback: z.boolean().default(false),
    })
    .default({ listen: 'unix:///run/vigil/engine.sock', allowNonLoopback: false }),
  control: z
    .strictObject({ listen: listenAddress.default('unix:///run/vigil/control.sock') })
    .default({ listen: 'unix:///run/vigil/control.sock' }),
  stateDir: z.string().min(1).default('/var/lib/vigil'),
  defaultMode: z.enum(MODES).default('learn'),
  workloads: z
    .array(z.strictObject({ name: z.string().min(1), cgroup: cgroupPath, mode: z.enum(MODES).optional() }))
    .default([]),
  sinks: z.array(sink).default([{ type: 'stdout', format: 'text' }]),
  eventLog: z.string().min(1).nullable().default(null),
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
        .default(1 << 24),
      batchMax: z.number().int().min(1).max(65_536).default(256),
      flushMs: z.number().int().min(1).max(10_000).default(2),
      lossReportMs: z.number().int().min(10).max(600_000).default(1000),
      queueEvents: z.number().int().min(1).max(1 << 26).default(1 << 18),
    })
    .default({ path: null, ringbufBytes: 1 << 24, batchMax: 256, flushMs: 2, lossReportMs: 1000, queueEvents: 1 << 18 }),
  log: z
    .strictObject({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info') })
    .default({ level: 'info' }),
});

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export type SinkConfig = Config['sinks'][number];
