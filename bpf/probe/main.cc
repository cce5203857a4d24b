// vigil-probe: loads Vigil's kernel programs, reads their ring buffer,
// batches events and streams them to the engine over gRPC.
//
//   vigil-probe --engine unix:///run/vigil/engine.sock [--node NAME]
//               [--ringbuf-bytes N] [--batch-max N] [--flush-ms N] [--flush-busy-ms N] [--flush-target N]
//               [--loss-report-ms N] [--exclude-pid PID]... [--queue-events N]
//               [--dedup-window-ms N] [--dedup-scope process|workload]
//               [--fair-events-per-sec N]
//               [--sensitive-file PATH]...  (hard links to it are named by it; credential files by default)
//               [--pin-dir DIR (default /sys/fs/bpf/vigil/NODE; '' off)] [--unpin-on-exit]
//               [--parent-pid PID]  (stop as on SIGTERM when PID, the process that started it, dies)
//   vigil-probe --release-pinned [--pin-dir DIR] [--node NAME]
//       unpins the enforcement every probe left under DIR (pinning.h): what
//       a stopped probe kept in force stops.
//   vigil-probe --check-programs
//       loads each kernel program on its own and prints, one line each,
//       OK, SKIP (and why) or FAIL (and the verifier's message); exits 1
//       when any failed. Nothing is attached.
//
// Exits 0 on SIGTERM/SIGINT after sending what it holds (and the engine has
// acknowledged it) and detaching its programs.
#include <bpf/libbpf.h>
#include <malloc.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "decoder.h"
#include "events.h"
#include "fairness.h"
#include "identity.h"
#include "loader.h"
#include "pinning.h"
#include "log.h"
#include "privileges.h"
#include "respond.h"
#include "snapshot.h"
#include "stream.h"

namespace {

volatile sig_atomic_t g_stop = 0;
int g_stop_fd = -1;  // an eventfd that wakes the reading loop (below)
void OnSignal(int) {
  g_stop = 1;
  uint64_t one = 1;
  if (g_stop_fd >= 0) (void)!write(g_stop_fd, &one, sizeof(one));
}

// Under `vigil run` the engine is the probe's parent and stops it with
// SIGTERM; killed itself (SIGKILL, the OOM killer) it cannot, and the probe
// would run on with its programs attached and nobody reading. The kernel
// sends the SIGTERM instead when the parent dies. The parent may have died
// before the request: then the probe has been re-parented already.
bool StopWithParent(pid_t parent) {
  if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) {
    vigil::Log("error", "cannot ask to be stopped with the process that started the probe (pid %d): %s", parent, strerror(errno));
    return false;
  }
  if (getppid() != parent) {
    vigil::Log("error", "the process that started the probe (pid %d) is gone: not starting", parent);
    return false;
  }
  return true;
}

struct Options {
  std::string engine = "unix:///run/vigil/engine.sock";
  std::string node;
  uint32_t ringbuf_bytes = 1 << 22;
  int batch_max = 256;
  int flush_ms = 1;
  int flush_busy_ms = 0;  // the longest period; 0: four flush periods (below)
  int flush_target = 0;   // records a read aims at; 0: half a batch
  int loss_report_ms = 1000;
  size_t queue_events = 1 << 18;
  std::vector<uint32_t> exclude;
  long dedup_window_ms = 10000;  // 0: off
  bool dedup_per_workload = false;
  uint64_t fair_events_per_sec = 50000;  // 0: fairness off (fairness.h)
  std::string tls_ca, tls_cert, tls_key, tls_server_name = "vigil-engine";
  bool check_programs = false;
  // Enforcement pinned in bpffs (pinning.h); empty after --pin-dir '': off.
  std::string pin_dir;
  bool pin_dir_given = false;
  bool unpin_on_exit = false;
  bool release_pinned = false;
  // `vigil run`, which started the probe: its death stops the probe (0: none, the DaemonSet's way).
  pid_t parent = 0;
  // Files whose hard links are named by them (identity.h), besides the defaults.
  std::vector<std::string> sensitive = vigil::SensitiveFiles::Defaults();
};

[[noreturn]] void Usage(const char* why) {
  fprintf(stderr, "vigil-probe: %s\n", why);
  fprintf(stderr,
          "usage: vigil-probe --engine unix:///PATH|tcp://HOST:PORT [--node NAME] [--ringbuf-bytes N]\n"
          "                   [--batch-max N] [--flush-ms N] [--flush-busy-ms N] [--flush-target N] [--loss-report-ms N]\n"
          "                   [--exclude-pid PID]...\n"
          "                   [--queue-events N] [--tls-ca FILE --tls-cert FILE --tls-key FILE [--tls-server-name NAME]]\n"
          "                   [--dedup-window-ms N (0: off)] [--dedup-scope process|workload]\n"
          "                   [--fair-events-per-sec N (0: off)]\n"
          "                   [--sensitive-file PATH]... [--pin-dir DIR ('' off)] [--unpin-on-exit] [--parent-pid PID]\n"
          "       vigil-probe --release-pinned [--pin-dir DIR] [--node NAME]\n"
          "       vigil-probe --check-programs\n");
  exit(2);
}

