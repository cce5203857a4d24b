// Carries out the engine's commands: quarantine and release, packet
// capture, kill, enforcement policies, containers' user files. Each command is answered with an
// ack saying what was done or why it could not be.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "policy.h"
#include "userfiles.h"
#include "vigil/v1/probe.pb.h"

struct vigil_bpf;
struct bpf_link;
struct bpf_program;

namespace vigil {

class Responder {
 public:
  Responder(vigil_bpf* skel, std::string cgroup2_mount, bool connect_hooks);
  ~Responder();
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;

  // The ack now; none when it comes later through OnLateAck (a ReadUserFiles read, off this thread).
  std::optional<v1::CommandAck> Handle(const v1::EngineCommand& cmd);
  // Where acks answered later go (the stream's queue); null: dropped (the stream is going).
  void OnLateAck(std::function<void(v1::CommandAck)> f) { reader_.OnReply(std::move(f)); }
  // ReadUserFiles that timed out (a filesystem not answering), and those still hung.
  uint64_t UserFilesTimedOut() const { return reader_.TimedOut(); }
  // EnforcementApplied: the engine put every policy back (pinning.h); says what was done.
  void OnEnforcementApplied(std::function<std::string()> f) { on_applied_ = std::move(f); }
  // Whether any workload is under an enforce policy here.
  bool Enforcing() { return policies_.Active(); }
  // What this node can do, for the hello.
  std::vector<std::string> Capabilities() const;
  // The self-check of the enforcement maps (PolicyMaps::CheckState) and
  // of the quarantines' links: a detached one is attached again.
  void CheckState(bool allow_lists, Findings* out, std::vector<std::string>* watched);

 private:
  bool Quarantine(const v1::Quarantine& q, std::string* error, std::string* detail);
  bool Release(const v1::Release& r, std::string* error, std::string* detail);
  bool StartCapture(const v1::StartCapture& c, std::string* error, std::string* detail);
  bool StopCapture(const v1::StopCapture& c, std::string* error, std::string* detail);
  bool Kill(const v1::Kill& k, std::string* error, std::string* detail);
  // Attaches the ingress and egress programs to one cgroup; both or neither.
  bool AttachPair(const v1::CgroupRef& cg, ::bpf_program* in, ::bpf_program* out,
                  std::vector<bpf_link*>* links, std::string* error);

  std::mutex mu_;
  vigil_bpf* skel_;
  std::string mount_;
  bool connect_hooks_;
  PolicyMaps policies_;
  std::shared_ptr<UserFiles> user_files_;
  UserFilesReader reader_;
  std::function<std::string()> on_applied_;
  std::map<std::string, std::vector<bpf_link*>> quarantined_;  // cgroup path → links
  struct Capture {
    std::vector<uint64_t> cgroup_ids;
    std::vector<bpf_link*> links;
  };
  std::map<uint32_t, Capture> captures_;
};

}  // namespace vigil
