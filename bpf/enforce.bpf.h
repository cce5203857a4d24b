/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Enforcement: what a workload's profile does not allow, stopped in the
 * kernel. This file holds the policy maps and the last-resort mechanisms;
 * deny.bpf.h holds the hooks that deny before anything changes (BPF LSM,
 * or fmod_ret on security_* functions), which the loader prefers per
 * operation wherever the kernel has them. What is left here:
 *   exec    an executable not allowed: SIGKILL at sched_process_exec,
 *           before the new image runs a single user instruction (the exec
 *           itself has happened)
 *   connect to a destination not allowed: refused by cgroup/connect4/6
 *   write   open-for-write, unlink, rename or chmod of a path below a
 *           protected prefix that is not allowed: SIGKILL sent at syscall
 *           entry. The signal is delivered on the way back to user space:
 *           the call itself completes (the file is deleted, truncated,
 *           renamed, chmod-ed), only what the process would do next is
 *           stopped. The loader says so for every operation left to it.
 * A policy belongs to a "policy root" cgroup and covers its descendants;
 * the deepest policy root above a task wins.
 */
#ifndef VIGIL_ENFORCE_BPF_H
#define VIGIL_ENFORCE_BPF_H

#include "common.bpf.h"
#include "maps.h"

#define VIGIL_POLICY_DEPTH 8      /* ancestor levels searched for a policy root */
#define SIGKILL 9

/* Policy root cgroup id → VIGIL_ENFORCE_* flags. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u32);
} policies SEC(".maps");

/* The probe bumps policy_gen whenever `policies` changes, so cached
 * answers are recomputed; policies_active = 0 skips every check. */
__u32 policy_gen = 0;
__u32 policies_active = 0;

/* VIGIL_OP_* still enforced by the syscall-entry kill: those no denying
 * hook covers on this kernel (set by the loader). */
const volatile __u32 kill_ops = VIGIL_OP_ALL;

struct policy_hit {
	__u64 root;
	__u32 flags;
	__u32 gen;
};

/* A task's cgroup → its policy, so the ancestor search runs once per cgroup. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct policy_hit);
} policy_cache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct vigil_allow_key);
	__type(value, __u8);
} exec_allow SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct vigil_allow_key);
	__type(value, __u8);
} write_allow SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VIGIL_PROTECTED_MAX);
	__type(key, __u32);
	__type(value, struct vigil_protected_prefix);
} protected_paths SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VIGIL_PROTECTED_MAX);
	__type(key, __u32);
	__type(value, struct vigil_protected_prefix);
} protected_leaf SEC(".maps");

/* Allowed connect destinations, longest-prefix matched (layout in maps.h). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vigil_connect4_key);
	__type(value, __u8);
} connect4_allow SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vigil_connect6_key);
	__type(value, __u8);
} connect6_allow SEC(".maps");

/* Enforce mode by name (layouts in maps.h; bpf/dns.bpf.h fills the
 * address maps from the answers of allowed names). An address stays
 * allowed until its expiry (kernel ns): the answer's TTL, at least
 * dns_min_ttl_s. LRU: a flood of answers evicts the oldest addresses, it
 * cannot grow kernel memory. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vigil_allow_key);
	__type(value, struct vigil_dns_allow);
} dns_allow SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct vigil_dns4_key);
	__type(value, __u64);
} dns4_allowed SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct vigil_dns6_key);
	__type(value, __u64);
} dns6_allowed SEC(".maps");

/* Threads whose connect was just refused, so the syscall's exit can
 * mark its event as blocked. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u8);
} refused SEC(".maps");

/*
 * Processes that left the cgroup tree of their enforce policy (moved
 * into another cgroup, even the root one): tgid → the policy that keeps
 * applying to them, whatever cgroup they are in now. Filled at the move
 * (tp_btf/cgroup_attach_task), inherited at fork, dropped at exit.
 * `start` (the process's start time) guards against a reused pid.
 */
struct vigil_followed {
	__u64 root;
	__u64 start;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct vigil_followed);
} followed SEC(".maps");

