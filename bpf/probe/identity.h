// Hard links to sensitive files: a second name of /etc/shadow opens the
// same inode, and no walk of dentries shows the other name. An open of a
// file with more than one link is checked against the identity (device,
// inode) of the sensitive files as the opening process sees them
// (/proc/PID/root/…); a match names the event's file by the sensitive
// path and flags it (PATH_HARDLINK), keeping the name used in path_raw.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <initializer_list>
#include <map>
#include <tuple>
#include <string>
#include <utility>
#include <vector>

#include "vigil/v1/probe.pb.h"

namespace vigil {

class SensitiveFiles {
 public:
  // The credential files Falco's sensitive_file_names and Vigil's rules name.
  static const std::vector<std::string>& Defaults();
  explicit SensitiveFiles(std::vector<std::string> paths) : paths_(std::move(paths)) {}

  // An open event of a multiply-linked regular file, decoded: renamed in
  // place when it is a sensitive file. `root_dev`/`root_ino`: the opener's
  // root directory as the kernel saw it at the open (events.h). Returns
  // whether it was renamed.
  bool Check(v1::Event* e, uint64_t root_dev, uint64_t root_ino);

  uint64_t lookups() const { return lookups_; }
  uint64_t unknown_roots() const { return unknown_roots_; }

 private:
  struct Root {
    std::chrono::steady_clock::time_point seen;
    std::vector<std::pair<std::pair<uint64_t, uint64_t>, std::string>> files;  // ((dev, ino), path)
  };
  // The sensitive files under the root (dev, ino), looked up through a
  // process that still has that root: the opener, its parent, or the probe.
  const Root* RootOf(std::pair<uint64_t, uint64_t> root, std::initializer_list<uint32_t> pids);

  std::vector<std::string> paths_;
  std::map<std::pair<uint64_t, uint64_t>, Root> roots_;  // by the root directory's (kernel dev, ino)
  uint64_t lookups_ = 0;
  uint64_t unknown_roots_ = 0;
};

}  // namespace vigil

namespace vigil {

// The content of executables: a sha256 per (device, inode, change time),
// so a renamed or copied tool is known by what it is. The file is read
// through a process that has the executable's root (the one that ran it,
// its parent, or the probe for the host), and used only if it is the very
// inode the kernel ran.
class ExeHasher {
 public:
  // Fills ExecEvent.exe_sha256 of a decoded exec event; `ctime_ns` from
  // the kernel record. Returns whether it could.
  bool Fill(v1::Event* e, int64_t ctime_ns);

  uint64_t hashed() const { return hashed_; }
  uint64_t unreadable() const { return unreadable_; }

 private:
  struct Key {
    uint64_t dev, ino;
    int64_t ctime;
    bool operator<(const Key& o) const { return std::tie(dev, ino, ctime) < std::tie(o.dev, o.ino, o.ctime); }
  };
  std::map<Key, std::string> cache_;
  uint64_t hashed_ = 0;
  uint64_t unreadable_ = 0;
};

}  // namespace vigil
