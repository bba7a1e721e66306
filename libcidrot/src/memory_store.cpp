// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
//
// The in-memory store: the reference implementation of the Store contract.
//
// Layout, chosen so a lease costs O(steps) pointer hops, never scans the pool, allocates nothing
// in the common case and touches few cache lines even in a pool of millions:
// - every number lives in a 128-byte Slot (two cache lines; what picking reads in the first) in
//   chunked arrays; its carrier, meta and campaign list are one interned Profile shared by every
//   number configured alike, and its last call outcome sits in a parallel cold array;
// - a Pool is one campaign name ("*" = numbers serving every campaign) and owns one Queue per NPA;
// - a Queue holds the *available* members (active, below concurrency limit, not capped) in LRU
//   order. Never-used numbers come first, by caller_id: a sorted run consumed from its front (so
//   the next pick is known and prefetched long before it is needed), plus an ordered set for
//   those arriving out of order (merged into the run once they outnumber it), which keeps
//   imports in any order O(log n) per number. Used numbers follow in an intrusive doubly linked
//   list ordered by (last_used, caller_id). A lease moves the number to the back (last_used only
//   grows) or unlinks it; a release re-inserts it walking from the back, which is O(1) when calls
//   end roughly in the order they started and O(d) for d later-started, earlier-ended calls in
//   the same NPA otherwise;
// - capped numbers are unlinked and remembered; they are re-admitted once when the window rolls;
// - leases are records in a chunked array reused through a free list (no allocation per lease),
//   found by id through an open-addressing index (whose bucket a lease writes a few leases after
//   prefetching it), and chained into one list per TTL, which is then ordered by expiry with a
//   new lease at its tail; a heap over the lists' first expiries says what expires next, so a
//   lease call that expires nothing costs one comparison;
// - arrays beyond their first 2 MiB ask for huge pages, so random slots cost no TLB miss.
// One mutex guards everything: the critical section is a few hundred nanoseconds.

#include <algorithm>
#include <array>
#include <bitset>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <new>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "cidrot/error.h"
#include "cidrot/store.h"
#include "lease_result.h"
#include "list_page.h"

namespace cidrot::storage {
namespace {

constexpr int kNpaSlots = 1000;
constexpr std::uint32_t kNone = 0xffffffffu;

std::uint64_t caller_key(std::string_view digits) {
  std::uint64_t v = 0;
  for (char c : digits) v = v * 10 + static_cast<std::uint64_t>(c - '0');
  return v;
}

void write_caller_id(std::uint64_t key, char* s) {
  for (int i = 9; i >= 0; --i) {
    s[i] = static_cast<char>('0' + key % 10);
    key /= 10;
  }
}

// Brings an address's cache line in, ready to be written, ahead of use. Never faults, so it may
// be given an address that turns out not to matter.
void prefetch(const void* p, std::size_t offset = 0) {
  __builtin_prefetch(reinterpret_cast<const void*>(reinterpret_cast<std::uintptr_t>(p) + offset),
                     1);
}

// Memory for the large arrays (slots, lease records, the lease index). In a pool of a million
// numbers a lease touches a few random slots, records and index buckets; on 4 KiB pages each of
// them is also a TLB miss, so blocks after an array's first are 2 MiB-aligned and asked to be
// backed by 2 MiB pages (Linux transparent huge pages, "madvise" mode included). The first block
// stays on ordinary pages, so a small store costs only the pages it touches. Zero-filled.
class Block {
 public:
  static constexpr std::size_t kBytes = std::size_t{2} << 20;

  Block(std::size_t bytes, bool huge) : bytes_(bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    // Fresh anonymous pages are zero and become resident only when touched.
    const std::size_t align = huge ? kBytes : 4096;
    bytes_ = (bytes + align - 1) / align * align;
    // Over-map so an aligned range fits, then hand back the slack on either side.
    const std::size_t span = huge ? bytes_ + kBytes : bytes_;
    void* raw = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) throw std::bad_alloc();
    const auto base = reinterpret_cast<std::uintptr_t>(raw);
    const auto aligned = (base + align - 1) & ~(align - 1);
    if (aligned > base) munmap(raw, aligned - base);
    if (base + span > aligned + bytes_) {
      munmap(reinterpret_cast<void*>(aligned + bytes_), base + span - (aligned + bytes_));
    }
    data_ = reinterpret_cast<void*>(aligned);
    if (huge) madvise(data_, bytes_, MADV_HUGEPAGE);  // a hint: the block works without it
#else
    (void)huge;
    data_ = ::operator new (bytes_, std::align_val_t{64});
    std::memset(data_, 0, bytes_);
#endif
  }
  ~Block() {
    if (data_ == nullptr) return;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    munmap(data_, bytes_);
#else
    ::operator delete (data_, std::align_val_t{64});
#endif
  }
  Block(Block&& o) noexcept : data_(o.data_), bytes_(o.bytes_) { o.data_ = nullptr; }
  Block& operator=(Block&& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(bytes_, o.bytes_);
    return *this;
  }
  Block(const Block&) = delete;
  Block& operator=(const Block&) = delete;

  void* data() const { return data_; }

