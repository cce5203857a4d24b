/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one wire layout of ring-buffer records, read by the kernel programs
 * (vigil.bpf.c) and by the native probe (probe/decoder.cc). Every record
 * starts with struct vigil_header; `kind` says which struct follows.
 */
#ifndef VIGIL_EVENTS_H
#define VIGIL_EVENTS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define VIGIL_COMM_LEN 16
/* A user-supplied path or string, read as is. */
#define VIGIL_STR_LEN 512
/*
 * A path walked from the kernel's dentry tree, written leaf first as
 * NUL-separated components ("file\0dir\0etc\0"); the probe reverses it.
 * The walk stops adding components past VIGIL_WALK_STOP so a 256-byte
 * name read always fits (the verifier must see that statically).
 */
#define VIGIL_WALK_LEN 768
#define VIGIL_WALK_STOP 512
#define VIGIL_NAME_READ 256
#define VIGIL_WALK_DEPTH 40
#define VIGIL_ARGS_LEN 1024
/* The environment block at exec, read right after argv; the probe keeps
 * every name and only the values of an allow-list (probe/decoder.cc). */
#define VIGIL_ENV_LEN 8192

enum vigil_kind {
	VIGIL_EXEC = 1,
	VIGIL_FORK,
	VIGIL_EXIT,
	VIGIL_OPEN,
	VIGIL_UNLINK,
	VIGIL_RENAME,
	VIGIL_CHMOD,
	VIGIL_CONNECT,
	VIGIL_ACCEPT,
	VIGIL_BIND,
	VIGIL_LISTEN,
	VIGIL_SETID,
	VIGIL_PTRACE,
	VIGIL_MODULE,
	VIGIL_MOUNT,
	VIGIL_NAMESPACE,
	VIGIL_DUP,
	VIGIL_FILEOP,
	VIGIL_DNS,
	VIGIL_CGROUP_MOVE,
	VIGIL_MKDIR,
	VIGIL_LINK,
	VIGIL_SOCKET,
	VIGIL_BPF,
	VIGIL_USERFAULTFD,
	VIGIL_SEND,
	VIGIL_URING,
	VIGIL_KIND_MAX,
};

/* Which set*id call a VIGIL_SETID record is. */
enum vigil_setid_call {
	VIGIL_SETUID = 1, VIGIL_SETGID, VIGIL_SETREUID, VIGIL_SETREGID,
	VIGIL_SETRESUID, VIGIL_SETRESGID, VIGIL_SETFSUID, VIGIL_SETFSGID,
};

/* Per-CPU loss counters (and the de-duplication count), index into the `losses` map. */
enum vigil_loss {
	VIGIL_LOSS_RINGBUF = 0,    /* bpf_ringbuf_output failed: buffer full */
	VIGIL_LOSS_INFLIGHT,       /* syscall entry could not be stored for its exit */
	VIGIL_LOSS_PACKETS,        /* a captured packet did not fit the packet ring buffer */
	VIGIL_DEDUPLICATED,        /* not a loss: a repeat counted in the kernel (dedup.bpf.h) */
	VIGIL_LOSS_DNS,            /* a DNS answer not sent: its workload's answers per second over the budget (dns.bpf.h) */
	VIGIL_SHED,                /* not sent, counted: over its workload's fair share (fair.bpf.h) */
	VIGIL_LOSS_MAX,
};

/* Header flags. VIGIL_BLOCKED alone: the caller was killed at the
 * syscall's entry (the call itself may have completed); with one of the
 * VIGIL_BY_* bits: the call was denied before it changed anything. */
#define VIGIL_BLOCKED      0x1 /* Vigil's enforcement stopped it */
#define VIGIL_BY_LSM       0x2 /* denied by a BPF LSM hook (EPERM) */
#define VIGIL_BY_FMOD_RET  0x4 /* denied by fmod_ret on a security_* function (EPERM) */
#define VIGIL_BY_CGROUP    0x8 /* connect refused by the cgroup connect hook (EPERM) */
/* Fairness (fair.bpf.h): the event is of a workload held to its share,
 * and of a kind it may shed (VIGIL_SHEDDABLE); VIGIL_SAMPLED: it crossed
 * as one sample of the events shed past that share. */
