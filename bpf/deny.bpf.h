/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Enforcement that denies before anything changes: the checks of
 * enforce.bpf.h run in the kernel's security hooks, which return -EPERM to
 * the caller, so the file keeps its existence, content, mode and name and
 * the process lives on. Two ways in, the same code:
 *   lsm/<hook>                   the BPF LSM, when "bpf" is in the boot's
 *                                lsm= list (/sys/kernel/security/lsm)
 *   fmod_ret/security_<hook>     fmod_ret on the security_* function that
 *                                calls the hook, where the BPF LSM is not
 *                                active (the kernel allows modifying the
 *                                return of any security_* function)
 * The loader (bpf/probe/loader.cc) loads one of the two sets, or neither,
 * per operation, and leaves what neither covers to the syscall-entry kill
 * of enforce.bpf.h (kill_ops), saying which operation got what.
 *
 * Paths are walked from the dentries the hook is given, leaf first
 * ("passwd\0etc\0"), so they are matched against the leaf-first protected
 * prefixes (protected_leaf) and allow-list hashes: the hooks see what is
 * really touched, whichever call or io_uring operation touched it.
 *
 * A denial is reported on the record the caller's watched syscall parked
 * (its exit sends it with the -EPERM); a denial no watched syscall carries
 * (io_uring, IORING_OP_OPENAT and IORING_OP_CONNECT) gets a record of its
 * own, or, where io_uring's tracepoints follow that work (uring.bpf.h),
 * marks the request's record at its completion. chown and truncate(2) are
 * not watched as syscalls: a denial of one (or of an io_uring mkdirat,
 * symlinkat or linkat) is reported as a VIGIL_FILEOP record.
 */
#ifndef VIGIL_DENY_BPF_H
#define VIGIL_DENY_BPF_H

#include "path.bpf.h"
#include "enforce.bpf.h"
#include "uring.bpf.h"
#include "creds.bpf.h"

#ifndef EPERM
#define EPERM 1
#endif
#define VIGIL_FMODE_WRITE 0x2
#define VIGIL_O_CREAT 0100
#define VIGIL_O_TRUNC 01000
#define VIGIL_AF_INET 2
#define VIGIL_AF_INET6 10

/* A record for a denial no syscall record carries, with room after it for
 * the 64-byte prefix compare to read past a path's end. */
struct deny_scratch {
	union vigil_inflight rec;
	char slack[64];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct deny_scratch);
} deny_scratch_map SEC(".maps");

static __always_inline struct deny_scratch *deny_space(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&deny_scratch_map, &zero);
}

struct leaf_state {
	const char *buf;
	__u32 len;
	bool hit;
};

/* Is the walked path (leaf first, `len` bytes) below protected prefix i?
 * Its last components must be the prefix's, starting at a component. */
static long leaf_step(__u64 i, struct leaf_state *s)
{
	__u32 idx = i;
	struct vigil_protected_prefix *pp = bpf_map_lookup_elem(&protected_leaf, &idx);
	if (!pp || pp->len == 0)
		return 1;
	__u32 n = pp->len > 64 ? 64 : pp->len;
	__u32 len = s->len;
	if (n > len || len > VIGIL_WALK_LEN)
		return 0;
	__u32 start = len - n;
	if (start >= VIGIL_WALK_LEN)
		return 0;
	if (start > 0) {
		char before = 1;
		bpf_probe_read_kernel(&before, 1, s->buf + start - 1);
		if (before)
			return 0;
	}
	__u64 words[VIGIL_PROTECTED_WORDS] = {};
	bpf_probe_read_kernel(words, sizeof(words), s->buf + start);
	for (int w = 0; w < VIGIL_PROTECTED_WORDS; w++) {
		__u32 at = w * 8;
		if (at >= n)
			break;
		__u64 mask = n - at >= 8 ? ~0ULL : (1ULL << ((n - at) * 8)) - 1;
		if ((words[w] & mask) != (pp->words[w] & mask))
			return 0;
	}
	s->hit = true;
	return 1;
}

static __always_inline bool writes_enforced(struct policy_hit *pol)
{
	return current_policy(pol) && (pol->flags & VIGIL_ENFORCE_WRITE);
}

/* A write to the walked path `buf` (leaf first, len bytes) that the
 * policy does not allow below a protected prefix. */
