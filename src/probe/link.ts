// The engine's handle on its node's probe for commands: sends to the
// connected probe and answers for a missing one instead of hanging.
import type { ProbeAnswer, ProbeCommand, ProbeSession } from './session.js';

export class ProbeLink {
  constructor(private readonly sessions: () => ProbeSession[]) {}

  /** The connected probe (the newest, if a restart overlaps). */
  current(): ProbeSession | undefined {
    const live = this.sessions().filter((s) => s.connected);
    return live.at(-1);
  }

  send(cmd: ProbeCommand, timeoutMs?: number): Promise<ProbeAnswer> {
    const s = this.current();
    if (!s) return Promise.resolve({ ok: false, error: 'no probe is connected to this engine', detail: '' });
    return s.command(cmd, timeoutMs);
  }

  /** Whether the connected probe can do this; null while none is connected. */
  can(capability: string): boolean | null {
    const s = this.current();
    return s ? s.can(capability) : null;
  }

  /** Boot-time offset of the connected probe's clock, to turn kernel stamps into Unix time. */
  bootToUnixNs(): number {
    return this.current()?.hello.bootToUnixNs ?? Date.now() * 1e6 - Number(process.hrtime.bigint());
  }
}
