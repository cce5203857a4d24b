// The one gRPC stream to the engine: batches, loss reports and command
// acknowledgements up, commands down. Batches wait in a bounded queue
// while the engine is away and are sent, in order, once it is back. A sent
// batch is kept until the engine acknowledges it, so batches written into
// a connection that then broke (an engine restart) are sent again. What
// overflows the bound is counted, never silently dropped.
//
// Threads. A sender thread connects, sends the snapshot, drains what
// queued while the engine was away or behind, and sends acks and loss
// reports; a reader thread takes the engine's commands. In the steady
// state, though, the thread that read the ring buffer writes its batch
// into the stream itself (Enqueue), while nothing waits in the queue and
// little is unacknowledged: a hand-off to the sender per batch cost a
// wakeup and two context switches, more CPU than a small batch's events.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

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
  // Carries out a command from the engine; its ack goes back up the stream.
  std::function<v1::CommandAck(const v1::EngineCommand&)> on_command;
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
  bool Enqueue(v1::EventBatch batch, const std::vector<bool>& sheddable = {});
  // Per cgroup: events shed (`shed`, by kind) and dropped (`full`) by the queue, cumulative.
  struct CgroupDrop {
    uint64_t full = 0;
    uint64_t shed = 0;
    std::unordered_map<std::string, uint64_t> shed_by_kind;
  };
  std::unordered_map<uint64_t, CgroupDrop> CgroupDrops();
  // Events queued or sent and not yet acknowledged.
  size_t Queued();
  // Queues captured packets; false (and counted) when over the byte bound.
  bool EnqueuePackets(v1::PacketBatch packets);
  uint64_t DroppedPackets() const { return dropped_packets_.load(); }
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
  bool PopNext(v1::ProbeMessage* out, bool* is_batch);
  void Acknowledge(uint64_t seq);
  // Writes `batch` into the live stream from the calling thread when that
  // keeps the order and cannot wait long on the engine; false (and the
  // batch untouched) otherwise. Called with mu_ held via `lock`.
  bool WriteDirect(std::unique_lock<std::mutex>& lock, v1::EventBatch& batch);
  // Puts unacknowledged batches back in front of the queue (the connection broke).
  void RequeueUnacked();

  StreamOptions options_;
  v1::Hello hello_;
  SnapshotFn snapshot_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<v1::ProbeMessage> control_;  // acks, loss reports: sent first
  std::deque<v1::EventBatch> batches_;
  size_t queued_events_ = 0;
  std::deque<v1::EventBatch> unacked_;  // sent, not yet acknowledged, oldest first
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
  std::atomic<uint64_t> direct_batches_{0};
  std::unordered_map<uint64_t, CgroupDrop> cgroup_drops_;  // under mu_
  std::atomic<uint64_t> dropped_packets_{0};
  std::atomic<bool> connected_{false};
  std::thread thread_;
};

}  // namespace vigil
