#include "loader.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <random>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <vector>
#include <zlib.h>

extern "C" {
#include "events.h"
}
#include "log.h"
#include "vigil.skel.h"

namespace vigil {

Loader::~Loader() {
  if (ring_positions_) munmap(const_cast<uint64_t*>(ring_positions_), 2 * page_);
  for (auto* link : cgroup_links_) bpf_link__destroy(link);
  if (skel_) vigil_bpf__destroy(skel_);
}

namespace {

// Tracepoints are attached by id, read from tracefs; a fresh node may not
// have it mounted (libbpf looks in both places below).
bool EnsureTracefs(std::string* error) {
  if (access("/sys/kernel/tracing/events", F_OK) == 0 || access("/sys/kernel/debug/tracing/events", F_OK) == 0)
    return true;
  if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, nullptr) == 0) {
    Log("info", "mounted tracefs at /sys/kernel/tracing");
    return true;
  }
  *error = std::string("tracefs is not mounted and mounting it at /sys/kernel/tracing failed: ") + strerror(errno) +
           " (mount it on the host, or give the probe /sys/kernel/tracing)";
  return false;
}

// The kernel's tick rate (CONFIG_HZ) from its config, /proc/config.gz
// (the running kernel's own) or /boot/config-RELEASE; 0 when neither is
// there. gzopen reads plain files too.
long KernelHz() {
  utsname uts{};
  uname(&uts);
  for (const std::string& path : {std::string("/proc/config.gz"), std::string("/boot/config-") + uts.release}) {
    gzFile f = gzopen(path.c_str(), "re");
    if (!f) continue;
    char line[256];
    long hz = 0;
    while (gzgets(f, line, sizeof(line))) {
      if (strncmp(line, "CONFIG_HZ=", 10) == 0) {
        hz = strtol(line + 10, nullptr, 10);
        break;
      }
    }
    gzclose(f);
    if (hz > 0) return hz;
  }
  return 0;
}

}  // namespace

bool Loader::Start(const LoadOptions& options, std::string* error) {
  if (!EnsureTracefs(error)) return false;
  skel_ = vigil_bpf__open();
  if (!skel_) {
    *error = std::string("cannot open BPF object: ") + strerror(errno);
    return false;
  }
  if (int err = bpf_map__set_max_entries(skel_->maps.events, options.ringbuf_bytes)) {
    *error = "ring buffer size " + std::to_string(options.ringbuf_bytes) + ": " + strerror(-err);
    return false;
  }
  skel_->rodata->wakeup_gap_ns = options.wakeup_gap_ns;
  wakeup_gap_ns_ = options.wakeup_gap_ns;
  // Past 1/16 of the ring unread, wake the probe whatever the gap.
  skel_->rodata->wakeup_bytes = options.ringbuf_bytes / 16;
  skel_->rodata->dedup_window_ns = options.dedup_window_ns;
  skel_->rodata->dedup_per_workload = options.dedup_per_workload;
  if (long hz = KernelHz()) {
    skel_->rodata->dedup_tick_ns = 1000000000 / hz;
  } else if (options.dedup_window_ns) {
    Log("info", "no kernel config (/proc/config.gz, /boot/config-*): de-duplication windows timed by bpf_ktime_get_ns(), a little slower than by jiffies");
  }
  std::random_device rd;
  skel_->rodata->dedup_seed = (uint64_t(rd()) << 32) | rd();
  // Syscalls this kernel lacks (fchmodat2 before 6.6, no legacy open on
  // arm64) are skipped instead of failing the whole load.
  bpf_program* prog;
  bpf_object__for_each_program(prog, skel_->obj) {
    const char* sec = bpf_program__section_name(prog);
    // cgroup programs are attached to chosen cgroups, never automatically.
    if (strncmp(sec, "cgroup", 6) == 0) bpf_program__set_autoattach(prog, false);
    if (strncmp(sec, "tp/syscalls/", 12) != 0) continue;
    std::string event = sec + 12;
    if (access(("/sys/kernel/tracing/events/syscalls/" + event).c_str(), F_OK) != 0 &&
        access(("/sys/kernel/debug/tracing/events/syscalls/" + event).c_str(), F_OK) != 0) {
      Log("warn", "this kernel has no %s tracepoint: not watched", sec + 12);
      bpf_program__set_autoload(prog, false);
    }
  }
  if (int err = vigil_bpf__load(skel_)) {
    *error = std::string("cannot load BPF programs (needs CAP_BPF, CAP_PERFMON and a kernel with BTF): ") +
             strerror(-err);
    return false;
  }
  if (int err = vigil_bpf__attach(skel_)) {
    *error = std::string("cannot attach BPF programs: ") + strerror(-err);
    return false;
  }
  bpf_object__for_each_program(prog, skel_->obj) {
    if (bpf_program__autoload(prog) && bpf_program__autoattach(prog)) hooks_.push_back(bpf_program__section_name(prog));
  }
  page_ = sysconf(_SC_PAGESIZE);
  void* pages = mmap(nullptr, 2 * page_, PROT_READ, MAP_SHARED, RingBufferFd(), 0);
  if (pages == MAP_FAILED) {
    *error = std::string("cannot map the ring buffer's positions: ") + strerror(errno);
    return false;
  }
  ring_positions_ = static_cast<const volatile uint64_t*>(pages);
  return true;
}

