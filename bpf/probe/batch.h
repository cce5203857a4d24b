// A batch of events whose protobuf objects live on arenas of its own: an
// event's objects (the Event, its payload, nested messages, the repeated
// fields' arrays) are carved out of a few blocks and freed at once when the
// batch goes (acknowledged, shed or dropped), instead of a malloc and a
// free each: malloc and free were ~15% of the probe's CPU over a build
// (bench/README.md). Long strings still own heap buffers (protobuf 3.21).
//
// Events move between batches (a split by lane, the slow lane's merges,
// what fits the queue) as pointers, never copied: protobuf copies a message
// moved across arenas, so the receiving batch instead keeps alive the arenas
// the events live on.
#pragma once
#include <google/protobuf/arena.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "vigil/v1/probe.pb.h"

namespace vigil {

class Batch {
 public:
  Batch() = default;  // no arena until its first event
  Batch(Batch&& o) noexcept;
  Batch& operator=(Batch&& o) noexcept;
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;

  int size() const { return batch_ ? batch_->events_size() : 0; }
  const v1::Event& event(int i) const { return batch_->events(i); }
  v1::Event* mutable_event(int i) { return batch_->mutable_events(i); }
  uint64_t seq() const { return batch_ ? batch_->seq() : 0; }
  void set_seq(uint64_t seq);

  // A new event at the end, on this batch's arena.
  v1::Event* Add();
  void RemoveLast() { batch_->mutable_events()->RemoveLast(); }

  // An empty batch on the same arenas: events of this one move into it
  // (Move) without new arenas. The split of a batch by lane, what fits.
  Batch Sibling() const;
  // Takes every event out, in order; they stay on this batch's arenas,
  // which whatever receives them must share (Share or Sibling).
  std::vector<v1::Event*> Release();
  // Keeps `other`'s arenas alive as long as this batch.
  void Share(const Batch& other);
  // Appends an event released from a batch whose arenas this one shares.
  void Move(v1::Event* e) { Ensure()->mutable_events()->UnsafeArenaAddAllocated(e); }

  // The message written to the engine: a ProbeMessage carrying this batch.
  const v1::ProbeMessage& message();

 private:
  v1::EventBatch* Ensure();

  // [0] the batch's own (the EventBatch and its ProbeMessage live there),
  // then those of events moved in from other batches.
  std::vector<std::shared_ptr<google::protobuf::Arena>> arenas_;
  v1::ProbeMessage* msg_ = nullptr;
  v1::EventBatch* batch_ = nullptr;
};

}  // namespace vigil
