// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
//
// The Redis store: every write is one EVALSHA of script.lua (the data layout is documented there),
// so selection, lease and counters are one atomic step on the server that any number of processes
// and hosts share. Reads that may be O(n) (list_numbers, stats) first expire leases in a script,
// then read numbers in pipelined chunks so a large pool never blocks the server for long; each
// number is read consistently, the page as a whole is not a snapshot.

#include <hiredis/hiredis.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <map>
#include <mutex>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "backends.h"
#include "cidrot/error.h"
#include "cidrot/store.h"
#include "lease_result.h"
#include "list_page.h"
#include "redis_client.h"
#include "url.h"

namespace cidrot::storage {
namespace redis {
extern const char* const kStoreScript;
}  // namespace redis

namespace {

using redis::Args;
using redis::Connection;
using redis::Deadline;
using redis::Reply;

constexpr std::int64_t kLayoutVersion = 1;
constexpr std::size_t kChunk = 512;

// The fields op_get returns and list/stats read, in this order (script.lua documents them).
constexpr const char* kAllFields[] = {"npa", "cfg", "u", "ls", "o"};
enum Field { kNpa, kCfg, kUsage, kLeases, kOutcome, kFieldCount };

std::string str(const redisReply* r) {
  if (r == nullptr || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS)) return {};
  return std::string(r->str, r->len);
}

std::int64_t num(const redisReply* r, std::int64_t fallback = 0) {
  if (r == nullptr) return fallback;
  if (r->type == REDIS_REPLY_INTEGER) return r->integer;
  if (r->type != REDIS_REPLY_STRING) return fallback;
  std::int64_t v = fallback;
  std::from_chars(r->str, r->str + r->len, v);
  return v;
}

void expect_array(const redisReply* r, std::size_t min_elements, const char* what) {
  if (r->type != REDIS_REPLY_ARRAY || r->elements < min_elements) {
    throw Error(ErrorCode::kInternal, std::string("redis: unexpected reply to ") + what);
  }
}

std::vector<std::string> split_campaigns(const std::string& joined) {
  std::vector<std::string> out;
  for (std::size_t pos = 0; pos < joined.size();) {
    auto comma = joined.find(',', pos);
    if (comma == std::string::npos) comma = joined.size();
    if (comma > pos) out.push_back(joined.substr(pos, comma - pos));
    pos = comma + 1;
  }
  return out;
}

// Reads up to n space-separated integers from `text` starting at *pos.
void read_ints(const std::string& text, std::size_t* pos, std::int64_t* out, int n) {
  for (int i = 0; i < n; ++i) {
    while (*pos < text.size() && text[*pos] == ' ') ++*pos;
    const char* b = text.data() + *pos;
    auto [p, ec] = std::from_chars(b, text.data() + text.size(), out[i]);
    if (ec != std::errc()) throw Error(ErrorCode::kCorrupt, "redis: malformed number record");
    *pos = static_cast<std::size_t>(p - text.data());
  }
}

// Fills a Number's configuration from its npa and cfg fields (script.lua: "<act> <mc> <hl> <dl>
// <#carrier> <#camps>\n" carrier camps meta).
void fill_config(Number* n, const redisReply* npa, const redisReply* cfg) {
  const std::string c = str(cfg);
  std::size_t pos = 0;
  std::int64_t h[6] = {};
  read_ints(c, &pos, h, 6);
  if (pos >= c.size() || c[pos] != '\n' || h[4] < 0 || h[5] < 0 ||
      pos + 1 + static_cast<std::size_t>(h[4] + h[5]) > c.size()) {
    throw Error(ErrorCode::kCorrupt, "redis: malformed number record");
  }
  ++pos;
  n->area_code = str(npa);
  n->active = h[0] == 1;
  n->max_concurrent = static_cast<std::int32_t>(h[1]);
  n->hourly_limit = h[2];
  n->daily_limit = h[3];
  n->carrier = c.substr(pos, static_cast<std::size_t>(h[4]));
  pos += static_cast<std::size_t>(h[4]);
  n->campaigns = split_campaigns(c.substr(pos, static_cast<std::size_t>(h[5])));
  pos += static_cast<std::size_t>(h[5]);
  n->meta_json = c.substr(pos);
}

// A NumberState from the kAllFields of one number, with counts as of `w`.
NumberState state_from(const std::string& cid, redisReply* const* e, const Windows& w) {
  NumberState st;
  st.number.caller_id = cid;
  fill_config(&st.number, e[kNpa], e[kCfg]);
  // u: last_used hw hc dw dc active_leases total_uses
  const std::string u = str(e[kUsage]);
  std::size_t pos = 0;
  std::int64_t f[7] = {};
  read_ints(u, &pos, f, 7);
  st.last_used = from_unix_ms(f[0]);
  st.hour_count = f[1] == w.hour_start ? f[2] : 0;
  st.day_count = f[3] == w.day_start ? f[4] : 0;
  st.active_leases = static_cast<std::int32_t>(f[5]);
  st.total_uses = f[6];
  // o: duration_s disposition
  const std::string o = str(e[kOutcome]);
  const auto space = o.find(' ');
  if (space != std::string::npos) {
    std::from_chars(o.data(), o.data() + space, st.last_duration_s);
    st.last_disposition = o.substr(space + 1);
  }
  return st;
}

std::string npa_text(const Number& n) {
  const std::string& a = n.area_code.empty() ? n.caller_id.substr(0, 3) : n.area_code;
  int v = 0;
  auto [p, ec] = std::from_chars(a.data(), a.data() + a.size(), v);
  if (ec != std::errc() || p != a.data() + a.size() || v < 0 || v > 999) {
    throw Error(ErrorCode::kInvalidArgument, "area_code: '" + a.substr(0, 16) + "' is not an NPA",
                "area_code");
  }
  return std::to_string(v);
}

class RedisStore final : public Store {
 public:
  RedisStore(redis::Endpoint endpoint, int pool_size, std::chrono::milliseconds timeout,
             const std::string& prefix)
      : base_("{" + prefix + "}:"),
        pool_(std::move(endpoint), pool_size, timeout, redis::kStoreScript) {}

