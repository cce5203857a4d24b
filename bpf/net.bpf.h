/* SPDX-License-Identifier: Apache-2.0 */
/* Network activity: connect, accept, bind, listen; raw and packet
 * sockets made; datagrams sent to new peers; sockets dup'ed onto stdio. Addresses come from the
 * caller's sockaddr (connect, bind) or from the socket itself once the
 * kernel has filled it in (accept's peer, listen's local port). */
#ifndef VIGIL_NET_BPF_H
#define VIGIL_NET_BPF_H

#include "path.bpf.h"
#include "enforce.bpf.h"
#include "dedup.bpf.h"
#include "fair.bpf.h"

#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10

static __always_inline struct sock *sock_from_fd(int fd)
{
	struct file *f = file_from_fd(fd);
	if (!f)
		return NULL;
	umode_t mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & S_IFMT) != S_IFSOCK)
		return NULL;
	struct socket *s = BPF_CORE_READ(f, private_data);
	return BPF_CORE_READ(s, sk);
}

static __always_inline __u32 sock_protocol(struct sock *sk)
{
	return sk ? BPF_CORE_READ(sk, sk_protocol) : 0;
}

/* A sockaddr from user memory, as connect() and bind() receive it. */
static __always_inline void read_user_sockaddr(struct vigil_sockaddr *a, const void *uaddr, int len)
{
	__u16 family = 0;

	bpf_probe_read_user(&family, sizeof(family), uaddr);
	a->family = family;
	if (family == AF_INET) {
		struct sockaddr_in in = {};
		bpf_probe_read_user(&in, sizeof(in), uaddr);
		a->port = bpf_ntohs(in.sin_port);
		__builtin_memcpy(a->addr, &in.sin_addr.s_addr, 4);
	} else if (family == AF_INET6) {
		struct sockaddr_in6 in6 = {};
		bpf_probe_read_user(&in6, sizeof(in6), uaddr);
		a->port = bpf_ntohs(in6.sin6_port);
		__builtin_memcpy(a->addr, &in6.sin6_addr, 16);
	} else if (family == AF_UNIX) {
		bpf_probe_read_user_str(a->unix_path, sizeof(a->unix_path),
					(const char *)uaddr + sizeof(__u16));
	}
}

/* Both ends of a connected or listening socket, from the kernel's view. */
static __always_inline void read_sock_ends(struct sock *sk, struct vigil_sockaddr *local, struct vigil_sockaddr *remote)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	local->family = remote->family = family;
	local->port = BPF_CORE_READ(sk, __sk_common.skc_num);
	remote->port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == AF_INET) {
		__u32 l = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__u32 r = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__builtin_memcpy(local->addr, &l, 4);
		__builtin_memcpy(remote->addr, &r, 4);
	} else if (family == AF_INET6) {
		BPF_CORE_READ_INTO(&local->addr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&remote->addr, sk, __sk_common.skc_v6_daddr);
	}
}

static __always_inline void net_fill(union vigil_inflight *rec, __u32 kind, int fd, const void *uaddr, int len, int backlog)
{
	__builtin_memset(&rec->net.remote, 0, sizeof(rec->net.remote));
	__builtin_memset(&rec->net.local, 0, sizeof(rec->net.local));
	rec->net.fd = fd;
	rec->net.backlog = backlog;
	rec->net.protocol = sock_protocol(sock_from_fd(fd));
	if (kind == VIGIL_CONNECT)
		read_user_sockaddr(&rec->net.remote, uaddr, len);
	else if (kind == VIGIL_BIND)
		read_user_sockaddr(&rec->net.local, uaddr, len);
}

