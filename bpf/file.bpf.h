/* SPDX-License-Identifier: Apache-2.0 */
/* File activity: open, unlink, rename, chmod, mkdir, symlink, link. Paths are read at syscall
 * entry (what the caller asked for) and sent at exit with the result. */
#ifndef VIGIL_FILE_BPF_H
#define VIGIL_FILE_BPF_H

#include "path.bpf.h"
#include "enforce.bpf.h"
#include "dedup.bpf.h"
#include "fair.bpf.h"

#define O_WRONLY 01
#define O_RDWR 02
#define O_CREAT 0100
#define O_TRUNC 01000
#define AT_REMOVEDIR 0x200

static __always_inline int open_enter(int dirfd, const char *upath, __s64 flags, __u32 mode)
{
	if (is_excluded())
		return 0;
	struct vigil_thread *t = thread_space();
	if (!t)
		return 0;
	union vigil_inflight *rec = &t->rec;
	t->fair_pending = 0;
	bool write = flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC);
	long n = read_user_raw(&rec->open.path, upath);
	__u64 dedup_key = 0;
	/* A string not readable yet (its page not mapped) is read again at
	 * exit, when the kernel has faulted it in; such an open is never a
	 * repeat (its key would be the empty string's). */
	if (n <= 0 && upath) {
		t->reread_uptr = (__u64)upath;
		t->reread_dirfd = dirfd;
	} else if (dedup_on(write ? VIGIL_ENFORCE_WRITE : 0)) {
		__u64 what = open_what_hash(dirfd, &rec->open.path, n, flags);
		__u64 workload = dedup_workload();
		dedup_key = open_dedup_hash(workload, what);
		struct vigil_repeat args = { .uptr = (__u64)upath, .flags = flags, .fd = dirfd, .mode = mode };
		if (dedup_repeat(t, VIGIL_OPEN, dedup_key, &args))
			return 0;
		if (!write) {
			__u64 missing = missing_dedup_hash(workload, what);
			if (dedup_repeat_missing(t, missing, dedup_key, &args))
				return 0;
			t->missing_key = missing;
		}
	}
	/* Shed by its string: parked all the same, and decided at exit by the
	 * file it opens (a symlink to /etc/shadow is kept: fair_shed_opened). */
	__u32 fair_flags;
	t->fair_pending = fair_file(&rec->open.path, NULL, write, VIGIL_SHED_OPEN | VIGIL_FAIR_LATER, &fair_flags) == VIGIL_FAIR_SHED;
	fill_header(&rec->h, VIGIL_OPEN);
	rec->h.flags = fair_flags;
	rec->open.result = dedup_key;
	rec->open.flags = flags;
	rec->open.mode = mode;
	walk_user_base(&rec->open.path, dirfd, n);
	if (write)
		enforce_write(&rec->h, &rec->open.path, flags & O_CREAT ? VIGIL_OP_OPEN | VIGIL_OP_CREATE : VIGIL_OP_OPEN);
	park(rec);
	return 0;
}

/* Bytes of the open's path strings in use, from path.raw: where the
 * resolved path goes. */
static __always_inline __u32 open_strings_used(const struct vigil_open *o)
{
	__u32 n;
	if (o->path.flags & (VIGIL_PATH_HAS_BASE | VIGIL_PATH_FROM_FD)) {
		n = o->path.base_len;
		if (n > VIGIL_WALK_LEN)
			n = VIGIL_WALK_LEN;
		return VIGIL_STR_LEN + n;
	}
	n = o->path.raw_len;
	if (n > VIGIL_STR_LEN)
		n = VIGIL_STR_LEN;
	return n;
}

/* At an open's exit: the file it opened, from the new descriptor: its
 * path walked from the kernel's dentries and mounts, its identity and
 * type. Returns the file's identity (file_ident), 0 when nothing was
 * opened. */
