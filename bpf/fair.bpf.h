/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fairness: one workload's flood must not blind the others. A workload
 * (cgroup) over its share is sampled and counted instead of crowding
 * everyone else's events out of the ring buffer and the probe's queue.
 *
 * What may be shed, and what never is, is decided here and nowhere else
 * (the probe only reads the VIGIL_SHEDDABLE flag this sets):
 *   never  exec, fork, exit, set*id, ptrace, module loads, mounts,
 *          namespaces, sockets dup-ed onto stdio, denied file operations,
 *          bind, listen, and whatever Vigil's kinds add later: every kind
 *          not listed below;
 *          anything blocked;
 *          a file event whose path (as the caller passed it) starts with a
 *          kept prefix ("/etc/", "/root/", ...) or ends in a kept suffix
 *          ("/shadow", "/id_rsa", ...): the files rules watch (the lists
 *          are the loader's, bpf/probe/loader.cc), except an open of one
 *          that found nothing (ENOENT) from a held workload;
 *          an open whose file opened (its path walked from the kernel's
 *          dentries at exit, resolve_opened) is such a file, however the
 *          caller named it (a symlink, /proc/self/root, a bind mount): an
 *          open judged sheddable by its string at entry is parked
 *          (uncounted) and decided at its exit (fair_shed_opened);
 *          a connect of a workload whose policy enforces connects, a
 *          write of one whose policy enforces writes (enforcement judges
 *          every attempt);
 *          a connect to a unix socket ending in ".sock" or a kept suffix
 *          (container runtime sockets).
 *   may    open, connect, accept, unlink, rename and chmod otherwise.
 *
 * When: the probe holds a workload to a rate (`fair_limits`, by cgroup id)
 * once its queue toward the engine backs up, at the workload's max-min fair
 * share of what the engine drains (bpf/probe/fairness.cc). Past that rate
 * one sheddable event in `sample_every` still crosses (VIGIL_SAMPLED) and
 * the rest are counted per cgroup and kind (`cgroup_counts`), at the
 * syscall's entry, before the path walk or the record is built: a shed
 * event costs little more than a repeat does. An open is the exception:
 * it is counted at its exit, once the file it opened is known not to be
 * kept (a failed one at no further cost; a successful one pays the walk
 * of the file's path, as a sent open does). And whatever the probe does,
 * the last quarter of the ring buffer is kept for the rest: past three
 * quarters full (a stalled or outpaced probe) a held workload's records
 * are counted instead of written. A flood in its first tick, before the
 * probe holds it, is not judged and can still fill the ring (counted).
 *
 * Cost when no workload is held: one load of `fair_limited` per sheddable
 * event, and one compare in submit_parked().
 */
#ifndef VIGIL_FAIR_BPF_H
#define VIGIL_FAIR_BPF_H

#include "enforce.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct vigil_cgroup_counts);
} cgroup_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct vigil_fair_limit);
} fair_limits SEC(".maps");

/* How many entries fair_limits has (the probe keeps it): 0 skips the lookup. */
__u32 fair_limited = 0;

/* Unread bytes in the ring past which sheddable records are counted
 * instead of written (set by the loader: three quarters of the ring). */
const volatile __u64 fair_reserve_bytes = 0;

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, VIGIL_KEEP_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vigil_keep_prefix_key);
	__type(value, __u8);
} keep_prefixes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, VIGIL_KEEP_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vigil_keep_suffix_key);
	__type(value, __u8);
} keep_suffixes SEC(".maps");

/*
 * Global functions (not inlined, not static): the verifier checks each once
 * per program, against its signature at every call. Inlined, the fairness
 * checks were walked again on every path that reached them, in every
 * program that sends a record: the probe took ~2.3 times the CPU to load.
 */

/* The counters of cgroup_counts, as indexes into vigil_cgroup_counts: a
 * VIGIL_SHED_* slot, or one of these. */
