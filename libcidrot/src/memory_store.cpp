// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
//
// The in-memory store: the reference implementation of the Store contract.
//
// Layout, chosen so a lease costs O(steps) pointer hops and never scans the pool:
// - every number lives in a Slot (stable address in a deque); strings that repeat across numbers
//   (carrier, meta, campaign sets) are interned, so a slot stays ~150 bytes;
// - a Pool is one campaign name ("*" = numbers serving every campaign) and owns one Queue per NPA;
// - a Queue is an intrusive doubly linked list of the *available* members (active, below
//   concurrency limit, not capped), ordered by (last_used, caller_id): its front is the LRU pick.
//   A lease moves the number to the back (last_used only grows) or unlinks it; a release
//   re-inserts it walking from the back, which is O(1) when calls end roughly in the order they
//   started and O(d) for d later-started, earlier-ended calls in the same NPA otherwise.
//   Never-used numbers wait in a per-queue set by caller_id instead (they all precede every used
//   number), so importing numbers in any order costs O(log n) each;
// - capped numbers are unlinked and remembered; they are re-admitted once when the window rolls;
// - leases sit in a hash map by id plus a lazy min-heap by expiry, drained at each lease call.
// One mutex guards everything: the critical section is a few hundred nanoseconds.

#include <algorithm>
#include <array>
#include <cstring>
#include <deque>
#include <mutex>
#include <queue>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "cidrot/error.h"
#include "cidrot/store.h"
#include "list_page.h"

namespace cidrot::storage {
namespace {

constexpr int kNpaSlots = 1000;

std::uint64_t caller_key(std::string_view digits) {
  std::uint64_t v = 0;
  for (char c : digits) v = v * 10 + static_cast<std::uint64_t>(c - '0');
  return v;
}

std::string caller_string(std::uint64_t key) {
  std::string s(10, '0');
  for (int i = 9; i >= 0; --i) {
    s[i] = static_cast<char>('0' + key % 10);
    key /= 10;
  }
  return s;
}

// Lease ids are 32 hex chars (validated by the Rotator). The key keeps the characters as they
// are — no parsing on the hot path — and the hash mixes all of them: make_lease_id() keeps its
// first half constant per process, so hashing a prefix alone would put every lease in one bucket.
struct LeaseKey {
  std::array<char, 32> c;
  bool operator==(const LeaseKey& o) const { return std::memcmp(c.data(), o.c.data(), 32) == 0; }
};
struct LeaseKeyHash {
  std::size_t operator()(const LeaseKey& k) const {
    std::uint64_t w[4];
    std::memcpy(w, k.c.data(), 32);
    std::uint64_t h = 0x9e3779b97f4a7c15ULL;
    for (std::uint64_t x : w) h = (h ^ x) * 0xbf58476d1ce4e5b9ULL;
    return static_cast<std::size_t>(h ^ (h >> 29));
  }
};

bool parse_lease_key(std::string_view id, LeaseKey* out) {
  if (id.size() != 32) return false;
  std::memcpy(out->c.data(), id.data(), 32);
  return true;
}

std::string lease_key_string(const LeaseKey& k) { return std::string(k.c.data(), 32); }

// Deduplicates strings that many numbers share. Ids are stable for the store's life.
class Interner {
 public:
  std::uint32_t intern(const std::string& s) {
    auto it = ids_.find(s);
    if (it != ids_.end()) return it->second;
    const auto id = static_cast<std::uint32_t>(values_.size());
    values_.push_back(s);
    ids_.emplace(values_.back(), id);
    return id;
  }
  const std::string& get(std::uint32_t id) const { return values_[id]; }

