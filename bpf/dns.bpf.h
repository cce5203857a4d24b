/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DNS answers per workload, seen at the receiving socket: one
 * cgroup_skb/ingress program at the cgroup v2 root looks at every packet
 * delivered to a socket and keeps those from port 53 (UDP, or TCP whose
 * segment starts a message) that are DNS responses. It runs when the
 * kernel hands the packet to the socket, before the workload can read it,
 * so an answer is known before any connect that uses it. Port 53 covers
 * the cluster resolver, a node-local DNS cache (169.254.20.10:53) and a
 * stub on loopback (127.0.0.53:53).
 *
 * Two things are done with it:
 *   1. Enforce mode by name, in the kernel. When the socket's cgroup has
 *      a connect policy, the question name is hashed (every suffix too, in
 *      one backwards walk) and looked up in `dns_allow`; if the name, or a
 *      learned wildcard above it, is allowed, every A and AAAA record of
 *      the answer (CNAME chains included: the resolver puts the whole
 *      chain in one answer) goes into dns4_allowed / dns6_allowed for the
 *      name's ports, before the packet reaches the socket. The answer must
 *      come from a resolver the policy lets the workload reach (port 53 in
 *      its connect allow-list), so a process of the workload cannot allow
 *      itself an address by answering its own query.
 *   2. The message itself (cut at VIGIL_DNS_MAX) goes to user space as a
 *      VIGIL_DNS record in the events ring buffer, in order with the
 *      connect that follows; the engine parses it (names, CNAMEs, TTLs):
 *      untrusted network bytes are parsed by memory-safe code, not by the
 *      privileged probe. At most dns_rate answers per cgroup per second
 *      are sent; the rest are counted (VIGIL_LOSS_DNS) and reported.
 */
#ifndef VIGIL_DNS_BPF_H
#define VIGIL_DNS_BPF_H

#include "common.bpf.h"
#include "maps.h"
#include "enforce.bpf.h"

#ifndef AF_INET
#define AF_INET 2
#define AF_INET6 10
#endif
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define DNS_PORT 53
#define DNS_NAME_MAX 255       /* a name on the wire, length bytes included */
#define DNS_ANSWERS_MAX 32     /* answer records read for the allow-list */
#define DNS_LABELS_MAX 32      /* labels of an owner name skipped before giving up */
#define DNS_TYPE_A 1
#define DNS_TYPE_AAAA 28

/* An allowed name's address stays allowed at least this long, whatever
 * the TTL: programs cache answers longer than they should (the JVM, Go's
 * and glibc's callers), and a refused connect to a still-used address is
 * worse than an address kept an hour. Cilium's tofqdns-min-ttl is 3600 too. */
const volatile __u64 dns_min_ttl_s = 3600;
/* DNS records sent per cgroup and second; more are counted, not sent. */
const volatile __u32 dns_rate = 1000;

struct dns_budget {
	__u64 second;
	__u32 sent;
	__u32 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct dns_budget);
} dns_budget SEC(".maps");

struct dns_scratch {
	struct vigil_dns rec;
	char name[DNS_NAME_MAX + 1];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct dns_scratch);
} dns_scratch SEC(".maps");

/* The question name, wire form to dotted lower case: every length byte
 * becomes '.', so name = ".a.example.com" and len its length. */
struct qname_walk {
	struct __sk_buff *skb;
	char *name;
	__u32 off;
	__u32 next;
	__u32 len;
	__u32 bad;
};

static long qname_step(__u64 i, struct qname_walk *w)
{
	__u8 c = 0;
	if (i >= DNS_NAME_MAX || bpf_skb_load_bytes(w->skb, w->off + i, &c, 1)) {
		w->bad = 1;
		return 1;
	}
	__u32 idx = i & DNS_NAME_MAX;
	if (i == w->next) {
		if (c == 0) {
			w->len = i;
			return 1;
		}
		if (c & 0xc0) { /* no compression in a question */
			w->bad = 1;
			return 1;
		}
		w->next = i + 1 + c;
		w->name[idx] = '.';
		return 0;
	}
	if (c >= 'A' && c <= 'Z')
		c += 'a' - 'A';
	w->name[idx] = c;
	return 0;
}

