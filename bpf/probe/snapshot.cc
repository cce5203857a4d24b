#include "snapshot.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace vigil {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string ReadLink(const std::string& path) {
  char buf[4096];
  ssize_t n = readlink(path.c_str(), buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, n) : std::string();
}

// The first (real) id on a "Uid:" or "Gid:" line of /proc/PID/status.
uint32_t StatusId(const std::string& status, const char* key) {
  size_t at = status.find(key);
  if (at == std::string::npos) return 0;
  return static_cast<uint32_t>(strtoul(status.c_str() + at + strlen(key), nullptr, 10));
}

// A hexadecimal "CapEff:" line of /proc/PID/status.
uint64_t StatusHex(const std::string& status, const char* key) {
  size_t at = status.find(key);
  if (at == std::string::npos) return 0;
  return strtoull(status.c_str() + at + strlen(key), nullptr, 16);
}

// The last pid on the "NSpid:" line: the pid in the process's own namespace.
uint32_t StatusVpid(const std::string& status, uint32_t pid) {
  size_t at = status.find("\nNSpid:");
  if (at == std::string::npos) return pid;
  size_t end = status.find('\n', at + 1);
  std::istringstream ids(status.substr(at + 7, end - at - 7));
  uint32_t id = pid, next;
  while (ids >> next) id = next;  // a failed read would zero `id` itself
  return id;
}

}  // namespace

std::string FindCgroup2Mount() {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    // "36 25 0:30 / /sys/fs/cgroup rw,... shared:9 - cgroup2 cgroup2 rw"
    size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream tail(line.substr(dash + 3));
    std::string fstype;
    tail >> fstype;
    if (fstype != "cgroup2") continue;
    std::istringstream head(line.substr(0, dash));
    std::string id, parent, devno, root, mount_point;
    head >> id >> parent >> devno >> root >> mount_point;
    return mount_point;
  }
  return "";
}

// The v2 path of /proc/PID/cgroup ("0::/path"), relative to the reader's cgroup namespace root.
static std::string CgroupPathOf(const std::string& proc_dir) {
  std::istringstream cg(ReadFile(proc_dir + "/cgroup"));
  std::string line;
  while (std::getline(cg, line))
    if (line.rfind("0::", 0) == 0) return line.substr(3);
  return "";
}

// Whether the cgroup directory `dir` holds process `pid` (as this pid namespace numbers it).
static bool ListsPid(const std::string& dir, pid_t pid) {
  std::istringstream procs(ReadFile(dir + "/cgroup.procs"));
  std::string line;
  const std::string want = std::to_string(pid);
  while (std::getline(procs, line))
    if (line == want) return true;
  return false;
}

// The cgroup directory below `dir` whose cgroup.procs lists `pid` ("" if none).
static std::string FindPid(const std::string& dir, pid_t pid, int depth) {
  if (ListsPid(dir, pid)) return dir;
  if (depth > 32) return "";
  DIR* d = opendir(dir.c_str());
  if (!d) return "";
  std::string found;
  while (dirent* de = readdir(d)) {
    if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    found = FindPid(dir + "/" + de->d_name, pid, depth + 1);
    if (!found.empty()) break;
  }
  closedir(d);
  return found;
}

// This process's cgroup directory under the mount ("" if not found).
static std::string OwnCgroupDir(const std::string& cgroup2_mount) {
  if (cgroup2_mount.empty()) return "";
  const std::string path = CgroupPathOf("/proc/self");
  std::string dir = path.empty() ? "" : cgroup2_mount + path;
  // In a private cgroup namespace (a container) that path is relative to the
  // namespace's root, not to the mounted tree: find the cgroup that lists us.
  if (dir.empty() || !ListsPid(dir, getpid())) dir = FindPid(cgroup2_mount, getpid(), 0);
  return dir;
}

uint64_t OwnCgroupId(const std::string& cgroup2_mount) {
  const std::string dir = OwnCgroupDir(cgroup2_mount);
  struct stat st;
  return !dir.empty() && stat(dir.c_str(), &st) == 0 ? st.st_ino : 0;
}

CgroupPaths::CgroupPaths(const std::string& mount) {
  struct stat st;
  if (mount.empty() || stat(mount.c_str(), &st) != 0) return;
  dev_ = st.st_dev;
  root_ = mount;
  const std::string own = CgroupPathOf("/proc/self"), dir = OwnCgroupDir(mount);
  if (own.empty() || dir.empty() || dir == mount + own) return;  // the host's namespace, or not found
  // dir = <ns root dir> + own (own is "/" at the namespace root itself).
  const std::string tail = own == "/" ? "" : own;
  if (dir.size() < tail.size() || dir.compare(dir.size() - tail.size(), tail.size(), tail) != 0) {
    root_.clear();  // cannot tell where the namespace's root is
    return;
  }
  root_ = dir.substr(0, dir.size() - tail.size());
}

