/* SPDX-License-Identifier: Apache-2.0 */
/* Paths from the kernel's dentry tree: the cwd, a dirfd, an executable.
 * Written leaf first ("passwd\0etc\0") so each component's offset only
 * grows, which the verifier can bound; the probe reverses the order.
 * The walk stops at the task's root, so a container sees its own paths. */
#ifndef VIGIL_PATH_BPF_H
#define VIGIL_PATH_BPF_H

#include "common.bpf.h"

/* File types of i_mode (uapi stat.h, which vmlinux.h does not carry). */
#define S_IFMT   00170000
#define S_IFSOCK 0140000
#define S_IFREG  0100000
#define S_IFBLK  0060000
#define S_IFDIR  0040000
#define S_IFCHR  0020000
#define S_IFIFO  0010000

struct walk_state {
	struct dentry *d;
	struct vfsmount *vfs;
	struct mount *mnt;
	struct dentry *mnt_root;     /* vfs's root dentry, read once per mount */
	struct dentry *root_dentry;
	struct vfsmount *root_mnt;
	char *buf;
	__u32 off;
	bool truncated;
};

/*
 * Each bpf_probe_read_kernel() is a helper call, ~40 ns on this project's
 * VM, and a walk made four per component: an open's path cost ~200 ns a
 * level at its exit. A step now makes two: the dentry's parent and name
 * in one read (below), its name string; the mount's root dentry is read
 * once per mount.
 */

/* A dentry's parent and name pointer. Every kernel Vigil supports keeps
 * d_parent right before d_name (a qstr: hash and length, then the name
 * pointer): one read of the 24 bytes; two reads where a kernel does not. */
static __always_inline void dentry_up(struct dentry *d, struct dentry **parent, const unsigned char **name)
{
	__u32 p = bpf_core_field_offset(struct dentry, d_parent);
	__u32 n = bpf_core_field_offset(struct dentry, d_name.name);

	if (n == p + 16) {
		__u64 w[3];
		if (bpf_probe_read_kernel(w, sizeof(w), (char *)d + p))
			w[0] = w[2] = 0;
		*parent = (struct dentry *)w[0];
		*name = (const unsigned char *)w[2];
		return;
	}
	*parent = BPF_CORE_READ(d, d_parent);
	*name = BPF_CORE_READ(d, d_name.name);
}

/* The steps walk_step and resolve_step share. At the top of mount `mnt`:
 * go on from where it is mounted; 1 (stop) at the top of the mount tree. */
static __always_inline long step_to_mountpoint(struct mount *mnt, struct dentry **d, struct mount **m,
					       struct vfsmount **vfs, struct dentry **mnt_root)
{
	struct mount *up = BPF_CORE_READ(mnt, mnt_parent);
	if (up == mnt || !up)
		return 1;
	*d = BPF_CORE_READ(mnt, mnt_mountpoint);
	*m = up;
	*vfs = &up->mnt;
	*mnt_root = BPF_CORE_READ(up, mnt.mnt_root);
	return 0;
}

/* Inside a mount: d's name (`name`, from dentry_up) into buf + off (the
 * caller bounded off), then on to its parent; 1 (stop) when the name
 * cannot be read. */
static __always_inline long step_to_parent(const unsigned char *name, struct dentry *parent, char *buf, __u32 off,
					   __u32 *next_off, struct dentry **next)
{
	long n = bpf_probe_read_kernel_str(buf + off, VIGIL_NAME_READ, name);
	if (n <= 0)
		return 1;
	*next_off = off + n;
	*next = parent;
	return 0;
}

/* One step up the tree; a bpf_loop callback so the verifier checks the
 * body once instead of once per unrolled level. Returns 1 to stop. */
static long walk_step(__u64 i, struct walk_state *w)
{
	/* Locals, not w->x, inside BPF_CORE_READ: walk_state is ours, not
	 * the kernel's, and must not get a CO-RE relocation. */
	struct dentry *d = w->d;
	struct vfsmount *vfs = w->vfs;
	struct mount *mnt = w->mnt;
	struct dentry *mnt_root = w->mnt_root;

	if (d == w->root_dentry && vfs == w->root_mnt)
		return 1;
	struct dentry *parent;
	const unsigned char *name;
	dentry_up(d, &parent, &name);
	if (d == parent && d != mnt_root && w->off == 0) {
		/* A pseudo file with no directory above it (memfd_create,
		 * anonymous inodes): its name ("memfd:payload") is its path. */
		long pn = bpf_probe_read_kernel_str(w->buf, VIGIL_NAME_READ, name);
		if (pn > 0)
			w->off = pn;
		return 1;
	}
	if (d == mnt_root || d == parent)
		return step_to_mountpoint(mnt, &w->d, &w->mnt, &w->vfs, &w->mnt_root);
	__u32 off = w->off;
	if (off > VIGIL_WALK_STOP) {
		w->truncated = true;
		return 1;
	}
	return step_to_parent(name, parent, w->buf, off, &w->off, &w->d);
}

