// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// The storage conformance cases: numbers, rotation, limits, leases. Every backend runs these.
#include <catch2/catch.hpp>
#include <set>

#include "fixture.h"
#include "store_checks.h"

using namespace cidrot;
using namespace cidrot::conformance;
using namespace std::chrono_literals;

TEST_CASE("upsert inserts, updates, and keeps usage state", "[conformance][numbers]") {
  Fixture f;
  UpsertResult r = f.rot->add_numbers({num("2125550101"), num("2125550102")});
  CHECK(r.inserted == 2);
  CHECK(r.updated == 0);
  REQUIRE(f.pick_release("2125559999") == "2125550101");

  Number changed = num("2125550101", {}, 7, 70);
  changed.carrier = "OtherTel";
  changed.meta_json = R"({"state":"NY","rank":2})";
  r = f.rot->add_numbers({changed, num("2125550103")});
  CHECK(r.inserted == 1);
  CHECK(r.updated == 1);

  auto st = f.rot->get_number("+1 (212) 555-0101");
  REQUIRE(st);
  CHECK(st->number.caller_id == "2125550101");
  CHECK(st->number.area_code == "212");
  CHECK(st->number.carrier == "OtherTel");
  CHECK(*st->number.hourly_limit == 7);
  CHECK(*st->number.daily_limit == 70);
  CHECK(st->number.meta_json == R"({"state":"NY","rank":2})");
  CHECK(st->total_uses == 1);
  CHECK(st->hour_count == 1);
  CHECK(st->day_count == 1);
  CHECK(st->last_used == f.clock->now());
  CHECK_FALSE(f.rot->get_number("2125550199"));
}

TEST_CASE("a caller_id given twice in one upsert batch ends with its last entry",
          "[conformance][numbers]") {
  Fixture f;
  // Several numbers around the repeated one, so a store that sorts the batch has to keep order.
  std::vector<Number> batch = {num("2125550105", {"b"}, 1),      num("2125550101"),
                               num("2125550105", {}, 2),         num("2125550109"),
                               num("2125550105", {"a", "b"}, 3), num("2125550103")};
  UpsertResult r = f.rot->add_numbers(batch);
  CHECK(r.inserted == 4);  // four distinct numbers
  CHECK(r.updated == 0);
  auto st = f.rot->get_number("2125550105");
  REQUIRE(st);
  CHECK(st->number.campaigns == std::vector<std::string>{"a", "b"});
  CHECK(*st->number.hourly_limit == 3);
}

TEST_CASE("least recently used first, ties by lowest caller_id", "[conformance][rotation]") {
  Fixture f;
  f.add({num("2125550103"), num("2125550101"), num("2125550102")});
  CHECK(f.pick_release("2125559999") == "2125550101");  // all unused: lowest number
  f.advance(1s);
  CHECK(f.pick_release("2125559999") == "2125550102");
  f.advance(1s);
  CHECK(f.pick_release("2125559999") == "2125550103");
  f.advance(1s);
  CHECK(f.pick_release("2125559999") == "2125550101");
  f.advance(1s);
  CHECK(f.pick_release("2125559999") == "2125550102");
}

TEST_CASE("a number released out of order keeps its LRU position", "[conformance][rotation]") {
  Fixture f;
  f.add({num("2125550101"), num("2125550102"), num("2125550103"), num("2125550104")});
  auto a = f.next("2125559999");
  f.advance(1s);
  auto b = f.next("2125559999");
  f.advance(1s);
  auto c = f.next("2125559999");
  REQUIRE((a && b && c));
  CHECK(a.lease->number.caller_id == "2125550101");
  CHECK(b.lease->number.caller_id == "2125550102");
  CHECK(c.lease->number.caller_id == "2125550103");
  f.advance(1s);
  // 0104 was never used: it is the LRU number now.
  CHECK(f.pick_release("2125559999") == "2125550104");
  f.rot->release(c.lease->id);
  f.rot->release(a.lease->id);
  f.rot->release(b.lease->id);
  f.advance(1s);
  CHECK(f.pick_release("2125559999") == "2125550101");
  f.advance(1s);
  CHECK(f.pick_release("2125559999") == "2125550102");
  f.advance(1s);
  CHECK(f.pick_release("2125559999") == "2125550103");
}

