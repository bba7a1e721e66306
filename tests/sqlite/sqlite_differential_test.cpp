// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// The memory store (the reference implementation) and the SQLite store driven through the same
// random sequence of operations must answer alike at every step: the same number or the same
// denial reason, the same release counts, the same counters. Both keep their own fast paths
// (the memory store's queues, runs and lease slabs; SQLite's in-memory order, lease registry and
// changes log), so this checks them against each other over sequences no hand-written case
// covers: caps crossing hour and day boundaries, expiries, re-configured and removed numbers.
#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <vector>

#include "cidrot/cidrot.h"
#include "store_checks.h"
#include "test_util.h"

using namespace cidrot;
using namespace cidrot::sqlite_test;

namespace {

const std::vector<Ladder>& ladders() {
  static const std::vector<Ladder> all = {
      {LadderStep{Tier::kSameNpa, {212}}, LadderStep{Tier::kOverlay, {646, 332}},
       LadderStep{Tier::kAny, {}}},
      {LadderStep{Tier::kSameNpa, {415}}, LadderStep{Tier::kNearby, {628, 510}}},
      {LadderStep{Tier::kAny, {}}},
      {LadderStep{Tier::kSameNpa, {510}}},
  };
  return all;
}

const char* const kCampaigns[] = {"a", "b", "c"};
const char* const kNpas[] = {"212", "646", "332", "415", "628", "510"};

struct Driver {
  std::mt19937_64 rng;
  std::shared_ptr<Store> mem = open_store("memory://");
  std::shared_ptr<Store> sql = open_store("sqlite://" + fresh_dir() + "/diff.db");
  std::int64_t now_s = 1'800'000'000 - 1'800'000'000 % 86400 + 600;
  std::vector<std::string> leases;   // ids handed out (live or not)
  std::vector<std::string> numbers;  // caller_ids ever added

  explicit Driver(std::uint64_t seed) : rng(seed) {}

  std::int64_t pick(std::int64_t n) { return static_cast<std::int64_t>(rng() % n); }

  Windows windows() const {
    return Windows{std::chrono::system_clock::from_time_t(now_s), now_s - now_s % 3600,
                   now_s - now_s % 86400};
  }

  Number random_number(const std::string& caller_id) {
    static const std::vector<std::vector<std::string>> campaign_sets = {
        {}, {"a"}, {"b"}, {"a", "b"}};
    return make_number(caller_id, pick(3) == 0 ? 2 + pick(3) : 0, pick(4) == 0 ? 5 : 0,
                       pick(4) == 0 ? 2 : 1, campaign_sets[pick(4)]);
  }

  void upsert(int count) {
    std::vector<Number> batch;
    for (int i = 0; i < count; ++i) {
      std::string cid;
      if (!numbers.empty() && pick(3) == 0) {
        cid = numbers[pick(static_cast<std::int64_t>(numbers.size()))];
      } else {
        cid = std::string(kNpas[pick(6)]) + "555" + std::to_string(1000 + pick(9000));
        numbers.push_back(cid);
      }
      batch.push_back(random_number(cid));
    }
    UpsertResult a = mem->upsert_numbers(batch), b = sql->upsert_numbers(batch);
    REQUIRE(a.inserted == b.inserted);
    REQUIRE(a.updated == b.updated);
  }

