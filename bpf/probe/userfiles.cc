#include "userfiles.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace vigil {

namespace {

std::string Signature(const struct stat& s) {
  return std::to_string(s.st_dev) + ":" + std::to_string(s.st_ino) + ":" + std::to_string(s.st_size) + ":" +
         std::to_string(uint64_t(s.st_mtim.tv_sec) * 1000000000ull + s.st_mtim.tv_nsec) + ":" +
         std::to_string(uint64_t(s.st_ctim.tv_sec) * 1000000000ull + s.st_ctim.tv_nsec);
}

// etc/<name> below `root`, without following a symlink: etc opened
// O_NOFOLLOW|O_DIRECTORY, the file relative to it (openat) O_NOFOLLOW|
// O_NONBLOCK (a FIFO must not block the probe's command thread), a regular
// file only, at most kMaxBytes. The content only when the signature is not `known`.
void ReadEtcFile(const std::string& root, const char* name, const std::string& known, v1::UserFile* out) {
  out->set_name(name);
  int dir = open((root + "/etc").c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dir < 0) {
    out->set_error(errno == ELOOP || errno == ENOTDIR ? std::string("etc/") + name + " or etc is a symlink (not followed)"
                                                      : std::string("etc: ") + strerror(errno));
    return;
  }
  int fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  int err = errno;
  close(dir);
  if (fd < 0) {
    out->set_error(err == ELOOP || err == ENOTDIR ? std::string("etc/") + name + " or etc is a symlink (not followed)"
                                : std::string("etc/") + name + ": " + strerror(err));
    return;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    out->set_error(std::string("etc/") + name + " is not a regular file");
    return;
  }
  out->set_signature(Signature(st));
  if (out->signature() == known) {
    out->set_unchanged(true);
    close(fd);
    return;
  }
  const uint64_t size = std::min<uint64_t>(st.st_size, UserFiles::kMaxBytes);
  std::string* buf = out->mutable_content();
  buf->resize(size);
  uint64_t got = 0;
  while (got < size) {
    ssize_t n = pread(fd, buf->data() + got, size - got, got);
    if (n <= 0) break;
    got += n;
  }
  buf->resize(got);
  out->set_truncated(uint64_t(st.st_size) > UserFiles::kMaxBytes);
  close(fd);
}

}  // namespace

UserFiles::UserFiles(std::string cgroup2_mount)
    : mount_(std::move(cgroup2_mount)), paths_(mount_), last_(std::chrono::steady_clock::now()) {}

bool UserFiles::Take(double cost, double* tokens, double rate, double burst, double elapsed) {
  *tokens = std::min(burst, *tokens + elapsed * rate);
  if (*tokens < cost) return false;
  *tokens -= cost;
  return true;
}

bool UserFiles::Read(const v1::ReadUserFiles& r, v1::CommandAck* ack, std::string* error, std::string* detail) {
  {
    // Node-wide, whichever container asks: the engine asks once per
    // container and then at most every 100 ms per container for an id its
    // files do not name; past this the engine hears "over the rate" and
    // asks again later.
    std::lock_guard<std::mutex> lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    const double elapsed = std::chrono::duration<double>(now - last_).count();
    last_ = now;
    bytes_ = std::min(kBytesPerSecond, bytes_ + elapsed * kBytesPerSecond);
    const uint64_t key = r.node() ? 0 : r.cgroup_id();
    auto it = cgroups_.find(key);
    if (it == cgroups_.end()) {
      // Bounded: a full table starts over (every cgroup gets its burst back, the node's budget still holds).
      if (cgroups_.size() >= kCgroupsKept) cgroups_.clear();
      it = cgroups_.emplace(key, Bucket{kPerCgroupBurst, now}).first;
    }
    Bucket& b = it->second;
    const double since = std::chrono::duration<double>(now - b.at).count();
    b.at = now;
    if (!Take(1, &b.tokens, kPerCgroupPerSecond, kPerCgroupBurst, since)) {
      *error = "over the probe's rate of user file reads for this cgroup (2 a second, 5 at once): asked again later";
      return false;
    }
    if (bytes_ <= 0 || !Take(1, &requests_, kPerSecond, kBurst, elapsed)) {
      *error = "over the probe's rate of user file reads (20 a second, 16 MiB a second): asked again later";
      return false;
    }
  }
  const char* names[2] = {"passwd", "group"};
  const std::string known[2] = {r.known_passwd(), r.known_group()};
  if (r.node()) {
    // The node's files: pid 1 of the node's pid namespace (hostPID).
    for (int i = 0; i < 2; i++) {
      auto* f = ack->add_files();
      ReadEtcFile("/proc/1/root", names[i], known[i], f);
      f->set_pid(1);
    }
  } else {
    if (r.cgroup_id() == 0) {
      *error = "no cgroup id to check the process against";
      return false;
    }
    int tried = 0;
    bool read = false;
    std::string why = "no process of the cgroup to read through";
    for (uint32_t pid : r.pids()) {
      if (pid == 0 || tried++ >= kMaxPids) continue;
      const std::string proc = "/proc/" + std::to_string(pid);
      if (paths_.IdOf(proc) != r.cgroup_id()) continue;
      // A container's first process may still be at the node's root (runc
      // init before pivot_root): its etc would be the node's, not the container's.
      struct stat root, own, init;
      if (stat((proc + "/root").c_str(), &root) == 0 &&
          ((stat("/", &own) == 0 && own.st_dev == root.st_dev && own.st_ino == root.st_ino) ||
           (stat("/proc/1/root", &init) == 0 && init.st_dev == root.st_dev && init.st_ino == root.st_ino))) {
        why = "pid " + std::to_string(pid) + " is still at the node's root (its container is starting)";
        continue;
      }
      v1::CommandAck attempt;
      for (int i = 0; i < 2; i++) {
        auto* f = attempt.add_files();
        ReadEtcFile(proc + "/root", names[i], known[i], f);
        f->set_pid(pid);
      }
      // Gone, or its pid now another's: what was read may not be the container's.
      if (paths_.IdOf(proc) != r.cgroup_id()) continue;
      // An exited process not yet reaped is in its cgroup without a root: try the next.
      if (attempt.files(0).error().find("etc: ") == 0 && attempt.files(1).error().find("etc: ") == 0) {
        why = attempt.files(0).error() + " through pid " + std::to_string(pid);
        continue;
      }
      ack->mutable_files()->Swap(attempt.mutable_files());
      read = true;
      break;
    }
    if (!read) {
      *error = why;
      return false;
    }
  }
  uint64_t sent = 0;
  for (const auto& f : ack->files()) sent += f.content().size();
  {
    std::lock_guard<std::mutex> lock(mu_);
    bytes_ -= double(sent);  // may go below zero: later requests wait until it is paid back
  }
  *detail = "user files of " + (r.node() ? std::string("the node") : "cgroup " + std::to_string(r.cgroup_id())) +
            " through pid " + std::to_string(ack->files(0).pid()) + ": " + std::to_string(sent) + " bytes";
  return true;
}

}  // namespace vigil