static __always_inline __u32 resolve_opened(struct vigil_open *o, long fd)
{
	clear_opened(o);
	if (fd < 0)
		return 0;
	struct file *f = file_from_fd(fd);
	if (!f)
		return 0;
	struct file_facts ff;
	read_file(f, &ff);
	struct inode_facts i;
	read_inode(ff.inode, &i);
	o->ino = i.ino;
	o->dev = i.dev;
	o->nlink = i.nlink;
	o->file_mode = i.mode;
	if (o->nlink > 1) {
		struct task_struct *task = (struct task_struct *)bpf_get_current_task();
		struct inode *root = BPF_CORE_READ(task, fs, root.dentry, d_inode);
		o->root_ino = BPF_CORE_READ(root, i_ino);
		o->root_dev = BPF_CORE_READ(root, i_sb, s_dev);
	}
	__u32 start = open_strings_used(o);
	__u32 flags = 0;
	__u32 len = resolve_path(ff.mnt, ff.dentry, o->path.raw, start, &flags);
	o->file_flags = flags;
	o->resolved_off = start;
	o->resolved_len = len;
	return ident_of(i.ino, i.dev);
}

/* At exit: a path string that was not readable at entry, read now. */
static __always_inline void open_reread(struct vigil_thread *t)
{
	struct vigil_path *p = &t->rec.open.path;
	long n = read_user_raw(p, (const char *)t->reread_uptr);
	if (n > 0) {
		walk_user_base(p, t->reread_dirfd, n);
		p->flags |= VIGIL_PATH_REREAD;
	} else {
		p->flags |= VIGIL_PATH_UNREADABLE;
	}
	t->reread_uptr = 0;
}

/* An open that repeated at entry but ended differently: built now, from
 * the arguments saved at entry. */
static __always_inline void open_rebuild(struct vigil_thread *t, const struct vigil_repeat *r, long ret)
{
	union vigil_inflight *rec = &t->rec;
	fill_header(&rec->h, VIGIL_OPEN);
	rec->open.flags = r->flags;
	rec->open.mode = r->mode;
	read_user_path(&rec->open.path, r->fd, (const char *)r->uptr);
	__u32 ident = resolve_opened(&rec->open, ret);
	rec->open.result = ret;
	submit_parked(rec, sent_size(rec, VIGIL_OPEN));
	drop_parked(rec);
	if (r->scope == VIGIL_DEDUP_SCOPE_MISSING) {
		dedup_remember(VIGIL_OPEN, r->own_hash, ret, ident);
		dedup_remember_missing(r->hash, ret);
	} else {
		dedup_remember(VIGIL_OPEN, r->hash, ret, ident);
	}
}

static __always_inline int open_exit(long ret)
{
	struct vigil_thread *t = thread_state();
	__u32 fair_pending = 0;
	if (t) {
		fair_pending = t->fair_pending;
		t->fair_pending = 0;
	}
	struct vigil_repeat *r = dedup_armed(t, VIGIL_OPEN);
	if (r) {
		struct file *f = ret >= 0 ? file_from_fd(ret) : NULL;
		if (!dedup_confirm(r, ret, f ? file_ident(f) : 0))
			open_rebuild(t, r, ret);
		return 0;
	}
	union vigil_inflight *rec = unpark_from(t);
	if (!rec || rec->h.kind != VIGIL_OPEN) {
		send_parked_record(rec, ret, VIGIL_OPEN);
		return 0;
	}
	if (t->reread_uptr)
		open_reread(t);
	__u32 ident = resolve_opened(&rec->open, ret);
	if (fair_shed_opened(rec, fair_pending)) {
		drop_parked(rec);
		return 0;
	}
	__u64 sent = send_parked_record(rec, ret, VIGIL_OPEN);
	if (sent) {
		dedup_remember(VIGIL_OPEN, sent, ret, ident);
		if (t->missing_key && finds_nothing(ret))
			dedup_remember_missing(t->missing_key, ret);
	}
	return 0;
}

SEC("tp/syscalls/sys_enter_open")
int enter_open(struct trace_event_raw_sys_enter *ctx)
{
	return open_enter(AT_FDCWD, (const char *)ctx->args[0], ctx->args[1], ctx->args[2]);
}

SEC("tp/syscalls/sys_enter_creat")
int enter_creat(struct trace_event_raw_sys_enter *ctx)
{
	return open_enter(AT_FDCWD, (const char *)ctx->args[0], O_CREAT | O_WRONLY | O_TRUNC, ctx->args[1]);
}

SEC("tp/syscalls/sys_enter_openat")
int enter_openat(struct trace_event_raw_sys_enter *ctx)
{
	return open_enter(ctx->args[0], (const char *)ctx->args[1], ctx->args[2], ctx->args[3]);
}