long NumberArg(const char* flag, const char* value, long min, long max) {
  char* end;
  long v = strtol(value, &end, 10);
  if (*value == '\0' || *end != '\0' || v < min || v > max)
    Usage((std::string(flag) + " wants a number from " + std::to_string(min) + " to " + std::to_string(max) +
           ", got '" + value + "'").c_str());
  return v;
}

Options ParseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; i++) {
    std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") Usage("help");
    if (flag == "--check-programs") {
      o.check_programs = true;
      continue;
    }
    if (flag == "--unpin-on-exit" || flag == "--release-pinned") {
      (flag == "--unpin-on-exit" ? o.unpin_on_exit : o.release_pinned) = true;
      continue;
    }
    if (i + 1 >= argc) Usage((flag + " needs a value").c_str());
    const char* v = argv[++i];
    if (flag == "--engine") o.engine = v;
    else if (flag == "--node") o.node = v;
    else if (flag == "--ringbuf-bytes") o.ringbuf_bytes = NumberArg(argv[i - 1], v, 4096, 1L << 30);
    else if (flag == "--batch-max") o.batch_max = NumberArg(argv[i - 1], v, 1, 65536);
    else if (flag == "--flush-ms") o.flush_ms = NumberArg(argv[i - 1], v, 1, 10000);
    else if (flag == "--flush-busy-ms") o.flush_busy_ms = NumberArg(argv[i - 1], v, 1, 10000);
    else if (flag == "--flush-target") o.flush_target = NumberArg(argv[i - 1], v, 1, 65536);
    else if (flag == "--loss-report-ms") o.loss_report_ms = NumberArg(argv[i - 1], v, 10, 600000);
    else if (flag == "--queue-events") o.queue_events = NumberArg(argv[i - 1], v, 1, 1L << 26);
    else if (flag == "--exclude-pid") o.exclude.push_back(NumberArg(argv[i - 1], v, 1, 1L << 22));
    else if (flag == "--fair-events-per-sec") o.fair_events_per_sec = NumberArg(argv[i - 1], v, 0, 100000000);
    else if (flag == "--dedup-window-ms") o.dedup_window_ms = NumberArg(argv[i - 1], v, 0, 3600000);
    else if (flag == "--dedup-scope") {
      if (std::string(v) != "process" && std::string(v) != "workload") Usage("--dedup-scope is process or workload");
      o.dedup_per_workload = std::string(v) == "workload";
    }
    else if (flag == "--sensitive-file") {
      if (v[0] != '/') Usage("--sensitive-file wants an absolute path");
      o.sensitive.push_back(v);
    }
    else if (flag == "--pin-dir") {
      o.pin_dir = v;
      o.pin_dir_given = true;
    }
    else if (flag == "--parent-pid") o.parent = NumberArg(argv[i - 1], v, 1, 1L << 22);
    else if (flag == "--tls-ca") o.tls_ca = v;
    else if (flag == "--tls-cert") o.tls_cert = v;
    else if (flag == "--tls-key") o.tls_key = v;
    else if (flag == "--tls-server-name") o.tls_server_name = v;
    else Usage(("unknown option " + flag).c_str());
  }
  if (o.ringbuf_bytes & (o.ringbuf_bytes - 1)) Usage("--ringbuf-bytes must be a power of two");
  // Four: a slow sustained flow waits as long as before the period followed the rate (8 ms at
  // the shipped 2); eight cut a build's batches by a third more but held every flow of a few
  // thousand events a second 16 ms (bench/README.md, "Batching that follows the rate").
  if (o.flush_busy_ms == 0) o.flush_busy_ms = std::min(4 * o.flush_ms, 10000);
  if (o.flush_target == 0) o.flush_target = std::max(1, o.batch_max / 2);
  if (o.flush_busy_ms < o.flush_ms) Usage("--flush-busy-ms must be at least --flush-ms");
  if (!o.tls_ca.empty() != !o.tls_cert.empty() || !o.tls_ca.empty() != !o.tls_key.empty())
    Usage("mutual TLS needs all of --tls-ca, --tls-cert and --tls-key");
  if (o.engine.rfind("tcp://", 0) == 0 && o.tls_ca.empty())
    Usage("a tcp:// engine takes mutual TLS (--tls-ca, --tls-cert, --tls-key)");
  return o;
}

// gRPC C++ takes unix:///path as is and host:port for TCP.
std::string GrpcTarget(const std::string& engine) {
  if (engine.rfind("tcp://", 0) == 0) return engine.substr(6);
  return engine;
}