 private:
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
};

// Elements that never move, in 2 MiB blocks: growing never copies or needs twice the memory, and
// references stay valid while results are built outside the lock.
template <typename T>
class ChunkedArray {
 public:
  ChunkedArray() = default;
  ~ChunkedArray() {
    for (std::uint32_t i = 0; i < size_; ++i) (*this)[i].~T();
  }
  ChunkedArray(const ChunkedArray&) = delete;
  ChunkedArray& operator=(const ChunkedArray&) = delete;

  T& operator[](std::uint32_t i) { return block(i / kPerBlock)[i % kPerBlock]; }
  const T& operator[](std::uint32_t i) const { return block(i / kPerBlock)[i % kPerBlock]; }
  std::uint32_t size() const { return size_; }
  // Appends a default-constructed element; returns its index.
  std::uint32_t grow() {
    if (size_ / kPerBlock == blocks_.size()) {
      blocks_.emplace_back(kPerBlock * sizeof(T), /*huge=*/!blocks_.empty());
    }
    new (&block(size_ / kPerBlock)[size_ % kPerBlock]) T();
    return size_++;
  }

 private:
  static constexpr std::uint32_t kPerBlock = Block::kBytes / sizeof(T);
  T* block(std::size_t b) const { return std::launder(static_cast<T*>(blocks_[b].data())); }

  std::vector<Block> blocks_;
  std::uint32_t size_ = 0;
};

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

// The configuration numbers share verbatim (imports give whole ranges one carrier, meta and
// campaign list): stored once, so a slot holds one id and a lease copies a ready campaign list.
struct Profile {
  std::string carrier;
  std::string meta_json;
  std::vector<std::string> campaigns;
  bool operator==(const Profile& o) const {
    return carrier == o.carrier && meta_json == o.meta_json && campaigns == o.campaigns;
  }
};

// Profiles never move or change once interned, so a Profile* may be read outside the lock.
class ProfileTable {
 public:
  ProfileTable() : ids_(16, Hash{this}, Equal{this}) {}
  ProfileTable(const ProfileTable&) = delete;
  ProfileTable& operator=(const ProfileTable&) = delete;

  std::uint32_t intern(const Number& n) {
    // The candidate goes in first so the set can hash and compare it by id like the others.
    profiles_.push_back(Profile{n.carrier, n.meta_json, n.campaigns});
    const auto id = static_cast<std::uint32_t>(profiles_.size() - 1);
    auto [it, fresh] = ids_.insert(id);
    if (!fresh) profiles_.pop_back();
    return *it;
  }
  const Profile& get(std::uint32_t id) const { return profiles_[id]; }

 private:
  struct Hash {
    const ProfileTable* table;
    std::size_t operator()(std::uint32_t id) const {
      const Profile& p = table->profiles_[id];
      std::hash<std::string> h;
      std::size_t v = h(p.carrier) * 31 + h(p.meta_json);
      for (const auto& c : p.campaigns) v = v * 31 + h(c);
      return v;
    }
  };
  struct Equal {
    const ProfileTable* table;
    bool operator()(std::uint32_t a, std::uint32_t b) const {
      return table->profiles_[a] == table->profiles_[b];
    }
  };
  std::deque<Profile> profiles_;
  std::unordered_set<std::uint32_t, Hash, Equal> ids_;
};

struct Slot;
struct Queue;

struct Node {
  Node* prev = nullptr;
  Node* next = nullptr;
  Slot* slot = nullptr;
  Queue* queue = nullptr;
};

// 128 bytes on a 64-byte boundary: picking reads the first line, leasing both, nothing a third.
struct alignas(64) Slot {
  Slot() : live(false), active(true), queued(false), capped(false), listed(false) {}

  std::uint64_t key = 0;  // caller_id as an integer; orders like the 10-digit string
  std::int64_t last_used_ms = 0;
  Node first;  // the common case: one pool
  std::int32_t active_leases = 0;
  std::int32_t max_concurrent = 1;
  std::uint32_t profile = 0;
  std::uint16_t node_count = 0;
  bool live : 1;
  bool active : 1;
  bool queued : 1;
  bool capped : 1;
  bool listed : 1;  // in MemoryStore::capped_list_

  std::int64_t hourly_limit = 0, daily_limit = 0;
  std::int64_t hour_window = 0, day_window = 0;
  std::int64_t hour_count = 0, day_count = 0;
  std::int64_t total_uses = 0;
  std::uint32_t extra = 0;  // MemoryStore::extras_ index of pools 2..n; 0 = none
  std::uint32_t index = 0;  // position in MemoryStore::slots_ (and cold_)