#define VIGIL_COUNT_SAMPLED  VIGIL_SHED_SLOTS
#define VIGIL_COUNT_RINGBUF  (VIGIL_SHED_SLOTS + 1)
#define VIGIL_COUNT_INFLIGHT (VIGIL_SHED_SLOTS + 2)
#define VIGIL_COUNTS         (VIGIL_SHED_SLOTS + 3)

/* Adds one to a cgroup's counter (its counters made on first use); a shed
 * event is counted in the node's totals too. */
__noinline int fair_count(__u64 cg, __u32 what)
{
	if (what >= VIGIL_COUNTS)
		return 0;
	if (what < VIGIL_SHED_SLOTS)
		count_loss(VIGIL_SHED);
	struct vigil_cgroup_counts *c = bpf_map_lookup_elem(&cgroup_counts, &cg);
	if (!c) {
		struct vigil_cgroup_counts zero = {};
		bpf_map_update_elem(&cgroup_counts, &cg, &zero, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&cgroup_counts, &cg);
		if (!c)
			return 0;
	}
	/* Masked, not compared: the compiler may bound a copy of the index
	 * the verifier does not follow. */
	if (what < VIGIL_SHED_SLOTS)
		__sync_fetch_and_add(&c->shed[what & (VIGIL_SHED_SLOTS - 1)], 1);
	else if (what == VIGIL_COUNT_SAMPLED)
		__sync_fetch_and_add(&c->sampled, 1);
	else if (what == VIGIL_COUNT_RINGBUF)
		__sync_fetch_and_add(&c->ringbuf_full, 1);
	else
		__sync_fetch_and_add(&c->inflight_full, 1);
	return 0;
}

/* Called from write_record() and thread_space() (common.bpf.h) on a loss. */
static __always_inline void count_cgroup_loss(__u64 cg, __u32 where)
{
	fair_count(cg, where == VIGIL_LOSS_RINGBUF ? VIGIL_COUNT_RINGBUF : VIGIL_COUNT_INFLIGHT);
}

/* --- the kept paths --- */

/* The suffix key is built here, not on the stack: the '/' before a short
 * string goes at a variable offset, which map memory allows. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vigil_keep_suffix_key);
} keep_scratch SEC(".maps");

/* Whether the string (len bytes, no NUL) starts with a kept prefix or ends
 * in a kept suffix: two trie lookups and straight-line code (a loop over a
 * list, or a branch per byte, cost the verifier several times the rest of
 * the open's entry). */
static __always_inline bool kept_path(const char *path, __u32 len)
{
	if (len == 0 || len >= VIGIL_STR_LEN)
		return false;
	if (path[0] == '/') {
		struct vigil_keep_prefix_key k = { .prefixlen = (len < VIGIL_KEEP_PREFIX_BYTES ? len : VIGIL_KEEP_PREFIX_BYTES) * 8 };
		bpf_probe_read_kernel(k.data, sizeof(k.data), path);
		if (bpf_map_lookup_elem(&keep_prefixes, &k))
			return true;
	}
	__u32 zero = 0;
	struct vigil_keep_suffix_key *k = bpf_map_lookup_elem(&keep_scratch, &zero);
	if (!k)
		return false;
	/* The last 32 bytes, reversed; before the string's start a '/', so a
	 * relative "shadow" ends in "/shadow" too. */
	char tail[VIGIL_KEEP_SUFFIX_BYTES];
	bpf_probe_read_kernel(tail, sizeof(tail), path + len - VIGIL_KEEP_SUFFIX_BYTES);
#pragma unroll
	for (int i = 0; i < VIGIL_KEEP_SUFFIX_BYTES; i++)
		k->data[i] = tail[VIGIL_KEEP_SUFFIX_BYTES - 1 - i];
	if (len < VIGIL_KEEP_SUFFIX_BYTES) {
		k->data[len & (VIGIL_KEEP_SUFFIX_BYTES - 1)] = '/';
		k->prefixlen = (len + 1) * 8;
	} else {
		k->prefixlen = VIGIL_KEEP_SUFFIX_BYTES * 8;
	}
	return bpf_map_lookup_elem(&keep_suffixes, k) != NULL;
}