int64_t BootToUnixNs() {
  timespec real, mono;
  clock_gettime(CLOCK_REALTIME, &real);
  clock_gettime(CLOCK_MONOTONIC, &mono);
  return (int64_t(real.tv_sec) - mono.tv_sec) * 1000000000LL + (int64_t(real.tv_nsec) - mono.tv_nsec);
}

std::string RandomId() {
  std::random_device rd;
  char buf[17];
  snprintf(buf, sizeof(buf), "%08x%08x", rd(), rd());
  return buf;
}

// Records read in one go at most (OnRecord); what it answers when it stops.
constexpr int kReadMax = 8192;
constexpr int kReadMore = -EAGAIN;

// State the ring-buffer callback works on.
struct Pump {
  vigil::EngineStream* stream;
  vigil::Batch batch;  // on an arena of its own (batch.h)
  int batch_max;
  vigil::DecodeStats stats;
  vigil::SensitiveFiles* sensitive = nullptr;
  vigil::ExeHasher* hasher = nullptr;
  uint64_t decode_errors = 0;
  uint64_t events_total = 0;
  vigil::v1::PacketBatch packets;
  vigil::Fairness* fairness = nullptr;
  std::vector<bool> sheddable;  // per event of `batch`: of a workload held to its share
  std::vector<bool> slow;       // per event of `batch`: of a workload over its share (the queue's slow lane)
  int read_now = 0;             // records in the current read

  void Flush() {
    if (packets.packets_size() > 0) {
      stream->EnqueuePackets(std::move(packets));
      packets.Clear();
    }
    if (batch.size() == 0) return;
    // Its sequence number is given as it is written (stream.h: lanes).
    stream->Enqueue(std::move(batch), sheddable, slow);
    batch = vigil::Batch();
    sheddable.clear();
    slow.clear();
  }
};

int OnRecord(void* ctx, void* data, size_t size) {
  auto* pump = static_cast<Pump*>(ctx);
  std::string error;
  auto* event = pump->batch.Add();
  pump->events_total++;
  if (!vigil::DecodeRecord(data, size, event, &pump->stats, &error)) {
    pump->batch.RemoveLast();
    if (pump->decode_errors++ < 10) vigil::Log("warn", "malformed ring-buffer record: %s", error.c_str());
    return 0;
  }
  // The decoder checked the size: a header is there.
  const auto* h = static_cast<const vigil_header*>(data);
  pump->sheddable.push_back(h->flags & VIGIL_SHEDDABLE);
  const bool over = pump->fairness->Seen(h->cgroup_id, h->ktime_ns);
  pump->slow.push_back(over || (h->flags & VIGIL_SHEDDABLE));
  if (pump->sensitive && event->has_open()) {
    const auto* o = static_cast<const vigil_open*>(data);
    pump->sensitive->Check(event, o->root_dev, o->root_ino);
  }
  if (pump->hasher && event->has_exec()) pump->hasher->Fill(event, static_cast<const vigil_exec*>(data)->exe_ctime_ns);
  if (pump->batch.size() >= pump->batch_max) pump->Flush();
  // A flood the reader barely keeps up with would keep one read going for
  // seconds: the fairness tick that holds it, and the loss report, wait
  // for the read to end. Past this many records the read stops (libbpf
  // takes a callback's negative answer as the end, the record consumed).
  if (++pump->read_now >= kReadMax) return kReadMore;
  return 0;
}

