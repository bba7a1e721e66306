// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
//
// The PostgreSQL store: many cidrot processes on many hosts share one database.
// pg_schema.cpp explains the schema and the lease function; this file is the client side:
// URL options, the connection pool, deadlines, retries and error mapping.
//
// Failure handling, and why:
// - Every call has one deadline (timeout_ms) covering the pool wait, connecting and the query;
//   the server also gets statement_timeout, so it stops working for a caller that gave up.
// - A pooled session that sat idle may have died with a server restart: a call that fails on
//   such a session is retried once on a fresh one (after a restart the first call just works).
// - A lease is retried with p_retry set, so an attempt that committed but whose answer was lost
//   is returned rather than leasing a second number.
// - A lease whose answer never came (timeout or lost connection after sending) is "in doubt":
//   the server may still commit it later (a frozen server wakes up and runs the query it had
//   buffered). The caller was told it failed, so the lease must not stand: the store remembers
//   it, and before its next call ends the old server session (pg_terminate_backend, matched by
//   pid and start time) and undoes the lease if it exists. The caps stay exact that way.

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "backends.h"
#include "cidrot/error.h"
#include "cidrot/store.h"
#include "lease_result.h"
#include "pg_conn.h"
#include "pg_schema.h"
#include "url.h"

namespace cidrot::storage {
namespace pg {
namespace {

constexpr int kDefaultPool = 8;
constexpr int kDefaultTimeoutMs = 5000;
constexpr const char* kDefaultSchema = "cidrot";

bool valid_schema(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;
  if (std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

std::string join_campaigns(const std::vector<std::string>& campaigns) {
  std::string s;
  for (const auto& c : campaigns) s += (s.empty() ? "" : ",") + c;
  return s;
}

std::string int_array(const std::vector<std::int64_t>& v) {
  std::string s = "{";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "}";
}

// The statements, by id. Prepared per session on first use.
enum Stmt : int {
  kLease,
  kLeaseMany,
  kReleaseId,
  kReleaseCaller,
  kUndoLease,
  kExpire,
  kSetActive,
  kRemove,
  kGetNumber,
  kListLeases,
  kStats,
  kUpsert,
  kPing,
  kStmtCount
};

// The columns parse_number() reads, starting at its `col`; $H/$D/$N are the windows' hour and
// day start and now (ms), substituted per statement.
constexpr const char* kNumberCols =
    "n.caller_id, n.carrier, n.campaigns, n.hourly_limit, n.daily_limit, n.max_concurrent, "
    "n.active, n.meta_json, n.last_used, n.total_uses, "
    "CASE WHEN n.hour_start = $H THEN n.hour_count ELSE 0 END, "
    "CASE WHEN n.day_start = $D THEN n.day_count ELSE 0 END, "
    "cardinality(n.lease_until) - width_bucket($N, n.lease_until), "
    "n.last_disposition, n.last_duration_s";

std::string number_cols(const char* h, const char* d, const char* now) {
  std::string s = kNumberCols;
  auto sub = [&s](const std::string& from, const std::string& to) {
    for (auto p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) {
      s.replace(p, from.size(), to);
    }
  };
  sub("$H", h);
  sub("$D", d);
  sub("$N", now);
  return s;
}

std::vector<std::string> statement_sql(const std::string& q) {
  std::vector<std::string> s(kStmtCount);
  s[kLease] =
      "SELECT * FROM @S@.lease($1, $2, $3, $4, $5::integer[], $6::integer[], "
      "$7::smallint[], $8::smallint, $9::bigint, $10::bigint, $11::bigint, $12::bigint, "
      "$13::boolean, false)";
  s[kLeaseMany] =
      "SELECT * FROM @S@.lease_many($1::text[], $2::text[], $3::text[], $4::text[], "
      "$5::integer[], $6::integer[], $7::integer[], $8::integer[], $9::integer[], "
      "$10::smallint[], $11::integer[], $12::integer[], $13::smallint[], $14::bigint[], "
      "$15::bigint[], $16::bigint[], $17::bigint[], $18::boolean)";
  s[kReleaseId] =
      "WITH d AS (DELETE FROM @S@.leases l WHERE l.id = $1 RETURNING l.caller_id, l.expires_at) "
      "UPDATE @S@.numbers n SET lease_until = @S@.remove_one(n.lease_until, d.expires_at), "
      "last_disposition = CASE WHEN d.expires_at > $2::bigint AND $3 <> '' THEN $3 "
      "ELSE n.last_disposition END, "
      "last_duration_s = CASE WHEN d.expires_at > $2::bigint AND $3 <> '' THEN $4::bigint "
      "ELSE n.last_duration_s END "
      "FROM d WHERE n.caller_id = d.caller_id RETURNING (d.expires_at > $2::bigint)";
  // Only the leases it deleted leave lease_until: a lease committed meanwhile keeps its slot.
  s[kReleaseCaller] =
      "WITH d AS (DELETE FROM @S@.leases l WHERE l.caller_id = $1 RETURNING l.expires_at), "
      "e AS (SELECT coalesce(array_agg(d.expires_at) FILTER (WHERE d.expires_at > $2::bigint), "
      "'{}') AS live FROM d) "
      "UPDATE @S@.numbers n SET lease_until = @S@.minus(n.lease_until[width_bucket($2::bigint, "
      "n.lease_until) + 1 :], e.live), "
      "last_disposition = CASE WHEN cardinality(e.live) > 0 AND $3 <> '' THEN $3 "
      "ELSE n.last_disposition END, "
      "last_duration_s = CASE WHEN cardinality(e.live) > 0 AND $3 <> '' THEN $4::bigint "
      "ELSE n.last_duration_s END "
      "FROM e WHERE n.caller_id = $1 RETURNING cardinality(e.live)";
  s[kUndoLease] =
      "WITH d AS (DELETE FROM @S@.leases l WHERE l.id = $1 RETURNING l.*) "
      "UPDATE @S@.numbers n SET total_uses = greatest(n.total_uses - 1, 0), "
      "hour_count = CASE WHEN n.hour_start = d.hour_start AND n.hour_count > 0 "
      "THEN n.hour_count - 1 ELSE n.hour_count END, "
      "day_count = CASE WHEN n.day_start = d.day_start AND n.day_count > 0 "
      "THEN n.day_count - 1 ELSE n.day_count END, "
      "last_used = CASE WHEN n.last_used = d.leased_at THEN d.prev_last_used "
      "ELSE n.last_used END, "
      "lease_until = @S@.remove_one(n.lease_until, d.expires_at) "
      "FROM d WHERE n.caller_id = d.caller_id RETURNING 1";
  s[kExpire] =
      "WITH d AS (DELETE FROM @S@.leases l WHERE l.expires_at <= $1::bigint "
      "RETURNING l.caller_id), "
      "u AS (UPDATE @S@.numbers n SET lease_until = n.lease_until[width_bucket($1::bigint, "
      "n.lease_until) + 1 :] WHERE n.caller_id IN (SELECT caller_id FROM d)) "
      "SELECT count(*) FROM d";
  s[kSetActive] = "UPDATE @S@.numbers SET active = $2::boolean WHERE caller_id = $1 RETURNING 1";
  s[kRemove] = "SELECT @S@.remove_number($1)";
  s[kGetNumber] = "SELECT " + number_cols("$2::bigint", "$3::bigint", "$4::bigint") +
                  " FROM @S@.numbers n WHERE n.caller_id = $1";
  s[kListLeases] =
      "SELECT l.id, l.campaign, l.agent, l.destination, l.leased_at, l.expires_at, l.tier, "
      "n.caller_id, n.carrier, n.campaigns, n.hourly_limit, n.daily_limit, n.max_concurrent, "
      "n.active, n.meta_json "
      "FROM @S@.leases l JOIN @S@.numbers n ON n.caller_id = l.caller_id "
      "WHERE l.expires_at > $1::bigint ORDER BY l.expires_at, l.id LIMIT $2::bigint";
  // One statement, one snapshot: kind 0 = totals, 1 = per NPA, 2 = per campaign.
  s[kStats] =
      "WITH n AS (SELECT n.active, n.npa, n.max_concurrent, n.total_uses, "
      "cardinality(n.lease_until) - width_bucket($1::bigint, n.lease_until) AS live, "
      "(n.hourly_limit > 0 AND n.hour_start = $2::bigint AND n.hour_count >= n.hourly_limit) "
      "AS hcap, "
      "(n.daily_limit > 0 AND n.day_start = $3::bigint AND n.day_count >= n.daily_limit) AS dcap "
      "FROM @S@.numbers n) "
      "SELECT 0, '', count(*), count(*) FILTER (WHERE active), count(*) FILTER (WHERE live > 0), "
      "coalesce(sum(live), 0), count(*) FILTER (WHERE active AND hcap), "
      "count(*) FILTER (WHERE active AND dcap), coalesce(sum(total_uses), 0) FROM n "
      "UNION ALL SELECT 1, npa::text, count(*), count(*) FILTER (WHERE NOT hcap AND NOT dcap "
      "AND live < max_concurrent), 0, 0, 0, 0, 0 FROM n WHERE active GROUP BY npa "
      "UNION ALL SELECT 2, l.campaign, count(*), 0, 0, 0, 0, 0, 0 FROM @S@.leases l "
      "JOIN @S@.numbers x ON x.caller_id = l.caller_id "
      "WHERE l.expires_at > $1::bigint GROUP BY l.campaign";
  // Bulk upsert: one statement over parallel arrays; locks rows in caller_id order so two
  // overlapping imports cannot deadlock. xmax = 0 marks a freshly inserted row.
  s[kUpsert] =
      "WITH ins AS (INSERT INTO @S@.numbers AS n (caller_id, npa, carrier, campaigns, "
      "hourly_limit, daily_limit, max_concurrent, active, meta_json) "
      "SELECT s.c, s.npa, s.carrier, string_to_array(s.camps, ','), s.h, s.d, s.m, s.a, s.meta "
      "FROM unnest($1::text[], $2::integer[], $3::text[], $4::text[], $5::bigint[], "
      "$6::bigint[], $7::integer[], $8::boolean[], $9::text[]) "
      "AS s(c, npa, carrier, camps, h, d, m, a, meta) ORDER BY s.c "
      "ON CONFLICT (caller_id) DO UPDATE SET npa = excluded.npa, carrier = excluded.carrier, "
      "campaigns = excluded.campaigns, hourly_limit = excluded.hourly_limit, "
      "daily_limit = excluded.daily_limit, max_concurrent = excluded.max_concurrent, "
      "active = excluded.active, meta_json = excluded.meta_json "
      "RETURNING (n.xmax = 0) AS fresh) "
      "SELECT count(*) FILTER (WHERE fresh), count(*) FILTER (WHERE NOT fresh) FROM ins";
  s[kPing] = "SELECT 1";
  for (auto& sql : s) sql = with_schema(sql, q);
  return s;
}

Number parse_config(const Result& r, int row, int col_caller, int col) {
  Number n;
  n.caller_id = r.str(row, col_caller);
  n.area_code = n.caller_id.substr(0, 3);
  n.carrier = r.str(row, col);
  n.campaigns = r.text_array(row, col + 1);
  n.hourly_limit = r.i64(row, col + 2);
  n.daily_limit = r.i64(row, col + 3);
  n.max_concurrent = static_cast<std::int32_t>(r.i64(row, col + 4));
  n.active = r.boolean(row, col + 5);
  n.meta_json = r.str(row, col + 6);
  return n;
}

// Reads the number_cols() columns starting at column `c`.
NumberState parse_number(const Result& r, int row, int c) {
  NumberState st;
  st.number = parse_config(r, row, c, c + 1);
  st.last_used = from_unix_ms(r.i64(row, c + 8));
  st.total_uses = r.i64(row, c + 9);
  st.hour_count = r.i64(row, c + 10);
  st.day_count = r.i64(row, c + 11);
  st.active_leases = static_cast<std::int32_t>(r.i64(row, c + 12));
  st.last_disposition = r.str(row, c + 13);
  st.last_duration_s = r.i64(row, c + 14);
  return st;
}

// How many lease transactions one store keeps in flight. Fewer than the pool so concurrent
// callers batch up: on a 2-core box a few busy backends use the CPU as well as many, and each
// transaction then carries several leases through one commit. CIDROT_PG_FLUSHERS overrides it
// (for benchmarking).
int flushers_for_pool(int pool) {
  if (const char* env = std::getenv("CIDROT_PG_FLUSHERS"); env != nullptr && *env != '\0') {
    return std::max(1, std::min(pool, std::atoi(env)));
  }
  return std::max(1, std::min(pool, std::max(2, pool / 4)));
}

bool session_gone(const Failure& f) {
  return f.kind == Failure::kLost || f.kind == Failure::kTimeout ||
         (f.kind == Failure::kSql &&
          (f.sqlstate.rfind("08", 0) == 0 || f.sqlstate.rfind("57P", 0) == 0));
}

// A server session, identified across pid reuse.
struct Session {
  int pid;
  std::string start;
};

struct InDoubt {
  std::string lease_id;
  std::vector<Session> sessions;
};

// lease()'s o_status: 0 leased, 1 denied, 2 would have to wait for a row lock (batches only).
constexpr std::int64_t kMustWait = 2;

LeaseResult parse_lease(const Result& r, int row, const LeaseRequest& req) {
  LeaseResult out;
  if (r.i64(row, 0) != 0) {
    out.denial = static_cast<DenialReason>(r.i64(row, 1));
    return out;
  }
  detail::grant(&out, req, from_unix_ms(r.i64(row, 4)), from_unix_ms(r.i64(row, 5)),
                static_cast<Tier>(r.i64(row, 2)))
      .number = parse_config(r, row, 3, 6);
  return out;
}

// One lease call waiting to be sent, alone or batched with others (PostgresStore::lease()).
struct Pending {
  const LeaseRequest* req = nullptr;
  std::vector<std::int64_t> npas, bounds, tiers;  // bounds: 1-based into npas, one per step + end
  std::string any_tier;                           // "" when the ladder has no "any" step
  Deadline deadline;
  bool taken = false;  // a flusher has it
  bool done = false;   // result or error is set
  LeaseResult result;
  std::exception_ptr error;
};

// The ladder in lease()'s encoding: the NPA steps (an "any" step ends the ladder: it covers
// everything after it), flattened.
void encode_ladder(const Ladder& ladder, Pending* p) {
  for (const LadderStep& step : ladder) {
    if (step.tier == Tier::kAny && step.npas.empty()) {
      p->any_tier = std::to_string(static_cast<int>(step.tier));
      break;
    }
    if (step.npas.empty()) continue;
    p->bounds.push_back(static_cast<std::int64_t>(p->npas.size()) + 1);
    p->tiers.push_back(static_cast<int>(step.tier));
    for (std::uint16_t npa : step.npas) p->npas.push_back(npa);
  }
  p->bounds.push_back(static_cast<std::int64_t>(p->npas.size()) + 1);
}

// Builds one array literal per column for lease_many().
class ArrayBuilder {
 public:
  ArrayBuilder& add(std::int64_t v) { return raw(std::to_string(v)); }
  ArrayBuilder& add_text(const std::string& v) {
    sep();
    append_array_element(&s_, v);
    return *this;
  }
  ArrayBuilder& raw(const std::string& v) {
    sep();
    s_ += v;
    return *this;
  }
  std::string str() const { return s_ + "}"; }

 private:
  void sep() {
    if (s_.size() > 1) s_ += ',';
  }
  std::string s_ = "{";
};

class PostgresStore final : public Store {
 public:
  PostgresStore(ConnSettings settings, int pool_size, int timeout_ms, std::string schema)
      : pool_(std::move(settings), pool_size),
        timeout_(timeout_ms),
        schema_(std::move(schema)),
        quoted_("\"" + schema_ + "\""),
        sql_(statement_sql(quoted_)),
        max_flushers_(flushers_for_pool(pool_size)) {}

  ~PostgresStore() override {
    {
      std::lock_guard<std::mutex> lock(maint_mu_);
      stopping_ = true;
    }
    maint_cv_.notify_all();
    if (maint_.joinable()) maint_.join();
  }

  // Connects and brings the schema up to date.
  void open() {
    // DDL and waiting for another process's migration can take longer than one lease call.
    const auto ms = std::max<std::int64_t>(timeout_.count(), 30000);
    Deadline d = Deadline::in(std::chrono::milliseconds(ms));
    try {
      Pool::Handle c = pool_.acquire(d);
      migrate(*c, d, ms);
    } catch (const Failure& f) {
      throw to_error(f, "open");
    }
    maint_ = std::thread([this] { maintenance_loop(); });
  }

  std::string backend_name() const override { return "postgresql"; }

  UpsertResult upsert_numbers(const std::vector<Number>& numbers) override {
    if (numbers.empty()) return {};
    // Duplicates in one batch: the last one wins, the others count as updates (as if applied
    // one after another); ON CONFLICT cannot touch a row twice in one statement.
    std::vector<const Number*> order;
    order.reserve(numbers.size());
    for (const Number& n : numbers) order.push_back(&n);
    std::stable_sort(order.begin(), order.end(),
                     [](const Number* a, const Number* b) { return a->caller_id < b->caller_id; });
    std::vector<const Number*> unique;
    std::int64_t repeats = 0;
    for (std::size_t i = 0; i < order.size(); ++i) {
      if (i + 1 < order.size() && order[i + 1]->caller_id == order[i]->caller_id) {
        ++repeats;
        continue;
      }
      unique.push_back(order[i]);
    }
    std::string ids = "{", npas = "{", carriers = "{", camps = "{", hourly = "{", daily = "{",
                maxc = "{", active = "{", metas = "{";
    for (std::size_t i = 0; i < unique.size(); ++i) {
      const Number& n = *unique[i];
      const char* sep = i ? "," : "";
      ids += sep + n.caller_id;
      npas += sep + std::to_string(
                        std::stoi(n.area_code.empty() ? n.caller_id.substr(0, 3) : n.area_code));
      carriers += sep;
      append_array_element(&carriers, n.carrier);
      camps += sep;
      append_array_element(&camps, join_campaigns(n.campaigns));
      hourly += sep + std::to_string(n.hourly_limit.value_or(0));
      daily += sep + std::to_string(n.daily_limit.value_or(0));
      maxc += sep + std::to_string(n.max_concurrent);
      active += sep + std::string(n.active ? "t" : "f");
      metas += sep;
      append_array_element(&metas, n.meta_json);
    }
    for (std::string* s : {&ids, &npas, &carriers, &camps, &hourly, &daily, &maxc, &active, &metas})
      *s += "}";
    // A big import may legitimately take longer than one lease: allow 10k rows/s on top.
    const auto extra = std::chrono::milliseconds(static_cast<std::int64_t>(unique.size()) / 10);
    return run(
        "upsert_numbers",
        [&](Conn& c, Deadline d, int) {
          Result r = c.exec_prepared(
              kUpsert, sql_[kUpsert],
              {ids.c_str(), npas.c_str(), carriers.c_str(), camps.c_str(), hourly.c_str(),
               daily.c_str(), maxc.c_str(), active.c_str(), metas.c_str()},
              d);
          UpsertResult u;
          u.inserted = r.i64(0, 0);
          u.updated = r.i64(0, 1) + repeats;
          if (u.inserted >= 1000) {
            // Without statistics the planner sorts a whole NPA per lease instead of walking the
            // (npa, last_used) index; autovacuum would get there, but only after a while.
            try {
              c.exec(with_schema("ANALYZE @S@.numbers", quoted_), d);
            } catch (const Failure&) {
              // The import itself committed; a missed ANALYZE only delays the better plan.
            }
          }
          return u;
        },
        extra);
  }

  bool set_active(const std::string& caller_id, bool active) override {
    return run("set_active", [&](Conn& c, Deadline d, int) {
      return c.exec_prepared(kSetActive, sql_[kSetActive],
                             {caller_id.c_str(), active ? "true" : "false"}, d)
                 .rows() > 0;
    });
  }

  bool remove_number(const std::string& caller_id) override {
    return run("remove_number", [&](Conn& c, Deadline d, int) {
      return c.exec_prepared(kRemove, sql_[kRemove], {caller_id.c_str()}, d).boolean(0, 0);
    });
  }

  std::optional<NumberState> get_number(const std::string& caller_id, const Windows& w) override {
    const std::string hs = std::to_string(w.hour_start), ds = std::to_string(w.day_start),
                      now = std::to_string(to_unix_ms(w.now));
    return run("get_number", [&](Conn& c, Deadline d, int) -> std::optional<NumberState> {
      Result r = c.exec_prepared(kGetNumber, sql_[kGetNumber],
                                 {caller_id.c_str(), hs.c_str(), ds.c_str(), now.c_str()}, d);
      if (r.rows() == 0) return std::nullopt;
      return parse_number(r, 0, 0);
    });
  }

  ListPage list_numbers(const ListQuery& q, const Windows& w) override {
    std::vector<std::string> params = {std::to_string(w.hour_start), std::to_string(w.day_start),
                                       std::to_string(to_unix_ms(w.now))};
    auto param = [&params](std::string v) {
      params.push_back(std::move(v));
      return "$" + std::to_string(params.size());
    };
    const std::string live =
        "(cardinality(n.lease_until) - width_bucket($3::bigint, n.lease_until))";
    const std::string hcap =
        "(n.hourly_limit > 0 AND n.hour_start = $1::bigint AND n.hour_count >= n.hourly_limit)";
    const std::string dcap =
        "(n.daily_limit > 0 AND n.day_start = $2::bigint AND n.day_count >= n.daily_limit)";
    std::string where = "true";
    if (!q.campaign.empty()) {
      where +=
          " AND (cardinality(n.campaigns) = 0 OR " + param(q.campaign) + " = ANY (n.campaigns))";
    }
    if (!q.area_codes.empty()) {
      std::vector<std::int64_t> a(q.area_codes.begin(), q.area_codes.end());
      where += " AND n.npa = ANY (" + param(int_array(a)) + "::integer[])";
    }
    if (q.active) where += std::string(" AND ") + (*q.active ? "" : "NOT ") + "n.active";
    if (q.leased) where += " AND " + live + (*q.leased ? " > 0" : " = 0");
    if (q.limited) {
      where += std::string(" AND ") + (*q.limited ? "" : "NOT ") + "(" + hcap + " OR " + dcap + ")";
    }
    if (!q.caller_id_prefix.empty()) {
      // Digits only after validation; compare a prefix rather than LIKE so nothing needs escaping.
      where += " AND left(n.caller_id, " + std::to_string(q.caller_id_prefix.size()) +
               ") = " + param(q.caller_id_prefix);
    }
    const char* dir = q.descending ? " DESC" : "";
    std::string order;
    switch (q.sort) {
      case SortKey::kCallerId:
        order = std::string("n.caller_id") + dir;
        break;
      case SortKey::kLastUsed:
        order = std::string("n.last_used") + dir + ", n.caller_id";
        break;
      case SortKey::kHourCount:
        order = std::string("CASE WHEN n.hour_start = $1::bigint THEN n.hour_count ELSE 0 END") +
                dir + ", n.caller_id";
        break;
      case SortKey::kDayCount:
        order = std::string("CASE WHEN n.day_start = $2::bigint THEN n.day_count ELSE 0 END") +
                dir + ", n.caller_id";
        break;
      case SortKey::kTotalUses:
        order = std::string("n.total_uses") + dir + ", n.caller_id";
        break;
    }
    const std::string offset = param(std::to_string(std::max<std::int64_t>(q.offset, 0)));
    const std::string limit = param(std::to_string(std::max<std::int64_t>(q.limit, 0)));
    const std::string sql = with_schema(
        "WITH m AS (SELECT n.* FROM @S@.numbers n WHERE " + where +
            ") "
            "SELECT t.total, p.* FROM (SELECT count(*) AS total FROM m) t "
            "LEFT JOIN LATERAL (SELECT " +
            number_cols("$1::bigint", "$2::bigint", "$3::bigint") + " FROM m n ORDER BY " + order +
            " OFFSET " + offset + "::bigint LIMIT " + limit + "::bigint) p ON true",
        quoted_);
    return run("list_numbers", [&](Conn& c, Deadline d, int) {
      std::vector<const char*> ptrs;
      for (const auto& p : params) ptrs.push_back(p.c_str());
      Result r = c.exec_params(sql, ptrs, d);
      ListPage page;
      for (int i = 0; i < r.rows(); ++i) {
        page.total = r.i64(i, 0);
        if (!r.null(i, 1)) page.items.push_back(parse_number(r, i, 1));
      }
      return page;
    });
  }

  // Client-side group commit: at most max_flushers_ lease transactions of this store are in
  // flight; calls arriving meanwhile queue up and the next free flusher sends them together in
  // one lease_many() transaction (one round trip, one commit; each lease still picked exactly as
  // alone, in arrival order). Under load that multiplies leases per WAL flush and per unit of
  // server CPU; a lone call goes out at once on its own.
  LeaseResult lease(const LeaseRequest& req) override {
    detail::check_lease_request(req);
    Pending p;
    p.req = &req;
    p.deadline = Deadline::in(timeout_);
    encode_ladder(*req.ladder, &p);
    std::unique_lock<std::mutex> lock(batch_mu_);
    queue_.push_back(&p);
    while (!p.done) {
      if (!p.taken && flushers_ < max_flushers_) {
        ++flushers_;
        std::vector<Pending*> batch;
        while (!queue_.empty() && batch.size() < kMaxBatch) {
          batch.push_back(queue_.front());
          queue_.pop_front();
          batch.back()->taken = true;
        }
        lock.unlock();
        send(batch);
        lock.lock();
        for (Pending* q : batch) q->done = true;
        --flushers_;
        batch_cv_.notify_all();
      } else if (!p.taken) {
        if (batch_cv_.wait_until(lock, p.deadline.at) == std::cv_status::timeout && !p.taken) {
          queue_.erase(std::find(queue_.begin(), queue_.end(), &p));
          throw to_error(Failure{Failure::kTimeout, "queued behind other leases", {}, false},
                         "lease");
        }
      } else {
        batch_cv_.wait(lock);  // in flight: its flusher's deadline bounds the wait
      }
    }
    lock.unlock();
    if (p.error) std::rethrow_exception(p.error);
    return std::move(p.result);
  }

  std::int64_t release(const ReleaseRequest& req) override {
    const std::string now = std::to_string(to_unix_ms(req.now));
    const std::string dur = std::to_string(req.outcome.duration_s);
    const std::string& disp = req.outcome.disposition;
    if (!req.lease_id.empty()) {
      if (!is_lease_id(req.lease_id)) return 0;
      return run("release", [&](Conn& c, Deadline d, int) -> std::int64_t {
        Result r =
            c.exec_prepared(kReleaseId, sql_[kReleaseId],
                            {req.lease_id.c_str(), now.c_str(), disp.c_str(), dur.c_str()}, d);
        return r.rows() > 0 && r.boolean(0, 0) ? 1 : 0;
      });
    }
    return run("release", [&](Conn& c, Deadline d, int) -> std::int64_t {
      Result r =
          c.exec_prepared(kReleaseCaller, sql_[kReleaseCaller],
                          {req.caller_id.c_str(), now.c_str(), disp.c_str(), dur.c_str()}, d);
      return r.rows() > 0 ? r.i64(0, 0) : 0;
    });
  }

  std::int64_t expire(TimePoint now) override {
    const std::string ms = std::to_string(to_unix_ms(now));
    return run("expire", [&](Conn& c, Deadline d, int) {
      return c.exec_prepared(kExpire, sql_[kExpire], {ms.c_str()}, d).i64(0, 0);
    });
  }

  std::vector<Lease> list_leases(TimePoint now, std::int64_t limit) override {
    const std::string ms = std::to_string(to_unix_ms(now));
    const std::string lim = std::to_string(std::max<std::int64_t>(limit, 0));
    return run("list_leases", [&](Conn& c, Deadline d, int) {
      Result r = c.exec_prepared(kListLeases, sql_[kListLeases], {ms.c_str(), lim.c_str()}, d);
      std::vector<Lease> out;
      for (int i = 0; i < r.rows(); ++i) {
        Lease l;
        l.id = r.str(i, 0);
        l.campaign = r.str(i, 1);
        l.agent = r.str(i, 2);
        l.destination = r.str(i, 3);
        l.leased_at = from_unix_ms(r.i64(i, 4));
        l.expires_at = from_unix_ms(r.i64(i, 5));
        l.tier = static_cast<Tier>(r.i64(i, 6));
        l.number = parse_config(r, i, 7, 8);
        out.push_back(std::move(l));
      }
      return out;
    });
  }

  StoreStats stats(const Windows& w) override {
    const std::string now = std::to_string(to_unix_ms(w.now));
    const std::string hs = std::to_string(w.hour_start), ds = std::to_string(w.day_start);
    return run("stats", [&](Conn& c, Deadline d, int) {
      Result r = c.exec_prepared(kStats, sql_[kStats], {now.c_str(), hs.c_str(), ds.c_str()}, d);
      StoreStats st;
      for (int i = 0; i < r.rows(); ++i) {
        switch (r.i64(i, 0)) {
          case 0:
            st.numbers = r.i64(i, 2);
            st.active = r.i64(i, 3);
            st.disabled = st.numbers - st.active;
            st.leased_numbers = r.i64(i, 4);
            st.active_leases = r.i64(i, 5);
            st.capped_hourly = r.i64(i, 6);
            st.capped_daily = r.i64(i, 7);
            st.total_uses = r.i64(i, 8);
            break;
          case 1: {
            AreaCodeStats a;
            a.npa = static_cast<std::uint16_t>(std::stoi(r.str(i, 1)));
            a.numbers = r.i64(i, 2);
            a.available = r.i64(i, 3);
            st.area_codes.push_back(a);
            break;
          }
          default:
            st.leases_by_campaign.emplace_back(r.str(i, 1), r.i64(i, 2));
        }
      }
      std::sort(st.area_codes.begin(), st.area_codes.end(),
                [](const AreaCodeStats& a, const AreaCodeStats& b) { return a.npa < b.npa; });
      std::sort(st.leases_by_campaign.begin(), st.leases_by_campaign.end());
      return st;
    });
  }

  void ping() override {
    run("ping", [&](Conn& c, Deadline d, int) {
      c.exec_prepared(kPing, sql_[kPing], {}, d);
      return 0;
    });
  }

 private:
  // Runs `fn(conn, deadline, attempt)` with one deadline for the whole call, retrying what is
  // safe to retry, and turns failures into cidrot::Error.
  template <class F>
  auto run(const char* op, F&& fn, std::chrono::milliseconds extra = std::chrono::milliseconds(0))
      -> decltype(fn(std::declval<Conn&>(), Deadline{}, 0)) {
    return run_until(op, Deadline::in(timeout_ + extra), std::forward<F>(fn));
  }

  // run() with an explicit deadline.
  template <class F>
  auto run_until(const char* op, const Deadline d, F&& fn)
      -> decltype(fn(std::declval<Conn&>(), Deadline{}, 0)) {
    settle_in_doubt(d);
    for (int attempt = 0;; ++attempt) {
      try {
        Pool::Handle c = pool_.acquire(d);
        const bool reused = c->calls() > 0;
        try {
          return fn(*c, d, attempt);
        } catch (const Failure& f) {
          if (session_gone(f)) pool_.drop_idle();
          const bool transient =
              f.kind == Failure::kSql && (f.sqlstate == "40001" || f.sqlstate == "40P01");
          // A session that sat idle may have died with a server restart; retry on a new one.
          const bool stale = reused && f.kind != Failure::kTimeout && session_gone(f);
          // A retried lease whose first attempt did commit collides on its id: look it up.
          const bool dup_retry = attempt > 0 && f.sqlstate == "23505";
          if ((transient || stale || dup_retry) && attempt < 5 && !d.passed()) continue;
          throw;
        }
      } catch (const Failure& f) {
        throw to_error(f, op);
      }
    }
  }

  // Sends one batch; never throws: every Pending gets its result or its error.
  void send(const std::vector<Pending*>& batch) {
    leases_since_vacuum_.fetch_add(static_cast<std::int64_t>(batch.size()),
                                   std::memory_order_relaxed);
    if (batch.size() == 1) {
      try {
        batch[0]->result = lease_one(*batch[0]);
      } catch (...) {
        batch[0]->error = std::current_exception();
      }
      return;
    }
    try {
      std::vector<std::optional<LeaseResult>> results = lease_many(batch);
      for (std::size_t i = 0; i < batch.size(); ++i) {
        if (results[i]) {
          batch[i]->result = std::move(*results[i]);
        } else {
          send({batch[i]});
        }
      }
    } catch (const Error& e) {
      if (e.code() == ErrorCode::kInternal || e.code() == ErrorCode::kConflict) {
        // The server rejected the transaction (so nothing of it committed) because of one of
        // them, e.g. a reused lease id: send each alone so only that one fails.
        for (Pending* q : batch) send({q});
        return;
      }
      for (Pending* q : batch) q->error = std::current_exception();
    } catch (...) {
      // Anything else (out of memory) must still reach every waiting caller.
      for (Pending* q : batch) q->error = std::current_exception();
    }
  }

  // Records `ids` as in doubt when the call failed after some session received the request.
  void note_in_doubt(const std::vector<const std::string*>& ids,
                     const std::vector<Session>& unanswered) {
    if (unanswered.empty()) return;
    std::lock_guard<std::mutex> lock(doubt_mu_);
    for (const std::string* id : ids) {
      in_doubt_.push_back({*id, unanswered});
      doubt_count_.fetch_add(1);
    }
  }

  LeaseResult lease_one(const Pending& p) {
    const LeaseRequest& req = *p.req;
    ArrayBuilder npas, bounds, tiers;
    for (auto v : p.npas) npas.add(v);
    for (auto v : p.bounds) bounds.add(v);
    for (auto v : p.tiers) tiers.add(v);
    const std::string npas_s = npas.str(), bounds_s = bounds.str(), tiers_s = tiers.str();
    const std::string now = std::to_string(to_unix_ms(req.windows.now));
    const std::string hs = std::to_string(req.windows.hour_start);
    const std::string ds = std::to_string(req.windows.day_start);
    const std::string ttl = std::to_string(req.ttl.count());
    // Sessions that received an attempt of this lease and then went silent or away: if the whole
    // call fails, any of them may still have committed it.
    std::vector<Session> unanswered;
    try {
      return run_until("lease", p.deadline, [&](Conn& c, Deadline d, int attempt) {
        try {
          Result r = c.exec_prepared(
              kLease, sql_[kLease],
              {req.lease_id.c_str(), req.campaign.c_str(), req.agent.c_str(),
               req.destination.c_str(), npas_s.c_str(), bounds_s.c_str(), tiers_s.c_str(),
               p.any_tier.empty() ? nullptr : p.any_tier.c_str(), now.c_str(), hs.c_str(),
               ds.c_str(), ttl.c_str(), attempt > 0 ? "true" : "false"},
              d);
          return parse_lease(r, 0, req);
        } catch (const Failure& f) {
          if (f.sent && session_gone(f)) unanswered.push_back({c.backend_pid(), c.backend_start()});
          throw;
        }
      });
    } catch (const Error&) {
      note_in_doubt({&req.lease_id}, unanswered);
      throw;
    }
  }

  // Results in batch order; nullopt for a lease that has to wait for a row lock, which a batch
  // never does (lease_many() in pg_schema.cpp): the caller sends those alone.
  std::vector<std::optional<LeaseResult>> lease_many(const std::vector<Pending*>& batch) {
    ArrayBuilder ids, campaigns, agents, dests, npas, noff, nlen, bounds, boff, tiers, toff, tlen,
        any, now, hs, ds, ttl;
    Deadline deadline = batch.front()->deadline;
    std::int64_t n_at = 1, b_at = 1, t_at = 1;
    for (const Pending* p : batch) {
      const LeaseRequest& r = *p->req;
      ids.add_text(r.lease_id);
      campaigns.add_text(r.campaign);
      agents.add_text(r.agent);
      dests.add_text(r.destination);
      for (auto v : p->npas) npas.add(v);
      noff.add(n_at);
      nlen.add(static_cast<std::int64_t>(p->npas.size()));
      n_at += static_cast<std::int64_t>(p->npas.size());
      for (auto v : p->bounds) bounds.add(v);
      boff.add(b_at);
      b_at += static_cast<std::int64_t>(p->bounds.size());
      for (auto v : p->tiers) tiers.add(v);
      toff.add(t_at);
      tlen.add(static_cast<std::int64_t>(p->tiers.size()));
      t_at += static_cast<std::int64_t>(p->tiers.size());
      any.raw(p->any_tier.empty() ? "NULL" : p->any_tier);
      now.add(to_unix_ms(r.windows.now));
      hs.add(r.windows.hour_start);
      ds.add(r.windows.day_start);
      ttl.add(r.ttl.count());
      deadline.at = std::min(deadline.at, p->deadline.at);
    }
    const std::vector<std::string> params = {
        ids.str(),  campaigns.str(), agents.str(), dests.str(), npas.str(), noff.str(),
        nlen.str(), bounds.str(),    boff.str(),   tiers.str(), toff.str(), tlen.str(),
        any.str(),  now.str(),       hs.str(),     ds.str(),    ttl.str()};
    std::vector<Session> unanswered;
    try {
      return run_until("lease", deadline, [&](Conn& c, Deadline d, int attempt) {
        std::vector<const char*> ptrs;
        for (const auto& v : params) ptrs.push_back(v.c_str());
        ptrs.push_back(attempt > 0 ? "true" : "false");
        try {
          Result r = c.exec_prepared(kLeaseMany, sql_[kLeaseMany], ptrs, d);
          if (r.rows() != static_cast<int>(batch.size())) {
            throw Failure{Failure::kSql, "lease_many returned a short result", "XX000", true};
          }
          std::vector<std::optional<LeaseResult>> out;
          for (std::size_t i = 0; i < batch.size(); ++i) {
            if (r.i64(static_cast<int>(i), 0) == kMustWait) {
              out.emplace_back();
            } else {
              out.push_back(parse_lease(r, static_cast<int>(i), *batch[i]->req));
            }
          }
          return out;
        } catch (const Failure& f) {
          if (f.sent && session_gone(f)) unanswered.push_back({c.backend_pid(), c.backend_start()});
          throw;
        }
      });
    } catch (const Error&) {
      std::vector<const std::string*> all;
      for (const Pending* p : batch) all.push_back(&p->req->lease_id);
      note_in_doubt(all, unanswered);
      throw;
    }
  }

  // Every lease moves a number's entry from the head of the (npa, last_used) index to its tail
  // and leaves a dead entry at the head, which only VACUUM removes; each pick walks over them.
  // Autovacuum wakes once a minute at best (autovacuum_naptime, a server-wide setting), by then
  // a pick reads hundreds of index pages. So the store vacuums its two tables itself after
  // kVacuumAfter leases, on its own session (lease calls never wait for it), one process at a
  // time (a try-lock: the others skip their turn).
  void maintenance_loop() {
    std::unique_ptr<Conn> conn;
    std::unique_lock<std::mutex> lock(maint_mu_);
    while (!stopping_) {
      maint_cv_.wait_for(lock, std::chrono::seconds(1));
      if (stopping_) break;
      if (leases_since_vacuum_.load(std::memory_order_relaxed) < kVacuumAfter) continue;
      leases_since_vacuum_.store(0, std::memory_order_relaxed);
      lock.unlock();
      try {
        const Deadline d = Deadline::in(std::max(timeout_, std::chrono::milliseconds(30000)));
        if (!conn || !conn->healthy()) conn = Conn::open(pool_.settings(), d);
        const std::string key = "1667851379, hashtext('" + schema_ + "')";
        if (conn->exec("SELECT pg_try_advisory_lock(" + key + ")", d).boolean(0, 0)) {
          try {
            // Not bounded by statement_timeout (timeout_ms is sized for a lease, not a vacuum);
            // VACUUM never blocks leases, and the client deadline still bounds the wait.
            // One statement per call: VACUUM refuses to run in a multi-statement string.
            conn->exec("SET statement_timeout = 0", d);
            conn->exec(with_schema("VACUUM (SKIP_LOCKED) @S@.numbers, @S@.leases", quoted_), d);
            conn->exec("RESET statement_timeout", d);
          } catch (const Failure&) {
          }
          conn->exec("SELECT pg_advisory_unlock(" + key + ")", d);
        }
      } catch (const Failure&) {
        conn.reset();  // server away: try again after the next batch of leases
      }
      lock.lock();
    }
  }

  Error to_error(const Failure& f, const char* op) const {
    const std::string where =
        std::string("postgresql ") + op + " (" + pool_.settings().target + "): ";
    switch (f.kind) {
      case Failure::kConnect:
        return Error(ErrorCode::kBackendUnavailable, where + "cannot connect: " + f.message);
      case Failure::kTimeout:
        return Error(ErrorCode::kBackendUnavailable, where + "no answer within " +
                                                         std::to_string(timeout_.count()) +
                                                         " ms (" + f.message + ")");
      case Failure::kLost:
        return Error(ErrorCode::kBackendUnavailable, where + "connection lost: " + f.message);
      case Failure::kSql:
        break;
    }
    const std::string& s = f.sqlstate;
    if (s == "57014") {
      return Error(ErrorCode::kBackendUnavailable,
                   where + "timed out after " + std::to_string(timeout_.count()) + " ms");
    }
    if (s.rfind("08", 0) == 0 || s.rfind("57P", 0) == 0 || s.rfind("53", 0) == 0) {
      return Error(ErrorCode::kBackendUnavailable, where + f.message + " [" + s + "]");
    }
    if (s == "40001" || s == "40P01") {
      return Error(ErrorCode::kConflict, where + f.message + " [" + s + "]");
    }
    if (s == "23505" && std::string(op) == "lease") {
      return Error(ErrorCode::kConflict, "lease_id: already in use", "lease_id");
    }
    return Error(ErrorCode::kInternal, where + f.message + " [" + s + "]");
  }

  void migrate(Conn& c, Deadline d, std::int64_t budget_ms) {
    const std::string table = quoted_ + ".schema_version";
    // Fast path without DDL (and without needing CREATE rights) when the schema is current.
    Result have = c.exec_params("SELECT to_regclass($1) IS NOT NULL", {table.c_str()}, d);
    if (have.boolean(0, 0)) {
      Result v = c.exec("SELECT coalesce(max(version), 0) FROM " + table, d);
      const std::int64_t version = v.i64(0, 0);
      if (version == kSchemaVersion) return;
      check_not_newer(version);
    }
    // Serialise first-time creation and upgrades across processes: CREATE ... IF NOT EXISTS
    // alone still races (two creators can both pass the check). The lock is per schema.
    std::string sql = "BEGIN; SET LOCAL statement_timeout = " + std::to_string(budget_ms) +
                      "; SELECT pg_advisory_xact_lock(1667851378, hashtext('" + schema_ +
                      "')); CREATE SCHEMA IF NOT EXISTS " + quoted_ +
                      "; CREATE TABLE IF NOT EXISTS " + table +
                      " (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT "
                      "now()); SELECT coalesce(max(version), 0) FROM " +
                      table + ";";
    try {
      Result v = c.exec(sql, d);
      const std::int64_t version = v.i64(0, 0);
      check_not_newer(version);
      std::string apply;
      for (const Migration& m : migrations(quoted_)) {
        if (m.version <= version) continue;
        apply += m.sql + "; INSERT INTO " + table + " (version) VALUES (" +
                 std::to_string(m.version) + ");";
      }
      c.exec(apply + "COMMIT;", d);
    } catch (...) {
      // The session is in an open transaction; never hand it back to the pool like that.
      try {
        c.exec("ROLLBACK", d);
      } catch (...) {
      }
      throw;
    }
  }

  void check_not_newer(std::int64_t version) const {
    if (version > kSchemaVersion) {
      throw Error(ErrorCode::kCorrupt, "postgresql (" + pool_.settings().target + "): schema '" +
                                           schema_ + "' is at version " + std::to_string(version) +
                                           ", newer than this libcidrot understands (" +
                                           std::to_string(kSchemaVersion) + "); upgrade libcidrot");
    }
  }

  // Settles leases whose outcome was lost (see the top of this file). Best effort within the
  // caller's deadline: what cannot be settled now stays queued for the next call.
  void settle_in_doubt(const Deadline& call) {
    if (doubt_count_.load(std::memory_order_relaxed) == 0) return;
    std::unique_lock<std::mutex> settling(settle_mu_, std::try_to_lock);
    if (!settling.owns_lock()) return;
    // A quarter of the call's budget at most, so the call itself still has time to run.
    const Deadline d{std::min(call.at, Clock::now() + timeout_ / 4)};
    for (;;) {
      InDoubt item;
      {
        std::lock_guard<std::mutex> lock(doubt_mu_);
        if (in_doubt_.empty()) return;
        item = in_doubt_.front();
      }
      try {
        Pool::Handle c = pool_.acquire(d);
        for (const Session& old : item.sessions) {
          if (old.start.empty()) continue;
          const std::string pid = std::to_string(old.pid);
          const std::vector<const char*> params = {pid.c_str(), old.start.c_str()};
          c->exec_params(
              "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
              "WHERE pid = $1::integer AND backend_start::text = $2",
              params, d);
          while (c->exec_params("SELECT 1 FROM pg_stat_activity "
                                "WHERE pid = $1::integer AND backend_start::text = $2",
                                params, d)
                     .rows() > 0) {
            if (d.passed()) return;
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
          }
        }
        c->exec_prepared(kUndoLease, sql_[kUndoLease], {item.lease_id.c_str()}, d);
        std::lock_guard<std::mutex> lock(doubt_mu_);
        in_doubt_.pop_front();
        doubt_count_.fetch_sub(1);
      } catch (const Failure& f) {
        if (session_gone(f)) pool_.drop_idle();
        return;
      }
    }
  }

  Pool pool_;
  const std::chrono::milliseconds timeout_;
  const std::string schema_;
  const std::string quoted_;
  const std::vector<std::string> sql_;
  std::mutex settle_mu_;
  std::mutex doubt_mu_;
  std::deque<InDoubt> in_doubt_;
  std::atomic<int> doubt_count_{0};
  // Group commit of leases (lease()).
  static constexpr std::size_t kMaxBatch = 32;
  const int max_flushers_;
  std::mutex batch_mu_;
  std::condition_variable batch_cv_;
  std::deque<Pending*> queue_;
  int flushers_ = 0;
  // Vacuuming (maintenance_loop()).
  static constexpr std::int64_t kVacuumAfter = 2000;
  std::atomic<std::int64_t> leases_since_vacuum_{0};
  std::mutex maint_mu_;
  std::condition_variable maint_cv_;
  bool stopping_ = false;
  std::thread maint_;
};

}  // namespace
}  // namespace pg

std::shared_ptr<Store> open_postgres_store(const std::string& url) {
  const StoreUrl u = parse_store_url(url, {"pool", "timeout_ms", "schema", "sslmode"});
  if (u.scheme != "postgresql" && u.scheme != "postgres") {
    throw Error(ErrorCode::kUnsupported, "url: not a postgresql:// URL", "url");
  }
  const int pool = static_cast<int>(url_int_option(u, "pool", pg::kDefaultPool, 1, 1000));
  const int timeout_ms =
      static_cast<int>(url_int_option(u, "timeout_ms", pg::kDefaultTimeoutMs, 50, 3600000));
  std::string schema = pg::kDefaultSchema;
  if (auto it = u.query.find("schema"); it != u.query.end()) schema = it->second;
  if (!pg::valid_schema(schema)) {
    throw Error(ErrorCode::kInvalidArgument,
                "url: option 'schema' must be 1..63 letters, digits or '_', not starting with a "
                "digit",
                "url");
  }
  std::string host = u.host;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  std::string db = u.path;
  if (!db.empty() && db.front() == '/') db.erase(0, 1);
  if (db.find('/') != std::string::npos) {
    throw Error(ErrorCode::kInvalidArgument, "url: the path must be one database name", "url");
  }

  pg::ConnSettings s;
  auto set = [&s](const char* k, const std::string& v) {
    s.keys.emplace_back(k);
    s.values.push_back(v);
  };
  if (!host.empty()) set("host", host);
  if (!u.port.empty()) set("port", u.port);
  if (!db.empty()) set("dbname", db);
  if (!u.user.empty()) set("user", u.user);
  if (!u.password.empty()) set("password", u.password);
  if (auto it = u.query.find("sslmode"); it != u.query.end()) set("sslmode", it->second);
  set("application_name", "cidrot");
  // libpq's own bound (whole seconds, at least 2) backs up the deadline we enforce in poll().
  set("connect_timeout", std::to_string(std::max(2, (timeout_ms + 999) / 1000)));
  set("keepalives", "1");
  set("keepalives_idle", "30");
  set("keepalives_interval", "10");
  set("keepalives_count", "3");
  // Generic plans: the lease function's statements are re-planned on every call otherwise
  // (custom plans never look cheaper to the plan cache), which costs a third of a lease's CPU.
  set("options", "-c plan_cache_mode=force_generic_plan -c statement_timeout=" +
                     std::to_string(timeout_ms) + " -c idle_in_transaction_session_timeout=" +
                     std::to_string(std::max(timeout_ms * 2, 10000)));
  s.target = (u.user.empty() ? "" : u.user + "@") + (host.empty() ? "localhost" : host) + ":" +
             (u.port.empty() ? "5432" : u.port) + "/" + db + " schema " + schema;

  auto store = std::make_shared<pg::PostgresStore>(std::move(s), pool, timeout_ms, schema);
  store->open();
  return store;
}

}  // namespace cidrot::storage