  std::uint16_t npa() const { return static_cast<std::uint16_t>(key / 10000000); }
};
static_assert(sizeof(Slot) == 128, "a slot is two cache lines");

// What only reports read: kept out of the slots so they stay two cache lines.
struct SlotCold {
  std::int64_t last_duration_s = -1;
  std::uint32_t disposition = 0;
};

struct SlotKeyLess {
  bool operator()(const Node* a, const Node* b) const { return a->slot->key < b->slot->key; }
};

// A queue's candidate: its LRU number and the order key it is compared by.
struct Pick {
  std::int64_t last_used = 0;
  std::uint64_t key = 0;
  Slot* slot = nullptr;
};

// A never-used number in a queue's sorted run; slot == nullptr once it has left the queue.
struct FreshEntry {
  std::uint64_t key;
  Slot* slot;
};

struct Pool;

struct alignas(64) Queue {
  // The first cache line holds all that front() reads.
  // Sentinel of the used numbers: head.next is their LRU front, head.prev the most recent. Every
  // node's next and every node's prev but the front's are kept; the front's prev may be stale,
  // and nothing reads it (walks from the tail stop before the front).
  Node head;
  // Never-used numbers (last_used 0), which come before every used number, lowest caller_id
  // first. Those arriving in caller_id order (imports are sorted per batch) append to `run`, whose
  // live part starts at run_begin; the others wait in `fresh`. A slot is in a queue at most once.
  std::vector<FreshEntry> run;
  std::uint32_t run_begin = 0;    // run[run_begin] is live, or run_begin == run.size()
  std::uint32_t fresh_count = 0;  // fresh.size()
  std::set<Node*, SlotKeyLess> fresh;
  std::size_t run_dead = 0;  // erased entries after run_begin
  Pool* pool = nullptr;
  std::int64_t members = 0;  // active numbers of this pool with this NPA
  std::int64_t capped = 0;   // ... of which at an hourly or daily cap
  Queue() { head.prev = head.next = &head; }

  bool empty() const { return run_begin == run.size() && fresh_count == 0 && head.next == &head; }

  // The LRU number of the queue, if any. Run entries carry their key, so comparing queues
  // touches no slot of a never-used number.
  bool front(Pick* out) const {
    bool found = false;
    if (run_begin < run.size()) {
      *out = Pick{0, run[run_begin].key, run[run_begin].slot};
      found = true;
    }
    if (fresh_count != 0) {
      Slot* s = (*fresh.begin())->slot;
      if (!found || s->key < out->key) *out = Pick{0, s->key, s};
      found = true;
    }
    if (!found && head.next != &head) {
      Slot* s = head.next->slot;
      *out = Pick{s->last_used_ms, s->key, s};
      found = true;
    }
    return found;
  }

  void add_fresh(Node* n) {
    const std::uint64_t key = n->slot->key;
    if (run_begin == run.size()) {
      run.clear();
      run_begin = run_dead = 0;
    }
    if (run.empty() || key > run.back().key) {
      run.push_back(FreshEntry{key, n->slot});
      return;
    }
    fresh.insert(n);
    ++fresh_count;
    // Once the out-of-order ones outnumber the run, they join it: picks come from the run again
    // (no tree walk, prefetched), and each merge costs no more than the inserts since the last.
    if (fresh.size() >= 64 && fresh.size() > run.size() - run_begin - run_dead) merge_fresh();
  }

  void remove_fresh(Node* n) {
    Slot* s = n->slot;
    if (run_begin < run.size() && s->key <= run.back().key) {
      std::size_t i = run_begin;
      if (run[i].key != s->key) {
        i = static_cast<std::size_t>(
            std::lower_bound(run.begin() + static_cast<std::ptrdiff_t>(run_begin), run.end(),
                             s->key,
                             [](const FreshEntry& e, std::uint64_t k) { return e.key < k; }) -
            run.begin());
      }
      if (i < run.size() && run[i].slot == s) {
        run[i].slot = nullptr;
        if (i == run_begin) {
          advance_run();
        } else if (++run_dead >= 1024 && run_dead * 2 >= run.size() - run_begin) {
          drop_dead();
        }
        return;
      }
    }
    fresh.erase(n);
    --fresh_count;
  }

 private:
  void advance_run() {
    ++run_begin;
    while (run_begin < run.size() && run[run_begin].slot == nullptr) {
      ++run_begin;
      --run_dead;
    }
    if (run_begin < run.size()) {
      // The next lease from this queue takes this number: start fetching it now.
      prefetch(run[run_begin].slot);
      prefetch(run[run_begin].slot, 64);
    }
    if (run_begin >= 1024 && run_begin * 2 >= run.size()) {
      run.erase(run.begin(), run.begin() + static_cast<std::ptrdiff_t>(run_begin));
      run_begin = 0;
    }
  }

  void merge_fresh() {
    std::vector<FreshEntry> merged;
    merged.reserve(run.size() - run_begin - run_dead + fresh.size());
    auto it = fresh.begin();
    for (std::size_t i = run_begin; i < run.size(); ++i) {
      if (run[i].slot == nullptr) continue;
      for (; it != fresh.end() && (*it)->slot->key < run[i].key; ++it) {
        merged.push_back(FreshEntry{(*it)->slot->key, (*it)->slot});
      }
      merged.push_back(run[i]);
    }
    for (; it != fresh.end(); ++it) merged.push_back(FreshEntry{(*it)->slot->key, (*it)->slot});
    fresh.clear();
    fresh_count = 0;
    run.swap(merged);
    run_begin = run_dead = 0;
  }

