// The seccomp profile a container runtime applies for `seccompProfile:
// RuntimeDefault`, as the runtimes the DaemonSet supports have it
// (containerd 1.7+, CRI-O 1.25+, Docker 23+: bpf() and perf_event_open()
// allowed to holders of CAP_BPF / CAP_PERFMON), resolved for one
// container's capabilities the way a runtime resolves it.
//
// This machine's runtimes are older (containerd 1.6, Docker 20.10: bpf()
// only with CAP_SYS_ADMIN), so the base is the default profile of Debian's
// golang-github-containers-common (the same profile family, installed by
// scripts/setup.sh --test), with those two syscalls moved to their own
// capabilities. The result is an OCI LinuxSeccomp (what a runtime hands to
// runc): containerd's CRI takes a Localhost profile as that, verbatim.
import { readFileSync } from 'node:fs';

export const CONTAINERS_COMMON_PROFILE = '/usr/share/containers/seccomp.json';

interface Condition {
  caps?: string[];
  arches?: string[];
  minKernel?: string;
}

interface ProfileSyscall {
  names: string[];
  action: string;
  args?: unknown[];
  errnoRet?: number;
  includes?: Condition;
  excludes?: Condition;
  comment?: string;
}

interface Profile {
  defaultAction: string;
  defaultErrnoRet?: number;
  archMap?: { architecture: string; subArchitectures?: string[] }[];
  syscalls: ProfileSyscall[];
}

/** The syscalls newer runtimes allow to their own capability rather than to CAP_SYS_ADMIN. */
const BY_OWN_CAPABILITY: Record<string, string> = { bpf: 'CAP_BPF', perf_event_open: 'CAP_PERFMON' };

/** The RuntimeDefault profile for a container holding `caps` (names without CAP_, as in a pod spec), on x86-64. */
export function runtimeDefaultSeccomp(caps: readonly string[]): object {
  const profile = JSON.parse(readFileSync(CONTAINERS_COMMON_PROFILE, 'utf8')) as Profile;
  const held = new Set(caps.map((c) => `CAP_${c}`));
  const syscalls: ProfileSyscall[] = [];
  for (const s of profile.syscalls) {
    const names = s.names.filter((n) => !(n in BY_OWN_CAPABILITY));
    if (names.length) syscalls.push({ ...s, names });
  }
  for (const [name, cap] of Object.entries(BY_OWN_CAPABILITY)) {
    syscalls.push({ names: [name], action: 'SCMP_ACT_ALLOW', includes: { caps: [cap] } }, { names: [name], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } });
  }
  const applies = (s: ProfileSyscall): boolean => {
    const inc = s.includes ?? {};
    const exc = s.excludes ?? {};
    if (inc.arches?.length && !inc.arches.some((a) => a === 'amd64' || a === 'x86')) return false;
    if (exc.arches?.some((a) => a === 'amd64')) return false;
    if (inc.caps?.length && !inc.caps.every((c) => held.has(c))) return false;
    if (exc.caps?.some((c) => held.has(c))) return false;
    return true;
  };
  // Each syscall once: a second rule for one syscall (both SYS_ADMIN and BPF held) adds nothing.
  const seen = new Set<string>();
  const resolved = syscalls.filter(applies).map(({ names, action, args, errnoRet }) => {
    const fresh = action === 'SCMP_ACT_ALLOW' && !args?.length ? names.filter((n) => !seen.has(n)) : names;
    if (action === 'SCMP_ACT_ALLOW' && !args?.length) for (const n of fresh) seen.add(n);
    return { names: fresh, action, ...(args?.length ? { args } : {}), ...(errnoRet !== undefined ? { errnoRet } : {}) };
  }).filter((s) => s.names.length);
  const amd64 = profile.archMap?.find((a) => a.architecture === 'SCMP_ARCH_X86_64');
  return {
    defaultAction: profile.defaultAction,
    ...(profile.defaultErrnoRet !== undefined ? { defaultErrnoRet: profile.defaultErrnoRet } : {}),
    architectures: amd64 ? [amd64.architecture, ...(amd64.subArchitectures ?? [])] : ['SCMP_ARCH_X86_64'],
    syscalls: resolved,
  };
}
