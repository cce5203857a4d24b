#include "selfcheck.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>

namespace vigil {

uint32_t ProgramId(const bpf_program* prog) {
  int fd = bpf_program__fd(prog);
  if (fd < 0) return 0;
  bpf_prog_info info = {};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &len)) return 0;
  return info.id;
}

bool CheckLink(bpf_link* link, const bpf_program* prog, uint32_t prog_id, const std::string& name, Findings* out) {
  bpf_link_info info = {};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(bpf_link__fd(link), &info, &len)) {
    Tampering t{"link", name, "info", std::string("unreadable: ") + strerror(errno), "attached", false, ""};
    out->push_back(t);
    return false;
  }
  if (info.type == BPF_LINK_TYPE_CGROUP && info.cgroup.cgroup_id == 0) {
    out->push_back({"link", name, "attachment", "detached (no cgroup)", "attached", false, ""});
    return false;
  }
  if (prog_id && info.prog_id != prog_id) {
    Tampering t{"link", name, "program", "program id " + std::to_string(info.prog_id), "program id " + std::to_string(prog_id), false, ""};
    if (bpf_link__update_program(link, const_cast<bpf_program*>(prog)) == 0) t.restored = true;
    else t.error = std::string("cannot put the program back: ") + strerror(errno);
    out->push_back(t);
    return false;
  }
  return true;
}

}  // namespace vigil