SEC("tp/syscalls/sys_enter_openat2")
int enter_openat2(struct trace_event_raw_sys_enter *ctx)
{
	struct open_how how = {};
	bpf_probe_read_user(&how, sizeof(how), (void *)ctx->args[2]);
	return open_enter(ctx->args[0], (const char *)ctx->args[1], how.flags, how.mode);
}

SEC("tp/syscalls/sys_exit_open")
int exit_open(struct trace_event_raw_sys_exit *ctx) { return open_exit(ctx->ret); }
SEC("tp/syscalls/sys_exit_creat")
int exit_creat(struct trace_event_raw_sys_exit *ctx) { return open_exit(ctx->ret); }
SEC("tp/syscalls/sys_exit_openat")
int exit_openat(struct trace_event_raw_sys_exit *ctx) { return open_exit(ctx->ret); }
SEC("tp/syscalls/sys_exit_openat2")
int exit_openat2(struct trace_event_raw_sys_exit *ctx) { return open_exit(ctx->ret); }

static __always_inline int unlink_enter(int dirfd, const char *upath, bool dir)
{
	if (is_excluded())
		return 0;
	union vigil_inflight *rec = scratch_record(VIGIL_UNLINK);
	if (!rec)
		return 0;
	rec->unlink.dir = dir;
	long n = read_user_raw(&rec->unlink.path, upath);
	__u32 fair_flags;
	if (fair_file(&rec->unlink.path, NULL, true, VIGIL_SHED_UNLINK, &fair_flags) == VIGIL_FAIR_SHED) {
		drop_parked(rec);
		return 0;
	}
	rec->h.flags |= fair_flags;
	walk_user_base(&rec->unlink.path, dirfd, n);
	enforce_write(&rec->h, &rec->unlink.path, dir ? VIGIL_OP_RMDIR : VIGIL_OP_UNLINK);
	park(rec);
	return 0;
}

SEC("tp/syscalls/sys_enter_unlink")
int enter_unlink(struct trace_event_raw_sys_enter *ctx)
{
	return unlink_enter(AT_FDCWD, (const char *)ctx->args[0], false);
}

SEC("tp/syscalls/sys_enter_rmdir")
int enter_rmdir(struct trace_event_raw_sys_enter *ctx)
{
	return unlink_enter(AT_FDCWD, (const char *)ctx->args[0], true);
}

SEC("tp/syscalls/sys_enter_unlinkat")
int enter_unlinkat(struct trace_event_raw_sys_enter *ctx)
{
	return unlink_enter(ctx->args[0], (const char *)ctx->args[1], ctx->args[2] & AT_REMOVEDIR);
}

SEC("tp/syscalls/sys_exit_unlink")
int exit_unlink(struct trace_event_raw_sys_exit *ctx) { return finish_parked(ctx->ret, VIGIL_UNLINK); }
SEC("tp/syscalls/sys_exit_rmdir")
int exit_rmdir(struct trace_event_raw_sys_exit *ctx) { return finish_parked(ctx->ret, VIGIL_UNLINK); }
SEC("tp/syscalls/sys_exit_unlinkat")
int exit_unlinkat(struct trace_event_raw_sys_exit *ctx) { return finish_parked(ctx->ret, VIGIL_UNLINK); }

static __always_inline int rename_enter(int olddirfd, const char *oldp, int newdirfd, const char *newp, __u32 flags)
{
	if (is_excluded())
		return 0;
	union vigil_inflight *rec = scratch_record(VIGIL_RENAME);
	if (!rec)
		return 0;
	rec->rename.flags = flags;
	long from = read_user_raw(&rec->rename.from, oldp);
	long to = read_user_raw(&rec->rename.to, newp);
	__u32 fair_flags;
	if (fair_file(&rec->rename.from, &rec->rename.to, true, VIGIL_SHED_RENAME, &fair_flags) == VIGIL_FAIR_SHED) {
		drop_parked(rec);
		return 0;
	}
	rec->h.flags |= fair_flags;
	walk_user_base(&rec->rename.from, olddirfd, from);
	walk_user_base(&rec->rename.to, newdirfd, to);
	enforce_write(&rec->h, &rec->rename.from, VIGIL_OP_RENAME);
	enforce_write(&rec->h, &rec->rename.to, VIGIL_OP_RENAME);
	park(rec);
	return 0;
}

