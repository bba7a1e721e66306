// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// Private to the SQLite backend: the selection order of the numbers table, kept in memory.
//
// Every number is filed under each campaign key it serves ("" for every campaign) in two orders:
// (campaign, npa, state, last_used, caller_id) for the per-NPA steps of a ladder and
// (campaign, state, last_used, caller_id) for "any NPA". The first entry of a (campaign, npa) or
// (campaign) range is the least recently used available number there, or, when none is
// available, tells the lowest state of the range (for the denial reason). This is what schema 2
// kept in its pick table; in memory a probe is a tree lookup instead of a SQL statement and a
// lease re-files two tree nodes instead of rewriting b-tree pages. Each order is kept as one
// tree per (campaign, npa) and one per campaign, found by hashing: a ladder step over many NPAs
// (a time zone's) probes each of them, and a hash lookup plus the tree's first node is far
// cheaper than a descent of one tree holding the whole pool. Each record keeps its nodes'
// positions, so re-filing it after a lease neither searches for the old nodes nor, mostly, for
// the new places (the end of its trees).
//
// Not thread-safe: used by the SQLite writer's batch leader only.
#ifndef CIDROT_STORAGE_SQLITE_PICK_INDEX_H_
#define CIDROT_STORAGE_SQLITE_PICK_INDEX_H_

#include <cstdint>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace cidrot::storage::sqlite {

class PickIndex {
 public:
  // What a number is filed under.
  struct Entry {
    std::int64_t id = 0;
    std::string caller_id;
    std::int32_t npa = 0;
    int state = 0;
    std::int64_t last_used = 0;
  };

  // The first entry of a probed range.
  struct Hit {
    int state = 0;
    std::int64_t last_used = 0;
    const std::string* caller_id = nullptr;  // valid until the index next changes
    std::int64_t id = 0;
  };

  // Files (or re-files) number `e.id` under `campaigns` (distinct campaign keys).
  void file(const Entry& e, const std::vector<std::string>& campaigns) {
    auto [it, fresh] = records_.try_emplace(e.id);
    Record& r = it->second;
    if (!fresh) unfile(r);
    static_cast<Entry&>(r) = e;
    r.slots.clear();
    for (const std::string& c : campaigns) {
      const std::uint32_t key = intern(c);
      r.slots.push_back(Slot{&by_npa_[npa_key(key, r.npa)], &by_any_[key], {}, {}});
    }
    refile(r);
  }

  // Moves number `id` (already filed) to a new state and last_used, under the same campaigns.
  // Returns false when the number is not filed.
  bool move(std::int64_t id, int state, std::int64_t last_used) {
    auto it = records_.find(id);
    if (it == records_.end()) return false;
    Record& r = it->second;
    if (r.state == state && r.last_used == last_used) return true;
    unfile(r);
    r.state = state;
    r.last_used = last_used;
    refile(r);
    return true;
  }

  // The state number `id` is filed under, or -1 when it is not filed.
  int state_of(std::int64_t id) const {
    auto it = records_.find(id);
    return it == records_.end() ? -1 : it->second.state;
  }

  void erase(std::int64_t id) {
    auto it = records_.find(id);
    if (it == records_.end()) return;
    unfile(it->second);
    records_.erase(it);
  }

  void clear() {
    records_.clear();
    by_npa_.clear();
    by_any_.clear();
  }

  // The first entry filed under `campaign` and `npa` (npa < 0: any NPA), if any.
  bool probe(const std::string& campaign, std::int32_t npa, Hit* hit) const {
    auto c = campaigns_.find(campaign);
    if (c == campaigns_.end()) return false;
    const Tree* tree = nullptr;
    if (npa >= 0) {
      auto bucket = by_npa_.find(npa_key(c->second, npa));
      if (bucket != by_npa_.end()) tree = &bucket->second;
    } else {
      auto any = by_any_.find(c->second);
      if (any != by_any_.end()) tree = &any->second;
    }
    if (tree == nullptr || tree->empty()) return false;
    const Record* r = *tree->begin();
    hit->state = r->state;
    hit->last_used = r->last_used;
    hit->caller_id = &r->caller_id;
    hit->id = r->id;
    return true;
  }

 private:
  struct Record;

  // Ties on (state, last_used) are broken by caller_id as the contract says; the id makes the
  // order total even if two records ever carried one caller_id while being re-filed.
  static int tail_compare(const Record& a, const Record& b) {
    if (a.state != b.state) return a.state < b.state ? -1 : 1;
    if (a.last_used != b.last_used) return a.last_used < b.last_used ? -1 : 1;
    if (int c = a.caller_id.compare(b.caller_id); c != 0) return c;
    return a.id < b.id ? -1 : (a.id > b.id ? 1 : 0);
  }
  struct TailOrder {
    bool operator()(const Record* a, const Record* b) const { return tail_compare(*a, *b) < 0; }
  };
  // One order of the numbers of a (campaign, npa) pair or of a campaign.
  using Tree = std::set<const Record*, TailOrder>;

  // Where a record is filed under one campaign key: its two trees and its node in each, so that
  // unfiling is two erases by position, without a search.
  struct Slot {
    Tree* npa_tree;
    Tree* any_tree;
    Tree::iterator in_npa;
    Tree::iterator in_any;
  };
  struct Record : Entry {
    std::vector<Slot> slots;
  };

  void unfile(Record& r) {
    for (Slot& s : r.slots) {
      s.npa_tree->erase(s.in_npa);
      s.any_tree->erase(s.in_any);
    }
  }

  // Files `r` (unfiled) under its slots. A number that was just used sorts after every other
  // number of its state, mostly at the end of its trees: the end is tried first, which makes the
  // insertion constant-time then (a wrong hint costs one comparison).
  void refile(Record& r) {
    for (Slot& s : r.slots) {
      s.in_npa = s.npa_tree->insert(s.npa_tree->end(), &r);
      s.in_any = s.any_tree->insert(s.any_tree->end(), &r);
    }
  }

  static std::uint64_t npa_key(std::uint32_t campaign, std::int32_t npa) {
    return (std::uint64_t{campaign} << 32) | static_cast<std::uint32_t>(npa);
  }

  std::uint32_t intern(const std::string& campaign) {
    return campaigns_.try_emplace(campaign, static_cast<std::uint32_t>(campaigns_.size()))
        .first->second;
  }

  // Node-based: Records never move, so the trees can point at them, and the trees never move
  // (an emptied one stays: there are few (campaign, npa) pairs), so the slots can point at them.
  std::unordered_map<std::int64_t, Record> records_;
  std::unordered_map<std::string, std::uint32_t> campaigns_;
  std::unordered_map<std::uint64_t, Tree> by_npa_;  // by (campaign, npa)
  std::unordered_map<std::uint32_t, Tree> by_any_;  // by campaign
};

}  // namespace cidrot::storage::sqlite

#endif  // CIDROT_STORAGE_SQLITE_PICK_INDEX_H_