static __always_inline int net_enter(__u32 kind, int fd, const void *uaddr, int len, int backlog)
{
	if (is_excluded())
		return 0;
	struct vigil_thread *t = thread_space();
	if (!t)
		return 0;
	union vigil_inflight *rec = &t->rec;
	if (kind == VIGIL_CONNECT) {
		/* A refusal no connect syscall carried (io_uring) must not mark this one. */
		__u32 tid = (__u32)bpf_get_current_pid_tgid();
		bpf_map_delete_elem(&refused, &tid);
	}
	net_fill(rec, kind, fd, uaddr, len, backlog);
	__u64 dedup_key = 0;
	if (kind == VIGIL_CONNECT && dedup_on(VIGIL_ENFORCE_CONNECT)) {
		dedup_key = connect_dedup_hash(&rec->net.remote, rec->net.protocol);
		struct vigil_repeat args = { .uptr = (__u64)uaddr, .fd = fd, .mode = len };
		if (dedup_repeat(t, VIGIL_CONNECT, dedup_key, &args))
			return 0;
	}
	__u32 fair_flags = 0;
	if ((kind == VIGIL_CONNECT || kind == VIGIL_ACCEPT) &&
	    fair_net(&rec->net.remote, kind == VIGIL_ACCEPT ? VIGIL_SHED_ACCEPT : VIGIL_SHED_CONNECT, &fair_flags) == VIGIL_FAIR_SHED)
		return 0;
	fill_header(&rec->h, kind);
	rec->h.flags = fair_flags;
	rec->net.result = dedup_key;
	park(rec);
	return 0;
}

SEC("tp/syscalls/sys_enter_connect")
int enter_connect(struct trace_event_raw_sys_enter *ctx)
{
	return net_enter(VIGIL_CONNECT, ctx->args[0], (const void *)ctx->args[1], ctx->args[2], 0);
}

SEC("tp/syscalls/sys_exit_connect")
int exit_connect(struct trace_event_raw_sys_exit *ctx)
{
	struct vigil_thread *t = thread_state();
	struct vigil_repeat *r = dedup_armed(t, VIGIL_CONNECT);
	if (r) {
		if (dedup_confirm(r, ctx->ret, 0))
			return 0;
		/* Ended differently: built now from the arguments saved at entry. */
		union vigil_inflight *rec = &t->rec;
		fill_header(&rec->h, VIGIL_CONNECT);
		net_fill(rec, VIGIL_CONNECT, r->fd, (const void *)r->uptr, r->mode, 0);
		rec->net.result = ctx->ret;
		submit_parked(rec, sizeof(struct vigil_net));
		drop_parked(rec);
		dedup_remember(VIGIL_CONNECT, r->hash, ctx->ret, 0);
		return 0;
	}
	union vigil_inflight *rec = unpark_from(t);
	if (rec && rec->h.kind == VIGIL_CONNECT)
		mark_if_refused(&rec->h);
	__u64 sent = send_parked_record(rec, ctx->ret, VIGIL_CONNECT);
	if (sent)
		dedup_remember(VIGIL_CONNECT, sent, ctx->ret, 0);
	return 0;
}

SEC("tp/syscalls/sys_enter_bind")
int enter_bind(struct trace_event_raw_sys_enter *ctx)
{
	return net_enter(VIGIL_BIND, ctx->args[0], (const void *)ctx->args[1], ctx->args[2], 0);
}

SEC("tp/syscalls/sys_exit_bind")
int exit_bind(struct trace_event_raw_sys_exit *ctx) { return finish_parked(ctx->ret, VIGIL_BIND); }

SEC("tp/syscalls/sys_enter_listen")
int enter_listen(struct trace_event_raw_sys_enter *ctx)
{
	return net_enter(VIGIL_LISTEN, ctx->args[0], NULL, 0, ctx->args[1]);
}

SEC("tp/syscalls/sys_enter_accept")
int enter_accept(struct trace_event_raw_sys_enter *ctx)
{
	return net_enter(VIGIL_ACCEPT, ctx->args[0], NULL, 0, 0);
}

SEC("tp/syscalls/sys_enter_accept4")
int enter_accept4(struct trace_event_raw_sys_enter *ctx)
{
	return net_enter(VIGIL_ACCEPT, ctx->args[0], NULL, 0, 0);
}

/* listen and accept learn their addresses only once the call is done. */
static __always_inline int net_exit_from_sock(long ret, __u32 kind)
{
	union vigil_inflight *rec = unpark();
	if (!rec)
		return 0;
	if (rec->h.kind != kind) {
		drop_parked(rec);
		return 0;
	}
	rec->net.result = ret;
	if (ret >= 0) {
		/* accept: the new socket; listen: the listening one. */
		struct sock *sk = sock_from_fd(kind == VIGIL_ACCEPT ? (int)ret : rec->net.fd);
		if (sk) {
			read_sock_ends(sk, &rec->net.local, &rec->net.remote);
			rec->net.protocol = sock_protocol(sk);
		}
	}
	submit_parked(rec, sizeof(struct vigil_net));
	drop_parked(rec);
	return 0;
}

