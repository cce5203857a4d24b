// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Vigil's kernel programs, one header per concern:
 *   process.bpf.h  exec, fork, exit
 *   file.bpf.h     open, unlink, rename, chmod, mkdir, symlink, link
 *   net.bpf.h      connect, accept, bind, listen, raw/packet socket, sendto/sendmsg to new peers, dup onto stdio
 *   priv.bpf.h     set*id, ptrace, module load, mount, setns/unshare, bpf, userfaultfd
 *   uring.bpf.h    io_uring: rings set up, opens and connects submitted, other opcodes once
 *   enforce.bpf.h  policy maps; kill at exec, refuse connects, kill writers at syscall entry
 *   deny.bpf.h     deny before anything changes: BPF LSM hooks, or fmod_ret on security_*
 *   fair.bpf.h     a workload over its share sampled and counted, never what security needs
 *   respond.bpf.h  quarantine and packet capture (cgroup_skb, attached on demand)
 *   snapshot.bpf.h the cgroup of each process older than the probe (task iterator)
 * Shared maps and the event header are in common.bpf.h, dentry walking in
 * path.bpf.h, and the record layouts in events.h. One object, one skeleton,
 * one ring buffer.
 */
#include "process.bpf.h"
#include "file.bpf.h"
#include "net.bpf.h"
#include "priv.bpf.h"
#include "uring.bpf.h"
#include "deny.bpf.h"
#include "respond.bpf.h"
#include "dns.bpf.h"
#include "snapshot.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";
