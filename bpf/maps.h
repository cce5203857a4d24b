/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Key and value layouts of the maps the probe writes for the kernel
 * programs to read: enforcement policies (enforce.bpf.h) and captures
 * (respond.bpf.h). Included by both sides, like events.h.
 */
#ifndef VIGIL_MAPS_H
#define VIGIL_MAPS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Policy flags, the value of the `policies` map (policy root cgroup id → flags). */
#define VIGIL_ENFORCE_EXEC    0x1
#define VIGIL_ENFORCE_CONNECT 0x2
#define VIGIL_ENFORCE_WRITE   0x4
#define VIGIL_ENFORCE_BPF     0x8 /* refuse bpf() (BPF LSM or fmod_ret only: no kill fallback) */

/* Enforced operations, one bit each: which of them the syscall-entry kill
 * still covers (kill_ops) is set by the loader, from the mechanism each
 * one got on this kernel (bpf/deny.bpf.h). */
#define VIGIL_OP_EXEC     0x001
#define VIGIL_OP_OPEN     0x002 /* open for writing or truncating */
#define VIGIL_OP_CREATE   0x004
#define VIGIL_OP_TRUNCATE 0x008
#define VIGIL_OP_UNLINK   0x010
#define VIGIL_OP_RMDIR    0x020
#define VIGIL_OP_RENAME   0x040
#define VIGIL_OP_CHMOD    0x080
#define VIGIL_OP_CHOWN    0x100
#define VIGIL_OP_MKDIR    0x200
#define VIGIL_OP_SYMLINK  0x400
#define VIGIL_OP_LINK     0x800
#define VIGIL_OP_CONNECT  0x1000
#define VIGIL_OP_ALL      0x1fff /* those the kill can cover */
#define VIGIL_OP_BPF      0x2000 /* bpf(): denied by a security hook, else only alerted */

/* (policy root, FNV-1a-64 of a path) in exec_allow and write_allow. Exec
 * paths are hashed leaf first as the exec record walks them
 * ("echo\0bin\0usr\0"), written paths as the caller passed them. */
struct vigil_allow_key {
	__u64 root;
	__u64 hash;
};

#define VIGIL_FNV_OFFSET 14695981039346656037ULL
#define VIGIL_FNV_PRIME 1099511628211ULL

/* Path prefixes below which writes need an allow entry, NUL-padded:
 * `protected_paths` holds them as written ("/etc/"), for the syscall
 * entry that sees the path as passed; `protected_leaf` leaf first
 * ("etc\0"), for the hooks that walk the kernel's dentries (write_allow
 * then holds both hashes of each allowed path). */
#define VIGIL_PROTECTED_MAX 16
#define VIGIL_PROTECTED_WORDS 8 /* at most 64 bytes */
struct vigil_protected_prefix {
	__u32 len;
	__u32 _pad;
	__u64 words[VIGIL_PROTECTED_WORDS];
};

/* Allowed destinations as longest-prefix matches over (policy root,
 * protocol, port, address); port 0 means any port. prefixlen counts bits
 * from `root` on: 88 + the address prefix length. */
#define VIGIL_CONNECT_FIXED_BITS 88
struct vigil_connect4_key {
	__u32 prefixlen;
	__u64 root;
	__u8 protocol;
	__u8 port[2];    /* network order */
	__u8 addr[4];
} __attribute__((packed));

struct vigil_connect6_key {
	__u32 prefixlen;
	__u64 root;
	__u8 protocol;
	__u8 port[2];
	__u8 addr[16];
} __attribute__((packed));

/*
 * Enforce mode by name (bpf/dns.bpf.h). `dns_allow`: (policy root, hash
 * of a name) → the ports it may be connected to. A name is hashed FNV-1a
 * over its lower-case bytes from the LAST to the first ("a.example.com"
 * as "moc.elpmaxe.a"), a wildcard "*.example.com" as ".example.com" the
 * same way: walking a name backwards once gives every suffix's hash. The
 * addresses an allowed name's answers carry go to dns4_allowed /
 * dns6_allowed, which the connect hook consults after connect4_allow.
 */
#define VIGIL_DNS_PORTS 4
struct vigil_dns_allow {
	__u8 protocol[VIGIL_DNS_PORTS]; /* IPPROTO_TCP / IPPROTO_UDP; 0: unused slot */
	__u16 port[VIGIL_DNS_PORTS];    /* network order; 0: any port */
};

struct vigil_dns4_key {
	__u64 root;
	__u8 addr[4];
	__u16 port;        /* network order; 0: any port */
	__u8 protocol;
	__u8 _pad;
};

struct vigil_dns6_key {
	__u64 root;
	__u8 addr[16];
	__u16 port;
	__u8 protocol;
	__u8 _pad[5];
};

/*
 * Fairness (fair.bpf.h). What a workload (cgroup) may shed when it is over
 * its share, one counter slot each; every other kind is never shed.
 */
enum vigil_shed_slot {
	VIGIL_SHED_OPEN = 0,
	VIGIL_SHED_CONNECT,
	VIGIL_SHED_ACCEPT,
	VIGIL_SHED_UNLINK,
	VIGIL_SHED_RENAME,
	VIGIL_SHED_CHMOD,
	VIGIL_SHED_SLOTS = 8,
};

/* Per cgroup, kept by the kernel (`cgroup_counts`), cumulative. */
struct vigil_cgroup_counts {
	__u64 shed[VIGIL_SHED_SLOTS]; /* not sent, counted: over its share or the ring's reserve */
	__u64 sampled;                /* sent as samples of what it shed */
	__u64 ringbuf_full;           /* its records that did not fit the ring buffer */
	__u64 inflight_full;          /* its syscall entries that could not be kept for their exit */
};

/*
 * A workload held to a rate (`fair_limits`, by cgroup id), written by the
 * probe: its sheddable events pass at `interval_ns` apart on average with
 * bursts of up to `burst_ns` worth (a GCRA: `tat` is the kernel's,
 * the theoretical arrival time of the next one); past that one in
 * `sample_every` still crosses, flagged VIGIL_SAMPLED, the rest are counted.
 */
struct vigil_fair_limit {
	__u64 interval_ns;
	__u64 burst_ns;
	__u64 tat;
	__u32 sample_every;
	__u32 sample_count;
};

/* Paths whose events are never shed (fair.bpf.h), longest-prefix matched:
 * prefixes ("/etc/") as they are, suffixes ("/shadow") reversed, so the
 * end of a path is matched as the start of its reversed tail. */
#define VIGIL_KEEP_MAX 64
#define VIGIL_KEEP_PREFIX_BYTES 64
#define VIGIL_KEEP_SUFFIX_BYTES 32
struct vigil_keep_prefix_key {
	__u32 prefixlen; /* bits */
	__u8 data[VIGIL_KEEP_PREFIX_BYTES];
};
struct vigil_keep_suffix_key {
	__u32 prefixlen; /* bits */
	__u8 data[VIGIL_KEEP_SUFFIX_BYTES];
};

/* A capture, by the socket's cgroup id. */
struct vigil_capture_conf {
	__u32 capture_id;
	__u32 snaplen;
	__s64 packets_left;
};

/* The in-kernel de-duplication table (dedup.bpf.h): the probe creates its
 * parts, each an array of VIGIL_DEDUP_PART_SLOTS slots of
 * VIGIL_DEDUP_SLOT_BYTES (struct dedup_seen). */
#define VIGIL_DEDUP_PARTS 85
#define VIGIL_DEDUP_PART_SLOTS 768
#define VIGIL_DEDUP_SLOT_BYTES 40

#endif /* VIGIL_MAPS_H */
