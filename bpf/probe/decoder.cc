#include "decoder.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <utility>
#include <vector>

extern "C" {
#include "events.h"
}
#include "environ.h"

namespace vigil {
namespace {

std::string BoundedString(const char* s, size_t cap) {
  return std::string(s, strnlen(s, cap));
}

// OpenEvent.path_flags (probe.proto).
constexpr uint32_t kPathResolved = 1, kPathTruncated = 2, kPathRawTruncated = 4, kPathRawUnreadable = 8,
                   kPathRawReread = 16, kPathOutsideRoot = 32, kPathBindMapped = 64, kPathRawSame = 256;

void SetHeader(const vigil_header& h, v1::Event* e) {
  e->set_ktime_ns(h.ktime_ns);
  e->set_pid(h.pid);
  e->set_tid(h.tid);
  e->set_ppid(h.ppid);
  e->set_uid(h.uid);
  e->set_gid(h.gid);
  e->set_comm(BoundedString(h.comm, sizeof(h.comm)));
  e->set_cgroup_id(h.cgroup_id);
  e->set_blocked(h.flags & VIGIL_BLOCKED);
  if (h.flags & VIGIL_BLOCKED)
    e->set_blocked_by(h.flags & VIGIL_BY_LSM        ? v1::MECHANISM_BPF_LSM
                      : h.flags & VIGIL_BY_FMOD_RET ? v1::MECHANISM_FMOD_RET
                      : h.flags & VIGIL_BY_CGROUP   ? v1::MECHANISM_CGROUP
                                                    : v1::MECHANISM_KILL);
}

std::string PathOf(const vigil_path& p, DecodeStats* stats) {
  if (p.flags & VIGIL_PATH_TRUNCATED) stats->truncated_paths++;
  if (p.flags & VIGIL_PATH_UNREADABLE) return "";
  size_t base_len = p.base_len > sizeof(p.base) ? sizeof(p.base) : p.base_len;
  if (p.flags & VIGIL_PATH_FROM_FD) return JoinWalkedPath(p.base, base_len);
  std::string raw = BoundedString(p.raw, sizeof(p.raw));
  if (!(p.flags & VIGIL_PATH_HAS_BASE)) return ResolvePath("/", raw);
  return ResolvePath(JoinWalkedPath(p.base, base_len), raw);
}

// The path as the caller wrote it, for fd.nameraw: joined to its directory
// when relative, but not folded ("/etc/../etc/shadow" stays so: Falco's
// directory traversal rule looks for the "../").
std::string RawPathOf(const vigil_path& p) {
  if (p.flags & VIGIL_PATH_UNREADABLE) return "";
  size_t base_len = p.base_len > sizeof(p.base) ? sizeof(p.base) : p.base_len;
  if (p.flags & VIGIL_PATH_FROM_FD) return JoinWalkedPath(p.base, base_len);
  std::string raw = BoundedString(p.raw, sizeof(p.raw));
  if (raw.empty() || raw[0] == '/') return raw;
  if (!(p.flags & VIGIL_PATH_HAS_BASE)) return "/" + raw;
  std::string base = JoinWalkedPath(p.base, base_len);
  return base == "/" ? "/" + raw : base + "/" + raw;
}

void SetSockAddr(const vigil_sockaddr& a, v1::SockAddr* out) {
  out->set_family(a.family);
  out->set_port(a.port);
  if (a.family == 2) {
    out->set_address(std::string(reinterpret_cast<const char*>(a.addr), 4));
  } else if (a.family == 10) {
    out->set_address(std::string(reinterpret_cast<const char*>(a.addr), 16));
  } else if (a.family == 1) {
    out->set_path(BoundedString(a.unix_path, sizeof(a.unix_path)));
  }
}

v1::Protocol ProtocolOf(uint32_t p) {
  return p == 6 ? v1::PROTOCOL_TCP : p == 17 ? v1::PROTOCOL_UDP : v1::PROTOCOL_UNSPECIFIED;
}

const char* SetIdCallName(uint32_t call) {
  switch (call) {
    case VIGIL_SETUID: return "setuid";
    case VIGIL_SETGID: return "setgid";
    case VIGIL_SETREUID: return "setreuid";
    case VIGIL_SETREGID: return "setregid";
    case VIGIL_SETRESUID: return "setresuid";
    case VIGIL_SETRESGID: return "setresgid";
    case VIGIL_SETFSUID: return "setfsuid";
    case VIGIL_SETFSGID: return "setfsgid";
  }
  return "unknown";
}

// IORING_OP_* by number (include/uapi/linux/io_uring.h), lower case.
const char* UringOpName(uint32_t op) {
  static const char* const kOps[] = {
      "nop", "readv", "writev", "fsync", "read_fixed", "write_fixed", "poll_add", "poll_remove",
      "sync_file_range", "sendmsg", "recvmsg", "timeout", "timeout_remove", "accept", "async_cancel",
      "link_timeout", "connect", "fallocate", "openat", "close", "files_update", "statx", "read", "write",
      "fadvise", "madvise", "send", "recv", "openat2", "epoll_ctl", "splice", "provide_buffers",
      "remove_buffers", "tee", "shutdown", "renameat", "unlinkat", "mkdirat", "symlinkat", "linkat",
      "msg_ring", "fsetxattr", "setxattr", "fgetxattr", "getxattr", "socket", "uring_cmd", "send_zc",
      "sendmsg_zc", "read_multishot", "waitid", "futex_wait", "futex_wake", "futex_waitv",
      "fixed_fd_install", "ftruncate", "bind", "listen", "recv_zc", "epoll_wait", "readv_fixed",
      "writev_fixed", "pipe"};
  return op < sizeof(kOps) / sizeof(kOps[0]) ? kOps[op] : nullptr;
}

// Each kind's record size, so a short record is rejected before it is read.
size_t RecordSize(uint32_t kind) {
  switch (kind) {
    case VIGIL_EXEC: return sizeof(vigil_exec);
    case VIGIL_FORK: return sizeof(vigil_fork);
    case VIGIL_EXIT: return sizeof(vigil_exit);
    case VIGIL_CGROUP_MOVE: return sizeof(vigil_cgroup_move);
    case VIGIL_OPEN: return sizeof(vigil_open);
    case VIGIL_UNLINK: return sizeof(vigil_unlink);
    case VIGIL_RENAME: return sizeof(vigil_rename);
    case VIGIL_CHMOD: return sizeof(vigil_chmod);
    case VIGIL_CONNECT:
    case VIGIL_ACCEPT:
    case VIGIL_BIND:
    case VIGIL_LISTEN: return sizeof(vigil_net);
    case VIGIL_SETID: return sizeof(vigil_setid);
    case VIGIL_PTRACE: return sizeof(vigil_ptrace);
    case VIGIL_MODULE: return sizeof(vigil_module);
    case VIGIL_MOUNT: return sizeof(vigil_mount);
    case VIGIL_NAMESPACE: return sizeof(vigil_namespace);
    case VIGIL_DUP: return sizeof(vigil_dup);
    case VIGIL_FILEOP: return sizeof(vigil_fileop);
    case VIGIL_DNS: return sizeof(vigil_dns);
    case VIGIL_MKDIR: return sizeof(vigil_mkdir);
    case VIGIL_LINK: return sizeof(vigil_link);
    case VIGIL_SOCKET:
    case VIGIL_BPF:
    case VIGIL_USERFAULTFD:
    case VIGIL_URING: return sizeof(vigil_call);
    case VIGIL_SEND: return sizeof(vigil_net);
  }
  return 0;
}

// The least a record of each kind can be: the kernel sends one that ends
// in a path (or in argv) only up to their last used byte.
size_t LeastSize(uint32_t kind) {
  constexpr size_t raw = offsetof(vigil_path, raw);
  switch (kind) {
    case VIGIL_EXEC: return offsetof(vigil_exec, args);
    case VIGIL_OPEN: return offsetof(vigil_open, path) + raw;
    case VIGIL_UNLINK: return offsetof(vigil_unlink, path) + raw;
    case VIGIL_RENAME: return offsetof(vigil_rename, to) + raw;
    case VIGIL_CHMOD: return offsetof(vigil_chmod, path) + raw;
    case VIGIL_MODULE: return offsetof(vigil_module, path) + raw;
    case VIGIL_MOUNT: return offsetof(vigil_mount, target) + raw;
    case VIGIL_FILEOP: return offsetof(vigil_fileop, path) + raw;
    case VIGIL_DNS: return offsetof(vigil_dns, msg);
    case VIGIL_MKDIR: return offsetof(vigil_mkdir, path) + raw;
    case VIGIL_LINK: return offsetof(vigil_link, to) + raw;
  }
  return RecordSize(kind);
}

constexpr size_t kLargestRecord = std::max({sizeof(vigil_exec), sizeof(vigil_open), sizeof(vigil_unlink), sizeof(vigil_rename),
                                            sizeof(vigil_chmod), sizeof(vigil_module), sizeof(vigil_mount),
                                            sizeof(vigil_fileop), sizeof(vigil_dns), sizeof(vigil_mkdir), sizeof(vigil_link)});

}  // namespace

namespace {
void PutLe(char* at, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; i++) at[i] = static_cast<char>(v >> (8 * i));
}
uint64_t GetLe(const char* at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; i++) v |= uint64_t(static_cast<unsigned char>(at[i])) << (8 * i);
  return v;
}
}  // namespace

