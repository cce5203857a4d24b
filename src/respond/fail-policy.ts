// When enforcement cannot be kept up for a workload in enforce mode (its
// policy did not reach a new cgroup, a kill after the fact failed), the
// workload fails closed (network quarantine) or open (it keeps running,
// unenforced) as configured: per workload, else per namespace, else
// profiles.failClosed. Either way it is said out loud: an alert and a log line.
import type { Logger } from '../log.js';
import { alertAbout, type Alert, type AlertAction } from '../model/alert.js';
import type { Workload } from '../model/workload.js';
import type { Quarantines } from './quarantine.js';

export interface FailPolicyOptions {
  /** config workloads[] and namespaces[]: their own failClosed, when set. */
  workloads: readonly { name: string; failClosed?: boolean | undefined }[];
  namespaces: readonly { name: string; failClosed?: boolean | undefined }[];
  /** config profiles.failClosed: everything else. */
  failClosed: boolean;
  quarantines: Pick<Quarantines, 'quarantine'>;
  nodeName: string;
  log: Logger;
  raise: (a: Alert) => void;
}

export class FailPolicy {
  constructor(private readonly opts: FailPolicyOptions) {}

  /** Whether a workload fails closed. */
  failsClosed(w: Workload): boolean {
    const o = this.opts;
    return (
      o.workloads.find((n) => n.name === w.name)?.failClosed ??
      o.namespaces.find((n) => n.name === w.namespace && w.namespace !== '')?.failClosed ??
      o.failClosed
    );
  }

  /** Enforcement could not be kept up for `w`: fail closed or open, and say so. */
  async enforcementFailed(w: Workload, reason: string): Promise<void> {
    const closed = this.failsClosed(w);
    let message = `${w.name}: enforcement failed (${reason}); `;
    let action: AlertAction = { taken: 'none', ok: false, detail: 'failing open' };
    if (closed) {
      const q = await this.opts.quarantines.quarantine(w, `failing closed: ${reason}`);
      message += q.ok ? 'failing closed: network quarantined' : `failing closed, but the quarantine failed too: ${q.error}`;
      action = { taken: q.ok ? 'quarantined' : 'quarantine failed', ok: q.ok, detail: q.ok ? 'failing closed' : q.error };
    } else {
      message += 'failing open: the workload keeps running unenforced (set failClosed to quarantine instead)';
    }
    this.opts.log.error({ workload: w.name, reason, failClosed: closed }, 'enforcement failed');
    this.opts.raise(alertAbout(w, this.opts.nodeName, { source: 'engine', rule: 'Enforcement failed', priority: closed ? 'critical' : 'error', message, action }));
  }
}
