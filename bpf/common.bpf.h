/* SPDX-License-Identifier: Apache-2.0 */
/* Maps and helpers shared by every hook: filtering, the event header,
 * the ring buffer with its loss counter, and syscall entry→exit pairing. */
#ifndef VIGIL_COMMON_BPF_H
#define VIGIL_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "events.h"

#define AT_FDCWD -100

/* Every syscall record that needs its exit's result. */
union vigil_inflight {
	struct vigil_header h;
	struct vigil_open open;
	struct vigil_unlink unlink;
	struct vigil_rename rename;
	struct vigil_chmod chmod;
	struct vigil_net net;
	struct vigil_setid setid;
	struct vigil_ptrace ptrace;
	struct vigil_module module;
	struct vigil_mount mount;
	struct vigil_namespace ns;
	struct vigil_dup dup;
};

/* The one channel to user space; its size is set by the loader. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 24);
} events SEC(".maps");

/* Where an event can vanish, counted per CPU (enum vigil_loss). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VIGIL_LOSS_MAX);
	__type(key, __u32);
	__type(value, __u64);
} losses SEC(".maps");

/* Processes whose events are not reported: the probe and the engine
 * themselves (their own reads would otherwise feed back as events). The
 * loader fills the list; every hook scans it first, and a scan of a few
 * words costs less than a map lookup. */
#define VIGIL_EXCLUDED_MAX 64
__u32 excluded_tgids[VIGIL_EXCLUDED_MAX] = {};
__u32 excluded_count = 0;

/* Syscall records waiting for their exit, keyed by thread id. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, union vigil_inflight);
} inflight SEC(".maps");

/* Per-CPU scratch space: records are too large for the 512-byte stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, union vigil_inflight);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vigil_exec);
} exec_scratch SEC(".maps");

static __always_inline void count_loss(__u32 where)
{
	__u64 *n = bpf_map_lookup_elem(&losses, &where);
	if (n)
		(*n)++;
}

static __always_inline bool is_excluded(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u32 n = excluded_count;

	for (__u32 i = 0; i < VIGIL_EXCLUDED_MAX; i++) {
		if (i >= n)
			return false;
		if (excluded_tgids[i] == tgid)
			return true;
	}
	return false;
}

/* The task's cgroup v2 id, what bpf_get_current_cgroup_id() returns, read
 * straight from the task: the helper costs tens of nanoseconds on every
 * event. Programs run under RCU, which keeps the css_set alive. */
static __always_inline __u64 current_cgroup_id(void)
{
	return bpf_get_current_task_btf()->cgroups->dfl_cgrp->kn->id;
}

static __always_inline void fill_header(struct vigil_header *h, __u32 kind)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 uid_gid = bpf_get_current_uid_gid();

	h->ktime_ns = bpf_ktime_get_ns();
	h->cgroup_id = current_cgroup_id();
	h->kind = kind;
	h->pid = pid_tgid >> 32;
	h->tid = (__u32)pid_tgid;
	h->ppid = task->real_parent->tgid;
	h->uid = (__u32)uid_gid;
	h->gid = uid_gid >> 32;
	h->flags = 0;
	h->_pad = 0;
	bpf_get_current_comm(h->comm, sizeof(h->comm));
}

/*
 * Wakeups. Waking the probe for every record costs an inter-processor
 * interrupt per event, several microseconds on a busy node. A record wakes
 * the probe only when it has caught up (nothing else is unread) and was
 * last woken wakeup_gap_ns ago or more, or when the unread data crosses
 * wakeup_bytes. After any wakeup the probe polls again within the gap, so
 * a record that does not wake it waits at most that long. The loader sets
 * both from the probe's flags.
 */
const volatile __u64 wakeup_gap_ns = 1000000;
const volatile __u64 wakeup_bytes = 1 << 20;
__u64 last_wakeup_ns = 0;

/* Send a finished record; a full ring buffer is the only place an event
 * can vanish, so that is where the loss is counted. */
