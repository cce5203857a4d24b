/* SPDX-License-Identifier: Apache-2.0 */
/* Privilege changes: the set*id family, ptrace, kernel modules, mount,
 * namespaces; and the kernel's own attack surface: bpf(), userfaultfd. */
#ifndef VIGIL_PRIV_BPF_H
#define VIGIL_PRIV_BPF_H

#include "path.bpf.h"
#include "creds.bpf.h"

static __always_inline int setid_enter(__u32 call, __s64 id)
{
	if (is_excluded())
		return 0;
	union vigil_inflight *rec = scratch_record(VIGIL_SETID);
	if (!rec)
		return 0;
	rec->setid.call = call;
	rec->setid.id = (__s32)id; /* uid_t -1 means "unchanged" */
	/* Before the call: at the exit they are what it left. */
	const struct cred *cred = bpf_get_current_task_btf()->cred;
	rec->setid.euid = cred->euid.val;
	rec->setid.suid = cred->suid.val;
	rec->setid.egid = cred->egid.val;
	rec->setid.sgid = cred->sgid.val;
	rec->setid.fsuid = cred->fsuid.val;
	rec->setid.fsgid = cred->fsgid.val;
	rec->setid._pad = 0;
	park(rec);
	return 0;
}

/* At the exit, the ids and capabilities the call left (leaving uid 0
 * drops them): what changed, whatever the call returned. A thread's cred
 * changes only by its own calls, so entry and exit bracket this one. */
static __always_inline int setid_exit(long ret)
{
	union vigil_inflight *rec = unpark();

	if (rec && rec->h.kind == VIGIL_SETID) {
		struct task_struct *task = bpf_get_current_task_btf();
		const struct cred *cred = task->cred;
		struct vigil_ids *after = &rec->setid.after;

		after->uid = cred->uid.val;
		after->euid = cred->euid.val;
		after->suid = cred->suid.val;
		after->fsuid = cred->fsuid.val;
		after->gid = cred->gid.val;
		after->egid = cred->egid.val;
		after->sgid = cred->sgid.val;
		after->fsgid = cred->fsgid.val;
		task_caps(task, &rec->setid.cap_effective, &rec->setid.cap_permitted);
	}
	send_parked_record(rec, ret, VIGIL_SETID);
	return 0;
}

