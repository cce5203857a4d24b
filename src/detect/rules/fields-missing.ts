// Falco fields Vigil does not have, and why: what a skipped rule's reason
// names, so `vigil rules check` says what is missing (an event the probe
// does not send, data it does not capture), not only that a field is.
// A field leaves this table when the data arrives and the field is
// defined in a fields-*.ts table.

/** Why, by field name; a name ending in '*' covers every field it starts. */
const WHY: [string, string][] = [
  // Data Vigil does not capture on any kernel.
  ['evt.buffer', 'Vigil does not capture the data of reads and writes'],
  ['evt.rawarg.data', 'Vigil does not capture the data of reads and writes'],
  ['evt.arg.data', 'Vigil does not capture the data of reads and writes'],
  ['fdlist.*', 'Vigil does not see poll/select descriptor lists'],
  ['evt.latency*', 'Vigil reports syscalls at their return only, not their entry'],
  ['evt.cpu', 'events do not carry the CPU they ran on'],
  // Data the probe does not send yet.
  ['fs.path.nameraw', 'file events do not carry the path as the caller wrote it, only one path'],
  ['fs.path.sourceraw', 'file events do not carry the path as the caller wrote it, only one path'],
  ['fs.path.targetraw', 'file events do not carry the path as the caller wrote it, only one path'],
  ['proc.vpid', 'events do not carry pids as seen inside the pid namespace'],
  ['proc.pvpid', 'events do not carry pids as seen inside the pid namespace'],
  ['thread.vtid', 'events do not carry pids as seen inside the pid namespace'],
  ['proc.vpgid*', 'events do not carry pids as seen inside the pid namespace'],
  ['proc.is_vpgid_leader', 'events do not carry pids as seen inside the pid namespace'],
  ['proc.sid*', 'the process tree does not know session ids'],
  ['proc.sname', 'the process tree does not know session ids'],
  ['proc.is_sid_leader', 'the process tree does not know session ids'],
  ['proc.pgid*', 'the process tree does not know process groups'],
  ['thread.cap_*', 'events do not carry capability sets'],
  ['user.loginname', 'events do not carry the login uid'],
  ['proc.is_exe_upper_layer', 'exec events do not say which overlay layer the executable is on'],
  ['proc.is_exe_lower_layer', 'exec events do not say which overlay layer the executable is on'],
  ['proc.is_exe_writable', 'exec events do not say whether the executable is writable by the caller'],
  ['proc.exe_ino*', "exec events do not carry the executable's inode"],
  ['proc.is_container_healthcheck', 'no container runtime metadata: health checks'],
  ['proc.is_container_liveness_probe', 'no Kubernetes probe metadata'],
  ['proc.is_container_readiness_probe', 'no Kubernetes probe metadata'],
  ['container.image*', 'no container runtime metadata: image'],
  ['container.privileged', 'no container runtime metadata: privileged'],
  ['container.mount*', 'no container runtime metadata: mounts'],
  ['container.type', 'no container runtime metadata: runtime type'],
  ['container.start_ts', 'no container runtime metadata: start time'],
  ['container.healthcheck', 'no container runtime metadata: health checks'],
  ['container.liveness_probe', 'no Kubernetes probe metadata'],
  ['container.readiness_probe', 'no Kubernetes probe metadata'],
];

/** Why Vigil lacks a Falco field, or undefined when the table does not say. */
export function whyMissing(name: string): string | undefined {
  for (const [pattern, why] of WHY) {
    if (pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : name === pattern) return why;
  }
  return undefined;
}