  void drop_dead() {
    run.erase(std::remove_if(run.begin() + static_cast<std::ptrdiff_t>(run_begin), run.end(),
                             [](const FreshEntry& e) { return e.slot == nullptr; }),
              run.end());
    run.erase(run.begin(), run.begin() + static_cast<std::ptrdiff_t>(run_begin));
    run_begin = run_dead = 0;
  }
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

struct LeaseRec {
  std::array<char, 32> id{};
  Slot* slot = nullptr;  // nullptr: a free record
  std::int64_t leased_at_ms = 0, expires_ms = 0;
  std::uint32_t prev = kNone, next = kNone;  // neighbours in its expiry list, soonest first
  std::uint32_t list = 0;                    // its expiry list (one per TTL)
  Tier tier = Tier::kAny;
  std::string campaign, agent, destination;
};

// Lease id -> record: open addressing with linear probing, at most half full. Ids are validated
// but arbitrary (other hosts and tests make their own), so the hash mixes all 32 characters:
// make_lease_id() keeps its first half constant per process, so a prefix alone would collide.
class LeaseIndex {
 public:
  static std::uint64_t hash(const char* id) {
    std::uint64_t w[4];
    std::memcpy(w, id, 32);
    std::uint64_t h = 0x9e3779b97f4a7c15ULL;
    for (std::uint64_t x : w) h = (h ^ x) * 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ULL;
    return h ^ (h >> 32);
  }

  std::uint32_t find(std::uint64_t h, const char* id, const ChunkedArray<LeaseRec>& recs) const {
    for (std::size_t k = 0; k < pending_count_; ++k) {
      const Pending& p = pending_[(pending_first_ + k) % kLag];
      if (p.hash == h && std::memcmp(recs[p.rec].id.data(), id, 32) == 0) return p.rec;
    }
    const std::uint32_t t = tag(h);
    const Entry* table = this->table();
    for (std::size_t i = home(t);; i = (i + 1) & mask()) {
      const Entry& e = table[i];
      if (e.rec1 == 0) return kNone;
      if (e.tag == t && std::memcmp(recs[e.rec1 - 1].id.data(), id, 32) == 0) return e.rec1 - 1;
    }
  }

  // The id must not be present. Its bucket is written kLag inserts later: in a large store the
  // bucket is a DRAM miss, so it is prefetched now and touched once it has had time to arrive.
  void insert(std::uint64_t h, std::uint32_t rec) {
    prefetch(&table()[home(tag(h))]);
    if (pending_count_ == kLag) {
      const Pending& oldest = pending_[pending_first_];
      insert_now(oldest.hash, oldest.rec);
      pending_first_ = (pending_first_ + 1) % kLag;
      --pending_count_;
    }
    pending_[(pending_first_ + pending_count_) % kLag] = Pending{h, rec};
    ++pending_count_;
  }

  void erase(std::uint64_t h, std::uint32_t rec) {
    for (std::size_t k = 0; k < pending_count_; ++k) {
      Pending& p = pending_[(pending_first_ + k) % kLag];
      if (p.rec != rec) continue;
      p = pending_[(pending_first_ + pending_count_ - 1) % kLag];
      --pending_count_;
      return;
    }
    erase_now(h, rec);
  }

 private:
  static constexpr std::size_t kLag = 8;
  struct Pending {
    std::uint64_t hash;
    std::uint32_t rec;
  };

  void insert_now(std::uint64_t h, std::uint32_t rec) {
    if ((size_ + 1) * 2 > capacity_) grow();
    place(Entry{rec + 1, tag(h)});
    ++size_;
  }

  void erase_now(std::uint64_t h, std::uint32_t rec) {
    Entry* table = this->table();
    std::size_t i = home(tag(h));
    while (table[i].rec1 != rec + 1) i = (i + 1) & mask();
    // Backward-shift deletion: later entries of the probe sequence move up, so lookups never
    // need tombstones.
    for (std::size_t j = (i + 1) & mask(); table[j].rec1 != 0; j = (j + 1) & mask()) {
      const std::size_t k = home(table[j].tag);
      const bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
      if (!stays) {
        table[i] = table[j];
        i = j;
      }
    }
    table[i].rec1 = 0;
    --size_;
  }

  struct Entry {
    std::uint32_t rec1;  // record index + 1; 0 = empty (so a zero-filled block is empty)
    std::uint32_t tag;   // low bits of the hash: the home bucket, and a filter before the id
  };

  static std::uint32_t tag(std::uint64_t h) { return static_cast<std::uint32_t>(h); }
  std::size_t mask() const { return capacity_ - 1; }
  std::size_t home(std::uint32_t t) const { return t & mask(); }
  Entry* table() const { return static_cast<Entry*>(block_.data()); }

  void place(Entry e) {
    Entry* table = this->table();
    std::size_t i = home(e.tag);
    while (table[i].rec1 != 0) i = (i + 1) & mask();
    table[i] = e;
  }

  void grow() {
    const std::size_t old_capacity = capacity_;
    Block old = std::move(block_);
    capacity_ *= 2;
    block_ = Block(capacity_ * sizeof(Entry), capacity_ * sizeof(Entry) >= Block::kBytes);
    const Entry* from = static_cast<const Entry*>(old.data());
    for (std::size_t i = 0; i < old_capacity; ++i) {
      if (from[i].rec1 != 0) place(from[i]);
    }
  }

