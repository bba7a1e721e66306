// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
//
// The SQLite store. Design notes (docs/storage-sqlite.md has the user-facing side):
// - Every write of this process goes through group commit (group_commit.h): the caller that finds
//   no batch running runs every queued request in one BEGIN IMMEDIATE..COMMIT. Other processes
//   serialise with it through SQLite's write lock, so a pick and its lease are atomic across
//   processes too.
// - Reads (get/list/stats/list_leases) use a small pool of reader connections; WAL lets them run
//   beside the writer.
// - Selection never scans and never reads the file: the writer keeps the selection order in
//   memory (pick_index.h), each number filed under (campaign, npa, state, last_used, caller_id)
//   with its state (available/reserved/capped/inactive) evaluated in the windows stored in meta.
//   A pick is one tree probe per (campaign, NPA) of the ladder; the same probes tell the denial
//   reason. A lease then writes one numbers row and inserts one lease row. Window roll-over
//   re-admits only the capped numbers (partial indexes on the cap windows); expired leases are
//   found in the writer's memory too (LeaseRegistry), which knows every lease row of the file.
// - The file stays the truth and other processes may write it too: every transaction that
//   changes a number's selection key appends the ids it changed to the changes table, and a
//   writer that finds (PRAGMA data_version) that another connection committed since its own last
//   transaction re-reads the numbers listed since the last change it has seen, all inside its
//   BEGIN IMMEDIATE, before it picks. A change it cannot follow (pruned, or too large to list)
//   makes it reload the whole index.
// - Windows only move forward (as in the memory store): a lease counts in the newest windows any
//   process has seen, so one process's slightly older clock never resets another's counters.

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <sqlite3.h>

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#ifdef __linux__
#include <pthread.h>
#endif

#include "backends.h"
#include "cidrot/error.h"
#include "cidrot/store.h"
#include "group_commit.h"
#include "lease_result.h"
#include "pick_index.h"
#include "sqlite_db.h"

namespace cidrot::storage {
namespace sqlite {
namespace {

enum PoolState : int { kAvailable = 0, kReserved = 1, kCapped = 2, kInactive = 3 };

// All campaign names are 1..64 bytes of [A-Za-z0-9_.-], so '' can stand for "every campaign"
// and ',' can join a list.
constexpr const char* kEveryCampaign = "";

std::string join_campaigns(const std::vector<std::string>& campaigns) {
  std::string s;
  for (const auto& c : campaigns) s += (s.empty() ? "" : ",") + c;
  return s;
}

std::vector<std::string> split_campaigns(const std::string& s) {
  std::vector<std::string> out;
  for (std::size_t pos = 0; pos < s.size();) {
    std::size_t comma = s.find(',', pos);
    if (comma == std::string::npos) comma = s.size();
    out.push_back(s.substr(pos, comma - pos));
    pos = comma + 1;
  }
  return out;
}

// The columns read_row() expects, in order, for a numbers row aliased n.
// The columns read_row() expects, in order, for a numbers row aliased n.
constexpr const char* kNumberColumns =
    "n.id, n.caller_id, n.area_code, n.npa, n.carrier, n.campaigns, n.hourly_limit, "
    "n.daily_limit, n.max_concurrent, n.active, n.meta_json, n.last_used, n.total_uses, "
    "n.hour_start, n.hour_count, n.day_start, n.day_count, n.last_disposition, n.last_duration_s, "
    "n.live_leases, n.pick_state";
constexpr int kNumberColumnCount = 21;

struct Row {
  std::int64_t id = 0;
  Number number;
  std::int64_t npa = 0;
  std::int64_t last_used = 0, total_uses = 0;
  std::int64_t hour_start = 0, hour_count = 0, day_start = 0, day_count = 0;
  std::string last_disposition;
  std::int64_t last_duration_s = -1;
  std::int64_t live_leases = 0;  // lease rows of the number, expired ones until they are dropped
  int pick_state = kInactive;    // the state its pick rows are filed under