TEST_CASE("exclusive numbers are never leased twice at once", "[conformance][leases]") {
  Fixture f;
  f.add({num("2125550101"), num("2125550102")});
  auto a = f.next("2125559999");
  auto b = f.next("2125559999");
  REQUIRE((a && b));
  CHECK(a.lease->number.caller_id != b.lease->number.caller_id);
  auto c = f.next("2125559999");
  REQUIRE_FALSE(c);
  CHECK(c.denial == DenialReason::kAllReserved);
  CHECK(f.rot->release(a.lease->id) == 1);
  auto d = f.next("2125559999");
  REQUIRE(d);
  CHECK(d.lease->number.caller_id == a.lease->number.caller_id);
}

TEST_CASE("max_concurrent allows that many simultaneous leases", "[conformance][leases]") {
  Fixture f;
  f.add({num("2125550101", {}, 0, 0, 3)});
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    auto r = f.next("2125559999");
    REQUIRE(r);
    CHECK(r.lease->number.caller_id == "2125550101");
    CHECK(r.lease->number.max_concurrent == 3);
    ids.push_back(r.lease->id);
  }
  auto denied = f.next("2125559999");
  REQUIRE_FALSE(denied);
  CHECK(denied.denial == DenialReason::kAllReserved);
  CHECK(f.rot->get_number("2125550101")->active_leases == 3);
  f.rot->release(ids[1]);
  CHECK(f.next("2125559999"));
}

TEST_CASE("lease fields: id, expiry, tier, number, destination", "[conformance][leases]") {
  Fixture f;
  Number n = num("2125550101", {"sales"});
  n.carrier = "Verizon";
  n.meta_json = R"({"type":"mobile"})";
  f.add({n});
  const TimePoint t0 = f.clock->now();
  auto r = f.rot->next(CallRequest{"1-212-555-9999", "sales", "agent7", 90s});
  REQUIRE(r);
  const Lease& l = *r.lease;
  CHECK(l.id.size() == 32);
  CHECK(l.number.caller_id == "2125550101");
  CHECK(l.number.carrier == "Verizon");
  CHECK(l.number.meta_json == R"({"type":"mobile"})");
  CHECK(l.number.campaigns == std::vector<std::string>{"sales"});
  CHECK(l.campaign == "sales");
  CHECK(l.agent == "agent7");
  CHECK(l.destination == "2125559999");
  CHECK(l.leased_at == t0);
  CHECK(l.expires_at == t0 + 90s);
  CHECK(l.tier == Tier::kSameNpa);
  auto leases = f.rot->list_leases(10);
  REQUIRE(leases.size() == 1);
  CHECK(leases[0].id == l.id);
  CHECK(leases[0].agent == "agent7");
  CHECK(leases[0].expires_at == t0 + 90s);
}

TEST_CASE("a reused result is overwritten whole by each lease and by a denial",
          "[conformance][leases]") {
  Fixture f;
  // Two numbers that differ in every field a lease copies: a stale field left over from the
  // first answer would show in the second.
  Number a = num("2125550101", {"north", "sales"}, 0, 0, 1);
  a.carrier = "A much longer carrier name than the other";
  a.meta_json = R"({"note":"a meta longer than fifteen bytes"})";
  Number b = num("3125550102", {}, 0, 0, 2);
  b.carrier = "B";
  f.add({a, b});
  const TimePoint t0 = f.clock->now();

  LeaseResult r;
  f.rot->next(CallRequest{"+1 (212) 555-9999", "sales", "agent-with-a-long-name-7", 90s}, &r);
  REQUIRE(r);
  const std::string first_id = r.lease->id;
  CHECK(r.lease->number.caller_id == "2125550101");
  CHECK(r.lease->number.area_code == "212");
  CHECK(r.lease->number.carrier == a.carrier);
  CHECK(r.lease->number.meta_json == R"({"note":"a meta longer than fifteen bytes"})");
  CHECK(r.lease->number.campaigns == std::vector<std::string>{"north", "sales"});
  CHECK(r.lease->destination == "2125559999");
  CHECK(r.lease->agent == "agent-with-a-long-name-7");
  CHECK(r.lease->tier == Tier::kSameNpa);

  f.clock->advance(5s);
  f.rot->next(CallRequest{"3125559999", "sales", "", 30s}, &r);
  REQUIRE(r);
  CHECK(r.lease->id != first_id);
  CHECK(r.lease->id.size() == 32);
  CHECK(r.lease->number.caller_id == "3125550102");
  CHECK(r.lease->number.area_code == "312");
  CHECK(r.lease->number.carrier == "B");
  CHECK(r.lease->number.meta_json == "{}");
  CHECK(r.lease->number.campaigns.empty());
  CHECK(r.lease->number.max_concurrent == 2);
  CHECK(r.lease->campaign == "sales");
  CHECK(r.lease->agent.empty());
  CHECK(r.lease->destination == "3125559999");
  CHECK(r.lease->leased_at == t0 + 5s);
  CHECK(r.lease->expires_at == t0 + 35s);

  f.rot->next(CallRequest{"3125559998", "north", "x", 30s}, &r);
  REQUIRE(r);
  CHECK(r.lease->number.caller_id == "3125550102");
  CHECK(r.lease->campaign == "north");

  // Both numbers are at their concurrency limit now: a denial empties the result.
  f.rot->next(CallRequest{"2125559999", "north", "x", 30s}, &r);
  CHECK_FALSE(r);
  CHECK(r.denial == DenialReason::kAllReserved);

  // And it takes a lease again afterwards.
  CHECK(f.rot->release(first_id) == 1);
  f.rot->next(CallRequest{"12125550000", "sales", "y", 30s}, &r);
  REQUIRE(r);
  CHECK(r.lease->number.caller_id == "2125550101");
  CHECK(r.lease->number.campaigns == std::vector<std::string>{"north", "sales"});
  CHECK(r.lease->number.carrier == a.carrier);
  CHECK(r.lease->destination == "2125550000");
  CHECK(f.rot->list_leases(10).size() == 3);
}

