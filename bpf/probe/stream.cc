#include "stream.h"

#include <grpcpp/grpcpp.h>

#include <malloc.h>
#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <random>
#include <sstream>

#include "log.h"
#include "vigil/v1/probe.grpc.pb.h"

namespace vigil {

using Clock = std::chrono::steady_clock;
constexpr size_t kSnapshotChunk = 512;
// A batch is written by the ring reader itself only while at most this
// many events are unacknowledged. They bound what the engine has not yet
// processed, so far below its 1 MiB receive window the write goes into the
// socket at once; past it (a flood, an engine behind) the sender thread
// writes from the queue, where the shares and shedding below apply, and
// the ring reader does not wait on the engine (only on a full socket).
constexpr size_t kDirectUnacked = 1024;
// The slow lane (stream.h) is written only while fewer than this many
// events are unacknowledged: whatever comes next in the normal lane finds
// at most this much (and a batch) ahead of it at the engine, which a
// starved engine (a flood on every CPU) takes a tenth of a second or more to
// get through. Not less: the engine acknowledges every 512 events (each
// write adds up to a batch, so at least 512 are in flight).
constexpr size_t kSlowUnacked = 512;
// Its batches are filled up to this, as the ring reader's are.
constexpr int kSlowBatch = 256;
// It holds about this long of the budget's rate, and nothing older.
constexpr double kSlowSeconds = 1.0;
constexpr size_t kSlowMinEvents = 4096;

EngineStream::EngineStream(StreamOptions options, v1::Hello hello, SnapshotFn snapshot)
    : options_(std::move(options)), hello_(std::move(hello)), snapshot_(std::move(snapshot)) {}

EngineStream::~EngineStream() {
  if (thread_.joinable()) Stop(0);
}

// Named threads, so per-thread CPU and context switches (/proc/PID/task) say which is which.
void EngineStream::Start() {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "vigil-send");
    Run();
  });
}

namespace {
// The wire's name for an event's kind ("open", "connect", ...).
std::string KindOf(const v1::Event& e) {
  const auto* f = v1::Event::descriptor()->FindFieldByNumber(e.kind_case());
  return f ? f->name() : "other";
}

// The events of `from` (taken out of it: `events`) at the positions
// `which`, in order, as a batch. Half of them or more: moved as pointers,
// the new batch sharing from's arenas. Fewer: copied onto an arena of their
// own, so that a few events kept waiting in a queue (the slow lane, what
// fits) do not keep a whole batch's arenas alive with them.
Batch Gather(const Batch& from, const std::vector<v1::Event*>& events, const std::vector<size_t>& which) {
  Batch out;
  if (which.size() * 2 >= events.size()) {
    out = from.Sibling();
    for (size_t i : which) out.Move(events[i]);
  } else {
    for (size_t i : which) out.Add()->CopyFrom(*events[i]);
  }
  return out;
}
}  // namespace

