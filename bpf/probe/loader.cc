#include "loader.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <functional>
#include <sstream>
#include <fcntl.h>
#include <random>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <thread>
#include <unistd.h>
#include <vector>
#include <zlib.h>

extern "C" {
#include "events.h"
#include "maps.h"
}
#include "log.h"
#include "vigil.skel.h"

namespace vigil {

namespace {

// The perf events the tracepoint programs are attached through
// ("anon_inode:[perf_event]" in /proc/self/fd), but for `links`: before
// BPF links for perf events (5.15) the event is the link, and whoever holds
// it holds the program attached.
std::vector<int> PerfEventFds(const std::vector<int>& links) {
  std::vector<int> fds;
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return fds;
  while (dirent* e = readdir(dir)) {
    char target[64];
    ssize_t n = readlinkat(dirfd(dir), e->d_name, target, sizeof(target) - 1);
    if (n <= 0) continue;
    target[n] = '\0';
    int fd = atoi(e->d_name);
    if (strcmp(target, "anon_inode:[perf_event]") == 0 && std::find(links.begin(), links.end(), fd) == links.end())
      fds.push_back(fd);
  }
  closedir(dir);
  return fds;
}

// Freeing a tracepoint's perf event makes the kernel wait out an RCU grace
// period while it holds a global mutex (perf_trace_destroy), so perf events
// are freed one after another: ~20-50 ms each here, 1-3 s for the 60-odd
// syscall tracepoints Vigil attaches, which kept the probe from exiting for
// seconds after SIGTERM. The programs themselves detach in parallel (a
// link's release detaches its program, then drops its hold on the perf
// event). So a child takes over the perf events, emptied of programs: it
// keeps them until this process has exited, then exits itself, and the
// kernel frees them in its exit while nobody waits. Returns the child's pid
// and how many it took, or 0 when there was nothing to hand over or fork
// failed: they are then freed here, slowly.
pid_t HandOffPerfEvents(const std::vector<int>& links, size_t* count) {
  std::vector<int> perf = PerfEventFds(links);
  *count = perf.size();
  if (perf.empty()) return 0;
  std::vector<int> open;  // every fd, to close in the child (no allocation after fork)
  if (DIR* dir = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(dir))
      if (e->d_name[0] != '.') open.push_back(atoi(e->d_name));
    closedir(dir);
  }
  int ready[2], hold[2];
  if (pipe2(ready, O_CLOEXEC) != 0) return 0;
  if (pipe2(hold, O_CLOEXEC) != 0) {
    close(ready[0]);
    close(ready[1]);
    return 0;
  }
  pid_t pid = fork();
  if (pid == 0) {
    // Async-signal-safe calls only: the parent has threads.
    prctl(PR_SET_NAME, "vigil-detach");
    signal(SIGTERM, SIG_DFL);  // not the probe's handlers
    signal(SIGINT, SIG_DFL);
    close(ready[0]);
    close(hold[1]);
    for (int fd : open) {
      bool keep = fd == ready[1] || fd == hold[0];
      for (int p : perf) keep = keep || fd == p;
      if (!keep) close(fd);
    }
    char byte = 1;
    (void)!write(ready[1], &byte, 1);
    close(ready[1]);
    while (read(hold[0], &byte, 1) < 0 && errno == EINTR) {}  // EOF: the probe has exited
    _exit(0);
  }
  close(ready[1]);
  close(hold[0]);
  bool handed = false;
  if (pid > 0) {
    char byte;
    ssize_t n;
    while ((n = read(ready[0], &byte, 1)) < 0 && errno == EINTR) {}
    handed = n == 1;
  }
  close(ready[0]);
  // hold[1] stays open until this process exits: the child's signal to let go.
  if (!handed) close(hold[1]);
  return handed ? pid : 0;
}

}  // namespace

Loader::~Loader() {
  if (ring_positions_) munmap(const_cast<uint64_t*>(ring_positions_), 2 * page_);
  for (auto& c : cgroup_links_) bpf_link__destroy(c.link);
  if (task_iter_) bpf_link__destroy(task_iter_);
  if (!skel_) return;
  std::vector<bpf_link*> links;
  std::vector<int> link_fds;
  const bpf_object_skeleton* s = skel_->skeleton;
  for (int i = 0; i < s->prog_cnt; i++) {
    bpf_link** link = s->progs[i].link;
    if (!link || !*link) continue;
    links.push_back(*link);
    link_fds.push_back(bpf_link__fd(*link));
    *link = nullptr;
  }
  size_t events = 0;
  pid_t holder = HandOffPerfEvents(link_fds, &events);
  // Each link's release waits out a grace period of its own before its
  // program is detached; in parallel those waits overlap.
  std::vector<std::thread> detaching;
  for (bpf_link* l : links) detaching.emplace_back([l] { bpf_link__destroy(l); });
  for (auto& t : detaching) t.join();
  vigil_bpf__destroy(skel_);
  if (holder) Log("info", "programs detached; the kernel frees their %zu tracepoint events in pid %d", events, int(holder));
}

namespace {

// Tracepoints are attached by id, read from tracefs; a fresh node may not
// have it mounted (libbpf looks in both places below).
bool EnsureTracefs(std::string* error) {
  if (access("/sys/kernel/tracing/events", F_OK) == 0 || access("/sys/kernel/debug/tracing/events", F_OK) == 0)
    return true;
  if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, nullptr) == 0) {
    Log("info", "mounted tracefs at /sys/kernel/tracing");
    return true;
  }
  *error = std::string("tracefs is not mounted and mounting it at /sys/kernel/tracing failed: ") + strerror(errno) +
           " (mount it on the host, or give the probe /sys/kernel/tracing)";
  return false;
}

// The kernel's tick rate (CONFIG_HZ) from its config, /proc/config.gz
// (the running kernel's own) or /boot/config-RELEASE; 0 when neither is
// there. gzopen reads plain files too.
long KernelHz() {
  utsname uts{};
  uname(&uts);
  for (const std::string& path : {std::string("/proc/config.gz"), std::string("/boot/config-") + uts.release}) {
    gzFile f = gzopen(path.c_str(), "re");
    if (!f) continue;
    char line[256];
    long hz = 0;
    while (gzgets(f, line, sizeof(line))) {
      if (strncmp(line, "CONFIG_HZ=", 10) == 0) {
        hz = strtol(line + 10, nullptr, 10);
        break;
      }
    }
    gzclose(f);
    if (hz > 0) return hz;
  }
  return 0;
}

}  // namespace