  std::size_t capacity_ = 16;  // a power of two
  Block block_{16 * sizeof(Entry), false};
  std::size_t size_ = 0;  // entries in the table (not counting pending ones)
  std::array<Pending, kLag> pending_{};
  std::size_t pending_first_ = 0, pending_count_ = 0;
};

// Leases with one TTL, soonest expiry first (a new lease goes at the tail, or a step before it
// when its clock read was a hair older than the last one's).
struct ExpiryList {
  std::int64_t ttl_ms = 0;
  std::uint32_t head = kNone, tail = kNone;
  std::int64_t head_expires = 0;    // the heap's key, cached so the check touches no record
  std::size_t heap_pos = SIZE_MAX;  // in MemoryStore::expiry_heap_; SIZE_MAX while empty
};

// The fields of a number a Lease or NumberState reports, read under the lock; the strings are
// copied from the immutable Profile afterwards.
struct NumberView {
  std::uint64_t key;
  const Profile* profile;
  std::int64_t hourly_limit, daily_limit;
  std::int32_t max_concurrent;
  bool active;
};

// Overwrites every field of *out, which may hold an earlier answer (Store::lease_into).
void fill_number(const NumberView& v, Number* out) {
  Number& n = *out;
  // Written in place: a reused *out already holds ten digits and three.
  if (n.caller_id.size() != 10) n.caller_id.assign(10, '0');
  write_caller_id(v.key, n.caller_id.data());
  detail::copy_string(&n.area_code, std::string_view(n.caller_id.data(), 3));
  detail::copy_string(&n.carrier, v.profile->carrier);
  // Compared first: the usual answer repeats the previous one's, and a reused *out then copies
  // nothing.
  if (v.profile->meta_json != n.meta_json) n.meta_json = v.profile->meta_json;
  if (v.profile->campaigns != n.campaigns) n.campaigns = v.profile->campaigns;
  n.hourly_limit = v.hourly_limit;
  n.daily_limit = v.daily_limit;
  n.max_concurrent = v.max_concurrent;
  n.active = v.active;
}

// A lease for a result that holds none yet: every string is constructed once from its source,
// which costs a fraction of assigning into default-constructed ones (the by-value
// Rotator::next() path). Returned as a prvalue, so it is built where the caller puts it.
struct NewLease {
  const LeaseRequest* req;
  const NumberView* v;
  TimePoint leased_at, expires_at;
  Tier tier;

  operator Lease() const {  // NOLINT(google-explicit-constructor): used by optional::emplace
    char digits[10];
    write_caller_id(v->key, digits);
    return Lease{req->lease_id,
                 Number{std::string(digits, 10), std::string(digits, 3), v->profile->carrier,
                        v->profile->campaigns, v->hourly_limit, v->daily_limit, v->max_concurrent,
                        v->active, v->profile->meta_json},
                 req->campaign,
                 req->agent,
                 req->destination,
                 leased_at,
                 expires_at,
                 tier};
  }
};

bool before(const Slot* a, const Slot* b) {
  return a->last_used_ms != b->last_used_ms ? a->last_used_ms < b->last_used_ms : a->key < b->key;
}

class MemoryStore final : public Store {
 public:
  MemoryStore() {
    dispositions_.intern("");  // id 0 = no disposition
    extras_.emplace_back();    // extras_ index 0 = none
  }

  std::string backend_name() const override { return "memory"; }

  UpsertResult upsert_numbers(const std::vector<Number>& numbers) override {
    // New numbers enter their queues in caller_id order, so each lands at an end (O(1)). Stable:
    // a caller_id given twice in one batch ends with its last entry, as in every other store.
    std::vector<const Number*> ordered;
    ordered.reserve(numbers.size());
    for (const Number& n : numbers) ordered.push_back(&n);
    std::stable_sort(ordered.begin(), ordered.end(),
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
      s->active = n.active;
      s->max_concurrent = n.max_concurrent;
      s->hourly_limit = n.hourly_limit.value_or(0);
      s->daily_limit = n.daily_limit.value_or(0);
      s->profile = profiles_.intern(n);
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
    for (std::uint32_t r = 0; r < recs_.size(); ++r) {
      if (recs_[r].slot == s) drop_lease(r);
    }
    detach(s);
    index_.erase(s->key);
    s->live = false;
    release_extra(s);
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
      if (!npas.empty() && npas.count(s->npa()) == 0) continue;
      if (q.active && *q.active != s->active) continue;
      if (q.leased && *q.leased != (s->active_leases > 0)) continue;
      candidates.push_back(state_of(s, windows));
    }
    return detail::make_list_page(std::move(candidates), q);
  }

  LeaseResult lease(const LeaseRequest& req) override {
    LeaseResult result;
    lease_into(req, &result);
    return result;
  }