// The offsets are probe.proto's (OpenEvent.numbers); byte by byte, so the
// wire is little-endian on any host (compilers make each a plain store on x86 and arm64).
void SetOpenNumbers(v1::OpenEvent* o, const OpenNumbers& n) {
  char b[kOpenNumbersBytes];
  PutLe(b + 0, uint64_t(n.result), 8);
  PutLe(b + 8, n.ino, 8);
  PutLe(b + 16, uint32_t(n.flags), 4);
  PutLe(b + 20, n.mode, 4);
  PutLe(b + 24, n.path_flags, 4);
  PutLe(b + 28, n.dev, 4);
  PutLe(b + 32, n.nlink, 4);
  PutLe(b + 36, n.file_mode, 4);
  o->set_numbers(b, sizeof(b));
}

bool GetOpenNumbers(const v1::OpenEvent& o, OpenNumbers* n) {
  const std::string& b = o.numbers();
  if (b.size() < kOpenNumbersBytes) return false;
  n->result = int64_t(GetLe(b.data() + 0, 8));
  n->ino = GetLe(b.data() + 8, 8);
  n->flags = int32_t(uint32_t(GetLe(b.data() + 16, 4)));
  n->mode = uint32_t(GetLe(b.data() + 20, 4));
  n->path_flags = uint32_t(GetLe(b.data() + 24, 4));
  n->dev = uint32_t(GetLe(b.data() + 28, 4));
  n->nlink = uint32_t(GetLe(b.data() + 32, 4));
  n->file_mode = uint32_t(GetLe(b.data() + 36, 4));
  return true;
}