const char* MechanismName(Mechanism m) {
  switch (m) {
    case Mechanism::kLsm: return "bpf-lsm";
    case Mechanism::kFmodRet: return "fmod_ret";
    case Mechanism::kCgroup: return "cgroup";
    case Mechanism::kKill: return "kill-at-entry";
    case Mechanism::kNone: return "none";
  }
  return "none";
}

namespace {

// What libbpf says while loading (the verifier's log comes this way), kept
// so a failure can name the program and quote the verifier.
std::string g_libbpf_log;

int CaptureLibbpf(enum libbpf_print_level level, const char* fmt, va_list ap) {
  if (level == LIBBPF_DEBUG) return 0;
  va_list copy;
  va_copy(copy, ap);
  int n = vsnprintf(nullptr, 0, fmt, copy);
  va_end(copy);
  if (n <= 0 || g_libbpf_log.size() > (4u << 20)) return 0;
  std::string line(n + 1, '\0');
  vsnprintf(line.data(), line.size(), fmt, ap);
  line.resize(n);
  g_libbpf_log += line;
  return 0;
}

struct Failure {
  std::string program;   // the program libbpf names, empty when none
  std::string verifier;  // the verifier's last words, empty when it said nothing
};

// The first program libbpf blames, and the end of its verifier log.
Failure ParseFailure(const std::string& log) {
  Failure f;
  size_t at = 0;
  while ((at = log.find("prog '", at)) != std::string::npos) {
    size_t end = log.find('\'', at + 6);
    if (end == std::string::npos) break;
    size_t eol = log.find('\n', end);
    std::string rest = log.substr(end, eol == std::string::npos ? std::string::npos : eol - end);
    if (rest.find("fail") != std::string::npos || rest.find("BEGIN PROG LOAD LOG") != std::string::npos) {
      f.program = log.substr(at + 6, end - at - 6);
      break;
    }
    at = end;
  }
  size_t begin = log.find("-- BEGIN PROG LOAD LOG --");
  size_t finish = log.find("-- END PROG LOAD LOG --");
  if (begin != std::string::npos && finish != std::string::npos && finish > begin) {
    std::istringstream in(log.substr(begin + 25, finish - begin - 25));
    std::vector<std::string> lines;
    for (std::string l; std::getline(in, l);) {
      if (l.empty() || l.rfind("processed ", 0) == 0 || l.rfind("verification time", 0) == 0 ||
          l.rfind("stack depth", 0) == 0)
        continue;
      lines.push_back(l);
    }
    size_t from = lines.size() > 3 ? lines.size() - 3 : 0;
    for (size_t i = from; i < lines.size(); i++) f.verifier += (f.verifier.empty() ? "" : " | ") + lines[i];
  }
  return f;
}

// Enforced operations: the hook that denies each (as lsm/<hook> and
// fmod_ret/security_<hook>, bpf/deny.bpf.h), and what is left without it.
struct OpSpec {
  uint32_t bit;
  const char* op;
  const char* hook;
  Mechanism fallback;
};
const OpSpec kOps[] = {
    {VIGIL_OP_OPEN, "open-write", "file_open", Mechanism::kKill},
    {VIGIL_OP_CREATE, "create", "path_mknod", Mechanism::kKill},
    {VIGIL_OP_TRUNCATE, "truncate", "path_truncate", Mechanism::kNone},
    {VIGIL_OP_UNLINK, "unlink", "path_unlink", Mechanism::kKill},
    {VIGIL_OP_RMDIR, "rmdir", "path_rmdir", Mechanism::kKill},
    {VIGIL_OP_RENAME, "rename", "path_rename", Mechanism::kKill},
    {VIGIL_OP_CHMOD, "chmod", "path_chmod", Mechanism::kKill},
    {VIGIL_OP_CHOWN, "chown", "path_chown", Mechanism::kNone},
    {VIGIL_OP_MKDIR, "mkdir", "path_mkdir", Mechanism::kNone},
    {VIGIL_OP_SYMLINK, "symlink", "path_symlink", Mechanism::kNone},
    {VIGIL_OP_LINK, "link", "path_link", Mechanism::kNone},
    {VIGIL_OP_EXEC, "exec", "bprm_creds_from_file", Mechanism::kKill},
    {VIGIL_OP_CONNECT, "connect", "socket_connect", Mechanism::kCgroup},
    // bpf() itself: without a security hook it is not stopped, only
    // alerted (the built-in BPF rules), and said so (mechanism none).
    {VIGIL_OP_BPF, "bpf", "bpf", Mechanism::kNone},
};
constexpr size_t kNumOps = sizeof(kOps) / sizeof(kOps[0]);

std::string ProgName(const OpSpec& o, Mechanism m) {
  return std::string(m == Mechanism::kLsm ? "lsm_" : "fmod_") + o.hook;
}

int OpOfProgram(const std::string& name) {
  for (size_t i = 0; i < kNumOps; i++)
    if (name == ProgName(kOps[i], Mechanism::kLsm) || name == ProgName(kOps[i], Mechanism::kFmodRet)) return int(i);
  return -1;
}

bool IsDenyProgram(const char* name) {
  return strncmp(name, "lsm_", 4) == 0 || strncmp(name, "fmod_", 5) == 0;
}

// Whether the BPF LSM is active in this boot: "bpf" in the securityfs LSM
// list (securityfs mounted when it is not). *why says why not.
bool BpfLsmActive(std::string* why) {
  const char* path = "/sys/kernel/security/lsm";
  if (access(path, R_OK) != 0) mount("securityfs", "/sys/kernel/security", "securityfs", 0, nullptr);
  std::ifstream in(path);
  std::string list;
  if (!in || !std::getline(in, list)) {
    *why = std::string("cannot read ") + path + " (securityfs): " + strerror(errno);
    return false;
  }
  std::stringstream ss(list);
  for (std::string item; std::getline(ss, item, ',');)
    if (item == "bpf") return true;
  *why = "the BPF LSM is not in this boot's LSM list (" + list + "); boot with lsm=...,bpf to have it";
  return false;
}

// Whether the kernel loads a two-instruction program (return 0: allow,
// or call the function) of `type` on vmlinux function `target`, as the
// deny programs are loaded. 0 when it does; else the errno, with *verifier
// set when the verifier had something to say (then the refusal is about
// that program, not the kind).
int TinyProgramRefused(const btf* vmlinux, bpf_prog_type type, bpf_attach_type attach, const char* target,
                       bool* verifier) {
  *verifier = false;
  const int id = btf__find_by_name_kind(vmlinux, target, BTF_KIND_FUNC);
  if (id < 0) return ENOENT;
  const bpf_insn insns[] = {
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .src_reg = 0, .off = 0, .imm = 0},
      {.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
  };
  char log[4096] = {};  // room for the whole log: a truncated one fails the load (ENOSPC)
  LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = attach, .attach_btf_id = uint32_t(id),
              .log_level = 1, .log_size = sizeof(log), .log_buf = log);
  const int fd = bpf_prog_load(type, "vigil_probe", "GPL", insns, 2, &opts);
  if (fd >= 0) {
    close(fd);
    return 0;
  }
  const int err = errno;
  *verifier = log[0] != '\0';
  return err;
}

