// Ring-buffer record (events.h) → vigil.v1.Event.
#pragma once
#include <cstddef>
#include <string>
#include "vigil/v1/probe.pb.h"

namespace vigil {

struct DecodeStats {
  uint64_t truncated_paths = 0;
  uint64_t truncated_envs = 0;  // execs whose environment was cut (kernel limit or kMaxEnvVars)
};

// Fills `out` from one ring-buffer record. Returns false, with the reason in
// `error`, when the record is malformed (unknown kind, short record).
bool DecodeRecord(const void* data, size_t size, v1::Event* out, DecodeStats* stats, std::string* error);

// Fills `out` from one record of the packet ring buffer.
bool DecodePacket(const void* data, size_t size, v1::Packet* out, std::string* error);

// OpenEvent.numbers (probe.proto): an open's eight numbers at fixed offsets,
// little-endian, in one bytes field, which the engine reads in one go rather
// than as eight fields.
struct OpenNumbers {
  int64_t result = 0;
  uint64_t ino = 0;
  int32_t flags = 0;
  uint32_t mode = 0, path_flags = 0, dev = 0, nlink = 0, file_mode = 0;
};
constexpr size_t kOpenNumbersBytes = 40;

void SetOpenNumbers(v1::OpenEvent* o, const OpenNumbers& n);
// False when the block is absent or short: the probe writes it for every open,
// so only a hand-built event lacks it.
bool GetOpenNumbers(const v1::OpenEvent& o, OpenNumbers* n);

// Leaf-first NUL-separated components ("b\0a\0") → "/a/b".
std::string JoinWalkedPath(const char* buf, size_t len);

// Joins a relative path to its base and folds "." and ".." lexically.
std::string ResolvePath(const std::string& base, const std::string& raw);

}  // namespace vigil