bool Loader::AttachConnectHooks(const std::string& cgroup2_mount, std::string* error) {
  if (cgroup2_mount.empty()) {
    *error = "no cgroup v2 mount: connects cannot be refused on this node";
    return false;
  }
  int fd = open(cgroup2_mount.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    *error = "cannot open " + cgroup2_mount + ": " + strerror(errno);
    return false;
  }
  for (bpf_program* prog : {skel_->progs.enforce_connect4, skel_->progs.enforce_connect6}) {
    bpf_link* link = bpf_program__attach_cgroup(prog, fd);
    if (!link) {
      *error = std::string("cannot attach ") + bpf_program__section_name(prog) + " at " + cgroup2_mount + ": " +
               strerror(errno);
      close(fd);
      return false;
    }
    cgroup_links_.push_back(link);
    hooks_.push_back(bpf_program__section_name(prog));
  }
  close(fd);
  return true;
}

bool Loader::Exclude(uint32_t tgid, std::string* error) {
  uint32_t n = skel_->bss->excluded_count;
  if (n >= sizeof(skel_->bss->excluded_tgids) / sizeof(uint32_t)) {
    *error = "cannot exclude pid " + std::to_string(tgid) + ": at most " + std::to_string(n) + " can be";
    return false;
  }
  // The kernel reads the count first: the entry must be there before it grows.
  skel_->bss->excluded_tgids[n] = tgid;
  __atomic_store_n(&skel_->bss->excluded_count, n + 1, __ATOMIC_RELEASE);
  return true;
}

KernelLosses Loader::Losses() const {
  KernelLosses out;
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0 || !skel_) return out;
  std::vector<uint64_t> values(ncpu);
  for (uint32_t key = 0; key < VIGIL_LOSS_MAX; key++) {
    if (bpf_map__lookup_elem(skel_->maps.losses, &key, sizeof(key), values.data(),
                             values.size() * sizeof(uint64_t), 0))
      continue;
    uint64_t sum = 0;
    for (uint64_t v : values) sum += v;
    if (key == VIGIL_LOSS_RINGBUF) out.ringbuf_full = sum;
    if (key == VIGIL_LOSS_INFLIGHT) out.inflight_full = sum;
    if (key == VIGIL_LOSS_PACKETS) out.packets_lost = sum;
    if (key == VIGIL_DEDUPLICATED) out.deduplicated = sum;
  }
  return out;
}

int Loader::RingBufferFd() const { return bpf_map__fd(skel_->maps.events); }

int Loader::PacketRingBufferFd() const { return bpf_map__fd(skel_->maps.packets); }

uint64_t Loader::RingUnread() const {
  uint64_t consumer = __atomic_load_n(&ring_positions_[0], __ATOMIC_ACQUIRE);
  uint64_t producer = __atomic_load_n(&ring_positions_[page_ / sizeof(uint64_t)], __ATOMIC_ACQUIRE);
  return producer - consumer;
}

void Loader::QuietUntil(uint64_t monotonic_ns) {
  // The kernel wakes the probe for a record written wakeup_gap_ns or more
  // after last_wakeup_ns.
  __atomic_store_n(&skel_->bss->last_wakeup_ns, monotonic_ns - wakeup_gap_ns_, __ATOMIC_RELAXED);
}

}  // namespace vigil