 private:
  std::deque<std::string> values_;
  std::unordered_map<std::string_view, std::uint32_t> ids_;
};

struct Slot;
struct Queue;

struct Node {
  Node* prev = nullptr;
  Node* next = nullptr;
  Slot* slot = nullptr;
  Queue* queue = nullptr;
};

struct Pool;

struct SlotKeyLess {
  bool operator()(const Node* a, const Node* b) const;
};

struct Queue {
  Node head;  // sentinel: head.next is the LRU front of the used numbers
  // Never-used numbers (last_used 0), by caller_id. They all come before every used number; a
  // set keeps bulk imports in any order O(log n) where a list insert would walk the queue.
  std::set<Node*, SlotKeyLess> fresh;
  Pool* pool = nullptr;
  std::int64_t members = 0;  // active numbers of this pool with this NPA
  std::int64_t capped = 0;   // ... of which at an hourly or daily cap
  Queue() { head.prev = head.next = &head; }
  bool empty() const { return fresh.empty() && head.next == &head; }
  // The LRU number of the queue; the queue must not be empty.
  Slot* front() const { return fresh.empty() ? head.next->slot : (*fresh.begin())->slot; }
};

struct Pool {
  std::string name;
  Queue* by_npa[kNpaSlots] = {};
  std::vector<Queue*> queues;  // every allocated queue, for kAny steps
  std::int64_t members = 0;
  std::int64_t capped = 0;
  std::deque<Queue> storage;

  Queue* queue(std::uint16_t npa) {
    Queue*& q = by_npa[npa];
    if (q == nullptr) {
      q = &storage.emplace_back();
      q->pool = this;
      queues.push_back(q);
    }
    return q;
  }
};

struct Slot {
  std::uint64_t key = 0;  // caller_id as an integer; orders like the 10-digit string
  std::uint16_t npa = 0;
  bool live = false;
  bool active = true;
  bool queued = false;
  bool capped = false;
  bool listed = false;  // in MemoryStore::capped_list_
  std::int32_t max_concurrent = 1;
  std::int32_t active_leases = 0;
  std::uint32_t carrier = 0, meta = 0, campaigns = 0, disposition = 0;
  std::int64_t hourly_limit = 0, daily_limit = 0;
  std::int64_t last_used_ms = 0, total_uses = 0, last_duration_s = -1;
  std::int64_t hour_window = 0, day_window = 0;
  std::int64_t hour_count = 0, day_count = 0;
  std::uint32_t node_count = 0;
  Node first;                     // the common case: one pool
  std::unique_ptr<Node[]> extra;  // pools 2..n

  Node& node(std::uint32_t i) { return i == 0 ? first : extra[i - 1]; }
};

bool SlotKeyLess::operator()(const Node* a, const Node* b) const {
  return a->slot->key < b->slot->key;
}

struct LeaseRec {
  Slot* slot;
  std::int64_t leased_at_ms, expires_ms;
  std::string campaign, agent, destination;
  Tier tier;
};

bool before(const Slot* a, const Slot* b) {
  return a->last_used_ms != b->last_used_ms ? a->last_used_ms < b->last_used_ms : a->key < b->key;
}

class MemoryStore final : public Store {
 public:
  MemoryStore() {
    interner_.intern("");  // id 0 = empty string for carrier/disposition
    interner_.intern("{}");
  }

  std::string backend_name() const override { return "memory"; }

  UpsertResult upsert_numbers(const std::vector<Number>& numbers) override {
    // New numbers enter their queues in caller_id order, so each lands at an end (O(1)).
    std::vector<const Number*> ordered;
    ordered.reserve(numbers.size());
    for (const Number& n : numbers) ordered.push_back(&n);
    std::sort(ordered.begin(), ordered.end(),
              [](const Number* a, const Number* b) { return a->caller_id < b->caller_id; });
    std::lock_guard<std::mutex> lock(mu_);
    UpsertResult r;
    for (const Number* np : ordered) {
      const Number& n = *np;
      const std::uint64_t key = caller_key(n.caller_id);
      auto it = index_.find(key);
      Slot* s;
      if (it == index_.end()) {
        s = new_slot(key);
        ++r.inserted;
      } else {
        s = it->second;
        detach(s);
        ++r.updated;
      }
      s->npa = static_cast<std::uint16_t>(std::stoi(n.area_code));
      s->active = n.active;
      s->max_concurrent = n.max_concurrent;
      s->hourly_limit = n.hourly_limit.value_or(0);
      s->daily_limit = n.daily_limit.value_or(0);
      s->carrier = interner_.intern(n.carrier);
      s->meta = interner_.intern(n.meta_json);
      set_pools(s, n.campaigns);
      attach(s);
    }
    return r;
  }