/* Walk `path` up to the caller's root, writing from buf + off; returns
 * the bytes used in buf (a VIGIL_WALK_LEN buffer, off included) and sets
 * *truncated when the walk was cut. */
static __always_inline __u32 walk_path_from(const struct path *path, char *buf, __u32 off, bool *truncated)
{
	/* The task's root through its BTF type: plain loads, no helper calls. */
	struct fs_struct *fs = bpf_get_current_task_btf()->fs;
	struct vfsmount *vfs = BPF_CORE_READ(path, mnt);
	struct walk_state w = {
		.d = BPF_CORE_READ(path, dentry),
		.vfs = vfs,
		.mnt = container_of(vfs, struct mount, mnt),
		.mnt_root = BPF_CORE_READ(vfs, mnt_root),
		.root_dentry = fs->root.dentry,
		.root_mnt = fs->root.mnt,
		.buf = buf,
		.off = off,
	};
	long steps = bpf_loop(VIGIL_WALK_DEPTH, walk_step, &w, 0);

	if (w.truncated || steps >= VIGIL_WALK_DEPTH)
		*truncated = true;
	return w.off;
}

static __always_inline __u32 walk_path(const struct path *path, char *buf, bool *truncated)
{
	return walk_path_from(path, buf, 0, truncated);
}

/*
 * The file actually opened, named from the kernel's own dentries and
 * mounts (resolve_path): what a rule about a file should judge, however
 * the caller spelled it. Unlike walk_path it
 *   - goes on past the process's root when that root is a directory
 *     inside a mount (a chroot into /etc: /shadow is /etc/shadow) and
 *     says so; a root that is a whole mount (a container's, the host's)
 *     ends the walk, so a container still sees its own paths;
 *   - names a file reached through a bind mount of a directory of the
 *     root's own file system where that file system has it (mount --bind
 *     /etc /tmp/x: /tmp/x/shadow is /etc/shadow). A bind mount from
 *     another file system (a container's /etc/hosts, a volume) keeps its
 *     mount point: the process cannot reach the file another way.
 * It writes into a buffer with room for VIGIL_RESOLVE_ROOM bytes, from
 * `start`, at most VIGIL_WALK_STOP bytes of components.
 */
#define VIGIL_RESOLVE_ROOM (VIGIL_STR_LEN + 2 * VIGIL_WALK_LEN)
#define VIGIL_RESOLVE_MAX_OFF (VIGIL_RESOLVE_ROOM - VIGIL_NAME_READ)

struct resolve_state {
	struct dentry *d;
	struct vfsmount *vfs;
	struct mount *mnt;
	struct dentry *mnt_root;     /* vfs's root dentry, read once per mount */
	struct dentry *root_dentry;
	struct vfsmount *root_mnt;
	struct dentry *root_mnt_root;
	struct super_block *root_sb; /* the root mount's file system when the mount holds all of it, else NULL */
	char *buf;
	__u32 off;
	__u32 start;
	__u32 stop;
	__u32 flags;                 /* VIGIL_FILE_* */
};