  void open() {
    pool_.start(deadline());
    Args a = script("init");
    a.add(kLayoutVersion);
    const std::int64_t v = num(call(a, deadline()).get(), -1);
    if (v != kLayoutVersion) {
      throw Error(ErrorCode::kCorrupt, "redis " + pool_.endpoint().display + ": keys under " +
                                           base_ + " have data layout " + std::to_string(v) +
                                           ", this build reads " + std::to_string(kLayoutVersion) +
                                           " (newer cidrot, or use another ?prefix=)");
    }
  }

  std::string backend_name() const override { return "redis"; }

  UpsertResult upsert_numbers(const std::vector<Number>& numbers) override {
    if (numbers.empty()) return {};
    Args a = script("upsert");
    a.add(static_cast<std::int64_t>(numbers.size()));
    for (const Number& n : numbers) {
      std::string camps;
      for (const std::string& c : n.campaigns) {
        if (c.empty() || c.find(',') != std::string::npos) {
          throw Error(ErrorCode::kInvalidArgument,
                      "campaigns: '" + c.substr(0, 64) + "' is not a campaign name", "campaigns");
        }
        camps += (camps.empty() ? "" : ",") + c;
      }
      if (n.hourly_limit.value_or(0) < 0 || n.daily_limit.value_or(0) < 0 || n.max_concurrent < 0) {
        throw Error(ErrorCode::kInvalidArgument,
                    "number " + n.caller_id.substr(0, 16) + ": limits must not be negative",
                    n.max_concurrent < 0 ? "max_concurrent" : "hourly_limit");
      }
      a.add(n.caller_id).add(npa_text(n)).add(n.carrier).add(camps);
      a.add(n.hourly_limit.value_or(0)).add(n.daily_limit.value_or(0));
      a.add(static_cast<std::int64_t>(n.max_concurrent)).add(n.active ? "1" : "0").add(n.meta_json);
    }
    // A large import runs as one script (all-or-nothing): allow it time in proportion, with room
    // for a loaded server (measured 20-190 us per number on the reference machine, idle to busy).
    const auto extra = std::chrono::microseconds(250 * static_cast<std::int64_t>(numbers.size()));
    Reply r = call(a, deadline() + extra);
    expect_array(r.get(), 2, "upsert");
    return UpsertResult{num(r->element[0]), num(r->element[1])};
  }

