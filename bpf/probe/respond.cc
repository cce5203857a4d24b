#include "respond.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

extern "C" {
#include "events.h"
#include "maps.h"
}
#include "log.h"
#include "vigil.skel.h"

namespace vigil {

Responder::Responder(vigil_bpf* skel, std::string cgroup2_mount, bool connect_hooks)
    : skel_(skel), mount_(std::move(cgroup2_mount)), connect_hooks_(connect_hooks), policies_(skel),
      user_files_(std::make_shared<UserFiles>(mount_)),
      reader_(user_files_, UserFilesReader::kReadTimeout) {}

Responder::~Responder() {
  for (auto& [path, links] : quarantined_)
    for (auto* l : links) bpf_link__destroy(l);
  for (auto& [id, c] : captures_)
    for (auto* l : c.links) bpf_link__destroy(l);
}

std::vector<std::string> Responder::Capabilities() const {
  std::vector<std::string> caps = {"exec-kill", "write-kill", "kill", "user-files"};
  if (connect_hooks_) caps.push_back("connect-refuse");
  if (!mount_.empty()) {
    caps.push_back("quarantine");
    caps.push_back("capture");
  }
  return caps;
}

std::optional<v1::CommandAck> Responder::Handle(const v1::EngineCommand& cmd) {
  // Off this thread, which carries kills and enforcement: a container's /etc may hang (userfiles.h).
  if (cmd.cmd_case() == v1::EngineCommand::kReadUserFiles) {
    auto now = reader_.Submit(cmd);
    if (now) Log("warn", "command %llu: %s", (unsigned long long)cmd.id(), now->error().c_str());
    return now;
  }
  v1::CommandAck ack;
  ack.set_id(cmd.id());
  std::string error, detail;
  bool ok = false;
  switch (cmd.cmd_case()) {
    case v1::EngineCommand::kPing: ok = true; detail = "pong"; break;
    case v1::EngineCommand::kQuarantine: ok = Quarantine(cmd.quarantine(), &error, &detail); break;
    case v1::EngineCommand::kRelease: ok = Release(cmd.release(), &error, &detail); break;
    case v1::EngineCommand::kStartCapture: ok = StartCapture(cmd.start_capture(), &error, &detail); break;
    case v1::EngineCommand::kStopCapture: ok = StopCapture(cmd.stop_capture(), &error, &detail); break;
    case v1::EngineCommand::kKill: ok = Kill(cmd.kill(), &error, &detail); break;
    case v1::EngineCommand::kSetPolicy:
      if (cmd.set_policy().connect() && !connect_hooks_) {
        error = "connects cannot be refused on this node (connect hooks not attached)";
        break;
      }
      ok = policies_.Set(cmd.set_policy(), &error, &detail);
      break;
    case v1::EngineCommand::kSetProtectedPaths: ok = policies_.SetProtected(cmd.set_protected_paths(), &error, &detail); break;
    case v1::EngineCommand::kEnforcementApplied:
      ok = true;
      detail = on_applied_ ? on_applied_() : "nothing pinned";
      break;
    default: error = "command not supported by this probe"; break;
  }
  FinishAck(&ack, ok, error, detail);
  Log(ok ? "info" : "warn", "command %llu: %s", (unsigned long long)cmd.id(), ok ? detail.c_str() : error.c_str());
  return ack;
}

void Responder::CheckState(bool allow_lists, Findings* out, std::vector<std::string>* watched) {
  policies_.CheckState(allow_lists, out, watched);
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [path, links] : quarantined_) {
    bpf_program* progs[2] = {skel_->progs.quarantine_ingress, skel_->progs.quarantine_egress};
    for (size_t i = 0; i < links.size() && i < 2; i++) {
      const std::string name = std::string(i ? "quarantine egress " : "quarantine ingress ") + path;
      watched->push_back("link " + name);
      Findings found;
      if (CheckLink(links[i], progs[i], ProgramId(progs[i]), name, &found)) continue;
      for (auto& t : found) {
        if (t.field == "attachment") {
          const std::string dir = mount_ + path;
          int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
          bpf_link* again = fd >= 0 ? bpf_program__attach_cgroup(progs[i], fd) : nullptr;
          int err = errno;
          if (fd >= 0) close(fd);
          if (again) {
            bpf_link__destroy(links[i]);
            links[i] = again;
            t.restored = true;
          } else {
            t.error = "cannot attach it again to " + dir + ": " + strerror(err);
          }
        }
        out->push_back(t);
      }
    }
  }
}

bool Responder::AttachPair(const v1::CgroupRef& cg, bpf_program* in, bpf_program* out, std::vector<bpf_link*>* links,
                           std::string* error) {
  if (mount_.empty()) {
    *error = "no cgroup v2 mount on this node";
    return false;
  }
  if (cg.path().empty() || cg.path()[0] != '/' || cg.path().find("/..") != std::string::npos) {
    *error = "cgroup path '" + cg.path() + "' is not an absolute path below the cgroup mount";
    return false;
  }
  const std::string dir = mount_ + cg.path();
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    *error = "cannot open cgroup " + dir + ": " + strerror(errno);
    return false;
  }
  bpf_link* a = bpf_program__attach_cgroup(in, fd);
  int err_a = errno;
  bpf_link* b = a ? bpf_program__attach_cgroup(out, fd) : nullptr;
  int err_b = errno;
  close(fd);
  if (!a || !b) {
    if (a) bpf_link__destroy(a);
    *error = "cannot attach to cgroup " + dir + ": " + strerror(a ? err_b : err_a);
    return false;
  }
  links->push_back(a);
  links->push_back(b);
  return true;
}

