// Loader for floor.bpf.c (bench/attach-floor.ts). Attaches, prints
// "ready N" (programs attached), and holds them until stdin closes.
//   floor OBJ tp CATEGORY:NAME...   the empty program on each tracepoint (perf event)
//   floor OBJ raw NAME...           the empty program on each, as raw_tp
//   floor OBJ dispatch NR...        raw_tp sys_enter/sys_exit dispatchers, tail
//                                   calls into an empty program for each syscall NR
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct bpf_program *prog(struct bpf_object *obj, const char *name) {
  struct bpf_program *p = bpf_object__find_program_by_name(obj, name);
  if (!p) {
    fprintf(stderr, "no program %s\n", name);
    exit(1);
  }
  return p;
}

static void attached(struct bpf_link *l, const char *what) {
  if (!l) {
    fprintf(stderr, "attach %s failed\n", what);
    exit(1);
  }
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: floor OBJ tp|raw|dispatch ARGS...\n");
    return 2;
  }
  struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
  if (!obj || bpf_object__load(obj)) {
    fprintf(stderr, "cannot load %s\n", argv[1]);
    return 1;
  }
  const char *mode = argv[2];
  int n = 0;
  for (int i = 3; i < argc || !strcmp(mode, "dispatch"); i++) {
    if (!strcmp(mode, "tp")) {
      char cat[128];
      const char *colon = strchr(argv[i], ':');
      if (!colon || colon - argv[i] >= (long)sizeof(cat)) return 2;
      memcpy(cat, argv[i], colon - argv[i]);
      cat[colon - argv[i]] = 0;
      attached(bpf_program__attach_tracepoint(prog(obj, "empty_tp"), cat, colon + 1), argv[i]);
      n++;
    } else if (!strcmp(mode, "raw")) {
      attached(bpf_program__attach_raw_tracepoint(prog(obj, "empty_raw"), argv[i]), argv[i]);
      n++;
    } else if (!strcmp(mode, "dispatch")) {
      int fd = bpf_program__fd(prog(obj, "handler"));
      int enter = bpf_object__find_map_fd_by_name(obj, "enter_calls");
      int exit_ = bpf_object__find_map_fd_by_name(obj, "exit_calls");
      for (int j = 3; j < argc; j++) {
        __u32 nr = (__u32)atoi(argv[j]);
        if (bpf_map_update_elem(enter, &nr, &fd, BPF_ANY) || bpf_map_update_elem(exit_, &nr, &fd, BPF_ANY)) {
          fprintf(stderr, "prog array slot %u refused\n", nr);
          return 1;
        }
      }
      attached(bpf_program__attach_raw_tracepoint(prog(obj, "dispatch_enter"), "sys_enter"), "sys_enter");
      attached(bpf_program__attach_raw_tracepoint(prog(obj, "dispatch_exit"), "sys_exit"), "sys_exit");
      n = 2;
      break;
    } else {
      return 2;
    }
  }
  printf("ready %d\n", n);
  fflush(stdout);
  char buf[64];
  while (read(0, buf, sizeof(buf)) > 0) {
  }
  return 0;
}