// Written by the calling thread when it can (WriteDirect); otherwise queued
// in its lane and the sender notified, after the lock is released, so the
// woken sender does not wake only to block on the mutex the notifier still holds.
bool EngineStream::Enqueue(Batch batch, const std::vector<bool>& sheddable, const std::vector<bool>& slow) {
  bool all = true;
  {
    std::unique_lock<std::mutex> lock(mu_);
    const size_t n = batch.size();
    const size_t max = options_.max_queued_events, used = queued_events_ + unacked_events_;
    size_t room = used < max ? max - used : 0;
    size_t room_shed = used < max / 4 * 3 ? max / 4 * 3 - used : 0;
    bool any_sheddable = std::find(sheddable.begin(), sheddable.end(), true) != sheddable.end();
    std::vector<bool> kept_shed, kept_slow;
    const std::vector<bool>* shed_flags = &sheddable;
    const std::vector<bool>* slow_flags = &slow;
    if (n > room || (any_sheddable && n > room_shed)) {
      // Over the bound: keep what is never shed while there is room, what
      // may be shed while the first three quarters have room.
      const std::vector<v1::Event*> events = batch.Release();
      std::vector<size_t> kept;
      for (size_t i = 0; i < n; i++) {
        v1::Event* e = events[i];
        bool shed = i < sheddable.size() && sheddable[i];
        if (room > 0 && (!shed || room_shed > 0)) {
          room--;
          if (room_shed > 0) room_shed--;
          kept.push_back(i);
          kept_shed.push_back(shed);
          kept_slow.push_back(i < slow.size() && slow[i]);
          continue;
        }
        CgroupDrop& d = cgroup_drops_[e->cgroup_id()];
        if (shed) {
          d.shed++;
          d.shed_by_kind[KindOf(*e)]++;
        } else {
          d.full++;
          dropped_events_++;
        }
        all = false;
      }
      batch = Gather(batch, events, kept);
      shed_flags = &kept_shed;
      slow_flags = &kept_slow;
    }
    // Emptied, nothing goes: sequence numbers are given as batches are written.
    if (batch.size() == 0) return all;
    const bool any_slow = std::find(slow_flags->begin(), slow_flags->end(), true) != slow_flags->end();
    if (slow_.empty() && !any_slow) {
      if (WriteDirect(lock, batch)) return all;
      queued_events_ += batch.size();
      normal_.push_back(std::move(batch));
    } else {
      // Split by lane: a workload with events in the slow lane (or a process
      // whose fork waits there) follows them, so none is overtaken by its own.
      const auto now = Clock::now();
      const size_t m = batch.size();
      std::vector<bool> to_slow(m);
      size_t slow_n = 0;
      // What this batch itself sends to the slow lane counts too: a workload's
      // later events, a forked child's, follow it (a few of each per batch).
      std::vector<uint64_t> cgroups_here;
      std::vector<uint32_t> children_here;
      auto has = [](const auto& v, auto x) { return std::find(v.begin(), v.end(), x) != v.end(); };
      for (size_t i = 0; i < m; i++) {
        const v1::Event& e = batch.event(i);
        const uint64_t cg = e.cgroup_id();
        to_slow[i] = (i < slow_flags->size() && (*slow_flags)[i]) || slow_cgroups_.count(cg) ||
                     (!slow_children_.empty() && slow_children_.count(e.pid())) || has(cgroups_here, cg) ||
                     (!children_here.empty() && has(children_here, e.pid()));
        if (!to_slow[i]) continue;
        slow_n++;
        if (cgroups_here.empty() || cgroups_here.back() != cg) {
          if (!has(cgroups_here, cg)) cgroups_here.push_back(cg);
        }
        if (e.has_fork()) children_here.push_back(e.fork().child_pid());
      }
      std::vector<bool> shed_of(m);
      for (size_t i = 0; i < m && i < shed_flags->size(); i++) shed_of[i] = (*shed_flags)[i];
      if (slow_n == m) {
        PushSlow(std::move(batch), std::move(shed_of), now);
      } else {
        const std::vector<v1::Event*> events = batch.Release();
        std::vector<size_t> normal_at, slowed_at;
        std::vector<bool> slowed_shed;
        for (size_t i = 0; i < m; i++) {
          if (!to_slow[i]) {
            normal_at.push_back(i);
            continue;
          }
          slowed_at.push_back(i);
          slowed_shed.push_back(shed_of[i]);
        }
        // The normal part is acknowledged soon: it shares the batch's arena.
        // The slowed part waits: copied when it is the lesser part (Gather).
        Batch normal = batch.Sibling(), slowed = Gather(batch, events, slowed_at);
        for (size_t i : normal_at) normal.Move(events[i]);
        queued_events_ += normal.size();
        normal_.push_back(std::move(normal));
        if (slow_n > 0) PushSlow(std::move(slowed), std::move(slowed_shed), now);
      }
      TrimSlow(now);
    }
  }
  cv_.notify_one();
  return all;
}