  std::int64_t hour_in(std::int64_t window) const { return hour_start == window ? hour_count : 0; }
  std::int64_t day_in(std::int64_t window) const { return day_start == window ? day_count : 0; }
  bool capped_in(std::int64_t hour, std::int64_t day) const {
    const std::int64_t hl = number.hourly_limit.value_or(0), dl = number.daily_limit.value_or(0);
    return (hl > 0 && hour_in(hour) >= hl) || (dl > 0 && day_in(day) >= dl);
  }
  int state(std::int64_t hour, std::int64_t day, std::int64_t leases) const {
    if (!number.active) return kInactive;
    if (capped_in(hour, day)) return kCapped;
    return leases >= number.max_concurrent ? kReserved : kAvailable;
  }
  NumberState to_state(const Windows& w, std::int64_t live_leases_now) const {
    NumberState st;
    st.number = number;
    st.last_used = from_unix_ms(last_used);
    st.total_uses = total_uses;
    st.hour_count = hour_in(w.hour_start);
    st.day_count = day_in(w.day_start);
    st.active_leases = static_cast<std::int32_t>(live_leases_now);
    st.last_disposition = last_disposition;
    st.last_duration_s = last_duration_s;
    return st;
  }
};

Row read_row(SQLite::Statement& q, int c = 0) {
  Row r;
  r.id = q.getColumn(c + 0).getInt64();
  r.number.caller_id = q.getColumn(c + 1).getString();
  r.number.area_code = q.getColumn(c + 2).getString();
  r.npa = q.getColumn(c + 3).getInt64();
  r.number.carrier = q.getColumn(c + 4).getString();
  r.number.campaigns = split_campaigns(q.getColumn(c + 5).getString());
  r.number.hourly_limit = q.getColumn(c + 6).getInt64();
  r.number.daily_limit = q.getColumn(c + 7).getInt64();
  r.number.max_concurrent = q.getColumn(c + 8).getInt();
  r.number.active = q.getColumn(c + 9).getInt() != 0;
  r.number.meta_json = q.getColumn(c + 10).getString();
  r.last_used = q.getColumn(c + 11).getInt64();
  r.total_uses = q.getColumn(c + 12).getInt64();
  r.hour_start = q.getColumn(c + 13).getInt64();
  r.hour_count = q.getColumn(c + 14).getInt64();
  r.day_start = q.getColumn(c + 15).getInt64();
  r.day_count = q.getColumn(c + 16).getInt64();
  r.last_disposition = q.getColumn(c + 17).getString();
  r.last_duration_s = q.getColumn(c + 18).getInt64();
  r.live_leases = q.getColumn(c + 19).getInt64();
  r.pick_state = q.getColumn(c + 20).getInt();
  return r;
}

// The campaign keys a number's pick rows are filed under: '' when it serves every campaign.
std::vector<std::string> pick_campaigns(const Number& n) {
  if (n.campaigns.empty()) return {kEveryCampaign};
  std::vector<std::string> out = n.campaigns;
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// Resets a cached statement on scope exit, so a throw never leaves it mid-step.
class Use {
 public:
  explicit Use(SQLite::Statement& s) : s_(s) {}
  ~Use() { s_.tryReset(); }
  SQLite::Statement* operator->() { return &s_; }
  SQLite::Statement& operator*() { return s_; }

 private:
  SQLite::Statement& s_;
};

// The writer's map of the lease rows in the file: by lease id (for release), by number (for
// release by caller-ID) and by expiry (the file has no expiry index: each lease would write a
// page of it). Rows other connections added are learnt by seq; rows they deleted are found
// missing when their number is re-read (verify_leases) or when a delete finds nothing.
struct LeaseRegistry {
  struct Ref {
    std::int64_t seq;
    std::int64_t number_id;
  };
  // A lease of a number: its seq and id (the key of its by_id entry, whose address is stable).
  struct Held {
    std::int64_t seq;
    const std::string* id;
  };
  using Seqs = std::vector<std::pair<std::int64_t, std::string>>;  // (seq, lease id)
  // A lease row that expires at `expires` (unix ms). Entries of forgotten rows stay in the heap
  // until they come up (or the heap is rebuilt): checking at pop time is cheaper than a
  // structure that supports removal, and a lease is mostly released well before it expires.
  struct Due {
    std::int64_t expires;
    std::int64_t seq;
    std::int64_t number_id;
    bool operator>(const Due& o) const { return expires > o.expires; }
  };
  std::unordered_map<std::string, Ref> by_id;
  // A number mostly holds a few leases at once, so a vector searched linearly (newest first)
  // beats a tree per number; a number with k live leases costs up to O(k) per release.
  std::unordered_map<std::int64_t, std::vector<Held>> by_number;
  std::vector<Due> due;  // a min-heap by expires

  // known_new: the id cannot be in the registry (a fresh id), so no stale entry is looked for.
  void add(std::int64_t seq, const std::string& id, std::int64_t number_id, std::int64_t expires,
           bool known_new = false) {
    if (!known_new) erase(id);
    auto it = by_id.emplace(id, Ref{seq, number_id}).first;
    by_number[number_id].push_back(Held{seq, &it->first});
    if (due.size() >= 2 * by_id.size() + 1024) rebuild_due();
    due.push_back(Due{expires, seq, number_id});
    std::push_heap(due.begin(), due.end(), std::greater<Due>());
  }
  // The earliest expiry of a known row (a lower bound: the row may be gone); max() if none.
  std::int64_t next_expiry() const {
    return due.empty() ? std::numeric_limits<std::int64_t>::max() : due.front().expires;
  }
  // Removes and returns the earliest entry if it expires at or before `now` and its row is still
  // known, with the row's id; entries of forgotten rows are dropped on the way.
  bool pop_due(std::int64_t now, Due* out, std::string* id) {
    while (!due.empty() && due.front().expires <= now) {
      std::pop_heap(due.begin(), due.end(), std::greater<Due>());
      const Due d = due.back();
      due.pop_back();
      if (const Held* h = find(d.number_id, d.seq)) {
        *out = d;
        *id = *h->id;
        return true;
      }
    }
    return false;
  }
  // `id` must not refer to a key of by_id (it is destroyed on the way).
  void erase(const std::string& id) {
    auto it = by_id.find(id);
    if (it == by_id.end()) return;
    auto n = by_number.find(it->second.number_id);
    if (n != by_number.end()) {
      // Newest first: a release mostly ends one of the number's latest leases.
      std::vector<Held>& held = n->second;
      for (auto h = held.rbegin(); h != held.rend(); ++h) {
        if (h->seq == it->second.seq) {
          *h = held.back();
          held.pop_back();
          break;
        }
      }
      if (held.empty()) by_number.erase(n);
    }
    by_id.erase(it);
  }
  void erase_number(std::int64_t number_id) {
    auto n = by_number.find(number_id);
    if (n == by_number.end()) return;
    for (const Held& h : n->second) {
      if (auto it = by_id.find(*h.id); it != by_id.end()) by_id.erase(it);
    }
    by_number.erase(n);
  }
  // A copy: callers erase while they walk it.
  Seqs of(std::int64_t number_id) const {
    Seqs out;
    auto n = by_number.find(number_id);
    if (n == by_number.end()) return out;
    for (const Held& h : n->second) out.emplace_back(h.seq, *h.id);
    return out;
  }
  void clear() {
    by_id.clear();
    by_number.clear();
    due.clear();
  }

 private:
  const Held* find(std::int64_t number_id, std::int64_t seq) const {
    auto n = by_number.find(number_id);
    if (n == by_number.end()) return nullptr;
    for (auto h = n->second.rbegin(); h != n->second.rend(); ++h) {
      if (h->seq == seq) return &*h;
    }
    return nullptr;
  }
  // Drops the entries of forgotten rows. The expiry of a known row is kept in its heap entry
  // only, so the surviving entries are filtered rather than rebuilt from the maps.
  void rebuild_due() {
    std::vector<Due> live;
    live.reserve(by_id.size());
    for (const Due& d : due) {
      if (find(d.number_id, d.seq)) live.push_back(d);
    }
    due = std::move(live);
    std::make_heap(due.begin(), due.end(), std::greater<Due>());
  }
};

// The writer connection with its prepared statements. Used by the batch leader only.
//
// Invariant kept by every write below: each number is filed in index_ under each campaign key as
// (campaign, npa, numbers.pick_state, numbers.last_used, caller_id), and numbers.live_leases is
// the number of its rows in leases. A lease therefore costs: the in-memory probes, one UPDATE of
// the number row (then a read of it by id) and one INSERT into leases.
class Writer final : public BatchTarget {
 public:
  Writer(const Options& opts)
      : opts_(opts),
        db_(connect(opts)),
        begin_(*db_, "BEGIN IMMEDIATE"),
        commit_(*db_, "COMMIT"),
        data_version_q_(*db_, "PRAGMA data_version"),
        changes_since_(*db_, "SELECT gen, ids, lease_seq FROM changes WHERE gen > ?1 ORDER BY gen"),
        newest_change_(*db_, "SELECT gen, lease_seq FROM changes ORDER BY gen DESC LIMIT 1"),
        log_change_(*db_, "INSERT INTO changes (ids, lease_seq) VALUES (?1, ?2)"),
        prune_changes_(*db_, "DELETE FROM changes WHERE gen <= ?1"),
        load_all_(*db_, "SELECT id, caller_id, npa, campaigns, pick_state, last_used FROM numbers"),
        meta_get_(*db_, "SELECT key, value FROM meta WHERE key IN ('hour_start', 'day_start')"),
        meta_set_(*db_, "UPDATE meta SET value = ?2 WHERE key = ?1"),
        capped_old_(*db_,
                    "SELECT id FROM numbers WHERE hourly_limit > 0 AND hour_count >= hourly_limit"
                    " AND hour_start < ?1 UNION "
                    "SELECT id FROM numbers WHERE daily_limit > 0 AND day_count >= daily_limit"
                    " AND day_start < ?2"),
        row_(*db_, std::string("SELECT ") + kNumberColumns + " FROM numbers n WHERE n.id = ?1"),
        row_by_cid_(*db_, std::string("SELECT ") + kNumberColumns +
                              " FROM numbers n WHERE n.caller_id = ?1"),
        // SET expressions all see the old row, so the new counts are spelt out in pick_state.
        use_number_(*db_,
                    "UPDATE numbers SET last_used = max(last_used, ?2),"
                    " total_uses = total_uses + 1,"
                    " hour_count = CASE WHEN hour_start = ?3 THEN hour_count + 1 ELSE 1 END,"
                    " hour_start = ?3,"
                    " day_count = CASE WHEN day_start = ?4 THEN day_count + 1 ELSE 1 END,"
                    " day_start = ?4,"
                    " live_leases = live_leases + 1,"
                    " pick_state = CASE WHEN active = 0 THEN 3"
                    "  WHEN (hourly_limit > 0 AND"
                    "   (CASE WHEN hour_start = ?3 THEN hour_count + 1 ELSE 1 END) >= hourly_limit)"
                    "   OR (daily_limit > 0 AND"
                    "   (CASE WHEN day_start = ?4 THEN day_count + 1 ELSE 1 END) >= daily_limit)"
                    "  THEN 2 WHEN live_leases + 1 >= max_concurrent THEN 1 ELSE 0 END"
                    " WHERE id = ?1"),
        // One statement per release or expiry: the new state is Row::state() spelt in SQL.
        adjust_leases_(
            *db_,
            "UPDATE numbers SET live_leases = live_leases + ?2,"
            " pick_state = CASE WHEN active = 0 THEN 3"
            "  WHEN (hourly_limit > 0 AND hour_start = ?3 AND hour_count >= hourly_limit)"
            "   OR (daily_limit > 0 AND day_start = ?4 AND day_count >= daily_limit)"
            "  THEN 2 WHEN live_leases + ?2 >= max_concurrent THEN 1 ELSE 0 END"
            " WHERE id = ?1"),
        pick_fields_(*db_, "SELECT pick_state, last_used, caller_id FROM numbers WHERE id = ?1"),
        set_pick_state_(*db_, "UPDATE numbers SET pick_state = ?2 WHERE id = ?1"),
        insert_lease_(*db_,
                      "INSERT INTO leases (id, number_id, campaign, agent, destination, leased_at,"
                      " expires_at, tier, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
        lease_exists_(*db_, "SELECT 1 FROM leases WHERE seq = ?1 AND id = ?2"),
        leases_after_(*db_,
                      "SELECT seq, id, number_id, expires_at FROM leases WHERE seq > ?1"
                      " ORDER BY seq"),
        delete_lease_(*db_, "DELETE FROM leases WHERE seq = ?1 AND id = ?2"),
        delete_leases_of_(*db_, "DELETE FROM leases WHERE number_id = ?1"),
        outcome_(*db_,
                 "UPDATE numbers SET last_disposition = ?2, last_duration_s = ?3 WHERE id = ?1"),
        insert_number_(*db_,
                       "INSERT INTO numbers (caller_id, area_code, npa, carrier, campaigns,"
                       " hourly_limit, daily_limit, max_concurrent, active, meta_json,"
                       " hour_start, day_start, pick_state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,"
                       " ?8, ?9, ?10, ?11, ?12, ?13) ON CONFLICT (caller_id) DO NOTHING"),
        update_number_(*db_,
                       "UPDATE numbers SET area_code = ?2, npa = ?3, carrier = ?4, campaigns = ?5,"
                       " hourly_limit = ?6, daily_limit = ?7, max_concurrent = ?8, active = ?9,"
                       " meta_json = ?10, pick_state = ?11 WHERE id = ?1"),
        set_active_(*db_, "UPDATE numbers SET active = ?2, pick_state = ?3 WHERE id = ?1"),
        delete_number_(*db_, "DELETE FROM numbers WHERE id = ?1"),
        empty_(*db_, "SELECT NOT EXISTS (SELECT 1 FROM numbers)") {
    // A lease dirties several pages and a checkpoint fsyncs the WAL and the file, which stalls
    // the batch that runs it; at SQLite's default (every 1000 pages, in the committing
    // connection) that stall came every ~100 leases and cost more than the leases. Instead a
    // background connection (Checkpointer) copies the WAL back from kBackgroundCheckpointPages
    // on, off the callers' path, and the writer itself checkpoints only at kWriterCheckpointPages
    // (when it finds little left to copy): a background PASSIVE checkpoint alone never catches up
    // under continuous writes, so the WAL would never restart and would grow without bound.
    // The background runs once per kBackgroundCheckpointPages of growth, not after every commit:
    // each run pays two fdatasyncs and copies a page once however many commits changed it, so
    // runs that chased the writer commit by commit (~250 a second at 35k leases/s, a few commits'
    // pages each) cost twice the CPU. Only in the last kChasePages before the writer's own
    // checkpoint does it chase, so that the writer is left little to copy.
    sqlite3_wal_hook(db_->getHandle(), &Writer::wal_hook, this);
    // Large imports run in one transaction; a page cache that holds them avoids spilling dirty
    // pages to the WAL mid-transaction and reading them back.
    db_->exec("PRAGMA cache_size=-32768");
  }

  static constexpr std::size_t kBulkImport = 10000;
  static constexpr int kBackgroundCheckpointPages = 2000;
  static constexpr int kWriterCheckpointPages = 10000;
  static constexpr int kChasePages = 2000;

  // Called by the background checkpointer's owner: fn() is run when the WAL has grown past
  // kBackgroundCheckpointPages, then once per kBackgroundCheckpointPages of growth, then after
  // every commit in the last kChasePages before kWriterCheckpointPages (in the committing
  // thread; it must only signal).
  void on_wal_growth(std::function<void()> fn) { wal_growth_ = std::move(fn); }

  // --- BatchTarget --------------------------------------------------------------------------
  void begin() override {
    Use(begin_)->exec();
    std::int64_t version;
    {
      Use q(data_version_q_);
      q->executeStep();
      version = q->getColumn(0).getInt64();
    }
    touched_.clear();
    if (!loaded_) {
      read_meta();
      load_index();
    } else if (version != data_version_ || stale_) {
      // Another connection committed (or our last transaction was rolled back): it may have
      // moved the windows, added leases or changed numbers since our last batch.
      read_meta();
      catch_up();
      for (std::int64_t id : dirty_) resync(id);
      dirty_.clear();
    }
    if (reload_leases_ && loaded_) {
      // The last transaction forgot lease rows it had deleted, then rolled back: the rows are
      // back, so learn the (small) live lease table again.
      leases_.clear();
      max_seq_ = 0;
      read_new_leases();
    }
    reload_leases_ = false;
    leases_erased_ = false;
    data_version_ = version;
    stale_ = false;
    begin_max_seq_ = max_seq_;
    // Never below a row we know of (a file whose changes log lost its entries).
    lease_seq_ = std::max(lease_seq_, max_seq_);
    begin_lease_seq_ = lease_seq_;
  }
  void commit() override {
    std::int64_t gen = seen_gen_;
    if (!touched_.empty() || lease_seq_ != begin_lease_seq_) {
      std::sort(touched_.begin(), touched_.end());
      touched_.erase(std::unique(touched_.begin(), touched_.end()), touched_.end());
      Use q(log_change_);
      static const char kNone = 0;  // a zero-length blob needs a non-null pointer (NULL: reload)
      if (touched_.size() <= kMaxListedChanges) {
        q->bind(1, touched_.empty() ? static_cast<const void*>(&kNone) : touched_.data(),
                static_cast<int>(touched_.size() * sizeof(std::int64_t)));
      } else {
        q->bind(1);  // NULL: "reload everything"
      }
      q->bind(2, lease_seq_);
      q->exec();
      gen = db_->getLastInsertRowid();
      if (gen % kPruneEvery == 0) {
        Use p(prune_changes_);
        p->bind(1, gen - kKeptChanges);
        p->exec();
      }
    }
    Use(commit_)->exec();
    seen_gen_ = gen;
    touched_.clear();
    leases_erased_ = false;
  }
  void rollback() noexcept override {
    if (in_transaction()) sqlite3_exec(db_->getHandle(), "ROLLBACK", nullptr, nullptr, nullptr);
    // The index and the cached windows may hold changes the file no longer has: the next
    // transaction re-reads them.
    stale_ = true;
    rows_.clear();  // it may hold rows as the rolled-back statements left them
    max_seq_ = begin_max_seq_;
    if (leases_erased_) reload_leases_ = true;
    try {
      dirty_.insert(dirty_.end(), touched_.begin(), touched_.end());
    } catch (...) {
      loaded_ = false;
    }
    touched_.clear();
    if (dirty_.size() > kMaxListedChanges) loaded_ = false;
  }
  bool in_transaction() noexcept { return sqlite3_get_autocommit(db_->getHandle()) == 0; }
  std::exception_ptr translate(std::exception_ptr e) noexcept override {
    try {
      std::rethrow_exception(e);
    } catch (const SQLite::Exception& s) {
      return std::make_exception_ptr(map_error(s, opts_.path, "write"));
    } catch (const Error&) {
      return std::current_exception();
    } catch (const std::exception& other) {
      return std::make_exception_ptr(
          Error(ErrorCode::kInternal, std::string("sqlite: write failed: ") + other.what()));
    } catch (...) {
      return std::current_exception();
    }
  }

  // --- operations (inside a batch's transaction) --------------------------------------------
  LeaseResult lease(const LeaseRequest& req) {
    const std::int64_t now = to_unix_ms(req.windows.now);
    if (now >= leases_.next_expiry()) drop_expired(now);
    // A fresh id (LeaseRequest::lease_id_fresh) cannot be in use; the registry's lookup is a
    // cache miss or two per lease once it holds many leases.
    if (!req.lease_id_fresh) {
      if (auto it = leases_.by_id.find(req.lease_id);
          it != leases_.by_id.end() && lease_row_exists(it->second.seq, req.lease_id)) {
        throw Error(ErrorCode::kConflict, "lease_id: already in use", "lease_id");
      }
    }
    advance_windows(req.windows);

    LeaseResult result;
    const std::string* campaigns[2] = {&req.campaign, &every_campaign_};
    Probe best;
    Tier tier = Tier::kAny;
    int min_state = kInactive + 1;  // over the scope S of the whole ladder, for the denial
    bool has_any = false;
    std::size_t npa_probes = 0;
    for (const LadderStep& s : *req.ladder) {
      has_any = has_any || (s.tier == Tier::kAny && s.npas.empty());
      npa_probes += s.npas.size();
    }
    // With an "any NPA" step the scope is the whole pool: two probes tell whether anything at all
    // is available, so an exhausted pool is denied without walking a long ladder. A short ladder
    // is cheaper to walk than to pre-check.
    if (has_any && npa_probes > 2) {
      Probe anywhere;
      for (const std::string* c : campaigns) probe(*c, -1, &anywhere, &min_state);
      if (!anywhere.found) {
        result.denial = min_state >= kInactive ? DenialReason::kPoolEmpty
                        : min_state == kCapped ? DenialReason::kAllLimited
                                               : DenialReason::kAllReserved;
        return result;
      }
    }
    bool probed_any = false;
    for (const LadderStep& step : *req.ladder) {
      Probe step_best;
      if (step.tier == Tier::kAny && step.npas.empty()) {
        probed_any = true;
        for (const std::string* c : campaigns) probe(*c, -1, &step_best, &min_state);
      } else {
        for (std::uint16_t npa : step.npas) {
          for (const std::string* c : campaigns) probe(*c, npa, &step_best, &min_state);
        }
      }
      if (step_best.found) {
        best = step_best;
        tier = step.tier;
        break;
      }
    }
    if (!best.found) {
      // An "any" step already probed the whole pool: its lowest state is the pool's.
      if (probed_any) {
        result.denial = min_state >= kInactive ? DenialReason::kPoolEmpty
                        : min_state == kCapped ? DenialReason::kAllLimited
                                               : DenialReason::kAllReserved;
      } else {
        result.denial = deny_reason(min_state, campaigns);
      }
      return result;
    }

    {
      Use q(use_number_);
      q->bind(1, best.number_id);
      q->bind(2, now);
      q->bind(3, hour_);
      q->bind(4, day_);
      if (q->exec() != 1) throw missing_number(best.number_id);
    }
    // The row as the UPDATE left it: from the cache, with the UPDATE applied in C++, or read back
    // by id (a RETURNING clause would collect its row in an ephemeral table, built and torn down
    // per statement, which costs more than the second lookup of a page the UPDATE has just
    // cached).
    Row fetched;
    Row* cached = cached_row(best.number_id);
    if (cached) {
      apply_use(cached, now);
    } else {
      fetched = load(best.number_id);
      remember(fetched);
    }
    Row& row = cached ? *cached : fetched;
    move_pick(row, row.pick_state, row.last_used);
    const std::int64_t expires = now + req.ttl.count();
    const std::int64_t seq = ++lease_seq_;
    {
      // The strings outlive the statement's run: bound without SQLite's private copies.
      Use q(insert_lease_);
      q->bindNoCopy(1, req.lease_id);
      q->bind(2, row.id);
      q->bindNoCopy(3, req.campaign);
      q->bindNoCopy(4, req.agent);
      q->bindNoCopy(5, req.destination);
      q->bind(6, now);
      q->bind(7, expires);
      q->bindNoCopy(8, tier_name(tier));
      q->bind(9, seq);
      q->exec();
    }
    leases_.add(seq, req.lease_id, row.id, expires, /*known_new=*/req.lease_id_fresh);
    max_seq_ = std::max(max_seq_, seq);
    Lease& granted = detail::grant(&result, req, from_unix_ms(now), from_unix_ms(expires), tier);
    if (cached) {
      granted.number = row.number;
    } else {
      granted.number = std::move(row.number);
    }
    return result;
  }

  std::int64_t release(const ReleaseRequest& req) {
    const std::int64_t now = to_unix_ms(req.now);
    if (now >= leases_.next_expiry()) drop_expired(now);
    std::int64_t number_id = 0, ended = 0;
    if (!req.lease_id.empty()) {
      if (!is_lease_id(req.lease_id)) return 0;
      auto it = leases_.by_id.find(req.lease_id);
      if (it == leases_.by_id.end()) return 0;
      number_id = it->second.number_id;
      ended = delete_lease(it->second.seq, req.lease_id);
    } else {
      std::optional<Row> row = find(req.caller_id);
      if (!row) return 0;
      number_id = row->id;
      for (const auto& [seq, id] : leases_.of(number_id)) ended += delete_lease(seq, id);
    }
    if (ended == 0) return 0;
    if (!req.outcome.disposition.empty()) {
      Use q(outcome_);
      q->bind(1, number_id);
      q->bind(2, req.outcome.disposition);
      q->bind(3, req.outcome.duration_s);
      q->exec();
      if (Row* r = cached_row(number_id)) {
        r->last_disposition = req.outcome.disposition;
        r->last_duration_s = req.outcome.duration_s;
      }
    }
    adjust_leases(number_id, -ended);
    return ended;
  }

  std::int64_t expire(TimePoint now) { return drop_expired(to_unix_ms(now)); }

  UpsertResult upsert(const std::vector<Number>& numbers) {
    UpsertResult r;
    // A large import into an empty store builds the "any NPA" pick index and the npa index once,
    // sorted, after the rows are in, instead of entry by entry. DDL is transactional: a failed
    // batch rolls the indexes back with the rows.
    const bool bulk = numbers.size() >= kBulkImport && store_empty();
    if (bulk) db_->exec("DROP INDEX numbers_npa");
    for (const Number& given : numbers) {
      Row next;
      next.number = given;
      if (next.number.area_code.empty()) next.number.area_code = given.caller_id.substr(0, 3);
      next.npa = std::stoll(next.number.area_code);
      const std::string campaigns = join_campaigns(given.campaigns);
      // Binds the configuration columns, ?2..?10 in both statements.
      auto bind_config = [&](Use& u) {
        u->bind(2, next.number.area_code);
        u->bind(3, next.npa);
        u->bind(4, given.carrier);
        u->bind(5, campaigns);
        u->bind(6, given.hourly_limit.value_or(0));
        u->bind(7, given.daily_limit.value_or(0));
        u->bind(8, given.max_concurrent);
        u->bind(9, given.active ? 1 : 0);
        u->bind(10, given.meta_json);
      };
      // Insert first: an import of new numbers then costs one statement per number, and only a
      // number that exists is read back and updated.
      next.pick_state = next.state(hour_, day_, 0);
      bool inserted;
      {
        Use u(insert_number_);
        u->bind(1, given.caller_id);
        bind_config(u);
        u->bind(11, hour_);
        u->bind(12, day_);
        u->bind(13, next.pick_state);
        inserted = u->exec() == 1;
      }
      if (inserted) {
        ++r.inserted;
        next.id = db_->getLastInsertRowid();
      } else {
        std::optional<Row> old = find(given.caller_id);
        if (!old) throw Error(ErrorCode::kInternal, "sqlite: upsert of " + given.caller_id);
        next.id = old->id;
        next.last_used = old->last_used;
        next.hour_start = old->hour_start;
        next.hour_count = old->hour_count;
        next.day_start = old->day_start;
        next.day_count = old->day_count;
        next.live_leases = old->live_leases;
        next.pick_state = next.state(hour_, day_, next.live_leases);
        Use u(update_number_);
        u->bind(1, old->id);
        bind_config(u);
        u->bind(11, next.pick_state);
        u->exec();
        ++r.updated;
      }
      forget_row(next.id);
      file_pick(next);
    }
    // The same definitions as the newest schema's (sqlite_db.cpp; the bulk-import test compares).
    if (bulk) {
      db_->exec("CREATE INDEX numbers_npa ON numbers (npa)");
    }
    return r;
  }

  bool set_active(const std::string& caller_id, bool active) {
    std::optional<Row> row = find(caller_id);
    if (!row) return false;
    row->number.active = active;
    row->pick_state = row->state(hour_, day_, row->live_leases);
    Use q(set_active_);
    q->bind(1, row->id);
    q->bind(2, active ? 1 : 0);
    q->bind(3, row->pick_state);
    q->exec();
    forget_row(row->id);
    move_pick(*row, row->pick_state, row->last_used);
    return true;
  }

  bool remove(const std::string& caller_id) {
    std::optional<Row> row = find(caller_id);
    if (!row) return false;
    unfile_pick(row->id);
    forget_row(row->id);
    leases_.erase_number(row->id);
    leases_erased_ = true;
    for (SQLite::Statement* s : {&delete_leases_of_, &delete_number_}) {
      Use q(*s);
      q->bind(1, row->id);
      q->exec();
    }
    return true;
  }

 private:
  struct Probe {
    bool found = false;
    std::int64_t last_used = 0;
    std::string caller_id;
    std::int64_t number_id = 0;
  };

  // One index probe: the first entry of (campaign, npa) (npa < 0: any NPA). Keeps the LRU
  // available number in `best` and the lowest state seen in `min_state`.
  void probe(const std::string& campaign, int npa, Probe* best, int* min_state) {
    PickIndex::Hit hit;
    if (!index_.probe(campaign, npa, &hit)) return;
    *min_state = std::min(*min_state, hit.state);
    if (hit.state != kAvailable) return;
    if (best->found && (hit.last_used > best->last_used ||
                        (hit.last_used == best->last_used && best->caller_id <= *hit.caller_id))) {
      return;
    }
    best->found = true;
    best->last_used = hit.last_used;
    best->caller_id = *hit.caller_id;
    best->number_id = hit.id;
  }

  DenialReason deny_reason(int scope_min_state, const std::string* const* campaigns) {
    int pool_min = kInactive + 1;
    Probe unused;
    for (int i = 0; i < 2; ++i) probe(*campaigns[i], -1, &unused, &pool_min);
    if (pool_min >= kInactive) return DenialReason::kPoolEmpty;
    if (scope_min_state >= kInactive) return DenialReason::kNoMatchInScope;
    return scope_min_state == kCapped ? DenialReason::kAllLimited : DenialReason::kAllReserved;
  }

  // The cached row of number `id`, or nullptr.
  Row* cached_row(std::int64_t id) {
    auto it = rows_.find(id);
    return it == rows_.end() ? nullptr : &it->second;
  }
  // Caches `row` as the file has it, while the cache has room: past kMaxCachedRows the rows
  // cached first stay and the others are read back each time (evicting under an LRU rotation,
  // which visits every number in turn, would only trade one miss for another).
  void remember(const Row& row) {
    if (rows_.size() < kMaxCachedRows) rows_.insert_or_assign(row.id, row);
  }
  void forget_row(std::int64_t id) { rows_.erase(id); }
  // use_number_ (a lease's UPDATE) applied to a cached row, in the same windows.
  void apply_use(Row* r, std::int64_t now) const {
    r->last_used = std::max(r->last_used, now);
    ++r->total_uses;
    r->hour_count = r->hour_start == hour_ ? r->hour_count + 1 : 1;
    r->hour_start = hour_;
    r->day_count = r->day_start == day_ ? r->day_count + 1 : 1;
    r->day_start = day_;
    ++r->live_leases;
    r->pick_state = r->state(hour_, day_, r->live_leases);
  }

  Error missing_number(std::int64_t id) const {
    return Error(ErrorCode::kInternal, "sqlite: pick row points at missing number " +
                                           std::to_string(id) + " in " + opts_.path);
  }

  Row load(std::int64_t id) {
    Use q(row_);
    q->bind(1, id);
    if (!q->executeStep()) throw missing_number(id);
    return read_row(*q);
  }

  bool store_empty() {
    Use q(empty_);
    q->executeStep();
    return q->getColumn(0).getInt() != 0;
  }

  std::optional<Row> find(const std::string& caller_id) {
    Use q(row_by_cid_);
    q->bind(1, caller_id);
    if (!q->executeStep()) return std::nullopt;
    return read_row(*q);
  }

  // (Re-)files `row` in the index as it is now, under its configured campaigns.
  void file_pick(const Row& row) {
    index_.file(PickIndex::Entry{row.id, row.number.caller_id, static_cast<std::int32_t>(row.npa),
                                 row.pick_state, row.last_used},
                pick_campaigns(row.number));
    touched_.push_back(row.id);
  }

  void unfile_pick(std::int64_t id) {
    index_.erase(id);
    touched_.push_back(id);
  }

  // Deletes lease row (seq, id) and forgets it; returns 1 if the row was there.
  std::int64_t delete_lease(std::int64_t seq, const std::string& id) {
    std::int64_t n;
    {
      Use d(delete_lease_);
      d->bind(1, seq);
      d->bind(2, id);
      n = d->exec();
    }
    leases_.erase(id);
    leases_erased_ = true;
    return n;
  }

  bool lease_row_exists(std::int64_t seq, const std::string& id) {
    Use q(lease_exists_);
    q->bind(1, seq);
    q->bind(2, id);
    return q->executeStep();
  }

  // Forgets the leases of number `id` whose rows are gone (released or expired by another
  // connection, or rolled back).
  void verify_leases(std::int64_t id) {
    for (const auto& [seq, lease_id] : leases_.of(id)) {
      if (!lease_row_exists(seq, lease_id)) leases_.erase(lease_id);
    }
  }

  // Learns the leases other connections added since max_seq_.
  void read_new_leases() {
    Use q(leases_after_);
    q->bind(1, max_seq_);
    while (q->executeStep()) {
      max_seq_ = q->getColumn(0).getInt64();
      leases_.add(max_seq_, q->getColumn(1).getString(), q->getColumn(2).getInt64(),
                  q->getColumn(3).getInt64());
    }
  }

  // Re-files `row` (filed already) under (state, last_used).
  void move_pick(const Row& row, int state, std::int64_t last_used) {
    move_pick(row.id, state, last_used, row.number.caller_id);
  }
  void move_pick(std::int64_t id, int state, std::int64_t last_used, const std::string& caller_id) {
    if (!index_.move(id, state, last_used)) {
      throw Error(ErrorCode::kInternal,
                  "sqlite: pick index out of step for " + caller_id + " in " + opts_.path);
    }
    touched_.push_back(id);
  }

  // Re-reads number `id` from the file into the index (or drops it when the row is gone).
  void resync(std::int64_t id) {
    forget_row(id);
    verify_leases(id);
    Use q(row_);
    q->bind(1, id);
    if (!q->executeStep()) {
      index_.erase(id);
      return;
    }
    const Row row = read_row(*q);
    index_.file(PickIndex::Entry{row.id, row.number.caller_id, static_cast<std::int32_t>(row.npa),
                                 row.pick_state, row.last_used},
                pick_campaigns(row.number));
  }

  void read_meta() {
    {
      Use q(meta_get_);
      while (q->executeStep()) {
        const std::string key = q->getColumn(0).getString();
        (key == "hour_start" ? hour_ : day_) = q->getColumn(1).getInt64();
      }
    }
  }

  // Builds the index from the numbers table (inside a transaction, so it matches seen_gen_).
  void load_index() {
    index_.clear();
    rows_.clear();
    leases_.clear();
    dirty_.clear();
    {
      Use q(newest_change_);
      seen_gen_ = 0;
      if (q->executeStep()) {
        seen_gen_ = q->getColumn(0).getInt64();
        lease_seq_ = std::max(lease_seq_, q->getColumn(1).getInt64());
      }
    }
    max_seq_ = 0;
    read_new_leases();
    Use q(load_all_);
    Number campaigns_only;
    while (q->executeStep()) {
      campaigns_only.campaigns = split_campaigns(q->getColumn(3).getString());
      index_.file(PickIndex::Entry{q->getColumn(0).getInt64(), q->getColumn(1).getString(),
                                   q->getColumn(2).getInt(), q->getColumn(4).getInt(),
                                   q->getColumn(5).getInt64()},
                  pick_campaigns(campaigns_only));
    }
    loaded_ = true;
  }

  // Applies the changes other connections logged since seen_gen_ (inside the transaction).
  void catch_up() {
    std::vector<std::int64_t> ids;
    bool reload = false;
    std::int64_t next = seen_gen_ + 1;
    {
      Use q(changes_since_);
      q->bind(1, seen_gen_);
      while (q->executeStep()) {
        const std::int64_t gen = q->getColumn(0).getInt64();
        // A gap means the entries we missed were pruned; NULL means "too many to list".
        if (gen != next || q->getColumn(1).isNull()) {
          reload = true;
          break;
        }
        next = gen + 1;
        lease_seq_ = std::max(lease_seq_, q->getColumn(2).getInt64());
        const SQLite::Column blob = q->getColumn(1);
        const std::size_t n = static_cast<std::size_t>(blob.getBytes()) / sizeof(std::int64_t);
        const std::size_t at = ids.size();
        ids.resize(at + n);
        if (n) std::memcpy(&ids[at], blob.getBlob(), n * sizeof(std::int64_t));
        if (ids.size() > kMaxListedChanges) {
          reload = true;
          break;
        }
      }
    }
    if (reload) {
      load_index();
      return;
    }
    seen_gen_ = next - 1;
    read_new_leases();
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    for (std::int64_t id : ids) resync(id);
  }

  // Re-evaluates a number's pick state in the current windows (numbers.pick_state is the state
  // its pick rows are filed under; live_leases counts lease rows not dropped yet, which errs
  // towards "reserved", and every lease drops expired rows first).
  void refresh(Row& row) {
    const int state = row.state(hour_, day_, row.live_leases);
    if (state == row.pick_state) return;
    {
      Use q(set_pick_state_);
      q->bind(1, row.id);
      q->bind(2, state);
      q->exec();
    }
    move_pick(row, state, row.last_used);
    row.pick_state = state;
  }

  void adjust_leases(std::int64_t id, std::int64_t delta) {
    {
      Use q(adjust_leases_);
      q->bind(1, id);
      q->bind(2, delta);
      q->bind(3, hour_);
      q->bind(4, day_);
      if (q->exec() != 1) throw missing_number(id);
    }
    if (Row* r = cached_row(id)) {
      // The UPDATE above, applied to the cached row: the state it stored is Row::state().
      r->live_leases += delta;
      r->pick_state = r->state(hour_, day_, r->live_leases);
      move_pick(*r, r->pick_state, r->last_used);
      return;
    }
    // A number filed as available (active, uncapped in the stored windows, below its
    // concurrency limit) stays so with fewer leases, and its last_used does not move: nothing
    // to re-file. (The index matches the file inside the transaction, and the UPDATE above
    // evaluates the same state in the same windows.) It is logged in changes all the same, as
    // move_pick() logs the others: other writers then forget the lease rows that went.
    if (delta < 0 && index_.state_of(id) == kAvailable) {
      touched_.push_back(id);
      return;
    }
    // Read back rather than RETURNING, as in lease().
    Use q(pick_fields_);
    q->bind(1, id);
    if (!q->executeStep()) throw missing_number(id);
    move_pick(id, q->getColumn(0).getInt(), q->getColumn(1).getInt64(),
              q->getColumn(2).getString());
  }

  // Deletes the lease rows that expired at or before `now`, found through the registry (which
  // knows every row of the file: begin() learnt the others' new rows). A row another connection
  // already deleted is not counted: that connection adjusted its number.
  std::int64_t drop_expired(std::int64_t now) {
    std::vector<std::int64_t> numbers;
    LeaseRegistry::Due due;
    std::string id;
    while (leases_.pop_due(now, &due, &id)) {
      if (delete_lease(due.seq, id) == 1) numbers.push_back(due.number_id);
    }
    std::sort(numbers.begin(), numbers.end());
    for (auto it = numbers.begin(); it != numbers.end();) {
      auto next = std::upper_bound(it, numbers.end(), *it);
      adjust_leases(*it, -(next - it));
      it = next;
    }
    return static_cast<std::int64_t>(numbers.size());
  }

  // Moves the stored windows forward to `w` and re-admits the numbers whose cap was in an
  // earlier window: only capped rows are visited, through the partial cap indexes.
  void advance_windows(const Windows& w) {
    if (w.hour_start <= hour_ && w.day_start <= day_) return;
    hour_ = std::max(hour_, w.hour_start);
    day_ = std::max(day_, w.day_start);
    for (const auto& [key, value] : {std::pair<const char*, std::int64_t>{"hour_start", hour_},
                                     std::pair<const char*, std::int64_t>{"day_start", day_}}) {
      Use q(meta_set_);
      q->bind(1, key);
      q->bind(2, value);
      q->exec();
    }
    std::vector<std::int64_t> ids;
    {
      Use q(capped_old_);
      q->bind(1, hour_);
      q->bind(2, day_);
      while (q->executeStep()) ids.push_back(q->getColumn(0).getInt64());
    }
    for (std::int64_t id : ids) {
      forget_row(id);
      Row row = load(id);
      refresh(row);
    }
  }

  // sqlite3_wal_hook: after each commit, with the WAL's size in pages.
  static int wal_hook(void* self, sqlite3* db, const char* name, int pages) {
    auto* w = static_cast<Writer*>(self);
    if (pages >= kWriterCheckpointPages) {
      sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    } else if (pages >= kBackgroundCheckpointPages && w->wal_growth_) {
      if (pages < w->wal_poked_at_) w->wal_poked_at_ = 0;  // the WAL restarted
      if (pages - w->wal_poked_at_ >= kBackgroundCheckpointPages ||
          pages >= kWriterCheckpointPages - kChasePages) {
        w->wal_poked_at_ = pages;
        w->wal_growth_();
      }
    }
    return SQLITE_OK;
  }

  // A transaction that changed more numbers than this logs "reload everything" instead of ids.
  static constexpr std::size_t kMaxListedChanges = 10000;
  // The changes log keeps the last kKeptChanges transactions, pruned every kPruneEvery: a
  // process that falls further behind reloads its index.
  static constexpr std::int64_t kKeptChanges = 100000;
  static constexpr std::int64_t kPruneEvery = 4096;

  Options opts_;
  std::unique_ptr<SQLite::Database> db_;
  std::function<void()> wal_growth_;
  int wal_poked_at_ = 0;  // the WAL's size in pages when wal_growth_ was last called
  PickIndex index_;
  bool loaded_ = false;                // index_ holds the file's numbers as of seen_gen_
  bool stale_ = false;                 // the last transaction rolled back: re-read what it cached
  std::int64_t seen_gen_ = 0;          // the newest changes entry index_ reflects
  std::int64_t data_version_ = -1;     // PRAGMA data_version at our last transaction
  std::vector<std::int64_t> touched_;  // numbers re-filed in this transaction
  std::vector<std::int64_t> dirty_;    // numbers re-filed by transactions that rolled back
  // Number rows as the file has them in this transaction, so that a lease or release need not
  // read its row back after updating it. Every write of a numbers row here updates or forgets
  // its entry; rows other connections changed are forgotten when their changes are read
  // (resync, load_index), and a rollback forgets them all.
  std::unordered_map<std::int64_t, Row> rows_;
  static constexpr std::size_t kMaxCachedRows = 1 << 17;  // ~50 MB at most
  LeaseRegistry leases_;            // the file's live lease rows, by id and by number
  std::int64_t max_seq_ = 0;        // the newest lease row leases_ knows
  std::int64_t begin_max_seq_ = 0;  // max_seq_ when this transaction began
  // The highest lease seq assigned, as the newest changes entry carries it, plus this
  // transaction's leases: seqs are never reused, so that other writers find new rows by seq. It
  // only grows (a rolled-back transaction leaves a gap, which is harmless).
  std::int64_t lease_seq_ = 0;
  std::int64_t begin_lease_seq_ = 0;
  bool leases_erased_ = false;       // this transaction made leases_ forget rows it deleted
  bool reload_leases_ = false;       // ... and rolled back: relearn leases_ in the next one
  std::int64_t hour_ = 0, day_ = 0;  // the stored windows, as of this transaction
  const std::string every_campaign_ = kEveryCampaign;
  SQLite::Statement begin_, commit_, data_version_q_, changes_since_, newest_change_, log_change_;
  SQLite::Statement prune_changes_, load_all_;
  SQLite::Statement meta_get_, meta_set_, capped_old_;
  SQLite::Statement row_, row_by_cid_, use_number_, adjust_leases_, pick_fields_;
  SQLite::Statement set_pick_state_, insert_lease_;
  SQLite::Statement lease_exists_, leases_after_, delete_lease_, delete_leases_of_;
  SQLite::Statement outcome_;
  SQLite::Statement insert_number_, update_number_, set_active_, delete_number_, empty_;
};

// Reader connections, created on demand and reused; each is used by one thread at a time.
class Readers {
 public:
  explicit Readers(const Options& opts) : opts_(opts) {}

  template <class F>
  auto with(const char* what, F&& fn) -> decltype(fn(std::declval<SQLite::Database&>())) {
    std::unique_ptr<SQLite::Database> db;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!idle_.empty()) {
        db = std::move(idle_.back());
        idle_.pop_back();
      }
    }
    if (!db) db = connect(opts_);
    struct Return {
      Readers* self;
      std::unique_ptr<SQLite::Database>* db;
      ~Return() {
        // A connection left inside a transaction by a throw is dropped, not reused.
        if (sqlite3_get_autocommit((*db)->getHandle()) == 0) return;
        std::lock_guard<std::mutex> lock(self->mu_);
        if (self->idle_.size() < 8) self->idle_.push_back(std::move(*db));
      }
    } give_back{this, &db};
    try {
      return fn(*db);
    } catch (const SQLite::Exception& e) {
      throw map_error(e, opts_.path, what);
    }
  }

 private:
  Options opts_;
  std::mutex mu_;
  std::vector<std::unique_ptr<SQLite::Database>> idle_;
};

// A read transaction: several statements see one snapshot.
class ReadTxn {
 public:
  explicit ReadTxn(SQLite::Database& db) : db_(db) { db_.exec("BEGIN"); }
  ~ReadTxn() { sqlite3_exec(db_.getHandle(), "COMMIT", nullptr, nullptr, nullptr); }

