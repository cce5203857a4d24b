// A container's /etc/passwd and /etc/group, read for the engine
// (ReadUserFiles, proto/vigil/v1/probe.proto): the engine has no
// CAP_SYS_PTRACE, which reading another process's /proc/<pid>/root takes;
// the probe holds it already for its process snapshot. The files are the
// container's, so an attacker's: read as the engine reads them itself
// (src/detect/rules/container-files.ts), and at a bounded rate, so a
// container that makes the engine ask often cannot make the probe read
// files in a loop.
//
// A read can hang: a container may mount a FUSE (or NFS) filesystem over
// its /etc that never answers, and the open or read then waits in the
// kernel, killable only by SIGKILL. So reads run off the command thread
// (UserFilesReader), one at a time on a reader thread of their own, each
// given kReadTimeout: past it the request is answered as failed with why,
// the reader thread is left to the kernel (a new one takes the next
// request), and the cgroup is not read again while that read has not
// returned, nor for kBackOff after. At most kMaxHung reads may be hung at
// once; past that no read is started until one returns.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>

#include "snapshot.h"
#include "vigil/v1/probe.pb.h"

namespace vigil {

class UserFiles {
 public:
  explicit UserFiles(std::string cgroup2_mount);
  // Whether a request may be read now: false with why (over the rate; its
  // cgroup backed off after a read that hung). On the command thread: never blocks.
  bool Admit(const v1::ReadUserFiles& r, std::string* error);
  // Fills ack->files, or says why not (ok false): no pid in the cgroup. May
  // block on a filesystem that does not answer: UserFilesReader runs it.
  bool Read(const v1::ReadUserFiles& r, v1::CommandAck* ack, std::string* error, std::string* detail);
  // A read of `key`'s files (0: the node's) timed out; it came back (maybe never).
  void Hung(uint64_t key);
  void Returned(uint64_t key);
  static uint64_t KeyOf(const v1::ReadUserFiles& r) { return r.node() ? 0 : r.cgroup_id(); }

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
  static constexpr std::chrono::seconds kBackOff{60};  // after a read of the cgroup's files timed out

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
  struct Stall {
    int hung = 0;                                    // its reads not returned yet
    std::chrono::steady_clock::time_point at;        // its last timeout
  };
  std::unordered_map<uint64_t, Stall> stalled_;     // cgroups whose reads timed out, while backed off
};

// Runs ReadUserFiles off the probe's command thread (which carries
// enforcement, kills and quarantines too), with a timeout; see above.
class UserFilesReader {
 public:
  using Reply = std::function<void(v1::CommandAck)>;
  UserFilesReader(std::shared_ptr<UserFiles> files, std::chrono::milliseconds timeout);
  ~UserFilesReader();
  UserFilesReader(const UserFilesReader&) = delete;
  UserFilesReader& operator=(const UserFilesReader&) = delete;

  // Where answers go (the stream's queue); null: dropped from now on.
  void OnReply(Reply reply);
  // The ack now when the request is refused at once (rate, back-off, too
  // many hung, queue full); otherwise nothing now, and the ack (the files,
  // or why not, or that it timed out) goes to the reply function later,
  // exactly once.
  std::optional<v1::CommandAck> Submit(const v1::EngineCommand& cmd);
  uint64_t TimedOut() const { return timed_out_.load(); }
  int HungNow() const { return hung_->load(); }

  static constexpr std::chrono::milliseconds kReadTimeout{2000};
  static constexpr size_t kMaxQueued = 64;
  static constexpr int kMaxHung = 8;

  // A reader thread's hand-over with the supervisor (userfiles.cc).
  struct Slot;

 private:
  v1::CommandAck Run(uint64_t id, const v1::ReadUserFiles& req);
  void Supervise();

  std::shared_ptr<UserFiles> files_;
  const std::chrono::milliseconds timeout_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<uint64_t, v1::ReadUserFiles>> jobs_;
  bool stop_ = false;
  std::thread supervisor_;
  std::shared_ptr<Slot> slot_;  // the reader thread's, while it has not hung
  std::mutex reply_mu_;
  Reply reply_;
  std::atomic<uint64_t> timed_out_{0};
  std::shared_ptr<std::atomic<int>> hung_ = std::make_shared<std::atomic<int>>(0);
};

// The ack of a command: ok with what was done, or why not.
void FinishAck(v1::CommandAck* ack, bool ok, const std::string& error, const std::string& detail);

}  // namespace vigil