void EngineStream::PushSlow(Batch batch, std::vector<bool> sheddable, Clock::time_point now) {
  const size_t n = batch.size();
  // Counted per run of one workload: a flood's batches are mostly one.
  for (size_t i = 0; i < n;) {
    const uint64_t cg = batch.event(i).cgroup_id();
    size_t j = i;
    while (j < n && batch.event(j).cgroup_id() == cg) {
      if (batch.event(j).has_fork()) slow_children_[batch.event(j).fork().child_pid()]++;
      j++;
    }
    slow_cgroups_[cg] += j - i;
    i = j;
  }
  slow_events_ += n;
  queued_events_ += n;
  // Small pieces (a batch split by lane) are merged into the last batch
  // while it has room and is not already trimmed; whole batches go as they are.
  if (!slow_.empty() && slow_.size() > slow_trimmed_ && slow_.back().batch.size() + n <= size_t(kSlowBatch)) {
    SlowBatch& b = slow_.back();
    b.batch.Share(batch);
    for (v1::Event* e : batch.Release()) b.batch.Move(e);
    b.sheddable.insert(b.sheddable.end(), sheddable.begin(), sheddable.end());
    return;
  }
  sheddable.resize(n);
  slow_.push_back({std::move(batch), std::move(sheddable), now});
}

void EngineStream::LeftSlow(const Batch& batch, const std::vector<bool>* only) {
  const size_t n = batch.size();
  for (size_t i = 0; i < n;) {
    const uint64_t cg = batch.event(i).cgroup_id();
    size_t j = i, k = 0;
    for (; j < n && batch.event(j).cgroup_id() == cg; j++) {
      if (only && !(*only)[j]) continue;
      k++;
      const v1::Event& e = batch.event(j);
      if (!e.has_fork()) continue;
      if (auto it = slow_children_.find(e.fork().child_pid()); it != slow_children_.end() && --it->second == 0)
        slow_children_.erase(it);
    }
    if (auto it = slow_cgroups_.find(cg); k && it != slow_cgroups_.end() && (it->second -= std::min(it->second, k)) == 0)
      slow_cgroups_.erase(it);
    i = j;
  }
}

void EngineStream::CountShed(const v1::Event& e) {
  CgroupDrop& d = cgroup_drops_[e.cgroup_id()];
  d.shed++;
  d.shed_by_kind[KindOf(e)]++;
  slow_shed_total_++;
  slow_shed_episode_++;
}

void EngineStream::TrimSlow(Clock::time_point now) {
  // About a second of what the engine drains, and nothing older than that:
  // a held workload's backlog is not worth the engine's time later.
  const size_t bound = std::max<size_t>(kSlowMinEvents, size_t(drain_rate_ * kSlowSeconds));
  const auto oldest = now - std::chrono::milliseconds(int(kSlowSeconds * 1000));
  while (slow_trimmed_ < slow_.size() && (slow_events_ > bound || slow_[slow_trimmed_].since < oldest)) {
    SlowBatch& b = slow_[slow_trimmed_];
    b.sheddable.resize(b.batch.size());
    LeftSlow(b.batch, &b.sheddable);
    const std::vector<v1::Event*> events = b.batch.Release();
    std::vector<size_t> kept;
    const size_t n = events.size();
    size_t shed = 0;
    for (size_t i = 0; i < n; i++) {
      v1::Event* e = events[i];
      if (i < b.sheddable.size() && b.sheddable[i]) {
        if (!slow_shedding_) {
          slow_shedding_ = true;
          slow_shed_episode_ = 0;
          Log("warn", "slow lane: shedding the oldest sheddable events of workloads over their share (%zu waiting, over %.1f s "
              "at the budget's %llu events/s); counted per workload as shed",
              slow_events_, kSlowSeconds, (unsigned long long)drain_rate_);
        }
        CountShed(*e);
        shed++;
        continue;
      }
      kept.push_back(i);
    }
    slow_events_ -= shed;
    queued_events_ -= shed;
    if (kept.empty()) {
      slow_.erase(slow_.begin() + slow_trimmed_);
      continue;
    }
    b.batch = Gather(b.batch, events, kept);
    b.sheddable.assign(b.batch.size(), false);
    slow_trimmed_++;
  }
  EndShedding();
}