  void lease() {
    LeaseRequest req;
    req.lease_id = make_lease_id();
    req.campaign = kCampaigns[pick(3)];
    req.agent = "agent";
    req.destination = "2125550199";
    const std::size_t ladder = static_cast<std::size_t>(pick(4));
    req.ladder = &ladders()[ladder];
    req.windows = windows();
    req.ttl = std::chrono::seconds(30 + pick(900));
    LeaseResult a = mem->lease(req), b = sql->lease(req);
    INFO("lease for campaign " << req.campaign << " with ladder " << ladder);
    if (a && b && a.lease->number.caller_id != b.lease->number.caller_id) {
      for (const auto& cid : {a.lease->number.caller_id, b.lease->number.caller_id}) {
        auto x = mem->get_number(cid, req.windows), y = sql->get_number(cid, req.windows);
        std::string camps;
        for (auto& c : x->number.campaigns) camps += c + ",";
        camps += " / sql: ";
        for (auto& c : y->number.campaigns) camps += c + ",";
        WARN(cid << " camps " << camps << " mem last_used "
                 << x->last_used.time_since_epoch().count() << " uses " << x->total_uses
                 << " leases " << x->active_leases << " active " << x->number.active
                 << " | sql last_used " << y->last_used.time_since_epoch().count() << " uses "
                 << y->total_uses << " leases " << y->active_leases << " active "
                 << y->number.active);
      }
    }
    REQUIRE(static_cast<bool>(a) == static_cast<bool>(b));
    if (a) {
      REQUIRE(a.lease->number.caller_id == b.lease->number.caller_id);
      REQUIRE(a.lease->tier == b.lease->tier);
      leases.push_back(req.lease_id);
    } else {
      REQUIRE(denial_reason_name(a.denial) == std::string(denial_reason_name(b.denial)));
    }
  }

  void release() {
    ReleaseRequest req;
    req.now = windows().now;
    if (pick(3) == 0 && !numbers.empty()) {
      req.caller_id = numbers[pick(static_cast<std::int64_t>(numbers.size()))];
    } else if (!leases.empty()) {
      req.lease_id = leases[pick(static_cast<std::int64_t>(leases.size()))];
    } else {
      return;
    }
    REQUIRE(mem->release(req) == sql->release(req));
  }

  void configure() {
    if (numbers.empty()) return;
    const std::string cid = numbers[pick(static_cast<std::int64_t>(numbers.size()))];
    if (pick(4) == 0) {
      REQUIRE(mem->remove_number(cid) == sql->remove_number(cid));
    } else {
      const bool active = pick(3) != 0;
      REQUIRE(mem->set_active(cid, active) == sql->set_active(cid, active));
    }
  }

  void compare_all() {
    const Windows w = windows();
    for (const std::string& cid : numbers) {
      std::optional<NumberState> a = mem->get_number(cid, w), b = sql->get_number(cid, w);
      INFO("number " << cid);
      REQUIRE(a.has_value() == b.has_value());
      if (!a) continue;
      CHECK(a->total_uses == b->total_uses);
      CHECK(a->hour_count == b->hour_count);
      CHECK(a->day_count == b->day_count);
      CHECK(a->active_leases == b->active_leases);
      CHECK(a->last_used == b->last_used);
      CHECK(a->number.active == b->number.active);
      CHECK(a->number.campaigns == b->number.campaigns);
      CHECK(a->number.hourly_limit == b->number.hourly_limit);
      CHECK(a->number.max_concurrent == b->number.max_concurrent);
    }
    testing::check_same_stats(mem->stats(w), sql->stats(w));
  }
};

}  // namespace

TEST_CASE("the SQLite store answers every operation as the memory store does", "[store]") {
  for (std::uint64_t seed : {1u, 2u, 3u, 4u, 5u, 6u}) {
    Driver d(seed);
    d.upsert(40);
    d.compare_all();
    for (int step = 0; step < 3000; ++step) {
      INFO("seed " << seed << ", step " << step);
      const std::int64_t op = d.pick(100);
      if (op < 55) {
        d.lease();
      } else if (op < 80) {
        d.release();
      } else if (op < 88) {
        d.now_s += d.pick(400);  // sometimes across an hour, now and then a day
        if (d.pick(20) == 0) d.now_s += 86400 - d.pick(7200);
      } else if (op < 94) {
        d.configure();
      } else if (op < 97) {
        d.upsert(1 + static_cast<int>(d.pick(5)));
      } else {
        d.compare_all();
      }
    }
    d.compare_all();
  }
}
