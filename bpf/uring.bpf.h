/* SPDX-License-Identifier: Apache-2.0 */
/*
 * io_uring: work submitted through a ring never passes the syscall
 * tracepoints (an open or connect is one io_uring_enter, or none at all
 * with SQPOLL), so it is followed through io_uring's own tracepoints:
 *   io_uring_create          a ring set up: a VIGIL_URING record (SETUP),
 *                            with its flags (SQPOLL) and size
 *   io_uring_submit_req      (io_uring_submit_sqe before 6.0) each request
 *                            as submitted, after its preparation: an open
 *                            (OPENAT, OPENAT2) or a connect is built as a
 *                            VIGIL_OPEN or VIGIL_CONNECT record flagged
 *                            VIGIL_VIA_URING and held by request until...
 *   io_uring_complete        ...its completion brings the result, when it
 *                            is sent. Any other opcode is sent once per
 *                            process image as a VIGIL_URING record (OP).
 * The submitter's context fills the header: the process, its cgroup and
 * credentials (an SQPOLL thread belongs to the process that made the ring,
 * and shares its files and memory, so user pointers and dirfds read the
 * same there).
 *
 * A denial of io_uring work by a security hook (deny.bpf.h) or a refusal
 * by the cgroup connect hook (enforce.bpf.h) marks the request's record
 * instead of sending one of its own: the hook notes it per process and
 * kind, the completion with -EPERM takes the note.
 */
#ifndef VIGIL_URING_BPF_H
#define VIGIL_URING_BPF_H

#include "net.bpf.h"

/* include/uapi/linux/io_uring.h: the opcodes are ABI. */
#define VIGIL_IORING_OP_CONNECT 16
#define VIGIL_IORING_OP_OPENAT 18
#define VIGIL_IORING_OP_OPENAT2 28
#define VIGIL_PF_IO_WORKER 0x10
#ifndef EPERM
#define EPERM 1
#endif

/* Set by the loader when this kernel has the submit and completion
 * tracepoints: the hooks then leave io_uring denials to the completion. */
const volatile bool uring_ops_tracked = false;

/* A record waiting for its request's completion, by request address.
 * A request that never posts a completion (IOSQE_CQE_SKIP_SUCCESS) is
 * evicted in time. */
union uring_rec {
	struct vigil_header h;
	struct vigil_open open;
	struct vigil_net net;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 256);
	__type(key, __u64);
	__type(value, union uring_rec);
} uring_pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, union uring_rec);
} uring_scratch SEC(".maps");

/* Opcodes a process image has submitted (key: its dedup actor and the
 * opcode): each is sent the first time. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u8);
} uring_ops_seen SEC(".maps");

/* Denials of io_uring work by a hook, by (tgid << 32 | kind): the
 * VIGIL_BY_* mechanism. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u32);
} uring_denied SEC(".maps");

/* Whether the current task may be doing io_uring's work: an io-wq worker
 * or an SQPOLL thread (both PF_IO_WORKER), or a task that has used
 * io_uring (inline submission, inside io_uring_enter). Asked only by a
 * hook that found no watched syscall's record to mark, where little else
 * than io_uring remains. */
static __always_inline bool in_uring(void)
{
	struct task_struct *task = bpf_get_current_task_btf();
	if (task->flags & VIGIL_PF_IO_WORKER)
		return true;
	if (bpf_core_field_exists(task->io_uring))
		return BPF_CORE_READ(task, io_uring) != NULL;
	return false;
}

/* In a denying hook with no syscall record to mark: true when the denial
 * belongs to io_uring work whose completion will report it. */
static __always_inline bool uring_note_denial(__u32 kind, __u32 by)
{
	if (!uring_ops_tracked || !in_uring())
		return false;
	__u64 key = (bpf_get_current_pid_tgid() & 0xffffffff00000000ULL) | kind;
	bpf_map_update_elem(&uring_denied, &key, &by, BPF_ANY);
	return true;
}

static __always_inline union uring_rec *uring_space(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&uring_scratch, &zero);
}

static __always_inline void uring_open(struct io_kiocb *req, void *cmd)
{
	union uring_rec *rec = uring_space();
	if (!rec)
		return;
	struct io_open *o = cmd;
	struct vigil_path *p = &rec->open.path;
	const char *name = BPF_CORE_READ(o, filename, name);
	long n = raw_read(p, bpf_probe_read_kernel_str(p->raw, sizeof(p->raw), name));
	fill_header(&rec->h, VIGIL_OPEN);
	rec->h.flags = VIGIL_VIA_URING;
	rec->open.result = 0;
	rec->open.flags = BPF_CORE_READ(o, how.flags);
	rec->open.mode = BPF_CORE_READ(o, how.mode);
	rec->open._pad = 0;
	/* Named by the string the kernel copied: the file opened is not
	 * walked at the completion (file.bpf.h does it for the syscalls). */
	clear_opened(&rec->open);
	walk_user_base(p, BPF_CORE_READ(o, dfd), n);
	__u64 key = (__u64)req;
	bpf_map_update_elem(&uring_pending, &key, rec, BPF_ANY);
}