static __always_inline bool write_denied(const struct policy_hit *pol, const char *buf, __u32 len)
{
	if (len == 0)
		return false;
	struct leaf_state s = { .buf = buf, .len = len };
	bpf_loop(VIGIL_PROTECTED_MAX, leaf_step, &s, 0);
	if (!s.hit)
		return false;
	struct vigil_allow_key k = { .root = pol->root, .hash = hash_bytes(buf, len, VIGIL_WALK_LEN) };
	return !bpf_map_lookup_elem(&write_allow, &k);
}

/* The entry `dentry` of directory `dir`, walked into buf: its name, then
 * the directory up to the caller's root. */
static __always_inline __u32 walk_child(const struct path *dir, struct dentry *dentry, char *buf)
{
	bool truncated = false;
	const unsigned char *name = BPF_CORE_READ(dentry, d_name.name);
	long n = bpf_probe_read_kernel_str(buf, VIGIL_NAME_READ, name);
	if (n <= 0)
		return 0;
	return walk_path_from(dir, buf, n, &truncated);
}

static __always_inline __u32 walk_whole(const struct path *path, char *buf)
{
	bool truncated = false;
	return walk_path(path, buf, &truncated);
}

/* The record this thread's syscall parked, if it is of `kind`: marked
 * denied, its exit sends it with the -EPERM. */
static __always_inline bool mark_parked(__u32 kind, __u32 by)
{
	struct vigil_thread *t = thread_state();
	if (!t || t->rec.h.kind != kind)
		return false;
	t->rec.h.flags |= VIGIL_BLOCKED | by;
	return true;
}

/* A denial no syscall record carries: sent now, its path the walked one. */
static __always_inline void send_walked(union vigil_inflight *rec, struct vigil_path *p, __u32 kind, __u32 len, __u32 by)
{
	/* Bounded by a mask first: with two walks in one program (rename)
	 * clang dropped the plain comparison and 6.1's verifier saw an
	 * unbounded size. */
	__u64 n = len & 1023;
	if (n > VIGIL_WALK_LEN)
		n = VIGIL_WALK_LEN;
	fill_header(&rec->h, kind);
	rec->h.flags = VIGIL_BLOCKED | by;
	rec->open.result = -EPERM; /* `result` follows the header in every parked layout */
	p->flags = VIGIL_PATH_FROM_FD;
	p->raw_len = 1;
	p->raw[0] = 0;
	p->base_len = n;
	if (kind == VIGIL_OPEN)
		clear_opened(&rec->open); /* the walk is of the file itself: nothing further resolved */
	__u64 at = kind == VIGIL_OPEN     ? offsetof(struct vigil_open, path)
		 : kind == VIGIL_RENAME   ? offsetof(struct vigil_rename, to)
		 : kind == VIGIL_UNLINK   ? offsetof(struct vigil_unlink, path)
		 : kind == VIGIL_FILEOP   ? offsetof(struct vigil_fileop, path)
					  : offsetof(struct vigil_chmod, path);
	submit(rec, at + offsetof(struct vigil_path, base) + n);
}

/* --- the checks, one per operation; `by` is VIGIL_BY_LSM or VIGIL_BY_FMOD_RET --- */

static __always_inline int deny_open(struct file *file, __u32 by)
{
	unsigned int fmode = BPF_CORE_READ(file, f_mode);
	unsigned int fflags = BPF_CORE_READ(file, f_flags);
	if (!(fmode & VIGIL_FMODE_WRITE) && !(fflags & VIGIL_O_TRUNC))
		return 0; /* most opens: reading */
	struct policy_hit pol;
	if (!writes_enforced(&pol))
		return 0;
	struct deny_scratch *s = deny_space();
	if (!s)
		return 0;
	struct path fp = BPF_CORE_READ(file, f_path);
	__u32 len = walk_whole(&fp, s->rec.open.path.base);
	if (!write_denied(&pol, s->rec.open.path.base, len))
		return 0;
	if (!mark_parked(VIGIL_OPEN, by) && !uring_note_denial(VIGIL_OPEN, by)) {
		s->rec.open.flags = fflags;
		s->rec.open.mode = 0;
		send_walked(&s->rec, &s->rec.open.path, VIGIL_OPEN, len, by);
	}
	return -EPERM;
}

