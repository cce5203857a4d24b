#include "fairness.h"

#include <algorithm>

#include "loader.h"
#include "log.h"

namespace vigil {

void Fairness::Tick(double seconds, size_t queued, uint64_t acked, bool flood_waits,
                    const std::unordered_map<uint64_t, uint64_t>& shed_now) {
  if (!On() || seconds <= 0) return;
  const uint64_t was = budget_;
  const uint64_t step = o_.events_per_sec / 20;
  // What the engine got through while a flood waited for it in the probe's
  // slow lane all along (the lane is sent whenever little is unacknowledged,
  // so the engine had work all the time): what it can take now. Measured
  // over half a second at least (acknowledgements come every 512 events).
  const uint64_t got = acked >= last_acked_ ? acked - last_acked_ : 0;
  last_acked_ = acked;
  if (flood_waits && flood_waited_) {
    busy_events_ += got;
    busy_seconds_ += seconds;
  } else {
    busy_events_ = 0;
    busy_seconds_ = 0;
  }
  flood_waited_ = flood_waits;
  bool backlog = false;  // cut for what waits ahead (else for what the engine drained)
  uint64_t drained = 0;
  if (busy_seconds_ >= 0.5) {
    drained = uint64_t(busy_events_ / busy_seconds_);
    busy_events_ = 0;
    busy_seconds_ = 0;
    // Less than the budget: the budget is what it can take, so every
    // workload's share is a share of that (a starved engine, 2 vCPUs under
    // the flood's own load, got through 5,000-30,000/s; its in-flight slow
    // batches kept a neighbour's alerts 100-700 ms late). More: grown back.
    if (drained < budget_ - budget_ / 10) {
      budget_ = std::max<uint64_t>(o_.min_share * 4, drained);
    } else if (drained > budget_) {
      budget_ = std::min<uint64_t>(o_.events_per_sec, budget_ + step);
    }
  }
  // A backlog ahead of the next event (two ticks in a row) halves it; nearly
  // nothing ahead grows it back, unless a flood is waiting (then only what
  // the engine drains does). One tick over says little: a flood's onset (its
  // first events sent before it is seen over its share) or the engine and
  // probe off the CPU for a tick under the flood's load both put
  // ~1,100-1,600 ahead for that one tick; halved then, a steady 8,000/s
  // neighbour was held at 6,875/s. A slow engine's backlog stays: it is
  // halved a tick later.
  if (queued > o_.backlog) {
    if (++behind_ >= 2) {
      budget_ = std::max<uint64_t>(o_.min_share * 4, budget_ / 2);
      behind_ = 0;
      backlog = true;
    }
  } else {
    behind_ = 0;
    if (queued < o_.backlog / 10 && !flood_waits) budget_ = std::min<uint64_t>(o_.events_per_sec, budget_ + step);
  }
  if (budget_ < was) {
    cuts_++;
    lowest_ = std::min(lowest_, budget_);
  }
  // Each cut said (a few per episode), and the way back once: every
  // workload's share shrinks with it.
  if (budget_ < was && backlog)
    Log("warn", "fairness: budget %llu events/s (was %llu): %zu events wait for the engine (over %zu)",
        (unsigned long long)budget_, (unsigned long long)was, queued, o_.backlog);
  else if (budget_ < was)
    Log("warn", "fairness: budget %llu events/s (was %llu): the engine got through %llu events/s while a flood waited for it",
        (unsigned long long)budget_, (unsigned long long)was, (unsigned long long)drained);
  else if (budget_ > was && budget_ == o_.events_per_sec)
    Log("info", "fairness: budget back to %llu events/s", (unsigned long long)budget_);

  // Offered per cgroup (events/s): what was read, over the tick or over the
  // span of its kernel times if longer (a reader off the CPU for most of a
  // second read a steady 8,000/s workload's backlog in one 80 ms tick and
  // took it for 48,000/s), plus what the kernel shed meanwhile.
  std::unordered_map<uint64_t, double> offered;
  for (const auto& [cg, c] : seen_) offered[cg] += c.n / std::max(seconds, (c.last - c.since) / 1e9);
  for (const auto& [cg, total] : shed_now) {
    auto it = last_shed_.find(cg);
    uint64_t before = it == last_shed_.end() ? total : it->second;  // first sight: no growth known
    if (total > before) offered[cg] += (total - before) / seconds;
    last_shed_[cg] = total;
  }
  over_.clear();
  for (const auto& [cg, c] : seen_)
    if (c.n > Allowed(c)) over_[cg] = true;
  seen_.clear();
  std::vector<std::pair<uint64_t, uint64_t>> rates;  // cgroup, events/s
  uint64_t total = 0;
  for (const auto& [cg, per_sec] : offered) {
    uint64_t r = uint64_t(per_sec);
    rates.push_back({cg, r});
    total += r;
  }
  // Max-min fair share of the budget: smallest first, each takes what it
  // offers up to an even split of what is left.
  std::sort(rates.begin(), rates.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
  uint64_t share = budget_;
  if (total > budget_) {
    uint64_t left = budget_;
    for (size_t i = 0; i < rates.size(); i++) {
      uint64_t even = left / (rates.size() - i);
      if (rates[i].second > even) {
        share = even;
        break;
      }
      left -= rates[i].second;
    }
  }
  share = std::max(share, o_.min_share);

  for (const auto& [cg, rate] : rates) {
    auto it = held_.find(cg);
    if (rate <= share || total <= budget_) {
      if (it == held_.end()) continue;
      // Under its share (or the node under budget): released after a while, not at once.
      it->second.offered = rate;
      if (++it->second.quiet >= o_.release_ticks) {
        loader_->ReleaseCgroup(cg);
        Log("info", "fairness: cgroup %llu released (offers %llu events/s, share %llu)", (unsigned long long)cg,
            (unsigned long long)rate, (unsigned long long)share);
        held_.erase(it);
      }
      continue;
    }
    // Over its share: held at it; one in `every` of the excess still crosses,
    // about a tenth of its share in samples.
    uint64_t every = std::clamp<uint64_t>((rate - share) / std::max<uint64_t>(share / 10, 1), 2, 1u << 20);
    bool fresh = it == held_.end();
    Hold& h = held_[cg];
    if (fresh || h.share != share) loader_->HoldCgroup(cg, share, std::max<uint64_t>(share / 10, 16), uint32_t(every));
    if (fresh)
      Log("warn", "fairness: cgroup %llu held to %llu events/s (offers %llu of the node's %llu budget): the rest of its "
          "opens, connects, accepts, unlinks, renames and chmods sampled and counted",
          (unsigned long long)cg, (unsigned long long)share, (unsigned long long)rate, (unsigned long long)budget_);
    h.share = share;
    h.offered = rate;
    h.quiet = 0;
  }
  // Held workloads that offered nothing this tick (gone quiet).
  for (auto it = held_.begin(); it != held_.end();) {
    if (offered.count(it->first) || ++it->second.quiet < o_.release_ticks) {
      ++it;
      continue;
    }
    loader_->ReleaseCgroup(it->first);
    Log("info", "fairness: cgroup %llu released (quiet)", (unsigned long long)it->first);
    it = held_.erase(it);
  }
}

std::vector<HeldCgroup> Fairness::Held() const {
  std::vector<HeldCgroup> out;
  for (const auto& [cg, h] : held_) out.push_back({cg, h.share, h.offered});
  return out;
}

}  // namespace vigil