TEST_CASE("an expired lease frees its number by itself", "[conformance][leases]") {
  Fixture f;
  f.add({num("2125550101")});
  auto a = f.next("2125559999");
  REQUIRE(a);
  CHECK(a.lease->expires_at == f.clock->now() + 300s);  // default TTL
  f.advance(299s);
  auto b = f.next("2125559999");
  REQUIRE_FALSE(b);
  CHECK(b.denial == DenialReason::kAllReserved);
  f.advance(1s);
  auto c = f.next("2125559999");
  REQUIRE(c);
  CHECK(c.lease->number.caller_id == "2125550101");
  CHECK(f.rot->release(a.lease->id) == 0);  // already expired: nothing to end
  CHECK(f.rot->get_number("2125550101")->active_leases == 1);
  f.advance(300s);
  CHECK(f.rot->expire() == 1);
  CHECK(f.rot->get_number("2125550101")->active_leases == 0);
}

TEST_CASE("release is idempotent and records the outcome", "[conformance][leases]") {
  Fixture f;
  f.add({num("2125550101")});
  auto a = f.next("2125559999");
  REQUIRE(a);
  CHECK(f.rot->release(a.lease->id, Outcome{"answered", 42}) == 1);
  CHECK(f.rot->release(a.lease->id, Outcome{"busy", 1}) == 0);
  CHECK(f.rot->release(make_lease_id()) == 0);
  auto st = f.rot->get_number("2125550101");
  REQUIRE(st);
  CHECK(st->active_leases == 0);
  CHECK(st->last_disposition == "answered");
  CHECK(st->last_duration_s == 42);
}

TEST_CASE("release by caller_id ends every lease of the number", "[conformance][leases]") {
  Fixture f;
  f.add({num("2125550101", {}, 0, 0, 2), num("2125550102")});
  auto a = f.next("2125559999");
  auto b = f.next("2125559999");
  auto c = f.next("2125559999");
  REQUIRE((a && b && c));
  CHECK(f.rot->release_caller_id("(212) 555-0101") == 2);
  CHECK(f.rot->release_caller_id("2125550101") == 0);
  CHECK(f.rot->release_caller_id("2125550177") == 0);
  CHECK(f.rot->get_number("2125550101")->active_leases == 0);
  CHECK(f.rot->get_number("2125550102")->active_leases == 1);
}

TEST_CASE("hourly cap holds within the hour and resets at the next", "[conformance][limits]") {
  Fixture f;  // 10:10 New York time
  f.add({num("2125550101", {}, 2, 0)});
  CHECK(f.pick_release("2125559999") == "2125550101");
  CHECK(f.pick_release("2125559999") == "2125550101");
  CHECK(f.pick_release("2125559999") == "denied:all_limited");
  auto st = f.rot->get_number("2125550101");
  CHECK(st->hour_count == 2);
  CHECK(st->hourly_capped());
  f.clock->set(utc(2026, 3, 2, 15, 59, 59));
  CHECK(f.pick_release("2125559999") == "denied:all_limited");
  f.clock->set(utc(2026, 3, 2, 16, 0, 0));  // 11:00 local: a new hour
  CHECK(f.rot->get_number("2125550101")->hour_count == 0);
  CHECK(f.pick_release("2125559999") == "2125550101");
  CHECK(f.rot->get_number("2125550101")->hour_count == 1);
  CHECK(f.rot->get_number("2125550101")->day_count == 3);
  CHECK(f.rot->get_number("2125550101")->total_uses == 3);
}

