/* SPDX-License-Identifier: Apache-2.0 */
/*
 * In-kernel de-duplication: a process doing the same thing again within
 * the window is counted here instead of crossing to user space.
 *
 * "The same thing" is judged per process image (tgid, its start time and
 * its exec count, so a new process or an exec always starts afresh), in one
 * cgroup, with one uid/gid, and is:
 *   open     the path as passed (with the directory a relative path is
 *            relative to), the flags that change what the open does
 *            (access mode, O_CREAT, O_TRUNC, O_APPEND, O_EXCL, O_DIRECTORY,
 *            O_PATH, O_TMPFILE) and the result (success, or the exact errno)
 *   connect  family, address and port (or unix path), protocol and result
 * One exception to "per process": an open for reading that finds nothing
 * (ENOENT, ENOTDIR) is also judged per workload (cgroup, uid/gid), so a
 * second process of the workload looking for the same missing file is
 * counted, not sent. Compilers and interpreters search every include and
 * library directory for every file, and in a C build these were most of
 * the events; a missing file reveals nothing, and the workload's first
 * look in each window still crosses (profiles are per workload, and the
 * built-in rules match only opens that succeeded). Failures that say
 * something about the process (EACCES, EPERM, ...) stay per process.
 * The first occurrence crosses; repeats within dedup_window_ns of it are
 * counted (VIGIL_DEDUPLICATED) and dropped; the first repeat after the
 * window crosses and starts a new one. A connect is dropped at most
 * VIGIL_DEDUP_CONNECT_REPEATS times per window, then every repeat crosses
 * until the window ends, so rate rules (connection bursts, password
 * guessing against one service) still see a burst.
 *
 * Never de-duplicated: exec, fork, exit and every other syscall, anything
 * blocked, and opens for writing or connects of a workload whose
 * enforcement policy covers them (enforcement judges every attempt).
 *
 * The match is made at syscall entry, before the path walk and the record
 * are built (that is the saving); the exit compares the result with the
 * remembered one, and a repeat whose result differs is built at the exit
 * from the saved arguments and crosses.
 */
#ifndef VIGIL_DEDUP_BPF_H
#define VIGIL_DEDUP_BPF_H

#include "path.bpf.h"
#include "enforce.bpf.h"
#include "maps.h"

/* All three are set by the loader: 0 turns de-duplication off. */
const volatile __u64 dedup_window_ns = 0;
/* Paths are hashed with a random key, so none can be chosen to collide. */
const volatile __u64 dedup_seed = 0;
/* Judge "the same" per cgroup instead of per process: fewer events, but a
 * second process repeating the first one's action is not seen. For
 * measurement only (--dedup-scope workload). */
const volatile bool dedup_per_workload = false;

#define VIGIL_DEDUP_CONNECT_REPEATS 32

/* What a key is judged on: per process image (or per workload with
 * dedup_per_workload), or per workload for opens that found nothing. */
#define VIGIL_DEDUP_SCOPE_ACTOR 0
#define VIGIL_DEDUP_SCOPE_MISSING 1
/* The table's kind for per-workload missing-file keys: no event kind. */
#define VIGIL_DEDUP_KIND_MISSING 0x4d495353 /* "MISS" */
#define VIGIL_ENOENT 2
#define VIGIL_ENOTDIR 20

/*
 * What crossed recently, direct-mapped by the key's hash: a lookup is an
 * array index and a compare, an insert is a store, where an LRU hash costs
 * hundreds of nanoseconds per insert under churn. Two keys sharing a slot
 * evict each other, which only makes events cross again; two CPUs writing
 * one slot at once can only mix two entries that both just crossed.
 * 65,280 slots of 40 bytes (2.7 MB), in 85 parts of 768 slots: an array
 * map of more than 32 KiB is vmalloc'd in 4 KiB pages, so one big table
 * cost a TLB miss on nearly every open (40% of the entry program's time
 * on this project's VM); one of at most 32 KiB (header included) is taken
 * from the kernel's heap, mapped by huge pages (kernel/bpf/syscall.c,
 * __bpf_map_area_alloc: kmalloc up to PAGE_SIZE << PAGE_ALLOC_COSTLY_ORDER,
 * unless mmapable). The loader creates the parts (FillDedupTable; their
 * sizes in maps.h); a missing part only makes its events cross.
 */
