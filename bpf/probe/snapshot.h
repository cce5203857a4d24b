// The processes already running when the probe starts, read from /proc,
// so the engine's process tree is complete from the first event.
#pragma once
#include <string>
#include <vector>
#include "vigil/v1/probe.pb.h"

namespace vigil {

// The cgroup v2 mount point, from /proc/self/mountinfo ("" if none).
std::string FindCgroup2Mount();

// The cgroup v2 id of this process's own cgroup (0 if none or not found).
uint64_t OwnCgroupId(const std::string& cgroup2_mount);

std::vector<v1::ProcessInfo> SnapshotProcesses(const std::string& cgroup2_mount);

}  // namespace vigil