int OnPacket(void* ctx, void* data, size_t size) {
  auto* pump = static_cast<Pump*>(ctx);
  std::string error;
  if (!vigil::DecodePacket(data, size, pump->packets.add_packets(), &error)) {
    pump->packets.mutable_packets()->RemoveLast();
    if (pump->decode_errors++ < 10) vigil::Log("warn", "malformed packet record: %s", error.c_str());
    return 0;
  }
  if (pump->packets.packets_size() >= 64) pump->Flush();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt = ParseOptions(argc, argv);
  // gRPC's poll() engine rather than its default epoll1: with one socket
  // there is nothing for epoll to scale, and epoll1 watches it for
  // writability edge-triggered, so every batch sent also woke gRPC's poller
  // thread once more for nothing. A caller's own setting is kept.
  setenv("GRPC_POLL_STRATEGY", "poll", 0);
  if (opt.node.empty()) {
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    opt.node = host;
  }

  if (!opt.pin_dir_given) opt.pin_dir = vigil::Pinning::DefaultBase(opt.node);
  if (opt.release_pinned) {
    std::string report;
    bool ok = vigil::Pinning::ReleaseAll(opt.pin_dir, &report);
    vigil::Log(ok ? "info" : "error", "%s", report.c_str());
    return ok ? 0 : 1;
  }

  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  if (opt.parent && !StopWithParent(opt.parent)) return 1;

  vigil::Loader loader;
  std::string error;
  vigil::LoadOptions load;
  load.ringbuf_bytes = opt.ringbuf_bytes;
  load.wakeup_gap_ns = uint64_t(opt.flush_ms) * 1000000;
  load.dedup_window_ns = uint64_t(opt.dedup_window_ms) * 1000000;
  load.dedup_per_workload = opt.dedup_per_workload;
  load.fairness = opt.fair_events_per_sec > 0;
  if (opt.check_programs) {
    int failed = 0, n = 0;
    for (const auto& c : vigil::Loader::CheckPrograms(load)) {
      const char* status = c.status == vigil::ProgramCheck::kOk ? "OK" : c.status == vigil::ProgramCheck::kSkip ? "SKIP" : "FAIL";
      printf("%-4s %-28s %s%s%s\n", status, c.name.c_str(), c.section.c_str(), c.reason.empty() ? "" : ": ", c.reason.c_str());
      failed += c.status == vigil::ProgramCheck::kFail;
      n++;
    }
    printf("%d of %d programs failed\n", failed, n);
    return failed ? 1 : 0;
  }
  if (!loader.Start(load, &error)) {
    vigil::Log("error", "%s", error.c_str());
    return 1;
  }
  opt.exclude.push_back(getpid());
  for (uint32_t pid : opt.exclude) {
    if (!loader.Exclude(pid, &error)) vigil::Log("warn", "%s", error.c_str());
  }

  const std::string cgroup2 = vigil::FindCgroup2Mount();
  if (cgroup2.empty()) vigil::Log("warn", "no cgroup v2 mount in /proc/self/mountinfo: snapshot has no cgroup ids");
  bool connect_hooks = loader.AttachConnectHooks(cgroup2, &error);
  if (!connect_hooks) vigil::Log("warn", "%s", error.c_str());
  vigil::Responder responder(loader.Skeleton(), cgroup2, connect_hooks);

  // Enforcement that outlives this process (pinning.h). Declared after the
  // loader: unless kept, its pins go before the loader detaches the links.
  const std::string session = RandomId();
  vigil::Pinning pins;
  std::string pin_why;
  size_t pinned = 0;
  if (pins.Open(opt.pin_dir, session, &pin_why)) {
    pinned = loader.PinEnforcement(&pins, &pin_why);
    if (!pin_why.empty()) {
      pins.Drop();
      pinned = 0;
    }
  }
  struct DropUnlessKept {
    vigil::Pinning* p;
    bool kept = false;
    ~DropUnlessKept() { if (!kept) p->Drop(); }
  } drop_pins{&pins};
  if (pinned) {
    vigil::Log("info", "enforcement pinned at %s: %zu links stay in force if the probe dies", pins.Dir().c_str(), pinned);
    if (pins.PreviousLinks())
      vigil::Log("info", "%zu links earlier probes left pinned are in force until the engine has re-applied its policies",
                 pins.PreviousLinks());
  } else {
    vigil::Log("warn", "enforcement not pinned: %s; if the probe dies, enforcement is off until a new one has the engine's policies",
               pin_why.c_str());
  }
  responder.OnEnforcementApplied([&pins] { return pins.ReleasePrevious(); });

  vigil::v1::Hello hello;
  hello.set_node_name(opt.node);
  hello.set_probe_version("0.1.0");
  hello.set_probe_pid(getpid());
  hello.set_cgroup_id(vigil::OwnCgroupId(cgroup2));
  hello.set_boot_to_unix_ns(BootToUnixNs());
  hello.set_session_id(session);
  hello.set_enforcement_kept(pins.PreviousLinks() > 0);
  {
    auto* p = hello.mutable_pinning();
    p->set_dir(pinned ? pins.Dir() : "");
    p->set_pinned(pinned > 0);
    p->set_why(pinned ? "" : pin_why);
    p->set_links(pinned);
    p->set_previous_links(pins.PreviousLinks());
    p->set_on_exit(opt.unpin_on_exit ? "unpin" : "keep-while-enforcing");
  }
  // The snapshot takes cgroups from the task iterator only where its tgids
  // are /proc's pids. VIGIL_SNAPSHOT_FROM_PROC=1 reads /proc instead: the
  // fallback, for tests and for comparing the two.
  const std::string no_iter = getenv("VIGIL_SNAPSHOT_FROM_PROC") ? "VIGIL_SNAPSHOT_FROM_PROC is set"
                              : !vigil::ProcHasInitialPids()
                                  ? "/proc does not number pids as the initial pid namespace does (no hostPID)"
                                  : "";
  for (const auto& h : loader.Hooks())
    if (no_iter.empty() || h != vigil::kTaskIterHook) hello.add_hooks(h);
  for (const auto& c : responder.Capabilities()) hello.add_capabilities(c);
  for (const auto& h : loader.Enforcement()) {
    auto* x = hello.add_enforcement();
    x->set_operation(h.operation);
    x->set_program(h.program);
    x->set_why(h.why);
    switch (h.mechanism) {
      case vigil::Mechanism::kLsm: x->set_mechanism(vigil::v1::MECHANISM_BPF_LSM); break;
      case vigil::Mechanism::kFmodRet: x->set_mechanism(vigil::v1::MECHANISM_FMOD_RET); break;
      case vigil::Mechanism::kCgroup: x->set_mechanism(vigil::v1::MECHANISM_CGROUP); break;
      case vigil::Mechanism::kKill: x->set_mechanism(vigil::v1::MECHANISM_KILL); break;
      case vigil::Mechanism::kNone: x->set_mechanism(vigil::v1::MECHANISM_UNSPECIFIED); break;
    }
  }
  // One line per mechanism: which operations it stops on this node.
  for (auto m : {vigil::Mechanism::kLsm, vigil::Mechanism::kFmodRet, vigil::Mechanism::kCgroup, vigil::Mechanism::kKill,
                 vigil::Mechanism::kNone}) {
    std::string ops;
    for (const auto& h : loader.Enforcement())
      if (h.mechanism == m) ops += (ops.empty() ? "" : ", ") + h.operation;
    if (ops.empty()) continue;
    const char* what = m == vigil::Mechanism::kKill     ? "the call completes, then the caller is killed"
                       : m == vigil::Mechanism::kCgroup ? "the connect refused with EPERM"
                       : m == vigil::Mechanism::kNone ? "not stopped in the kernel"
                                                      : "denied with EPERM before anything changes";
    vigil::Log(m == vigil::Mechanism::kKill || m == vigil::Mechanism::kNone ? "warn" : "info", "enforcement by %s (%s): %s",
               vigil::MechanismName(m), what, ops.c_str());
  }

  vigil::StreamOptions sopt;
  sopt.on_command = [&responder](const vigil::v1::EngineCommand& cmd) { return responder.Handle(cmd); };
  sopt.target = GrpcTarget(opt.engine);
  sopt.max_queued_events = opt.queue_events;
  if (!opt.tls_ca.empty()) {
    std::string err;
    if (!vigil::ReadFileTo(opt.tls_ca, &sopt.tls_ca, &err) || !vigil::ReadFileTo(opt.tls_cert, &sopt.tls_cert, &err) ||
        !vigil::ReadFileTo(opt.tls_key, &sopt.tls_key, &err)) {
      vigil::Log("error", "%s", err.c_str());
      return 1;
    }
    sopt.tls_server_name = opt.tls_server_name;
  }
  // Loaded, attached and every file read: from here on only what commands and the snapshot need.
  // Loading parsed the kernel's BTF and relocated every program: megabytes
  // freed by now, which glibc keeps mapped in the heap unless told.
  malloc_trim(0);
  std::string kept;
  if (!vigil::DropCapabilities(&kept, &error)) {
    vigil::Log("error", "cannot drop the capabilities the probe does not need: %s", error.c_str());
    return 1;
  }
  vigil::Log("info", "capabilities: kept %s; every other one dropped (effective, permitted, inheritable, ambient, bounding set)",
             kept.empty() ? "none" : kept.c_str());
  // Each snapshot's cgroups from the kernel's task iterator, exact in any
  // cgroup namespace; else from /proc/PID/cgroup (said once, and in Hello's
  // hooks, so `vigil status` and the engine say it too).
  bool said_proc = false;
  auto snapshot = [&] {
    std::unordered_map<uint32_t, uint64_t> ids;
    std::string why = no_iter;
    const bool kernel = no_iter.empty() && loader.TaskCgroups(&ids, &why);
    if (!kernel && !said_proc) {
      vigil::Log("warn", "snapshot cgroups read from /proc/PID/cgroup, not the task iterator: %s", why.c_str());
      said_proc = true;
    }
    return vigil::SnapshotProcesses(cgroup2, kernel ? &ids : nullptr);
  };
  vigil::EngineStream stream(sopt, hello, snapshot);
  // User file reads answer off the command thread, into the stream's queue; not after the stream is gone.
  responder.OnLateAck([&stream](vigil::v1::CommandAck ack) { stream.SendAck(std::move(ack)); });
  struct NoLateAcks {
    vigil::Responder* r;
    ~NoLateAcks() { r->OnLateAck(nullptr); }
  } no_late_acks{&responder};

  vigil::FairOptions fopt;
  fopt.events_per_sec = opt.fair_events_per_sec;
  vigil::Fairness fairness(&loader, fopt);
  Pump pump;
  pump.fairness = &fairness;
  vigil::SensitiveFiles sensitive(opt.sensitive);
  pump.sensitive = &sensitive;
  vigil::ExeHasher hasher;
  pump.hasher = &hasher;
  pump.stream = &stream;
  pump.batch_max = opt.batch_max;
  // The packets' ring first: a read of the events' ring cut short (OnRecord) ends the read of both.
  ring_buffer* rb = ring_buffer__new(loader.PacketRingBufferFd(), OnPacket, &pump, nullptr);
  if (!rb || ring_buffer__add(rb, loader.RingBufferFd(), OnRecord, &pump)) {
    vigil::Log("error", "cannot read the ring buffers: %s", strerror(errno));
    return 1;
  }
  stream.Start();
  vigil::Log("info", "probe started: %zu hooks attached, ring buffer %u bytes, engine %s", loader.Hooks().size(),
             opt.ringbuf_bytes, opt.engine.c_str());

  using Clock = std::chrono::steady_clock;  // CLOCK_MONOTONIC, the kernel programs' clock
  auto last_report = Clock::now();
  auto last_fair = last_report;
  // Cumulative per-cgroup counts as last reported: a report carries the cgroups that grew.
  struct Sent {
    uint64_t ringbuf_full = 0, inflight_full = 0, queue_full = 0, shed = 0;
  };
  std::unordered_map<uint64_t, Sent> sent;
  std::unordered_map<uint64_t, vigil::CgroupCounts> kernel_counts;
  auto report = [&] {
    // Read now, per cgroup and then the totals: the totals exceed what the
    // cgroups account for only by what the kernel counted in between
    // (microseconds), not by a fairness tick's worth, which the engine
    // would raise as losses nobody can attribute.
    kernel_counts = loader.CgroupCountsAll();
    vigil::KernelLosses k = loader.Losses();
    vigil::v1::LossReport r;
    r.set_ringbuf_full(k.ringbuf_full);
    r.set_inflight_full(k.inflight_full);
    r.set_packets_lost(k.packets_lost + stream.DroppedPackets());
    r.set_decode_errors(pump.decode_errors);
    r.set_queue_full(stream.DroppedEvents());
    r.set_path_truncated(pump.stats.truncated_paths);
    r.set_env_truncated(pump.stats.truncated_envs);
    r.set_events_total(pump.events_total);
    r.set_deduplicated(k.deduplicated);
    r.set_dns_dropped(k.dns_dropped);
    if (fairness.On()) {
      auto* f = r.mutable_fairness();
      f->set_budget(fairness.Budget());
      f->set_configured(fairness.Configured());
      f->set_cuts(fairness.Cuts());
      f->set_lowest(fairness.Lowest());
      f->set_held(uint32_t(fairness.HeldCount()));
    }
    // Per cgroup: what the kernel and the queue lost or shed, the largest growth first.
    auto drops = stream.CgroupDrops();
    std::vector<std::pair<uint64_t, vigil::v1::CgroupLoss>> grown;
    auto fill = [&](uint64_t cg) {
      vigil::v1::CgroupLoss c;
      c.set_cgroup_id(cg);
      uint64_t shed = 0;
      if (auto it = kernel_counts.find(cg); it != kernel_counts.end()) {
        c.set_ringbuf_full(it->second.ringbuf_full);
        c.set_inflight_full(it->second.inflight_full);
        for (int i = 0; i < 8; i++) {
          if (!it->second.shed[i]) continue;
          (*c.mutable_shed_by_kind())[vigil::kShedSlotKinds[i]] += it->second.shed[i];
          shed += it->second.shed[i];
        }
      }
      if (auto it = drops.find(cg); it != drops.end()) {
        c.set_queue_full(it->second.full);
        for (const auto& [kind, n] : it->second.shed_by_kind) (*c.mutable_shed_by_kind())[kind] += n;
        shed += it->second.shed;
      }
      c.set_shed(shed);
      Sent& was = sent[cg];
      uint64_t growth = (c.ringbuf_full() - was.ringbuf_full) + (c.inflight_full() - was.inflight_full) +
                        (c.queue_full() - was.queue_full) + (c.shed() - was.shed);
      if (growth == 0) return;
      was = {c.ringbuf_full(), c.inflight_full(), c.queue_full(), c.shed()};
      grown.push_back({growth, std::move(c)});
    };
    for (const auto& [cg, _] : kernel_counts) fill(cg);
    for (const auto& [cg, _] : drops)
      if (!kernel_counts.count(cg)) fill(cg);
    std::sort(grown.begin(), grown.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    for (size_t i = 0; i < grown.size(); i++) {
      if (i >= 256) {
        // Left out: sent again, with the growth since, next time.
        sent[grown[i].second.cgroup_id()] = {};
        continue;
      }
      *r.add_cgroups() = std::move(grown[i].second);
    }
    stream.ReportLoss(r);
  };
  // The self-check (selfcheck.h), with each loss report: the allow lists,
  // larger, every fifth time.
  uint64_t checks = 0, tampered = 0;
  auto self_check = [&] {
    vigil::Findings found;
    std::vector<std::string> watched;
    loader.CheckState(&found, &watched);
    responder.CheckState(checks % 5 == 0, &found, &watched);
    pins.Check(&found, &watched);
    checks++;
    tampered += found.size();
    vigil::v1::SelfCheck r;
    r.set_checks(checks);
    r.set_tampered(tampered);
    r.set_interval_ms(opt.loss_report_ms);
    for (const auto& w : watched) r.add_watched(w);
    for (const auto& f : found) {
      vigil::Log("error", "tampering: %s %s %s was %s, expected %s: %s", f.object.c_str(), f.name.c_str(), f.field.c_str(),
                 f.found.c_str(), f.expected.c_str(), f.restored ? "put back" : f.error.c_str());
      auto* t = r.add_found();
      t->set_object(f.object);
      t->set_name(f.name);
      t->set_field(f.field);
      t->set_found(f.found);
      t->set_expected(f.expected);
      t->set_restored(f.restored);
      t->set_error(f.error);
    }
    stream.ReportSelfCheck(r);
  };
  // Reading. Idle, the probe sleeps until a record wakes it: the kernel
  // wakes it for the first record after a quiet flush period (common.bpf.h).
  // While records flow it stops listening and reads on its own clock,
  // telling the kernel when it will read so records in between wake nobody.
  // Whatever a read finds is sent at once. So a record waits in the probe at
  // most about one flush period, and a steady flow costs one wakeup and one
  // batch per period whatever its rate (waking per record, or twice per
  // period as a kernel-paced and a timer-paced wakeup interleave, cost more
  // CPU than the events: context switches).
  //
  // The period follows the rate, once a flow has settled (below): each read
  // aims at `target` records (half a batch), so the next one is planned for
  // when that many should have come at the rate the last read saw, within
  // [flush period, longest period].
  // A batch costs the probe and the engine some 200-400 µs of CPU whatever
  // it carries: a slow sustained flow (a build: a few thousand events a
  // second) is read rarely, up to once per longest period (at 2 ms a build
  // cost a make -j2 a tenth more CPU), while a fast one (100K/s, ~200 a
  // read) is read every flush period, its records waiting no longer than
  // that. The period at most doubles from one read to the next (a lull of
  // one read does not stretch the next wait to the longest) and falls at
  // once when the rate rises. Isolated bursts (an exec and its opens) still
  // go out within 250 µs and end with an empty read, so the next burst
  // starts afresh.
  const auto period = std::chrono::milliseconds(opt.flush_ms);
  const auto longest = std::chrono::milliseconds(opt.flush_busy_ms);
  const int64_t target = std::max(1, opt.flush_target);
  // A flow is read every flush period until it has gone on this long
  // without an empty read: a trickle (the node's background, an event every
  // few milliseconds) then mostly ends in an empty read and its next event
  // wakes the probe at once, where a period grown past the flush period
  // would rarely find it empty and keep the trickle's events waiting for it.
  const auto settled = 4 * period;
  // Idle, the loop waits on the rings and on the stop eventfd: a signal
  // lands on whichever thread, and its handler wakes the loop through it
  // rather than leaving the stop to the loop's next look, 100 ms later.
  const int wait_fd = epoll_create1(EPOLL_CLOEXEC);
  g_stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  for (int fd : {ring_buffer__epoll_fd(rb), g_stop_fd}) {
    epoll_event ev = {};
    ev.events = EPOLLIN;
    if (wait_fd < 0 || fd < 0 || epoll_ctl(wait_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
      vigil::Log("error", "cannot wait for the ring buffers: %s", strerror(errno));
      return 1;
    }
  }
  // A wakeup after a quiet spell is mostly the first record of a burst (a
  // fork, then its exec, its opens): look again soon for the rest, then
  // less and less often up to the period.
  const Clock::duration soon = std::min<Clock::duration>(period, std::chrono::microseconds(250));
  Clock::duration interval = soon;
  bool flowing = false;
  Clock::time_point next_read{}, last_read{}, flow_began{};
  uint64_t flows = 0;  // reads that found records after an empty one: flows begun
  while (!g_stop) {
    if (flowing) {
      auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(next_read.time_since_epoch()).count();
      timespec at = {static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
      clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, nullptr);  // EINTR: a signal, read now
    } else {
      // Idle, wake for the next loss report and self-check (every second),
      // or every fairness tick while a workload is held or the budget is
      // growing back. No record waits for it: the kernel wakes the probe for
      // the first one after a read that found nothing (its quiet time is
      // lifted before this wait), and the ring's fd stays readable while
      // anything is unread. A 100 ms look cost an idle probe ten wakeups a
      // second (tens of µs each on a VM) and never found a record.
      auto wait = std::chrono::ceil<std::chrono::milliseconds>(last_report + std::chrono::milliseconds(opt.loss_report_ms) -
                                                             Clock::now());
      if (fairness.On() && !fairness.AtRest()) wait = std::min(wait, std::chrono::milliseconds(fairness.TickMs()));
      const int wait_ms = static_cast<int>(std::clamp<int64_t>(wait.count(), 0, opt.loss_report_ms));
      epoll_event ready[4];
      if (epoll_wait(wait_fd, ready, 4, wait_ms) < 0 && errno != EINTR) {
        vigil::Log("error", "waiting for the ring buffers failed: %s", strerror(errno));
        break;
      }
    }
    pump.read_now = 0;
    int n = ring_buffer__consume(rb);
    const bool cut = n == kReadMore;
    if (cut) n = pump.read_now;
    if (n < 0) {
      vigil::Log("error", "reading the ring buffers failed: %s", strerror(-n));
      break;
    }
    pump.Flush();
    auto now = Clock::now();
    // Something read (or a record still being written, where a read stops):
    // more is likely, so plan the next read and tell the kernel no record
    // need wake us before it. Nothing: back to waiting for a wakeup, which
    // the kernel sends for any record written after the planned read.
    const bool was_flowing = flowing;
    flowing = n > 0 || loader.RingUnread() > 0;
    const Clock::duration since_last = now - last_read;  // what this read's records came in
    last_read = now;
    if (flowing) {
      if (!was_flowing) {
        flows++;
        flow_began = now;
        interval = soon;
      } else {
        const Clock::duration grown = std::min<Clock::duration>(interval * 2, longest);
        if (interval < period || now - flow_began < settled) {
          interval = std::min<Clock::duration>(grown, period);  // a burst's first reads
        } else {
          // When `target` records should be there at the rate this read saw.
          const Clock::duration aim = n > 0 ? since_last * target / n : grown;
          if (aim > 4 * longest) {
            // A trickle (under a quarter of the aim per longest period: the
            // idle markers every 10 ms, the node's background) is read at
            // most every four flush periods, as before the period followed
            // the rate: reads longer than its gaps would never find it
            // empty, so never end the flow, and its events would wait for
            // them; reads shorter would cost a message a flush period.
            interval = std::clamp<Clock::duration>(std::min<Clock::duration>(grown, settled), period, longest);
          } else {
            interval = std::clamp<Clock::duration>(aim, period, grown);
          }
        }
      }
      // Cut short: the rest is read as soon as the tick and report below are done.
      next_read = cut ? now : now + interval;
      loader.QuietUntil(std::chrono::duration_cast<std::chrono::nanoseconds>(next_read.time_since_epoch()).count());
    } else if (was_flowing) {
      // A read that ended a flow early (a signal cut the sleep) must not
      // leave the kernel quiet until the read it no longer makes.
      loader.QuietUntil(std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count());
    }
    if (fairness.On() && now - last_fair >= std::chrono::milliseconds(fairness.TickMs())) {
      kernel_counts = loader.CgroupCountsAll();
      std::unordered_map<uint64_t, uint64_t> shed;
      for (const auto& [cg, c] : kernel_counts) {
        uint64_t n = 0;
        for (uint64_t s : c.shed) n += s;
        if (n) shed[cg] = n;
      }
      // A queue that grows while the engine is away says nothing of its pace: only a connected one's backlog shrinks the budget.
      const bool up = stream.Connected();
      fairness.Tick(std::chrono::duration<double>(now - last_fair).count(), up ? stream.Ahead() : 0, stream.Acked(),
                    up && stream.SlowQueued() > 0, shed);
      stream.SetDrainRate(fairness.Budget());
      last_fair = now;
    }
    if (now - last_report >= std::chrono::milliseconds(opt.loss_report_ms)) {
      self_check();
      report();
      last_report = now;
    }
  }

  // Drain what the kernel still holds, send it, then detach.
  for (int i = 0; i < 64; i++) {
    pump.read_now = 0;
    if (ring_buffer__consume(rb) != kReadMore) break;
    pump.Flush();
  }
  pump.Flush();
  report();
  stream.Stop(2000);
  ring_buffer__free(rb);
  vigil::Log("info", "probe stopped: %llu events read, %llu not delivered; %llu batches (%llu written by the reading thread), %llu flows",
             (unsigned long long)pump.events_total, (unsigned long long)stream.DroppedEvents(), (unsigned long long)stream.Batches(),
             (unsigned long long)stream.DirectBatches(), (unsigned long long)flows);
  // A stop on purpose (an upgrade, a restart) must not open the gap a
  // crash no longer opens: while a workload is enforced its pins stay,
  // unless the operator asked otherwise.
  if (pins.Pinned() && !opt.unpin_on_exit && responder.Enforcing()) {
    pins.Keep();
    drop_pins.kept = true;
    vigil::Log("info", "enforcement kept in force: %zu links pinned at %s (a new probe takes over; `vigil-probe --release-pinned --pin-dir %s` stops it)",
               pins.Pinned(), pins.Dir().c_str(), opt.pin_dir.c_str());
  } else if (pins.Pinned()) {
    vigil::Log("info", "enforcement unpinned: %s", opt.unpin_on_exit ? "--unpin-on-exit" : "no workload was enforced");
  }
  return 0;
}
