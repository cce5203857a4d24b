#include "pinning.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "log.h"

namespace vigil {

namespace {

constexpr long kBpffsMagic = 0xcafe4a11;  // BPF_FS_MAGIC
constexpr const char* kBpffsMount = "/sys/fs/bpf";

bool IsBpffs(const std::string& path) {
  struct statfs st {};
  return statfs(path.c_str(), &st) == 0 && long(st.f_type) == kBpffsMagic;
}

// The deepest existing directory of `path` (itself when it exists).
std::string ExistingAncestor(std::string path) {
  while (!path.empty() && access(path.c_str(), F_OK) != 0) {
    size_t slash = path.rfind('/');
    path = slash == 0 ? "/" : slash == std::string::npos ? "" : path.substr(0, slash);
  }
  return path;
}

bool MakeDirs(const std::string& path, std::string* why) {
  for (size_t at = 1; at <= path.size(); at++) {
    if (at != path.size() && path[at] != '/') continue;
    const std::string part = path.substr(0, at);
    if (mkdir(part.c_str(), 0700) != 0 && errno != EEXIST) {
      *why = "cannot make " + part + ": " + strerror(errno);
      return false;
    }
  }
  return true;
}

// A generation's directory: "v<layout>-<session>" (bpffs refuses dots in names).
bool IsGeneration(const char* name) { return name[0] == 'v' && strchr(name, '-') != nullptr; }

std::vector<std::string> Entries(const std::string& dir, bool dirs) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    const bool is_dir = e->d_type == DT_DIR;
    if (is_dir == dirs) out.push_back(e->d_name);
  }
  closedir(d);
  return out;
}

// Unpins every link of one generation and removes its directory; the
// number unpinned.
size_t RemoveGeneration(const std::string& dir, std::string* errors) {
  size_t n = 0;
  for (const auto& name : Entries(dir, false)) {
    if (unlink((dir + "/" + name).c_str()) == 0) n++;
    else *errors += (errors->empty() ? "" : "; ") + ("cannot unpin " + dir + "/" + name + ": " + strerror(errno));
  }
  if (rmdir(dir.c_str()) != 0 && errno != ENOENT)
    *errors += (errors->empty() ? "" : "; ") + ("cannot remove " + dir + ": " + strerror(errno));
  return n;
}

// The id of the BPF link behind descriptor `fd` of this process, from its
// fdinfo (0 when it is not a link: a map or program pinned in its place).
// Read with one read(2): the self-check does this for every pin each
// second, and an ifstream per look cost the ring reader more than the read.
uint32_t LinkIdOf(int fd) {
  char path[48];
  snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
  const int f = open(path, O_RDONLY | O_CLOEXEC);
  if (f < 0) return 0;
  char buf[4096];  // a link's fdinfo is a few hundred bytes; link_id comes early
  ssize_t n;
  while ((n = read(f, buf, sizeof(buf) - 1)) < 0 && errno == EINTR) {
  }
  close(f);
  if (n <= 0) return 0;
  buf[n] = '\0';
  for (const char* line = buf; *line;) {
    if (strncmp(line, "link_id:", 8) == 0) return uint32_t(strtoul(line + 8, nullptr, 10));
    const char* end = strchr(line, '\n');
    if (!end) break;
    line = end + 1;
  }
  return 0;
}

}  // namespace

