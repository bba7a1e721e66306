// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
//
// Differential test: the same random sequence of operations against the memory store (the
// reference implementation) and the Redis store, comparing every result. It reaches the corners
// the Lua fast paths branch on: numbers serving several campaigns or all of them, hourly and daily
// caps and their window rollovers, max_concurrent > 1, expiries, deactivation and removal while
// leased, releases by id and by caller_id, denial reasons.

#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <vector>

#include "cidrot/cidrot.h"
#include "store_checks.h"

namespace {

using cidrot::Ladder;
using cidrot::LadderStep;
using cidrot::Tier;

std::string describe(const cidrot::LeaseResult& r) {
  if (!r) return std::string("denied:") + cidrot::denial_reason_name(r.denial);
  const auto& l = *r.lease;
  return l.number.caller_id + " tier " + cidrot::tier_name(l.tier) + " exp " +
         std::to_string(cidrot::to_unix_ms(l.expires_at));
}

std::string describe(const cidrot::NumberState& s) {
  std::string c;
  for (const auto& x : s.number.campaigns) c += x + "|";
  return s.number.caller_id + " npa " + s.number.area_code + " camps " + c + " act " +
         std::to_string(s.number.active) + " mc " + std::to_string(s.number.max_concurrent) +
         " hl " + std::to_string(s.number.hourly_limit.value_or(-1)) + " dl " +
         std::to_string(s.number.daily_limit.value_or(-1)) + " car " + s.number.carrier + " meta " +
         s.number.meta_json + " lu " + std::to_string(cidrot::to_unix_ms(s.last_used)) + " tu " +
         std::to_string(s.total_uses) + " hc " + std::to_string(s.hour_count) + " dc " +
         std::to_string(s.day_count) + " al " + std::to_string(s.active_leases) + " disp " +
         s.last_disposition + " dur " + std::to_string(s.last_duration_s);
}

cidrot::Windows windows_at(std::int64_t ms) {
  cidrot::Windows w;
  w.now = cidrot::from_unix_ms(ms);
  const std::int64_t s = ms / 1000;
  w.hour_start = s - s % 3600;
  w.day_start = s - s % 86400;
  return w;
}

// The denial store.h defines, computed from the numbers' states: P = active numbers serving the
// campaign; S = members of P whose NPA is in some step (all of P if a step is kAny with no NPAs).
std::string contract_denial(cidrot::Store& store, const std::vector<std::string>& ids,
                            const cidrot::LeaseRequest& req) {
  bool any = false;
  std::vector<std::string> scope;
  for (const auto& step : *req.ladder) {
    if (step.tier == Tier::kAny && step.npas.empty()) any = true;
    for (auto npa : step.npas) scope.push_back(std::to_string(npa));
  }
  int p = 0, s = 0, capped = 0;
  std::string detail;
  for (const auto& cid : ids) {
    auto st = store.get_number(cid, req.windows);
    if (!st || !st->number.active) continue;
    const auto& c = st->number.campaigns;
    if (!c.empty() && std::find(c.begin(), c.end(), req.campaign) == c.end()) continue;
    ++p;
    if (!any && std::find(scope.begin(), scope.end(), st->number.area_code) == scope.end())
      continue;
    ++s;
    capped += st->hourly_capped() || st->daily_capped();
    detail += "\n  " + describe(*st);
  }
  if (p == 0) return "denied:pool_empty";
  if (s == 0) return "denied:no_match_in_scope";
  return (capped == s ? "denied:all_limited" : "denied:all_reserved") + detail;
}

}  // namespace

