// Loads the kernel programs (skeleton), attaches them, and reads their
// loss counters. Destroying the Loader detaches everything.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

struct vigil_bpf;
struct ring_buffer;
struct bpf_link;

namespace vigil {

struct KernelLosses {
  uint64_t ringbuf_full = 0;
  uint64_t inflight_full = 0;
  uint64_t packets_lost = 0;
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
  bool Start(uint32_t ringbuf_bytes, std::string* error);
  // Attaches the connect-refusing programs at the cgroup v2 root, where
  // they see every connect and act only for cgroups under an enforce policy.
  bool AttachConnectHooks(const std::string& cgroup2_mount, std::string* error);
  // Events from these thread groups are not reported.
  bool Exclude(uint32_t tgid, std::string* error);
  KernelLosses Losses() const;
  int RingBufferFd() const;
  int PacketRingBufferFd() const;
  const std::vector<std::string>& Hooks() const { return hooks_; }
  vigil_bpf* Skeleton() const { return skel_; }

 private:
  vigil_bpf* skel_ = nullptr;
  std::vector<std::string> hooks_;
  std::vector<struct bpf_link*> cgroup_links_;
};

}  // namespace vigil