  void lease_into(const LeaseRequest& req, LeaseResult* out) override {
    const std::int64_t now_ms = to_unix_ms(req.windows.now);
    // As every store checks a request. An id make_lease_id() has just made (lease_id_fresh, the
    // Rotator's) needs only what the code below relies on: the full check is a call per lease,
    // a few ns of a ~190 ns lease.
    if (!req.lease_id_fresh || req.lease_id.size() != 32 || req.ladder == nullptr) {
      detail::check_lease_request(req);
    }
    const std::uint64_t id_hash = LeaseIndex::hash(req.lease_id.data());
    NumberView number;
    std::int64_t expires_ms;
    Tier tier = Tier::kAny;
    {
      std::lock_guard<std::mutex> lock(mu_);
      expire_locked(now_ms);
      roll_windows(req.windows);

      Pool* pools[2];
      int npools = 0;
      if (auto it = pools_.find(req.campaign); it != pools_.end() && req.campaign != "*") {
        pools[npools++] = it->second.get();
      }
      if (all_pool_ != nullptr) pools[npools++] = all_pool_;

      Pick best;
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
        if (best.slot != nullptr) {
          tier = step.tier;
          break;
        }
      }
      if (best.slot == nullptr) {
        out->lease.reset();
        out->denial = deny_reason(req, pools, npools);
        return;
      }
      // A fresh id cannot be in use; not looking spares a cache miss per lease in a large store.
      if (!req.lease_id_fresh && lease_index_.find(id_hash, req.lease_id.data(), recs_) != kNone) {
        throw Error(ErrorCode::kConflict, "lease_id: already in use", "lease_id");
      }

      // Count in the newest windows seen: a thread whose clock read is a hair older than
      // another's must not reset a counter the other already moved into the next window.
      Slot* s = best.slot;
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

      expires_ms = now_ms + req.ttl.count();
      const std::uint32_t r = new_record();
      LeaseRec& rec = recs_[r];
      std::memcpy(rec.id.data(), req.lease_id.data(), 32);
      rec.slot = s;
      rec.leased_at_ms = now_ms;
      rec.expires_ms = expires_ms;
      rec.tier = tier;
      detail::copy_string(&rec.campaign, req.campaign);
      detail::copy_string(&rec.agent, req.agent);
      detail::copy_string(&rec.destination, req.destination);
      rec.list = expiry_list(req.ttl.count());
      expiry_insert(r);
      lease_index_.insert(id_hash, r);
      number = view_of(s);
    }
    // Built after unlocking: the copies are the caller's, not every other caller's, wait.
    if (!out->lease) {
      out->lease.emplace(
          NewLease{&req, &number, from_unix_ms(now_ms), from_unix_ms(expires_ms), tier});
      return;
    }
    Lease& l = detail::grant(out, req, from_unix_ms(now_ms), from_unix_ms(expires_ms), tier);
    fill_number(number, &l.number);
  }

  std::int64_t release(const ReleaseRequest& req) override {
    std::lock_guard<std::mutex> lock(mu_);
    expire_locked(to_unix_ms(req.now));
    std::int64_t ended = 0;
    Slot* target = nullptr;
    if (!req.lease_id.empty()) {
      if (req.lease_id.size() != 32) return 0;
      const std::uint32_t r =
          lease_index_.find(LeaseIndex::hash(req.lease_id.data()), req.lease_id.data(), recs_);
      if (r == kNone) return 0;
      target = recs_[r].slot;
      drop_lease(r);
      end_lease(target);
      ended = 1;
    } else {
      target = find(req.caller_id);
      if (target == nullptr) return 0;
      for (std::uint32_t r = 0; r < recs_.size(); ++r) {
        if (recs_[r].slot == target) {
          drop_lease(r);
          end_lease(target);
          ++ended;
        }
      }
    }
    if (ended > 0 && !req.outcome.disposition.empty()) {
      SlotCold& c = cold_[target->index];
      c.disposition = dispositions_.intern(req.outcome.disposition);
      c.last_duration_s = req.outcome.duration_s;
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
    std::vector<const LeaseRec*> all;
    for (std::uint32_t r = 0; r < recs_.size(); ++r) {
      if (recs_[r].slot != nullptr) all.push_back(&recs_[r]);
    }
    std::sort(all.begin(), all.end(), [](const LeaseRec* a, const LeaseRec* b) {
      if (a->expires_ms != b->expires_ms) return a->expires_ms < b->expires_ms;
      return std::memcmp(a->id.data(), b->id.data(), 32) < 0;
    });
    std::vector<Lease> out;
    for (const LeaseRec* rec : all) {
      if (static_cast<std::int64_t>(out.size()) >= limit) break;
      Lease& l = out.emplace_back();
      l.id.assign(rec->id.data(), 32);
      fill_number(view_of(rec->slot), &l.number);
      l.campaign = rec->campaign;
      l.agent = rec->agent;
      l.destination = rec->destination;
      l.leased_at = from_unix_ms(rec->leased_at_ms);
      l.expires_at = from_unix_ms(rec->expires_ms);
      l.tier = rec->tier;
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
      AreaCodeStats& a = by_npa[s->npa()];
      a.npa = s->npa();
      ++a.numbers;
      a.available += !hourly && !daily && s->active_leases < s->max_concurrent;
    }
    for (const auto& a : by_npa) {
      if (a.numbers > 0) st.area_codes.push_back(a);
    }
    std::unordered_map<std::string, std::int64_t> by_campaign;
    for (std::uint32_t r = 0; r < recs_.size(); ++r) {
      if (recs_[r].slot != nullptr) ++by_campaign[recs_[r].campaign];
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
      const std::uint32_t index = s->index;
      *s = Slot{};
      s->index = index;
      cold_[index] = SlotCold{};
    } else {
      const std::uint32_t index = slots_.grow();
      cold_.grow();
      s = &slots_[index];
      s->index = index;
    }
    s->key = key;
    s->live = true;
    s->hour_window = cur_hour_;
    s->day_window = cur_day_;
    index_.emplace(key, s);
    return s;
  }

  Node& node(Slot* s, std::uint32_t i) { return i == 0 ? s->first : extras_[s->extra][i - 1]; }

  void release_extra(Slot* s) {
    if (s->extra == 0) return;
    extras_[s->extra].reset();
    free_extras_.push_back(s->extra);
    s->extra = 0;
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
    const std::size_t n = campaigns.empty() ? 1 : campaigns.size();
    release_extra(s);
    s->node_count = static_cast<std::uint16_t>(n);
    if (n > 1) {
      if (free_extras_.empty()) {
        s->extra = static_cast<std::uint32_t>(extras_.size());
        extras_.emplace_back();
      } else {
        s->extra = free_extras_.back();
        free_extras_.pop_back();
      }
      extras_[s->extra].reset(new Node[n - 1]);
    }
    for (std::size_t i = 0; i < n; ++i) {
      Node& nd = node(s, static_cast<std::uint32_t>(i));
      nd = Node{};
      nd.slot = s;
      nd.queue = pool(campaigns.empty() ? std::string("*") : campaigns[i])->queue(s->npa());
    }
  }

  // Adds the slot's membership counts and links it if available. Inverse of detach().
  void attach(Slot* s) {
    if (!s->active) return;
    update_capped_flag(s);
    for (std::uint32_t i = 0; i < s->node_count; ++i) {
      Node& n = node(s, i);
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
      Node& n = node(s, i);
      n.queue->members--;
      n.queue->capped -= s->capped;
      Pool* p = n.queue->pool;
      p->members--;
      p->capped -= s->capped;
    }
    s->capped = false;
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
      Node& n = node(s, i);
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
      Node& n = node(s, i);
      if (s->last_used_ms == 0) {
        n.queue->remove_fresh(&n);
        continue;
      }
      Node& head = n.queue->head;
      if (head.next == &n) {
        // Taking the front leaves the new front's prev stale (see Queue::head): writing it would
        // be a cache miss per lease in a large pool, while prefetching it is not.
        head.next = n.next;
        if (n.next == &head) head.prev = &head;
        // The queue's next pick: its node is in its slot's first line, the second line follows.
        prefetch(n.next);
        prefetch(n.next, 64);
      } else {
        n.prev->next = n.next;
        n.next->prev = n.prev;
      }
      n.prev = n.next = nullptr;
    }
    s->queued = false;
  }