 private:
  SQLite::Database& db_;
};

// Live leases per number at :now: leases has no index by number or expiry (a lease would write a
// page of each), so a query that needs kLiveLeases starts with kLiveCte, which counts the live
// leases in one scan of leases (it holds live rows only, expired ones until the next write drops
// them) and is looked up through an automatic index.
constexpr const char* kLiveCte =
    "WITH live AS MATERIALIZED (SELECT number_id, count(*) AS c FROM leases"
    " WHERE expires_at > :now GROUP BY number_id) ";
constexpr const char* kLiveLeases =
    "coalesce((SELECT live.c FROM live WHERE live.number_id = n.id), 0)";

// The write side of one database file in this process. Store objects opened on the same file
// with the same options share it, so their writes batch together instead of contending for
// SQLite's write lock (which would make them wait on each other in the busy handler).
// Copies the WAL back into the database file (PASSIVE checkpoints) on its own connection and
// thread when the writer says the WAL has grown, so that the fsyncs of a checkpoint are not paid
// by a caller waiting for its lease. It never blocks writers or readers.
class Checkpointer {
 public:
  explicit Checkpointer(const Options& opts) : db_(connect(opts)) {
    thread_ = std::thread([this] {
#ifdef __linux__
      pthread_setname_np(pthread_self(), "cidrot-ckpt");  // seen in top -H, perf, gdb
#endif
      loop();
    });
  }
  ~Checkpointer() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  void poke() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (pending_) return;
      pending_ = true;
    }
    cv_.notify_one();
  }

