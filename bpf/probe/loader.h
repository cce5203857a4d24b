// Loads the kernel programs (skeleton), attaches them, and reads their
// loss counters. Destroying the Loader detaches everything.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

struct vigil_bpf;
struct ring_buffer;

namespace vigil {

struct KernelLosses {
  uint64_t ringbuf_full = 0;
  uint64_t inflight_full = 0;
};

class Loader {
 public:
  Loader() = default;
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  // Opens, sizes the ring buffer, loads and attaches. On failure returns
  // false with the reason in `error`.
  bool Start(uint32_t ringbuf_bytes, std::string* error);
  // Events from these thread groups are not reported.
  bool Exclude(uint32_t tgid, std::string* error);
  KernelLosses Losses() const;
  int RingBufferFd() const;
  const std::vector<std::string>& Hooks() const { return hooks_; }

 private:
  vigil_bpf* skel_ = nullptr;
  std::vector<std::string> hooks_;
};

}  // namespace vigil