static __always_inline void uring_connect(struct io_kiocb *req, void *cmd)
{
	union uring_rec *rec = uring_space();
	if (!rec)
		return;
	struct io_connect *c = cmd;
	__builtin_memset(&rec->net, 0, sizeof(rec->net));
	fill_header(&rec->h, VIGIL_CONNECT);
	rec->h.flags = VIGIL_VIA_URING;
	/* The socket's descriptor is stashed in the completion's fd until issue. */
	int fd = BPF_CORE_READ(req, cqe.fd);
	rec->net.fd = fd;
	rec->net.protocol = sock_protocol(sock_from_fd(fd));
	read_user_sockaddr(&rec->net.remote, BPF_CORE_READ(c, addr), BPF_CORE_READ(c, addr_len));
	__u64 key = (__u64)req;
	bpf_map_update_elem(&uring_pending, &key, rec, BPF_ANY);
}

/* Any other opcode: sent the first time a process image submits it. */
static __always_inline void uring_first_op(__u8 op)
{
	__u64 key = mix(dedup_actor(dedup_workload()), 0x55520000ULL | op);
	if (bpf_map_lookup_elem(&uring_ops_seen, &key))
		return;
	__u8 one = 1;
	bpf_map_update_elem(&uring_ops_seen, &key, &one, BPF_ANY);
	union uring_rec *space = uring_space();
	if (!space)
		return;
	struct vigil_call *rec = (struct vigil_call *)space;
	fill_header(&rec->h, VIGIL_URING);
	rec->h.flags = VIGIL_VIA_URING;
	rec->result = 0;
	rec->a = VIGIL_URING_OP;
	rec->b = op;
	rec->c = 0;
	rec->_pad = 0;
	rec->name[0] = 0;
	submit(rec, sizeof(*rec));
}

static __always_inline int uring_submit(struct io_kiocb *req)
{
	if (!req || is_excluded())
		return 0;
	__u8 op = BPF_CORE_READ(req, opcode);
	void *cmd = (void *)req + bpf_core_field_offset(struct io_kiocb, cmd);
	if (op == VIGIL_IORING_OP_OPENAT || op == VIGIL_IORING_OP_OPENAT2)
		uring_open(req, cmd);
	else if (op == VIGIL_IORING_OP_CONNECT)
		uring_connect(req, cmd);
	else
		uring_first_op(op);
	return 0;
}

SEC("tp_btf/io_uring_submit_req")
int BPF_PROG(uring_submit_req, struct io_kiocb *req)
{
	return uring_submit(req);
}

/* Before 6.0 the same tracepoint was io_uring_submit_sqe(req, force_nonblock). */
SEC("tp_btf/io_uring_submit_sqe")
int BPF_PROG(uring_submit_sqe, struct io_kiocb *req)
{
	return uring_submit(req);
}

/* Every completion passes here (the request is the second argument on
 * every kernel since 5.x); only requests with a held record cost more
 * than a lookup. */
SEC("tp_btf/io_uring_complete")
int BPF_PROG(uring_complete, void *ring, struct io_kiocb *req)
{
	if (!req)
		return 0;
	__u64 key = (__u64)req;
	union uring_rec *rec = bpf_map_lookup_elem(&uring_pending, &key);
	if (!rec)
		return 0;
	__s32 res = BPF_CORE_READ(req, cqe.res);
	__u32 kind = rec->h.kind;
	if (res == -EPERM) {
		__u64 dkey = ((__u64)rec->h.pid << 32) | kind;
		__u32 *by = bpf_map_lookup_elem(&uring_denied, &dkey);
		if (by) {
			rec->h.flags |= VIGIL_BLOCKED | *by;
			bpf_map_delete_elem(&uring_denied, &dkey);
		} else if (kind == VIGIL_CONNECT) {
			mark_if_refused(&rec->h);
		}
	}
	if (kind == VIGIL_OPEN) {
		rec->open.result = res;
		submit(rec, up_to_path_end(offsetof(struct vigil_open, path), &rec->open.path));
	} else if (kind == VIGIL_CONNECT) {
		rec->net.result = res;
		submit(rec, sizeof(struct vigil_net));
	}
	bpf_map_delete_elem(&uring_pending, &key);
	return 0;
}

/* A ring set up: the one event every io_uring user makes first. */
SEC("tp_btf/io_uring_create")
int BPF_PROG(uring_create, int fd, void *ring, __u32 sq_entries, __u32 cq_entries, __u32 flags)
{
	if (is_excluded())
		return 0;
	union uring_rec *space = uring_space();
	if (!space)
		return 0;
	struct vigil_call *rec = (struct vigil_call *)space;
	fill_header(&rec->h, VIGIL_URING);
	rec->result = fd;
	rec->a = VIGIL_URING_SETUP;
	rec->b = flags;
	rec->c = sq_entries;
	rec->_pad = 0;
	rec->name[0] = 0;
	submit(rec, sizeof(*rec));
	return 0;
}

#endif