  bool set_active(const std::string& caller_id, bool active) override {
    std::lock_guard<std::mutex> lock(mu_);
    Slot* s = find(caller_id);
    if (s == nullptr) return false;
    detach(s);
    s->active = active;
    attach(s);
    return true;
  }

  bool remove_number(const std::string& caller_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    Slot* s = find(caller_id);
    if (s == nullptr) return false;
    for (auto it = leases_.begin(); it != leases_.end();) {
      it = it->second.slot == s ? leases_.erase(it) : std::next(it);
    }
    detach(s);
    index_.erase(s->key);
    s->live = false;
    s->extra.reset();
    free_.push_back(s);
    return true;
  }

  std::optional<NumberState> get_number(const std::string& caller_id,
                                        const Windows& windows) override {
    std::lock_guard<std::mutex> lock(mu_);
    expire_locked(to_unix_ms(windows.now));
    Slot* s = find(caller_id);
    if (s == nullptr) return std::nullopt;
    return state_of(s, windows);
  }

  ListPage list_numbers(const ListQuery& q, const Windows& windows) override {
    std::lock_guard<std::mutex> lock(mu_);
    expire_locked(to_unix_ms(windows.now));
    std::unordered_set<std::uint16_t> npas(q.area_codes.begin(), q.area_codes.end());
    std::vector<NumberState> candidates;
    for (auto& [key, s] : index_) {
      (void)key;
      // Cheap filters before building a state; make_list_page applies every filter.
      if (!npas.empty() && npas.count(s->npa) == 0) continue;
      if (q.active && *q.active != s->active) continue;
      if (q.leased && *q.leased != (s->active_leases > 0)) continue;
      candidates.push_back(state_of(s, windows));
    }
    return detail::make_list_page(std::move(candidates), q);
  }

  LeaseResult lease(const LeaseRequest& req) override {
    const std::int64_t now_ms = to_unix_ms(req.windows.now);
    LeaseKey key;
    if (!parse_lease_key(req.lease_id, &key)) {
      throw Error(ErrorCode::kInvalidArgument, "lease_id: must be 32 lowercase hex chars",
                  "lease_id");
    }
    std::lock_guard<std::mutex> lock(mu_);
    expire_locked(now_ms);
    roll_windows(req.windows);

    Pool* pools[2];
    int npools = 0;
    if (auto it = pools_.find(req.campaign); it != pools_.end() && req.campaign != "*") {
      pools[npools++] = it->second.get();
    }
    if (all_pool_ != nullptr) pools[npools++] = all_pool_;

    LeaseResult result;
    Slot* best = nullptr;
    Tier tier = Tier::kAny;
    for (const LadderStep& step : *req.ladder) {
      if (step.tier == Tier::kAny && step.npas.empty()) {
        for (int p = 0; p < npools; ++p) {
          for (Queue* q : pools[p]->queues) consider(q, &best);
        }
      } else {
        for (std::uint16_t npa : step.npas) {
          for (int p = 0; p < npools; ++p) consider(pools[p]->by_npa[npa], &best);
        }
      }
      if (best != nullptr) {
        tier = step.tier;
        break;
      }
    }
    if (best == nullptr) {
      result.denial = deny_reason(req, pools, npools);
      return result;
    }

    // Count in the newest windows seen: a thread whose clock read is a hair older than another's
    // must not reset a counter the other already moved into the next window.
    Slot* s = best;
    if (s->hour_window != cur_hour_) {
      s->hour_window = cur_hour_;
      s->hour_count = 0;
    }
    if (s->day_window != cur_day_) {
      s->day_window = cur_day_;
      s->day_count = 0;
    }
    s->hour_count++;
    s->day_count++;
    s->total_uses++;
    s->active_leases++;
    unlink(s);
    s->last_used_ms = std::max(s->last_used_ms, now_ms);
    update_capped(s);
    link_if_available(s);

    const std::int64_t expires_ms = now_ms + req.ttl.count();
    auto [it, inserted] = leases_.try_emplace(
        key, LeaseRec{s, now_ms, expires_ms, req.campaign, req.agent, req.destination, tier});
    if (!inserted) {
      throw Error(ErrorCode::kConflict, "lease_id: already in use", "lease_id");
    }
    expiry_.push({expires_ms, key});
    result.lease = make_lease(key, it->second, &req.lease_id);
    return result;
  }