/* One entry and one exit program per call; `arg` is the effective id asked for. */
#define SETID_HOOKS(name, call, arg)                                              \
	SEC("tp/syscalls/sys_enter_" #name)                                       \
	int enter_##name(struct trace_event_raw_sys_enter *ctx)                   \
	{ return setid_enter(call, ctx->args[arg]); }                             \
	SEC("tp/syscalls/sys_exit_" #name)                                        \
	int exit_##name(struct trace_event_raw_sys_exit *ctx)                     \
	{ return setid_exit(ctx->ret); }

SETID_HOOKS(setuid, VIGIL_SETUID, 0)
SETID_HOOKS(setgid, VIGIL_SETGID, 0)
SETID_HOOKS(setreuid, VIGIL_SETREUID, 1)
SETID_HOOKS(setregid, VIGIL_SETREGID, 1)
SETID_HOOKS(setresuid, VIGIL_SETRESUID, 1)
SETID_HOOKS(setresgid, VIGIL_SETRESGID, 1)
SETID_HOOKS(setfsuid, VIGIL_SETFSUID, 0)
SETID_HOOKS(setfsgid, VIGIL_SETFSGID, 0)

SEC("tp/syscalls/sys_enter_ptrace")
int enter_ptrace(struct trace_event_raw_sys_enter *ctx)
{
	if (is_excluded())
		return 0;
	union vigil_inflight *rec = scratch_record(VIGIL_PTRACE);
	if (!rec)
		return 0;
	rec->ptrace.request = ctx->args[0];
	rec->ptrace.target_pid = ctx->args[1];
	park(rec);
	return 0;
}

SEC("tp/syscalls/sys_exit_ptrace")
int exit_ptrace(struct trace_event_raw_sys_exit *ctx) { return finish_parked(ctx->ret, VIGIL_PTRACE); }

static __always_inline int module_enter(int fd)
{
	if (is_excluded())
		return 0;
	union vigil_inflight *rec = scratch_record(VIGIL_MODULE);
	if (!rec)
		return 0;
	rec->module.finit = fd >= 0;
	if (fd >= 0) {
		read_fd_path(&rec->module.path, fd);
	} else {
		rec->module.path.flags = 0;
		rec->module.path.base_len = 0;
		rec->module.path.raw[0] = 0;
		rec->module.path.raw_len = 1;
	}
	park(rec);
	return 0;
}

SEC("tp/syscalls/sys_enter_init_module")
int enter_init_module(struct trace_event_raw_sys_enter *ctx) { return module_enter(-1); }
SEC("tp/syscalls/sys_exit_init_module")
int exit_init_module(struct trace_event_raw_sys_exit *ctx) { return finish_parked(ctx->ret, VIGIL_MODULE); }
SEC("tp/syscalls/sys_enter_finit_module")
int enter_finit_module(struct trace_event_raw_sys_enter *ctx) { return module_enter(ctx->args[0]); }
SEC("tp/syscalls/sys_exit_finit_module")
int exit_finit_module(struct trace_event_raw_sys_exit *ctx) { return finish_parked(ctx->ret, VIGIL_MODULE); }

SEC("tp/syscalls/sys_enter_mount")
int enter_mount(struct trace_event_raw_sys_enter *ctx)
{
	if (is_excluded())
		return 0;
	union vigil_inflight *rec = scratch_record(VIGIL_MOUNT);
	if (!rec)
		return 0;
	rec->mount.flags = ctx->args[3];
	if (bpf_probe_read_user_str(rec->mount.source, sizeof(rec->mount.source), (const char *)ctx->args[0]) < 0)
		rec->mount.source[0] = 0;
	if (bpf_probe_read_user_str(rec->mount.fstype, sizeof(rec->mount.fstype), (const char *)ctx->args[2]) < 0)
		rec->mount.fstype[0] = 0;
	read_user_path(&rec->mount.target, AT_FDCWD, (const char *)ctx->args[1]);
	park(rec);
	return 0;
}

SEC("tp/syscalls/sys_exit_mount")
int exit_mount(struct trace_event_raw_sys_exit *ctx) { return finish_parked(ctx->ret, VIGIL_MOUNT); }

/* Entering another namespace or making new ones: how a container
 * process reaches for the host. */
static __always_inline int ns_enter(__u32 call, __u64 flags)
{
	if (is_excluded())
		return 0;
	union vigil_inflight *rec = scratch_record(VIGIL_NAMESPACE);
	if (!rec)
		return 0;
	rec->ns.call = call;
	rec->ns.flags = flags;
	park(rec);
	return 0;
}

SEC("tp/syscalls/sys_enter_setns")
int enter_setns(struct trace_event_raw_sys_enter *ctx) { return ns_enter(VIGIL_SETNS, ctx->args[1]); }
SEC("tp/syscalls/sys_exit_setns")
int exit_setns(struct trace_event_raw_sys_exit *ctx) { return finish_parked(ctx->ret, VIGIL_NAMESPACE); }
SEC("tp/syscalls/sys_enter_unshare")
int enter_unshare(struct trace_event_raw_sys_enter *ctx) { return ns_enter(VIGIL_UNSHARE, ctx->args[0]); }
SEC("tp/syscalls/sys_exit_unshare")
int exit_unshare(struct trace_event_raw_sys_exit *ctx) { return finish_parked(ctx->ret, VIGIL_NAMESPACE); }

/* bpf(): commands that load, attach or reach into BPF objects (a rootkit
 * loading a program, a tool taking another's map by id). The busy ones on
 * existing descriptors (map lookups and updates, queries) are not sent. */
#define VIGIL_BPF_REPORTED ((1ULL << 0) | (1ULL << 5) | (1ULL << 6) | (1ULL << 7) | (1ULL << 8) | (1ULL << 9) | \
			    (1ULL << 13) | (1ULL << 14) | (1ULL << 17) | (1ULL << 18) | (1ULL << 28) | (1ULL << 30) | \
			    (1ULL << 34))

SEC("tp/syscalls/sys_enter_bpf")
int enter_bpf(struct trace_event_raw_sys_enter *ctx)
{
	__u64 cmd = ctx->args[0];
	if (cmd > 63 || !((VIGIL_BPF_REPORTED >> cmd) & 1) || is_excluded())
		return 0;
	union vigil_inflight *rec = scratch_record(VIGIL_BPF);
	if (!rec)
		return 0;
	rec->call.a = cmd;
	rec->call.b = 0;
	rec->call.c = 0;
	rec->call._pad = 0;
	__builtin_memset(rec->call.name, 0, sizeof(rec->call.name));
	const union bpf_attr *uattr = (const union bpf_attr *)ctx->args[1];
	if (cmd == 5 /* BPF_PROG_LOAD */) {
		__u32 type = 0, attach = 0;
		bpf_probe_read_user(&type, sizeof(type), &uattr->prog_type);
		bpf_probe_read_user(&attach, sizeof(attach), &uattr->expected_attach_type);
		rec->call.b = type;
		rec->call.c = attach;
		bpf_probe_read_user(rec->call.name, sizeof(rec->call.name), uattr->prog_name);
	} else if (cmd == 0 /* BPF_MAP_CREATE */) {
		__u32 type = 0;
		bpf_probe_read_user(&type, sizeof(type), &uattr->map_type);
		rec->call.c = type;
		bpf_probe_read_user(rec->call.name, sizeof(rec->call.name), uattr->map_name);
	}
	rec->call.name[sizeof(rec->call.name) - 1] = 0;
	park(rec);
	return 0;
}

SEC("tp/syscalls/sys_exit_bpf")
int exit_bpf(struct trace_event_raw_sys_exit *ctx) { return finish_parked(ctx->ret, VIGIL_BPF); }

/* userfaultfd: a kernel exploit's favourite tool for winning races. */
SEC("tp/syscalls/sys_enter_userfaultfd")
int enter_userfaultfd(struct trace_event_raw_sys_enter *ctx)
{
	if (is_excluded())
		return 0;
	union vigil_inflight *rec = scratch_record(VIGIL_USERFAULTFD);
	if (!rec)
		return 0;
	rec->call.a = ctx->args[0];
	rec->call.b = 0;
	rec->call.c = 0;
	rec->call._pad = 0;
	rec->call.name[0] = 0;
	park(rec);
	return 0;
}

SEC("tp/syscalls/sys_exit_userfaultfd")
int exit_userfaultfd(struct trace_event_raw_sys_exit *ctx) { return finish_parked(ctx->ret, VIGIL_USERFAULTFD); }

#endif
