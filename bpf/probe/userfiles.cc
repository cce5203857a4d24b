#include "userfiles.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "log.h"

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

bool UserFiles::Admit(const v1::ReadUserFiles& r, std::string* error) {
  {
    // Node-wide, whichever container asks: the engine asks once per
    // container and then at most every 100 ms per container for an id its
    // files do not name; past this the engine hears "over the rate" and
    // asks again later.
    std::lock_guard<std::mutex> lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    // Backed off: a read of this cgroup's files hung (before any budget is spent on it).
    if (auto s = stalled_.find(KeyOf(r)); s != stalled_.end()) {
      if (s->second.hung > 0) {
        *error = "backed off: a read of " + std::string(r.node() ? "the node's" : "this cgroup's") +
                 " files timed out and has not returned (a filesystem under its /etc not answering: FUSE, NFS); not read again until it does";
        return false;
      }
      // The same words for the whole back-off: the engine says a new reason each time it changes.
      if (now < s->second.at + kBackOff) {
        *error = "backed off: a read of " + std::string(r.node() ? "the node's" : "this cgroup's") +
                 " files timed out (a filesystem under its /etc not answering: FUSE, NFS); not read again until " +
                 std::to_string(kBackOff.count()) + " s after";
        return false;
      }
      stalled_.erase(s);
    }
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
  return true;
}

void UserFiles::Hung(uint64_t key) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  // Bounded: back-offs over are let go first (each entry is a timeout, so a hung reader thread or a recent one).
  if (stalled_.size() >= kCgroupsKept)
    for (auto it = stalled_.begin(); it != stalled_.end();)
      it = it->second.hung == 0 && it->second.at + kBackOff <= now ? stalled_.erase(it) : std::next(it);
  Stall& s = stalled_[key];
  s.hung++;
  s.at = now;
}

void UserFiles::Returned(uint64_t key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = stalled_.find(key);
  if (it != stalled_.end() && it->second.hung > 0) it->second.hung--;
}