  std::int64_t release(const ReleaseRequest& req) override {
    std::lock_guard<std::mutex> lock(mu_);
    expire_locked(to_unix_ms(req.now));
    std::int64_t ended = 0;
    Slot* target = nullptr;
    if (!req.lease_id.empty()) {
      LeaseKey key;
      if (!parse_lease_key(req.lease_id, &key)) return 0;
      auto it = leases_.find(key);
      if (it == leases_.end()) return 0;
      target = it->second.slot;
      leases_.erase(it);
      end_lease(target);
      ended = 1;
    } else {
      target = find(req.caller_id);
      if (target == nullptr) return 0;
      for (auto it = leases_.begin(); it != leases_.end();) {
        if (it->second.slot == target) {
          it = leases_.erase(it);
          end_lease(target);
          ++ended;
        } else {
          ++it;
        }
      }
    }
    if (ended > 0 && !req.outcome.disposition.empty()) {
      target->disposition = interner_.intern(req.outcome.disposition);
      target->last_duration_s = req.outcome.duration_s;
    }
    return ended;
  }

  std::int64_t expire(TimePoint now) override {
    std::lock_guard<std::mutex> lock(mu_);
    return expire_locked(to_unix_ms(now));
  }

  std::vector<Lease> list_leases(TimePoint now, std::int64_t limit) override {
    std::lock_guard<std::mutex> lock(mu_);
    expire_locked(to_unix_ms(now));
    std::vector<std::pair<LeaseKey, const LeaseRec*>> all;
    all.reserve(leases_.size());
    for (const auto& [k, rec] : leases_) all.emplace_back(k, &rec);
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
      if (a.second->expires_ms != b.second->expires_ms) {
        return a.second->expires_ms < b.second->expires_ms;
      }
      return std::memcmp(a.first.c.data(), b.first.c.data(), 32) < 0;
    });
    std::vector<Lease> out;
    for (const auto& [k, rec] : all) {
      if (static_cast<std::int64_t>(out.size()) >= limit) break;
      out.push_back(make_lease(k, *rec));
    }
    return out;
  }

  StoreStats stats(const Windows& windows) override {
    std::lock_guard<std::mutex> lock(mu_);
    expire_locked(to_unix_ms(windows.now));
    StoreStats st;
    std::vector<AreaCodeStats> by_npa(kNpaSlots);
    for (auto& [key, s] : index_) {
      (void)key;
      ++st.numbers;
      st.total_uses += s->total_uses;
      if (s->active_leases > 0) ++st.leased_numbers;
      st.active_leases += s->active_leases;
      if (!s->active) {
        ++st.disabled;
        continue;
      }
      ++st.active;
      const bool hourly = s->hourly_limit > 0 && count_in(s->hour_window, s->hour_count,
                                                          windows.hour_start) >= s->hourly_limit;
      const bool daily = s->daily_limit > 0 &&
                         count_in(s->day_window, s->day_count, windows.day_start) >= s->daily_limit;
      st.capped_hourly += hourly;
      st.capped_daily += daily;
      AreaCodeStats& a = by_npa[s->npa];
      a.npa = s->npa;
      ++a.numbers;
      a.available += !hourly && !daily && s->active_leases < s->max_concurrent;
    }
    for (const auto& a : by_npa) {
      if (a.numbers > 0) st.area_codes.push_back(a);
    }
    std::unordered_map<std::string, std::int64_t> by_campaign;
    for (const auto& [k, rec] : leases_) {
      (void)k;
      ++by_campaign[rec.campaign];
    }
    st.leases_by_campaign.assign(by_campaign.begin(), by_campaign.end());
    std::sort(st.leases_by_campaign.begin(), st.leases_by_campaign.end());
    return st;
  }

