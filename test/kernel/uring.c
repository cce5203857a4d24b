// One io_uring operation for the kernel tests, without liburing:
//   uring open PATH    IORING_OP_OPENAT, O_WRONLY|O_TRUNC
//   uring read PATH    IORING_OP_OPENAT, O_RDONLY (the file is then read)
//   uring connect PORT IORING_OP_CONNECT to 127.0.0.1:PORT
//   uring nop X        IORING_OP_NOP
// With --sqpoll first, the ring is set up with IORING_SETUP_SQPOLL: the
// kernel's own thread submits, and the process makes no io_uring_enter
// for it beyond waiting.
// Prints "ok", the errno's name of the completion's result, or
// "unsupported: <why>" when this kernel has no io_uring for us.
// Syscall-entry tracepoints never see these: the work is done by io_uring.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *name(int e) {
  switch (e) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ECONNREFUSED: return "ECONNREFUSED";
    case ENOENT: return "ENOENT";
    default: return strerror(e);
  }
}

int main(int argc, char **argv) {
  int sqpoll = argc > 1 && !strcmp(argv[1], "--sqpoll");
  if (sqpoll) { argv++; argc--; }
  if (argc != 3) return 2;
  struct io_uring_params p;
  memset(&p, 0, sizeof p);
  if (sqpoll) { p.flags = IORING_SETUP_SQPOLL; p.sq_thread_idle = 1000; }
  int fd = syscall(__NR_io_uring_setup, 4, &p);
  if (fd < 0) { printf("unsupported: io_uring_setup: %s\n", strerror(errno)); return 0; }
  size_t sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  size_t cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
  char *sq = mmap(0, sq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
  char *cq = mmap(0, cq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
  struct io_uring_sqe *sqes = mmap(0, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
                                   MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
  if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED) { printf("unsupported: mmap: %s\n", strerror(errno)); return 0; }
  struct io_uring_sqe *sqe = &sqes[0];
  memset(sqe, 0, sizeof *sqe);
  struct sockaddr_in sin;
  int sock = -1;
  if (!strcmp(argv[1], "open") || !strcmp(argv[1], "read")) {
    sqe->opcode = IORING_OP_OPENAT;
    sqe->fd = AT_FDCWD;
    sqe->addr = (unsigned long)argv[2];
    sqe->open_flags = !strcmp(argv[1], "open") ? O_WRONLY | O_TRUNC : O_RDONLY;
  } else if (!strcmp(argv[1], "nop")) {
    sqe->opcode = IORING_OP_NOP;
  } else if (!strcmp(argv[1], "connect")) {
    sock = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons(atoi(argv[2]));
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sqe->opcode = IORING_OP_CONNECT;
    sqe->fd = sock;
    sqe->addr = (unsigned long)&sin;
    sqe->off = sizeof sin;
  } else {
    return 2;
  }
  unsigned *tail = (unsigned *)(sq + p.sq_off.tail);
  unsigned *mask = (unsigned *)(sq + p.sq_off.ring_mask);
  unsigned *array = (unsigned *)(sq + p.sq_off.array);
  array[*tail & *mask] = 0;
  __atomic_store_n(tail, *tail + 1, __ATOMIC_RELEASE);
  unsigned flags = IORING_ENTER_GETEVENTS | (sqpoll ? IORING_ENTER_SQ_WAKEUP : 0);
  if (syscall(__NR_io_uring_enter, fd, sqpoll ? 0 : 1, 1, flags, NULL, 0) < 0) {
    printf("unsupported: io_uring_enter: %s\n", strerror(errno));
    return 0;
  }
  unsigned head = __atomic_load_n((unsigned *)(cq + p.cq_off.head), __ATOMIC_ACQUIRE);
  struct io_uring_cqe *cqe = (struct io_uring_cqe *)(cq + p.cq_off.cqes) + (head & *(unsigned *)(cq + p.cq_off.ring_mask));
  int res = cqe->res;
  if (res < 0 && (res == -EINVAL || res == -EOPNOTSUPP)) { printf("unsupported: %s\n", strerror(-res)); return 0; }
  if (res < 0) { printf("%s\n", name(-res)); return 0; }
  if (res >= 0 && !strcmp(argv[1], "open")) { (void)write(res, "changed\n", 8); close(res); }
  if (res >= 0 && !strcmp(argv[1], "read")) { char b[64]; (void)!read(res, b, sizeof b); close(res); }
  printf("ok\n");
  if (sock >= 0) close(sock);
  return 0;
}