uint64_t CgroupPaths::IdOf(const std::string& proc_dir) const {
  if (root_.empty()) return 0;
  const std::string path = CgroupPathOf(proc_dir);
  struct stat st;
  if (path.empty() || stat((root_ + path).c_str(), &st) != 0 || st.st_dev != dev_) return 0;
  return st.st_ino;
}

bool ProcHasInitialPids() {
  // The initial pid namespace's inode number is fixed (PROC_PID_INIT_INO);
  // one NSpid entry: /proc belongs to our own pid namespace.
  constexpr ino_t kInitPidNs = 0xEFFFFFFCU;
  struct stat st;
  if (stat("/proc/self/ns/pid", &st) != 0 || st.st_ino != kInitPidNs) return false;
  const std::string status = ReadFile("/proc/self/status");
  size_t at = status.find("\nNSpid:");
  if (at == std::string::npos) return true;  // before 4.1: no pid namespaces listed
  std::istringstream ids(status.substr(at + 7, status.find('\n', at + 1) - at - 7));
  int n = 0;
  uint32_t id;
  while (ids >> id) n++;
  return n == 1;
}

std::vector<v1::ProcessInfo> SnapshotProcesses(const std::string& cgroup2_mount,
                                               const std::unordered_map<uint32_t, uint64_t>* kernel_ids) {
  std::vector<v1::ProcessInfo> out;
  const CgroupPaths paths(cgroup2_mount);
  DIR* proc = opendir("/proc");
  if (!proc) return out;
  const long ticks = sysconf(_SC_CLK_TCK);
  while (dirent* de = readdir(proc)) {
    char* end;
    unsigned long pid = strtoul(de->d_name, &end, 10);
    if (*end != '\0' || pid == 0) continue;
    const std::string dir = std::string("/proc/") + de->d_name;

    // comm and ppid from stat; comm may hold spaces and parens, so parse
    // from the last ')'.
    std::string stat_line = ReadFile(dir + "/stat");
    size_t open = stat_line.find('('), close = stat_line.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;  // exited meanwhile
    v1::ProcessInfo p;
    p.set_pid(pid);
    p.set_comm(stat_line.substr(open + 1, close - open - 1));
    std::istringstream fields(stat_line.substr(close + 2));
    std::string state;
    unsigned long ppid = 0, pgrp = 0, session = 0;
    long tty_nr = 0;
    fields >> state >> ppid >> pgrp >> session >> tty_nr;
    std::string skip;
    for (int i = 0; i < 14; i++) fields >> skip;  // fields 8..21
    unsigned long long start_ticks = 0;
    fields >> start_ticks;
    p.set_ppid(ppid);
    // tty_nr packs major in bits 8-15 and minor in bits 0-7 and 20-31.
    if (tty_nr) p.set_tty((((tty_nr >> 8) & 0xfff) << 20) | ((tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00)));
    if (ticks > 0) p.set_start_ktime_ns(start_ticks * (1000000000ULL / ticks));

    std::string status = ReadFile(dir + "/status");
    p.set_uid(StatusId(status, "\nUid:"));
    p.set_gid(StatusId(status, "\nGid:"));
    p.set_cap_effective(StatusHex(status, "\nCapEff:"));
    p.set_cap_permitted(StatusHex(status, "\nCapPrm:"));
    p.set_vpid(StatusVpid(status, pid));
    std::string loginuid = ReadFile(dir + "/loginuid");
    p.set_loginuid(loginuid.empty() ? 4294967295u : static_cast<uint32_t>(strtoul(loginuid.c_str(), nullptr, 10)));
    p.set_exe(ReadLink(dir + "/exe"));
    p.set_cwd(ReadLink(dir + "/cwd"));
    std::string cmdline = ReadFile(dir + "/cmdline");
    size_t i = 0;
    while (i < cmdline.size()) {
      size_t n = strnlen(cmdline.c_str() + i, cmdline.size() - i);
      p.add_argv(cmdline.substr(i, n));
      i += n + 1;
    }
    uint64_t cgroup_id = 0;
    if (kernel_ids) {
      auto k = kernel_ids->find(pid);
      if (k != kernel_ids->end()) cgroup_id = k->second;
    }
    if (!cgroup_id) cgroup_id = paths.IdOf(dir);  // started after the iterator ran, or no iterator
    if (cgroup_id) p.set_cgroup_id(cgroup_id);
    out.push_back(std::move(p));
  }
  closedir(proc);
  return out;
}

}  // namespace vigil