/* Backwards over the name: the hash of each suffix that starts at a dot
 * is a wildcard's key, the whole name's the exact key (maps.h). */
struct name_lookup {
	const char *name;
	__u32 len;
	__u32 found;
	__u64 root;
	__u64 h;
	struct vigil_dns_allow allow;
};

static long name_step(__u64 i, struct name_lookup *s)
{
	if (i >= DNS_NAME_MAX || i + 1 >= s->len)
		return 1; /* index 0 is the first label's length byte */
	__u32 j = (s->len - 1 - i) & DNS_NAME_MAX;
	char c = s->name[j];
	s->h = (s->h ^ (__u8)c) * VIGIL_FNV_PRIME;
	if (c == '.') {
		struct vigil_allow_key k = { .root = s->root, .hash = s->h };
		struct vigil_dns_allow *a = bpf_map_lookup_elem(&dns_allow, &k);
		if (a) {
			s->allow = *a;
			s->found = 1;
			return 1;
		}
	}
	return 0;
}

struct answer_walk {
	struct __sk_buff *skb;
	__u64 root;
	__u64 now;
	__u64 expiry;   /* of the record being read */
	__u32 off;
	__u32 count;
	__u32 added;
	__u32 _pad;
	struct vigil_dns_allow allow;
};

static __always_inline void allow4(struct answer_walk *w, const __u8 *addr)
{
	for (int s = 0; s < VIGIL_DNS_PORTS; s++) {
		if (!w->allow.protocol[s])
			continue;
		struct vigil_dns4_key k = { .root = w->root, .port = w->allow.port[s], .protocol = w->allow.protocol[s] };
		__builtin_memcpy(k.addr, addr, 4);
		bpf_map_update_elem(&dns4_allowed, &k, &w->expiry, BPF_ANY);
	}
}

static __always_inline void allow6(struct answer_walk *w, const __u8 *addr)
{
	for (int s = 0; s < VIGIL_DNS_PORTS; s++) {
		if (!w->allow.protocol[s])
			continue;
		struct vigil_dns6_key k = { .root = w->root, .port = w->allow.port[s], .protocol = w->allow.protocol[s] };
		__builtin_memcpy(k.addr, addr, 16);
		bpf_map_update_elem(&dns6_allowed, &k, &w->expiry, BPF_ANY);
	}
}

struct dns_rr {
	__u16 type;
	__u16 class;
	__u32 ttl;
	__u16 rdlen;
} __attribute__((packed));

static long answer_step(__u64 i, struct answer_walk *w)
{
	if (i >= w->count)
		return 1;
	__u32 off = w->off;
	bool named = false;
	/* The owner name: labels, ended by a zero or a compression pointer. */
	for (int k = 0; k < DNS_LABELS_MAX; k++) {
		__u8 c = 0;
		if (bpf_skb_load_bytes(w->skb, off, &c, 1))
			return 1;
		if (c == 0) {
			off += 1;
			named = true;
			break;
		}
		if ((c & 0xc0) == 0xc0) {
			off += 2;
			named = true;
			break;
		}
		if (c & 0xc0)
			return 1;
		off += 1 + c;
	}
	if (!named)
		return 1;
	struct dns_rr rr = {};
	if (bpf_skb_load_bytes(w->skb, off, &rr, sizeof(rr)))
		return 1;
	off += sizeof(rr);
	__u16 type = bpf_ntohs(rr.type), rdlen = bpf_ntohs(rr.rdlen);
	__u64 ttl = bpf_ntohl(rr.ttl);
	w->expiry = w->now + (ttl > dns_min_ttl_s ? ttl : dns_min_ttl_s) * 1000000000ULL;
	if (bpf_ntohs(rr.class) == 1) {
		__u8 addr[16] = {};
		if (type == DNS_TYPE_A && rdlen == 4) {
			if (bpf_skb_load_bytes(w->skb, off, addr, 4))
				return 1;
			allow4(w, addr);
			w->added++;
		} else if (type == DNS_TYPE_AAAA && rdlen == 16) {
			if (bpf_skb_load_bytes(w->skb, off, addr, 16))
				return 1;
			allow6(w, addr);
			w->added++;
		}
	}
	w->off = off + rdlen;
	return 0;
}