#define VIGIL_SHEDDABLE    0x10
#define VIGIL_SAMPLED      0x20
#define VIGIL_VIA_URING    0x40 /* submitted through io_uring, not as a syscall (uring.bpf.h) */

struct vigil_header {
	__u64 ktime_ns;
	__u64 cgroup_id;
	__u32 kind;
	__u32 pid;   /* tgid */
	__u32 tid;
	__u32 ppid;
	__u32 uid;
	__u32 gid;
	__u32 flags; /* VIGIL_BLOCKED */
	__u32 _pad;
	char comm[VIGIL_COMM_LEN];
};

/* vigil_exec.exe_layer: where the executable lives. */
#define VIGIL_EXE_OVERLAY     0x1 /* on an overlay file system (a container's root) */
#define VIGIL_EXE_UPPER_LAYER 0x2 /* on its upper, writable layer: not part of the image */

/* Flags on a vigil_path. */
#define VIGIL_PATH_HAS_BASE   0x1 /* raw is relative: join it to base */
#define VIGIL_PATH_TRUNCATED  0x2 /* a string or walk was cut short */
#define VIGIL_PATH_FROM_FD    0x4 /* no raw string: the path is base alone (fchmod, finit_module) */
#define VIGIL_PATH_UNREADABLE 0x8 /* the caller's string could not be read, at entry nor at exit */
#define VIGIL_PATH_REREAD     0x10 /* not readable at entry (a page not yet mapped): read at exit */

/* A path as the syscall named it, plus the directory it is relative to.
 * A record ending in a path is sent only up to the path's last used byte
 * (raw_len of raw, or base_len of base when there is a base); the probe
 * reads the missing rest as zeros. */
struct vigil_path {
	__u16 flags;
	__u16 raw_len;            /* bytes used in raw, with the NUL */
	__u32 base_len;           /* bytes used in base */
	char raw[VIGIL_STR_LEN];  /* as passed by the caller, NUL-terminated */
	char base[VIGIL_WALK_LEN]; /* walked cwd or dirfd, leaf first */
};

struct vigil_exec {
	struct vigil_header h;
	__u32 args_len;           /* bytes used in args (NUL-separated) */
	__u32 flags;              /* VIGIL_PATH_TRUNCATED: argv cut short; VIGIL_ENV_TRUNCATED */
	__u32 exe_len;
	__u32 cwd_len;
	__u32 tty;                /* controlling terminal (major << 20 | minor), 0 if none */
	__u32 exe_layer;          /* VIGIL_EXE_OVERLAY | VIGIL_EXE_UPPER_LAYER (creds.bpf.h) */
	__u64 cap_effective;      /* capabilities after the exec */
	__u64 cap_permitted;
	__u32 loginuid;           /* audit login uid, (u32)-1 if unset */
	__u32 vpid;               /* the pid in its own pid namespace */
	__u32 stdio;              /* what fds 0, 1, 2 are at exec: a VIGIL_STDIO_* byte each, fd 0 lowest */
	__u32 exe_dev;            /* the file run: its file system's device (kernel dev_t)… */
	__u64 exe_ino;            /* …its inode number… */
	__s64 exe_ctime_ns;       /* …its change time: any write to it moves it (the probe's hash cache key, and enforce mode's identity) */
	char filename[VIGIL_STR_LEN];
	char exe[VIGIL_WALK_LEN];   /* walked, leaf first */
	char cwd[VIGIL_WALK_LEN];   /* walked, leaf first */
	__u32 env_len;            /* bytes of the environment block, right after argv in args */
	__u32 _pad2;
	char args[VIGIL_ARGS_LEN + VIGIL_ENV_LEN]; /* argv, then the environment (NUL-separated) */
};

/* vigil_exec.flags. */
#define VIGIL_ENV_TRUNCATED 0x100 /* the environment block was longer than VIGIL_ENV_LEN: cut */