static long resolve_step(__u64 i, struct resolve_state *w)
{
	struct dentry *d = w->d;
	struct vfsmount *vfs = w->vfs;
	struct mount *mnt = w->mnt;
	struct dentry *mnt_root = w->mnt_root;

	if (d == w->root_dentry && vfs == w->root_mnt) {
		if (d == mnt_root)
			return 1; /* the root is a whole mount: the container's or the host's */
		w->flags |= VIGIL_FILE_OUTSIDE_ROOT;
	}
	struct dentry *parent;
	const unsigned char *name;
	dentry_up(d, &parent, &name);
	if (d == parent && d != mnt_root && w->off == w->start) {
		/* A pseudo file (memfd, anonymous inode): its name is its path. */
		__u32 off = w->off;
		if (off > VIGIL_RESOLVE_MAX_OFF)
			return 1;
		long pn = bpf_probe_read_kernel_str(w->buf + off, VIGIL_NAME_READ, name);
		if (pn > 0)
			w->off = off + pn;
		return 1;
	}
	if (d == mnt_root || d == parent) {
		if (d == mnt_root && d != parent && w->root_sb && BPF_CORE_READ(vfs, mnt_sb) == w->root_sb &&
		    vfs != w->root_mnt) {
			/* A bind mount of a directory of the root's file system:
			 * go on from the same dentry in the root mount. */
			w->vfs = w->root_mnt;
			w->mnt = container_of(w->root_mnt, struct mount, mnt);
			w->mnt_root = w->root_mnt_root;
			w->flags |= VIGIL_FILE_BIND_MAPPED;
			return 0;
		}
		return step_to_mountpoint(mnt, &w->d, &w->mnt, &w->vfs, &w->mnt_root);
	}
	__u32 off = w->off;
	if (off > w->stop || off > VIGIL_RESOLVE_MAX_OFF) {
		w->flags |= VIGIL_FILE_TRUNCATED;
		return 1;
	}
	return step_to_parent(name, parent, w->buf, off, &w->off, &w->d);
}

/* Walks the file `f` into buf (VIGIL_RESOLVE_ROOM bytes) from `start`;
 * returns the bytes written and adds VIGIL_FILE_* to *flags. */
static __always_inline __u32 resolve_path(struct vfsmount *vfs, struct dentry *d, char *buf, __u32 start, __u32 *flags)
{
	/* The task's root through its BTF type: plain loads, no helper calls. */
	struct fs_struct *fs = bpf_get_current_task_btf()->fs;
	struct vfsmount *root_mnt = fs->root.mnt;
	struct super_block *root_sb = root_mnt->mnt_sb;
	struct dentry *root_mnt_root = root_mnt->mnt_root;
	if (root_mnt_root != root_sb->s_root)
		root_sb = NULL;
	struct resolve_state w = {
		.d = d,
		.vfs = vfs,
		.mnt = container_of(vfs, struct mount, mnt),
		.mnt_root = vfs == root_mnt ? root_mnt_root : BPF_CORE_READ(vfs, mnt_root),
		.root_dentry = fs->root.dentry,
		.root_mnt = root_mnt,
		.root_mnt_root = root_mnt_root,
		.root_sb = root_sb,
		.buf = buf,
		.off = start,
		.start = start,
		.stop = start + VIGIL_WALK_STOP,
	};
	long steps = bpf_loop(VIGIL_WALK_DEPTH, resolve_step, &w, 0);

	if (steps >= VIGIL_WALK_DEPTH)
		w.flags |= VIGIL_FILE_TRUNCATED;
	*flags |= w.flags | VIGIL_FILE_RESOLVED;
	return w.off - start;
}

/* An open record's fields about the file opened (its identity and its
 * walked name, file.bpf.h's resolve_opened), cleared: before that walk,
 * or for a record whose file is not walked (an io_uring open, a denial). */
static __always_inline void clear_opened(struct vigil_open *o)
{
	o->file_flags = 0;
	o->ino = 0;
	o->dev = 0;
	o->nlink = 0;
	o->file_mode = 0;
	o->resolved_off = 0;
	o->resolved_len = 0;
	o->root_ino = 0;
	o->root_dev = 0;
}

/* The task's file table is read through its BTF type, plain loads where
 * BPF_CORE_READ makes a helper call each; the slot itself (an array of
 * pointers, which BTF access does not follow) is one read. */