void EngineStream::EndShedding() {
  if (!slow_.empty() || !slow_shedding_) return;
  slow_shedding_ = false;
  Log("info", "slow lane: drained; %llu events shed in the episode", (unsigned long long)slow_shed_episode_);
}

void EngineStream::SetDrainRate(uint64_t events_per_sec) {
  std::lock_guard<std::mutex> lock(mu_);
  drain_rate_ = std::max<uint64_t>(events_per_sec, 1);
}

bool EngineStream::WriteDirect(std::unique_lock<std::mutex>& lock, Batch& batch) {
  const size_t n = batch.size();
  if (!live_ || writing_ || stopping_ || !LanesEmpty() || !control_.empty() || !packets_.empty() ||
      unacked_events_ + n > kDirectUnacked)
    return false;
  writing_ = true;
  auto* rw = live_;
  batch.set_seq(++next_seq_);
  Batch sent = std::move(batch);
  lock.unlock();
  const bool ok = rw->Write(sent.message());
  lock.lock();
  writing_ = false;
  if (ok) {
    // Kept until the engine says it processed it.
    unacked_events_ += n;
    unacked_.push_back(std::move(sent));
    direct_batches_++;
  } else {
    // The stream broke: the sender ends the session and sends it again, its seq kept, in the next.
    direct_failed_ = true;
    live_ = nullptr;
    queued_events_ += n;
    resend_.push_front(std::move(sent));
  }
  // The sender is woken only when it has something to do: what queued
  // meanwhile, a broken stream, or its wait to end the session.
  if (!ok || teardown_ || reader_done_ || !control_.empty() || !packets_.empty() || !LanesEmpty()) cv_.notify_one();
  return true;
}

std::unordered_map<uint64_t, EngineStream::CgroupDrop> EngineStream::CgroupDrops() {
  std::lock_guard<std::mutex> lock(mu_);
  return cgroup_drops_;
}

size_t EngineStream::Queued() {
  std::lock_guard<std::mutex> lock(mu_);
  return queued_events_ + unacked_events_;
}

size_t EngineStream::Ahead() {
  std::lock_guard<std::mutex> lock(mu_);
  return queued_events_ - slow_events_ + unacked_events_;
}

size_t EngineStream::SlowQueued() {
  std::lock_guard<std::mutex> lock(mu_);
  return slow_events_;
}

uint64_t EngineStream::Batches() {
  std::lock_guard<std::mutex> lock(mu_);
  return next_seq_;
}

namespace {
size_t PacketBytes(const v1::PacketBatch& b) {
  size_t n = 0;
  for (const auto& p : b.packets()) n += p.data().size() + 32;
  return n;
}
}  // namespace

bool EngineStream::EnqueuePackets(v1::PacketBatch packets) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    size_t bytes = PacketBytes(packets);
    if (queued_packet_bytes_ + bytes > options_.max_queued_packet_bytes) {
      dropped_packets_ += packets.packets_size();
      return false;
    }
    queued_packet_bytes_ += bytes;
    packets_.push_back(std::move(packets));
  }
  cv_.notify_one();
  return true;
}

void EngineStream::SendAck(v1::CommandAck ack) {
  v1::ProbeMessage msg;
  *msg.mutable_ack() = std::move(ack);
  std::lock_guard<std::mutex> lock(mu_);
  control_.push_back(std::move(msg));
  cv_.notify_one();
}

void EngineStream::ReportLoss(const v1::LossReport& report) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = control_.begin(); it != control_.end(); ++it) {
    if (it->has_loss()) {
      *it->mutable_loss() = report;
      return;
    }
  }
  v1::ProbeMessage msg;
  *msg.mutable_loss() = report;
  control_.push_back(std::move(msg));
  cv_.notify_one();
}