struct dedup_seen {
	__u64 hash;
	__u32 tgid;     /* 0 when per workload */
	__u32 kind;
	__u64 sent_ns;  /* when it last crossed */
	__s64 result;   /* its result: 0 for success, else -errno */
	__u32 repeats;  /* dropped since (connects) */
	__u32 ident;    /* open: which file it opened (file_ident), so a path that now names another file crosses */
};
_Static_assert(sizeof(struct dedup_seen) == VIGIL_DEDUP_SLOT_BYTES, "the loader makes the parts by maps.h");

/* One part. No BPF_F_INNER_MAP: all parts alike lets the verifier inline
 * the lookup (a part's size is then part of the program). Sizes, not
 * types: clang leaves a type reached this deep in BTF as a declaration. */
struct dedup_part {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VIGIL_DEDUP_PART_SLOTS);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct dedup_seen));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, VIGIL_DEDUP_PARTS);
	__type(key, __u32);
	__array(values, struct dedup_part);
} dedup_seen SEC(".maps");

/* O_ACCMODE 03 | O_CREAT 0100 | O_EXCL 0200 | O_TRUNC 01000 | O_APPEND 02000
 * | O_DIRECTORY 0200000 | O_PATH 010000000 | __O_TMPFILE 020000000 */
#define VIGIL_OPEN_SAME_FLAGS 030203303

static __always_inline __u64 mix(__u64 h, __u64 v)
{
	h = (h ^ v) * 0x9e3779b97f4a7c15ULL;
	return h ^ (h >> 31);
}

/*
 * The window's clock: jiffies, in ns. Reading them is a plain load where
 * bpf_ktime_get_ns() reads the TSC (~75 ns on this project's VM), and
 * every repeat is judged against the clock; a tick (1–10 ms) is nothing
 * against a window of seconds. The loader sets the tick from the kernel's
 * CONFIG_HZ; 0 (no kernel config found) runs it on bpf_ktime_get_ns().
 */
const volatile __u64 dedup_tick_ns = 0;

static __always_inline __u64 dedup_now(void)
{
	if (dedup_tick_ns)
		return bpf_jiffies64() * dedup_tick_ns;
	return bpf_ktime_get_ns();
}

/* A file's identity, folded to 32 bits: its inode number and device.
 * An open that repeats a path but opens another file (a symlink pointed
 * elsewhere, a file replaced) is no repeat. Never 0. */
static __always_inline __u32 ident_of(__u64 ino, __u32 dev)
{
	__u64 h = mix(ino, dev);
	return (__u32)(h ^ (h >> 32)) | 1;
}

static __always_inline __u32 file_ident(struct file *f)
{
	struct inode_facts i;
	read_inode(BPF_CORE_READ(f, f_inode), &i);
	return ident_of(i.ino, i.dev);
}

static __always_inline __s64 result_class(long ret)
{
	return ret >= 0 ? 0 : ret;
}

/* Whether this event may be de-duplicated: on, and not under a policy
 * that enforces `enforced` (a VIGIL_ENFORCE_* flag, 0 for none). */
static __always_inline bool dedup_on(__u32 enforced)
{
	if (!dedup_window_ns)
		return false;
	struct policy_hit p;
	return !(enforced && current_policy(&p) && (p.flags & enforced));
}

/* Who does it, per workload: the cgroup, uid and gid. */
static __always_inline __u64 dedup_workload(void)
{
	return mix(mix(dedup_seed, current_cgroup_id()), current_uid_gid());
}

/* The key's hash, started with who does it: the workload (dedup_workload)
 * and, unless per workload, the process image. */
static __always_inline __u64 dedup_actor(__u64 workload)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 h = workload;

	if (!dedup_per_workload) {
		h = mix(h, task->group_leader->start_time);
		h = mix(h, task->self_exec_id);
	}
	return h;
}

/* n bytes of a NUL-terminated string in a VIGIL_STR_LEN map buffer,
 * a word at a time; bytes past n are not looked at. */
