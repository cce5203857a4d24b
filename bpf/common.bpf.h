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
	struct vigil_fileop fileop;
	struct vigil_mkdir mkdir;
	struct vigil_link link;
	struct vigil_call call;
};

/* The one channel to user space; its size is set by the loader. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
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

/* A syscall whose entry repeated a recent event (dedup.bpf.h): what its
 * exit needs to confirm the repeat, or to build the record after all. */
struct vigil_repeat {
	__u64 hash;
	__s64 result;  /* the remembered result */
	__u64 uptr;    /* open: the path; connect: the sockaddr */
	__s64 flags;   /* open */
	__s32 fd;      /* open: the dirfd; connect: the socket */
	__u32 mode;    /* open: the mode; connect: the address length */
	__u32 kind;    /* 0: nothing armed */
	__u32 scope;   /* VIGIL_DEDUP_SCOPE_*: what `hash` is keyed on */
	__u64 own_hash; /* scope MISSING: the process's own key, remembered too if built */
	__u32 ident;   /* open: the remembered file's identity (dedup.bpf.h file_ident), 0 for none */
	__u32 _pad;
};

/*
 * A thread's syscall in flight, from its entry to its exit: the record is
 * built in place at entry and sent from there at exit, so waiting for the
 * exit costs no copy, lookup or delete. A header kind of 0 means no record
 * waits; a repeat kind of 0 means no repeat is armed. The storage lives as
 * long as the thread: about 2.7 KiB for each thread that made a watched
 * syscall.
 */
struct vigil_thread {
	union vigil_inflight rec;
	struct vigil_repeat repeat;
	/* open: the workload-wide key remembered if it finds nothing (dedup.bpf.h), 0 for none */
	__u64 missing_key;
	/* At its last watched syscall: the thread's cgroup, and the enforce
	 * policy root it was under (0: none). A move to another cgroup is
	 * seen after the fact (tp_btf/cgroup_attach_task): this is where it
	 * came from, and the policy that then follows it (enforce.bpf.h). */
	__u64 cgroup;
	__u64 home;
	/* open: a path string not readable at entry (its page not yet
	 * mapped), read again at exit once the kernel has faulted it in; 0
	 * for none. */
	__u64 reread_uptr;
	__s32 reread_dirfd;
	/* open: judged sheddable at entry by the string; decided at exit by
	 * the file opened (fair.bpf.h, fair_shed_opened). */
	__u32 fair_pending;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct vigil_thread);
} inflight SEC(".maps");

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

/* The task's uid and gid as bpf_get_current_uid_gid() returns them
 * (gid << 32 | uid), read straight from its credentials: the helper maps
 * both through the initial user namespace, where the mapping is the
 * identity, at ~30 ns on every open. */
static __always_inline __u64 current_uid_gid(void)
{
	const struct cred *cred = bpf_get_current_task_btf()->cred;

	return (__u64)cred->gid.val << 32 | cred->uid.val;
}