TEST_CASE("daily cap resets at local midnight of the configured zone", "[conformance][limits]") {
  Fixture f("America/New_York", utc(2026, 3, 2, 22, 0, 0));  // 17:00 EST
  f.add({num("2125550101", {}, 0, 2)});
  CHECK(f.pick_release("2125559999") == "2125550101");
  f.advance(2h);  // 19:00 local: a new hour, same day
  CHECK(f.pick_release("2125559999") == "2125550101");
  CHECK(f.pick_release("2125559999") == "denied:all_limited");
  f.clock->set(utc(2026, 3, 3, 4, 59, 59));  // 23:59:59 local
  CHECK(f.pick_release("2125559999") == "denied:all_limited");
  CHECK(f.rot->get_number("2125550101")->daily_capped());
  f.clock->set(utc(2026, 3, 3, 5, 0, 0));  // midnight in New York, 05:00 UTC
  CHECK_FALSE(f.rot->get_number("2125550101")->daily_capped());
  CHECK(f.pick_release("2125559999") == "2125550101");
  CHECK(f.rot->get_number("2125550101")->day_count == 1);
}

TEST_CASE("hour windows follow a half-hour zone", "[conformance][limits]") {
  // St. John's is UTC-3:30 in March before DST: local hours start at :30 UTC.
  Fixture f("America/St_Johns", utc(2026, 3, 2, 15, 40, 0));  // 12:10 local
  f.add({num("7095550101", {}, 1, 0)});
  CHECK(f.pick_release("7095559999") == "7095550101");
  f.clock->set(utc(2026, 3, 2, 16, 10, 0));  // 12:40 local: same local hour
  CHECK(f.pick_release("7095559999") == "denied:all_limited");
  f.clock->set(utc(2026, 3, 2, 16, 30, 0));  // 13:00 local
  CHECK(f.pick_release("7095559999") == "7095550101");
}

TEST_CASE("one capped and one reserved number deny as all_reserved", "[conformance][limits]") {
  Fixture f;
  f.add({num("2125550101", {}, 1, 0), num("2125550102")});
  CHECK(f.pick_release("2125559999") == "2125550101");
  auto held = f.next("2125559999");
  REQUIRE(held);
  CHECK(held.lease->number.caller_id == "2125550102");
  CHECK(f.pick("2125559999") == "denied:all_reserved");
  f.rot->release(held.lease->id);
  CHECK(f.pick_release("2125559999") == "2125550102");
}

TEST_CASE("tiers: same NPA, overlay, state, nearby, time zone, any", "[conformance][tiers]") {
  Fixture f;
  // 212 Manhattan; 646 its overlay; 518 Albany (same state); 201 New Jersey (nearby);
  // 305 Miami (Eastern time); 213 Los Angeles (only "any").
  f.add({num("2125550101"), num("6465550101"), num("5185550101"), num("2015550101"),
         num("3055550101"), num("2135550101")});
  const std::pair<const char*, Tier> expected[] = {
      {"2125550101", Tier::kSameNpa}, {"6465550101", Tier::kOverlay},  {"5185550101", Tier::kState},
      {"2015550101", Tier::kNearby},  {"3055550101", Tier::kTimeZone}, {"2135550101", Tier::kAny}};
  for (const auto& [caller, tier] : expected) {
    auto r = f.next("2125559999");  // each lease holds its number, so the ladder moves on
    REQUIRE(r);
    CHECK(r.lease->number.caller_id == caller);
    CHECK(tier_name(r.lease->tier) == std::string(tier_name(tier)));
  }
  auto none = f.next("2125559999");
  REQUIRE_FALSE(none);
  CHECK(none.denial == DenialReason::kAllReserved);
}

TEST_CASE("a local-only campaign stops at its last tier", "[conformance][tiers]") {
  Fixture f;
  CampaignSettings local;
  local.name = "local";
  local.tiers = {Tier::kSameNpa, Tier::kOverlay, Tier::kState};
  f.rot->set_campaign(local);
  f.add({num("2135550101"), num("5185550101", {}, 1, 0)});
  CHECK(f.pick("3125559999", "local") == "denied:no_match_in_scope");  // Chicago: nothing local
  CHECK(f.pick_release("2125559999", "local") == "5185550101");        // NY state
  CHECK(f.pick("2125559999", "local") == "denied:all_limited");  // 518 capped, 213 out of scope
  CHECK(f.pick_release("3125559999", "sales") == "2135550101");  // default ladder reaches "any"
}

