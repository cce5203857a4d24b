/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a process is allowed and who logged it in, read from the task:
 * capabilities (effective, permitted), the audit login uid, the pid in its
 * own pid namespace, and whether an executable sits on an overlay's upper
 * (writable) layer. Read at exec, fork and set*id; the engine keeps them
 * per process (Falco's thread.cap_effective, user.loginuid, proc.vpid,
 * proc.is_exe_upper_layer).
 */
#ifndef VIGIL_CREDS_BPF_H
#define VIGIL_CREDS_BPF_H

#include "common.bpf.h"

#define OVERLAYFS_SUPER_MAGIC 0x794c7630

/* kernel_cap_t is one u64 since 6.3 and two u32 (low word first) before:
 * the same 8 bytes either way. */
static __always_inline void task_caps(struct task_struct *task, __u64 *effective, __u64 *permitted)
{
	const struct cred *cred = BPF_CORE_READ(task, cred);

	*effective = 0;
	*permitted = 0;
	bpf_probe_read_kernel(effective, sizeof(*effective), __builtin_preserve_access_index(&cred->cap_effective));
	bpf_probe_read_kernel(permitted, sizeof(*permitted), __builtin_preserve_access_index(&cred->cap_permitted));
}

/* The audit login uid; (u32)-1 when unset or the kernel has no audit. */
static __always_inline __u32 task_loginuid(struct task_struct *task)
{
	if (!bpf_core_field_exists(task->loginuid))
		return (__u32)-1;
	return BPF_CORE_READ(task, loginuid.val);
}

/* The pid as the task's own (innermost) pid namespace numbers it. */
static __always_inline __u32 task_vpid(struct task_struct *task)
{
	struct pid *pid = BPF_CORE_READ(task, thread_pid);
	unsigned int level = BPF_CORE_READ(pid, level);
	int nr = 0;

	BPF_CORE_READ_INTO(&nr, pid, numbers[level].nr);
	return nr;
}

/* The controlling terminal (major << 20 | minor), 0 for none: the exec
 * event's and a denied exec's (process.bpf.h, deny.bpf.h). */
static __always_inline __u32 task_tty(struct task_struct *task)
{
	struct tty_struct *tty = BPF_CORE_READ(task, signal, tty);
	if (!tty)
		return 0;
	int major = BPF_CORE_READ(tty, driver, major);
	int minor = BPF_CORE_READ(tty, driver, minor_start) + BPF_CORE_READ(tty, index);
	return ((__u32)major << 20) | ((__u32)minor & 0xfffff);
}

/*
 * Whether an executable is on an overlay's upper layer: created or
 * copied up after the container started, not part of its image. An
 * overlay inode is struct ovl_inode's vfs_inode, and __upperdentry comes
 * right after it (stable since overlayfs has had ovl_inode, 4.13); the
 * type's size comes from the running kernel's BTF, so a module-built
 * overlayfs (no struct ovl_inode in vmlinux) reads the same way. Falco's
 * probe reads it likewise.
 */
static __always_inline __u32 exe_layer(struct file *file)
{
	struct dentry *dentry = BPF_CORE_READ(file, f_path.dentry);

	if (BPF_CORE_READ(dentry, d_sb, s_magic) != OVERLAYFS_SUPER_MAGIC)
		return 0;
	char *inode = (char *)BPF_CORE_READ(dentry, d_inode);
	struct dentry *upper = NULL;
	if (!inode || bpf_probe_read_kernel(&upper, sizeof(upper), inode + bpf_core_type_size(struct inode)))
		return VIGIL_EXE_OVERLAY;
	return upper && BPF_CORE_READ(upper, d_inode, i_ino) ? VIGIL_EXE_OVERLAY | VIGIL_EXE_UPPER_LAYER : VIGIL_EXE_OVERLAY;
}

#endif
