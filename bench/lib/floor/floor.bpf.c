// Programs that do nothing, for bench/attach-floor.ts: what each way of
// attaching costs the traced tasks before any work. Each counts only pid 1's
// calls (as the bpftrace floor in overhead.ts does), so it runs and returns.
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

__u64 hits;

static __always_inline int count(void) {
  if ((bpf_get_current_pid_tgid() >> 32) == 1) __sync_fetch_and_add(&hits, 1);
  return 0;
}

/* Attached by the loader to any tracepoint (perf event, one per tracepoint). */
SEC("tp")
int empty_tp(void *ctx) { return count(); }

/* Attached by the loader to any tracepoint by name (raw_tp: no perf event). */
SEC("raw_tp")
int empty_raw(void *ctx) { return count(); }

/* A dispatcher as Falco's modern probe has: one program on sys_enter and one
 * on sys_exit, a tail call by syscall number into the watched calls' programs
 * (an empty slot falls through). */
struct {
  __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
  __uint(max_entries, 512);
  __type(key, __u32);
  __type(value, __u32);
} enter_calls SEC(".maps"), exit_calls SEC(".maps");

SEC("raw_tp")
int dispatch_enter(struct bpf_raw_tracepoint_args *ctx) {
  bpf_tail_call(ctx, &enter_calls, (__u32)ctx->args[1]);
  return 0;
}

SEC("raw_tp")
int dispatch_exit(struct bpf_raw_tracepoint_args *ctx) {
  struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
  bpf_tail_call(ctx, &exit_calls, (__u32)BPF_CORE_READ(regs, orig_ax));
  return 0;
}

SEC("raw_tp")
int handler(void *ctx) { return count(); }