/* vigil_exec.stdio: what a standard descriptor is. */
#define VIGIL_STDIO_CLOSED 0
#define VIGIL_STDIO_FILE   1 /* a regular file or a device (a tty) */
#define VIGIL_STDIO_DIR    2
#define VIGIL_STDIO_PIPE   3
#define VIGIL_STDIO_IPV4   4
#define VIGIL_STDIO_IPV6   5
#define VIGIL_STDIO_UNIX   6
#define VIGIL_STDIO_SOCKET 7 /* another socket family (netlink, packet, vsock…) */
#define VIGIL_STDIO_OTHER  8 /* an anonymous inode (eventfd, signalfd…) */

struct vigil_fork {
	struct vigil_header h;
	__u32 child_pid;
	__u32 child_vpid;  /* the child's pid in its own pid namespace */
};

struct vigil_exit {
	struct vigil_header h;
	__s32 exit_code;
	__s32 signal;
};

/* A process moved to another cgroup (tp_btf/cgroup_attach_task). The
 * header is the mover's (who wrote cgroup.procs); the moved process is
 * `pid`. from_cgroup is the cgroup its thread was last seen in at a
 * watched syscall (0: not known); policy_root is the enforce policy that
 * now follows it (enforce.bpf.h), 0 for none. */
struct vigil_cgroup_move {
	struct vigil_header h;
	__u64 from_cgroup;
	__u64 to_cgroup;
	__u64 policy_root;
	__u32 pid;
	__u32 threadgroup;
	char comm[16];    /* the moved process's */
};

/* What the exit of an open learned of the file it opened (vigil_open.file_flags). */
#define VIGIL_FILE_RESOLVED     0x1 /* `resolved` is the path walked from the file opened */
#define VIGIL_FILE_TRUNCATED    0x2 /* that walk was cut short (deeper or longer than it walks) */
#define VIGIL_FILE_OUTSIDE_ROOT 0x4 /* the file is above the process's root (a chroot into a directory) */
#define VIGIL_FILE_BIND_MAPPED  0x8 /* reached through a bind mount of a directory: named where its file system has it */

/*
 * An open. `path` is what the caller asked for, read at entry; at exit
 * the file actually opened is walked from the new descriptor (symlinks,
 * /proc/self/fd and /proc/self/root resolved by the kernel itself) and
 * written right after the last used byte of `path` (raw, or base when
 * there is one), so the strings stay packed: `resolved_off` counts from
 * path.raw. `resolved_room` only reserves the space.
 */
struct vigil_open {
	struct vigil_header h;
	__s64 result;
	__s64 flags;
	__u32 mode;
	__u32 file_flags;         /* VIGIL_FILE_* */
	__u64 ino;                /* the file opened: inode number… */
	__u32 dev;                /* …its file system's device (kernel dev_t: major << 20 | minor) */
	__u32 nlink;              /* its hard links */
	__u32 file_mode;          /* its type and permissions (S_IFMT | 07777) */
	__u16 resolved_off;
	__u16 resolved_len;
	__u64 root_ino;           /* the opener's root directory (a hard link's other names are looked up under it) */
	__u32 root_dev;
	__u32 _pad;
	struct vigil_path path;
	char resolved_room[VIGIL_WALK_LEN];
};

struct vigil_unlink {
	struct vigil_header h;
	__s64 result;
	__u32 dir;
	__u32 _pad;
	struct vigil_path path;
};

struct vigil_rename {
	struct vigil_header h;
	__s64 result;
	__u32 flags;
	__u32 _pad;
	struct vigil_path from;
	struct vigil_path to;
};

struct vigil_chmod {
	struct vigil_header h;
	__s64 result;
	__u32 mode;
	__u32 _pad;
	struct vigil_path path;
};

/* Socket address in the kernel's own sockaddr layout, family first. */
struct vigil_sockaddr {
	__u16 family;
	__u16 port;        /* host order */
	__u32 _pad;
	__u8 addr[16];     /* network order; 4 bytes used for AF_INET */
	char unix_path[108];
};