static __always_inline __u64 task_start(struct task_struct *task)
{
	return task->group_leader->start_time;
}

/*
 * A followed process's sockets: the policy root that followed it, set
 * when it connects (cgroup/connect4/6, in its own context). A socket keeps
 * the cgroup of the task that made it, so one made after the move is in
 * the new cgroup; the DNS answer program (dns.bpf.h), which runs where
 * the packet is delivered, not in the receiving process, reads the
 * policy here. Freed with the socket.
 */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} sock_followed SEC(".maps");

/* The policy root that followed the current process out of its
 * workload's cgroups, or 0. */
static __always_inline __u64 followed_root(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct vigil_followed *f = bpf_map_lookup_elem(&followed, &tgid);
	if (f && f->start == task_start(bpf_get_current_task_btf()))
		return f->root;
	return 0;
}

/* Policy root `root`, when it still has a policy (a copy in *out). */
static __always_inline bool root_policy(__u64 root, __u32 gen, struct policy_hit *out)
{
	__u32 *fl = bpf_map_lookup_elem(&policies, &root);
	if (!fl || !*fl)
		return false;
	out->root = root;
	out->flags = *fl;
	out->gen = gen;
	return true;
}

/* The policy of cgroup `cg`: the deepest policy root at or above it,
 * cached per cgroup. Its ancestors are read through the packet's socket
 * when `of_skb` (a constant: cgroup_skb programs have no current task to
 * ask), else through the current task. */
static __always_inline bool cgroup_policy(__u64 cg, struct __sk_buff *skb, const bool of_skb, __u32 gen,
					  struct policy_hit *out)
{
	struct policy_hit *cached = bpf_map_lookup_elem(&policy_cache, &cg);
	if (cached && cached->gen == gen) {
		*out = *cached;
		return out->flags != 0;
	}
	struct policy_hit h = { .gen = gen };
	__u32 *flags = bpf_map_lookup_elem(&policies, &cg);
	if (flags) {
		h.root = cg;
		h.flags = *flags;
	} else {
		for (int level = VIGIL_POLICY_DEPTH; level >= 1; level--) {
			__u64 a = of_skb ? bpf_skb_ancestor_cgroup_id(skb, level) : bpf_get_current_ancestor_cgroup_id(level);
			if (!a || a == cg)
				continue;
			flags = bpf_map_lookup_elem(&policies, &a);
			if (flags) {
				h.root = a;
				h.flags = *flags;
				break;
			}
		}
	}
	bpf_map_update_elem(&policy_cache, &cg, &h, BPF_ANY);
	*out = h;
	return h.flags != 0;
}

/* The policy of the current task, if any (a copy in *out): the one that
 * followed it out of its workload's cgroups, else its cgroup's. */
static __always_inline bool current_policy(struct policy_hit *out)
{
	if (!policies_active)
		return false;
	__u32 gen = policy_gen;
	__u64 root = followed_root();
	if (root && root_policy(root, gen, out))
		return true;
	return cgroup_policy(current_cgroup_id(), NULL, false, gen, out);
}

/* The policy of a packet's socket (cgroup `cg`), as current_policy()
 * finds a task's: the one that followed the process that connected it,
 * else the socket's cgroup's. */
static __always_inline bool skb_policy(struct __sk_buff *skb, __u64 cg, struct policy_hit *out)
{
	if (!policies_active)
		return false;
	__u32 gen = policy_gen;
	struct bpf_sock *sk = skb->sk;
	if (sk)
		sk = bpf_sk_fullsock(sk);
	if (sk) {
		__u64 *root = bpf_sk_storage_get(&sock_followed, sk, 0, 0);
		if (root && *root && root_policy(*root, gen, out))
			return true;
	}
	return cgroup_policy(cg, skb, true, gen, out);
}

/* At connect: a followed process's socket remembers the policy that
 * followed it, for the answers it will receive (skb_policy). */