  bool set_active(const std::string& caller_id, bool active) override {
    Args a = script("active");
    a.add(caller_id).add(active ? "1" : "0");
    return num(call(a, deadline()).get()) == 1;
  }

  bool remove_number(const std::string& caller_id) override {
    Args a = script("remove");
    a.add(caller_id);
    return num(call(a, deadline()).get()) == 1;
  }

  std::optional<NumberState> get_number(const std::string& caller_id,
                                        const Windows& windows) override {
    Args a = script("get");
    a.add(to_unix_ms(windows.now)).add(caller_id);
    Reply r = call(a, deadline());
    expect_array(r.get(), kFieldCount, "get");
    if (r->element[0]->type == REDIS_REPLY_NIL) return std::nullopt;
    return state_from(caller_id, r->element, windows);
  }

  ListPage list_numbers(const ListQuery& q, const Windows& windows) override {
    expire(windows.now);
    std::vector<std::string> ids = caller_ids(q.caller_id_prefix);
    std::vector<NumberState> states;
    read_numbers(ids, windows, [&](NumberState&& st) { states.push_back(std::move(st)); });
    return detail::make_list_page(std::move(states), q);
  }

  LeaseResult lease(const LeaseRequest& req) override {
    detail::check_lease_request(req);
    const std::int64_t now_ms = to_unix_ms(req.windows.now);
    // The ladder as one argument, "tier:npa,npa;..." (script.lua parses only the steps it tries).
    std::string ladder;
    ladder.reserve(64);
    for (const LadderStep& step : *req.ladder) {
      ladder += static_cast<char>('0' + static_cast<int>(step.tier));
      ladder += ':';
      for (std::size_t i = 0; i < step.npas.size(); ++i) {
        if (i > 0) ladder += ',';
        ladder += std::to_string(step.npas[i]);
      }
      ladder += ';';
    }
    auto build = [&](bool retry) {
      Args a = script("lease");
      a.add(now_ms).add(req.windows.hour_start).add(req.windows.day_start);
      a.add(req.lease_id).add(req.campaign).add(req.agent).add(req.destination);
      a.add(now_ms + static_cast<std::int64_t>(req.ttl.count())).add(retry ? "1" : "0");
      a.add(ladder);
      return a;
    };
    bool maybe_ran = false;
    Reply r;
    try {
      r = pool_.with(deadline(), [&](Connection& c, bool retry) {
        flush_orphans(c);
        try {
          return c.eval(build(retry));
        } catch (...) {
          maybe_ran = maybe_ran || c.dead();
          throw;
        }
      });
    } catch (const Error& e) {
      // The script may have run before the connection broke: release that lease as soon as the
      // server answers again (its TTL ends it otherwise), so a failed call leaves nothing behind.
      if (maybe_ran && e.code() == ErrorCode::kBackendUnavailable) {
        std::lock_guard<std::mutex> lock(orphans_mu_);
        orphans_.push_back(Orphan{req.lease_id, now_ms, static_cast<std::int64_t>(req.ttl.count()),
                                  req.windows.hour_start, req.windows.day_start});
        has_orphans_.store(true);
      }
      throw;
    }
    expect_array(r.get(), 1, "lease");
    const std::int64_t status = num(r->element[0]);
    LeaseResult result;
    if (status == -1) {
      throw Error(ErrorCode::kConflict, "lease_id: already in use", "lease_id");
    }
    if (status == 0) {
      expect_array(r.get(), 2, "lease");
      switch (num(r->element[1])) {
        case 0:
          result.denial = DenialReason::kPoolEmpty;
          break;
        case 1:
          result.denial = DenialReason::kAllReserved;
          break;
        case 2:
          result.denial = DenialReason::kAllLimited;
          break;
        default:
          result.denial = DenialReason::kNoMatchInScope;
          break;
      }
      return result;
    }
    expect_array(r.get(), 6, "lease");
    Lease& l = detail::grant(&result, req, req.windows.now, from_unix_ms(num(r->element[3])),
                             static_cast<Tier>(num(r->element[2])));
    l.number.caller_id = str(r->element[1]);
    fill_config(&l.number, r->element[4], r->element[5]);
    return result;
  }