/* Only an IP socket duplicated onto stdin/stdout/stderr is reported:
 * that is how a shell gets wired to a network peer (a reverse shell).
 * Unix sockets on stdio are everyday plumbing (libuv, systemd) and every
 * other dup stays out of the ring buffer too. dup and fcntl(F_DUPFD)
 * choose the new descriptor themselves: their record is parked when the
 * old one is such a socket and sent only if the result is 0, 1 or 2. */
static __always_inline int dup_enter(int oldfd, int newfd, __u32 call)
{
	if (newfd > 2 || is_excluded())
		return 0;
	if (newfd < 0 && call != VIGIL_DUP_CALL_DUP && call != VIGIL_DUP_CALL_FCNTL)
		return 0;
	struct sock *sk = sock_from_fd(oldfd);
	if (!sk)
		return 0;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return 0;
	union vigil_inflight *rec = scratch_record(VIGIL_DUP);
	if (!rec)
		return 0;
	__builtin_memset(&rec->dup.remote, 0, sizeof(rec->dup.remote));
	__builtin_memset(&rec->dup.local, 0, sizeof(rec->dup.local));
	rec->dup.oldfd = oldfd;
	rec->dup.newfd = newfd;
	rec->dup.call = call;
	rec->dup.protocol = sock_protocol(sk);
	read_sock_ends(sk, &rec->dup.local, &rec->dup.remote);
	park(rec);
	return 0;
}

/* dup, fcntl: sent only when the descriptor chosen is stdin, stdout or stderr. */
static __always_inline int dup_exit_chosen(long ret)
{
	union vigil_inflight *rec = unpark();
	if (!rec)
		return 0;
	if (rec->h.kind != VIGIL_DUP || ret < 0 || ret > 2) {
		drop_parked(rec);
		return 0;
	}
	rec->dup.newfd = ret;
	return finish_parked(ret, VIGIL_DUP);
}

#define F_DUPFD 0
#define F_DUPFD_CLOEXEC 1030

SEC("tp/syscalls/sys_enter_dup2")
int enter_dup2(struct trace_event_raw_sys_enter *ctx) { return dup_enter(ctx->args[0], ctx->args[1], VIGIL_DUP_CALL_DUP2); }
SEC("tp/syscalls/sys_exit_dup2")
int exit_dup2(struct trace_event_raw_sys_exit *ctx) { return finish_parked(ctx->ret, VIGIL_DUP); }
SEC("tp/syscalls/sys_enter_dup3")
int enter_dup3(struct trace_event_raw_sys_enter *ctx) { return dup_enter(ctx->args[0], ctx->args[1], VIGIL_DUP_CALL_DUP3); }
SEC("tp/syscalls/sys_exit_dup3")
int exit_dup3(struct trace_event_raw_sys_exit *ctx) { return finish_parked(ctx->ret, VIGIL_DUP); }
SEC("tp/syscalls/sys_enter_dup")
int enter_dup(struct trace_event_raw_sys_enter *ctx) { return dup_enter(ctx->args[0], -1, VIGIL_DUP_CALL_DUP); }
SEC("tp/syscalls/sys_exit_dup")
int exit_dup(struct trace_event_raw_sys_exit *ctx) { return dup_exit_chosen(ctx->ret); }

SEC("tp/syscalls/sys_enter_fcntl")
int enter_fcntl(struct trace_event_raw_sys_enter *ctx)
{
	__u64 cmd = ctx->args[1];
	/* The new descriptor is the lowest free one >= arg. */
	if ((cmd != F_DUPFD && cmd != F_DUPFD_CLOEXEC) || ctx->args[2] > 2)
		return 0;
	return dup_enter(ctx->args[0], -1, VIGIL_DUP_CALL_FCNTL);
}
SEC("tp/syscalls/sys_exit_fcntl")
int exit_fcntl(struct trace_event_raw_sys_exit *ctx) { return dup_exit_chosen(ctx->ret); }

/* --- sockets made: only raw and packet ones, which read or forge
 * traffic below the transport layer (sniffers, spoofers, ARP tools) --- */

#define AF_PACKET 17
#define SOCK_TYPE_MASK 0xf
#define SOCK_DGRAM 2
#define SOCK_RAW 3