static __always_inline __u32 raw_strlen(const struct vigil_path *p)
{
	__u32 n = p->raw_len;
	return n > 0 && n <= VIGIL_STR_LEN ? n - 1 : 0;
}

/* A file event on `p` (as the caller passed it) that is never shed. */
static __always_inline bool keep_file(const struct vigil_path *p, bool write)
{
	struct policy_hit pol;
	if (write && current_policy(&pol) && (pol.flags & VIGIL_ENFORCE_WRITE))
		return true;
	if (p->flags & VIGIL_PATH_FROM_FD)
		return true; /* no string to judge (fchmod): rare, kept */
	__u32 len = raw_strlen(p);
	return kept_path(p->raw, len);
}

#define VIGIL_FAIR_O_WRITE (01 | 02 | 0100 | 01000) /* O_WRONLY | O_RDWR | O_CREAT | O_TRUNC */
#define VIGIL_S_ISUID 04000
#define VIGIL_S_ISGID 02000

static __always_inline bool keep_connect(const struct vigil_sockaddr *a)
{
	struct policy_hit pol;
	if (current_policy(&pol) && (pol.flags & VIGIL_ENFORCE_CONNECT))
		return true;
	if (a->family != 1 /* AF_UNIX */)
		return false;
	/* A loop, not an unrolled scan: each early end would be its own
	 * verifier path through the rest. */
	struct hash_state n = { .buf = a->unix_path, .cap = sizeof(a->unix_path) };
	bpf_loop(sizeof(a->unix_path), strlen_step, &n, 0);
	__u32 len = n.len;
	if (len == 0)
		return false; /* abstract socket */
	if (len >= 5 && len <= sizeof(a->unix_path)) {
		char tail[5] = {};
		bpf_probe_read_kernel(tail, 5, a->unix_path + len - 5);
		if (tail[0] == '.' && tail[1] == 's' && tail[2] == 'o' && tail[3] == 'c' && tail[4] == 'k')
			return true;
	}
	return kept_path(a->unix_path, len);
}

/* The slot a kind sheds into; VIGIL_SHED_SLOTS for a kind never shed. */
static __always_inline __u32 shed_slot(__u32 kind)
{
	switch (kind) {
	case VIGIL_OPEN: return VIGIL_SHED_OPEN;
	case VIGIL_CONNECT: return VIGIL_SHED_CONNECT;
	case VIGIL_ACCEPT: return VIGIL_SHED_ACCEPT;
	case VIGIL_UNLINK: return VIGIL_SHED_UNLINK;
	case VIGIL_RENAME: return VIGIL_SHED_RENAME;
	case VIGIL_CHMOD: return VIGIL_SHED_CHMOD;
	}
	return VIGIL_SHED_SLOTS;
}

/* What fair_file and fair_net decide for one sheddable event. */
#define VIGIL_FAIR_SEND 0
#define VIGIL_FAIR_SHED 1

/*
 * For a sheddable event of a workload held to a rate (l, cgroup cg):
 * within the rate it is sent, flagged VIGIL_SHEDDABLE (the probe's queue
 * may still shed it); past it one in sample_every is sent (also
 * VIGIL_SAMPLED) and the rest counted. Returns the header flags to send it
 * with, or -1: shed.
 */
/* In fair_judge's slot: shed uncounted, the caller counts it later (an open, at its exit). */
#define VIGIL_FAIR_LATER 0x100

static __always_inline int fair_judge(struct vigil_fair_limit *l, __u64 cg, __u32 slot)
{
	__u64 now = bpf_ktime_get_ns();
	__u64 tat = l->tat;
	if (tat < now)
		tat = now;
	if (tat - now <= l->burst_ns) {
		l->tat = tat + l->interval_ns;
		return VIGIL_SHEDDABLE;
	}
	__u32 every = l->sample_every;
	/* Racy across CPUs, like the GCRA: a sample more or less. */
	__u32 k = l->sample_count++;
	if (every && k % every == 0) {
		fair_count(cg, VIGIL_COUNT_SAMPLED);
		return VIGIL_SHEDDABLE | VIGIL_SAMPLED;
	}
	if (!(slot & VIGIL_FAIR_LATER))
		fair_count(cg, slot);
	return -1;
}