void EngineStream::ReportSelfCheck(const v1::SelfCheck& report) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = control_.begin(); it != control_.end(); ++it) {
    if (it->has_self_check()) {
      v1::SelfCheck merged = report;
      merged.clear_found();
      for (const auto& f : it->self_check().found()) *merged.add_found() = f;
      for (const auto& f : report.found()) *merged.add_found() = f;
      if (merged.found_size() > 256) merged.mutable_found()->DeleteSubrange(0, merged.found_size() - 256);
      *it->mutable_self_check() = std::move(merged);
      return;
    }
  }
  v1::ProbeMessage msg;
  *msg.mutable_self_check() = report;
  control_.push_back(std::move(msg));
  cv_.notify_one();
}

void EngineStream::Stop(int drain_ms) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    drain_deadline_ = Clock::now() + std::chrono::milliseconds(drain_ms);
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void EngineStream::Acknowledge(uint64_t seq) {
  std::lock_guard<std::mutex> lock(mu_);
  while (!unacked_.empty() && unacked_.front().seq() <= seq) {
    unacked_events_ -= unacked_.front().size();
    acked_events_ += unacked_.front().size();
    unacked_.pop_front();
  }
  // The slow lane goes only while little is unacknowledged: this may let it.
  if (!slow_.empty() && unacked_events_ < kSlowUnacked) cv_.notify_one();
}

void EngineStream::RequeueUnacked() {
  std::lock_guard<std::mutex> lock(mu_);
  if (unacked_.empty()) return;
  Log("info", "resending %zu batches (%zu events) the engine did not acknowledge", unacked_.size(), unacked_events_);
  while (!unacked_.empty()) {
    queued_events_ += unacked_.back().size();
    resend_.push_front(std::move(unacked_.back()));
    unacked_.pop_back();
  }
  unacked_events_ = 0;
}

// Next message to write; a batch stays queued until its write succeeded.
bool EngineStream::PopNext(v1::ProbeMessage* out, Batch* batch, bool* is_batch) {
  std::unique_lock<std::mutex> lock(mu_);
  // Not while the ring reader writes a batch itself (WriteDirect): one writer at a time, in order.
  // Woken for work, a stop, or a session that ended (a failed direct write,
  // the reader's end); the timeout only looks at the channel now and then:
  // at 200 ms it woke an idle sender five times a second for nothing.
  cv_.wait_for(lock, std::chrono::seconds(1), [this] {
    return !writing_ &&
           (stopping_ || direct_failed_ || reader_done_ || !control_.empty() || !resend_.empty() || !normal_.empty() ||
            (!slow_.empty() && unacked_events_ < kSlowUnacked) || !packets_.empty());
  });
  if (writing_ || direct_failed_ || reader_done_) return false;
  if (!control_.empty()) {
    *out = std::move(control_.front());
    control_.pop_front();
    *is_batch = false;
    writing_ = true;
    return true;
  }
  if (!packets_.empty()) {
    queued_packet_bytes_ -= PacketBytes(packets_.front());
    *out->mutable_packets() = std::move(packets_.front());
    packets_.pop_front();
    *is_batch = false;
    writing_ = true;
    return true;
  }
  if (TakeBatch(batch)) {
    *is_batch = true;
    writing_ = true;
    return true;
  }
  return false;
}

// Batches to send again first (their seq kept), then the normal lane, then
// the slow lane while little is unacknowledged: the engine then never has
// more than kSlowUnacked of a flood ahead of anyone else's next event.
bool EngineStream::TakeBatch(Batch* out) {
  if (!resend_.empty()) {
    queued_events_ -= resend_.front().size();
    *out = std::move(resend_.front());
    resend_.pop_front();
    return true;
  }
  if (!normal_.empty()) {
    queued_events_ -= normal_.front().size();
    *out = std::move(normal_.front());
    normal_.pop_front();
  } else if (!slow_.empty() && unacked_events_ < kSlowUnacked) {
    SlowBatch& b = slow_.front();
    LeftSlow(b.batch, nullptr);
    slow_events_ -= b.batch.size();
    queued_events_ -= b.batch.size();
    *out = std::move(b.batch);
    slow_.pop_front();
    if (slow_trimmed_ > 0) slow_trimmed_--;
    EndShedding();
  } else {
    return false;
  }
  out->set_seq(++next_seq_);
  return true;
}

