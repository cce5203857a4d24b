// The gRPC calls to the engine, per connection: the event stream (batches,
// loss reports and command acknowledgements up) and, beside it, the
// Commands call (the engine's commands and batch acknowledgements down),
// tied to it by a token the stream's hello names. Batches wait in a
// bounded queue while the engine is away and are sent, in order, once it
// is back. A sent batch is kept until the engine acknowledges it, so
// batches written into a connection that then broke (an engine restart)
// are sent again. What overflows the bound is counted, never silently
// dropped.
//
// Threads. A sender thread connects, sends the snapshot, drains what
// queued while the engine was away or behind, and sends acks and loss
// reports; a reader thread takes the engine's commands off the Commands
// call (reading the event stream instead, each write woke it:
// bench/README.md). In the steady state, though, the thread that read the
// ring buffer writes its batch into the stream itself (Enqueue), while
// nothing waits in the queue and little is unacknowledged: a hand-off to
// the sender per batch cost a wakeup and two context switches, more CPU
// than a small batch's events.
//
// Lanes. A workload's events must not wait behind another's flood. Queued
// batches wait in one of three lanes, drained in this order: batches to
// send again (a connection broke before the engine acknowledged them), the
// normal lane, and the slow lane, which takes the events of workloads over
// their share (held by the kernel, or seen over it by the probe before the
// kernel holds them) and whatever of theirs follows while any waits there
// (one workload's events keep their order). The slow lane is sent only
// while little is unacknowledged, so the engine never has much of it ahead
// of a normal event, and it is bounded by what the budget drains in about
// a second: past that its oldest sheddable events are shed and counted.
// Sequence numbers are given as a batch is first written, so the engine
// sees them in order, without gaps, whichever lane it came from.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "batch.h"
#include "vigil/v1/probe.pb.h"

namespace grpc {
template <class W, class R>
class ClientReaderWriter;
}  // namespace grpc

namespace vigil {

struct StreamOptions {
  std::string target;               // gRPC target: unix:///path or host:port
  size_t max_queued_events = 1 << 18;
  size_t max_queued_packet_bytes = 32 << 20;
  // Carries out a command from the engine; its ack goes back up the stream
  // (none returned: it comes later, through EngineStream::SendAck).
  std::function<std::optional<v1::CommandAck>(const v1::EngineCommand&)> on_command;
  // Mutual TLS (PEM contents); empty: plaintext (unix sockets).
  std::string tls_ca, tls_cert, tls_key, tls_server_name;
};

// Reads a whole file; false with the reason in `error`.
bool ReadFileTo(const std::string& path, std::string* out, std::string* error);

class EngineStream {
 public:
  using SnapshotFn = std::function<std::vector<v1::ProcessInfo>()>;

  EngineStream(StreamOptions options, v1::Hello hello, SnapshotFn snapshot);
  ~EngineStream();

  void Start();
  // Queues a batch for sending. `sheddable` (empty, or one flag per event)
  // marks the events of workloads held to their fair share (fair.bpf.h):
  // those fill at most three quarters of the queue and are shed first
  // (counted per cgroup in CgroupDrops()); the last quarter is kept for the
  // rest. What still does not fit is dropped and counted in DroppedEvents()
  // and per cgroup. False when anything was dropped.
  // `slow` (empty, or one flag per event): of a workload over its share,
  // for the slow lane. An event whose workload has events waiting in the
  // slow lane goes there too, and so does one of a process whose fork waits
  // there (the engine must see the fork before the child's exec).
  bool Enqueue(Batch batch, const std::vector<bool>& sheddable = {}, const std::vector<bool>& slow = {});
  // The rate the engine is expected to drain (the fairness budget, events/s):
  // bounds the slow lane to about a second of it.
  void SetDrainRate(uint64_t events_per_sec);
  // Per cgroup: events shed (`shed`, by kind) and dropped (`full`) by the queue, cumulative.
  struct CgroupDrop {
    uint64_t full = 0;
    uint64_t shed = 0;
    std::unordered_map<std::string, uint64_t> shed_by_kind;
  };
  std::unordered_map<uint64_t, CgroupDrop> CgroupDrops();
  // Events queued or sent and not yet acknowledged.
  size_t Queued();
  // What a workload's next event (not a held one's) waits behind: events
  // sent and not yet acknowledged, and those queued to be sent again or in
  // the normal lane. Not the slow lane: a flood waits there by design, sent
  // only while little is unacknowledged, so it says nothing of the engine's pace.
  size_t Ahead();
  // Events the engine acknowledged (cumulative): what it got through.
  uint64_t Acked() const { return acked_events_.load(); }
  // Events waiting in the slow lane; events it shed (cumulative).
  size_t SlowQueued();
  uint64_t SlowShed() const { return slow_shed_total_.load(); }
  // Batches written so far (the last sequence number given).
  uint64_t Batches();
  // Queues captured packets; false (and counted) when over the byte bound.
  bool EnqueuePackets(v1::PacketBatch packets);
  uint64_t DroppedPackets() const { return dropped_packets_.load(); }
  // A command's ack answered after its command (a user file read, off the command thread).
  void SendAck(v1::CommandAck ack);
  // Loss counters are cumulative: only the latest report needs sending.
  void ReportLoss(const v1::LossReport& report);
  // A self-check's result. Counters are cumulative; findings not yet sent
  // are kept (the latest 256) and go with the next report.
  void ReportSelfCheck(const v1::SelfCheck& report);
  // Sends what is queued (waiting at most `drain_ms` for the engine), then
  // closes the stream.
  void Stop(int drain_ms);
  uint64_t DroppedEvents() const { return dropped_events_.load(); }
  // Batches the enqueuing thread wrote itself, without the sender.
  uint64_t DirectBatches() const { return direct_batches_.load(); }
  bool Connected() const { return connected_.load(); }