/* connect, bind, listen and accept share one record layout. */
struct vigil_net {
	struct vigil_header h;
	__s64 result;
	__u32 protocol;    /* IPPROTO_TCP / IPPROTO_UDP / 0 */
	__s32 backlog;     /* listen */
	__s32 fd;          /* the socket's descriptor */
	__u32 _pad;
	struct vigil_sockaddr remote; /* connect: destination; accept: peer */
	struct vigil_sockaddr local;  /* bind, listen, accept: local side */
};

/* A task's uids and gids: real, effective, saved, file system. */
struct vigil_ids {
	__u32 uid, euid, suid, fsuid;
	__u32 gid, egid, sgid, fsgid;
};

struct vigil_setid {
	struct vigil_header h;
	__s64 result;
	__s64 id;          /* requested effective id, -1 if unchanged */
	__u32 call;        /* enum vigil_setid_call */
	/* The caller's effective, saved and file system ids as the call found
	 * them (its real ones are the header's): root's no-op setuid(0) tells
	 * apart from a process taking root back. */
	__u32 euid;
	__u32 suid;
	__u32 egid;
	__u32 sgid;
	__u32 fsuid;
	__u32 fsgid;
	__u32 _pad;
	/* The ids the call left, read at the exit: whether a change took
	 * effect (setfsuid returns the old fsuid, refused or not). */
	struct vigil_ids after;
	__u64 cap_effective; /* capabilities after the call (a uid change may drop them) */
	__u64 cap_permitted;
};

struct vigil_ptrace {
	struct vigil_header h;
	__s64 result;
	__s64 request;
	__u32 target_pid;
	__u32 _pad;
};

struct vigil_module {
	struct vigil_header h;
	__s64 result;
	__u32 finit;       /* 1: finit_module (path set), 0: init_module */
	__u32 _pad;
	struct vigil_path path;
};

struct vigil_mount {
	struct vigil_header h;
	__s64 result;
	__u64 flags;
	char source[VIGIL_STR_LEN];
	char fstype[64];
	struct vigil_path target;
};

/* setns / unshare: entering or making namespaces (escape indicators). */
enum vigil_ns_call { VIGIL_SETNS = 1, VIGIL_UNSHARE };

struct vigil_namespace {
	struct vigil_header h;
	__s64 result;
	__u64 flags;       /* setns: nstype; unshare: CLONE_NEW* flags */
	__u32 call;        /* enum vigil_ns_call */
	__u32 _pad;
};

/* A change below a protected path that only a denying hook reports
 * (bpf/deny.bpf.h): the syscalls are not watched. */
enum vigil_fileop_call { VIGIL_OP_CALL_MKDIR = 1, VIGIL_OP_CALL_SYMLINK, VIGIL_OP_CALL_LINK, VIGIL_OP_CALL_CHOWN, VIGIL_OP_CALL_TRUNCATE };

struct vigil_fileop {
	struct vigil_header h;
	__s64 result;
	__u32 call;        /* enum vigil_fileop_call */
	__u32 _pad;
	struct vigil_path path; /* what would be created or changed */
};

/* Which call a VIGIL_DUP record is. */
enum vigil_dup_call { VIGIL_DUP_CALL_DUP2 = 0, VIGIL_DUP_CALL_DUP3, VIGIL_DUP_CALL_DUP, VIGIL_DUP_CALL_FCNTL };

/* An IP socket duplicated onto stdin, stdout or stderr (dup, dup2, dup3,
 * fcntl F_DUPFD/F_DUPFD_CLOEXEC). */
struct vigil_dup {
	struct vigil_header h;
	__s64 result;
	__u32 oldfd;
	__u32 newfd;       /* dup, fcntl: the result */
	__u32 protocol;
	__u32 call;        /* enum vigil_dup_call */
	struct vigil_sockaddr remote;
	struct vigil_sockaddr local;
};

/* mkdir, mkdirat: a directory made. */
struct vigil_mkdir {
	struct vigil_header h;
	__s64 result;
	__u32 mode;
	__u32 _pad;
	struct vigil_path path;
};