static __always_inline __u64 hash_str(__u64 h, const char *buf, long n)
{
	const __u64 *w = (const __u64 *)buf;

	for (int i = 0; i < VIGIL_STR_LEN / 8; i++) {
		long left = n - i * 8;
		if (left <= 0)
			break;
		__u64 v = w[i];
		if (left < 8)
			v &= (1ULL << (left * 8)) - 1;
		h = mix(h, v);
	}
	return mix(h, n);
}

/* What an open asks for, whoever asks: its raw path (n bytes, already
 * read) and flags; a relative path adds the directory it is relative to,
 * by device and inode (no walk). */
static __always_inline __u64 open_what_hash(int dirfd, const struct vigil_path *p, long n, __s64 flags)
{
	__u64 h = hash_str(dedup_seed, p->raw, n);

	h = mix(h, flags & VIGIL_OPEN_SAME_FLAGS);
	if (n > 0 && p->raw[0] != '/') {
		__u64 ino = 0, dev = 0;
		if (dirfd == AT_FDCWD) {
			struct fs_struct *fs = bpf_get_current_task_btf()->fs;
			ino = fs->pwd.dentry->d_inode->i_ino;
			dev = fs->pwd.mnt->mnt_sb->s_dev;
		} else {
			struct file *f = file_from_fd(dirfd);
			if (f) {
				ino = BPF_CORE_READ(f, f_path.dentry, d_inode, i_ino);
				dev = BPF_CORE_READ(f, f_path.mnt, mnt_sb, s_dev);
			}
		}
		h = mix(mix(h, ino), dev);
	}
	return h;
}

/* The key of an open: what it asks for, by whom (dedup_actor). */
static __always_inline __u64 open_dedup_hash(__u64 workload, __u64 what)
{
	return mix(dedup_actor(workload), what) | 1; /* 0 means "no key" */
}

/* The workload-wide key of an open for reading that may find nothing. */
static __always_inline __u64 missing_dedup_hash(__u64 workload, __u64 what)
{
	return mix(workload, what) | 1;
}

static __always_inline bool finds_nothing(long ret)
{
	return ret == -VIGIL_ENOENT || ret == -VIGIL_ENOTDIR;
}

static __always_inline __u64 connect_dedup_hash(const struct vigil_sockaddr *a, __u32 protocol)
{
	__u64 h = mix(dedup_actor(dedup_workload()), ((__u64)a->family << 48) | ((__u64)a->port << 32) | protocol);
	const __u64 *w = (const __u64 *)a->addr;

	h = mix(mix(h, w[0]), w[1]);
	if (a->family == 1 /* AF_UNIX */) {
		const __u64 *u = (const __u64 *)a->unix_path;
		for (int i = 0; i < sizeof(a->unix_path) / 8; i++)
			h = mix(h, u[i]);
	}
	return h | 1;
}

static __always_inline __u32 dedup_tgid(void)
{
	return dedup_per_workload ? 0 : bpf_get_current_pid_tgid() >> 32;
}

/* The slot from bits 1-31 (bit 0 is always set), the part from the high
 * half. */
static __always_inline struct dedup_seen *dedup_slot(__u64 hash)
{
	__u32 part = (__u32)(hash >> 32) % VIGIL_DEDUP_PARTS;
	__u32 slot = ((__u32)hash >> 1) % VIGIL_DEDUP_PART_SLOTS;
	void *table = bpf_map_lookup_elem(&dedup_seen, &part);

	if (!table)
		return NULL;
	return bpf_map_lookup_elem(table, &slot);
}

/* Arms a repeat in the thread's state for the exit to confirm. */
static __always_inline void dedup_arm(struct vigil_thread *t, const struct vigil_repeat *args, __u32 kind, __u64 hash,
				      const struct dedup_seen *s, __u32 scope)
{
	t->repeat = *args;
	t->repeat.hash = hash;
	t->repeat.result = s->result;
	t->repeat.ident = s->ident;
	t->repeat.kind = kind;
	t->repeat.scope = scope;
}

/*
 * At entry: true when this event repeats one that crossed within the
 * window; it is then armed in the thread's state for the exit (`args`
 * carries what building the record would need). False: it must be built
 * and sent as usual.
 */