static __always_inline void submit(void *rec, __u64 size)
{
	__u64 unread = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	__u64 flags = BPF_RB_NO_WAKEUP;

	if (unread < wakeup_bytes && unread + size >= wakeup_bytes) {
		flags = BPF_RB_FORCE_WAKEUP;
	} else if (unread == 0) {
		__u64 now = bpf_ktime_get_ns();
		if (now - last_wakeup_ns >= wakeup_gap_ns) {
			flags = BPF_RB_FORCE_WAKEUP;
			last_wakeup_ns = now;
		}
	}
	if (bpf_ringbuf_output(&events, rec, size, flags))
		count_loss(VIGIL_LOSS_RINGBUF);
}

/* Per-CPU scratch for a syscall record; NULL never happens in practice
 * but the verifier needs the check. */
static __always_inline union vigil_inflight *scratch_space(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&scratch, &zero);
}

/* Scratch with the header filled in. While a record is parked, `result`
 * (right after the header in every parked layout) holds its
 * de-duplication key, 0 for none (dedup.bpf.h). */
static __always_inline union vigil_inflight *scratch_record(__u32 kind)
{
	union vigil_inflight *rec = scratch_space();
	if (!rec)
		return NULL;
	fill_header(&rec->h, kind);
	rec->open.result = 0;
	return rec;
}

/* Park a record built at syscall entry until the exit brings the result. */
static __always_inline void park(union vigil_inflight *rec)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	if (bpf_map_update_elem(&inflight, &tid, rec, BPF_ANY))
		count_loss(VIGIL_LOSS_INFLIGHT);
}

/* At syscall exit: the parked record of this thread, if any. */
static __always_inline union vigil_inflight *unpark(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	return bpf_map_lookup_elem(&inflight, &tid);
}

static __always_inline void drop_parked(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	bpf_map_delete_elem(&inflight, &tid);
}

/* Record size by kind, for the exit side of a parked syscall. */
static __always_inline __u64 record_size(__u32 kind)
{
	switch (kind) {
	case VIGIL_OPEN: return sizeof(struct vigil_open);
	case VIGIL_UNLINK: return sizeof(struct vigil_unlink);
	case VIGIL_RENAME: return sizeof(struct vigil_rename);
	case VIGIL_CHMOD: return sizeof(struct vigil_chmod);
	case VIGIL_CONNECT:
	case VIGIL_ACCEPT:
	case VIGIL_BIND:
	case VIGIL_LISTEN: return sizeof(struct vigil_net);
	case VIGIL_SETID: return sizeof(struct vigil_setid);
	case VIGIL_PTRACE: return sizeof(struct vigil_ptrace);
	case VIGIL_MODULE: return sizeof(struct vigil_module);
	case VIGIL_MOUNT: return sizeof(struct vigil_mount);
	case VIGIL_NAMESPACE: return sizeof(struct vigil_namespace);
	case VIGIL_DUP: return sizeof(struct vigil_dup);
	}
	return 0;
}

/* Generic syscall exit: fill in the result and send the parked record.
 * Returns the record's de-duplication key when it was sent and not
 * blocked, else 0. */
static __always_inline __u64 send_parked(long ret, __u32 expect_kind)
{
	union vigil_inflight *rec = unpark();
	if (!rec)
		return 0;
	if (rec->h.kind != expect_kind) {
		drop_parked();
		return 0;
	}
	/* Every parked layout keeps `result` right after the header. */
	__u64 dedup_key = rec->h.flags & VIGIL_BLOCKED ? 0 : rec->open.result;
	rec->open.result = ret;
	__u64 size = record_size(expect_kind);
	if (size)
		submit(rec, size);
	else
		dedup_key = 0;
	drop_parked();
	return dedup_key;
}

static __always_inline int finish_parked(long ret, __u32 expect_kind)
{
	send_parked(ret, expect_kind);
	return 0;
}

#endif