/* Whether the policy lets the workload reach this resolver on port 53. */
static __always_inline bool resolver_allowed(__u64 root, __u8 family, const __u8 *addr, __u8 protocol)
{
	__u16 port = bpf_htons(DNS_PORT);
	if (family == AF_INET) {
		struct vigil_connect4_key k = { .prefixlen = VIGIL_CONNECT_FIXED_BITS + 32, .root = root, .protocol = protocol };
		__builtin_memcpy(k.port, &port, 2);
		__builtin_memcpy(k.addr, addr, 4);
		if (bpf_map_lookup_elem(&connect4_allow, &k))
			return true;
		k.port[0] = k.port[1] = 0;
		return bpf_map_lookup_elem(&connect4_allow, &k) != NULL;
	}
	struct vigil_connect6_key k = { .prefixlen = VIGIL_CONNECT_FIXED_BITS + 128, .root = root, .protocol = protocol };
	__builtin_memcpy(k.port, &port, 2);
	__builtin_memcpy(k.addr, addr, 16);
	if (bpf_map_lookup_elem(&connect6_allow, &k))
		return true;
	k.port[0] = k.port[1] = 0;
	return bpf_map_lookup_elem(&connect6_allow, &k) != NULL;
}

/* Enforce mode: the answer's addresses into the allow-list when its
 * question names an allowed name. Returns how many went in. */
static __always_inline __u32 allow_answers(struct __sk_buff *skb, struct dns_scratch *s, __u64 root, __u32 dns_off, __u32 ancount, __u64 now)
{
	struct qname_walk q = { .skb = skb, .name = s->name, .off = dns_off + 12 };
	bpf_loop(DNS_NAME_MAX, qname_step, &q, 0);
	if (q.bad || q.len < 2)
		return 0;
	struct name_lookup n = { .name = s->name, .len = q.len, .root = root, .h = VIGIL_FNV_OFFSET };
	bpf_loop(DNS_NAME_MAX, name_step, &n, 0);
	if (!n.found) {
		struct vigil_allow_key k = { .root = root, .hash = n.h };
		struct vigil_dns_allow *a = bpf_map_lookup_elem(&dns_allow, &k);
		if (!a)
			return 0;
		n.allow = *a;
	}
	/* Each address is kept until max(its TTL, dns_min_ttl_s). */
	struct answer_walk w = {
		.skb = skb, .root = root, .now = now, .off = dns_off + 12 + q.len + 1 + 4, .count = ancount, .allow = n.allow,
	};
	bpf_loop(DNS_ANSWERS_MAX, answer_step, &w, 0);
	return w.added;
}

/* Whether this cgroup may send another DNS record this second. */
static __always_inline bool dns_budget_take(__u64 cg, __u64 now)
{
	__u64 second = now / 1000000000ULL;
	struct dns_budget *b = bpf_map_lookup_elem(&dns_budget, &cg);
	if (!b) {
		struct dns_budget nb = { .second = second, .sent = 1 };
		bpf_map_update_elem(&dns_budget, &cg, &nb, BPF_ANY);
		return true;
	}
	if (b->second != second) {
		b->second = second;
		b->sent = 1;
		return true;
	}
	if (b->sent >= dns_rate)
		return false;
	__sync_fetch_and_add(&b->sent, 1);
	return true;
}