  std::int64_t release(const ReleaseRequest& req) override {
    if (!req.lease_id.empty() && !is_lease_id(req.lease_id)) return 0;
    if (req.lease_id.empty() && req.caller_id.empty()) return 0;
    Args a = script("release");
    a.add(to_unix_ms(req.now)).add(req.lease_id).add(req.lease_id.empty() ? req.caller_id : "");
    a.add(req.outcome.disposition).add(req.outcome.duration_s);
    return num(call(a, deadline()).get());
  }

  std::int64_t expire(TimePoint now) override {
    Args a = script("expire");
    a.add(to_unix_ms(now));
    return num(call(a, deadline()).get());
  }

  std::vector<Lease> list_leases(TimePoint now, std::int64_t limit) override {
    std::vector<Lease> out;
    if (limit <= 0) return out;
    Args a = script("leases");
    a.add(to_unix_ms(now)).add(std::min<std::int64_t>(limit, 1000000));
    Reply r = call(a, deadline() + std::chrono::microseconds(5 * limit));
    expect_array(r.get(), 0, "leases");
    for (std::size_t i = 0; i < r->elements; ++i) {
      const redisReply* e = r->element[i];
      expect_array(e, 4, "leases");
      // record: cid \n campaign \n leased_at \n expires \n tier \n destination \n agent
      const std::string rec = str(e->element[1]);
      std::vector<std::string> f;
      std::size_t pos = 0;
      for (int k = 0; k < 6; ++k) {
        const auto nl = rec.find('\n', pos);
        if (nl == std::string::npos) break;
        f.push_back(rec.substr(pos, nl - pos));
        pos = nl + 1;
      }
      if (f.size() != 6) throw Error(ErrorCode::kCorrupt, "redis: malformed lease record");
      Lease l;
      l.id = str(e->element[0]);
      l.number.caller_id = f[0];
      fill_config(&l.number, e->element[2], e->element[3]);
      l.campaign = f[1];
      l.leased_at = from_unix_ms(std::atoll(f[2].c_str()));
      l.expires_at = from_unix_ms(std::atoll(f[3].c_str()));
      l.tier = static_cast<Tier>(std::atoi(f[4].c_str()));
      l.destination = f[5];
      l.agent = rec.substr(pos);
      out.push_back(std::move(l));
    }
    return out;
  }

