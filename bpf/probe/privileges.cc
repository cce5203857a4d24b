#include "privileges.h"

#include <errno.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

namespace vigil {
namespace {

struct Kept {
  int cap;
  const char* name;
  const char* why;
};

// What each one is for after start-up (a capability only start-up needs
// is not here: loading ran before the drop).
constexpr Kept kKeep[] = {
    {CAP_BPF, "bpf", "maps and programs: policies, quarantine and capture attached on demand"},
    {CAP_PERFMON, "perfmon", "tracing programs and their maps"},
    {CAP_NET_ADMIN, "net_admin", "cgroup programs: quarantine, capture, connect refusal"},
    {CAP_SYS_PTRACE, "sys_ptrace", "other users' /proc/PID/exe and cwd for the process snapshot"},
    {CAP_KILL, "kill", "killing a process of another user"},
};

bool IsKept(int cap) {
  for (const auto& k : kKeep)
    if (k.cap == cap) return true;
  return false;
}

int LastCap() {
  int last = CAP_BPF;
  if (FILE* f = fopen("/proc/sys/kernel/cap_last_cap", "r")) {
    if (fscanf(f, "%d", &last) != 1) last = CAP_BPF;
    fclose(f);
  }
  return last;
}

}  // namespace

bool DropCapabilities(std::string* kept, std::string* error) {
  // Capabilities belong to a thread: dropped before any other thread starts, every later one inherits the drop.
  int threads = 0;
  if (FILE* f = fopen("/proc/self/status", "r")) {
    char line[256];
    while (fgets(line, sizeof(line), f))
      if (sscanf(line, "Threads: %d", &threads) == 1) break;
    fclose(f);
  }
  if (threads != 1) {
    *error = "the probe runs " + std::to_string(threads) + " threads; capabilities must be dropped while it runs one";
    return false;
  }
  __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &hdr, data) != 0) {
    *error = std::string("capget: ") + strerror(errno);
    return false;
  }
  // The bounding set first: dropping from it takes CAP_SETPCAP, which goes with the rest below.
  // Without CAP_SETPCAP (a container granted only the five) what stays in the bounding set is
  // in no other set, and no_new_privs (below) keeps any exec from bringing it back: said, not fatal.
  const int last = LastCap();
  std::string kept_in_bounding;
  for (int cap = 0; cap <= last; cap++) {
    if (IsKept(cap) || prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != 1) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
      if (errno != EPERM) {
        *error = "cannot drop capability " + std::to_string(cap) + " from the bounding set: " + strerror(errno);
        return false;
      }
      kept_in_bounding += (kept_in_bounding.empty() ? "" : ",") + std::to_string(cap);
    }
  }
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    *error = std::string("cannot clear the ambient capabilities: ") + strerror(errno);
    return false;
  }
  uint32_t keep[2] = {0, 0};
  for (const auto& k : kKeep) keep[k.cap / 32] |= 1u << (k.cap % 32);
  kept->clear();
  for (const auto& k : kKeep) {
    if (!(data[k.cap / 32].permitted & (1u << (k.cap % 32)))) continue;
    if (!kept->empty()) *kept += ", ";
    *kept += k.name;
  }
  for (int i = 0; i < 2; i++) {
    data[i].permitted &= keep[i];
    data[i].effective = data[i].permitted;
    data[i].inheritable = 0;
  }
  if (syscall(SYS_capset, &hdr, data) != 0) {
    *error = std::string("capset: ") + strerror(errno);
    return false;
  }
  // Nothing it could exec would get more back (the probe execs nothing; this makes it so).
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    *error = std::string("cannot set no_new_privs: ") + strerror(errno);
    return false;
  }
  if (!kept_in_bounding.empty())
    *kept += "; still in the bounding set, in no other set, without CAP_SETPCAP to drop them: " + kept_in_bounding;
  return true;
}

}  // namespace vigil
