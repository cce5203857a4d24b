// A container's /etc/passwd and /etc/group, read for the engine
// (ReadUserFiles, proto/vigil/v1/probe.proto): the engine has no
// CAP_SYS_PTRACE, which reading another process's /proc/<pid>/root takes;
// the probe holds it already for its process snapshot. The files are the
// container's, so an attacker's: read as the engine reads them itself
// (src/detect/rules/container-files.ts), and at a bounded rate, so a
// container that makes the engine ask often cannot make the probe read
// files in a loop.
#pragma once
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "snapshot.h"
#include "vigil/v1/probe.pb.h"

namespace vigil {

class UserFiles {
 public:
  explicit UserFiles(std::string cgroup2_mount);
  // Fills ack->files, or says why not (ok false): no pid in the cgroup, over the rate.
  bool Read(const v1::ReadUserFiles& r, v1::CommandAck* ack, std::string* error, std::string* detail);

  static constexpr uint64_t kMaxBytes = 4u << 20;   // of one file
  static constexpr int kMaxPids = 8;                 // tried per request
  static constexpr double kPerSecond = 20;           // requests a second, node-wide
  static constexpr double kBurst = 40;
  static constexpr double kBytesPerSecond = 16 << 20;  // content sent a second, node-wide
  // Per cgroup, within the node's: one container asking in a loop cannot
  // spend the node's budget on its own (a starting container's first ask
  // and its retries, five, pass at once).
  static constexpr double kPerCgroupPerSecond = 2;
  static constexpr double kPerCgroupBurst = 5;
  static constexpr size_t kCgroupsKept = 4096;

 private:
  bool Take(double cost, double* tokens, double rate, double burst, double elapsed);

  std::string mount_;
  CgroupPaths paths_;
  std::mutex mu_;
  std::chrono::steady_clock::time_point last_;
  double requests_ = kBurst;
  double bytes_ = kBytesPerSecond;
  struct Bucket {
    double tokens;
    std::chrono::steady_clock::time_point at;
  };
  std::unordered_map<uint64_t, Bucket> cgroups_;  // cgroup id (0: the node's files) → its budget
};

}  // namespace vigil