/* A new file (open with O_CREAT, mknod) in dir. */
static __always_inline int deny_create(const struct path *dir, struct dentry *dentry, umode_t mode, __u32 by)
{
	struct policy_hit pol;
	if (!writes_enforced(&pol))
		return 0;
	struct deny_scratch *s = deny_space();
	if (!s)
		return 0;
	__u32 len = walk_child(dir, dentry, s->rec.open.path.base);
	if (!write_denied(&pol, s->rec.open.path.base, len))
		return 0;
	if (!mark_parked(VIGIL_OPEN, by) && !uring_note_denial(VIGIL_OPEN, by)) {
		s->rec.open.flags = VIGIL_O_CREAT;
		s->rec.open.mode = mode;
		send_walked(&s->rec, &s->rec.open.path, VIGIL_OPEN, len, by);
	}
	return -EPERM;
}

static __always_inline int deny_remove(const struct path *dir, struct dentry *dentry, bool is_dir, __u32 by)
{
	struct policy_hit pol;
	if (!writes_enforced(&pol))
		return 0;
	struct deny_scratch *s = deny_space();
	if (!s)
		return 0;
	__u32 len = walk_child(dir, dentry, s->rec.unlink.path.base);
	if (!write_denied(&pol, s->rec.unlink.path.base, len))
		return 0;
	if (!mark_parked(VIGIL_UNLINK, by) && !uring_note_denial(VIGIL_UNLINK, by)) {
		s->rec.unlink.dir = is_dir;
		send_walked(&s->rec, &s->rec.unlink.path, VIGIL_UNLINK, len, by);
	}
	return -EPERM;
}

static __always_inline int deny_rename(const struct path *old_dir, struct dentry *old_dentry,
				       const struct path *new_dir, struct dentry *new_dentry, __u32 flags, __u32 by)
{
	struct policy_hit pol;
	if (!writes_enforced(&pol))
		return 0;
	struct deny_scratch *s = deny_space();
	if (!s)
		return 0;
	__u32 from = walk_child(old_dir, old_dentry, s->rec.rename.from.base);
	__u32 to = walk_child(new_dir, new_dentry, s->rec.rename.to.base);
	if (!write_denied(&pol, s->rec.rename.from.base, from) && !write_denied(&pol, s->rec.rename.to.base, to))
		return 0;
	if (!mark_parked(VIGIL_RENAME, by) && !uring_note_denial(VIGIL_RENAME, by)) {
		s->rec.rename.flags = flags;
		s->rec.rename.from.flags = VIGIL_PATH_FROM_FD;
		s->rec.rename.from.raw_len = 1;
		s->rec.rename.from.raw[0] = 0;
		s->rec.rename.from.base_len = from;
		send_walked(&s->rec, &s->rec.rename.to, VIGIL_RENAME, to, by);
	}
	return -EPERM;
}

static __always_inline int deny_chmod(const struct path *path, umode_t mode, __u32 by)
{
	struct policy_hit pol;
	if (!writes_enforced(&pol))
		return 0;
	struct deny_scratch *s = deny_space();
	if (!s)
		return 0;
	__u32 len = walk_whole(path, s->rec.chmod.path.base);
	if (!write_denied(&pol, s->rec.chmod.path.base, len))
		return 0;
	if (!mark_parked(VIGIL_CHMOD, by) && !uring_note_denial(VIGIL_CHMOD, by)) {
		s->rec.chmod.mode = mode;
		send_walked(&s->rec, &s->rec.chmod.path, VIGIL_CHMOD, len, by);
	}
	return -EPERM;
}

/* Operations whose syscalls are not watched (truncate, chown, mkdir,
 * symlink, link): a denial is sent as a record of its own. (A truncating
 * open reaches path_truncate only once file_open let it through.) */
static __always_inline int deny_fileop(const struct path *dir, struct dentry *dentry, __u32 call, __u32 by)
{
	struct policy_hit pol;
	if (!writes_enforced(&pol))
		return 0;
	struct deny_scratch *s = deny_space();
	if (!s)
		return 0;
	char *buf = s->rec.fileop.path.base;
	__u32 len = dentry ? walk_child(dir, dentry, buf) : walk_whole(dir, buf);
	if (!write_denied(&pol, buf, len))
		return 0;
	/* mkdir, symlink and link are watched as syscalls: their record is marked. */
	__u32 kind = call == VIGIL_OP_CALL_MKDIR ? VIGIL_MKDIR
		   : call == VIGIL_OP_CALL_SYMLINK || call == VIGIL_OP_CALL_LINK ? VIGIL_LINK : 0;
	if (kind && mark_parked(kind, by))
		return -EPERM;
	s->rec.fileop.call = call;
	send_walked(&s->rec, &s->rec.fileop.path, VIGIL_FILEOP, len, by);
	return -EPERM;
}