/* symlink(at), link(at): a new name `to` for `from`. A symlink's target
 * is a string the kernel does not resolve: its `from.raw` is sent as
 * given (no base). */
enum vigil_link_call { VIGIL_LINK_CALL_SYMLINK = 1, VIGIL_LINK_CALL_SYMLINKAT, VIGIL_LINK_CALL_LINK, VIGIL_LINK_CALL_LINKAT };

struct vigil_link {
	struct vigil_header h;
	__s64 result;
	__u32 call;        /* enum vigil_link_call */
	__u32 flags;       /* linkat: AT_SYMLINK_FOLLOW, AT_EMPTY_PATH */
	struct vigil_path from;
	struct vigil_path to;
};

/* One call's few numbers, for kinds that need no path:
 *   VIGIL_SOCKET       a = family, b = type (SOCK_* with its flags), c = protocol
 *   VIGIL_BPF          a = command, b = program type (BPF_PROG_LOAD), c = map or attach type; name = the program's or map's name
 *   VIGIL_USERFAULTFD  a = flags
 *   VIGIL_URING        a = enum vigil_uring_call, b = setup flags or the opcode, c = submission entries */
struct vigil_call {
	struct vigil_header h;
	__s64 result;
	__u32 a;
	__u32 b;
	__u32 c;
	__u32 _pad;
	char name[16];
};

/* A VIGIL_URING record: a ring set up, or the first operation of an
 * opcode a process image submitted (opens and connects are sent as
 * VIGIL_OPEN and VIGIL_CONNECT records with VIGIL_VIA_URING instead). */
enum vigil_uring_call { VIGIL_URING_SETUP = 1, VIGIL_URING_OP };

/* A VIGIL_SEND record is a struct vigil_net: sendto or sendmsg to an
 * explicit address on a connectionless socket, the first to each peer per
 * process image within the window; `backlog` holds the call. */
enum vigil_send_call { VIGIL_SEND_CALL_SENDTO = 1, VIGIL_SEND_CALL_SENDMSG };

/*
 * A DNS answer arriving at a workload's socket (bpf/dns.bpf.h): the
 * message as received, from its DNS header on, cut at VIGIL_DNS_MAX. It
 * is seen at the socket's ingress, before the workload can read it, so it
 * comes before any connect that uses it. No task runs it: the header's
 * pid, tid, ppid, uid, gid and comm are 0; cgroup_id is the receiving
 * socket's.
 */
#define VIGIL_DNS_MAX 1024
struct vigil_dns {
	struct vigil_header h;
	__u32 len;         /* bytes of the DNS message in this packet */
	__u32 caplen;      /* bytes that follow in msg */
	__u16 server_port; /* host order */
	__u8 family;       /* the server's: AF_INET or AF_INET6 */
	__u8 protocol;     /* IPPROTO_UDP or IPPROTO_TCP */
	__u16 allowed;     /* addresses this answer added to the kernel's connect allow-list (enforce mode) */
	__u16 _pad;
	__u8 server[16];   /* network order */
	__u8 msg[VIGIL_DNS_MAX];
};

/*
 * Captured packets travel in their own ring buffer: a packet record is
 * this header followed by `caplen` bytes starting at the IP header.
 */
#define VIGIL_SNAP_MAX 1536
struct vigil_packet {
	__u64 ktime_ns;
	__u64 cgroup_id;   /* the socket's cgroup */
	__u32 capture_id;
	__u32 len;         /* bytes on the wire (from the IP header) */
	__u32 caplen;      /* bytes that follow */
	__u8 egress;       /* 1: leaving the workload, 0: arriving */
	__u8 _pad[3];
};

/*
 * One process's cgroup v2 id as the kernel holds it, written by the task
 * iterator (snapshot.bpf.h) for the probe's start-up snapshot: not a ring
 * record, read from the iterator's file.
 */
struct vigil_task_cgroup {
	__u32 tgid;         /* in the initial pid namespace */
	__u32 _pad;
	__u64 cgroup_id;
};

#endif /* VIGIL_EVENTS_H */