bool ReadFileTo(const std::string& path, std::string* out, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "cannot read " + path;
    return false;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

namespace {
// A fresh token per connection (Hello.commands_token): names this stream to
// the engine's end of the Commands call.
std::string CommandsToken() {
  std::random_device rd;
  static const char* hex = "0123456789abcdef";
  std::string t;
  for (int i = 0; i < 8; i++) {
    uint32_t v = rd();
    for (int j = 0; j < 4; j++, v >>= 8) {
      t += hex[(v >> 4) & 15];
      t += hex[v & 15];
    }
  }
  return t;
}
}  // namespace

bool EngineStream::Session() {
  grpc::ChannelArguments args;
  // No bandwidth-delay probing of what the engine sends: it sends small
  // acknowledgements and commands, and each one read sent a ping back, whose
  // answer woke the engine and then this probe's reader again, and armed
  // one of gRPC's timers (its timer threads woke 7 times a second, 2.4 without).
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials();
  if (!options_.tls_ca.empty()) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options_.tls_ca;
    ssl.pem_cert_chain = options_.tls_cert;
    ssl.pem_private_key = options_.tls_key;
    creds = grpc::SslCredentials(ssl);
    args.SetSslTargetNameOverride(options_.tls_server_name);
  }
  auto channel = grpc::CreateCustomChannel(options_.target, creds, args);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(1))) return false;
  auto stub = v1::ProbeService::NewStub(channel);
  grpc::ClientContext ctx;
  auto rw = stub->Stream(&ctx);

  // Hello, then the Commands call naming its token (proto/vigil/v1/probe.proto):
  // the engine's commands and acknowledgements come down a call of their
  // own, so the thread reading them never waits on the call batches are
  // written into (there, every write's completion woke it: bench/README.md).
  // Then a fresh snapshot: an engine that restarted has lost its tree.
  v1::ProbeMessage hello;
  *hello.mutable_hello() = hello_;
  const std::string token = CommandsToken();
  hello.mutable_hello()->set_commands_token(token);
  if (!rw->Write(hello)) return false;
  grpc::ClientContext commands_ctx;
  v1::CommandsRequest commands_req;
  commands_req.set_token(token);
  auto commands = stub->Commands(&commands_ctx, commands_req);
  // The snapshot (every process on the node: megabytes on a busy one) is
  // freed once sent, and its pages given back: this call lives as long as
  // the connection.
  size_t sent = 0;
  {
    auto procs = snapshot_();
    sent = procs.size();
    for (size_t i = 0; i < procs.size() || i == 0; i += kSnapshotChunk) {
      v1::ProbeMessage msg;
      auto* snap = msg.mutable_snapshot();
      for (size_t j = i; j < procs.size() && j < i + kSnapshotChunk; j++) *snap->add_processes() = procs[j];
      snap->set_last(i + kSnapshotChunk >= procs.size());
      if (!rw->Write(msg)) return false;
    }
  }
  malloc_trim(0);
  {
    std::lock_guard<std::mutex> lock(mu_);
    live_ = rw.get();
    direct_failed_ = false;
    reader_done_ = false;
  }
  connected_ = true;
  Log("info", "connected to engine at %s, sent %zu running processes", options_.target.c_str(), sent);

  // Commands arrive on their own thread, on their own call; acks go
  // through the send queue so only one thread writes at a time.
  std::thread reader([this, &commands] {
    pthread_setname_np(pthread_self(), "vigil-commands");
    v1::EngineCommand cmd;
    while (commands->Read(&cmd)) {
      if (cmd.acked_seq()) Acknowledge(cmd.acked_seq());
      if (cmd.cmd_case() == v1::EngineCommand::CMD_NOT_SET) continue;  // only an acknowledgement
      v1::ProbeMessage msg;
      if (options_.on_command) {
        auto ack = options_.on_command(cmd);
        if (!ack) continue;  // answered later (SendAck)
        *msg.mutable_ack() = std::move(*ack);
      } else {
        msg.mutable_ack()->set_id(cmd.id());
        msg.mutable_ack()->set_ok(cmd.has_ping());
        if (!cmd.has_ping()) msg.mutable_ack()->set_error("command not supported by this probe");
      }
      std::lock_guard<std::mutex> lock(mu_);
      control_.push_back(std::move(msg));
      cv_.notify_one();
    }
    std::lock_guard<std::mutex> lock(mu_);
    reader_done_ = true;
    cv_.notify_all();
  });

  bool broken = false;
  while (true) {
    v1::ProbeMessage msg;
    Batch batch;
    bool is_batch = false;
    if (PopNext(&msg, &batch, &is_batch)) {
      if (!rw->Write(is_batch ? batch.message() : msg)) {
        // Unsent: back to the front of its queue for the next session.
        std::lock_guard<std::mutex> lock(mu_);
        writing_ = false;
        if (is_batch) {
          queued_events_ += batch.size();
          resend_.push_front(std::move(batch));
        } else {
          control_.push_front(std::move(msg));
        }
        broken = true;
        break;
      }
      std::lock_guard<std::mutex> lock(mu_);
      writing_ = false;
      if (is_batch) {
        // Kept until the engine says it processed it.
        unacked_events_ += batch.size();
        unacked_.push_back(std::move(batch));
      }
      continue;
    }
    std::lock_guard<std::mutex> lock(mu_);
    // The engine ended the stream or it broke: a write would fail too (it used
    // to be seen that way, or in the channel's state within 200 ms).
    if (direct_failed_ || reader_done_) {
      broken = true;
      break;
    }
    // On stop, what was sent must also be acknowledged before the stream closes.
    if (stopping_ && !writing_ && control_.empty() && LanesEmpty() && packets_.empty() && unacked_.empty()) break;
    if (stopping_ && Clock::now() > drain_deadline_) break;
    if (channel->GetState(false) == GRPC_CHANNEL_SHUTDOWN ||
        channel->GetState(false) == GRPC_CHANNEL_TRANSIENT_FAILURE) {
      broken = true;
      break;
    }
  }
  {
    // No direct write may still be using the stream when it goes.
    std::unique_lock<std::mutex> lock(mu_);
    teardown_ = true;
    cv_.wait(lock, [this] { return !writing_; });
    teardown_ = false;
    live_ = nullptr;
    direct_failed_ = false;
  }
  connected_ = false;
  if (!broken) rw->WritesDone();
  RequeueUnacked();
  ctx.TryCancel();
  commands_ctx.TryCancel();
  reader.join();
  grpc::Status status = rw->Finish();
  grpc::Status commands_status = commands->Finish();
  // The engine's reason, when it refused the commands call (an engine older
  // than the probe: unimplemented) rather than our own cancel.
  if (!commands_status.ok() && commands_status.error_code() != grpc::StatusCode::CANCELLED) status = commands_status;
  if (broken) Log("warn", "engine stream broke: %s", status.error_message().c_str());
  return !broken;
}

void EngineStream::Run() {
  int backoff_ms = 100;
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_ && (LanesEmpty() || Clock::now() > drain_deadline_)) break;
    }
    auto began = Clock::now();
    if (Session()) break;  // closed cleanly on Stop
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_ && Clock::now() > drain_deadline_) break;
    }
    if (Clock::now() - began > std::chrono::seconds(5)) backoff_ms = 100;  // it had been up
    Log("info", "engine at %s unreachable, retrying in %d ms (%zu events queued)", options_.target.c_str(),
        backoff_ms, queued_events_);
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(backoff_ms), [this] { return stopping_; });
    backoff_ms = std::min(backoff_ms * 2, 5000);
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (!LanesEmpty()) {
    dropped_events_ += queued_events_;
    Log("warn", "stopping with %zu events not delivered (or not acknowledged) by the engine", queued_events_);
  }
}

}  // namespace vigil
