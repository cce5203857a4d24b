// The environment at exec (the kernel's copy of the block, events.h
// vigil_exec) → ExecEvent.env: every variable's name, the value only
// for an allow-list. Environments carry secrets (tokens, passwords), so
// the filtering happens here, in the probe: a value not on the list is
// replaced before the event is built and never reaches the engine, its
// logs, alerts or exports.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace vigil {

// What replaces a value that is not on the allow-list, and a proxy URL's user:password.
inline constexpr const char* kRedacted = "<redacted>";
// Variables kept at most; the rest are dropped and the environment flagged truncated.
inline constexpr size_t kMaxEnvVars = 256;

// Whether a variable's value is sent (exact, case-sensitive names).
bool EnvValueAllowed(const std::string& name);

// Splits a NUL-separated environment block into "NAME=value" entries,
// values redacted unless allowed. Sets *truncated when variables were
// dropped past kMaxEnvVars (the caller also ORs the kernel's own cut).
std::vector<std::string> RedactEnv(const char* block, size_t len, bool* truncated);

}  // namespace vigil
