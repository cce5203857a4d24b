// Enforcement policies → the kernel's maps (bpf/maps.h): which
// executables a workload may run, where it may connect, what it may
// write below the protected paths.
#pragma once
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "vigil/v1/probe.pb.h"

struct vigil_bpf;

namespace vigil {

uint64_t Fnv1a(const std::string& bytes);
// "/usr/bin/echo" → "echo\0bin\0usr\0": how the kernel walks an executable's path.
std::string LeafFirst(const std::string& absolute_path);

class PolicyMaps {
 public:
  explicit PolicyMaps(vigil_bpf* skel) : skel_(skel) {}
  // Replaces one policy root's policy. New allow entries go in before the
  // switch flips and stale ones go after, so nothing allowed is ever
  // killed in between.
  bool Set(const v1::SetPolicy& policy, std::string* error, std::string* detail);
  bool SetProtected(const v1::SetProtectedPaths& paths, std::string* error, std::string* detail);

 private:
  void Publish();

  std::mutex mu_;
  vigil_bpf* skel_;
  std::map<uint64_t, uint32_t> flags_;  // policy root → VIGIL_ENFORCE_*
};

}  // namespace vigil