SEC("tp/syscalls/sys_enter_rename")
int enter_rename(struct trace_event_raw_sys_enter *ctx)
{
	return rename_enter(AT_FDCWD, (const char *)ctx->args[0], AT_FDCWD, (const char *)ctx->args[1], 0);
}

SEC("tp/syscalls/sys_enter_renameat")
int enter_renameat(struct trace_event_raw_sys_enter *ctx)
{
	return rename_enter(ctx->args[0], (const char *)ctx->args[1], ctx->args[2], (const char *)ctx->args[3], 0);
}

SEC("tp/syscalls/sys_enter_renameat2")
int enter_renameat2(struct trace_event_raw_sys_enter *ctx)
{
	return rename_enter(ctx->args[0], (const char *)ctx->args[1], ctx->args[2], (const char *)ctx->args[3], ctx->args[4]);
}

SEC("tp/syscalls/sys_exit_rename")
int exit_rename(struct trace_event_raw_sys_exit *ctx) { return finish_parked(ctx->ret, VIGIL_RENAME); }
SEC("tp/syscalls/sys_exit_renameat")
int exit_renameat(struct trace_event_raw_sys_exit *ctx) { return finish_parked(ctx->ret, VIGIL_RENAME); }
SEC("tp/syscalls/sys_exit_renameat2")
int exit_renameat2(struct trace_event_raw_sys_exit *ctx) { return finish_parked(ctx->ret, VIGIL_RENAME); }

static __always_inline int chmod_enter(int dirfd, const char *upath, int fd, __u32 mode)
{
	if (is_excluded())
		return 0;
	union vigil_inflight *rec = scratch_record(VIGIL_CHMOD);
	if (!rec)
		return 0;
	rec->chmod.mode = mode;
	if (upath) {
		long n = read_user_raw(&rec->chmod.path, upath);
		/* A set-id bit is never shed (a privilege change). */
		if (!(mode & (VIGIL_S_ISUID | VIGIL_S_ISGID))) {
			__u32 fair_flags;
			if (fair_file(&rec->chmod.path, NULL, true, VIGIL_SHED_CHMOD, &fair_flags) == VIGIL_FAIR_SHED) {
				drop_parked(rec);
				return 0;
			}
			rec->h.flags |= fair_flags;
		}
		walk_user_base(&rec->chmod.path, dirfd, n);
		enforce_write(&rec->h, &rec->chmod.path, VIGIL_OP_CHMOD);
	} else {
		read_fd_path(&rec->chmod.path, fd);
	}
	park(rec);
	return 0;
}

SEC("tp/syscalls/sys_enter_chmod")
int enter_chmod(struct trace_event_raw_sys_enter *ctx)
{
	return chmod_enter(AT_FDCWD, (const char *)ctx->args[0], -1, ctx->args[1]);
}

SEC("tp/syscalls/sys_enter_fchmod")
int enter_fchmod(struct trace_event_raw_sys_enter *ctx)
{
	return chmod_enter(AT_FDCWD, NULL, ctx->args[0], ctx->args[1]);
}

SEC("tp/syscalls/sys_enter_fchmodat")
int enter_fchmodat(struct trace_event_raw_sys_enter *ctx)
{
	return chmod_enter(ctx->args[0], (const char *)ctx->args[1], -1, ctx->args[2]);
}

SEC("tp/syscalls/sys_enter_fchmodat2")
int enter_fchmodat2(struct trace_event_raw_sys_enter *ctx)
{
	return chmod_enter(ctx->args[0], (const char *)ctx->args[1], -1, ctx->args[2]);
}

SEC("tp/syscalls/sys_exit_chmod")
int exit_chmod(struct trace_event_raw_sys_exit *ctx) { return finish_parked(ctx->ret, VIGIL_CHMOD); }
SEC("tp/syscalls/sys_exit_fchmod")
int exit_fchmod(struct trace_event_raw_sys_exit *ctx) { return finish_parked(ctx->ret, VIGIL_CHMOD); }
SEC("tp/syscalls/sys_exit_fchmodat")
int exit_fchmodat(struct trace_event_raw_sys_exit *ctx) { return finish_parked(ctx->ret, VIGIL_CHMOD); }
SEC("tp/syscalls/sys_exit_fchmodat2")
int exit_fchmodat2(struct trace_event_raw_sys_exit *ctx) { return finish_parked(ctx->ret, VIGIL_CHMOD); }

/* mkdir and links are reported, not enforced here: a denying hook covers
 * them where the kernel has one (deny.bpf.h marks the parked record). */