/* Exec of an executable the policy does not allow. Checked when the
 * kernel computes the new credentials from the file finally run (after a
 * script's interpreter is found), the same file the exec record and the
 * learned profile name, and before exec's point of no return. */
static __always_inline int deny_exec(struct linux_binprm *bprm, struct file *file, __u32 by)
{
	struct policy_hit p;
	if (!current_policy(&p) || !(p.flags & VIGIL_ENFORCE_EXEC))
		return 0;
	__u32 zero = 0;
	struct vigil_exec *e = bpf_map_lookup_elem(&exec_scratch, &zero);
	if (!e)
		return 0;
	bool truncated = false;
	struct path fp = BPF_CORE_READ(file, f_path);
	e->exe_len = walk_path(&fp, e->exe, &truncated);
	exe_identity(e, file);
	if (exec_allowed(p.root, e->exe, e->exe_len, e->exe_ino, e->exe_dev, e->exe_ctime_ns))
		return 0;
	fill_header(&e->h, VIGIL_EXEC);
	e->h.flags = VIGIL_BLOCKED | by;
	e->flags = 0;
	e->args_len = 0;
	e->env_len = 0;
	e->stdio = stdio_kinds();
	bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), BPF_CORE_READ(bprm, filename));
	struct task_struct *task = bpf_get_current_task_btf();
	/* Every field handle_exec fills, here too: exec_scratch is per CPU and
	 * would otherwise carry the last exec's on this CPU. The exec never
	 * happens, so the credentials are the caller's, which it keeps. */
	e->exe_layer = exe_layer(file);
	e->tty = task_tty(task);
	task_caps(task, &e->cap_effective, &e->cap_permitted);
	e->loginuid = task_loginuid(task);
	e->vpid = task_vpid(task);
	struct path pwd = BPF_CORE_READ(task, fs, pwd);
	e->cwd_len = walk_path(&pwd, e->cwd, &truncated);
	submit(e, offsetof(struct vigil_exec, args));
	return -EPERM;
}

static __always_inline int deny_connect(struct socket *sock, struct sockaddr *address, __u32 by)
{
	__u16 family = BPF_CORE_READ(address, sa_family);
	__u8 protocol = BPF_CORE_READ(sock, sk, sk_protocol);
	__u16 port = 0;
	__u32 w[4] = {};
	bool allowed;
	if (family == VIGIL_AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)address;
		port = BPF_CORE_READ(in, sin_port);
		w[0] = BPF_CORE_READ(in, sin_addr.s_addr);
		allowed = connect4_allowed(w[0], port, protocol);
	} else if (family == VIGIL_AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)address;
		port = BPF_CORE_READ(in6, sin6_port);
		bpf_probe_read_kernel(w, sizeof(w), &in6->sin6_addr);
		allowed = connect6_allowed(w, port, protocol);
	} else {
		return 0;
	}
	if (allowed)
		return 0;
	if (!mark_parked(VIGIL_CONNECT, by) && !uring_note_denial(VIGIL_CONNECT, by)) {
		struct deny_scratch *s = deny_space();
		if (s) {
			union vigil_inflight *rec = &s->rec;
			__builtin_memset(&rec->net.remote, 0, sizeof(rec->net.remote));
			__builtin_memset(&rec->net.local, 0, sizeof(rec->net.local));
			fill_header(&rec->h, VIGIL_CONNECT);
			rec->h.flags = VIGIL_BLOCKED | by;
			rec->net.result = -EPERM;
			rec->net.protocol = protocol;
			rec->net.fd = -1;
			rec->net.backlog = 0;
			rec->net.remote.family = family;
			rec->net.remote.port = bpf_ntohs(port);
			__builtin_memcpy(rec->net.remote.addr, w, 16);
			submit(rec, sizeof(struct vigil_net));
		}
	}
	return -EPERM;
}

/* bpf() from a workload whose policy refuses it: every command, before
 * the kernel looks at it, so no map, program or link is made or reached.
 * Vigil's own processes (excluded_tgids: the probe writes its maps through
 * bpf()) are let through. A command the bpf tracepoint parked (priv.bpf.h:
 * loads, attaches, map creation, fetches by id) is marked and sent at its
 * exit; any other gets a record of its own. */