std::string Pinning::DefaultBase(const std::string& node) {
  // bpffs refuses dots in names ("node1.example.com").
  std::string name = node;
  for (char& c : name)
    if (!isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') c = '_';
  return std::string(kBpffsMount) + "/vigil/" + name;
}

bool Pinning::Open(const std::string& base, const std::string& session, std::string* why) {
  if (base.empty()) {
    *why = "pinning turned off (--pin-dir '')";
    return false;
  }
  if (base[0] != '/' || base.find("/..") != std::string::npos) {
    *why = "pin directory '" + base + "' is not an absolute path";
    return false;
  }
  const std::string existing = ExistingAncestor(base);
  if (!IsBpffs(existing)) {
    const bool below = base == kBpffsMount || base.rfind(std::string(kBpffsMount) + "/", 0) == 0;
    if (!below) {
      *why = base + " is not on a bpffs mount (mount -t bpf bpf DIR, or a --pin-dir below one)";
      return false;
    }
    // Nothing at /sys/fs/bpf on this node: the probe mounts it (root, before it drops capabilities).
    mkdir(kBpffsMount, 0700);
    if (!IsBpffs(kBpffsMount) && mount("bpf", kBpffsMount, "bpf", 0, "mode=0700") != 0) {
      *why = std::string("no bpffs at ") + kBpffsMount + " and mounting one failed: " + strerror(errno) +
             " (mount it on the node, or give the probe the host's /sys/fs/bpf)";
      return false;
    }
    Log("info", "mounted bpffs at %s for the enforcement pins", kBpffsMount);
  }
  if (!MakeDirs(base, why)) return false;
  if (!IsBpffs(base)) {
    *why = base + " is not on a bpffs mount";
    return false;
  }
  base_ = base;
  for (const auto& name : Entries(base, true)) {
    if (!IsGeneration(name.c_str())) continue;
    previous_.push_back(base + "/" + name);
    previous_links_ += Entries(base + "/" + name, false).size();
  }
  const std::string dir = base + "/v1-" + session;
  if (mkdir(dir.c_str(), 0700) != 0) {
    *why = "cannot make " + dir + ": " + strerror(errno);
    return false;
  }
  dir_ = dir;
  return true;
}

bool Pinning::Pin(bpf_link* link, const std::string& name, std::string* why) {
  const std::string path = dir_ + "/" + name;
  for (size_t i = 0; i < pinned_.size(); i++) {
    if (pinned_[i].path != path) continue;
    pinned_.erase(pinned_.begin() + i);
    break;
  }
  unlink(path.c_str());  // a link attached again replaces the one pinned under its name
  if (int err = bpf_link__pin(link, path.c_str())) {
    *why = "cannot pin " + path + ": " + strerror(-err);
    return false;
  }
  pinned_.push_back({link, path, LinkIdOf(bpf_link__fd(link))});
  return true;
}

std::string Pinning::ReleasePrevious() {
  if (released_) return "the earlier probes' links were already released";
  released_ = true;
  if (previous_.empty()) return "no earlier probe's links were pinned";
  std::string errors;
  size_t n = 0;
  for (const auto& dir : previous_) n += RemoveGeneration(dir, &errors);
  std::string said = "released " + std::to_string(n) + " links " + std::to_string(previous_.size()) +
                     " earlier probe(s) left pinned: this probe's programs enforce alone";
  if (!errors.empty()) said += " (" + errors + ")";
  return said;
}

void Pinning::Keep() {
  // libbpf would close a tracepoint link's perf event after disabling it:
  // the pinned link would stay attached to an event that never fires.
  for (auto& p : pinned_) bpf_link__disconnect(p.link);
}

void Pinning::Drop() {
  for (auto& p : pinned_) bpf_link__unpin(p.link);
  pinned_.clear();
  if (!dir_.empty()) rmdir(dir_.c_str());
  if (!base_.empty()) rmdir(base_.c_str());  // only when no other generation is left
}

void Pinning::Check(Findings* out, std::vector<std::string>* watched) {
  if (dir_.empty() || pinned_.empty()) return;
  watched->push_back("pins " + dir_);
  if (access(dir_.c_str(), F_OK) != 0) {
    const std::string ours = dir_.substr(dir_.rfind('/') + 1);
    for (const auto& name : Entries(base_, true)) {
      if (!IsGeneration(name.c_str()) || name == ours) continue;
      Log("warn", "this probe's pins at %s were released and %s/%s is there: a newer probe took over; its pins are left to it",
          dir_.c_str(), base_.c_str(), name.c_str());
      pinned_.clear();
      return;
    }
    std::string why;
    if (!MakeDirs(dir_, &why)) {
      out->push_back({"pin", dir_.substr(dir_.rfind('/') + 1), dir_, "directory removed", "present", false, why});
      return;
    }
  }
  for (auto& p : pinned_) {
    const uint32_t want = p.id;
    std::string found;
    const int fd = bpf_obj_get(p.path.c_str());
    if (fd >= 0) {
      const uint32_t id = LinkIdOf(fd);
      close(fd);
      if (id == want) continue;
      found = id ? "link id " + std::to_string(id) : "another BPF object";
      unlink(p.path.c_str());
    } else {
      const int err = errno;
      found = err == ENOENT ? "removed" : std::string("unreadable: ") + strerror(err);
      if (err != ENOENT) unlink(p.path.c_str());
    }
    Tampering t{"pin", p.path.substr(p.path.rfind('/') + 1), p.path, found, "link id " + std::to_string(want), false, ""};
    // The low-level pin: libbpf's bpf_link__pin refuses a link it pinned before.
    if (bpf_obj_pin(bpf_link__fd(p.link), p.path.c_str()) == 0) t.restored = true;
    else t.error = std::string("cannot pin it again: ") + strerror(errno);
    out->push_back(t);
  }
}

bool Pinning::ReleaseAll(const std::string& base, std::string* report) {
  if (!IsBpffs(base)) {
    *report = base + " is not a bpffs directory: nothing pinned there";
    return access(base.c_str(), F_OK) != 0;
  }
  std::string errors;
  size_t links = 0, gens = 0;
  for (const auto& name : Entries(base, true)) {
    if (!IsGeneration(name.c_str())) continue;
    links += RemoveGeneration(base + "/" + name, &errors);
    gens++;
  }
  rmdir(base.c_str());
  *report = "unpinned " + std::to_string(links) + " enforcement links of " + std::to_string(gens) + " probe(s) under " +
            base + (errors.empty() ? "" : ": " + errors);
  return errors.empty();
}

}  // namespace vigil