TEST_CASE("nearby tier takes the nearest area with a free number first", "[conformance][tiers]") {
  Fixture f;
  const AreaCode* home = find_area_code(212);
  REQUIRE(home != nullptr);
  REQUIRE(home->nearby_count > 4);
  // Two neighbours of 212 at clearly different distances, from the generated table.
  const NearbyAreaCode nearer = home->nearby[0];
  NearbyAreaCode farther = nearer;
  for (int i = 1; i < home->nearby_count; ++i) {
    if (home->nearby[i].distance_km > nearer.distance_km + 5) {
      farther = home->nearby[i];
      break;
    }
  }
  REQUIRE(farther.npa != nearer.npa);
  const std::string near_id = std::to_string(nearer.npa) + "5550101";
  const std::string far_id = std::to_string(farther.npa) + "5550101";
  CampaignSettings near;
  near.name = "near";
  near.tiers = {Tier::kSameNpa, Tier::kNearby};
  near.nearby_radius_km = farther.distance_km + 1;
  near.nearby_max = 20;
  f.rot->set_campaign(near);
  f.add({num(far_id), num(near_id)});
  auto a = f.next("2125559999", "near");
  REQUIRE(a);
  CHECK(a.lease->number.caller_id == near_id);
  CHECK(a.lease->tier == Tier::kNearby);
  auto b = f.next("2125559999", "near");
  REQUIRE(b);
  CHECK(b.lease->number.caller_id == far_id);
  f.rot->release(a.lease->id);
  f.rot->release(b.lease->id);
  near.nearby_radius_km = nearer.distance_km + 1;  // the farther one is now out of range
  f.rot->set_campaign(near);
  CHECK(f.pick("2125559999", "near") == near_id);
  CHECK(f.pick("2125559999", "near") == "denied:all_reserved");
  CHECK(f.pick("2125559999", "sales") == far_id);  // the default ladder still reaches it
}

TEST_CASE("campaign pools: own numbers plus numbers serving all", "[conformance][pools]") {
  Fixture f;
  f.add({num("2125550101", {"alpha"}), num("2125550102", {"beta"}), num("2125550103")});
  std::vector<std::string> alpha;
  for (int i = 0; i < 3; ++i) {
    auto r = f.next("2125559999", "alpha");
    alpha.push_back(r ? r.lease->number.caller_id : "denied");
  }
  CHECK(alpha == std::vector<std::string>{"2125550101", "2125550103", "denied"});
  CHECK(f.pick("2125559999", "beta") == "2125550102");
  CHECK(f.pick("2125559999", "beta") == "denied:all_reserved");
  CHECK(f.pick("2125559999", "gamma") == "denied:all_reserved");  // only 0103, held by alpha
}

TEST_CASE("pool_empty when the campaign has no active numbers", "[conformance][pools]") {
  Fixture f;
  CHECK(f.pick("2125559999") == "denied:pool_empty");
  f.add({num("2125550101", {"alpha"})});
  CHECK(f.pick("2125559999", "beta") == "denied:pool_empty");
  CHECK(f.rot->set_active("2125550101", false));
  CHECK(f.pick("2125559999", "alpha") == "denied:pool_empty");
  CHECK(f.rot->set_active("2125550101", true));
  CHECK(f.pick("2125559999", "alpha") == "2125550101");
  CHECK_FALSE(f.rot->set_active("2125550199", true));
}

TEST_CASE("inactive numbers are never picked; leases survive deactivation",
          "[conformance][numbers]") {
  Fixture f;
  f.add({num("2125550101"), num("2125550102")});
  auto a = f.next("2125559999");
  REQUIRE(a);
  CHECK(f.rot->set_active(a.lease->number.caller_id, false));
  CHECK(f.rot->get_number(a.lease->number.caller_id)->active_leases == 1);
  CHECK(f.pick_release("2125559999") == "2125550102");
  CHECK(f.pick_release("2125559999") == "2125550102");
  CHECK(f.rot->release(a.lease->id) == 1);
  CHECK(f.pick_release("2125559999") == "2125550102");
  Number off = num("2125550103");
  off.active = false;
  f.add({off});
  CHECK_FALSE(f.rot->get_number("2125550103")->number.active);
}