  StoreStats stats(const Windows& windows) override {
    expire(windows.now);
    StoreStats st;
    std::map<std::uint16_t, AreaCodeStats> by_npa;
    read_numbers(caller_ids(""), windows, [&](NumberState&& s) {
      ++st.numbers;
      st.total_uses += s.total_uses;
      if (s.active_leases > 0) ++st.leased_numbers;
      st.active_leases += s.active_leases;
      if (!s.number.active) {
        ++st.disabled;
        return;
      }
      ++st.active;
      const bool hourly = s.hourly_capped(), daily = s.daily_capped();
      st.capped_hourly += hourly;
      st.capped_daily += daily;
      const auto npa = static_cast<std::uint16_t>(std::atoi(s.number.area_code.c_str()));
      AreaCodeStats& a = by_npa[npa];
      a.npa = npa;
      ++a.numbers;
      a.available += !hourly && !daily && s.active_leases < s.number.max_concurrent;
    });
    for (const auto& [npa, a] : by_npa) st.area_codes.push_back(a);

    // Active leases by campaign: the lease records, read in chunks like the numbers.
    Args range;
    range.add("ZRANGE").add(base_ + "x").add("0").add("-1");
    Reply ids = run(range);
    std::map<std::string, std::int64_t> by_campaign;
    for (std::size_t i = 0; i < ids->elements; i += kChunk) {
      std::vector<Args> cmds;
      for (std::size_t j = i; j < std::min(ids->elements, i + kChunk); ++j) {
        Args g;
        g.add("GET").add(base_ + "l:" + str(ids->element[j]));
        cmds.push_back(std::move(g));
      }
      auto replies = pool_.with(deadline(), [&](Connection& c, bool) { return c.pipeline(cmds); });
      for (const Reply& rec : replies) {
        const std::string s = str(rec.get());
        const auto a = s.find('\n');
        if (a == std::string::npos) continue;  // released since the range was read
        const auto b = s.find('\n', a + 1);
        ++by_campaign[s.substr(a + 1, b - a - 1)];
      }
    }
    st.leases_by_campaign.assign(by_campaign.begin(), by_campaign.end());
    return st;
  }

  void ping() override {
    Args a;
    a.add("PING");
    run(a);
  }

 private:
  Deadline deadline() const { return redis::Clock::now() + pool_.timeout(); }

  // Args for the store script: two placeholders for EVALSHA <sha>, one key, the operation.
  Args script(const char* op) const {
    Args a;
    a.add("").add("").add("1").add(base_).add(op);
    return a;
  }

  Reply call(const Args& a, Deadline dl) {
    return pool_.with(dl, [&](Connection& c, bool) {
      flush_orphans(c);
      return c.eval(a);
    });
  }

  Reply run(const Args& a) {
    return pool_.with(deadline(), [&](Connection& c, bool) { return c.run(a); });
  }