static __always_inline void fill_header(struct vigil_header *h, __u32 kind)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 uid_gid = current_uid_gid();

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
 * interrupt and a context switch per event, several microseconds on a busy
 * node. A record wakes the probe only when the probe was last woken, or
 * last read, wakeup_gap_ns ago or more (its flush period), or when the
 * unread data crosses wakeup_bytes. While records flow the probe reads
 * once a period on its own clock and writes the time of each read into
 * last_wakeup_ns, so no record wakes it in between; once a read finds
 * nothing it waits for a wakeup again, which the next record sends. (Waking
 * only when the probe had caught up left records unread for 100 ms now and
 * then: the probe's view and the kernel's of "caught up" can disagree for a
 * moment.) The loader sets both. A planned read more than a gap away (the
 * probe's busy period) puts last_wakeup_ns in the future: the difference is
 * compared signed, so that means quiet until then (unsigned, it wrapped and
 * every record woke the probe: an interrupt per exec on the tracing CPU).
 */
const volatile __u64 wakeup_gap_ns = 1000000;
const volatile __u64 wakeup_bytes = 1 << 20;
__u64 last_wakeup_ns = 0;

/* Defined in fair.bpf.h: losses counted per cgroup, and the ring's
 * reserve for what is never shed. */
static __always_inline void count_cgroup_loss(__u64 cg, __u32 where);
static __always_inline bool fair_shed_at_submit(union vigil_inflight *rec, __u64 unread);

/* Writes a finished record; a full ring buffer is the only place an event
 * can vanish, so that is where the loss is counted (per CPU and per cgroup). */
static __always_inline void write_record(void *rec, __u64 size, __u64 unread)
{
	__u64 flags = BPF_RB_NO_WAKEUP;

	if (unread < wakeup_bytes && unread + size >= wakeup_bytes) {
		flags = BPF_RB_FORCE_WAKEUP;
	} else {
		__u64 now = bpf_ktime_get_ns();
		if ((__s64)(now - last_wakeup_ns) >= (__s64)wakeup_gap_ns) {
			flags = BPF_RB_FORCE_WAKEUP;
			last_wakeup_ns = now;
		}
	}
	if (bpf_ringbuf_output(&events, rec, size, flags)) {
		count_loss(VIGIL_LOSS_RINGBUF);
		count_cgroup_loss(((struct vigil_header *)rec)->cgroup_id, VIGIL_LOSS_RINGBUF);
	}
}

/* Sends a record of a kind that is never shed (exec, fork, exit, a denial). */
static __always_inline void submit(void *rec, __u64 size)
{
	write_record(rec, size, bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA));
}

/* Sends a syscall's record built in this thread's storage (or a denial's
 * scratch): past the ring's reserve it is counted instead when it may be
 * shed (fair.bpf.h). */
static __always_inline void submit_parked(union vigil_inflight *rec, __u64 size)
{
	__u64 unread = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	if (fair_shed_at_submit(rec, unread + size))
		return;
	write_record(rec, size, unread);
}

/* Records where the thread is (enforce.bpf.h, which defines it). */
static __always_inline void note_home(struct vigil_thread *t);

/* At a syscall's entry: this thread's state, emptied (whatever waited
 * there belonged to a syscall whose exit was never seen). NULL (counted)
 * when there is no memory for it. */
static __always_inline struct vigil_thread *thread_space(void)
{
	struct vigil_thread *t = bpf_task_storage_get(&inflight, bpf_get_current_task_btf(), 0,
						       BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!t) {
		count_loss(VIGIL_LOSS_INFLIGHT);
		count_cgroup_loss(current_cgroup_id(), VIGIL_LOSS_INFLIGHT);
		return NULL;
	}
	t->rec.h.kind = 0;
	t->repeat.kind = 0;
	t->missing_key = 0;
	note_home(t);
	t->reread_uptr = 0;
	return t;
}

/* At a syscall's exit: this thread's state, if it has any. */
static __always_inline struct vigil_thread *thread_state(void)
{
	return bpf_task_storage_get(&inflight, bpf_get_current_task_btf(), 0, 0);
}

static __always_inline union vigil_inflight *scratch_space(void)
{
	struct vigil_thread *t = thread_space();
	return t ? &t->rec : NULL;
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
/* The record is already in this thread's storage with its kind set:
 * nothing to copy. Kept as the mark of where an entry hands over. */
static __always_inline void park(union vigil_inflight *rec)
{
}

/* At syscall exit: the parked record of this thread, if any. */
static __always_inline union vigil_inflight *unpark_from(struct vigil_thread *t)
{
	return t && t->rec.h.kind ? &t->rec : NULL;
}

static __always_inline union vigil_inflight *unpark(void)
{
	return unpark_from(thread_state());
}

static __always_inline void drop_parked(union vigil_inflight *rec)
{
	rec->h.kind = 0;
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
	case VIGIL_FILEOP: return sizeof(struct vigil_fileop);
	case VIGIL_MKDIR: return sizeof(struct vigil_mkdir);
	case VIGIL_LINK: return sizeof(struct vigil_link);
	case VIGIL_SOCKET:
	case VIGIL_BPF:
	case VIGIL_USERFAULTFD:
	case VIGIL_URING: return sizeof(struct vigil_call);
	case VIGIL_SEND: return sizeof(struct vigil_net);
	}
	return 0;
}

