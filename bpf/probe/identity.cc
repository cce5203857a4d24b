// SHA-256's own functions rather than EVP (deprecated since OpenSSL 3, still
// built by distributions): EVP's first digest loads OpenSSL 3's providers and
// configuration, ~2 MiB of libcrypto's pages resident for the probe's life
// (bench/README.md, memory); these run the same assembly (SHA-NI if the CPU
// has it). A TLS connection to the engine loads the providers anyway.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "identity.h"

#include <fcntl.h>
#include <openssl/sha.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>
#include <sys/sysmacros.h>

#include "decoder.h"
#include "log.h"

namespace vigil {
namespace {

constexpr uint32_t kPathHardlink = 128;  // OpenEvent.path_flags PATH_HARDLINK
constexpr uint32_t kPathRawSame = 256;   // PATH_RAW_SAME: path_raw left out, as it was path
constexpr auto kRootTtl = std::chrono::seconds(30);
constexpr size_t kMaxRoots = 4096;

// The kernel's dev_t (major << 20 | minor), as stat's st_dev is not.
uint64_t KernelDev(dev_t d) { return (uint64_t(major(d)) << 20) | minor(d); }

}  // namespace

const std::vector<std::string>& SensitiveFiles::Defaults() {
  static const std::vector<std::string> paths = {
      "/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-", "/etc/sudoers",
      "/etc/pam.conf", "/etc/security/pwquality.conf", "/etc/security/opasswd", "/etc/master.passwd",
  };
  return paths;
}

const SensitiveFiles::Root* SensitiveFiles::RootOf(std::pair<uint64_t, uint64_t> key,
                                                  std::initializer_list<uint32_t> pids) {
  auto now = std::chrono::steady_clock::now();
  auto it = roots_.find(key);
  if (it != roots_.end() && now - it->second.seen < kRootTtl) return &it->second;
  // A process whose root is still that directory: the opener may be gone
  // by now (a cat lives a millisecond), its parent or the probe (the
  // host's root) usually is not. The identity check also catches a pid
  // reused by another process with another root.
  std::string root;
  for (uint32_t pid : pids) {
    std::string candidate = pid ? "/proc/" + std::to_string(pid) + "/root" : "/proc/self/root";
    struct stat st;
    if (stat(candidate.c_str(), &st) == 0 && KernelDev(st.st_dev) == key.first && uint64_t(st.st_ino) == key.second) {
      root = candidate;
      break;
    }
  }
  if (root.empty()) return it != roots_.end() ? &it->second : nullptr;
  if (roots_.size() >= kMaxRoots) roots_.clear();
  Root& r = roots_[key];
  r.seen = now;
  r.files.clear();
  for (const auto& p : paths_) {
    struct stat f;
    if (stat((root + p).c_str(), &f) == 0 && S_ISREG(f.st_mode))
      r.files.push_back({{KernelDev(f.st_dev), uint64_t(f.st_ino)}, p});
  }
  return &r;
}

bool SensitiveFiles::Check(v1::Event* e, uint64_t root_dev, uint64_t root_ino) {
  if (!e->has_open()) return false;
  auto* o = e->mutable_open();
  OpenNumbers n;
  if (!GetOpenNumbers(*o, &n)) return false;
  if (n.result < 0 || n.nlink < 2 || !S_ISREG(n.file_mode) || root_ino == 0) return false;
  lookups_++;
  const Root* r = RootOf({root_dev, root_ino}, {e->pid(), e->ppid(), 0});
  if (!r) {
    // Never silent: a hard link to a sensitive file may have gone unnamed.
    if (unknown_roots_++ % 1000 == 0)
      Log("warn", "hard-linked file opened by pid %u: no process left with its root to check it against the sensitive files (%llu so far)",
          e->pid(), static_cast<unsigned long long>(unknown_roots_));
    return false;
  }
  for (const auto& [id, path] : r->files) {
    if (id.first != n.dev || id.second != n.ino) continue;
    if (o->path() == path) return false;
    // The name the caller used stays path_raw: written out now that path changes.
    if (n.path_flags & kPathRawSame) o->set_path_raw(o->path());
    o->set_path(path);
    n.path_flags = (n.path_flags & ~kPathRawSame) | kPathHardlink;
    SetOpenNumbers(o, n);
    return true;
  }
  return false;
}

}  // namespace vigil

namespace vigil {
namespace {

constexpr size_t kMaxHashes = 16384;
// Larger files are not hashed: reading them would hold up the ring buffer.
constexpr off_t kMaxHashBytes = 256 << 20;

uint64_t KernelDevOf(dev_t d) { return (uint64_t(major(d)) << 20) | minor(d); }

// sha256 of an open file, hex; "" on a read error.
std::string Sha256Hex(int fd) {
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  // Small enough for malloc to take from the heap and reuse: a freed 1 MiB
  // buffer raises glibc's mmap threshold, and later ones stay in the heap.
  std::vector<char> buf(64 << 10);
  bool ok = true;
  for (;;) {
    ssize_t n = read(fd, buf.data(), buf.size());
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      ok = false;
      break;
    }
    SHA256_Update(&ctx, buf.data(), size_t(n));
  }
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256_Final(md, &ctx);
  if (!ok) return "";
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

}  // namespace

bool ExeHasher::Fill(v1::Event* e, int64_t ctime_ns) {
  auto* x = e->mutable_exec();
  if (x->exe_ino() == 0 || x->exe().empty() || x->exe()[0] != '/') return false;
  Key key{x->exe_dev(), x->exe_ino(), ctime_ns};
  auto it = cache_.find(key);
  if (it != cache_.end()) {
    x->set_exe_sha256(it->second);
    return true;
  }
  // The running process's own image first, then its path under its
  // root, its parent's, the probe's; each used only if it is that inode.
  std::vector<std::string> candidates = {"/proc/" + std::to_string(e->pid()) + "/exe",
                                         "/proc/" + std::to_string(e->pid()) + "/root" + x->exe(),
                                         "/proc/" + std::to_string(e->ppid()) + "/root" + x->exe(), x->exe()};
  for (const auto& path : candidates) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat st;
    if (fstat(fd, &st) != 0 || KernelDevOf(st.st_dev) != x->exe_dev() || uint64_t(st.st_ino) != x->exe_ino() ||
        !S_ISREG(st.st_mode) || st.st_size > kMaxHashBytes) {
      close(fd);
      continue;
    }
    std::string sum = Sha256Hex(fd);
    close(fd);
    if (sum.empty()) continue;
    if (cache_.size() >= kMaxHashes) cache_.clear();
    cache_[key] = sum;
    hashed_++;
    x->set_exe_sha256(sum);
    return true;
  }
  // Never silent: rules by identity cannot know this executable.
  if (unreadable_++ % 1000 == 0)
    Log("warn", "executable %s run by pid %u could not be read to hash it (gone, or larger than 256 MiB; %llu so far)",
        x->exe().c_str(), e->pid(), static_cast<unsigned long long>(unreadable_));
  return false;
}

}  // namespace vigil