// Both build their result in one string, without a string per component:
// a build's opens each took some ten allocations here.
std::string JoinWalkedPath(const char* buf, size_t len) {
  // Components come leaf first: the output is filled from its end.
  size_t total = 0;
  for (size_t i = 0; i < len;) {
    size_t n = strnlen(buf + i, len - i);
    if (n > 0) total += n + 1;
    i += n + 1;
  }
  if (total == 0) return "/";
  std::string out(total, '\0');
  size_t at = total;
  for (size_t i = 0; i < len;) {
    size_t n = strnlen(buf + i, len - i);
    if (n > 0) {
      at -= n;
      memcpy(&out[at], buf + i, n);
      out[--at] = '/';
    }
    i += n + 1;
  }
  return out;
}

std::string ResolvePath(const std::string& base, const std::string& raw) {
  if (raw.empty()) return raw;
  std::string joined = raw[0] == '/' ? raw : base + "/" + raw;
  std::vector<std::pair<size_t, size_t>> parts;  // kept components: (start, length) in `joined`
  parts.reserve(16);
  size_t i = 0;
  while (i <= joined.size()) {
    size_t j = joined.find('/', i);
    if (j == std::string::npos) j = joined.size();
    const size_t n = j - i;
    if (n == 2 && joined[i] == '.' && joined[i + 1] == '.') {
      if (!parts.empty()) parts.pop_back();
    } else if (n > 0 && !(n == 1 && joined[i] == '.')) {
      parts.emplace_back(i, n);
    }
    i = j + 1;
  }
  if (parts.empty()) return "/";
  size_t total = 0;
  for (const auto& p : parts) total += p.second + 1;
  std::string out;
  out.reserve(total);
  for (const auto& p : parts) {
    out += '/';
    out.append(joined, p.first, p.second);
  }
  return out;
}