TEST_CASE("remove_number deletes the number and its leases", "[conformance][numbers]") {
  Fixture f;
  f.add({num("2125550101"), num("2125550102")});
  auto a = f.next("2125559999");
  REQUIRE(a);
  CHECK(f.rot->remove_number("2125550101"));
  CHECK_FALSE(f.rot->remove_number("2125550101"));
  CHECK_FALSE(f.rot->get_number("2125550101"));
  CHECK(f.rot->release(a.lease->id) == 0);
  CHECK(f.rot->list_leases(10).empty());
  CHECK(f.pick_release("2125559999") == "2125550102");
  f.add({num("2125550101")});  // re-added: a fresh number
  auto st = f.rot->get_number("2125550101");
  REQUIRE(st);
  CHECK(st->total_uses == 0);
  CHECK(st->active_leases == 0);
}

TEST_CASE("changing limits and campaigns takes effect on the next lease",
          "[conformance][numbers]") {
  Fixture f;
  f.add({num("2125550101")});
  CHECK(f.pick_release("2125559999") == "2125550101");
  f.add({num("2125550101", {}, 1, 0)});  // already used once this hour
  CHECK(f.pick_release("2125559999") == "denied:all_limited");
  f.add({num("2125550101", {}, 5, 0)});
  CHECK(f.pick_release("2125559999") == "2125550101");
  f.add({num("2125550101", {"alpha"}, 5, 0)});
  CHECK(f.pick("2125559999", "beta") == "denied:pool_empty");
  CHECK(f.pick("2125559999", "alpha") == "2125550101");
}

TEST_CASE("list_numbers filters, sorts and pages", "[conformance][numbers]") {
  Fixture f;
  std::vector<Number> batch;
  for (int i = 0; i < 25; ++i) {
    char id[11];
    std::snprintf(id, sizeof id, "212555%04d", 100 + i);
    batch.push_back(
        num(id, i % 2 ? std::vector<std::string>{"alpha"} : std::vector<std::string>{}));
  }
  batch.push_back(num("3055550100", {}, 1, 0));
  Number off = num("3055550101");
  off.active = false;
  batch.push_back(off);
  f.add(batch);
  CHECK(f.pick_release("3055559999") == "3055550100");  // now capped
  auto held = f.next("2125559999");
  REQUIRE(held);

  ListQuery q;
  q.limit = 10;
  ListPage p = f.rot->list_numbers(q);
  CHECK(p.total == 27);
  REQUIRE(p.items.size() == 10);
  CHECK(p.items[0].number.caller_id == "2125550100");
  CHECK(p.items[9].number.caller_id == "2125550109");
  q.offset = 20;
  p = f.rot->list_numbers(q);
  REQUIRE(p.items.size() == 7);
  CHECK(p.items.back().number.caller_id == "3055550101");

  ListQuery by_area;
  by_area.area_codes = {305};
  CHECK(f.rot->list_numbers(by_area).total == 2);
  ListQuery inactive;
  inactive.active = false;
  p = f.rot->list_numbers(inactive);
  REQUIRE(p.total == 1);
  CHECK(p.items[0].number.caller_id == "3055550101");
  ListQuery limited;
  limited.limited = true;
  p = f.rot->list_numbers(limited);
  REQUIRE(p.total == 1);
  CHECK(p.items[0].number.caller_id == "3055550100");
  ListQuery leased;
  leased.leased = true;
  p = f.rot->list_numbers(leased);
  REQUIRE(p.total == 1);
  CHECK(p.items[0].number.caller_id == held.lease->number.caller_id);
  ListQuery beta;  // serves beta: the numbers without campaigns
  beta.campaign = "beta";
  CHECK(f.rot->list_numbers(beta).total == 15);
  ListQuery alpha;
  alpha.campaign = "alpha";
  CHECK(f.rot->list_numbers(alpha).total == 27);
  ListQuery prefix;
  prefix.caller_id_prefix = "212555011";
  CHECK(f.rot->list_numbers(prefix).total == 10);  // 2125550110..0119
  ListQuery by_use;
  by_use.sort = SortKey::kTotalUses;
  by_use.descending = true;
  by_use.limit = 2;
  p = f.rot->list_numbers(by_use);
  REQUIRE(p.items.size() == 2);
  CHECK(p.items[0].number.caller_id == held.lease->number.caller_id);  // used once; lower id
  CHECK(p.items[0].total_uses == 1);
}

