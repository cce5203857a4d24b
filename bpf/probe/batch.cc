#include "batch.h"

#include <algorithm>

namespace vigil {

namespace {
// A build's batches carry a few to a few hundred events of ~0.3-3 KiB of
// objects each: blocks grow from 4 KiB to 64 KiB (protobuf's default, 256
// bytes to 8 KiB, took a malloc per few events again), below glibc's mmap
// threshold (128 KiB), so a freed batch's blocks go back to the heap for the next.
google::protobuf::ArenaOptions Options() {
  google::protobuf::ArenaOptions o;
  o.start_block_size = 4 << 10;
  o.max_block_size = 64 << 10;
  return o;
}
}  // namespace

Batch::Batch(Batch&& o) noexcept : arenas_(std::move(o.arenas_)), msg_(o.msg_), batch_(o.batch_) {
  o.arenas_.clear();
  o.msg_ = nullptr;
  o.batch_ = nullptr;
}

Batch& Batch::operator=(Batch&& o) noexcept {
  if (this != &o) {
    // The objects go with their arenas: pointers first, so none outlives them.
    msg_ = o.msg_;
    batch_ = o.batch_;
    arenas_ = std::move(o.arenas_);
    o.arenas_.clear();
    o.msg_ = nullptr;
    o.batch_ = nullptr;
  }
  return *this;
}

v1::EventBatch* Batch::Ensure() {
  if (batch_) return batch_;
  if (arenas_.empty()) arenas_.push_back(std::make_shared<google::protobuf::Arena>(Options()));
  msg_ = google::protobuf::Arena::CreateMessage<v1::ProbeMessage>(arenas_[0].get());
  batch_ = msg_->mutable_batch();  // on the same arena as its message
  return batch_;
}

void Batch::set_seq(uint64_t seq) { Ensure()->set_seq(seq); }

v1::Event* Batch::Add() { return Ensure()->add_events(); }

Batch Batch::Sibling() const {
  Batch b;
  b.arenas_ = arenas_;
  return b;
}

std::vector<v1::Event*> Batch::Release() {
  std::vector<v1::Event*> out(size());
  if (!out.empty()) batch_->mutable_events()->UnsafeArenaExtractSubrange(0, int(out.size()), out.data());
  return out;
}

void Batch::Share(const Batch& other) {
  Ensure();  // its own arena first: [0] stays the one its message is on
  for (const auto& a : other.arenas_)
    if (std::find(arenas_.begin(), arenas_.end(), a) == arenas_.end()) arenas_.push_back(a);
}

const v1::ProbeMessage& Batch::message() {
  Ensure();
  return *msg_;
}

}  // namespace vigil
