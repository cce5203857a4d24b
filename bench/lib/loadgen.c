// Load generators for the kernel benchmarks (bench/overhead.ts, loss.ts,
// latency.ts), compiled at bench time. Every mode prints one JSON line.
//
//   loadgen open N PATH        open(PATH)+close, N times            {"n","ns","cpu_ns"}
//   loadgen open-new N DIR     open(DIR/f<i>) of N missing files    {"n","ns"}
//   loadgen exec N PROG        fork+execve(PROG)+wait, N times      {"n","ns"}
//   loadgen connect N PORT     UDP connect to 127.0.0.1:PORT, N times {"n","ns"}
//   loadgen rate RATE MS DIR   missing-file opens DIR/<ms>/<i>, RATE per second
//                              for MS milliseconds, paced per millisecond
//                              {"n","ns","behind_ms"}
//   loadgen flood MS DIR       missing-file opens DIR/<i>, as fast as one thread
//                              can, for MS milliseconds  {"n","ns"}
//   loadgen nop N -           getppid(), N times: a syscall no program
//                              watches (what the traced path alone costs)
//                              {"n","ns","cpu_ns"}
//   loadgen wakeup N US        sleep US microseconds, N times: what a timer
//                              wakeup of an idle thread costs in CPU
//                              {"n","ns","cpu_ns"}
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static long long thread_cpu_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void done(long long n, long long ns) { printf("{\"n\":%lld,\"ns\":%lld}\n", n, ns); }

/** With the thread's CPU time too: on a shared machine the wall time counts other tasks' turns. */
static void done_cpu(long long n, long long ns, long long cpu_ns) {
  printf("{\"n\":%lld,\"ns\":%lld,\"cpu_ns\":%lld}\n", n, ns, cpu_ns);
}

static int usage(void) {
  fprintf(stderr, "usage: loadgen open|open-new|exec|connect|wakeup|nop N ARG | loadgen flood MS DIR | loadgen rate RATE MS DIR\n");
  return 2;
}

int main(int argc, char **argv) {
  if (argc < 4) return usage();
  const char *mode = argv[1];
  long long n = atoll(argv[2]);
  const char *arg = argv[3];
  char path[4096];

  if (!strcmp(mode, "open")) {
    long long t0 = now_ns(), c0 = thread_cpu_ns();
    for (long long i = 0; i < n; i++) {
      int fd = open(arg, O_RDONLY | O_CLOEXEC);
      if (fd < 0) { perror(arg); return 1; }
      close(fd);
    }
    done_cpu(n, now_ns() - t0, thread_cpu_ns() - c0);
  } else if (!strcmp(mode, "nop")) {
    long long t0 = now_ns(), c0 = thread_cpu_ns();
    for (long long i = 0; i < n; i++) syscall(SYS_getppid);
    done_cpu(n, now_ns() - t0, thread_cpu_ns() - c0);
  } else if (!strcmp(mode, "open-new")) {
    long long t0 = now_ns();
    for (long long i = 0; i < n; i++) {
      snprintf(path, sizeof(path), "%s/f%lld", arg, i);
      int fd = open(path, O_RDONLY | O_CLOEXEC);
      if (fd >= 0) close(fd);
    }
    done(n, now_ns() - t0);
  } else if (!strcmp(mode, "exec")) {
    char *const child_argv[] = {(char *)arg, NULL};
    char *const child_env[] = {NULL};
    long long t0 = now_ns();
    for (long long i = 0; i < n; i++) {
      pid_t pid = fork();
      if (pid == 0) {
        execve(arg, child_argv, child_env);
        _exit(127);
      }
      int status;
      if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
        fprintf(stderr, "exec of %s failed\n", arg);
        return 1;
      }
    }
    done(n, now_ns() - t0);
  } else if (!strcmp(mode, "connect")) {
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(atoi(arg))};
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) { perror("socket"); return 1; }
    long long t0 = now_ns();
    for (long long i = 0; i < n; i++) {
      if (connect(s, (struct sockaddr *)&to, sizeof(to))) { perror("connect"); return 1; }
    }
    done(n, now_ns() - t0);
  } else if (!strcmp(mode, "rate")) {
    if (argc < 5) return usage();
    long long rate = n, ms = atoll(arg);
    const char *dir = argv[4];
    long long sent = 0, behind = 0;
    long long t0 = now_ns();
    for (long long tick = 0; tick < ms; tick++) {
      long long want = rate * (tick + 1) / 1000;
      for (; sent < want; sent++) {
        snprintf(path, sizeof(path), "%s/%lld", dir, sent);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) close(fd);
      }
      long long next = t0 + (tick + 1) * 1000000LL;
      long long t = now_ns();
      if (t < next) {
        struct timespec ts = {.tv_sec = next / 1000000000LL, .tv_nsec = next % 1000000000LL};
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
      } else if (t - next > 1000000LL) {
        behind++;
      }
    }
    printf("{\"n\":%lld,\"ns\":%lld,\"behind_ms\":%lld}\n", sent, now_ns() - t0, behind);
  } else if (!strcmp(mode, "flood")) {
    long long ms = n, sent = 0;
    long long t0 = now_ns(), end = t0 + ms * 1000000LL;
    for (;;) {
      for (int k = 0; k < 1024; k++, sent++) {
        snprintf(path, sizeof(path), "%s/%lld", arg, sent);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) close(fd);
      }
      if (now_ns() >= end) break;
    }
    done(sent, now_ns() - t0);
  } else if (!strcmp(mode, "wakeup")) {
    struct timespec ts = {.tv_sec = 0, .tv_nsec = atoll(arg) * 1000};
    long long t0 = now_ns(), c0 = thread_cpu_ns();
    for (long long i = 0; i < n; i++) clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
    printf("{\"n\":%lld,\"ns\":%lld,\"cpu_ns\":%lld}\n", n, now_ns() - t0, thread_cpu_ns() - c0);
  } else {
    return usage();
  }
  return 0;
}