  // Ends leases whose lease call failed after it may have run (see lease()), or makes sure that
  // call leases nothing if the server has yet to run it.
  void flush_orphans(Connection& c) {
    if (!has_orphans_.load(std::memory_order_relaxed)) return;
    std::vector<Orphan> todo;
    {
      std::lock_guard<std::mutex> lock(orphans_mu_);
      todo.swap(orphans_);
      has_orphans_.store(false);
    }
    std::size_t done = 0;
    try {
      for (; done < todo.size(); ++done) {
        Args a = script("abandon");
        a.add(todo[done].now_ms).add(todo[done].lease_id).add(todo[done].ttl_ms);
        a.add(todo[done].hour_start).add(todo[done].day_start);
        c.eval(a);
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(orphans_mu_);
      orphans_.insert(orphans_.end(), todo.begin() + static_cast<std::ptrdiff_t>(done), todo.end());
      has_orphans_.store(true);
      throw;
    }
  }

  std::vector<std::string> caller_ids(const std::string& prefix) {
    Args a;
    a.add("ZRANGEBYLEX").add(base_ + "ids");
    if (prefix.empty()) {
      a.add("-").add("+");
    } else {
      a.add("[" + prefix).add("[" + prefix + "\xff");
    }
    Reply r = run(a);
    std::vector<std::string> ids;
    ids.reserve(r->elements);
    for (std::size_t i = 0; i < r->elements; ++i) ids.push_back(str(r->element[i]));
    return ids;
  }

  template <class F>
  void read_numbers(const std::vector<std::string>& ids, const Windows& w, F&& sink) {
    for (std::size_t i = 0; i < ids.size(); i += kChunk) {
      const std::size_t end = std::min(ids.size(), i + kChunk);
      std::vector<Args> cmds;
      cmds.reserve(end - i);
      for (std::size_t j = i; j < end; ++j) {
        Args a;
        a.add("HMGET").add(base_ + "n:" + ids[j]);
        for (const char* f : kAllFields) a.add(f);
        cmds.push_back(std::move(a));
      }
      auto replies = pool_.with(deadline(), [&](Connection& c, bool) { return c.pipeline(cmds); });
      for (std::size_t j = i; j < end; ++j) {
        const redisReply* r = replies[j - i].get();
        expect_array(r, kFieldCount, "HMGET");
        if (r->element[0]->type == REDIS_REPLY_NIL) continue;  // removed since the ids were read
        sink(state_from(ids[j], r->element, w));
      }
    }
  }

  const std::string base_;
  redis::Pool pool_;
  std::atomic<bool> has_orphans_{false};
  std::mutex orphans_mu_;
  struct Orphan {
    std::string lease_id;
    std::int64_t now_ms, ttl_ms;
    std::int64_t hour_start, day_start;  // the windows the lost call counted in
  };
  std::vector<Orphan> orphans_;
};

}  // namespace

std::shared_ptr<Store> open_redis_store(const std::string& url) {
  const bool unix_socket = url.compare(0, 7, "unix://") == 0 || url.compare(0, 7, "UNIX://") == 0;
  StoreUrl u = unix_socket ? parse_store_url(url, {"prefix", "pool", "timeout_ms", "db"})
                           : parse_store_url(url, {"prefix", "pool", "timeout_ms"});
  redis::Endpoint ep;
  ep.user = u.user;
  ep.password = u.password;
  if (unix_socket) {
    if (u.path.empty() || u.path == "/") {
      throw Error(ErrorCode::kInvalidArgument,
                  "url: unix:// needs a socket path (unix:///path.sock)", "url");
    }
    ep.unix_socket = true;
    ep.path = u.path;
    ep.db = url_int_option(u, "db", 0, 0, 1000000);
    ep.display = "unix://" + u.path;
  } else {
    ep.host = u.host.empty() ? "127.0.0.1" : u.host;
    if (ep.host.size() > 2 && ep.host.front() == '[' && ep.host.back() == ']') {
      ep.host = ep.host.substr(1, ep.host.size() - 2);
    }
    if (!u.port.empty()) {
      int port = 0;
      auto [p, ec] = std::from_chars(u.port.data(), u.port.data() + u.port.size(), port);
      if (ec != std::errc() || p != u.port.data() + u.port.size() || port < 1 || port > 65535) {
        throw Error(ErrorCode::kInvalidArgument, "url: port must be 1..65535", "url");
      }
      ep.port = port;
    }
    std::string db = u.path;
    if (!db.empty() && db.front() == '/') db.erase(0, 1);
    if (!db.empty()) {
      std::int64_t v = -1;
      auto [p, ec] = std::from_chars(db.data(), db.data() + db.size(), v);
      if (ec != std::errc() || p != db.data() + db.size() || v < 0 || v > 1000000) {
        throw Error(ErrorCode::kInvalidArgument,
                    "url: the path of a redis:// URL is the database number (redis://host:port/0)",
                    "url");
      }
      ep.db = v;
    }
    ep.display = ep.host + ":" + std::to_string(ep.port) + "/" + std::to_string(ep.db);
  }
  std::string prefix = "cidrot";
  if (auto it = u.query.find("prefix"); it != u.query.end()) prefix = it->second;
  if (prefix.empty() || prefix.size() > 128 || prefix.find_first_of("{}") != std::string::npos) {
    throw Error(ErrorCode::kInvalidArgument,
                "url: option 'prefix' must be 1..128 bytes without '{' or '}'", "url");
  }
  const auto pool = static_cast<int>(url_int_option(u, "pool", 8, 1, 1024));
  const auto timeout = std::chrono::milliseconds(url_int_option(u, "timeout_ms", 2000, 1, 600000));
  auto store = std::make_shared<RedisStore>(std::move(ep), pool, timeout, prefix);
  store->open();
  return store;
}

}  // namespace cidrot::storage