 private:
  void Run();
  bool Session();  // one connection, until it breaks or we stop
  // A batch goes into `batch` (and *is_batch set), anything else into `out`.
  bool PopNext(v1::ProbeMessage* out, Batch* batch, bool* is_batch);
  void Acknowledge(uint64_t seq);
  // Writes `batch` into the live stream from the calling thread when that
  // keeps the order and cannot wait long on the engine; false (and the
  // batch untouched) otherwise. Called with mu_ held via `lock`.
  bool WriteDirect(std::unique_lock<std::mutex>& lock, Batch& batch);
  // Puts unacknowledged batches back in front of the queue (the connection broke).
  void RequeueUnacked();
  // Under mu_. Whether any batch waits in a lane; the next one to write
  // (null: none may go now); takes it out of its lane, its seq given.
  bool LanesEmpty() const { return resend_.empty() && normal_.empty() && slow_.empty(); }
  bool TakeBatch(Batch* out);
  // Appends events to the slow lane (their workloads and fork children counted).
  void PushSlow(Batch batch, std::vector<bool> sheddable, std::chrono::steady_clock::time_point now);
  // Sheds the slow lane's oldest sheddable events past its bounds.
  void TrimSlow(std::chrono::steady_clock::time_point now);
  // Forgets the events of `batch` (those flagged in `only`, if given) leaving the slow lane, sent or shed.
  void LeftSlow(const Batch& batch, const std::vector<bool>* only);
  void CountShed(const v1::Event& e);
  void EndShedding();  // logs the end of a shedding episode once the slow lane is empty

  StreamOptions options_;
  v1::Hello hello_;
  SnapshotFn snapshot_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<v1::ProbeMessage> control_;  // acks, loss reports: sent first
  std::deque<Batch> resend_;  // sent before, unacknowledged: their seq kept, sent first
  std::deque<Batch> normal_;
  struct SlowBatch {
    Batch batch;
    std::vector<bool> sheddable;
    std::chrono::steady_clock::time_point since;  // when its first event came
  };
  std::deque<SlowBatch> slow_;
  size_t slow_events_ = 0;
  size_t slow_trimmed_ = 0;  // leading slow batches already stripped of sheddable events
  std::unordered_map<uint64_t, size_t> slow_cgroups_;  // events waiting in the slow lane, per cgroup
  std::unordered_map<uint32_t, size_t> slow_children_;  // forks waiting in the slow lane, per child pid
  uint64_t drain_rate_ = 50000;
  bool slow_shedding_ = false;  // an episode of shedding, logged at its start and end
  uint64_t slow_shed_episode_ = 0;
  std::atomic<uint64_t> slow_shed_total_{0};
  uint64_t next_seq_ = 0;
  size_t queued_events_ = 0;  // in every lane
  std::deque<Batch> unacked_;  // sent, not yet acknowledged, oldest first
  size_t unacked_events_ = 0;
  std::deque<v1::PacketBatch> packets_;
  size_t queued_packet_bytes_ = 0;
  bool stopping_ = false;
  // The stream of the current session once it is up (hello and snapshot
  // sent), null otherwise; one thread writes at a time (`writing_`).
  grpc::ClientReaderWriter<v1::ProbeMessage, v1::EngineCommand>* live_ = nullptr;
  bool writing_ = false;
  bool direct_failed_ = false;  // a direct write failed: the session is broken
  bool teardown_ = false;       // the sender waits for a direct write to end
  bool reader_done_ = false;    // the engine's side of the stream ended: the session is over
  std::chrono::steady_clock::time_point drain_deadline_;

  std::atomic<uint64_t> dropped_events_{0};
  std::atomic<uint64_t> acked_events_{0};
  std::atomic<uint64_t> direct_batches_{0};
  std::unordered_map<uint64_t, CgroupDrop> cgroup_drops_;  // under mu_
  std::atomic<uint64_t> dropped_packets_{0};
  std::atomic<bool> connected_{false};
  std::thread thread_;
};

}  // namespace vigil