bool DecodeRecord(const void* data, size_t size, v1::Event* e, DecodeStats* stats, std::string* error) {
  if (size < sizeof(vigil_header)) {
    *error = "record of " + std::to_string(size) + " bytes is shorter than the header";
    return false;
  }
  const auto* h = static_cast<const vigil_header*>(data);
  size_t want = RecordSize(h->kind);
  if (want == 0) {
    *error = "unknown record kind " + std::to_string(h->kind);
    return false;
  }
  if (size < LeastSize(h->kind)) {
    *error = "record kind " + std::to_string(h->kind) + " is " + std::to_string(size) +
             " bytes, expected at least " + std::to_string(LeastSize(h->kind));
    return false;
  }
  // A shortened record reads as if the rest were zeros.
  alignas(8) unsigned char full[kLargestRecord];
  if (size < want) {
    memcpy(full, data, size);
    memset(full + size, 0, want - size);
    data = full;
  }
  SetHeader(*h, e);
  if (h->flags & VIGIL_VIA_URING) e->set_io_uring(true);

  switch (h->kind) {
    case VIGIL_EXEC: {
      const auto* r = static_cast<const vigil_exec*>(data);
      auto* x = e->mutable_exec();
      x->set_filename(BoundedString(r->filename, sizeof(r->filename)));
      x->set_exe(JoinWalkedPath(r->exe, std::min<size_t>(r->exe_len, sizeof(r->exe))));
      x->set_cwd(JoinWalkedPath(r->cwd, std::min<size_t>(r->cwd_len, sizeof(r->cwd))));
      size_t n = std::min<size_t>(r->args_len, sizeof(r->args));
      size_t i = 0;
      while (i < n) {
        size_t len = strnlen(r->args + i, n - i);
        x->add_argv(std::string(r->args + i, len));
        i += len + 1;
      }
      x->set_argv_truncated(r->flags & VIGIL_PATH_TRUNCATED);
      // The environment follows argv; only names and allowed values go on (environ.cc).
      size_t env_len = std::min<size_t>(r->env_len, sizeof(r->args) - n);
      bool env_truncated = r->flags & VIGIL_ENV_TRUNCATED;
      for (auto& var : RedactEnv(r->args + n, env_len, &env_truncated)) x->add_env(std::move(var));
      if (env_truncated) {
        x->set_env_truncated(true);
        stats->truncated_envs++;
      }
      x->set_tty(r->tty);
      x->set_cap_effective(r->cap_effective);
      x->set_cap_permitted(r->cap_permitted);
      x->set_loginuid(r->loginuid);
      x->set_vpid(r->vpid);
      x->set_exe_on_overlay(r->exe_layer & VIGIL_EXE_OVERLAY);
      x->set_exe_upper_layer(r->exe_layer & VIGIL_EXE_UPPER_LAYER);
      x->set_exe_ino(r->exe_ino);
      x->set_exe_dev(r->exe_dev);
      x->set_stdio(r->stdio);
      break;
    }
    case VIGIL_FORK: {
      const auto* r = static_cast<const vigil_fork*>(data);
      e->mutable_fork()->set_child_pid(r->child_pid);
      e->mutable_fork()->set_child_vpid(r->child_vpid);
      break;
    }
    case VIGIL_EXIT: {
      const auto* r = static_cast<const vigil_exit*>(data);
      e->mutable_exit()->set_exit_code(r->exit_code);
      e->mutable_exit()->set_signal(r->signal);
      break;
    }
    case VIGIL_CGROUP_MOVE: {
      const auto* r = static_cast<const vigil_cgroup_move*>(data);
      auto* x = e->mutable_cgroup_move();
      x->set_pid(r->pid);
      x->set_comm(BoundedString(r->comm, sizeof(r->comm)));
      x->set_from_cgroup_id(r->from_cgroup);
      x->set_to_cgroup_id(r->to_cgroup);
      x->set_policy_root_cgroup_id(r->policy_root);
      x->set_threadgroup(r->threadgroup != 0);
      break;
    }
    case VIGIL_OPEN: {
      const auto* r = static_cast<const vigil_open*>(data);
      auto* x = e->mutable_open();
      std::string raw = RawPathOf(r->path);
      uint32_t flags = 0;
      if (r->path.flags & VIGIL_PATH_TRUNCATED) flags |= kPathRawTruncated;
      if (r->path.flags & VIGIL_PATH_UNREADABLE) flags |= kPathRawUnreadable;
      if (r->path.flags & VIGIL_PATH_REREAD) flags |= kPathRawReread;
      // The resolved walk follows the path's strings (events.h).
      const char* strings = r->path.raw;
      size_t off = r->resolved_off, len = r->resolved_len;
      constexpr size_t room = sizeof(r->path.raw) + sizeof(r->path.base) + sizeof(r->resolved_room);
      if ((r->file_flags & VIGIL_FILE_RESOLVED) && len > 0 && off + len <= room) {
        // The walk names the file: the caller's path folded is not needed (its truncation still counts).
        if (r->path.flags & VIGIL_PATH_TRUNCATED) stats->truncated_paths++;
        x->set_path(JoinWalkedPath(strings + off, len));
        flags |= kPathResolved;
        if (r->file_flags & VIGIL_FILE_TRUNCATED) {
          flags |= kPathTruncated;
          stats->truncated_paths++;
        }
        if (r->file_flags & VIGIL_FILE_OUTSIDE_ROOT) flags |= kPathOutsideRoot;
        if (r->file_flags & VIGIL_FILE_BIND_MAPPED) flags |= kPathBindMapped;
      } else {
        x->set_path(PathOf(r->path, stats));
      }
      // Most opens name the file as it is: the string once on the wire, not twice.
      if (!raw.empty() && raw == x->path())
        flags |= kPathRawSame;
      else
        x->set_path_raw(std::move(raw));
      OpenNumbers n;
      n.result = r->result;
      n.ino = r->ino;
      n.flags = static_cast<int32_t>(r->flags);
      n.mode = r->mode;
      n.path_flags = flags;
      n.dev = r->dev;
      n.nlink = r->nlink;
      n.file_mode = r->file_mode;
      SetOpenNumbers(x, n);
      break;
    }
    case VIGIL_UNLINK: {
      const auto* r = static_cast<const vigil_unlink*>(data);
      auto* x = e->mutable_unlink();
      x->set_path(PathOf(r->path, stats));
      x->set_dir(r->dir != 0);
      x->set_result(r->result);
      break;
    }
    case VIGIL_RENAME: {
      const auto* r = static_cast<const vigil_rename*>(data);
      auto* x = e->mutable_rename();
      x->set_old_path(PathOf(r->from, stats));
      x->set_new_path(PathOf(r->to, stats));
      x->set_flags(r->flags);
      x->set_result(r->result);
      break;
    }
    case VIGIL_CHMOD: {
      const auto* r = static_cast<const vigil_chmod*>(data);
      auto* x = e->mutable_chmod();
      x->set_path(PathOf(r->path, stats));
      x->set_mode(r->mode);
      x->set_result(r->result);
      break;
    }
    case VIGIL_FILEOP: {
      const auto* r = static_cast<const vigil_fileop*>(data);
      auto* x = e->mutable_file_op();
      static const char* const kCalls[] = {"unknown", "mkdir", "symlink", "link", "chown", "truncate"};
      x->set_call(kCalls[r->call < sizeof(kCalls) / sizeof(kCalls[0]) ? r->call : 0]);
      x->set_path(PathOf(r->path, stats));
      x->set_result(r->result);
      break;
    }
    case VIGIL_CONNECT: {
      const auto* r = static_cast<const vigil_net*>(data);
      auto* x = e->mutable_connect();
      SetSockAddr(r->remote, x->mutable_remote());
      x->set_protocol(ProtocolOf(r->protocol));
      x->set_result(r->result);
      break;
    }
    case VIGIL_ACCEPT: {
      const auto* r = static_cast<const vigil_net*>(data);
      auto* x = e->mutable_accept();
      SetSockAddr(r->remote, x->mutable_remote());
      SetSockAddr(r->local, x->mutable_local());
      x->set_result(r->result);
      break;
    }
    case VIGIL_BIND: {
      const auto* r = static_cast<const vigil_net*>(data);
      auto* x = e->mutable_bind();
      SetSockAddr(r->local, x->mutable_local());
      x->set_protocol(ProtocolOf(r->protocol));
      x->set_result(r->result);
      break;
    }
    case VIGIL_LISTEN: {
      const auto* r = static_cast<const vigil_net*>(data);
      auto* x = e->mutable_listen();
      SetSockAddr(r->local, x->mutable_local());
      x->set_backlog(r->backlog);
      x->set_result(r->result);
      break;
    }
    case VIGIL_SETID: {
      const auto* r = static_cast<const vigil_setid*>(data);
      auto* x = e->mutable_set_id();
      x->set_call(SetIdCallName(r->call));
      x->set_id(r->id);
      x->set_result(r->result);
      x->set_cap_effective(r->cap_effective);
      x->set_cap_permitted(r->cap_permitted);
      x->set_euid(r->euid);
      x->set_suid(r->suid);
      x->set_egid(r->egid);
      x->set_sgid(r->sgid);
      x->set_fsuid(r->fsuid);
      x->set_fsgid(r->fsgid);
      auto* after = x->mutable_after();
      after->set_uid(r->after.uid);
      after->set_euid(r->after.euid);
      after->set_suid(r->after.suid);
      after->set_fsuid(r->after.fsuid);
      after->set_gid(r->after.gid);
      after->set_egid(r->after.egid);
      after->set_sgid(r->after.sgid);
      after->set_fsgid(r->after.fsgid);
      break;
    }
    case VIGIL_PTRACE: {
      const auto* r = static_cast<const vigil_ptrace*>(data);
      auto* x = e->mutable_ptrace();
      x->set_request(r->request);
      x->set_target_pid(r->target_pid);
      x->set_result(r->result);
      break;
    }
    case VIGIL_MODULE: {
      const auto* r = static_cast<const vigil_module*>(data);
      auto* x = e->mutable_module_load();
      x->set_call(r->finit ? "finit_module" : "init_module");
      if (r->finit) x->set_path(PathOf(r->path, stats));
      x->set_result(r->result);
      break;
    }
    case VIGIL_MOUNT: {
      const auto* r = static_cast<const vigil_mount*>(data);
      auto* x = e->mutable_mount();
      x->set_source(BoundedString(r->source, sizeof(r->source)));
      x->set_fstype(BoundedString(r->fstype, sizeof(r->fstype)));
      x->set_target(PathOf(r->target, stats));
      x->set_flags(r->flags);
      x->set_result(r->result);
      break;
    }
    case VIGIL_NAMESPACE: {
      const auto* r = static_cast<const vigil_namespace*>(data);
      auto* x = e->mutable_namespace_();
      x->set_call(r->call == VIGIL_SETNS ? "setns" : "unshare");
      x->set_flags(r->flags);
      x->set_result(r->result);
      break;
    }
    case VIGIL_DUP: {
      const auto* r = static_cast<const vigil_dup*>(data);
      auto* x = e->mutable_dup();
      x->set_old_fd(r->oldfd);
      x->set_new_fd(r->newfd);
      SetSockAddr(r->remote, x->mutable_remote());
      SetSockAddr(r->local, x->mutable_local());
      x->set_protocol(ProtocolOf(r->protocol));
      x->set_result(r->result);
      static const char* const kCalls[] = {"dup2", "dup3", "dup", "fcntl"};
      x->set_call(kCalls[r->call < 4 ? r->call : 0]);
      break;
    }
    case VIGIL_MKDIR: {
      const auto* r = static_cast<const vigil_mkdir*>(data);
      auto* x = e->mutable_mkdir();
      x->set_path(PathOf(r->path, stats));
      x->set_mode(r->mode);
      x->set_result(r->result);
      break;
    }
    case VIGIL_LINK: {
      const auto* r = static_cast<const vigil_link*>(data);
      auto* x = e->mutable_link();
      static const char* const kCalls[] = {"unknown", "symlink", "symlinkat", "link", "linkat"};
      x->set_call(kCalls[r->call < 5 ? r->call : 0]);
      const bool symlink = r->call == VIGIL_LINK_CALL_SYMLINK || r->call == VIGIL_LINK_CALL_SYMLINKAT;
      // A symlink's target is a string the kernel keeps as given.
      x->set_target(symlink ? BoundedString(r->from.raw, sizeof(r->from.raw)) : PathOf(r->from, stats));
      x->set_path(PathOf(r->to, stats));
      x->set_flags(r->flags);
      x->set_result(r->result);
      break;
    }
    case VIGIL_SOCKET: {
      const auto* r = static_cast<const vigil_call*>(data);
      auto* x = e->mutable_socket();
      x->set_family(r->a);
      x->set_type(r->b);
      x->set_protocol(r->c);
      x->set_result(r->result);
      break;
    }
    case VIGIL_BPF: {
      const auto* r = static_cast<const vigil_call*>(data);
      auto* x = e->mutable_bpf();
      x->set_cmd(r->a);
      x->set_prog_type(r->b);
      x->set_sub_type(r->c);
      x->set_name(BoundedString(r->name, sizeof(r->name)));
      x->set_result(r->result);
      break;
    }
    case VIGIL_USERFAULTFD: {
      const auto* r = static_cast<const vigil_call*>(data);
      auto* x = e->mutable_userfaultfd();
      x->set_flags(r->a);
      x->set_result(r->result);
      break;
    }
    case VIGIL_SEND: {
      const auto* r = static_cast<const vigil_net*>(data);
      auto* x = e->mutable_send();
      x->set_call(r->backlog == VIGIL_SEND_CALL_SENDMSG ? "sendmsg" : "sendto");
      SetSockAddr(r->remote, x->mutable_remote());
      x->set_protocol(ProtocolOf(r->protocol));
      x->set_result(r->result);
      break;
    }
    case VIGIL_URING: {
      const auto* r = static_cast<const vigil_call*>(data);
      auto* x = e->mutable_io_uring_op();
      if (r->a == VIGIL_URING_SETUP) {
        x->set_call("io_uring_setup");
        x->set_flags(r->b);
        x->set_entries(r->c);
      } else {
        const char* name = UringOpName(r->b);
        x->set_call("io_uring_enter");
        x->set_op(name ? name : "op_" + std::to_string(r->b));
      }
      x->set_result(r->result);
      break;
    }
    case VIGIL_DNS: {
      // Sent up to the message's last byte: caplen says how much of msg is there.
      const auto* r = static_cast<const vigil_dns*>(data);
      if (r->caplen > VIGIL_DNS_MAX || offsetof(vigil_dns, msg) + r->caplen > size) {
        *error = "dns record claims " + std::to_string(r->caplen) + " bytes but holds " +
                 std::to_string(size - offsetof(vigil_dns, msg));
        return false;
      }
      auto* x = e->mutable_dns();
      x->set_message(reinterpret_cast<const char*>(r->msg), r->caplen);
      x->set_length(r->len);
      auto* server = x->mutable_server();
      server->set_family(r->family);
      server->set_port(r->server_port);
      server->set_address(std::string(reinterpret_cast<const char*>(r->server), r->family == 10 ? 16 : 4));
      x->set_protocol(ProtocolOf(r->protocol));
      x->set_allowed(r->allowed);
      break;
    }
  }
  return true;
}

bool DecodePacket(const void* data, size_t size, v1::Packet* out, std::string* error) {
  if (size < sizeof(vigil_packet)) {
    *error = "packet record of " + std::to_string(size) + " bytes is shorter than its header";
    return false;
  }
  const auto* p = static_cast<const vigil_packet*>(data);
  if (p->caplen > VIGIL_SNAP_MAX || sizeof(vigil_packet) + p->caplen > size) {
    *error = "packet record claims " + std::to_string(p->caplen) + " bytes but holds " +
             std::to_string(size - sizeof(vigil_packet));
    return false;
  }
  out->set_capture_id(p->capture_id);
  out->set_ktime_ns(p->ktime_ns);
  out->set_cgroup_id(p->cgroup_id);
  out->set_egress(p->egress != 0);
  out->set_len(p->len);
  out->set_data(reinterpret_cast<const char*>(p + 1), p->caplen);
  return true;
}

}  // namespace vigil
