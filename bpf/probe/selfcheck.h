// The probe's check of its own kernel state: what it wrote into its maps
// and globals, and the links it attached. Whoever else changes them
// (bpftool, any bpf() call by root) is found at the next check, the
// change undone and reported (SelfCheck on the wire).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

struct bpf_link;
struct bpf_program;

namespace vigil {

struct Tampering {
  std::string object;    // "global", "map", "link"
  std::string name;      // "policies_active", "policies", "cgroup/connect4"
  std::string field;     // "excluded_tgids[1]", "cgroup 1234", "attachment"
  std::string found, expected;
  bool restored = false;
  std::string error;     // why it could not be put back
};

using Findings = std::vector<Tampering>;

// The kernel's id of a program (0 when it has none).
uint32_t ProgramId(const bpf_program* prog);

// Checks one link the probe attached: still attached (a cgroup link
// detached by BPF_LINK_DETACH names no cgroup any more) and still running
// `prog` (BPF_LINK_UPDATE can swap it). A swapped program is swapped
// back; a detached link is reported with restored=false for the owner to
// attach again. True when the link is as it was.
bool CheckLink(bpf_link* link, const bpf_program* prog, uint32_t prog_id, const std::string& name, Findings* out);

}  // namespace vigil