  void link_if_available(Slot* s) {
    if (s->queued || !available(s)) return;
    for (std::uint32_t i = 0; i < s->node_count; ++i) {
      Node& n = node(s, i);
      if (s->last_used_ms == 0) {
        n.queue->add_fresh(&n);
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

  static void consider(const Queue* q, Pick* best) {
    Pick c;
    if (q == nullptr || !q->front(&c)) return;
    if (best->slot == nullptr || c.last_used < best->last_used ||
        (c.last_used == best->last_used && c.key < best->key)) {
      *best = c;
    }
  }

  DenialReason deny_reason(const LeaseRequest& req, Pool* const* pools, int npools) const {
    std::int64_t pool_members = 0, scope_members = 0, scope_capped = 0;
    bool any = false;
    for (int p = 0; p < npools; ++p) pool_members += pools[p]->members;
    if (pool_members == 0) return DenialReason::kPoolEmpty;
    // NPAs are below 1000; a bitmap on the stack instead of a hash set keeps a denial free of
    // allocations (a time-zone step alone names a hundred NPAs).
    std::bitset<1000> seen;
    for (const LadderStep& step : *req.ladder) {
      if (step.tier == Tier::kAny && step.npas.empty()) {
        any = true;
        break;
      }
      for (std::uint16_t npa : step.npas) {
        if (npa >= seen.size() || seen.test(npa)) continue;
        seen.set(npa);
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

  std::uint32_t new_record() {
    if (free_recs_.empty()) return recs_.grow();
    // The most recently freed record: its lines are likely still cached.
    const std::uint32_t r = free_recs_.back();
    free_recs_.pop_back();
    return r;
  }

  // Removes a lease from the index and its expiry list and frees its record; the caller ends it
  // on the number (or drops the number).
  void drop_lease(std::uint32_t r) {
    LeaseRec& rec = recs_[r];
    lease_index_.erase(LeaseIndex::hash(rec.id.data()), r);
    expiry_remove(r);
    rec.slot = nullptr;
    free_recs_.push_back(r);
  }

  std::int64_t expire_locked(std::int64_t now_ms) {
    std::int64_t n = 0;
    while (!expiry_heap_.empty()) {
      const ExpiryList& list = lists_[expiry_heap_[0]];
      if (list.head_expires > now_ms) break;
      const std::uint32_t r = list.head;
      Slot* s = recs_[r].slot;
      drop_lease(r);
      end_lease(s);
      ++n;
    }
    return n;
  }

  std::uint32_t expiry_list(std::int64_t ttl_ms) {
    if (last_list_ != kNone && lists_[last_list_].ttl_ms == ttl_ms) return last_list_;
    auto [it, fresh] = list_by_ttl_.try_emplace(ttl_ms, static_cast<std::uint32_t>(lists_.size()));
    if (fresh) lists_.push_back(ExpiryList{ttl_ms});
    return last_list_ = it->second;
  }

  void expiry_insert(std::uint32_t r) {
    LeaseRec& rec = recs_[r];
    ExpiryList& list = lists_[rec.list];
    std::uint32_t after = list.tail;
    while (after != kNone && recs_[after].expires_ms > rec.expires_ms) after = recs_[after].prev;
    rec.prev = after;
    rec.next = after == kNone ? list.head : recs_[after].next;
    if (rec.next != kNone) {
      recs_[rec.next].prev = r;
    } else {
      list.tail = r;
    }
    if (after != kNone) {
      recs_[after].next = r;
      return;
    }
    list.head = r;
    list.head_expires = rec.expires_ms;
    if (list.heap_pos == SIZE_MAX) {
      list.heap_pos = expiry_heap_.size();
      expiry_heap_.push_back(rec.list);
    }
    heap_up(list.heap_pos);
  }

  void expiry_remove(std::uint32_t r) {
    const LeaseRec& rec = recs_[r];
    ExpiryList& list = lists_[rec.list];
    if (rec.next != kNone) {
      recs_[rec.next].prev = rec.prev;
    } else {
      list.tail = rec.prev;
    }
    if (rec.prev != kNone) {
      recs_[rec.prev].next = rec.next;
      return;
    }
    list.head = rec.next;
    if (list.head != kNone) {
      list.head_expires = recs_[list.head].expires_ms;
      heap_down(list.heap_pos);
      return;
    }
    const std::size_t pos = list.heap_pos;
    list.heap_pos = SIZE_MAX;
    const std::uint32_t last = expiry_heap_.back();
    expiry_heap_.pop_back();
    if (pos < expiry_heap_.size()) {
      expiry_heap_[pos] = last;
      lists_[last].heap_pos = pos;
      heap_up(pos);
      heap_down(lists_[last].heap_pos);
    }
  }

  bool heap_less(std::size_t a, std::size_t b) const {
    return lists_[expiry_heap_[a]].head_expires < lists_[expiry_heap_[b]].head_expires;
  }

  void heap_swap(std::size_t a, std::size_t b) {
    std::swap(expiry_heap_[a], expiry_heap_[b]);
    lists_[expiry_heap_[a]].heap_pos = a;
    lists_[expiry_heap_[b]].heap_pos = b;
  }

  void heap_up(std::size_t i) {
    while (i > 0 && heap_less(i, (i - 1) / 2)) {
      heap_swap(i, (i - 1) / 2);
      i = (i - 1) / 2;
    }
  }

  void heap_down(std::size_t i) {
    for (;;) {
      std::size_t least = i;
      for (std::size_t c = 2 * i + 1; c <= 2 * i + 2 && c < expiry_heap_.size(); ++c) {
        if (heap_less(c, least)) least = c;
      }
      if (least == i) return;
      heap_swap(i, least);
      i = least;
    }
  }

  NumberView view_of(const Slot* s) const {
    return NumberView{s->key,         &profiles_.get(s->profile), s->hourly_limit,
                      s->daily_limit, s->max_concurrent,          s->active};
  }

  NumberState state_of(Slot* s, const Windows& w) const {
    NumberState st;
    fill_number(view_of(s), &st.number);
    st.last_used = from_unix_ms(s->last_used_ms);
    st.total_uses = s->total_uses;
    st.hour_count = count_in(s->hour_window, s->hour_count, w.hour_start);
    st.day_count = count_in(s->day_window, s->day_count, w.day_start);
    st.active_leases = s->active_leases;
    const SlotCold& c = cold_[s->index];
    st.last_disposition = dispositions_.get(c.disposition);
    st.last_duration_s = c.last_duration_s;
    return st;
  }

  std::mutex mu_;
  ProfileTable profiles_;
  Interner dispositions_;
  ChunkedArray<Slot> slots_;
  ChunkedArray<SlotCold> cold_;
  std::vector<Slot*> free_;
  std::vector<std::unique_ptr<Node[]>> extras_;  // nodes of pools 2..n, by Slot::extra
  std::vector<std::uint32_t> free_extras_;
  std::unordered_map<std::uint64_t, Slot*> index_;
  std::unordered_map<std::string, std::unique_ptr<Pool>> pools_;
  Pool* all_pool_ = nullptr;  // pools_["*"]: numbers serving every campaign
  ChunkedArray<LeaseRec> recs_;
  std::vector<std::uint32_t> free_recs_;
  LeaseIndex lease_index_;
  std::vector<ExpiryList> lists_;
  std::unordered_map<std::int64_t, std::uint32_t> list_by_ttl_;
  std::uint32_t last_list_ = kNone;         // the list of the last lease's TTL
  std::vector<std::uint32_t> expiry_heap_;  // non-empty lists, soonest head_expires first
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