// Each operation's deny mechanism, decided before the object is loaded so
// that it loads once: the BPF LSM when this boot has it and the kernel
// takes an LSM program, else fmod_ret on security_* when the kernel takes
// one, else each operation's fallback. Probed with a two-instruction
// program of each kind on file_open (loaded, never attached), which the
// kernel refuses for the same reasons as the real ones (no BPF LSM or
// trampolines in this kernel, a security module or lockdown refusing the
// kind: EPERM here). A refusal that is about one program (a verifier
// message, a missing hook) is left to the load, which steps that
// operation down as before.
void DecideDenyMechanisms(Mechanism* mech, std::string* why, size_t n, const std::function<Mechanism(size_t)>& fallback) {
  std::string lsm_why;
  const bool lsm = BpfLsmActive(&lsm_why);
  Mechanism kind = lsm ? Mechanism::kLsm : Mechanism::kFmodRet;
  std::string said = lsm ? "" : "no BPF LSM: " + lsm_why;
  btf* vmlinux = btf__load_vmlinux_btf();
  while (vmlinux && (kind == Mechanism::kLsm || kind == Mechanism::kFmodRet)) {
    const bool is_lsm = kind == Mechanism::kLsm;
    bool verifier = false;
    const int err = is_lsm ? TinyProgramRefused(vmlinux, BPF_PROG_TYPE_LSM, BPF_LSM_MAC, "bpf_lsm_file_open", &verifier)
                           : TinyProgramRefused(vmlinux, BPF_PROG_TYPE_TRACING, BPF_MODIFY_RETURN, "security_file_open", &verifier);
    if (!err || verifier || err == ESRCH || err == ENOENT) break;
    const std::string prog = is_lsm ? "lsm/file_open" : "fmod_ret/security_file_open";
    said += std::string(said.empty() ? "" : "; ") + "the kernel refused " + prog + " (load): " + strerror(err);
    Log("info", "%s refused at load (%s): not used on this kernel", prog.c_str(), strerror(err));
    kind = is_lsm ? Mechanism::kFmodRet : Mechanism::kNone;
  }
  btf__free(vmlinux);
  for (size_t i = 0; i < n; i++) {
    mech[i] = kind == Mechanism::kNone ? fallback(i) : kind;
    why[i] = said;
  }
}

bool HasTracepoint(const std::string& event, const std::string& group = "syscalls") {
  return access(("/sys/kernel/tracing/events/" + group + "/" + event).c_str(), F_OK) == 0 ||
         access(("/sys/kernel/debug/tracing/events/" + group + "/" + event).c_str(), F_OK) == 0;
}

// io_uring's tracepoints (bpf/uring.bpf.h): the submit tracepoint was
// io_uring_submit_sqe before 6.0, io_uring_submit_req since; none exist
// in a kernel built without io_uring. The empty string: present.
std::string MissingUringTracepoint(const char* sec) {
  if (strncmp(sec, "tp_btf/io_uring_", 16) != 0) return "";
  return HasTracepoint(sec + 7, "io_uring") ? "" : sec + 7;
}

// Settings every load shares: sizes, the read-only globals, which
// programs attach by themselves. The enforcement programs start off.
bool ConfigureSkeleton(vigil_bpf* skel, const LoadOptions& options, std::vector<std::string>* missing, std::string* error) {
  if (int err = bpf_map__set_max_entries(skel->maps.events, options.ringbuf_bytes)) {
    *error = "ring buffer size " + std::to_string(options.ringbuf_bytes) + ": " + strerror(-err);
    return false;
  }
  skel->rodata->wakeup_gap_ns = options.wakeup_gap_ns;
  // Past 1/16 of the ring unread, wake the probe whatever the gap.
  skel->rodata->wakeup_bytes = options.ringbuf_bytes / 16;
  // The last quarter of the ring is kept for events never shed (fair.bpf.h).
  skel->rodata->fair_reserve_bytes = options.fairness ? uint64_t(options.ringbuf_bytes) / 4 * 3 : 0;
  skel->rodata->dedup_window_ns = options.dedup_window_ns;
  skel->rodata->dedup_per_workload = options.dedup_per_workload;
  if (long hz = KernelHz()) skel->rodata->dedup_tick_ns = 1000000000 / hz;
  std::random_device rd;
  skel->rodata->dedup_seed = (uint64_t(rd()) << 32) | rd();
  // Hooks leave an io_uring denial to the completion's record only where
  // the submit and completion tracepoints follow the request.
  skel->rodata->uring_ops_tracked =
      HasTracepoint("io_uring_complete", "io_uring") &&
      (HasTracepoint("io_uring_submit_req", "io_uring") || HasTracepoint("io_uring_submit_sqe", "io_uring"));
  // Syscalls this kernel lacks (fchmodat2 before 6.6, no legacy open on
  // arm64) are skipped instead of failing the whole load.
  bpf_program* prog;
  bpf_object__for_each_program(prog, skel->obj) {
    const char* sec = bpf_program__section_name(prog);
    // cgroup programs are attached to chosen cgroups, never automatically.
    if (strncmp(sec, "cgroup", 6) == 0) bpf_program__set_autoattach(prog, false);
    // The task iterator is read on demand (TaskCgroups), never attached to a hook.
    if (strncmp(sec, "iter/", 5) == 0) bpf_program__set_autoattach(prog, false);
    if (IsDenyProgram(bpf_program__name(prog))) bpf_program__set_autoload(prog, false);
    const std::string no_uring = MissingUringTracepoint(sec);
    if (!no_uring.empty()) {
      // The submit tracepoint under its other name is expected to be missing.
      if (missing && no_uring != "io_uring_submit_sqe" && no_uring != "io_uring_submit_req") missing->push_back(no_uring);
      bpf_program__set_autoload(prog, false);
      continue;
    }
    if (strncmp(sec, "tp/syscalls/", 12) != 0) continue;
    if (!HasTracepoint(sec + 12)) {
      if (missing) missing->push_back(sec + 12);
      bpf_program__set_autoload(prog, false);
    }
  }
  return true;
}

