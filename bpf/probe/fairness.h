// Fairness: which workloads (cgroups) the kernel holds to a share, and at
// what rate. The kernel does the holding (bpf/fair.bpf.h): a held
// workload's sheddable events pass at its rate, one in N of the rest is sent
// as a sample and the others are counted per cgroup and kind. This decides
// who is held, from what the probe reads and what the kernel counted.
//
// Every tick: each cgroup's offered rate (events read + shed by the kernel)
// over the last tick. While the node offers more than its budget, the budget
// is split max-min fairly (a workload under its even share keeps all it
// offers; what it leaves is split among the rest) and every workload over
// its share is held at it. The budget shrinks while the probe's queue backs
// up ahead of the next event (the engine is not keeping up: what waits
// there delays every alert) and grows back while it is nearly empty. Not
// the queue's slow lane: a flood waits there by design, full whatever the
// engine's pace, and counted it halved the budget down to its floor, every
// workload's share with it, while the engine kept up with the rest. While
// a flood waits there, the engine has work all the time: what it gets
// through then is what it can take, and the budget is no more than that. A
// held workload is released once it has offered less than its share for
// `release_ticks` ticks.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace vigil {

class Loader;

struct FairOptions {
  uint64_t events_per_sec = 50000;  // the node's budget toward the engine; 0: fairness off
  uint64_t min_share = 500;         // no workload is held below this rate
  int tick_ms = 100;
  int release_ticks = 20;
  // The engine is behind when more than this many events wait ahead of a
  // workload's next one, two ticks in a row (4 batches: every alert waits
  // behind them), caught up under a tenth of it.
  size_t backlog = 1024;
};

// A workload held now, for logs and the loss report.
struct HeldCgroup {
  uint64_t cgroup_id;
  uint64_t share;    // events/s it may send
  uint64_t offered;  // events/s it offered over the last tick
};

class Fairness {
 public:
  Fairness(Loader* loader, FairOptions options) : loader_(loader), o_(options), budget_(options.events_per_sec) {}
  // An event read from the ring buffer (its kernel time, CLOCK_MONOTONIC).
  // True when its workload is over its share before the kernel holds it:
  // since its first event in this tick it has sent more than the node's
  // whole budget allows (and a burst: an exec and the opens of its
  // libraries), or it did in the last tick. Its events go to the probe
  // queue's slow lane (stream.h), not ahead of everyone else's. Judged by
  // the events' own times, from its own first event: a flood starting late
  // in a tick is seen within milliseconds, and a steady workload read late
  // (the reader behind) is not taken for a burst.
  bool Seen(uint64_t cgroup_id, uint64_t ktime_ns) {
    Count& c = seen_[cgroup_id];
    if (c.n++ == 0) c.since = c.last = ktime_ns;
    if (ktime_ns > c.last) c.last = ktime_ns;
    return On() && (c.n > Allowed(c) || (!over_.empty() && over_.count(cgroup_id)));
  }
  // Decides who is held; `queued`: what a workload's next event waits
  // behind in the probe's queue (EngineStream::Ahead: events sent and not
  // yet acknowledged, or waiting to be sent, not counting the slow lane);
  // `acked`: the events the engine acknowledged so far; `flood_waits`:
  // events wait in the queue's slow lane.
  void Tick(double seconds, size_t queued, uint64_t acked, bool flood_waits,
            const std::unordered_map<uint64_t, uint64_t>& shed_now);
  std::vector<HeldCgroup> Held() const;
  uint64_t Budget() const { return budget_; }
  uint64_t Configured() const { return o_.events_per_sec; }
  uint64_t Cuts() const { return cuts_; }
  uint64_t Lowest() const { return lowest_; }
  size_t HeldCount() const { return held_.size(); }
  bool On() const { return o_.events_per_sec > 0; }
  int TickMs() const { return o_.tick_ms; }
  // Nobody held and the whole budget back: ticks change nothing until events come.
  bool AtRest() const { return held_.empty() && budget_ >= o_.events_per_sec; }

 private:
  struct Hold {
    uint64_t share = 0;
    uint64_t offered = 0;
    int quiet = 0;  // ticks in a row under its share
  };
  Loader* loader_;
  FairOptions o_;
  uint64_t budget_;
  uint64_t cuts_ = 0;  // times budget_ went down, for the loss report (vigil status)
  uint64_t lowest_ = budget_;
  int behind_ = 0;  // ticks in a row with a backlog
  uint64_t last_acked_ = 0;
  bool flood_waited_ = false;  // at the last tick
  uint64_t busy_events_ = 0;   // acknowledged over ticks a flood waited all along
  double busy_seconds_ = 0;
  struct Count {
    uint64_t n = 0;
    uint64_t since = 0, last = 0;  // kernel times of its first and latest event this tick
  };
  uint64_t Allowed(const Count& c) const { return kBurst + o_.events_per_sec * (c.last - c.since) / 1000000000ull; }
  std::unordered_map<uint64_t, Count> seen_;          // events read this tick
  // What one workload may send before it counts as over its share (Seen):
  // the configured budget's rate, not the shrunk budget's (a neighbour's
  // burst must not count as a flood when the budget is low), plus this.
  static constexpr uint64_t kBurst = 512;
  std::unordered_map<uint64_t, bool> over_;           // over its allowance in the last tick
  std::unordered_map<uint64_t, uint64_t> last_shed_;  // the kernel's cumulative shed counts at the last tick
  std::unordered_map<uint64_t, Hold> held_;
};

}  // namespace vigil