static __always_inline bool dedup_repeat(struct vigil_thread *t, __u32 kind, __u64 hash, const struct vigil_repeat *args)
{
	struct dedup_seen *s = dedup_slot(hash);

	if (!s || s->hash != hash || s->kind != kind || s->tgid != dedup_tgid())
		return false;
	if (dedup_now() - s->sent_ns >= dedup_window_ns)
		return false;
	if (kind == VIGIL_CONNECT) {
		if (s->repeats >= VIGIL_DEDUP_CONNECT_REPEATS)
			return false;
		__sync_fetch_and_add(&s->repeats, 1);
	}
	dedup_arm(t, args, kind, hash, s, VIGIL_DEDUP_SCOPE_ACTOR);
	return true;
}

/* At entry of an open for reading that is not a repeat of its own process:
 * true when another process of the workload looked for the same file
 * within the window and found nothing; armed like dedup_repeat. */
static __always_inline bool dedup_repeat_missing(struct vigil_thread *t, __u64 hash, __u64 own_hash, const struct vigil_repeat *args)
{
	struct dedup_seen *s = dedup_slot(hash);

	if (!s || s->hash != hash || s->kind != VIGIL_DEDUP_KIND_MISSING || s->tgid != 0 || !finds_nothing(s->result))
		return false;
	if (dedup_now() - s->sent_ns >= dedup_window_ns)
		return false;
	dedup_arm(t, args, VIGIL_OPEN, hash, s, VIGIL_DEDUP_SCOPE_MISSING);
	t->repeat.own_hash = own_hash;
	return true;
}

/* At exit: the thread's armed repeat of `kind`, disarmed, or NULL. */
static __always_inline struct vigil_repeat *dedup_armed(struct vigil_thread *t, __u32 kind)
{
	if (!dedup_window_ns || !t || t->repeat.kind != kind)
		return NULL;
	t->repeat.kind = 0;
	return &t->repeat;
}

/* Something crossed: repeats of it within the window will not. A connect
 * burst crossing past its repeats keeps the window it is in. `ident`: the
 * file an open opened (file_ident), else 0. */
static __always_inline void dedup_remember(__u32 kind, __u64 hash, long ret, __u32 ident)
{
	struct dedup_seen *s = dedup_slot(hash);
	__u64 now = dedup_now();
	__s64 result = result_class(ret);
	__u32 tgid = dedup_tgid();

	if (!s || !hash)
		return;
	if (kind == VIGIL_CONNECT && s->hash == hash && s->kind == kind && s->tgid == tgid &&
	    now - s->sent_ns < dedup_window_ns && s->result == result)
		return;
	s->hash = hash;
	s->tgid = tgid;
	s->kind = kind;
	s->sent_ns = now;
	s->result = result;
	s->repeats = 0;
	s->ident = ident;
}

/* An open for reading crossed (or, armed as a missing-file repeat, was
 * built after all) with `ret`: when it found nothing, other processes of
 * the workload looking for the same file within the window will not cross;
 * anything else found there ends that. */
static __always_inline void dedup_remember_missing(__u64 hash, long ret)
{
	struct dedup_seen *s = dedup_slot(hash);

	if (!s || !hash)
		return;
	if (!finds_nothing(ret)) {
		if (s->hash == hash && s->kind == VIGIL_DEDUP_KIND_MISSING)
			s->result = result_class(ret);
		return;
	}
	s->hash = hash;
	s->tgid = 0;
	s->kind = VIGIL_DEDUP_KIND_MISSING;
	s->sent_ns = dedup_now();
	s->result = ret;
	s->repeats = 0;
	s->ident = 0;
}

/* At exit of an armed repeat: true when the result is the remembered one,
 * and for an open the same file (`ident`: file_ident, 0 for none): the
 * event is dropped and counted; false when it must be sent. */
static __always_inline bool dedup_confirm(const struct vigil_repeat *r, long ret, __u32 ident)
{
	if (result_class(ret) != r->result || ident != r->ident)
		return false;
	count_loss(VIGIL_DEDUPLICATED);
	return true;
}

#endif