/* Bytes of a record up to the last used byte of the path it ends with. */
static __always_inline __u64 up_to_path_end(__u64 path_offset, const struct vigil_path *p)
{
	__u32 n;

	if (p->flags & (VIGIL_PATH_HAS_BASE | VIGIL_PATH_FROM_FD)) {
		n = p->base_len;
		if (n > VIGIL_WALK_LEN)
			n = VIGIL_WALK_LEN;
		return path_offset + offsetof(struct vigil_path, base) + n;
	}
	n = p->raw_len;
	if (n > VIGIL_STR_LEN)
		n = VIGIL_STR_LEN;
	return path_offset + offsetof(struct vigil_path, raw) + n;
}

/* What is sent of a record: all of it, except that a path it ends with
 * stops at its last used byte (most paths are far shorter than the
 * buffers, and the ring buffer then holds several times more events). */
static __always_inline __u64 sent_size(union vigil_inflight *rec, __u32 kind)
{
	switch (kind) {
	case VIGIL_OPEN:
		if (rec->open.resolved_len) {
			__u32 end = (__u32)rec->open.resolved_off + rec->open.resolved_len;
			if (end > VIGIL_STR_LEN + 2 * VIGIL_WALK_LEN)
				end = VIGIL_STR_LEN + 2 * VIGIL_WALK_LEN;
			return offsetof(struct vigil_open, path.raw) + end;
		}
		return up_to_path_end(offsetof(struct vigil_open, path), &rec->open.path);
	case VIGIL_UNLINK: return up_to_path_end(offsetof(struct vigil_unlink, path), &rec->unlink.path);
	case VIGIL_RENAME: return up_to_path_end(offsetof(struct vigil_rename, to), &rec->rename.to);
	case VIGIL_CHMOD: return up_to_path_end(offsetof(struct vigil_chmod, path), &rec->chmod.path);
	case VIGIL_MODULE: return up_to_path_end(offsetof(struct vigil_module, path), &rec->module.path);
	case VIGIL_MOUNT: return up_to_path_end(offsetof(struct vigil_mount, target), &rec->mount.target);
	case VIGIL_FILEOP: return up_to_path_end(offsetof(struct vigil_fileop, path), &rec->fileop.path);
	case VIGIL_MKDIR: return up_to_path_end(offsetof(struct vigil_mkdir, path), &rec->mkdir.path);
	case VIGIL_LINK: return up_to_path_end(offsetof(struct vigil_link, to), &rec->link.to);
	}
	return record_size(kind);
}

/* Generic syscall exit: fill in the result and send the parked record.
 * Returns the record's de-duplication key when it was sent and not
 * blocked, else 0. */
static __always_inline __u64 send_parked_record(union vigil_inflight *rec, long ret, __u32 expect_kind)
{
	if (!rec)
		return 0;
	if (rec->h.kind != expect_kind) {
		drop_parked(rec);
		return 0;
	}
	/* Every parked layout keeps `result` right after the header. */
	__u64 dedup_key = rec->h.flags & VIGIL_BLOCKED ? 0 : rec->open.result;
	rec->open.result = ret;
	__u64 size = sent_size(rec, expect_kind);
	if (size)
		submit_parked(rec, size);
	else
		dedup_key = 0;
	drop_parked(rec);
	return dedup_key;
}

static __always_inline int finish_parked(long ret, __u32 expect_kind)
{
	send_parked_record(unpark(), ret, expect_kind);
	return 0;
}

#endif