// Paths whose events are never shed by fairness (fair.bpf.h): what the
// built-in rules and enforcement read. Prefixes start a path, suffixes end it.
const char* const kKeepPrefixes[] = {"/etc/", "/root/", "/boot/", "/bin/", "/sbin/", "/usr/bin/", "/usr/sbin/",
                                     "/usr/local/", "/lib/systemd/", "/usr/lib/systemd/", "/var/log/",
                                     "/var/spool/cron/", "/var/run/", "/run/", "/home/", "/dev/shm/"};
const char* const kKeepSuffixes[] = {"/shadow", "/gshadow", "/sudoers", "/passwd", "/id_rsa", "/id_dsa",
                                     "/id_ecdsa", "/id_ed25519", "/authorized_keys", "/credentials", "/mem",
                                     "/environ", "_history", "/token", "/kubeconfig", "/ld.so.preload"};
// Each prefix goes in twice: as written, and as the walk of a file's path
// ends (leaf first, read backwards: "/etc/" is "\0cte\0"), for the file an
// open opened (fair_kept_opened).
static_assert(2 * sizeof(kKeepPrefixes) / sizeof(char*) <= VIGIL_KEEP_MAX, "at most VIGIL_KEEP_MAX / 2 kept prefixes");
static_assert(sizeof(kKeepSuffixes) / sizeof(char*) <= VIGIL_KEEP_MAX, "at most VIGIL_KEEP_MAX kept suffixes");

// The de-duplication table's parts (bpf/dedup.bpf.h), each an array
// small enough to come from the kernel's heap; filled before the programs
// attach (until then its events would only cross). In one batch where the
// kernel has it: each update of a map of maps waits for an RCU grace
// period (85 single updates took 1.2 s on a loaded 2-vCPU VM).
bool FillDedupTable(vigil_bpf* skel, std::string* error) {
  uint32_t keys[VIGIL_DEDUP_PARTS];
  int fds[VIGIL_DEDUP_PARTS];
  uint32_t made = 0;
  auto close_all = [&]() {
    for (uint32_t i = 0; i < made; i++) close(fds[i]);  // the table holds those it took
  };
  for (; made < VIGIL_DEDUP_PARTS; made++) {
    keys[made] = made;
    fds[made] = bpf_map_create(BPF_MAP_TYPE_ARRAY, "dedup_part", sizeof(uint32_t), VIGIL_DEDUP_SLOT_BYTES,
                               VIGIL_DEDUP_PART_SLOTS, nullptr);
    if (fds[made] < 0) {
      *error = "cannot create part " + std::to_string(made) + " of the de-duplication table: " + strerror(errno);
      close_all();
      return false;
    }
  }
  const int table = bpf_map__fd(skel->maps.dedup_seen);
  uint32_t done = VIGIL_DEDUP_PARTS;
  if (bpf_map_update_batch(table, keys, fds, &done, nullptr)) done = 0;  // before 6.1 no batches for maps of maps
  for (uint32_t i = done; i < VIGIL_DEDUP_PARTS; i++) {
    if (bpf_map_update_elem(table, &keys[i], &fds[i], BPF_ANY)) {
      *error = std::string("cannot fill the de-duplication table: ") + strerror(errno);
      close_all();
      return false;
    }
  }
  close_all();
  return true;
}

bool FillKeepLists(vigil_bpf* skel, std::string* error) {
  const uint8_t one = 1;
  for (const char* p : kKeepPrefixes) {
    vigil_keep_prefix_key k = {};
    size_t n = strlen(p);
    k.prefixlen = n * 8;
    memcpy(k.data, p, n);
    vigil_keep_prefix_key walked = k;
    // '/' becomes NUL and each component is reversed in place.
    for (size_t i = 0; i < n;) {
      if (p[i] == '/') {
        walked.data[i++] = 0;
        continue;
      }
      size_t end = i;
      while (end < n && p[end] != '/') end++;
      for (size_t j = i; j < end; j++) walked.data[j] = p[end - 1 - (j - i)];
      i = end;
    }
    if (bpf_map__update_elem(skel->maps.keep_prefixes, &k, sizeof(k), &one, sizeof(one), BPF_ANY) ||
        bpf_map__update_elem(skel->maps.keep_prefixes, &walked, sizeof(walked), &one, sizeof(one), BPF_ANY)) {
      *error = std::string("cannot fill keep_prefixes: ") + strerror(errno);
      return false;
    }
  }
  for (const char* p : kKeepSuffixes) {
    // Reversed: the kernel matches a path's reversed tail against them.
    vigil_keep_suffix_key k = {};
    size_t n = strlen(p);
    k.prefixlen = n * 8;
    for (size_t i = 0; i < n; i++) k.data[i] = p[n - 1 - i];
    if (bpf_map__update_elem(skel->maps.keep_suffixes, &k, sizeof(k), &one, sizeof(one), BPF_ANY)) {
      *error = std::string("cannot fill keep_suffixes: ") + strerror(errno);
      return false;
    }
  }
  return true;
}

}  // namespace