static __always_inline int deny_bpf(int cmd, __u32 by)
{
	struct policy_hit pol;
	if (!current_policy(&pol) || !(pol.flags & VIGIL_ENFORCE_BPF) || is_excluded())
		return 0;
	if (mark_parked(VIGIL_BPF, by))
		return -EPERM;
	struct deny_scratch *s = deny_space();
	if (s) {
		union vigil_inflight *rec = &s->rec;
		fill_header(&rec->h, VIGIL_BPF);
		rec->h.flags = VIGIL_BLOCKED | by;
		rec->call.result = -EPERM;
		rec->call.a = cmd;
		rec->call.b = 0;
		rec->call.c = 0;
		rec->call._pad = 0;
		__builtin_memset(rec->call.name, 0, sizeof(rec->call.name));
		submit(rec, sizeof(struct vigil_call));
	}
	return -EPERM;
}

/* --- BPF LSM: `ret` is what earlier LSMs decided; a denial stands --- */

SEC("lsm/file_open")
int BPF_PROG(lsm_file_open, struct file *file, int ret)
{ return ret ? ret : deny_open(file, VIGIL_BY_LSM); }

SEC("lsm/path_mknod")
int BPF_PROG(lsm_path_mknod, const struct path *dir, struct dentry *dentry, umode_t mode, unsigned int dev, int ret)
{ return ret ? ret : deny_create(dir, dentry, mode, VIGIL_BY_LSM); }

SEC("lsm/path_truncate")
int BPF_PROG(lsm_path_truncate, const struct path *path, int ret)
{ return ret ? ret : deny_fileop(path, NULL, VIGIL_OP_CALL_TRUNCATE, VIGIL_BY_LSM); }

SEC("lsm/path_unlink")
int BPF_PROG(lsm_path_unlink, const struct path *dir, struct dentry *dentry, int ret)
{ return ret ? ret : deny_remove(dir, dentry, false, VIGIL_BY_LSM); }

SEC("lsm/path_rmdir")
int BPF_PROG(lsm_path_rmdir, const struct path *dir, struct dentry *dentry, int ret)
{ return ret ? ret : deny_remove(dir, dentry, true, VIGIL_BY_LSM); }

SEC("lsm/path_rename")
int BPF_PROG(lsm_path_rename, const struct path *old_dir, struct dentry *old_dentry, const struct path *new_dir,
	     struct dentry *new_dentry, unsigned int flags, int ret)
{ return ret ? ret : deny_rename(old_dir, old_dentry, new_dir, new_dentry, flags, VIGIL_BY_LSM); }

SEC("lsm/path_chmod")
int BPF_PROG(lsm_path_chmod, const struct path *path, umode_t mode, int ret)
{ return ret ? ret : deny_chmod(path, mode, VIGIL_BY_LSM); }

SEC("lsm/path_chown")
int BPF_PROG(lsm_path_chown, const struct path *path, __u64 uid, __u64 gid, int ret)
{ return ret ? ret : deny_fileop(path, NULL, VIGIL_OP_CALL_CHOWN, VIGIL_BY_LSM); }

SEC("lsm/path_mkdir")
int BPF_PROG(lsm_path_mkdir, const struct path *dir, struct dentry *dentry, umode_t mode, int ret)
{ return ret ? ret : deny_fileop(dir, dentry, VIGIL_OP_CALL_MKDIR, VIGIL_BY_LSM); }

SEC("lsm/path_symlink")
int BPF_PROG(lsm_path_symlink, const struct path *dir, struct dentry *dentry, const char *old_name, int ret)
{ return ret ? ret : deny_fileop(dir, dentry, VIGIL_OP_CALL_SYMLINK, VIGIL_BY_LSM); }

SEC("lsm/path_link")
int BPF_PROG(lsm_path_link, struct dentry *old_dentry, const struct path *new_dir, struct dentry *new_dentry, int ret)
{ return ret ? ret : deny_fileop(new_dir, new_dentry, VIGIL_OP_CALL_LINK, VIGIL_BY_LSM); }

SEC("lsm/bprm_creds_from_file")
int BPF_PROG(lsm_bprm_creds_from_file, struct linux_binprm *bprm, struct file *file, int ret)
{ return ret ? ret : deny_exec(bprm, file, VIGIL_BY_LSM); }

SEC("lsm/socket_connect")
int BPF_PROG(lsm_socket_connect, struct socket *sock, struct sockaddr *address, int addrlen, int ret)
{ return ret ? ret : deny_connect(sock, address, VIGIL_BY_LSM); }

/* `ret` is not read: it follows the hook's arguments, and security_bpf
 * gained one (`bool kernel`: this host's 6.18 has it, Debian's 6.1 and
 * 6.12 do not), so its slot moved. Nothing is lost: the kernel asks a BPF program only while every
 * LSM and program before it answered 0. */