  void ping() override {}

 private:
  static std::int64_t count_in(std::int64_t window, std::int64_t count, std::int64_t current) {
    return window == current ? count : 0;
  }

  Slot* find(const std::string& caller_id) {
    if (caller_id.size() != 10) return nullptr;
    auto it = index_.find(caller_key(caller_id));
    return it == index_.end() ? nullptr : it->second;
  }

  Slot* new_slot(std::uint64_t key) {
    Slot* s;
    if (!free_.empty()) {
      s = free_.back();
      free_.pop_back();
      *s = Slot{};
    } else {
      s = &slots_.emplace_back();
    }
    s->key = key;
    s->live = true;
    s->hour_window = cur_hour_;
    s->day_window = cur_day_;
    index_.emplace(key, s);
    return s;
  }

  Pool* pool(const std::string& name) {
    auto& p = pools_[name];
    if (!p) {
      p = std::make_unique<Pool>();
      p->name = name;
      if (name == "*") all_pool_ = p.get();
    }
    return p.get();
  }

  void set_pools(Slot* s, const std::vector<std::string>& campaigns) {
    std::string joined;
    for (const auto& c : campaigns) joined += c + '\n';
    s->campaigns = interner_.intern(joined);
    const std::size_t n = campaigns.empty() ? 1 : campaigns.size();
    s->node_count = static_cast<std::uint32_t>(n);
    s->extra.reset(n > 1 ? new Node[n - 1] : nullptr);
    for (std::size_t i = 0; i < n; ++i) {
      Node& node = s->node(static_cast<std::uint32_t>(i));
      node = Node{};
      node.slot = s;
      node.queue = pool(campaigns.empty() ? std::string("*") : campaigns[i])->queue(s->npa);
    }
  }

  // Adds the slot's membership counts and links it if available. Inverse of detach().
  void attach(Slot* s) {
    if (!s->active) return;
    update_capped_flag(s);
    for (std::uint32_t i = 0; i < s->node_count; ++i) {
      Node& n = s->node(i);
      n.queue->members++;
      n.queue->capped += s->capped;
      Pool* p = n.queue->pool;
      p->members++;
      p->capped += s->capped;
    }
    link_if_available(s);
  }

  void detach(Slot* s) {
    unlink(s);
    if (!s->active) return;
    for (std::uint32_t i = 0; i < s->node_count; ++i) {
      Node& n = s->node(i);
      n.queue->members--;
      n.queue->capped -= s->capped;
      Pool* p = n.queue->pool;
      p->members--;
      p->capped -= s->capped;
    }
    if (s->capped) {
      s->capped = false;
    }
  }

  bool capped_in(const Slot* s, std::int64_t hour, std::int64_t day) const {
    return (s->hourly_limit > 0 &&
            count_in(s->hour_window, s->hour_count, hour) >= s->hourly_limit) ||
           (s->daily_limit > 0 && count_in(s->day_window, s->day_count, day) >= s->daily_limit);
  }

  void update_capped_flag(Slot* s) {
    s->capped = capped_in(s, cur_hour_, cur_day_);
    if (s->capped) remember_capped(s);
  }

  void remember_capped(Slot* s) {
    if (s->listed) return;
    s->listed = true;
    capped_list_.push_back(s);
  }