bool Loader::Start(const LoadOptions& options, std::string* error) {
  if (!EnsureTracefs(error)) return false;
  libbpf_set_print(CaptureLibbpf);
  wakeup_gap_ns_ = options.wakeup_gap_ns;
  if (!KernelHz() && options.dedup_window_ns)
    Log("info", "no kernel config (/proc/config.gz, /boot/config-*): de-duplication windows timed by bpf_ktime_get_ns(), a little slower than by jiffies");

  // Each operation starts at the strongest mechanism this boot can have
  // and steps down when the kernel refuses the program that does it.
  Mechanism mech[kNumOps];
  std::string why[kNumOps];
  DecideDenyMechanisms(mech, why, kNumOps, [](size_t i) { return kOps[i].fallback; });
  bool dns_off = false, iter_off = false;
  for (int attempt = 0;; attempt++) {
    if (skel_) vigil_bpf__destroy(skel_);
    skel_ = vigil_bpf__open();
    if (!skel_) {
      *error = std::string("cannot open BPF object: ") + strerror(errno);
      return false;
    }
    std::vector<std::string> missing;
    if (!ConfigureSkeleton(skel_, options, &missing, error)) return false;
    if (dns_off) bpf_program__set_autoload(skel_->progs.dns_ingress, false);
    if (iter_off) bpf_program__set_autoload(skel_->progs.snapshot_cgroups, false);
    if (attempt == 0)
      for (const auto& m : missing) Log("warn", "this kernel has no %s tracepoint: not watched", m.c_str());
    uint32_t kill = 0;
    for (size_t i = 0; i < kNumOps; i++) {
      if (mech[i] == Mechanism::kLsm || mech[i] == Mechanism::kFmodRet) {
        bpf_program* p = bpf_object__find_program_by_name(skel_->obj, ProgName(kOps[i], mech[i]).c_str());
        if (p) bpf_program__set_autoload(p, true);
      } else {
        kill |= kOps[i].bit & VIGIL_OP_ALL;
      }
    }
    skel_->rodata->kill_ops = kill;
    g_libbpf_log.clear();
    const char* stage = "load";
    // VIGIL_VERIFIER_STATS=1: each program's verification time and
    // instructions processed, on stderr (where the probe's start time goes).
    static std::vector<std::pair<bpf_program*, std::string>> stats;
    stats.clear();
    if (getenv("VIGIL_VERIFIER_STATS")) {
      bpf_program* p;
      stats.reserve(256);
      bpf_object__for_each_program(p, skel_->obj) {
        if (!bpf_program__autoload(p)) continue;
        stats.push_back({p, std::string(65536, '\0')});
        bpf_program__set_log_buf(p, stats.back().second.data(), stats.back().second.size());
        bpf_program__set_log_level(p, 4);
      }
    }
    int err = vigil_bpf__load(skel_);
    for (auto& [p, log] : stats) {
      std::string line;
      for (const char* key : {"verification time", "processed"}) {
        size_t at = log.find(key);
        if (at != std::string::npos) line += " " + log.substr(at, log.find('\n', at) - at);
      }
      if (!line.empty()) fprintf(stderr, "verifier %s:%s\n", bpf_program__name(p), line.c_str());
    }
    if (!err) {
      if (!FillDedupTable(skel_, error)) return false;
      stage = "attach";
      err = vigil_bpf__attach(skel_);
      if (!err) break;
    }
    Failure f = ParseFailure(g_libbpf_log);
    // The DNS answer program is not worth the probe: without it connects
    // are judged by address only, which the hooks list (and so `vigil
    // status` and an alert from the engine) says.
    if (f.program == "dns_ingress" && !dns_off) {
      dns_off = true;
      Log("warn", "the kernel refused the DNS answer program (%s): %s; connects are judged by address only", stage,
          f.verifier.empty() ? strerror(-err) : f.verifier.c_str());
      continue;
    }
    // Nor is the task iterator: without it the snapshot reads cgroups
    // from /proc, which `vigil status` and an engine alert say.
    if (f.program == "snapshot_cgroups" && !iter_off) {
      iter_off = true;
      Log("warn", "the kernel refused the task iterator (%s): %s; the snapshot reads each process's cgroup from /proc",
          stage, f.verifier.empty() ? strerror(-err) : f.verifier.c_str());
      continue;
    }
    int op = OpOfProgram(f.program);
    if (op < 0 || attempt > int(2 * kNumOps)) {
      bpf_program* p = f.program.empty() ? nullptr : bpf_object__find_program_by_name(skel_->obj, f.program.c_str());
      *error = std::string("cannot ") + stage + " BPF program" +
               (f.program.empty() ? "s" : " " + f.program + (p ? std::string(" (") + bpf_program__section_name(p) + ")" : "")) +
               ": " + strerror(-err) + (f.verifier.empty() ? "" : "; the verifier says: " + f.verifier);
      // Refused with no word from the verifier: most likely privileges.
      if (f.verifier.empty() && (err == -EPERM || err == -EACCES))
        *error += " (the probe needs CAP_BPF, CAP_PERFMON, CAP_SYS_RESOURCE or root, and a kernel with BTF)";
      return false;
    }
    // An enforcement program the kernel would not take: that operation,
    // or every one of that kind when the kernel refuses the kind itself
    // (no verifier complaint: EPERM, unsupported), steps down.
    const Mechanism was = mech[op];
    const std::string prog = std::string(was == Mechanism::kLsm ? "lsm/" : "fmod_ret/security_") + kOps[op].hook;
    const std::string reason = f.verifier.empty() ? std::string(strerror(-err)) : "the verifier rejected it: " + f.verifier;
    const bool whole_kind = f.verifier.empty() && err != -ESRCH && err != -ENOENT;
    for (size_t i = 0; i < kNumOps; i++) {
      if (mech[i] != was || (!whole_kind && int(i) != op)) continue;
      mech[i] = was == Mechanism::kLsm ? Mechanism::kFmodRet : kOps[i].fallback;
      why[i] += std::string(why[i].empty() ? "" : "; ") + "the kernel refused " + prog + " (" + stage + "): " + reason;
    }
    Log(f.verifier.empty() ? "info" : "warn", "%s refused at %s (%s): %s", prog.c_str(), stage, reason.c_str(),
        whole_kind ? "not used on this kernel" : "that operation steps down");
  }
  enforcement_.clear();
  for (size_t i = 0; i < kNumOps; i++) {
    EnforcementHook h;
    h.operation = kOps[i].op;
    h.mechanism = mech[i];
    if (mech[i] == Mechanism::kLsm) h.program = std::string("lsm/") + kOps[i].hook;
    else if (mech[i] == Mechanism::kFmodRet) h.program = std::string("fmod_ret/security_") + kOps[i].hook;
    else if (mech[i] == Mechanism::kKill) h.program = kOps[i].bit == VIGIL_OP_EXEC ? "tp_btf/sched_process_exec" : "tp/syscalls/sys_enter_*";
    h.why = why[i];
    enforcement_.push_back(h);
  }
  bpf_program* prog;
  bpf_object__for_each_program(prog, skel_->obj) {
    if (bpf_program__autoload(prog) && bpf_program__autoattach(prog)) hooks_.push_back(bpf_program__section_name(prog));
  }
  if (!iter_off) {
    task_iter_ = bpf_program__attach_iter(skel_->progs.snapshot_cgroups, nullptr);
    if (task_iter_) hooks_.push_back(kTaskIterHook);
    else Log("warn", "cannot attach the task iterator: %s; the snapshot reads each process's cgroup from /proc", strerror(errno));
  }
  if (!FillKeepLists(skel_, error)) return false;
  page_ = sysconf(_SC_PAGESIZE);
  void* pages = mmap(nullptr, 2 * page_, PROT_READ, MAP_SHARED, RingBufferFd(), 0);
  if (pages == MAP_FAILED) {
    *error = std::string("cannot map the ring buffer's positions: ") + strerror(errno);
    return false;
  }
  ring_positions_ = static_cast<const volatile uint64_t*>(pages);
  return true;
}

