// Profiles on disk: one WorkloadProfile document per workload in
// <stateDir>/profiles/, written atomically a moment after it changes and
// on shutdown, so a restart loses nothing that was learned. The writes
// run in libuv's pool: an fsync must not hold up events. A file that
// cannot be read is set aside and reported, never silently reset.
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../log.js';
import { readStateFile, writeFileAtomicAsync } from '../../state/files.js';
import type { WorkloadProfileDocument } from './document.js';
import { documentName, parsePolicyYaml, PolicyError } from './policy.js';

export class ProfileStore {
  readonly dir: string;
  private readonly dirty = new Map<string, () => WorkloadProfileDocument>();
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> | null = null;
  private closed = false;
  /** Files set aside as corrupt since start (path and reason). */
  readonly corrupt: { file: string; reason: string }[] = [];
  writeErrors = 0;

  constructor(
    stateDir: string,
    private readonly log: Logger,
    private readonly delayMs = 1000,
  ) {
    this.dir = join(stateDir, 'profiles');
  }

  /** Every stored profile; corrupt files are set aside and listed in `corrupt`. */
  loadAll(): WorkloadProfileDocument[] {
    let files: string[];
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      files = readdirSync(this.dir).filter((f) => f.endsWith('.json'));
    } catch (err) {
      this.log.error({ dir: this.dir, err: (err as Error).message }, 'cannot read stored profiles');
      return [];
    }
    const out: WorkloadProfileDocument[] = [];
    for (const f of files.sort()) {
      const path = join(this.dir, f);
      const doc = readStateFile(
        path,
        (v) => {
          // The same validation a reviewed policy gets.
          try {
            return parsePolicyYaml(JSON.stringify(v), path)[0]!;
          } catch (err) {
            throw new Error(err instanceof PolicyError ? err.problems.join('; ') : (err as Error).message, { cause: err });
          }
        },
        this.log,
        (reason, aside) => this.corrupt.push({ file: aside, reason }),
      );
      if (doc) out.push(doc);
    }
    return out;
  }

  /** Schedules a write of a workload's profile; `render` is called at write time. */
  markDirty(key: string, render: () => WorkloadProfileDocument): void {
    this.dirty.set(key, render);
    this.schedule(this.delayMs);
  }

  private schedule(ms: number): void {
    if (this.timer || this.writing || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.writeDirty();
    }, ms);
  }

  /**
   * Writes every pending profile: rendered here, written and fsync-ed in
   * libuv's pool so the event loop keeps processing events meanwhile. One
   * round at a time, so two writes of one file never race; what changes
   * during a round is written in the next.
   */
  private writeDirty(): Promise<void> {
    if (this.writing) return this.writing;
    const round = [...this.dirty];
    this.dirty.clear();
    let failed = false;
    this.writing = (async () => {
      for (const [key, render] of round) {
        const doc = render();
        const file = join(this.dir, `${documentName(key, doc.spec.workload.name)}.json`);
        try {
          await writeFileAtomicAsync(file, `${JSON.stringify(doc, null, 1)}\n`);
        } catch (err) {
          // Disk full or read-only: keep it pending and say so; the old file is intact (atomic rename).
          if (!this.dirty.has(key)) this.dirty.set(key, render);
          failed = true;
          this.writeErrors++;
          this.log.error({ file, err: (err as Error).message }, 'cannot save profile; will retry');
        }
      }
    })().finally(() => {
      this.writing = null;
      if (this.dirty.size) this.schedule(failed ? Math.max(this.delayMs, 5000) : this.delayMs);
    });
    return this.writing;
  }

  /** Writes every pending profile now (after any write in flight). */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    while (this.writing) await this.writing;
    if (this.dirty.size) await this.writeDirty();
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
