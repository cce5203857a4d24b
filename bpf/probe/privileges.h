// Least privilege: once its programs are loaded and attached, the probe
// keeps only the capabilities its later work needs (README, Security) and
// gives up every other one for good — effective, permitted, inheritable,
// ambient and the bounding set — however it was started (`vigil run`
// starts it as root with all of them; the DaemonSet grants only these).
#pragma once
#include <string>

namespace vigil {

// Drops every capability but CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN,
// CAP_SYS_PTRACE and CAP_KILL. On success `kept` names what is left
// ("bpf, perfmon, ..."); on failure `error` says what could not be dropped.
bool DropCapabilities(std::string* kept, std::string* error);

}  // namespace vigil
