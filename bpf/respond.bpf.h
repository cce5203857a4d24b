/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Responses the engine commands for a workload's cgroups; the probe
 * attaches these cgroup_skb programs to the workload's cgroups on demand,
 * so a node pays nothing for them until then.
 *   quarantine  drop every packet in and out while the processes keep
 *               running (for forensics)
 *   capture     copy packets (bounded snap length and count) to user
 *               space through their own ring buffer
 * When both are attached, the capture still sees the dropped packets.
 */
#ifndef VIGIL_RESPOND_BPF_H
#define VIGIL_RESPOND_BPF_H

#include "common.bpf.h"
#include "maps.h"

/* Packets dropped by quarantine, by the socket's cgroup. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u64);
} quarantine_drops SEC(".maps");

static __always_inline int quarantine(struct __sk_buff *skb)
{
	__u64 cg = bpf_skb_cgroup_id(skb);
	__u64 *n = bpf_map_lookup_elem(&quarantine_drops, &cg);
	if (n) {
		__sync_fetch_and_add(n, 1);
	} else {
		__u64 one = 1;
		bpf_map_update_elem(&quarantine_drops, &cg, &one, BPF_NOEXIST);
	}
	return 0; /* drop */
}

SEC("cgroup_skb/ingress")
int quarantine_ingress(struct __sk_buff *skb) { return quarantine(skb); }

SEC("cgroup_skb/egress")
int quarantine_egress(struct __sk_buff *skb) { return quarantine(skb); }

/* The socket's cgroup → the capture it belongs to. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct vigil_capture_conf);
} captures SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20); /* ~680 full-size packets; drained every millisecond or so while capturing */
} packets SEC(".maps");

struct packet_record {
	struct vigil_packet p;
	__u8 data[VIGIL_SNAP_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct packet_record);
} packet_scratch SEC(".maps");

static __always_inline int capture(struct __sk_buff *skb, __u8 egress)
{
	__u64 cg = bpf_skb_cgroup_id(skb);
	struct vigil_capture_conf *c = bpf_map_lookup_elem(&captures, &cg);
	if (!c)
		return 1;
	if (__sync_fetch_and_add(&c->packets_left, -1) <= 0)
		return 1;
	__u32 zero = 0;
	struct packet_record *r = bpf_map_lookup_elem(&packet_scratch, &zero);
	if (!r)
		return 1;
	__u32 len = skb->len;
	/* 1..VIGIL_SNAP_MAX in a form 6.1's verifier can follow: clang turns
	 * `caplen < 1` into `caplen == 0`, and that verifier learns no lower
	 * bound from the not-equal branch ("R3 min value is outside of the
	 * allowed memory range"). One unsigned range check on caplen - 1 it
	 * does follow; the barrier keeps clang from folding it back. */
	__u64 caplen = (len < c->snaplen ? len : c->snaplen);
	caplen -= 1;
	asm volatile("" : "+r"(caplen));
	if (caplen >= VIGIL_SNAP_MAX)
		return 1;
	caplen += 1;
	r->p.ktime_ns = bpf_ktime_get_ns();
	r->p.cgroup_id = cg;
	r->p.capture_id = c->capture_id;
	r->p.len = len;
	r->p.caplen = caplen;
	r->p.egress = egress;
	if (bpf_skb_load_bytes(skb, 0, r->data, caplen))
		return 1;
	if (bpf_ringbuf_output(&packets, r, sizeof(r->p) + caplen, 0))
		count_loss(VIGIL_LOSS_PACKETS);
	return 1; /* capture never changes the verdict */
}

SEC("cgroup_skb/ingress")
int capture_ingress(struct __sk_buff *skb) { return capture(skb, 0); }

SEC("cgroup_skb/egress")
int capture_egress(struct __sk_buff *skb) { return capture(skb, 1); }

#endif
