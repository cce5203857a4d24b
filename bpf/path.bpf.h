/* SPDX-License-Identifier: Apache-2.0 */
/* Paths from the kernel's dentry tree: the cwd, a dirfd, an executable.
 * Written leaf first ("passwd\0etc\0") so each component's offset only
 * grows, which the verifier can bound; the probe reverses the order.
 * The walk stops at the task's root, so a container sees its own paths. */
#ifndef VIGIL_PATH_BPF_H
#define VIGIL_PATH_BPF_H

#include "common.bpf.h"

struct walk_state {
	struct dentry *d;
	struct vfsmount *vfs;
	struct mount *mnt;
	struct dentry *root_dentry;
	struct vfsmount *root_mnt;
	char *buf;
	__u32 off;
	bool truncated;
};

/* One step up the tree; a bpf_loop callback so the verifier checks the
 * body once instead of once per unrolled level. Returns 1 to stop. */
static long walk_step(__u64 i, struct walk_state *w)
{
	/* Locals, not w->x, inside BPF_CORE_READ: walk_state is ours, not
	 * the kernel's, and must not get a CO-RE relocation. */
	struct dentry *d = w->d;
	struct vfsmount *vfs = w->vfs;
	struct mount *mnt = w->mnt;

	if (d == w->root_dentry && vfs == w->root_mnt)
		return 1;
	struct dentry *parent = BPF_CORE_READ(d, d_parent);
	struct dentry *mnt_root = BPF_CORE_READ(vfs, mnt_root);
	if (d == parent && d != mnt_root && w->off == 0) {
		/* A pseudo file with no directory above it (memfd_create,
		 * anonymous inodes): its name ("memfd:payload") is its path. */
		const unsigned char *pname = BPF_CORE_READ(d, d_name.name);
		long pn = bpf_probe_read_kernel_str(w->buf, VIGIL_NAME_READ, pname);
		if (pn > 0)
			w->off = pn;
		return 1;
	}
	if (d == mnt_root || d == parent) {
		/* Top of a mount: continue from where it is mounted. */
		struct mount *up = BPF_CORE_READ(mnt, mnt_parent);
		if (up == mnt || !up)
			return 1; /* the global root */
		w->d = BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = up;
		w->vfs = &up->mnt;
		return 0;
	}
	__u32 off = w->off;
	if (off > VIGIL_WALK_STOP) {
		w->truncated = true;
		return 1;
	}
	const unsigned char *name = BPF_CORE_READ(d, d_name.name);
	long n = bpf_probe_read_kernel_str(w->buf + off, VIGIL_NAME_READ, name);
	if (n <= 0)
		return 1;
	w->off = off + n;
	w->d = parent;
	return 0;
}

/* Walk `path` up to the caller's root, writing from buf + off; returns
 * the bytes used in buf (a VIGIL_WALK_LEN buffer, off included) and sets
 * *truncated when the walk was cut. */
static __always_inline __u32 walk_path_from(const struct path *path, char *buf, __u32 off, bool *truncated)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct vfsmount *vfs = BPF_CORE_READ(path, mnt);
	struct walk_state w = {
		.d = BPF_CORE_READ(path, dentry),
		.vfs = vfs,
		.mnt = container_of(vfs, struct mount, mnt),
		.root_dentry = BPF_CORE_READ(task, fs, root.dentry),
		.root_mnt = BPF_CORE_READ(task, fs, root.mnt),
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

static __always_inline struct file *file_from_fd(int fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	unsigned int max = BPF_CORE_READ(fdt, max_fds);
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = NULL;

	if (fd < 0 || (unsigned int)fd >= max)
		return NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

/* The path argument as the caller passed it; returns the bytes read
 * (with the NUL), 0 when there is none. */
static __always_inline long read_user_raw(struct vigil_path *p, const char *upath)
{
	long n = bpf_probe_read_user_str(p->raw, sizeof(p->raw), upath);

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