/* A file event (on p, and p2 for a rename's target; either may be NULL)
 * of the current workload: 0 when it is not held or the event is kept,
 * else fair_judge()'s answer. */
__noinline int fair_judge_file(const struct vigil_path *p, const struct vigil_path *p2, __u32 write, __u32 slot)
{
	__u64 cg = current_cgroup_id();
	struct vigil_fair_limit *l = bpf_map_lookup_elem(&fair_limits, &cg);
	if (!l)
		return 0;
	if (p && keep_file(p, write))
		return 0;
	if (p2 && keep_file(p2, write))
		return 0;
	return fair_judge(l, cg, slot);
}

/* The same for a connect or accept (a: the peer). */
__noinline int fair_judge_net(const struct vigil_sockaddr *a, __u32 slot)
{
	__u64 cg = current_cgroup_id();
	struct vigil_fair_limit *l = bpf_map_lookup_elem(&fair_limits, &cg);
	if (!l)
		return 0;
	if (slot == VIGIL_SHED_CONNECT && a && keep_connect(a))
		return 0;
	return fair_judge(l, cg, slot);
}

/* The same for an event of cgroup cg judged without its path. */
__noinline int fair_judge_cgroup(__u64 cg, __u32 slot)
{
	struct vigil_fair_limit *l = bpf_map_lookup_elem(&fair_limits, &cg);
	if (!l)
		return 0;
	return fair_judge(l, cg, slot);
}

/*
 * The entry-side checks: VIGIL_FAIR_SHED (counted), else VIGIL_FAIR_SEND
 * with the header flags to set in *flags (0 when the workload is not held
 * or the event is kept). Inline only the load of fair_limited: while no
 * workload is held that is all an event pays.
 */
static __always_inline int fair_file(const struct vigil_path *p, const struct vigil_path *p2, __u32 write, __u32 slot, __u32 *flags)
{
	*flags = 0;
	if (!fair_limited)
		return VIGIL_FAIR_SEND;
	int r = fair_judge_file(p, p2, write, slot);
	if (r < 0)
		return VIGIL_FAIR_SHED;
	*flags = r;
	return VIGIL_FAIR_SEND;
}

static __always_inline int fair_net(const struct vigil_sockaddr *a, __u32 slot, __u32 *flags)
{
	*flags = 0;
	if (!fair_limited)
		return VIGIL_FAIR_SEND;
	int r = fair_judge_net(a, slot);
	if (r < 0)
		return VIGIL_FAIR_SHED;
	*flags = r;
	return VIGIL_FAIR_SEND;
}

/*
 * Whether the file an open opened is a kept one, judged on its path walked
 * from the kernel's dentries (resolve_opened: leaf first, "shadow\0etc\0").
 * The walk's last bytes read backwards are its top components, each
 * reversed: "/etc/" is "\0cte\0", a form the loader puts in keep_prefixes
 * beside the plain one (no string starts with both '/' and NUL). Its first
 * component is the leaf: read backwards with a '/' before it, as
 * kept_path() reads a string's tail, it meets keep_suffixes as they are
 * ("/shadow", "_history"). A global function: verified once.
 */
