// Loads the kernel programs (skeleton), attaches them, and reads their
// loss counters. Destroying the Loader detaches everything.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "pinning.h"
#include "selfcheck.h"

struct vigil_bpf;
struct ring_buffer;
struct bpf_link;

namespace vigil {

struct KernelLosses {
  uint64_t ringbuf_full = 0;
  uint64_t inflight_full = 0;
  uint64_t packets_lost = 0;
  uint64_t deduplicated = 0;  // not a loss: repeats counted in the kernel
  uint64_t dns_dropped = 0;   // DNS answers over a workload's per-second budget
  uint64_t shed = 0;          // not a loss: over a workload's fair share, counted (fair.bpf.h)
};

// One cgroup's counts, kept by the kernel (fair.bpf.h), cumulative.
struct CgroupCounts {
  uint64_t shed[8] = {};  // by VIGIL_SHED_* slot
  uint64_t sampled = 0;
  uint64_t ringbuf_full = 0;
  uint64_t inflight_full = 0;
};
// The event kind each VIGIL_SHED_* slot counts, as the wire names it.
extern const char* const kShedSlotKinds[8];

// Settings fixed when the programs load.
struct LoadOptions {
  uint32_t ringbuf_bytes = 1 << 22;
  // A record wakes the probe only this long or more after its last read
  // or wakeup (common.bpf.h): the probe's flush period.
  uint64_t wakeup_gap_ns = 1000000;
  // In-kernel de-duplication window (dedup.bpf.h); 0 turns it off.
  uint64_t dedup_window_ns = 10ULL * 1000000000;
  bool dedup_per_workload = false;
  // Fairness on (fair.bpf.h): the ring's last quarter kept for events never shed.
  bool fairness = true;
};

// How one enforced operation is stopped on this kernel, strongest first.
enum class Mechanism {
  kLsm,      // BPF LSM hook: denied with EPERM before anything changes
  kFmodRet,  // fmod_ret on the security_* function: the same, where the BPF LSM is not active
  kCgroup,   // cgroup/connect4|6: the connect refused with EPERM
  kKill,     // SIGKILL at syscall entry: the call completes, the process dies on its way back
  kNone,     // not stopped in the kernel (the engine kills after the event, if it sees one)
};
const char* MechanismName(Mechanism m);

// In Hello's hooks when the snapshot's cgroups come from the task iterator.
constexpr const char* kTaskIterHook = "iter/task:cgroups";

struct EnforcementHook {
  std::string operation;  // "open-write", "create", ..., "exec", "connect"
  Mechanism mechanism = Mechanism::kNone;
  std::string program;    // the kernel program that does it ("lsm/file_open"), empty for none
  std::string why;        // why not a stronger mechanism, when it is not the strongest
};

// A program the kernel would not take, and why (the verifier's own words
// when it was the verifier).
struct ProgramCheck {
  std::string name, section;
  enum { kOk, kSkip, kFail } status = kOk;
  std::string reason;
};

class Loader {
 public:
  Loader() = default;
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  // Opens, sizes the ring buffer, loads and attaches the tracepoints. On
  // failure returns false with the reason in `error`. The cgroup programs
  // (enforcement, quarantine, capture) are loaded but attached separately.
  bool Start(const LoadOptions& options, std::string* error);
  // Attaches the connect-refusing programs at the cgroup v2 root, where
  // they see every connect and act only for cgroups under an enforce policy.
  bool AttachConnectHooks(const std::string& cgroup2_mount, std::string* error);
  // Events from these thread groups are not reported.
  bool Exclude(uint32_t tgid, std::string* error);
  KernelLosses Losses() const;
  // Every process's cgroup v2 id, by tgid in the initial pid namespace,
  // read by the task iterator (bpf/snapshot.bpf.h): what events carry,
  // whatever the probe's cgroup namespace. False (and why) where the
  // kernel refused the iterator; the caller then reads /proc.
  bool TaskCgroups(std::unordered_map<uint32_t, uint64_t>* out, std::string* error) const;
  // Every cgroup's counts the kernel keeps (losses, fairness shedding).
  std::unordered_map<uint64_t, CgroupCounts> CgroupCountsAll() const;
  // Holds a workload's sheddable events to `per_sec` (bursts of `burst`),
  // one in `sample_every` of the rest still sent (fair.bpf.h); 0 releases it.
  bool HoldCgroup(uint64_t cgroup_id, uint64_t per_sec, uint64_t burst, uint32_t sample_every);
  void ReleaseCgroup(uint64_t cgroup_id);
  int RingBufferFd() const;
  int PacketRingBufferFd() const;
  // Bytes in the event ring not yet consumed, committed or still being
  // written (read from the ring's own position pages).
  uint64_t RingUnread() const;
  // Tells the kernel programs the probe reads again at `monotonic_ns`
  // (CLOCK_MONOTONIC): no record wakes it before then.
  void QuietUntil(uint64_t monotonic_ns);
  const std::vector<std::string>& Hooks() const { return hooks_; }
  // Which mechanism each enforced operation got at Start (the connect row
  // is settled by AttachConnectHooks).
  const std::vector<EnforcementHook>& Enforcement() const { return enforcement_; }
  // Loads each program of the object on its own, as Start would configure
  // it, and says which load, which are skipped (and why) and which fail
  // (with the verifier's message). Nothing is attached.
  static std::vector<ProgramCheck> CheckPrograms(const LoadOptions& options);
  vigil_bpf* Skeleton() const { return skel_; }
  // Pins the links of the programs that enforce on this kernel (the
  // denying hooks, the connect and DNS hooks, exec and process tracking,
  // the syscall entries that kill where no hook denies) in `pins`, which
  // the self-check then keeps up to date. Returns how many; `why` says
  // what failed.
  size_t PinEnforcement(Pinning* pins, std::string* why);
  // The self-check's part here: the excluded pids as Exclude wrote them,
  // every program still attached (a cgroup link detached is attached
  // again). Appends what it found and, to `watched`, what it checks.
  void CheckState(Findings* out, std::vector<std::string>* watched);

 private:
  vigil_bpf* skel_ = nullptr;
  bool Configure(const LoadOptions& options, std::string* error);
  std::vector<std::string> hooks_;
  std::vector<EnforcementHook> enforcement_;
  struct CgroupLink {
    struct bpf_link* link;
    struct bpf_program* prog;
    uint32_t prog_id;
    std::string name;  // "cgroup/connect4"
  };
  std::vector<CgroupLink> cgroup_links_;  // attached at the cgroup v2 root
  struct bpf_link* task_iter_ = nullptr;   // the snapshot's task iterator, if the kernel took it
  std::string cgroup2_mount_;
  std::vector<uint32_t> excluded_;        // as Exclude wrote them
  std::vector<uint32_t> prog_ids_;        // the skeleton's programs' ids, by index
  const volatile uint64_t* ring_positions_ = nullptr;  // consumer page, then producer page
  size_t page_ = 0;
  uint64_t wakeup_gap_ns_ = 0;
  size_t held_ = 0;  // entries in fair_limits
  Pinning* pins_ = nullptr;
};

}  // namespace vigil
