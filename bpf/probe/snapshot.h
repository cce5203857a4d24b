// The processes already running when the probe starts, read from /proc,
// so the engine's process tree is complete from the first event.
#pragma once
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