std::vector<ProgramCheck> Loader::CheckPrograms(const LoadOptions& options) {
  libbpf_set_print(CaptureLibbpf);
  std::vector<ProgramCheck> out;
  std::string lsm_why;
  const bool lsm = BpfLsmActive(&lsm_why);
  std::string error;
  EnsureTracefs(&error);
  vigil_bpf* skel = vigil_bpf__open();
  if (!skel) return out;
  bpf_program* prog;
  bpf_object__for_each_program(prog, skel->obj) { ProgramCheck c; c.name = bpf_program__name(prog); c.section = bpf_program__section_name(prog); out.push_back(c); }
  vigil_bpf__destroy(skel);
  for (auto& c : out) {
    if (c.name.rfind("lsm_", 0) == 0 && !lsm) {
      c.status = ProgramCheck::kSkip;
      c.reason = lsm_why;
      continue;
    }
    if (!MissingUringTracepoint(c.section.c_str()).empty()) {
      c.status = ProgramCheck::kSkip;
      c.reason = "this kernel has no " + c.section.substr(7) + " tracepoint";
      continue;
    }
    if (c.section.rfind("tp/syscalls/", 0) == 0 && !HasTracepoint(c.section.substr(12))) {
      c.status = ProgramCheck::kSkip;
      c.reason = "this kernel has no " + c.section.substr(12) + " tracepoint";
      continue;
    }
    skel = vigil_bpf__open();
    if (!skel || !ConfigureSkeleton(skel, options, nullptr, &error)) {
      c.status = ProgramCheck::kFail;
      c.reason = skel ? error : "cannot open BPF object";
      if (skel) vigil_bpf__destroy(skel);
      continue;
    }
    bpf_object__for_each_program(prog, skel->obj) bpf_program__set_autoload(prog, c.name == bpf_program__name(prog));
    g_libbpf_log.clear();
    int err = vigil_bpf__load(skel);
    vigil_bpf__destroy(skel);
    if (!err) continue;
    Failure f = ParseFailure(g_libbpf_log);
    if (f.verifier.empty() && IsDenyProgram(c.name.c_str())) {
      // The kernel refuses the program type itself, not the verifier (a
      // hypervisor or lockdown can): the probe then steps down to the next
      // mechanism and says so.
      c.status = ProgramCheck::kSkip;
      c.reason = std::string("the kernel refuses ") + (c.name[0] == 'l' ? "BPF LSM" : "fmod_ret") +
                 " programs here: " + strerror(-err);
      continue;
    }
    c.status = ProgramCheck::kFail;
    c.reason = std::string(strerror(-err)) + (f.verifier.empty() ? "" : "; the verifier says: " + f.verifier);
  }
  return out;
}

bool Loader::AttachConnectHooks(const std::string& cgroup2_mount, std::string* error) {
  // Where no security hook took connect, these are what refuses it.
  auto settle = [this](bool attached, const std::string& why) {
    for (auto& h : enforcement_) {
      if (h.operation != "connect" || h.mechanism == Mechanism::kLsm || h.mechanism == Mechanism::kFmodRet) continue;
      h.mechanism = attached ? Mechanism::kCgroup : Mechanism::kNone;
      h.program = attached ? "cgroup/connect4,cgroup/connect6" : "";
      if (!attached) h.why += (h.why.empty() ? "" : "; ") + why;
    }
  };
  if (cgroup2_mount.empty()) {
    *error = "no cgroup v2 mount: connects cannot be refused on this node";
    settle(false, *error);
    return false;
  }
  int fd = open(cgroup2_mount.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    *error = "cannot open " + cgroup2_mount + ": " + strerror(errno);
    settle(false, *error);
    return false;
  }
  for (bpf_program* prog : {skel_->progs.enforce_connect4, skel_->progs.enforce_connect6}) {
    bpf_link* link = bpf_program__attach_cgroup(prog, fd);
    if (!link) {
      *error = std::string("cannot attach ") + bpf_program__section_name(prog) + " at " + cgroup2_mount + ": " +
               strerror(errno);
      close(fd);
      settle(false, *error);
      return false;
    }
    cgroup_links_.push_back({link, prog, ProgramId(prog), bpf_program__section_name(prog)});
    hooks_.push_back(bpf_program__section_name(prog));
  }
  cgroup2_mount_ = cgroup2_mount;
  // DNS answers per workload (bpf/dns.bpf.h): names for events and
  // profiles, and enforce mode by name. Without it connects are judged by
  // address only, which the hooks list shows.
  if (bpf_program__fd(skel_->progs.dns_ingress) < 0) {
    // Refused at load (logged then).
  } else if (bpf_link* link = bpf_program__attach_cgroup(skel_->progs.dns_ingress, fd)) {
    cgroup_links_.push_back({link, skel_->progs.dns_ingress, ProgramId(skel_->progs.dns_ingress), "cgroup_skb/ingress:dns"});
    hooks_.push_back("cgroup_skb/ingress:dns");
  } else {
    Log("warn", "cannot attach the DNS answer program at %s: %s; connects are judged by address only",
        cgroup2_mount.c_str(), strerror(errno));
  }
  close(fd);
  settle(true, "");
  return true;
}