__noinline int fair_kept_opened(const struct vigil_open *o)
{
	if (!o)
		return 0;
	__u32 off = o->resolved_off, len = o->resolved_len;
	if (len == 0 || off > VIGIL_RESOLVE_ROOM || len > VIGIL_RESOLVE_ROOM - off)
		return 0;
	const char *walked = o->path.raw + off;

	struct vigil_keep_prefix_key pk = { .prefixlen = (len < VIGIL_KEEP_PREFIX_BYTES ? len : VIGIL_KEEP_PREFIX_BYTES) * 8 };
	char top[VIGIL_KEEP_PREFIX_BYTES];
	bpf_probe_read_kernel(top, sizeof(top), walked + len - VIGIL_KEEP_PREFIX_BYTES);
#pragma unroll
	for (int i = 0; i < VIGIL_KEEP_PREFIX_BYTES; i++)
		pk.data[i] = top[VIGIL_KEEP_PREFIX_BYTES - 1 - i];
	if (bpf_map_lookup_elem(&keep_prefixes, &pk))
		return 1;

	struct hash_state n = { .buf = walked, .cap = len };
	bpf_loop(VIGIL_NAME_READ, strlen_step, &n, 0);
	__u32 leaf = n.len;
	if (leaf == 0)
		return 0;
	__u32 zero = 0;
	struct vigil_keep_suffix_key *k = bpf_map_lookup_elem(&keep_scratch, &zero);
	if (!k)
		return 0;
	char tail[VIGIL_KEEP_SUFFIX_BYTES];
	bpf_probe_read_kernel(tail, sizeof(tail), walked + leaf - VIGIL_KEEP_SUFFIX_BYTES);
#pragma unroll
	for (int i = 0; i < VIGIL_KEEP_SUFFIX_BYTES; i++)
		k->data[i] = tail[VIGIL_KEEP_SUFFIX_BYTES - 1 - i];
	if (leaf < VIGIL_KEEP_SUFFIX_BYTES) {
		k->data[leaf & (VIGIL_KEEP_SUFFIX_BYTES - 1)] = '/';
		k->prefixlen = (leaf + 1) * 8;
	} else {
		k->prefixlen = VIGIL_KEEP_SUFFIX_BYTES * 8;
	}
	return bpf_map_lookup_elem(&keep_suffixes, k) != NULL;
}

/*
 * At an open's exit, its file resolved (resolve_opened): an open of a kept
 * file is never shed, whatever its string was: judged sheddable at entry,
 * it loses the flag (the ring's reserve and the probe's queue keep it);
 * parked by fair_file at entry (`pending`), it is sent. Any other pending
 * open is counted as shed now; true when the caller must drop it.
 */
static __always_inline bool fair_shed_opened(union vigil_inflight *rec, __u32 pending)
{
	if (!pending && !(rec->h.flags & VIGIL_SHEDDABLE))
		return false;
	if (fair_kept_opened(&rec->open)) {
		rec->h.flags &= ~VIGIL_SHEDDABLE;
		return false;
	}
	if (!pending)
		return false;
	fair_count(rec->h.cgroup_id, VIGIL_SHED_OPEN);
	return true;
}

/*
 * submit_parked()'s last word (common.bpf.h): past the ring's reserve a held
 * workload's record is counted instead of written, so a stalled probe leaves
 * room for the rest. True when the record was shed.
 */
static __always_inline bool fair_shed_at_submit(union vigil_inflight *r, __u64 unread)
{
	/* An open of a kept path that found nothing (a flood of made-up names
	 * under /etc/ would otherwise pass whole): judged like the rest once
	 * its workload is held. Rules read files that exist. */
	if (fair_limited && r->h.kind == VIGIL_OPEN && r->open.result == -2 /* ENOENT */ &&
	    !(r->h.flags & (VIGIL_BLOCKED | VIGIL_SHEDDABLE))) {
		int f = fair_judge_cgroup(r->h.cgroup_id, VIGIL_SHED_OPEN);
		if (f < 0)
			return true;
		r->h.flags |= f;
	}
	/* Past the reserve: the records of held workloads, judged sheddable
	 * at their entry (VIGIL_SHEDDABLE), give way. Judging any other record
	 * here would cost every exit program the whole path check. */
	if (!fair_reserve_bytes || unread < fair_reserve_bytes || !(r->h.flags & VIGIL_SHEDDABLE))
		return false;
	__u32 slot = shed_slot(r->h.kind);
	if (slot >= VIGIL_SHED_SLOTS)
		return false;
	fair_count(r->h.cgroup_id, slot);
	return true;
}

#endif
