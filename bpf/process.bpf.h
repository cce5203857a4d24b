/* SPDX-License-Identifier: Apache-2.0 */
/* Process lifecycle: exec, fork, exit (BTF-typed scheduler tracepoints). */
#ifndef VIGIL_PROCESS_BPF_H
#define VIGIL_PROCESS_BPF_H

#include "path.bpf.h"
#include "enforce.bpf.h"
#include "creds.bpf.h"

/* The environment block as laid out on the new stack (mm->env_start..
 * env_end, what /proc/PID/environ reads), right after argv's `off` bytes,
 * at most VIGIL_ENV_LEN bytes (VIGIL_ENV_TRUNCATED past it). One bounded
 * copy, no parsing here: the probe splits it, keeps every name and only
 * an allow-list of values (probe/decoder.cc), so the rest never leaves
 * the probe process. Returns the bytes copied. */
static __always_inline __u32 exec_env(struct task_struct *p, struct vigil_exec *e, __u64 off)
{
	unsigned long start = BPF_CORE_READ(p, mm, env_start);
	unsigned long end = BPF_CORE_READ(p, mm, env_end);
	if (end <= start)
		return 0;
	__u64 len = end - start;
	if (len > VIGIL_ENV_LEN) {
		len = VIGIL_ENV_LEN;
		e->flags |= VIGIL_ENV_TRUNCATED;
	}
	/* Bounds the verifier can see: off <= VIGIL_ARGS_LEN, len <= VIGIL_ENV_LEN. */
	off &= (VIGIL_ARGS_LEN - 1) | VIGIL_ARGS_LEN;
	if (off > VIGIL_ARGS_LEN)
		return 0;
	len &= (VIGIL_ENV_LEN - 1) | VIGIL_ENV_LEN;
	if (len > VIGIL_ENV_LEN)
		len = VIGIL_ENV_LEN;
	if (bpf_probe_read_user(e->args + off, len, (void *)start))
		return 0;
	return len;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(handle_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 zero = 0;
	bool truncated = false;
	struct vigil_exec *e;

	if (is_excluded())
		return 0;
	e = bpf_map_lookup_elem(&exec_scratch, &zero);
	if (!e)
		return 0;
	fill_header(&e->h, VIGIL_EXEC);
	e->flags = 0;

	/* The name as called, and the file actually run (symlinks resolved). */
	bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), bprm->filename);
	struct path exe_path = BPF_CORE_READ(bprm, file, f_path);
	e->exe_len = walk_path(&exe_path, e->exe, &truncated);
	e->exe_layer = exe_layer(BPF_CORE_READ(bprm, file));
	task_caps(p, &e->cap_effective, &e->cap_permitted);
	e->loginuid = task_loginuid(p);
	e->vpid = task_vpid(p);
	exe_identity(e, BPF_CORE_READ(bprm, file));
	e->stdio = stdio_kinds();
	enforce_exec(&e->h, e->exe, e->exe_len, e->exe_ino, e->exe_dev, e->exe_ctime_ns);
	struct path pwd = BPF_CORE_READ(p, fs, pwd);
	e->cwd_len = walk_path(&pwd, e->cwd, &truncated);

	/* The controlling terminal: an interactive shell has one, a service does not. */
	e->tty = task_tty(p);

	/* argv as laid out on the new stack, NUL-separated, bounded. */
	unsigned long start = BPF_CORE_READ(p, mm, arg_start);
	unsigned long end = BPF_CORE_READ(p, mm, arg_end);
	__u64 len = end - start;
	if (len > VIGIL_ARGS_LEN) {
		len = VIGIL_ARGS_LEN;
		e->flags |= VIGIL_PATH_TRUNCATED;
	}
	len &= (VIGIL_ARGS_LEN - 1) | VIGIL_ARGS_LEN;
	if (len > VIGIL_ARGS_LEN)
		len = VIGIL_ARGS_LEN;
	if (bpf_probe_read_user(e->args, len, (void *)start))
		len = 0;
	e->args_len = len;
	__u64 env_len = exec_env(p, e, len);
	if (env_len > VIGIL_ENV_LEN)
		env_len = VIGIL_ENV_LEN;
	e->env_len = env_len;

	/* Sent up to the end of the environment. */
	submit(e, offsetof(struct vigil_exec, args) + len + env_len);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(handle_fork, struct task_struct *parent, struct task_struct *child)
{
	struct vigil_fork e = {};

	/* New threads share the process; only a new thread group is a fork. */
	if (child->pid != child->tgid || is_excluded())
		return 0;
	/* A policy that followed the parent out of its cgroups follows the child. */
	__u32 ptgid = parent->tgid;
	struct vigil_followed *f = bpf_map_lookup_elem(&followed, &ptgid);
	if (f && f->start == task_start(parent)) {
		struct vigil_followed c = { .root = f->root, .start = child->start_time };
		__u32 ctgid = child->tgid;
		bpf_map_update_elem(&followed, &ctgid, &c, BPF_ANY);
	}
	fill_header(&e.h, VIGIL_FORK);
	e.child_pid = child->tgid;
	e.child_vpid = task_vpid(child);
	submit(&e, sizeof(e));
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(handle_exit, struct task_struct *p)
{
	struct vigil_exit e = {};

	/* One exit per process: the group leader's. */
	if (p->pid != p->tgid || is_excluded())
		return 0;
	__u32 tgid = p->tgid;
	bpf_map_delete_elem(&followed, &tgid);
	fill_header(&e.h, VIGIL_EXIT);
	int code = p->exit_code;
	e.exit_code = (code >> 8) & 0xff;
	e.signal = code & 0x7f;
	submit(&e, sizeof(e));
	return 0;
}

#endif