SEC("tp/syscalls/sys_enter_socket")
int enter_socket(struct trace_event_raw_sys_enter *ctx)
{
	__u32 family = ctx->args[0], type = ctx->args[1];
	if (family != AF_PACKET && (type & SOCK_TYPE_MASK) != SOCK_RAW)
		return 0;
	if (is_excluded())
		return 0;
	union vigil_inflight *rec = scratch_record(VIGIL_SOCKET);
	if (!rec)
		return 0;
	rec->call.a = family;
	rec->call.b = type;
	rec->call.c = ctx->args[2];
	rec->call._pad = 0;
	rec->call.name[0] = 0;
	park(rec);
	return 0;
}

SEC("tp/syscalls/sys_exit_socket")
int exit_socket(struct trace_event_raw_sys_exit *ctx) { return finish_parked(ctx->ret, VIGIL_SOCKET); }

/* --- datagrams to an explicit address: a connectionless socket's way of
 * reaching a peer without connect(). The first send to each peer per
 * process image within the window is reported; the rest are counted as
 * de-duplicated (a DNS client or a UDP flood stays one event per peer). --- */

#define VIGIL_SEND_WINDOW_NS 10000000000ULL /* when de-duplication is off */

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u64);
} send_peers SEC(".maps");

static __always_inline int send_enter(__u32 call, int fd, const void *uaddr, int len)
{
	if (!uaddr || is_excluded())
		return 0;
	struct sock *sk = sock_from_fd(fd);
	if (!sk)
		return 0;
	__u16 type = BPF_CORE_READ(sk, sk_type);
	if (type != SOCK_DGRAM && type != SOCK_RAW)
		return 0;
	union vigil_inflight *rec = scratch_space();
	if (!rec)
		return 0;
	__builtin_memset(&rec->net.remote, 0, sizeof(rec->net.remote));
	__builtin_memset(&rec->net.local, 0, sizeof(rec->net.local));
	read_user_sockaddr(&rec->net.remote, uaddr, len);
	if (rec->net.remote.family != AF_INET && rec->net.remote.family != AF_INET6)
		return 0;
	rec->net.protocol = sock_protocol(sk);
	__u64 key = connect_dedup_hash(&rec->net.remote, rec->net.protocol);
	__u64 now = dedup_now();
	__u64 window = dedup_window_ns ? dedup_window_ns : VIGIL_SEND_WINDOW_NS;
	__u64 *seen = bpf_map_lookup_elem(&send_peers, &key);
	if (seen && now - *seen < window) {
		count_loss(VIGIL_DEDUPLICATED);
		return 0;
	}
	bpf_map_update_elem(&send_peers, &key, &now, BPF_ANY);
	fill_header(&rec->h, VIGIL_SEND);
	rec->net.result = 0;
	rec->net.fd = fd;
	rec->net.backlog = call;
	park(rec);
	return 0;
}

SEC("tp/syscalls/sys_enter_sendto")
int enter_sendto(struct trace_event_raw_sys_enter *ctx)
{
	return send_enter(VIGIL_SEND_CALL_SENDTO, ctx->args[0], (const void *)ctx->args[4], ctx->args[5]);
}

SEC("tp/syscalls/sys_enter_sendmsg")
int enter_sendmsg(struct trace_event_raw_sys_enter *ctx)
{
	struct user_msghdr m = {};
	if (bpf_probe_read_user(&m, sizeof(m), (void *)ctx->args[1]))
		return 0;
	return send_enter(VIGIL_SEND_CALL_SENDMSG, ctx->args[0], m.msg_name, m.msg_namelen);
}

SEC("tp/syscalls/sys_exit_sendto")
int exit_sendto(struct trace_event_raw_sys_exit *ctx) { return finish_parked(ctx->ret, VIGIL_SEND); }
SEC("tp/syscalls/sys_exit_sendmsg")
int exit_sendmsg(struct trace_event_raw_sys_exit *ctx) { return finish_parked(ctx->ret, VIGIL_SEND); }

SEC("tp/syscalls/sys_exit_listen")
int exit_listen(struct trace_event_raw_sys_exit *ctx) { return net_exit_from_sock(ctx->ret, VIGIL_LISTEN); }
SEC("tp/syscalls/sys_exit_accept")
int exit_accept(struct trace_event_raw_sys_exit *ctx) { return net_exit_from_sock(ctx->ret, VIGIL_ACCEPT); }
SEC("tp/syscalls/sys_exit_accept4")
int exit_accept4(struct trace_event_raw_sys_exit *ctx) { return net_exit_from_sock(ctx->ret, VIGIL_ACCEPT); }

#endif