  // Adjusts the capped flag to the current windows and the membership counters it feeds.
  void update_capped(Slot* s) {
    // Inactive numbers are not members of any queue count; attach() recomputes on reactivation.
    if (!s->active) return;
    const bool now_capped = capped_in(s, cur_hour_, cur_day_);
    if (now_capped == s->capped) return;
    s->capped = now_capped;
    const int delta = now_capped ? 1 : -1;
    for (std::uint32_t i = 0; i < s->node_count; ++i) {
      Node& n = s->node(i);
      n.queue->capped += delta;
      n.queue->pool->capped += delta;
    }
    if (now_capped) remember_capped(s);
  }

  // The windows only move forward; when they do, capped numbers whose window ended come back.
  void roll_windows(const Windows& w) {
    if (w.hour_start <= cur_hour_ && w.day_start <= cur_day_) return;
    cur_hour_ = std::max(cur_hour_, w.hour_start);
    cur_day_ = std::max(cur_day_, w.day_start);
    std::vector<Slot*> old;
    old.swap(capped_list_);
    for (Slot* s : old) s->listed = false;
    // A slot may appear twice (removed and reused); `listed` makes the second visit a no-op.
    for (Slot* s : old) {
      if (!s->live || s->listed) continue;
      update_capped(s);  // remembers it again if still capped (idempotent)
      if (s->capped) {
        remember_capped(s);
      } else {
        link_if_available(s);
      }
    }
  }

  bool available(const Slot* s) const {
    return s->live && s->active && !s->capped && s->active_leases < s->max_concurrent;
  }

  void unlink(Slot* s) {
    if (!s->queued) return;
    for (std::uint32_t i = 0; i < s->node_count; ++i) {
      Node& n = s->node(i);
      if (s->last_used_ms == 0) {
        n.queue->fresh.erase(&n);
        continue;
      }
      n.prev->next = n.next;
      n.next->prev = n.prev;
      n.prev = n.next = nullptr;
    }
    s->queued = false;
  }

  void link_if_available(Slot* s) {
    if (s->queued || !available(s)) return;
    for (std::uint32_t i = 0; i < s->node_count; ++i) {
      Node& n = s->node(i);
      if (s->last_used_ms == 0) {
        n.queue->fresh.insert(&n);
        continue;
      }
      Node* head = &n.queue->head;
      // Keep (last_used, key) order. A just-used number goes last (O(1)); a released one walks
      // back from the tail, where calls that ended in the order they started land at once.
      Node* after = head->prev;
      if (after != head && before(s, after->slot)) {
        if (before(s, head->next->slot)) {
          after = head;
        } else {
          while (before(s, after->slot)) after = after->prev;
        }
      }
      n.prev = after;
      n.next = after->next;
      after->next->prev = &n;
      after->next = &n;
    }
    s->queued = true;
  }

  static void consider(Queue* q, Slot** best) {
    if (q == nullptr || q->empty()) return;
    Slot* front = q->front();
    if (*best == nullptr || before(front, *best)) *best = front;
  }

  DenialReason deny_reason(const LeaseRequest& req, Pool* const* pools, int npools) const {
    std::int64_t pool_members = 0, scope_members = 0, scope_capped = 0;
    bool any = false;
    for (int p = 0; p < npools; ++p) pool_members += pools[p]->members;
    if (pool_members == 0) return DenialReason::kPoolEmpty;
    std::unordered_set<std::uint16_t> seen;
    for (const LadderStep& step : *req.ladder) {
      if (step.tier == Tier::kAny && step.npas.empty()) {
        any = true;
        break;
      }
      for (std::uint16_t npa : step.npas) {
        if (!seen.insert(npa).second) continue;
        for (int p = 0; p < npools; ++p) {
          if (const Queue* q = pools[p]->by_npa[npa]) {
            scope_members += q->members;
            scope_capped += q->capped;
          }
        }
      }
    }
    if (any) {
      scope_members = pool_members;
      scope_capped = 0;
      for (int p = 0; p < npools; ++p) scope_capped += pools[p]->capped;
    }
    if (scope_members == 0) return DenialReason::kNoMatchInScope;
    return scope_capped == scope_members ? DenialReason::kAllLimited : DenialReason::kAllReserved;
  }