SEC("cgroup_skb/ingress")
int dns_ingress(struct __sk_buff *skb)
{
	__u8 family, protocol;
	__u32 l4;
	__u8 server[16] = {};

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		__u8 ip[20];
		if (bpf_skb_load_bytes(skb, 0, ip, sizeof(ip)))
			return 1;
		family = AF_INET;
		protocol = ip[9];
		l4 = (ip[0] & 0xf) * 4;
		__builtin_memcpy(server, ip + 12, 4);
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		__u8 ip6[40];
		if (bpf_skb_load_bytes(skb, 0, ip6, sizeof(ip6)))
			return 1;
		family = AF_INET6;
		protocol = ip6[6]; /* an extension header in between: not looked at */
		l4 = 40;
		__builtin_memcpy(server, ip6 + 8, 16);
	} else {
		return 1;
	}
	__u32 dns_off, dns_len;
	__u32 len = skb->len;
	if (protocol == IPPROTO_UDP) {
		__u8 udp[8];
		if (bpf_skb_load_bytes(skb, l4, udp, sizeof(udp)) || udp[0] != 0 || udp[1] != DNS_PORT)
			return 1;
		dns_off = l4 + 8;
		if (len < dns_off + 12)
			return 1;
		dns_len = len - dns_off;
	} else if (protocol == IPPROTO_TCP) {
		__u8 tcp[20];
		if (bpf_skb_load_bytes(skb, l4, tcp, sizeof(tcp)) || tcp[0] != 0 || tcp[1] != DNS_PORT)
			return 1;
		/* The message follows its two-byte length; one that spans
		 * segments is read as far as this one goes. */
		__u32 at = l4 + (tcp[12] >> 4) * 4;
		__u8 prefix[2];
		if (len < at + 2 + 12 || bpf_skb_load_bytes(skb, at, prefix, 2))
			return 1;
		dns_off = at + 2;
		dns_len = len - dns_off;
		__u32 want = (__u32)prefix[0] << 8 | prefix[1];
		if (want < dns_len)
			dns_len = want;
	} else {
		return 1;
	}
	__u8 hdr[12];
	if (bpf_skb_load_bytes(skb, dns_off, hdr, sizeof(hdr)))
		return 1;
	if (!(hdr[2] & 0x80) || (hdr[2] & 0x78)) /* a response (QR) to a standard query (opcode 0) */
		return 1;
	__u32 qdcount = (__u32)hdr[4] << 8 | hdr[5];
	__u32 ancount = (__u32)hdr[6] << 8 | hdr[7];
	if (qdcount != 1)
		return 1;

	__u64 cg = bpf_skb_cgroup_id(skb);
	__u64 now = bpf_ktime_get_ns();
	__u32 zero = 0;
	struct dns_scratch *s = bpf_map_lookup_elem(&dns_scratch, &zero);
	if (!s)
		return 1;
	__u32 added = 0;
	struct policy_hit p;
	if (ancount && skb_policy(skb, cg, &p) && (p.flags & VIGIL_ENFORCE_CONNECT) &&
	    resolver_allowed(p.root, family, server, protocol))
		added = allow_answers(skb, s, p.root, dns_off, ancount, now);

	if (!dns_budget_take(cg, now)) {
		count_loss(VIGIL_LOSS_DNS);
		return 1;
	}
	struct vigil_dns *r = &s->rec;
	__builtin_memset(&r->h, 0, sizeof(r->h));
	r->h.ktime_ns = now;
	r->h.cgroup_id = cg;
	r->h.kind = VIGIL_DNS;
	r->len = dns_len;
	r->server_port = DNS_PORT;
	r->family = family;
	r->protocol = protocol;
	r->allowed = added;
	r->_pad = 0;
	__builtin_memcpy(r->server, server, 16);
	/* 1..VIGIL_DNS_MAX in the form 6.1's verifier follows (see capture()). */
	__u64 caplen = dns_len < VIGIL_DNS_MAX ? dns_len : VIGIL_DNS_MAX;
	caplen -= 1;
	asm volatile("" : "+r"(caplen));
	if (caplen >= VIGIL_DNS_MAX)
		return 1;
	caplen += 1;
	r->caplen = caplen;
	if (bpf_skb_load_bytes(skb, dns_off, r->msg, caplen))
		return 1;
	submit(r, offsetof(struct vigil_dns, msg) + caplen);
	return 1; /* never changes the packet's fate */
}

#endif
