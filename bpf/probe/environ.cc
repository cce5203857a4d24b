#include "environ.h"

#include <cstring>

namespace vigil {

namespace {

// Values worth a rule and not secret: the dynamic loader's (library
// injection: LD_PRELOAD, LD_AUDIT, LD_LIBRARY_PATH; CVE-2023-4911 through
// GLIBC_TUNABLES), the proxies' (traffic redirected through an attacker's
// proxy), PATH (a hijacked search path).
const char* const kAllowed[] = {
    "LD_PRELOAD",  "LD_AUDIT",   "LD_LIBRARY_PATH", "GLIBC_TUNABLES", "PATH",
    "HTTP_PROXY",  "HTTPS_PROXY", "ALL_PROXY",      "NO_PROXY",       "FTP_PROXY",
    "http_proxy",  "https_proxy", "all_proxy",      "no_proxy",       "ftp_proxy",
};

bool IsProxy(const std::string& name) {
  return name.size() > 6 && (name.compare(name.size() - 6, 6, "_PROXY") == 0 || name.compare(name.size() - 6, 6, "_proxy") == 0) &&
         name != "NO_PROXY" && name != "no_proxy";
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

bool EnvValueAllowed(const std::string& name) {
  for (const char* a : kAllowed)
    if (name == a) return true;
  return false;
}

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
        std::string name(var, eq - var);
        std::string value(eq + 1, var + n - (eq + 1));
        if (!EnvValueAllowed(name)) value = kRedacted;
        else if (IsProxy(name)) value = WithoutUserInfo(value);
        out.push_back(name + "=" + value);
      }
    }
    i += n + 1;
  }
  return out;
}

}  // namespace vigil
