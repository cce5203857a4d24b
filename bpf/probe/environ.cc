#include "environ.h"

#include <cstring>
#include <string_view>

namespace vigil {

namespace {

// Values worth a rule and not secret: the dynamic loader's (library
// injection: LD_PRELOAD, LD_AUDIT, LD_LIBRARY_PATH; CVE-2023-4911 through
// GLIBC_TUNABLES), the proxies' (traffic redirected through an attacker's
// proxy), PATH (a hijacked search path).
constexpr std::string_view kAllowed[] = {
    "LD_PRELOAD",  "LD_AUDIT",   "LD_LIBRARY_PATH", "GLIBC_TUNABLES", "PATH",
    "HTTP_PROXY",  "HTTPS_PROXY", "ALL_PROXY",      "NO_PROXY",       "FTP_PROXY",
    "http_proxy",  "https_proxy", "all_proxy",      "no_proxy",       "ftp_proxy",
};

// A name as it lies in the block: compared in place, never copied to be
// looked at. An exec under make carries dozens of variables, and a build
// makes hundreds of execs: allocating each name and value apart, then the
// joined entry, was a tenth of the probe's CPU in a make -j2.
bool Allowed(const char* name, size_t n) {
  for (std::string_view a : kAllowed)
    if (a.size() == n && memcmp(a.data(), name, n) == 0) return true;
  return false;
}

bool IsProxy(const char* name, size_t n) {
  return n > 6 && (memcmp(name + n - 6, "_PROXY", 6) == 0 || memcmp(name + n - 6, "_proxy", 6) == 0) &&
         !(n == 8 && (memcmp(name, "NO_PROXY", 8) == 0 || memcmp(name, "no_proxy", 8) == 0));
}

// A proxy URL may carry credentials (http://user:password@host:3128): its
// user information is replaced, the rest (scheme, host, port) kept.
std::string WithoutUserInfo(const std::string& url) {
  size_t scheme = url.find("://");
  size_t from = scheme == std::string::npos ? 0 : scheme + 3;
  size_t end = url.find_first_of("/?#", from);
  if (end == std::string::npos) end = url.size();
  size_t at = url.rfind('@', end);
  if (at == std::string::npos || at < from) return url;
  return url.substr(0, from) + kRedacted + url.substr(at);
}

}  // namespace

bool EnvValueAllowed(const std::string& name) { return Allowed(name.data(), name.size()); }

std::vector<std::string> RedactEnv(const char* block, size_t len, bool* truncated) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < len) {
    size_t n = strnlen(block + i, len - i);
    if (n > 0) {
      if (out.size() == kMaxEnvVars) {
        *truncated = true;
        break;
      }
      const char* var = block + i;
      const char* eq = static_cast<const char*>(memchr(var, '=', n));
      if (!eq) {
        // Not NAME=value: nothing says what it is, so nothing of it is sent.
        out.emplace_back(kRedacted);
      } else {
        const size_t name_len = eq - var;
        if (!Allowed(var, name_len)) {
          // NAME=<redacted>, built in one allocation.
          std::string& e = out.emplace_back();
          e.reserve(name_len + 1 + strlen(kRedacted));
          e.append(var, name_len + 1).append(kRedacted);
        } else if (IsProxy(var, name_len)) {
          out.push_back(std::string(var, name_len + 1) + WithoutUserInfo(std::string(eq + 1, var + n - (eq + 1))));
        } else {
          out.emplace_back(var, n);
        }
      }
    }
    i += n + 1;
  }
  return out;
}

}  // namespace vigil