bool Responder::Quarantine(const v1::Quarantine& q, std::string* error, std::string* detail) {
  std::lock_guard<std::mutex> lock(mu_);
  int added = 0;
  for (const auto& cg : q.cgroups()) {
    if (quarantined_.count(cg.path())) continue;  // already: quarantine is idempotent
    std::vector<bpf_link*> links;
    if (!AttachPair(cg, skel_->progs.quarantine_ingress, skel_->progs.quarantine_egress, &links, error)) return false;
    quarantined_[cg.path()] = links;
    added++;
  }
  *detail = "quarantined " + std::to_string(q.cgroups_size()) + " cgroups (" + std::to_string(added) + " new)";
  return true;
}

bool Responder::Release(const v1::Release& r, std::string* error, std::string* detail) {
  std::lock_guard<std::mutex> lock(mu_);
  int released = 0;
  for (const auto& cg : r.cgroups()) {
    auto it = quarantined_.find(cg.path());
    if (it == quarantined_.end()) continue;
    for (auto* l : it->second) bpf_link__destroy(l);
    quarantined_.erase(it);
    released++;
  }
  *detail = "released " + std::to_string(released) + " cgroups";
  return true;
}

bool Responder::StartCapture(const v1::StartCapture& c, std::string* error, std::string* detail) {
  std::lock_guard<std::mutex> lock(mu_);
  if (captures_.count(c.capture_id())) {
    *error = "capture " + std::to_string(c.capture_id()) + " is already running";
    return false;
  }
  if (c.cgroups_size() == 0) {
    *error = "capture without cgroups";
    return false;
  }
  vigil_capture_conf conf = {};
  conf.capture_id = c.capture_id();
  conf.snaplen = c.snaplen() == 0 || c.snaplen() > VIGIL_SNAP_MAX ? VIGIL_SNAP_MAX : c.snaplen();
  conf.packets_left = c.max_packets() ? c.max_packets() : 10000;
  Capture cap;
  bool failed = false;
  for (const auto& cg : c.cgroups()) {
    const uint64_t id = cg.id();
    if (bpf_map__update_elem(skel_->maps.captures, &id, sizeof(id), &conf, sizeof(conf), BPF_ANY)) {
      *error = std::string("cannot update captures: ") + strerror(errno);
      failed = true;
      break;
    }
    cap.cgroup_ids.push_back(cg.id());
    if (!AttachPair(cg, skel_->progs.capture_ingress, skel_->progs.capture_egress, &cap.links, error)) {
      failed = true;
      break;
    }
  }
  if (failed) {
    for (auto* l : cap.links) bpf_link__destroy(l);
    for (uint64_t id : cap.cgroup_ids) bpf_map__delete_elem(skel_->maps.captures, &id, sizeof(id), 0);
    return false;
  }
  captures_[c.capture_id()] = std::move(cap);
  *detail = "capture " + std::to_string(c.capture_id()) + " on " + std::to_string(c.cgroups_size()) + " cgroups, snaplen " +
            std::to_string(conf.snaplen) + ", at most " + std::to_string(conf.packets_left) + " packets";
  return true;
}

bool Responder::StopCapture(const v1::StopCapture& c, std::string* error, std::string* detail) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = captures_.find(c.capture_id());
  if (it == captures_.end()) {
    *error = "no capture " + std::to_string(c.capture_id());
    return false;
  }
  for (auto* l : it->second.links) bpf_link__destroy(l);
  for (uint64_t id : it->second.cgroup_ids) bpf_map__delete_elem(skel_->maps.captures, &id, sizeof(id), 0);
  captures_.erase(it);
  *detail = "capture " + std::to_string(c.capture_id()) + " stopped";
  return true;
}

namespace {

// A process's start as CLOCK_MONOTONIC-ish ns (/proc/PID/stat field 22,
// in clock ticks since boot), or 0 if it is gone.
uint64_t ProcessStartNs(uint32_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return 0;
  size_t close = line.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(line.substr(close + 2));
  std::string skip;
  for (int i = 0; i < 19; i++) fields >> skip;  // fields 3..21
  unsigned long long ticks = 0;
  fields >> ticks;
  long hz = sysconf(_SC_CLK_TCK);
  return hz > 0 ? ticks * (1000000000ULL / hz) : 0;
}

}  // namespace

bool Responder::Kill(const v1::Kill& k, std::string* error, std::string* detail) {
  if (k.pid() <= 1) {
    *error = "refusing to signal pid " + std::to_string(k.pid());
    return false;
  }
  if (k.start_ktime_ns()) {
    uint64_t started = ProcessStartNs(k.pid());
    uint64_t want = k.start_ktime_ns();
    uint64_t diff = started > want ? started - want : want - started;
    if (!started || diff > 50000000ULL) {
      *error = "pid " + std::to_string(k.pid()) + (started ? " now belongs to another process" : " has exited");
      return false;
    }
  }
  int sig = k.signal() ? k.signal() : SIGKILL;
  if (::kill(k.pid(), sig)) {
    *error = "kill " + std::to_string(k.pid()) + ": " + strerror(errno);
    return false;
  }
  *detail = "sent signal " + std::to_string(sig) + " to pid " + std::to_string(k.pid());
  return true;
}

}  // namespace vigil