TEST_CASE("stats count numbers, leases, caps and area codes", "[conformance][stats]") {
  Fixture f;
  Number off = num("2125550103");
  off.active = false;
  f.add({num("2125550101", {}, 1, 0), num("2125550102"), off, num("3055550101", {}, 0, 1)});
  CHECK(f.pick_release("2125559999") == "2125550101");  // hourly-capped now
  CHECK(f.pick_release("3055559999") == "3055550101");  // daily-capped now
  auto held = f.rot->next(CallRequest{"2125559999", "alpha", "a1", 0s});
  REQUIRE(held);
  StoreStats s = f.rot->stats();
  CHECK(s.numbers == 4);
  CHECK(s.active == 3);
  CHECK(s.disabled == 1);
  CHECK(s.leased_numbers == 1);
  CHECK(s.active_leases == 1);
  CHECK(s.capped_hourly == 1);
  CHECK(s.capped_daily == 1);
  CHECK(s.total_uses == 3);
  REQUIRE(s.leases_by_campaign.size() == 1);
  CHECK(s.leases_by_campaign[0] == std::make_pair(std::string("alpha"), std::int64_t{1}));
  REQUIRE(s.area_codes.size() == 2);
  CHECK(s.area_codes[0].npa == 212);
  CHECK(s.area_codes[0].numbers == 2);
  CHECK(s.area_codes[0].available == 0);
  CHECK(s.area_codes[1].npa == 305);
  CHECK(s.area_codes[1].numbers == 1);
  CHECK(s.area_codes[1].available == 0);
}

TEST_CASE("the store answers ping and names its backend", "[conformance]") {
  Fixture f;
  CHECK_NOTHROW(f.store->ping());
  const auto name = f.store->backend_name();
  const auto compiled = compiled_backends();
  CHECK(std::find(compiled.begin(), compiled.end(), name) != compiled.end());
}

TEST_CASE("an inactive capped number does not count at window rollover", "[conformance][limits]") {
  Fixture f;  // 10:10 New York
  f.add({num("2125550101", {"c"}, 0, 1), num("2125550102", {"c"})});
  auto x = f.next("2125559999", "c");
  REQUIRE(x);
  CHECK(x.lease->number.caller_id == "2125550101");
  f.rot->release(x.lease->id);
  CHECK(f.rot->set_active("2125550101", false));  // daily-capped and now inactive
  auto y = f.rot->next(CallRequest{"2125559999", "c", "a1", 7200s});  // outlives the hour
  REQUIRE(y);
  CHECK(y.lease->number.caller_id == "2125550102");
  f.advance(std::chrono::hours(1));  // next hour, same day
  // In scope: only 0102 (active), reserved -> all_reserved, not all_limited.
  CHECK(f.pick("2125559999", "c") == "denied:all_reserved");
  CHECK(f.rot->set_active("2125550101", true));  // still capped today
  CHECK(f.pick("2125559999", "c") == "denied:all_reserved");
  f.rot->release(y.lease->id);
  CHECK(f.pick("2125559999", "c") == "2125550102");
  CHECK(f.pick("2125559999", "c") == "denied:all_reserved");
  f.clock->set(utc(2026, 3, 3, 5, 0, 0));  // midnight: 0101 is free again
  CHECK(f.pick("2125559999", "c") == "2125550101");
}

TEST_CASE("a batch of calls leases as the same calls one by one would", "[conformance][batch]") {
  Fixture f;
  f.add({num("2125550101"), num("2125550102"), num("2125550103"), num("6465550104")});
  // Six calls for four exclusive numbers, one of them invalid: four leases (same-NPA numbers
  // first, in LRU order), one denial, one error; the invalid call takes nothing.
  std::vector<CallRequest> calls = {
      {"2125559991", "sales", "a1", {}},   {"2125559992", "sales", "a2", {}},
      {"not a number", "sales", "a3", {}}, {"2125559993", "sales", "a4", {}},
      {"2125559994", "sales", "a5", {}},   {"2125559995", "sales", "a6", {}}};
  std::vector<LeaseResult> results(calls.size());
  // A result left from an earlier answer must be overwritten.
  results[5] = f.next("2125559999");
  REQUIRE(results[5]);
  REQUIRE(f.rot->release(results[5].lease->id) == 1);
  std::vector<CallBatchItem> items;
  for (std::size_t i = 0; i < calls.size(); ++i) items.push_back({&calls[i], &results[i], {}});
  f.rot->next_batch(items.data(), items.size());

  const Error invalid = testing::error_of(items[2].error);
  CHECK(invalid.code() == ErrorCode::kInvalidArgument);
  CHECK(invalid.field() == "destination");
  std::set<std::string> leased, agents;
  int denied = 0;
  for (std::size_t i : {0, 1, 3, 4, 5}) {
    INFO("item " << i);
    REQUIRE_FALSE(items[i].error);
    if (!results[i]) {
      CHECK(results[i].denial == DenialReason::kAllReserved);
      ++denied;
      continue;
    }
    CHECK(results[i].lease->agent == calls[i].agent);
    CHECK(results[i].lease->destination == calls[i].destination);
    leased.insert(results[i].lease->number.caller_id);
    agents.insert(results[i].lease->agent);
  }
  CHECK(denied == 1);
  CHECK(leased == std::set<std::string>{"2125550101", "2125550102", "2125550103", "6465550104"});
  CHECK(f.rot->stats().active_leases == 4);
  // Each lease is a real one: it releases once.
  for (std::size_t i : {0, 1, 3, 4, 5}) {
    if (results[i]) CHECK(f.rot->release(results[i].lease->id) == 1);
  }
  CHECK(f.rot->stats().active_leases == 0);
}