bool Loader::Exclude(uint32_t tgid, std::string* error) {
  uint32_t n = skel_->bss->excluded_count;
  if (n >= sizeof(skel_->bss->excluded_tgids) / sizeof(uint32_t)) {
    *error = "cannot exclude pid " + std::to_string(tgid) + ": at most " + std::to_string(n) + " can be";
    return false;
  }
  // The kernel reads the count first: the entry must be there before it grows.
  skel_->bss->excluded_tgids[n] = tgid;
  __atomic_store_n(&skel_->bss->excluded_count, n + 1, __ATOMIC_RELEASE);
  excluded_.push_back(tgid);
  return true;
}

void Loader::CheckState(Findings* out, std::vector<std::string>* watched) {
  if (!skel_) return;
  // Excluded pids: an entry added hides a process's every event.
  watched->push_back("global excluded_count");
  watched->push_back("global excluded_tgids");
  auto* bss = skel_->bss;
  for (size_t i = 0; i < excluded_.size(); i++) {
    uint32_t now = __atomic_load_n(&bss->excluded_tgids[i], __ATOMIC_RELAXED);
    if (now == excluded_[i]) continue;
    __atomic_store_n(&bss->excluded_tgids[i], excluded_[i], __ATOMIC_RELAXED);
    out->push_back({"global", "excluded_tgids", "excluded_tgids[" + std::to_string(i) + "]", "pid " + std::to_string(now),
                    "pid " + std::to_string(excluded_[i]), true, ""});
  }
  uint32_t count = __atomic_load_n(&bss->excluded_count, __ATOMIC_ACQUIRE);
  if (count != excluded_.size()) {
    std::string found = std::to_string(count);
    if (count > excluded_.size())
      for (uint32_t i = excluded_.size(); i < count && i < sizeof(bss->excluded_tgids) / sizeof(uint32_t); i++)
        found += (i == excluded_.size() ? " (hiding pid " : ", ") + std::to_string(bss->excluded_tgids[i]) + (i + 1 == count ? ")" : "");
    __atomic_store_n(&bss->excluded_count, uint32_t(excluded_.size()), __ATOMIC_RELEASE);
    out->push_back({"global", "excluded_count", "excluded_count", found, std::to_string(excluded_.size()), true, ""});
  }
  // Programs attached through the skeleton: tracepoints, tp_btf, BPF LSM,
  // fmod_ret. The kernel cannot detach these links (no BPF_LINK_DETACH for
  // them), but BPF_LINK_UPDATE could swap a program.
  const bpf_object_skeleton* s = skel_->skeleton;
  if (prog_ids_.empty())
    for (int i = 0; i < s->prog_cnt; i++) prog_ids_.push_back(ProgramId(*s->progs[i].prog));
  for (int i = 0; i < s->prog_cnt; i++) {
    bpf_link* link = s->progs[i].link ? *s->progs[i].link : nullptr;
    if (!link) continue;
    watched->push_back(std::string("link ") + bpf_program__section_name(*s->progs[i].prog));
    CheckLink(link, *s->progs[i].prog, prog_ids_[i], bpf_program__section_name(*s->progs[i].prog), out);
  }
  // The cgroup programs at the cgroup v2 root (connect refusal, DNS
  // answers): a detached one is attached again.
  for (auto& c : cgroup_links_) {
    watched->push_back("link " + c.name);
    Findings found;
    if (CheckLink(c.link, c.prog, c.prog_id, c.name, &found)) continue;
    for (auto& t : found) {
      if (t.field == "attachment") {
        int fd = open(cgroup2_mount_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        bpf_link* again = fd >= 0 ? bpf_program__attach_cgroup(c.prog, fd) : nullptr;
        int err = errno;
        if (fd >= 0) close(fd);
        if (again) {
          bpf_link__destroy(c.link);
          c.link = again;
          t.restored = true;
          // The pin held the detached link: it holds this one now.
          std::string why;
          if (pins_ && pins_->On() && !pins_->Pin(again, bpf_program__name(c.prog), &why))
            t.error = "attached again but not pinned: " + why;
        } else {
          t.error = "cannot attach it again at " + cgroup2_mount_ + ": " + strerror(err);
        }
      }
      out->push_back(t);
    }
  }
}

namespace {

// Syscall entries that kill a writer where no hook denies (enforce.bpf.h).
const char* const kKillingEntries[] = {"open", "creat", "openat", "openat2", "unlink", "rmdir", "unlinkat", "rename",
                                       "renameat", "renameat2", "chmod", "fchmod", "fchmodat", "fchmodat2"};

// Whether a program is part of enforcement on this kernel (`kill_ops`:
// what the syscall-entry kill still covers).
bool Enforces(const std::string& sec, uint32_t kill_ops) {
  if (sec.rfind("lsm/", 0) == 0 || sec.rfind("fmod_ret/", 0) == 0) return true;
  // exec kill and its record; followed processes: fork, exit, cgroup moves.
  for (const char* s : {"tp_btf/sched_process_exec", "tp_btf/sched_process_fork", "tp_btf/sched_process_exit",
                        "tp_btf/cgroup_attach_task"})
    if (sec == s) return true;
  if (!(kill_ops & ~uint32_t(VIGIL_OP_EXEC | VIGIL_OP_CONNECT)) || sec.rfind("tp/syscalls/sys_enter_", 0) != 0) return false;
  for (const char* s : kKillingEntries)
    if (sec == std::string("tp/syscalls/sys_enter_") + s) return true;
  return false;
}

}  // namespace

size_t Loader::PinEnforcement(Pinning* pins, std::string* why) {
  if (!skel_ || !pins->On()) return 0;
  pins_ = pins;
  const uint32_t kill_ops = skel_->rodata->kill_ops;
  size_t n = 0;
  const bpf_object_skeleton* s = skel_->skeleton;
  for (int i = 0; i < s->prog_cnt; i++) {
    bpf_link* link = s->progs[i].link ? *s->progs[i].link : nullptr;
    bpf_program* prog = *s->progs[i].prog;
    if (!link || !Enforces(bpf_program__section_name(prog), kill_ops)) continue;
    if (!pins->Pin(link, bpf_program__name(prog), why)) return n;
    n++;
  }
  for (auto& c : cgroup_links_) {
    if (!pins->Pin(c.link, bpf_program__name(c.prog), why)) return n;
    n++;
  }
  return n;
}

KernelLosses Loader::Losses() const {
  KernelLosses out;
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0 || !skel_) return out;
  std::vector<uint64_t> values(ncpu);
  for (uint32_t key = 0; key < VIGIL_LOSS_MAX; key++) {
    if (bpf_map__lookup_elem(skel_->maps.losses, &key, sizeof(key), values.data(),
                             values.size() * sizeof(uint64_t), 0))
      continue;
    uint64_t sum = 0;
    for (uint64_t v : values) sum += v;
    if (key == VIGIL_LOSS_RINGBUF) out.ringbuf_full = sum;
    if (key == VIGIL_LOSS_INFLIGHT) out.inflight_full = sum;
    if (key == VIGIL_LOSS_PACKETS) out.packets_lost = sum;
    if (key == VIGIL_DEDUPLICATED) out.deduplicated = sum;
    if (key == VIGIL_LOSS_DNS) out.dns_dropped = sum;
    if (key == VIGIL_SHED) out.shed = sum;
  }
  return out;
}

