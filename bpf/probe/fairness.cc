#include "fairness.h"

#include <algorithm>

#include "loader.h"
#include "log.h"

namespace vigil {

void Fairness::Tick(double seconds, size_t queued, const std::unordered_map<uint64_t, uint64_t>& shed_now) {
  if (!On() || seconds <= 0) return;
  // The engine not keeping up (the queue backs up) shrinks the budget; a
  // queue nearly empty grows it back (multiplicative decrease, additive increase).
  if (queued > o_.backlog) budget_ = std::max<uint64_t>(o_.min_share * 4, budget_ / 2);
  else if (queued < o_.backlog / 10) budget_ = std::min<uint64_t>(o_.events_per_sec, budget_ + o_.events_per_sec / 20);

  // Offered per cgroup: what was read, plus what the kernel shed meanwhile.
  std::unordered_map<uint64_t, uint64_t> offered;
  for (const auto& [cg, c] : seen_) offered[cg] += c.n;
  for (const auto& [cg, total] : shed_now) {
    auto it = last_shed_.find(cg);
    uint64_t before = it == last_shed_.end() ? total : it->second;  // first sight: no growth known
    if (total > before) offered[cg] += total - before;
    last_shed_[cg] = total;
  }
  over_.clear();
  for (const auto& [cg, c] : seen_)
    if (c.n > Allowed(c)) over_[cg] = true;
  seen_.clear();
  std::vector<std::pair<uint64_t, uint64_t>> rates;  // cgroup, events/s
  uint64_t total = 0;
  for (const auto& [cg, n] : offered) {
    uint64_t r = uint64_t(n / seconds);
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