static __always_inline struct file *file_from_fd(int fd)
{
	struct fdtable *fdt = bpf_get_current_task_btf()->files->fdt;
	unsigned int max = fdt->max_fds;
	struct file **fds = fdt->fd;
	struct file *f = NULL;

	if (fd < 0 || (unsigned int)fd >= max)
		return NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

/* A file's inode and path: within its first 96 bytes on every kernel
 * Vigil supports (f_inode after f_path before 6.12, before it since), one
 * read instead of three. */
struct file_facts {
	struct inode *inode;
	struct vfsmount *mnt;
	struct dentry *dentry;
};

#define VIGIL_FILE_HEAD 96

static __always_inline void read_file(struct file *f, struct file_facts *o)
{
	__u32 inode_off = bpf_core_field_offset(struct file, f_inode);
	__u32 mnt_off = bpf_core_field_offset(struct file, f_path.mnt);
	__u32 dentry_off = bpf_core_field_offset(struct file, f_path.dentry);

	if (inode_off + 8 <= VIGIL_FILE_HEAD && mnt_off + 8 <= VIGIL_FILE_HEAD && dentry_off + 8 <= VIGIL_FILE_HEAD) {
		__u8 head[VIGIL_FILE_HEAD];
		if (bpf_probe_read_kernel(head, sizeof(head), f)) {
			o->inode = NULL;
			o->mnt = NULL;
			o->dentry = NULL;
			return;
		}
		o->inode = *(struct inode **)(head + inode_off);
		o->mnt = *(struct vfsmount **)(head + mnt_off);
		o->dentry = *(struct dentry **)(head + dentry_off);
		return;
	}
	o->inode = BPF_CORE_READ(f, f_inode);
	o->mnt = BPF_CORE_READ(f, f_path.mnt);
	o->dentry = BPF_CORE_READ(f, f_path.dentry);
}

/* What an open reports of the inode it opened: i_mode, i_sb, i_ino and
 * i_nlink lie within its first 96 bytes on every kernel Vigil supports,
 * one read instead of four (a field past them is read on its own). */
struct inode_facts {
	__u64 ino;
	__u32 dev;
	__u32 nlink;
	__u32 mode;
};

#define VIGIL_INODE_HEAD 96

static __always_inline void read_inode(struct inode *inode, struct inode_facts *o)
{
	__u32 mode_off = bpf_core_field_offset(struct inode, i_mode);
	__u32 sb_off = bpf_core_field_offset(struct inode, i_sb);
	__u32 ino_off = bpf_core_field_offset(struct inode, i_ino);
	__u32 nlink_off = bpf_core_field_offset(struct inode, __i_nlink);

	if (mode_off + 2 <= VIGIL_INODE_HEAD && sb_off + 8 <= VIGIL_INODE_HEAD && ino_off + 8 <= VIGIL_INODE_HEAD &&
	    nlink_off + 4 <= VIGIL_INODE_HEAD) {
		__u8 head[VIGIL_INODE_HEAD];
		if (bpf_probe_read_kernel(head, sizeof(head), inode)) {
			o->ino = o->dev = o->nlink = o->mode = 0;
			return;
		}
		struct super_block *sb = *(struct super_block **)(head + sb_off);
		o->ino = *(__u64 *)(head + ino_off);
		o->nlink = *(__u32 *)(head + nlink_off);
		o->mode = *(__u16 *)(head + mode_off);
		o->dev = BPF_CORE_READ(sb, s_dev);
		return;
	}
	o->ino = BPF_CORE_READ(inode, i_ino);
	o->dev = BPF_CORE_READ(inode, i_sb, s_dev);
	o->nlink = BPF_CORE_READ(inode, __i_nlink);
	o->mode = BPF_CORE_READ(inode, i_mode);
}

/* An inode's change time in ns, whichever way this kernel stores it
 * (6.11+: i_ctime_sec/nsec; 6.6-6.10: __i_ctime; before: i_ctime). */
struct inode___ctime_ts {
	struct timespec64 i_ctime;
} __attribute__((preserve_access_index));
struct inode___ctime_ts66 {
	struct timespec64 __i_ctime;
} __attribute__((preserve_access_index));

static __always_inline __s64 inode_ctime_ns(struct inode *inode)
{
	/* 6.13+ keeps a flag in the top bit of i_ctime_nsec (multigrain
	 * timestamps' I_CTIME_QUERIED): not part of the time. */
	if (bpf_core_field_exists(inode->i_ctime_sec))
		return BPF_CORE_READ(inode, i_ctime_sec) * 1000000000LL + (BPF_CORE_READ(inode, i_ctime_nsec) & 0x7fffffff);
	struct inode___ctime_ts66 *i66 = (void *)inode;
	if (bpf_core_field_exists(i66->__i_ctime))
		return BPF_CORE_READ(i66, __i_ctime.tv_sec) * 1000000000LL + BPF_CORE_READ(i66, __i_ctime.tv_nsec);
	struct inode___ctime_ts *old = (void *)inode;
	return BPF_CORE_READ(old, i_ctime.tv_sec) * 1000000000LL + BPF_CORE_READ(old, i_ctime.tv_nsec);
}

/* The executable's identity: device, inode and change time. */
static __always_inline void exe_identity(struct vigil_exec *e, struct file *file)
{
	struct inode *inode = BPF_CORE_READ(file, f_inode);
	e->exe_ino = BPF_CORE_READ(inode, i_ino);
	e->exe_dev = BPF_CORE_READ(inode, i_sb, s_dev);
	e->exe_ctime_ns = inode_ctime_ns(inode);
}

/* What descriptor `fd` of the current task is (VIGIL_STDIO_*). */
static __always_inline __u32 stdio_kind(int fd)
{
	struct file *f = file_from_fd(fd);
	if (!f)
		return VIGIL_STDIO_CLOSED;
	umode_t mode = BPF_CORE_READ(f, f_inode, i_mode);
	switch (mode & S_IFMT) {
	case S_IFREG:
	case S_IFCHR:
	case S_IFBLK: return VIGIL_STDIO_FILE;
	case S_IFDIR: return VIGIL_STDIO_DIR;
	case S_IFIFO: return VIGIL_STDIO_PIPE;
	case S_IFSOCK: {
		struct socket *sock = BPF_CORE_READ(f, private_data);
		__u16 family = BPF_CORE_READ(sock, sk, __sk_common.skc_family);
		return family == 2 ? VIGIL_STDIO_IPV4 : family == 10 ? VIGIL_STDIO_IPV6 : family == 1 ? VIGIL_STDIO_UNIX
		     : VIGIL_STDIO_SOCKET; /* AF_INET, AF_INET6, AF_UNIX */
	}
	}
	return VIGIL_STDIO_OTHER;
}

/* fds 0, 1 and 2, a byte each. */
static __always_inline __u32 stdio_kinds(void)
{
	return stdio_kind(0) | stdio_kind(1) << 8 | stdio_kind(2) << 16;
}

/* After a path string was read into p->raw (n: bytes with the NUL, or
 * an error): its length and flags. Returns n, 0 when there is none. */
static __always_inline long raw_read(struct vigil_path *p, long n)
{
	p->flags = 0;
	p->base_len = 0;
	if (n <= 0) {
		p->raw[0] = 0;
		p->raw_len = 1;
		return 0;
	}
	if (n == sizeof(p->raw))
		p->flags |= VIGIL_PATH_TRUNCATED;
	p->raw_len = n;
	return n;
}

/* The path argument as the caller passed it; returns the bytes read
 * (with the NUL), 0 when there is none. */
static __always_inline long read_user_raw(struct vigil_path *p, const char *upath)
{
	return raw_read(p, bpf_probe_read_user_str(p->raw, sizeof(p->raw), upath));
}

/* After read_user_raw: when the path is relative, walk the directory it
 * is relative to (the cwd for AT_FDCWD, else dirfd's file). */
static __always_inline void walk_user_base(struct vigil_path *p, int dirfd, long n)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	bool truncated = false;

	if (n <= 0 || p->raw[0] == '/')
		return;
	p->flags |= VIGIL_PATH_HAS_BASE;
	if (dirfd == AT_FDCWD) {
		struct path pwd = BPF_CORE_READ(task, fs, pwd);
		p->base_len = walk_path(&pwd, p->base, &truncated);
	} else {
		struct file *f = file_from_fd(dirfd);
		if (f) {
			struct path fp = BPF_CORE_READ(f, f_path);
			p->base_len = walk_path(&fp, p->base, &truncated);
		}
	}
	if (truncated)
		p->flags |= VIGIL_PATH_TRUNCATED;
}

/* A user path argument, and the directory it is relative to. */
static __always_inline void read_user_path(struct vigil_path *p, int dirfd, const char *upath)
{
	walk_user_base(p, dirfd, read_user_raw(p, upath));
}

/* The path of an open file descriptor (fchmod, finit_module). */
static __always_inline void read_fd_path(struct vigil_path *p, int fd)
{
	bool truncated = false;
	struct file *f = file_from_fd(fd);

	p->raw[0] = 0;
	p->raw_len = 1;
	p->flags = VIGIL_PATH_FROM_FD;
	p->base_len = 0;
	if (!f)
		return;
	struct path fp = BPF_CORE_READ(f, f_path);
	p->base_len = walk_path(&fp, p->base, &truncated);
	if (truncated)
		p->flags |= VIGIL_PATH_TRUNCATED;
}

#endif
