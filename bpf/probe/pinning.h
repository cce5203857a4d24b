// Enforcement that outlives the probe. The links of the programs that
// enforce are pinned in bpffs, one directory per probe ("generation",
// <base>/v1.<session>): a probe that dies (SIGKILL, crash, upgrade) leaves
// them attached, and with them the maps their programs read, so what was
// enforced stays enforced while nobody watches. The next probe attaches its
// own set beside them (the kernel runs both; a denial by either wins) and
// unpins the earlier generations once the engine says it has put every
// policy back (EnforcementApplied): never a moment with neither set.
// Maps are not re-used: their layout changes between versions and the
// engine holds the policy. bpf/README.md says more.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "selfcheck.h"

struct bpf_link;

namespace vigil {

class Pinning {
 public:
  // The node's pin directory by default.
  static std::string DefaultBase(const std::string& node);
  // Opens `base` (mounting bpffs at /sys/fs/bpf when base is below it and
  // nothing is mounted there), counts the links earlier probes left and
  // makes this probe's generation directory. False, with why: not pinned.
  bool Open(const std::string& base, const std::string& session, std::string* why);
  bool On() const { return !dir_.empty(); }
  const std::string& Dir() const { return dir_; }
  // Pins one link as `name` in this generation (a name pinned before is
  // replaced: a link attached again by the self-check).
  bool Pin(bpf_link* link, const std::string& name, std::string* why);
  size_t Pinned() const { return pinned_.size(); }
  size_t PreviousLinks() const { return previous_links_; }
  bool PreviousReleased() const { return released_; }
  // Unpins what earlier generations left: their programs detach once the
  // kernel has let go of them. Says what it did.
  std::string ReleasePrevious();
  // At exit. Keep: the pins stay and closing this probe's handles detaches
  // nothing. Drop: unpinned, detached as the probe exits.
  void Keep();
  void Drop();
  // The self-check's look at this generation (selfcheck.h): each pin still
  // names its link. One removed (rm, or the whole directory) or replaced
  // by another object is pinned again and reported: if the probe died
  // next, what it enforces would otherwise stop. A generation removed
  // while a newer one is there is a newer probe's takeover, not tampering:
  // logged, and this probe's pins are left to it.
  void Check(Findings* out, std::vector<std::string>* watched);
  // `vigil-probe --release-pinned`: every generation under `base` unpinned.
  static bool ReleaseAll(const std::string& base, std::string* report);

 private:
  std::string base_, dir_;
  std::vector<std::string> previous_;  // earlier generations' directories
  size_t previous_links_ = 0;
  bool released_ = false;
  struct PinnedLink {
    bpf_link* link;
    std::string path;
    uint32_t id;  // the link's id, read once: the self-check compares the pin's with it
  };
  std::vector<PinnedLink> pinned_;
};

}  // namespace vigil
