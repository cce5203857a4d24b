// The processes already running when the probe starts, read from /proc,
// so the engine's process tree is complete from the first event.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>
#include "vigil/v1/probe.pb.h"

namespace vigil {

// The cgroup v2 mount point, from /proc/self/mountinfo ("" if none).
std::string FindCgroup2Mount();

// The cgroup v2 id of this process's own cgroup (0 if none or not found).
uint64_t OwnCgroupId(const std::string& cgroup2_mount);

// /proc/PID/cgroup paths to cgroup ids. Paths are relative to this
// process's cgroup namespace root ("/../../x" for a cgroup outside it):
// the root's directory is our own cgroup's with our own relative path
// taken off its end. A path that leaves the mounted cgroup tree (a
// namespaced cgroup2 mount shows only its subtree) resolves to nothing
// rather than to a wrong directory.
class CgroupPaths {
 public:
  explicit CgroupPaths(const std::string& mount);
  // The cgroup id of a process ("/proc/PID"); 0 when not found.
  uint64_t IdOf(const std::string& proc_dir) const;

 private:
  std::string root_;  // the directory of the namespace's root cgroup ("" : no ids)
  dev_t dev_ = 0;
};

// Whether /proc numbers pids as the initial pid namespace does (the
// probe shares the host's, hostPID): then the task iterator's tgids are
// /proc's pids.
bool ProcHasInitialPids();

// Every process in /proc. Its cgroup id comes from `kernel_ids` (tgid →
// id, the task iterator) when given and holding it, else from
// /proc/PID/cgroup, translated out of this process's cgroup namespace.
std::vector<v1::ProcessInfo> SnapshotProcesses(const std::string& cgroup2_mount,
                                               const std::unordered_map<uint32_t, uint64_t>* kernel_ids);

}  // namespace vigil