static __always_inline void follow_socket(struct bpf_sock *sk)
{
	if (!policies_active || !sk)
		return;
	__u64 root = followed_root();
	if (!root)
		return;
	__u64 *v = bpf_sk_storage_get(&sock_followed, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (v)
		*v = root;
}

static __always_inline void note_home(struct vigil_thread *t)
{
	struct policy_hit p;

	t->cgroup = current_cgroup_id();
	t->home = current_policy(&p) ? p.root : 0;
}

/* Whether cgroup `c` is `root` or below it (cgroup v2 ids). */
static __always_inline bool cgroup_below(struct cgroup *c, __u64 root)
{
	for (int i = 0; i < 2 * VIGIL_POLICY_DEPTH && c; i++) {
		if (c->kn->id == root)
			return true;
		struct cgroup_subsys_state *parent = c->self.parent;
		if (!parent)
			return false;
		c = parent->cgroup;
	}
	return false;
}

/*
 * A process moved to another cgroup (by itself, or by whoever wrote its
 * pid into a cgroup.procs). Seen after the move: where it came from is
 * what its thread last recorded at a watched syscall (note_home). If it
 * was under an enforce policy and the new cgroup is not below that
 * policy's root, the policy follows it (`followed`). Every move is sent.
 */
SEC("tp_btf/cgroup_attach_task")
int BPF_PROG(handle_cgroup_move, struct cgroup *dst, const char *path, struct task_struct *task, bool threadgroup)
{
	struct vigil_cgroup_move e = {};
	__u32 tgid = task->tgid;

	if (is_excluded())
		return 0;
	struct vigil_thread *t = bpf_task_storage_get(&inflight, task, 0, 0);
	__u64 home = t ? t->home : 0;
	e.from_cgroup = t ? t->cgroup : 0;
	e.to_cgroup = dst->kn->id;
	if (home && bpf_map_lookup_elem(&policies, &home) && !cgroup_below(dst, home)) {
		struct vigil_followed f = { .root = home, .start = task_start(task) };
		bpf_map_update_elem(&followed, &tgid, &f, BPF_ANY);
		e.policy_root = home;
	} else {
		struct vigil_followed *f = bpf_map_lookup_elem(&followed, &tgid);
		if (f && f->start == task_start(task))
			e.policy_root = f->root;
	}
	/* Later moves of its threads start from here. */
	if (t)
		t->cgroup = e.to_cgroup;
	fill_header(&e.h, VIGIL_CGROUP_MOVE);
	e.pid = tgid;
	e.threadgroup = threadgroup;
	bpf_probe_read_kernel_str(e.comm, sizeof(e.comm), task->comm);
	submit(&e, sizeof(e));
	return 0;
}

struct hash_state {
	const char *buf;
	__u32 len;
	__u32 cap;
	__u64 h;
};

/* The buffers hashed are at most this long. Bounding the index by a
 * constant first is what lets 6.1's verifier accept `buf + i`: it does not
 * narrow a map-value pointer's offset from comparisons with s->len or
 * s->cap, which it cannot know. */
#define VIGIL_HASH_MAX (VIGIL_WALK_LEN > VIGIL_STR_LEN ? VIGIL_WALK_LEN : VIGIL_STR_LEN)

static long hash_step(__u64 i, struct hash_state *s)
{
	char c = 0;
	if (i >= VIGIL_HASH_MAX || i >= s->len || i >= s->cap)
		return 1;
	bpf_probe_read_kernel(&c, 1, s->buf + i);
	s->h = (s->h ^ (__u8)c) * VIGIL_FNV_PRIME;
	return 0;
}

/* FNV-1a over len bytes of buf (a kernel buffer of cap bytes); the probe
 * hashes allow-list paths the same way (bpf/probe/policy.cc). */
static __always_inline __u64 hash_bytes(const char *buf, __u32 len, __u32 cap)
{
	struct hash_state s = { .buf = buf, .len = len, .cap = cap, .h = VIGIL_FNV_OFFSET };
	bpf_loop(VIGIL_WALK_LEN, hash_step, &s, 0);
	return s.h;
}

static __always_inline void kill_current(struct vigil_header *h)
{
	bpf_send_signal(SIGKILL);
	h->flags |= VIGIL_BLOCKED;
}

/* Whether the policy allows the executable: by its identity (the path's
 * hash folded with device, inode and change time: the file learned, not
 * another one put at its path nor the same one written to), or by its path alone for an entry the engine could
 * give no identity. The probe hashes the same way (bpf/probe/policy.cc). */
static __always_inline bool exec_allowed(__u64 root, const char *exe, __u32 exe_len, __u64 ino, __u32 dev, __s64 ctime)
{
	__u64 h = hash_bytes(exe, exe_len, VIGIL_WALK_LEN);
	struct vigil_allow_key k = {
		.root = root,
		.hash = ((((h ^ ino) * VIGIL_FNV_PRIME) ^ dev) * VIGIL_FNV_PRIME ^ (__u64)ctime) * VIGIL_FNV_PRIME,
	};
	if (bpf_map_lookup_elem(&exec_allow, &k))
		return true;
	k.hash = h;
	return bpf_map_lookup_elem(&exec_allow, &k) != NULL;
}

/* At exec: kill the task if its policy does not allow the executable.
 * `exe` is the walked path, leaf first, as the exec record holds it. */
static __always_inline void enforce_exec(struct vigil_header *h, const char *exe, __u32 exe_len, __u64 ino, __u32 dev,
					 __s64 ctime)
{
	struct policy_hit p;
	if (!(kill_ops & VIGIL_OP_EXEC) || !current_policy(&p) || !(p.flags & VIGIL_ENFORCE_EXEC))
		return;
	if (!exec_allowed(p.root, exe, exe_len, ino, dev, ctime))
		kill_current(h);
}

struct prefix_state {
	const char *path;
	bool hit;
};

static long prefix_step(__u64 i, struct prefix_state *s)
{
	__u32 idx = i;
	struct vigil_protected_prefix *pp = bpf_map_lookup_elem(&protected_paths, &idx);
	if (!pp || pp->len == 0)
		return 1; /* entries are packed from 0: the first empty one ends the list */
	__u64 words[VIGIL_PROTECTED_WORDS] = {};
	__u32 len = pp->len > 64 ? 64 : pp->len;
	bpf_probe_read_kernel(words, sizeof(words), s->path);
	/* Compare whole words, then the tail masked to the prefix length. */
	for (int w = 0; w < VIGIL_PROTECTED_WORDS; w++) {
		__u32 start = w * 8;
		if (start >= len)
			break;
		__u64 mask = len - start >= 8 ? ~0ULL : (1ULL << ((len - start) * 8)) - 1;
		if ((words[w] & mask) != (pp->words[w] & mask))
			return 0;
	}
	s->hit = true;
	return 1;
}

static __always_inline bool is_protected(const char *path)
{
	struct prefix_state s = { .path = path };
	bpf_loop(VIGIL_PROTECTED_MAX, prefix_step, &s, 0);
	return s.hit;
}

static long strlen_step(__u64 i, struct hash_state *s)
{
	char c = 0;
	if (i >= VIGIL_HASH_MAX || i >= s->cap)
		return 1;
	bpf_probe_read_kernel(&c, 1, s->buf + i);
	if (!c)
		return 1;
	s->len = i + 1;
	return 0;
}

/* At the entry of a write to `p` (absolute paths only; a relative one is
 * left to the engine, which kills after the event), when no denying hook
 * covers `op` (VIGIL_OP_*) on this kernel: kill the caller if its policy
 * protects the path and does not allow it. */
static __always_inline void enforce_write(struct vigil_header *h, struct vigil_path *p, __u32 op)
{
	struct policy_hit pol;
	if (!(kill_ops & op) || !current_policy(&pol) || !(pol.flags & VIGIL_ENFORCE_WRITE))
		return;
	if ((p->flags & VIGIL_PATH_HAS_BASE) || p->raw[0] != '/' || !is_protected(p->raw))
		return;
	struct hash_state n = { .buf = p->raw, .cap = VIGIL_STR_LEN };
	bpf_loop(VIGIL_STR_LEN, strlen_step, &n, 0);
	struct vigil_allow_key k = { .root = pol.root, .hash = hash_bytes(p->raw, n.len, VIGIL_STR_LEN) };
	if (!bpf_map_lookup_elem(&write_allow, &k))
		kill_current(h);
}

/* An address an allowed name resolved to, not yet expired. */
static __always_inline bool dns_allowed_now(const __u64 *expiry)
{
	return expiry && *expiry > bpf_ktime_get_ns();
}

/* cgroup/connect4 and connect6 are attached once at the cgroup v2 root;
 * 1 lets the connect proceed, 0 refuses it with EPERM. */
static __always_inline int refuse(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u8 one = 1;
	bpf_map_update_elem(&refused, &tid, &one, BPF_ANY);
	return 0;
}

/* Whether the current task's policy lets it connect to this IPv4 or
 * IPv6 destination (port in network order in the low 16 bits, as
 * bpf_sock_addr has it). *root is set when a policy applies. */
static __always_inline bool connect4_allowed(__u32 ip, __u32 port, __u8 protocol)
{
	struct policy_hit p;
	if (!current_policy(&p) || !(p.flags & VIGIL_ENFORCE_CONNECT))
		return true;
	struct vigil_connect4_key k = { .prefixlen = VIGIL_CONNECT_FIXED_BITS + 32, .root = p.root, .protocol = protocol };
	__builtin_memcpy(k.port, &port, 2);
	__builtin_memcpy(k.addr, &ip, 4);
	if (bpf_map_lookup_elem(&connect4_allow, &k))
		return true;
	k.port[0] = k.port[1] = 0;
	if (bpf_map_lookup_elem(&connect4_allow, &k))
		return true;
	struct vigil_dns4_key d = { .root = p.root, .port = port, .protocol = protocol };
	__builtin_memcpy(d.addr, &ip, 4);
	return dns_allowed_now(bpf_map_lookup_elem(&dns4_allowed, &d)) ||
	       (d.port = 0, dns_allowed_now(bpf_map_lookup_elem(&dns4_allowed, &d)));
}

static __always_inline bool connect6_allowed(const __u32 *w, __u32 port, __u8 protocol)
{
	struct policy_hit p;
	if (!current_policy(&p) || !(p.flags & VIGIL_ENFORCE_CONNECT))
		return true;
	struct vigil_connect6_key k = { .prefixlen = VIGIL_CONNECT_FIXED_BITS + 128, .root = p.root, .protocol = protocol };
	__builtin_memcpy(k.port, &port, 2);
	__u32 w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3];
	__builtin_memcpy(k.addr, &w0, 4);
	__builtin_memcpy(k.addr + 4, &w1, 4);
	__builtin_memcpy(k.addr + 8, &w2, 4);
	__builtin_memcpy(k.addr + 12, &w3, 4);
	if (bpf_map_lookup_elem(&connect6_allow, &k))
		return true;
	k.port[0] = k.port[1] = 0;
	if (bpf_map_lookup_elem(&connect6_allow, &k))
		return true;
	struct vigil_dns6_key d = { .root = p.root, .port = port, .protocol = protocol };
	__builtin_memcpy(d.addr, k.addr, 16);
	return dns_allowed_now(bpf_map_lookup_elem(&dns6_allowed, &d)) ||
	       (d.port = 0, dns_allowed_now(bpf_map_lookup_elem(&dns6_allowed, &d)));
}

SEC("cgroup/connect4")
int enforce_connect4(struct bpf_sock_addr *ctx)
{
	follow_socket(ctx->sk);
	return connect4_allowed(ctx->user_ip4, ctx->user_port, ctx->protocol) ? 1 : refuse();
}

SEC("cgroup/connect6")
int enforce_connect6(struct bpf_sock_addr *ctx)
{
	follow_socket(ctx->sk);
	__u32 w[4] = { ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2], ctx->user_ip6[3] };
	return connect6_allowed(w, ctx->user_port, ctx->protocol) ? 1 : refuse();
}

/* At connect's exit: was it refused by us? */
static __always_inline void mark_if_refused(struct vigil_header *h)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	if (bpf_map_lookup_elem(&refused, &tid)) {
		h->flags |= VIGIL_BLOCKED | VIGIL_BY_CGROUP;
		bpf_map_delete_elem(&refused, &tid);
	}
}

#endif