 private:
  void loop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stop_ || pending_; });
      if (stop_) return;
      lock.unlock();
      // Failures (busy, I/O) are left to the writer's own checkpoint.
      sqlite3_wal_checkpoint_v2(db_->getHandle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr,
                                nullptr);
      lock.lock();
      pending_ = false;
    }
  }

  std::unique_ptr<SQLite::Database> db_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool pending_ = false, stop_ = false;
  std::thread thread_;
};

struct WriteSide {
  explicit WriteSide(const Options& opts)
      : writer(opts),
        commits(&writer, &writer,
                std::chrono::milliseconds(std::max(opts.busy_timeout_ms, 1000) + 1000)),
        checkpointer(opts) {
    writer.on_wal_growth([this] { checkpointer.poke(); });
  }
  Writer writer;
  GroupCommit<Writer> commits;
  Checkpointer checkpointer;
};

std::shared_ptr<WriteSide> shared_write_side(const Options& opts) {
  static std::mutex mu;
  static std::map<std::string, std::weak_ptr<WriteSide>> sides;
  std::error_code ec;
  std::string key = std::filesystem::canonical(opts.path, ec).string();
  if (ec) key = opts.path;
  key += opts.synchronous_full ? "|full|" : "|normal|";
  key += std::to_string(opts.busy_timeout_ms);
  std::lock_guard<std::mutex> lock(mu);
  for (auto it = sides.begin(); it != sides.end();) {
    it = it->second.expired() ? sides.erase(it) : std::next(it);
  }
  if (auto existing = sides[key].lock()) return existing;
  auto side = std::make_shared<WriteSide>(opts);
  sides[key] = side;
  return side;
}

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(const Options& opts)
      : opts_(opts), write_(shared_write_side(opts)), commits_(write_->commits), readers_(opts) {}

  std::string backend_name() const override { return "sqlite"; }

  UpsertResult upsert_numbers(const std::vector<Number>& numbers) override {
    return commits_.run([&](Writer& w) { return w.upsert(numbers); });
  }

  bool set_active(const std::string& caller_id, bool active) override {
    return commits_.run([&](Writer& w) { return w.set_active(caller_id, active); });
  }

  bool remove_number(const std::string& caller_id) override {
    return commits_.run([&](Writer& w) { return w.remove(caller_id); });
  }

  std::optional<NumberState> get_number(const std::string& caller_id,
                                        const Windows& windows) override {
    return readers_.with("read", [&](SQLite::Database& db) -> std::optional<NumberState> {
      SQLite::Statement q(db, std::string(kLiveCte) + "SELECT " + kNumberColumns + ", " +
                                  kLiveLeases + " FROM numbers n WHERE n.caller_id = :cid");
      q.bind(":cid", caller_id);
      q.bind(":now", to_unix_ms(windows.now));
      if (!q.executeStep()) return std::nullopt;
      return read_row(q).to_state(windows, q.getColumn(kNumberColumnCount).getInt64());
    });
  }

  ListPage list_numbers(const ListQuery& query, const Windows& windows) override {
    return readers_.with("read", [&](SQLite::Database& db) {
      const std::string eff_hour = "(CASE WHEN n.hour_start = :h THEN n.hour_count ELSE 0 END)";
      const std::string eff_day = "(CASE WHEN n.day_start = :d THEN n.day_count ELSE 0 END)";
      std::string where = " WHERE 1";
      if (!query.campaign.empty()) {
        where +=
            " AND (n.campaigns = '' OR instr(',' || n.campaigns || ',', ',' || :c || ',') > 0)";
      }
      if (!query.area_codes.empty()) {
        where += " AND n.npa IN (";
        for (std::size_t i = 0; i < query.area_codes.size(); ++i) {
          where += (i ? "," : "") + std::to_string(query.area_codes[i]);
        }
        where += ")";
      }
      if (query.active) where += *query.active ? " AND n.active = 1" : " AND n.active = 0";
      if (query.leased)
        where += std::string(" AND ") + kLiveLeases + (*query.leased ? " > 0" : " = 0");
      if (query.limited) {
        where += std::string(" AND ") + (*query.limited ? "" : "NOT ") +
                 "((n.hourly_limit > 0 AND " + eff_hour +
                 " >= n.hourly_limit) OR (n.daily_limit > 0 AND " + eff_day + " >= n.daily_limit))";
      }
      if (!query.caller_id_prefix.empty()) {
        where += " AND substr(n.caller_id, 1, length(:p)) = :p";
      }
      auto bind = [&](SQLite::Statement& q) {
        auto maybe = [&](const char* name, auto value) {
          if (q.getIndex(name) > 0) q.bind(name, value);
        };
        maybe(":h", windows.hour_start);
        maybe(":d", windows.day_start);
        maybe(":now", to_unix_ms(windows.now));
        maybe(":c", query.campaign);
        maybe(":p", query.caller_id_prefix);
      };
      ReadTxn txn(db);
      ListPage page;
      {
        SQLite::Statement count(db, std::string(query.leased ? kLiveCte : "") +
                                        "SELECT count(*) FROM numbers n" + where);
        bind(count);
        count.executeStep();
        page.total = count.getColumn(0).getInt64();
      }
      std::string key;
      switch (query.sort) {
        case SortKey::kCallerId:
          key = "n.caller_id";
          break;
        case SortKey::kLastUsed:
          key = "n.last_used";
          break;
        case SortKey::kHourCount:
          key = eff_hour;
          break;
        case SortKey::kDayCount:
          key = eff_day;
          break;
        case SortKey::kTotalUses:
          key = "n.total_uses";
          break;
      }
      const char* dir = query.descending ? " DESC" : " ASC";
      std::string order = " ORDER BY " + key + dir;
      if (query.sort != SortKey::kCallerId) order += ", n.caller_id ASC";
      SQLite::Statement q(db, std::string(kLiveCte) + "SELECT " + kNumberColumns + ", " +
                                  kLiveLeases + " FROM numbers n" + where + order +
                                  " LIMIT :limit OFFSET :offset");
      bind(q);
      q.bind(":limit", query.limit);
      q.bind(":offset", query.offset);
      while (q.executeStep()) {
        page.items.push_back(
            read_row(q).to_state(windows, q.getColumn(kNumberColumnCount).getInt64()));
      }
      return page;
    });
  }

  LeaseResult lease(const LeaseRequest& req) override {
    detail::check_lease_request(req);
    return commits_.run([&](Writer& w) { return w.lease(req); });
  }

  bool batches_leases() const noexcept override { return true; }

  void lease_batch(LeaseBatchItem* items, std::size_t count) noexcept override {
    // The requests run as one group-commit job: one transaction and one commit for all. A
    // request that throws for itself (a lease id in use, an invalid request) undoes the job, so
    // each request then runs alone and the error stays with the one that caused it; any other
    // failure (the file locked past busy_timeout_ms, I/O) is every request's.
    bool together = count > 1;
    try {
      // An invalid request would undo the job: it runs alone from the start (and gets the same
      // Error from lease()).
      for (std::size_t i = 0; i < count; ++i) {
        detail::check_lease_request(*items[i].request);
      }
    } catch (const Error&) {
      together = false;
    }
    if (together) {
      std::exception_ptr failure;
      try {
        commits_.run([&](Writer& w) {
          for (std::size_t i = 0; i < count; ++i) *items[i].result = w.lease(*items[i].request);
          return 0;
        });
        for (std::size_t i = 0; i < count; ++i) items[i].error = nullptr;
        return;
      } catch (const Error& e) {
        if (e.code() != ErrorCode::kConflict && e.code() != ErrorCode::kInvalidArgument) {
          failure = std::current_exception();
        }
      } catch (...) {
        failure = std::current_exception();
      }
      if (failure) {
        for (std::size_t i = 0; i < count; ++i) items[i].error = failure;
        return;
      }
    }
    Store::lease_batch(items, count);
  }

  std::int64_t release(const ReleaseRequest& req) override {
    return commits_.run([&](Writer& w) { return w.release(req); }, /*first=*/true);
  }

  std::int64_t expire(TimePoint now) override {
    return commits_.run([&](Writer& w) { return w.expire(now); }, /*first=*/true);
  }

  std::vector<Lease> list_leases(TimePoint now, std::int64_t limit) override {
    return readers_.with("read", [&](SQLite::Database& db) {
      SQLite::Statement q(db, std::string("SELECT l.id, l.campaign, l.agent, l.destination,"
                                          " l.leased_at, l.expires_at, l.tier, ") +
                                  kNumberColumns +
                                  " FROM leases l JOIN numbers n ON n.id = l.number_id"
                                  " WHERE l.expires_at > :now ORDER BY l.expires_at, l.id"
                                  " LIMIT :limit");
      q.bind(":now", to_unix_ms(now));
      q.bind(":limit", limit);
      std::vector<Lease> out;
      while (q.executeStep()) {
        Lease& l = out.emplace_back();
        l.id = q.getColumn(0).getString();
        l.campaign = q.getColumn(1).getString();
        l.agent = q.getColumn(2).getString();
        l.destination = q.getColumn(3).getString();
        l.leased_at = from_unix_ms(q.getColumn(4).getInt64());
        l.expires_at = from_unix_ms(q.getColumn(5).getInt64());
        l.tier = parse_tier(q.getColumn(6).getString());
        l.number = read_row(q, 7).number;
      }
      return out;
    });
  }

  StoreStats stats(const Windows& windows) override {
    return readers_.with("read", [&](SQLite::Database& db) {
      ReadTxn txn(db);
      StoreStats st;
      const std::int64_t now = to_unix_ms(windows.now);
      const std::string hour_capped =
          "(n.hourly_limit > 0 AND n.hour_start = :h AND n.hour_count >= n.hourly_limit)";
      const std::string day_capped =
          "(n.daily_limit > 0 AND n.day_start = :d AND n.day_count >= n.daily_limit)";
      {
        SQLite::Statement q(db,
                            "SELECT count(*), coalesce(sum(n.active), 0),"
                            " coalesce(sum(n.total_uses), 0),"
                            " coalesce(sum(n.active AND " +
                                hour_capped +
                                "), 0),"
                                " coalesce(sum(n.active AND " +
                                day_capped +
                                "), 0)"
                                " FROM numbers n");
        q.bind(":h", windows.hour_start);
        q.bind(":d", windows.day_start);
        q.executeStep();
        st.numbers = q.getColumn(0).getInt64();
        st.active = q.getColumn(1).getInt64();
        st.disabled = st.numbers - st.active;
        st.total_uses = q.getColumn(2).getInt64();
        st.capped_hourly = q.getColumn(3).getInt64();
        st.capped_daily = q.getColumn(4).getInt64();
      }
      {
        SQLite::Statement q(db,
                            "SELECT count(*), count(DISTINCT number_id) FROM leases"
                            " WHERE expires_at > :now");
        q.bind(":now", now);
        q.executeStep();
        st.active_leases = q.getColumn(0).getInt64();
        st.leased_numbers = q.getColumn(1).getInt64();
      }
      {
        SQLite::Statement q(db,
                            "SELECT campaign, count(*) FROM leases WHERE expires_at > :now"
                            " GROUP BY campaign ORDER BY campaign");
        q.bind(":now", now);
        while (q.executeStep()) {
          st.leases_by_campaign.emplace_back(q.getColumn(0).getString(), q.getColumn(1).getInt64());
        }
      }
      {
        SQLite::Statement q(db, std::string(kLiveCte) +
                                    "SELECT n.npa, count(*), coalesce(sum(NOT " + hour_capped +
                                    " AND NOT " + day_capped + " AND " + kLiveLeases +
                                    " < n.max_concurrent), 0)"
                                    " FROM numbers n WHERE n.active = 1 GROUP BY n.npa"
                                    " ORDER BY n.npa");
        q.bind(":h", windows.hour_start);
        q.bind(":d", windows.day_start);
        q.bind(":now", now);
        while (q.executeStep()) {
          AreaCodeStats& a = st.area_codes.emplace_back();
          a.npa = static_cast<std::uint16_t>(q.getColumn(0).getInt());
          a.numbers = q.getColumn(1).getInt64();
          a.available = q.getColumn(2).getInt64();
        }
      }
      return st;
    });
  }

  void ping() override {
    readers_.with("ping", [&](SQLite::Database& db) { return db.execAndGet("SELECT 1").getInt(); });
  }

 private:
  Options opts_;
  std::shared_ptr<WriteSide> write_;
  GroupCommit<Writer>& commits_;
  Readers readers_;
};

}  // namespace
}  // namespace sqlite

std::shared_ptr<Store> open_sqlite_store(const std::string& url) {
  const sqlite::Options opts = sqlite::parse_url(url);
  sqlite::prepare_database(opts);
  try {
    return std::make_shared<sqlite::SqliteStore>(opts);
  } catch (const SQLite::Exception& e) {
    throw sqlite::map_error(e, opts.path, "open");
  }
}

}  // namespace cidrot::storage