const char* const kShedSlotKinds[8] = {"open", "connect", "accept", "unlink", "rename", "chmod", "slot6", "slot7"};

std::unordered_map<uint64_t, CgroupCounts> Loader::CgroupCountsAll() const {
  std::unordered_map<uint64_t, CgroupCounts> out;
  static_assert(sizeof(CgroupCounts) == sizeof(vigil_cgroup_counts), "CgroupCounts mirrors vigil_cgroup_counts");
  int fd = bpf_map__fd(skel_->maps.cgroup_counts);
  uint64_t key = 0, next;
  const void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    vigil_cgroup_counts v;
    if (bpf_map_lookup_elem(fd, &next, &v) == 0) memcpy(static_cast<void*>(&out[next]), &v, sizeof(v));
    key = next;
    prev = &key;
  }
  return out;
}

bool Loader::HoldCgroup(uint64_t cgroup_id, uint64_t per_sec, uint64_t burst, uint32_t sample_every) {
  if (!per_sec) {
    ReleaseCgroup(cgroup_id);
    return true;
  }
  int fd = bpf_map__fd(skel_->maps.fair_limits);
  vigil_fair_limit l = {};
  bool had = bpf_map_lookup_elem(fd, &cgroup_id, &l) == 0;  // keeps the kernel's tat and sample count
  l.interval_ns = 1000000000ULL / per_sec;
  l.burst_ns = l.interval_ns * burst;
  l.sample_every = sample_every;
  if (bpf_map_update_elem(fd, &cgroup_id, &l, BPF_ANY)) return false;
  if (!had) __atomic_store_n(&skel_->bss->fair_limited, uint32_t(++held_), __ATOMIC_RELEASE);
  return true;
}

void Loader::ReleaseCgroup(uint64_t cgroup_id) {
  int fd = bpf_map__fd(skel_->maps.fair_limits);
  if (bpf_map_delete_elem(fd, &cgroup_id) == 0 && held_ > 0)
    __atomic_store_n(&skel_->bss->fair_limited, uint32_t(--held_), __ATOMIC_RELEASE);
}

bool Loader::TaskCgroups(std::unordered_map<uint32_t, uint64_t>* out, std::string* error) const {
  if (!task_iter_) {
    *error = "no task iterator on this kernel";
    return false;
  }
  int fd = bpf_iter_create(bpf_link__fd(task_iter_));
  if (fd < 0) {
    *error = std::string("cannot start the task iterator: ") + strerror(errno);
    return false;
  }
  // Read whole records; a read() may end mid-record, so keep the tail.
  std::vector<char> buf;
  char chunk[1 << 16];
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *error = std::string("cannot read the task iterator: ") + strerror(errno);
      close(fd);
      return false;
    }
    if (n == 0) break;
    buf.insert(buf.end(), chunk, chunk + n);
  }
  close(fd);
  if (buf.size() % sizeof(vigil_task_cgroup)) {
    *error = "the task iterator wrote " + std::to_string(buf.size()) + " bytes, not whole records";
    return false;
  }
  for (size_t at = 0; at < buf.size(); at += sizeof(vigil_task_cgroup)) {
    vigil_task_cgroup r;
    memcpy(&r, buf.data() + at, sizeof(r));
    (*out)[r.tgid] = r.cgroup_id;
  }
  return true;
}

int Loader::RingBufferFd() const { return bpf_map__fd(skel_->maps.events); }

int Loader::PacketRingBufferFd() const { return bpf_map__fd(skel_->maps.packets); }

uint64_t Loader::RingUnread() const {
  uint64_t consumer = __atomic_load_n(&ring_positions_[0], __ATOMIC_ACQUIRE);
  uint64_t producer = __atomic_load_n(&ring_positions_[page_ / sizeof(uint64_t)], __ATOMIC_ACQUIRE);
  return producer - consumer;
}

void Loader::QuietUntil(uint64_t monotonic_ns) {
  // The kernel wakes the probe for a record written wakeup_gap_ns or more
  // after last_wakeup_ns; a read planned further ahead than that (the busy
  // period) leaves it in the future, which the kernel compares signed.
  __atomic_store_n(&skel_->bss->last_wakeup_ns, monotonic_ns - wakeup_gap_ns_, __ATOMIC_RELAXED);
}

}  // namespace vigil
