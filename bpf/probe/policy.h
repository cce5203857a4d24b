// Enforcement policies → the kernel's maps (bpf/maps.h): which
// executables a workload may run, where it may connect, what it may
// write below the protected paths.
#pragma once
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "selfcheck.h"
#include "vigil/v1/probe.pb.h"

struct vigil_bpf;
struct bpf_map;

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
  // Whether any policy root is under a policy now.
  bool Active() {
    std::lock_guard<std::mutex> lock(mu_);
    return !flags_.empty();
  }
  // The self-check's part here: the policy switches, the policy maps and
  // the protected paths hold what this probe last wrote (anything else is
  // put back). The allow lists, larger, are compared when `allow_lists`.
  void CheckState(bool allow_lists, Findings* out, std::vector<std::string>* watched);

 private:
  void Publish();
  // What this probe wrote into one map, key bytes → value bytes.
  using Entries = std::map<std::string, std::string>;
  void Remember(const char* map, size_t root_offset, uint64_t root, const Entries& want);
  bool CheckMap(::bpf_map* map, const Entries& want, Findings* out);

  std::mutex mu_;
  vigil_bpf* skel_;
  std::map<uint64_t, uint32_t> flags_;  // policy root → VIGIL_ENFORCE_*
  uint32_t gen_ = 0;                    // policy_gen as last written
  std::map<std::string, Entries> written_;  // map name → its entries as written
};

}  // namespace vigil