TEST_CASE("differential: Redis store matches the memory store op for op", "[redis]") {
  const std::uint32_t seed = GENERATE(1u, 2u, 3u);
  std::mt19937 rng(seed);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };

  auto mem = cidrot::open_store("memory://");
  auto red = cidrot::open_store(std::string(CIDROT_TEST_REDIS_URL) + "?prefix=diff" +
                                std::to_string(::getpid()) + "x" + std::to_string(seed) + "x" +
                                std::to_string(::time(nullptr)));

  const std::vector<std::uint16_t> npas = {212, 646, 917, 305};
  std::vector<std::string> ids;
  for (int i = 0; i < 24; ++i) {
    ids.push_back(std::to_string(npas[i % 4]) + "55501" + (i < 10 ? "0" : "") + std::to_string(i));
  }
  const std::vector<std::vector<std::string>> campaign_sets = {{}, {"a"}, {"b"}, {"a", "b"}, {"c"}};
  auto random_number = [&](const std::string& cid) {
    cidrot::Number n;
    n.caller_id = cid;
    n.area_code = cid.substr(0, 3);
    n.carrier = pick(2) ? "carrier x" : "";
    n.campaigns = campaign_sets[pick(5)];
    n.hourly_limit = pick(3) == 0 ? 0 : 1 + pick(3);
    n.daily_limit = pick(3) == 0 ? 0 : 2 + pick(4);
    n.max_concurrent = 1 + (pick(4) == 0 ? pick(3) : 0);
    n.active = pick(8) != 0;
    n.meta_json = pick(2) ? "{}" : "{\"k\":\"v\\n\"}";
    return n;
  };
  const std::vector<Ladder> ladders = {
      {LadderStep{Tier::kSameNpa, {212}}},
      {LadderStep{Tier::kSameNpa, {212}}, LadderStep{Tier::kAny, {}}},
      {LadderStep{Tier::kOverlay, {646, 917}}, LadderStep{Tier::kState, {305, 212}}},
      {LadderStep{Tier::kAny, {305}}},
      {LadderStep{Tier::kAny, {}}},
      {LadderStep{Tier::kSameNpa, {}}, LadderStep{Tier::kTimeZone, {999}}},
  };
  const std::vector<std::string> campaigns = {"a", "b", "c", "d"};

  std::vector<cidrot::Number> initial;
  for (const auto& cid : ids) initial.push_back(random_number(cid));
  {
    const auto a = mem->upsert_numbers(initial), b = red->upsert_numbers(initial);
    REQUIRE(a.inserted == b.inserted);
  }

  std::int64_t now = 1767225600000 + 1800 * 1000;  // 2026-01-01 00:30 UTC
  int memory_denial_mismatches = 0;
  std::vector<std::string> leases;
  for (int op = 0; op < 1500; ++op) {
    now += pick(5) == 0 ? 1000 * (60 + pick(1800)) : 1000 * pick(20);
    const auto w = windows_at(now);
    const int kind = pick(100);
    INFO("seed " << seed << " op " << op << " kind " << kind << " now " << now);
    if (kind < 45) {
      cidrot::LeaseRequest req;
      req.lease_id = cidrot::make_lease_id();
      req.campaign = campaigns[pick(4)];
      req.agent = "ag";
      req.destination = "2125550199";
      req.ladder = &ladders[pick(static_cast<int>(ladders.size()))];
      req.windows = w;
      req.ttl = std::chrono::milliseconds(1000 * (30 + pick(900)));
      const auto a = mem->lease(req);
      const auto b = red->lease(req);
      if (!a && !b) {
        // Denials are judged against store.h's definition, computed here from the numbers' states
        // (the memory store has been seen to miscount capped numbers; that is reported, not
        // failed on, as this suite tests the Redis store).
        const std::string expected = contract_denial(*mem, ids, req);
        const auto head = expected.substr(0, expected.find('\n'));
        INFO("campaign " << req.campaign << ", in scope:" << expected);
        CHECK(describe(b) == head);
        if (describe(a) != head) {
          ++memory_denial_mismatches;
          WARN("memory store denial differs from store.h: " << describe(a) << " vs " << head);
        }
      } else {
        REQUIRE(describe(a) == describe(b));
      }
      if (a) leases.push_back(req.lease_id);
    } else if (kind < 65 && !leases.empty()) {
      const auto i = static_cast<std::size_t>(pick(static_cast<int>(leases.size())));
      cidrot::ReleaseRequest rel;
      rel.lease_id = leases[i];
      rel.now = w.now;
      if (pick(2)) rel.outcome = {pick(2) ? "answered" : "busy", pick(100)};
      REQUIRE(mem->release(rel) == red->release(rel));
      leases.erase(leases.begin() + static_cast<std::ptrdiff_t>(i));
    } else if (kind < 70) {
      cidrot::ReleaseRequest rel;
      rel.caller_id = ids[static_cast<std::size_t>(pick(24))];
      rel.now = w.now;
      if (pick(2)) rel.outcome = {"no_answer", -1};
      REQUIRE(mem->release(rel) == red->release(rel));
    } else if (kind < 78) {
      std::vector<cidrot::Number> batch;
      for (int k = 0; k < 1 + pick(3); ++k) batch.push_back(random_number(ids[pick(24)]));
      const auto a = mem->upsert_numbers(batch), b = red->upsert_numbers(batch);
      REQUIRE(a.inserted == b.inserted);
      REQUIRE(a.updated == b.updated);
    } else if (kind < 84) {
      const auto& cid = ids[static_cast<std::size_t>(pick(24))];
      const bool active = pick(3) != 0;
      REQUIRE(mem->set_active(cid, active) == red->set_active(cid, active));
    } else if (kind < 86) {
      const auto& cid = ids[static_cast<std::size_t>(pick(24))];
      REQUIRE(mem->remove_number(cid) == red->remove_number(cid));
    } else if (kind < 90) {
      REQUIRE(mem->expire(w.now) == red->expire(w.now));
    } else if (kind < 97) {
      const auto& cid = ids[static_cast<std::size_t>(pick(24))];
      const auto a = mem->get_number(cid, w), b = red->get_number(cid, w);
      REQUIRE(a.has_value() == b.has_value());
      if (a) REQUIRE(describe(*a) == describe(*b));
    } else {
      cidrot::ListQuery q;
      q.limit = 1000;
      q.sort = cidrot::SortKey::kLastUsed;
      const auto a = mem->list_numbers(q, w), b = red->list_numbers(q, w);
      REQUIRE(a.total == b.total);
      for (std::size_t i = 0; i < a.items.size(); ++i) {
        REQUIRE(describe(a.items[i]) == describe(b.items[i]));
      }
      cidrot::testing::check_same_stats(mem->stats(w), red->stats(w));
      const auto la = mem->list_leases(w.now, 1000), lb = red->list_leases(w.now, 1000);
      REQUIRE(la.size() == lb.size());
      for (std::size_t i = 0; i < la.size(); ++i) {
        CHECK(la[i].id == lb[i].id);
        CHECK(la[i].number.caller_id == lb[i].number.caller_id);
        CHECK(la[i].agent == lb[i].agent);
        CHECK(la[i].tier == lb[i].tier);
      }
    }
  }
  if (memory_denial_mismatches > 0) {
    WARN(memory_denial_mismatches << " memory-store denial reason(s) differed from store.h");
  }
}
