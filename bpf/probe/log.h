// Plain stderr lines the engine's supervisor forwards into its own log:
// "<level> <message>".
#pragma once
#include <cstdarg>
#include <cstdio>

namespace vigil {

inline void Log(const char* level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
inline void Log(const char* level, const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  fprintf(stderr, "%s %s\n", level, buf);
}

}  // namespace vigil
