// Diagnostic (not built by `make`): what a batch's protobuf objects cost the
// probe's reading thread, built one by one on the heap (each a malloc, freed
// when the batch is acknowledged) against on the batch's arena (batch.h).
// A build's mix as bench/build-cost.ts sees it (per 100 events ~2.5 execs
// with 20 arguments and 25 environment variables, 2.5 forks, 2.5 exits, the
// rest opens with a 40-60 character path), the fields set as decoder.cc
// sets them, each batch serialised (what gRPC's Write does) and freed 8
// batches later (the acknowledgement). Prints per event: thread CPU (ns)
// and calls of operator new (protobuf's and std::string's allocations).
//   make -C bpf build/batch-cost && bpf/build/batch-cost [EVENTS_PER_BATCH] [BATCHES]
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <new>
#include <string>

#include "probe/batch.h"

static uint64_t g_news = 0;
void* operator new(size_t n) {
  g_news++;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace {
uint64_t CpuNs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return uint64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void Fill(vigil::v1::Event* e, int i) {
  e->set_ktime_ns(1000000 + i);
  e->set_pid(4000 + i % 50);
  e->set_tid(4000 + i % 50);
  e->set_ppid(3999);
  e->set_uid(1000);
  e->set_gid(1000);
  e->set_comm(i % 40 == 0 ? "make" : "cc1");
  e->set_cgroup_id(12345);
  const int k = i % 40;
  if (k == 0) {
    auto* x = e->mutable_exec();
    x->set_filename("/usr/bin/gcc");
    x->set_exe("/usr/lib/gcc/x86_64-linux-gnu/12/cc1");
    for (int a = 0; a < 20; a++) x->add_argv(a % 3 ? "-Wall" : "-I/work/project/include/subsystem" + std::to_string(a));
    x->set_cwd("/tmp/vigil-bench-project-7f3a9c/src");
    for (int v = 0; v < 25; v++) x->add_env("VARIABLE_NAME_" + std::to_string(v) + "=/usr/local/some/value/path" + std::to_string(v));
    x->set_cap_effective(0);
    x->set_loginuid(4294967295u);
    x->set_vpid(4000 + i % 50);
    x->set_exe_ino(77123);
    x->set_exe_dev(2049);
    x->set_exe_sha256(std::string(64, 'a'));
  } else if (k == 1) {
    e->mutable_fork()->set_child_pid(5000 + i);
    e->mutable_fork()->set_child_vpid(5000 + i);
  } else if (k == 2) {
    e->mutable_exit()->set_exit_code(0);
  } else {
    auto* o = e->mutable_open();
    std::string path = "/tmp/vigil-bench-project-7f3a9c/src/include/header_" + std::to_string(i % 97) + ".h";
    o->set_path(path);
    // As the probe sends most opens: path_raw left out (PATH_RAW_SAME, 257 with PATH_RESOLVED) and the
    // numbers in one 40-byte block (decoder.cc's SetOpenNumbers).
    std::string numbers(40, '\0');
    const int64_t result = i % 7 ? 3 : -2;
    for (int b = 0; b < 8; b++) numbers[b] = char(uint64_t(result) >> (8 * b));
    numbers[8] = char(i);
    numbers[24] = 1;
    numbers[25] = 1;
    numbers[28] = 1;
    numbers[32] = 1;
    numbers[37] = char(0x81);
    o->set_numbers(numbers);
  }
}

struct Result {
  double ns, news;
};

// `arena`: batches on arenas (Batch); otherwise heap EventBatch objects, as before.
Result Run(bool arena, int per_batch, int batches) {
  std::deque<vigil::Batch> unacked_arena;
  std::deque<std::unique_ptr<vigil::v1::ProbeMessage>> unacked_heap;
  std::string wire;
  int i = 0;
  const uint64_t news0 = g_news, t0 = CpuNs();
  for (int b = 0; b < batches; b++) {
    if (arena) {
      vigil::Batch batch;
      for (int j = 0; j < per_batch; j++) Fill(batch.Add(), i++);
      batch.set_seq(b + 1);
      batch.message().SerializeToString(&wire);
      unacked_arena.push_back(std::move(batch));
      if (unacked_arena.size() > 8) unacked_arena.pop_front();
    } else {
      auto msg = std::make_unique<vigil::v1::ProbeMessage>();
      auto* batch = msg->mutable_batch();
      for (int j = 0; j < per_batch; j++) Fill(batch->add_events(), i++);
      batch->set_seq(b + 1);
      msg->SerializeToString(&wire);
      unacked_heap.push_back(std::move(msg));
      if (unacked_heap.size() > 8) unacked_heap.pop_front();
    }
  }
  unacked_arena.clear();
  unacked_heap.clear();
  const double events = double(per_batch) * batches;
  return {(CpuNs() - t0) / events, (g_news - news0) / events};
}
}  // namespace

int main(int argc, char** argv) {
  const int per_batch = argc > 1 ? std::atoi(argv[1]) : 16;
  const int batches = argc > 2 ? std::atoi(argv[2]) : 20000;
  Run(false, per_batch, batches / 10);  // warm: the heap's free lists, the code
  Run(true, per_batch, batches / 10);
  // Alternating, five each: this host is noisy.
  for (int r = 0; r < 5; r++) {
    Result h = Run(false, per_batch, batches), a = Run(true, per_batch, batches);
    std::printf("%d events/batch: heap %.0f ns, %.1f allocations per event; arena %.0f ns, %.1f allocations per event\n",
                per_batch, h.ns, h.news, a.ns, a.news);
  }
}