static __always_inline int mkdir_enter(int dirfd, const char *upath, __u32 mode)
{
	if (is_excluded())
		return 0;
	union vigil_inflight *rec = scratch_record(VIGIL_MKDIR);
	if (!rec)
		return 0;
	rec->mkdir.mode = mode;
	read_user_path(&rec->mkdir.path, dirfd, upath);
	park(rec);
	return 0;
}

SEC("tp/syscalls/sys_enter_mkdir")
int enter_mkdir(struct trace_event_raw_sys_enter *ctx)
{
	return mkdir_enter(AT_FDCWD, (const char *)ctx->args[0], ctx->args[1]);
}

SEC("tp/syscalls/sys_enter_mkdirat")
int enter_mkdirat(struct trace_event_raw_sys_enter *ctx)
{
	return mkdir_enter(ctx->args[0], (const char *)ctx->args[1], ctx->args[2]);
}

SEC("tp/syscalls/sys_exit_mkdir")
int exit_mkdir(struct trace_event_raw_sys_exit *ctx) { return finish_parked(ctx->ret, VIGIL_MKDIR); }
SEC("tp/syscalls/sys_exit_mkdirat")
int exit_mkdirat(struct trace_event_raw_sys_exit *ctx) { return finish_parked(ctx->ret, VIGIL_MKDIR); }

/* A symlink's target is kept as the string given (olddirfd < -100 says
 * so: it is never resolved against a directory); a hard link's old name
 * is a path like any other. */
#define VIGIL_NO_DIR -101
static __always_inline int link_enter(__u32 call, int olddirfd, const char *oldp, int newdirfd, const char *newp, __u32 flags)
{
	if (is_excluded())
		return 0;
	union vigil_inflight *rec = scratch_record(VIGIL_LINK);
	if (!rec)
		return 0;
	rec->link.call = call;
	rec->link.flags = flags;
	if (olddirfd == VIGIL_NO_DIR)
		read_user_raw(&rec->link.from, oldp);
	else
		read_user_path(&rec->link.from, olddirfd, oldp);
	read_user_path(&rec->link.to, newdirfd, newp);
	park(rec);
	return 0;
}

SEC("tp/syscalls/sys_enter_symlink")
int enter_symlink(struct trace_event_raw_sys_enter *ctx)
{
	return link_enter(VIGIL_LINK_CALL_SYMLINK, VIGIL_NO_DIR, (const char *)ctx->args[0], AT_FDCWD, (const char *)ctx->args[1], 0);
}

SEC("tp/syscalls/sys_enter_symlinkat")
int enter_symlinkat(struct trace_event_raw_sys_enter *ctx)
{
	return link_enter(VIGIL_LINK_CALL_SYMLINKAT, VIGIL_NO_DIR, (const char *)ctx->args[0], ctx->args[1], (const char *)ctx->args[2], 0);
}

SEC("tp/syscalls/sys_enter_link")
int enter_link(struct trace_event_raw_sys_enter *ctx)
{
	return link_enter(VIGIL_LINK_CALL_LINK, AT_FDCWD, (const char *)ctx->args[0], AT_FDCWD, (const char *)ctx->args[1], 0);
}

SEC("tp/syscalls/sys_enter_linkat")
int enter_linkat(struct trace_event_raw_sys_enter *ctx)
{
	return link_enter(VIGIL_LINK_CALL_LINKAT, ctx->args[0], (const char *)ctx->args[1], ctx->args[2], (const char *)ctx->args[3], ctx->args[4]);
}

SEC("tp/syscalls/sys_exit_symlink")
int exit_symlink(struct trace_event_raw_sys_exit *ctx) { return finish_parked(ctx->ret, VIGIL_LINK); }
SEC("tp/syscalls/sys_exit_symlinkat")
int exit_symlinkat(struct trace_event_raw_sys_exit *ctx) { return finish_parked(ctx->ret, VIGIL_LINK); }
SEC("tp/syscalls/sys_exit_link")
int exit_link(struct trace_event_raw_sys_exit *ctx) { return finish_parked(ctx->ret, VIGIL_LINK); }
SEC("tp/syscalls/sys_exit_linkat")
int exit_linkat(struct trace_event_raw_sys_exit *ctx) { return finish_parked(ctx->ret, VIGIL_LINK); }

#endif