SEC("lsm/bpf")
int BPF_PROG(lsm_bpf, int cmd)
{ return deny_bpf(cmd, VIGIL_BY_LSM); }

/* --- fmod_ret on the security_* functions: a non-zero return replaces the
 * function's (the LSMs are then not asked) --- */

SEC("fmod_ret/security_file_open")
int BPF_PROG(fmod_file_open, struct file *file, int ret)
{ return ret ? ret : deny_open(file, VIGIL_BY_FMOD_RET); }

SEC("fmod_ret/security_path_mknod")
int BPF_PROG(fmod_path_mknod, const struct path *dir, struct dentry *dentry, umode_t mode, unsigned int dev, int ret)
{ return ret ? ret : deny_create(dir, dentry, mode, VIGIL_BY_FMOD_RET); }

SEC("fmod_ret/security_path_truncate")
int BPF_PROG(fmod_path_truncate, const struct path *path, int ret)
{ return ret ? ret : deny_fileop(path, NULL, VIGIL_OP_CALL_TRUNCATE, VIGIL_BY_FMOD_RET); }

SEC("fmod_ret/security_path_unlink")
int BPF_PROG(fmod_path_unlink, const struct path *dir, struct dentry *dentry, int ret)
{ return ret ? ret : deny_remove(dir, dentry, false, VIGIL_BY_FMOD_RET); }

SEC("fmod_ret/security_path_rmdir")
int BPF_PROG(fmod_path_rmdir, const struct path *dir, struct dentry *dentry, int ret)
{ return ret ? ret : deny_remove(dir, dentry, true, VIGIL_BY_FMOD_RET); }

SEC("fmod_ret/security_path_rename")
int BPF_PROG(fmod_path_rename, const struct path *old_dir, struct dentry *old_dentry, const struct path *new_dir,
	     struct dentry *new_dentry, unsigned int flags, int ret)
{ return ret ? ret : deny_rename(old_dir, old_dentry, new_dir, new_dentry, flags, VIGIL_BY_FMOD_RET); }

SEC("fmod_ret/security_path_chmod")
int BPF_PROG(fmod_path_chmod, const struct path *path, umode_t mode, int ret)
{ return ret ? ret : deny_chmod(path, mode, VIGIL_BY_FMOD_RET); }

SEC("fmod_ret/security_path_chown")
int BPF_PROG(fmod_path_chown, const struct path *path, __u64 uid, __u64 gid, int ret)
{ return ret ? ret : deny_fileop(path, NULL, VIGIL_OP_CALL_CHOWN, VIGIL_BY_FMOD_RET); }

SEC("fmod_ret/security_path_mkdir")
int BPF_PROG(fmod_path_mkdir, const struct path *dir, struct dentry *dentry, umode_t mode, int ret)
{ return ret ? ret : deny_fileop(dir, dentry, VIGIL_OP_CALL_MKDIR, VIGIL_BY_FMOD_RET); }

SEC("fmod_ret/security_path_symlink")
int BPF_PROG(fmod_path_symlink, const struct path *dir, struct dentry *dentry, const char *old_name, int ret)
{ return ret ? ret : deny_fileop(dir, dentry, VIGIL_OP_CALL_SYMLINK, VIGIL_BY_FMOD_RET); }

SEC("fmod_ret/security_path_link")
int BPF_PROG(fmod_path_link, struct dentry *old_dentry, const struct path *new_dir, struct dentry *new_dentry, int ret)
{ return ret ? ret : deny_fileop(new_dir, new_dentry, VIGIL_OP_CALL_LINK, VIGIL_BY_FMOD_RET); }

SEC("fmod_ret/security_bprm_creds_from_file")
int BPF_PROG(fmod_bprm_creds_from_file, struct linux_binprm *bprm, struct file *file, int ret)
{ return ret ? ret : deny_exec(bprm, file, VIGIL_BY_FMOD_RET); }

SEC("fmod_ret/security_socket_connect")
int BPF_PROG(fmod_socket_connect, struct socket *sock, struct sockaddr *address, int addrlen, int ret)
{ return ret ? ret : deny_connect(sock, address, VIGIL_BY_FMOD_RET); }

SEC("fmod_ret/security_bpf")
int BPF_PROG(fmod_bpf, int cmd) /* `ret` not read, as lsm_bpf */
{ return deny_bpf(cmd, VIGIL_BY_FMOD_RET); }

#endif