namespace {

// A Store::lease_batch() request of campaign "c" at the fixture's time.
LeaseRequest batch_request(const Fixture& f, const std::string& id, const Ladder* ladder) {
  LeaseRequest r;
  r.lease_id = id;
  r.campaign = "c";
  r.destination = "2125550199";
  r.ladder = ladder;
  r.windows = Windows{f.clock->now(), 0, 0};
  r.ttl = std::chrono::minutes(5);
  return r;
}

// Runs `reqs` as one Store::lease_batch() into `results` (resized); items[i].error and
// results[i] answer reqs[i].
std::vector<LeaseBatchItem> run_lease_batch(Store& store, std::vector<LeaseRequest>& reqs,
                                            std::vector<LeaseResult>& results) {
  results.assign(reqs.size(), LeaseResult{});
  std::vector<LeaseBatchItem> items;
  for (std::size_t i = 0; i < reqs.size(); ++i) items.push_back({&reqs[i], &results[i], {}});
  store.lease_batch(items.data(), items.size());
  return items;
}

}  // namespace

TEST_CASE("a store batch keeps a failing request's error to itself", "[conformance][batch]") {
  Fixture f;
  f.add({num("2125550101"), num("2125550102"), num("2125550103")});
  const Ladder any = {LadderStep{Tier::kAny, {}}};
  auto request = [&](const std::string& id) { return batch_request(f, id, &any); };
  REQUIRE(f.store->lease(request(std::string(32, 'a'))));  // holds one number
  // The middle request reuses the live lease's id: kConflict for it alone.
  std::vector<LeaseRequest> reqs = {request(make_lease_id()), request(std::string(32, 'a')),
                                    request(make_lease_id())};
  std::vector<LeaseResult> results;
  const std::vector<LeaseBatchItem> items = run_lease_batch(*f.store, reqs, results);
  CHECK(testing::error_of(items[1].error).code() == ErrorCode::kConflict);
  REQUIRE_FALSE(items[0].error);
  REQUIRE_FALSE(items[2].error);
  REQUIRE(results[0]);
  REQUIRE(results[2]);
  CHECK(results[0].lease->number.caller_id != results[2].lease->number.caller_id);
  CHECK(f.rot->stats().active_leases == 3);
  // An empty batch is a no-op.
  f.store->lease_batch(nullptr, 0);
  CHECK(f.rot->stats().active_leases == 3);
}

TEST_CASE("a store batch answers an invalid request alone and leases the others",
          "[conformance][batch]") {
  Fixture f;
  f.add({num("2125550101"), num("2125550102")});
  const Ladder any = {LadderStep{Tier::kAny, {}}};
  std::vector<LeaseRequest> reqs = {
      batch_request(f, make_lease_id(), &any), batch_request(f, "not-an-id", &any),
      batch_request(f, make_lease_id(), nullptr), batch_request(f, make_lease_id(), &any)};
  std::vector<LeaseResult> results;
  const std::vector<LeaseBatchItem> items = run_lease_batch(*f.store, reqs, results);
  const Error bad_id = testing::error_of(items[1].error);
  CHECK(bad_id.code() == ErrorCode::kInvalidArgument);
  CHECK(bad_id.field() == "lease_id");
  const Error no_ladder = testing::error_of(items[2].error);
  CHECK(no_ladder.code() == ErrorCode::kInvalidArgument);
  CHECK(no_ladder.field() == "ladder");
  REQUIRE_FALSE(items[0].error);
  REQUIRE_FALSE(items[3].error);
  REQUIRE(results[0]);
  REQUIRE(results[3]);
  CHECK(results[0].lease->number.caller_id != results[3].lease->number.caller_id);
  CHECK(f.rot->stats().active_leases == 2);
}