bool UserFiles::Read(const v1::ReadUserFiles& r, v1::CommandAck* ack, std::string* error, std::string* detail) {
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
      // An exited process not yet reaped is in its cgroup without a root: try the next. Either file
      // failing at etc itself is enough: a process exiting between the two reads left one read and
      // one "etc: No such file or directory", not the container's files.
      if (attempt.files(0).error().find("etc: ") == 0 || attempt.files(1).error().find("etc: ") == 0) {
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

void FinishAck(v1::CommandAck* ack, bool ok, const std::string& error, const std::string& detail) {
  ack->set_ok(ok);
  if (ok) ack->set_detail(detail);
  else ack->set_error(error);
}

// One reader thread's hand-over with the supervisor: a request in, its
// answer out. Shared: a reader thread left hung holds it until its read
// returns (if ever), after the supervisor and even the probe's objects are gone.
struct UserFilesReader::Slot {
  std::mutex mu;
  std::condition_variable cv;
  bool has_job = false;
  bool done = false;
  bool abandoned = false;  // timed out (answered already), or the reader is stopping
  v1::ReadUserFiles req;
  v1::CommandAck ack;
  bool ok = false;
  std::string error, detail;
};

namespace {

void ReadLoop(std::shared_ptr<UserFilesReader::Slot> slot, std::shared_ptr<UserFiles> files,
              std::shared_ptr<std::atomic<int>> hung);

}  // namespace

UserFilesReader::UserFilesReader(std::shared_ptr<UserFiles> files, std::chrono::milliseconds timeout)
    : files_(std::move(files)), timeout_(timeout) {}

UserFilesReader::~UserFilesReader() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  if (supervisor_.joinable()) supervisor_.join();
  if (slot_) {
    std::lock_guard<std::mutex> lock(slot_->mu);
    slot_->abandoned = true;
    slot_->cv.notify_all();
  }
}

void UserFilesReader::OnReply(Reply reply) {
  std::lock_guard<std::mutex> lock(reply_mu_);
  reply_ = std::move(reply);
}

std::optional<v1::CommandAck> UserFilesReader::Submit(const v1::EngineCommand& cmd) {
  v1::CommandAck ack;
  ack.set_id(cmd.id());
  std::string error;
  if (const int h = hung_->load(); h >= kMaxHung) {
    FinishAck(&ack, false,
              std::to_string(h) + " reads of user files are hung in the kernel (filesystems not answering): no more are started until one returns",
              "");
    return ack;
  }
  if (!files_->Admit(cmd.read_user_files(), &error)) {
    FinishAck(&ack, false, error, "");
    return ack;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (jobs_.size() >= kMaxQueued) {
    FinishAck(&ack, false, "the probe's queue of user file reads is full (" + std::to_string(kMaxQueued) + "): asked again later", "");
    return ack;
  }
  jobs_.emplace_back(cmd.id(), cmd.read_user_files());
  if (!supervisor_.joinable()) supervisor_ = std::thread([this] { Supervise(); });
  cv_.notify_one();
  return std::nullopt;
}

void UserFilesReader::Supervise() {
  pthread_setname_np(pthread_self(), "vigil-userfiles");
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
    if (stop_) return;
    auto [id, req] = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    v1::CommandAck ack = Run(id, req);
    Log(ack.ok() ? "info" : "warn", "command %llu: %s", (unsigned long long)id, ack.ok() ? ack.detail().c_str() : ack.error().c_str());
    {
      std::lock_guard<std::mutex> r(reply_mu_);
      if (reply_) reply_(std::move(ack));
    }
    lock.lock();
  }
}

v1::CommandAck UserFilesReader::Run(uint64_t id, const v1::ReadUserFiles& req) {
  if (!slot_) {
    slot_ = std::make_shared<Slot>();
    std::thread(ReadLoop, slot_, files_, hung_).detach();
  }
  auto slot = slot_;
  v1::CommandAck ack;
  ack.set_id(id);
  std::unique_lock<std::mutex> lock(slot->mu);
  slot->req = req;
  slot->done = false;
  slot->has_job = true;
  slot->cv.notify_all();
  if (slot->cv.wait_for(lock, timeout_, [&] { return slot->done; })) {
    ack.mutable_files()->Swap(slot->ack.mutable_files());
    FinishAck(&ack, slot->ok, slot->error, slot->detail);
    return ack;
  }
  // Hung in the kernel: answered now; its thread is left to return (or not) and the next request gets a new one.
  // Counted before the thread can see it abandoned (under its lock), so its return is never counted first.
  hung_->fetch_add(1);
  files_->Hung(UserFiles::KeyOf(req));
  slot->abandoned = true;
  lock.unlock();
  slot_.reset();
  const uint64_t n = timed_out_.fetch_add(1) + 1;
  FinishAck(&ack, false,
            "timed out: the read of " + (req.node() ? std::string("the node's") : "cgroup " + std::to_string(req.cgroup_id()) + "'s") +
                " /etc/passwd and /etc/group did not finish in " + std::to_string(timeout_.count()) +
                " ms (a filesystem under its /etc not answering: FUSE, NFS); not read again while it hangs, nor for " +
                std::to_string(UserFiles::kBackOff.count()) + " s after (" + std::to_string(n) +
                " timed out since the probe started, " + std::to_string(hung_->load()) + " hung now)",
            "");
  return ack;
}

namespace {

void ReadLoop(std::shared_ptr<UserFilesReader::Slot> slot, std::shared_ptr<UserFiles> files,
              std::shared_ptr<std::atomic<int>> hung) {
  pthread_setname_np(pthread_self(), "vigil-userread");
  std::unique_lock<std::mutex> lock(slot->mu);
  while (true) {
    slot->cv.wait(lock, [&] { return slot->has_job || slot->abandoned; });
    if (!slot->has_job) return;  // idle, and the reader is stopping
    const v1::ReadUserFiles req = slot->req;
    lock.unlock();
    v1::CommandAck ack;
    std::string error, detail;
    const bool ok = files->Read(req, &ack, &error, &detail);
    lock.lock();
    slot->has_job = false;
    if (slot->abandoned) {
      // Answered as timed out already: the cgroup's back-off runs from then; this thread ends.
      files->Returned(UserFiles::KeyOf(req));
      hung->fetch_sub(1);
      Log("info", "a user file read that had timed out returned (%s)", ok ? "read" : error.c_str());
      return;
    }
    slot->ack = std::move(ack);
    slot->ok = ok;
    slot->error = std::move(error);
    slot->detail = std::move(detail);
    slot->done = true;
    slot->cv.notify_all();
  }
}

}  // namespace

}  // namespace vigil