  void end_lease(Slot* s) {
    s->active_leases--;
    link_if_available(s);
  }

  std::int64_t expire_locked(std::int64_t now_ms) {
    std::int64_t n = 0;
    while (!expiry_.empty() && expiry_.top().first <= now_ms) {
      const LeaseKey key = expiry_.top().second;
      expiry_.pop();
      auto it = leases_.find(key);
      if (it == leases_.end() || it->second.expires_ms > now_ms) continue;
      Slot* s = it->second.slot;
      leases_.erase(it);
      end_lease(s);
      ++n;
    }
    return n;
  }

  void number_of(const Slot* s, Number* out) const {
    Number& n = *out;
    n.caller_id = caller_string(s->key);
    n.area_code = n.caller_id.substr(0, 3);
    n.carrier = interner_.get(s->carrier);
    n.meta_json = interner_.get(s->meta);
    const std::string& joined = interner_.get(s->campaigns);
    for (std::size_t pos = 0; pos < joined.size();) {
      const auto nl = joined.find('\n', pos);
      n.campaigns.push_back(joined.substr(pos, nl - pos));
      pos = nl + 1;
    }
    n.hourly_limit = s->hourly_limit;
    n.daily_limit = s->daily_limit;
    n.max_concurrent = s->max_concurrent;
    n.active = s->active;
  }

  NumberState state_of(Slot* s, const Windows& w) const {
    NumberState st;
    number_of(s, &st.number);
    st.last_used = from_unix_ms(s->last_used_ms);
    st.total_uses = s->total_uses;
    st.hour_count = count_in(s->hour_window, s->hour_count, w.hour_start);
    st.day_count = count_in(s->day_window, s->day_count, w.day_start);
    st.active_leases = s->active_leases;
    st.last_disposition = interner_.get(s->disposition);
    st.last_duration_s = s->last_duration_s;
    return st;
  }

  Lease make_lease(const LeaseKey& key, const LeaseRec& rec,
                   const std::string* id = nullptr) const {
    Lease l;
    l.id = id != nullptr ? *id : lease_key_string(key);
    number_of(rec.slot, &l.number);
    l.campaign = rec.campaign;
    l.agent = rec.agent;
    l.destination = rec.destination;
    l.leased_at = from_unix_ms(rec.leased_at_ms);
    l.expires_at = from_unix_ms(rec.expires_ms);
    l.tier = rec.tier;
    return l;
  }

  using ExpiryEntry = std::pair<std::int64_t, LeaseKey>;
  struct ExpiryLater {
    bool operator()(const ExpiryEntry& a, const ExpiryEntry& b) const { return a.first > b.first; }
  };

  std::mutex mu_;
  Interner interner_;
  std::deque<Slot> slots_;
  std::vector<Slot*> free_;
  std::unordered_map<std::uint64_t, Slot*> index_;
  std::unordered_map<std::string, std::unique_ptr<Pool>> pools_;
  Pool* all_pool_ = nullptr;  // pools_["*"]: numbers serving every campaign
  std::unordered_map<LeaseKey, LeaseRec, LeaseKeyHash> leases_;
  std::priority_queue<ExpiryEntry, std::vector<ExpiryEntry>, ExpiryLater> expiry_;
  std::vector<Slot*> capped_list_;
  std::int64_t cur_hour_ = 0, cur_day_ = 0;
};

}  // namespace

std::shared_ptr<Store> open_memory_store(const std::string& url) {
  if (url != "memory://" && url != "memory:") {
    throw Error(ErrorCode::kUnsupported,
                "url: memory:// takes no path or options (got '" + url.substr(0, 64) + "')", "url");
  }
  return std::make_shared<MemoryStore>();
}

}  // namespace cidrot::storage
