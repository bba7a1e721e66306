// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// Bad input through the Rotator: a clear Error naming the field, and nothing left behind.
#include <catch2/catch.hpp>

#include "fixture.h"

using namespace cidrot;
using namespace cidrot::conformance;
using namespace std::chrono_literals;

namespace {

template <typename F>
std::string field_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::kInvalidArgument);
    CHECK(std::string(e.what()).rfind(e.field() + ":", 0) == 0);
    return e.field();
  }
  return "<no error>";
}

}  // namespace

TEST_CASE("bad lease requests throw invalid_argument naming the field", "[conformance][input]") {
  Fixture f;
  f.add({num("2125550101")});
  CHECK(field_of([&] { f.next("212555"); }) == "destination");
  CHECK(field_of([&] { f.next("0125559999"); }) == "destination");
  CHECK(field_of([&] { f.next("2125559999", ""); }) == "campaign");
  CHECK(field_of([&] { f.next("2125559999", "bad campaign"); }) == "campaign");
  CHECK(field_of([&] { f.next("2125559999", std::string(65, 'c')); }) == "campaign");
  CHECK(field_of([&] { f.next("2125559999", "sales", std::string(65, 'a')); }) == "agent");
  CHECK(field_of([&] { f.next("2125559999", "sales", "a\n1"); }) == "agent");
  CHECK(field_of([&] { f.rot->next(CallRequest{"2125559999", "sales", "a", -1s}); }) == "ttl");
  CHECK(field_of([&] { f.rot->release("not-a-lease"); }) == "reservation_id");
  CHECK(field_of([&] { f.rot->release(make_lease_id(), Outcome{"maybe", 1}); }) == "disposition");
  CHECK(field_of([&] { f.rot->release(make_lease_id(), Outcome{"answered", -5}); }) == "duration");
  // Nothing was leased or counted by any of the failures.
  auto st = f.rot->get_number("2125550101");
  CHECK(st->total_uses == 0);
  CHECK(st->active_leases == 0);
  CHECK(f.pick("2125559999") == "2125550101");
}

TEST_CASE("bad numbers throw and a failed batch writes nothing", "[conformance][input]") {
  Fixture f;
  auto with = [](auto change) {
    Number n = num("2125550101");
    change(n);
    return n;
  };
  CHECK(field_of([&] { f.add({with([](Number& n) { n.caller_id = "12345"; })}); }) == "caller_id");
  CHECK(field_of([&] { f.add({with([](Number& n) { n.caller_id = "2115550101"; })}); }) ==
        "caller_id");
  CHECK(field_of([&] { f.add({with([](Number& n) { n.area_code = "213"; })}); }) == "area_code");
  CHECK(field_of([&] { f.add({with([](Number& n) { n.hourly_limit = -1; })}); }) == "hourly_limit");
  CHECK(field_of([&] { f.add({with([](Number& n) { n.daily_limit = -5; })}); }) == "daily_limit");
  CHECK(field_of([&] { f.add({with([](Number& n) { n.max_concurrent = 0; })}); }) ==
        "max_concurrent");
  CHECK(field_of([&] { f.add({with([](Number& n) { n.meta_json = "{oops"; })}); }) == "meta");
  CHECK(field_of([&] { f.add({with([](Number& n) { n.meta_json = "[1,2]"; })}); }) == "meta");
  CHECK(field_of([&] { f.add({with([](Number& n) { n.carrier = std::string(200, 'x'); })}); }) ==
        "carrier");
  CHECK(field_of([&] {
          f.add({with([](Number& n) { n.campaigns = {"ok", "not ok"}; })});
        }) == "campaigns");
  // One bad number in a batch: the good one before it is not written either.
  CHECK(field_of([&] {
          f.add({num("2125550102"), with([](Number& n) { n.caller_id = "999"; })});
        }) == "caller_id");
  CHECK_FALSE(f.rot->get_number("2125550102"));
  CHECK(f.rot->list_numbers(ListQuery{}).total == 0);
}

TEST_CASE("default limits apply to numbers added without their own", "[conformance][numbers]") {
  auto clock = std::make_shared<ManualClock>(utc(2026, 3, 2, 15, 10, 0));
  RotatorOptions o;
  o.time_zone = "UTC";
  o.default_hourly_limit = 100;
  o.default_daily_limit = 1000;
  Rotator rot(fresh_store(), o, clock);
  Number unset;
  unset.caller_id = "2125550101";
  Number explicit_zero = num("2125550102", {}, 0, 0);
  rot.add_numbers({unset, explicit_zero});
  CHECK(*rot.get_number("2125550101")->number.hourly_limit == 100);
  CHECK(*rot.get_number("2125550101")->number.daily_limit == 1000);
  CHECK(*rot.get_number("2125550102")->number.hourly_limit == 0);
}

TEST_CASE("bad campaign settings and options throw naming the field", "[conformance][input]") {
  Fixture f;
  CampaignSettings s;
  s.name = "c1";
  s.tiers = {};
  CHECK(field_of([&] { f.rot->set_campaign(s); }) == "tiers");
  s.tiers = {Tier::kSameNpa, Tier::kSameNpa};
  CHECK(field_of([&] { f.rot->set_campaign(s); }) == "tiers");
  s.tiers = {Tier::kAny};
  s.lease_ttl = 0s;
  CHECK(field_of([&] { f.rot->set_campaign(s); }) == "lease_ttl");
  s.lease_ttl = 60s;
  s.nearby_radius_km = -3;
  CHECK(field_of([&] { f.rot->set_campaign(s); }) == "nearby_radius_km");
  s.nearby_radius_km = 100;
  s.name = "has space";
  CHECK(field_of([&] { f.rot->set_campaign(s); }) == "name");
  CHECK(field_of([&] { parse_tier("local"); }) == "tiers");
  RotatorOptions bad_zone;
  bad_zone.time_zone = "Mars/Olympus_Mons";
  CHECK(field_of([&] { Rotator r(fresh_store(), bad_zone); }) == "time_zone");
  RotatorOptions bad_limit;
  bad_limit.default_daily_limit = -1;
  CHECK(field_of([&] { Rotator r(fresh_store(), bad_limit); }) == "default_daily_limit");
  ListQuery q;
  q.limit = 0;
  CHECK(field_of([&] { f.rot->list_numbers(q); }) == "limit");
}

TEST_CASE("unknown store URLs are rejected naming what is supported", "[conformance][input]") {
  try {
    open_store("mysql://localhost/db");
    FAIL("mysql:// accepted");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::kUnsupported);
    CHECK(e.field() == "url");
    CHECK(std::string(e.what()).find("memory://") != std::string::npos);
  }
  CHECK_THROWS_AS(open_store("not a url"), Error);
  CHECK_THROWS_AS(open_store("memory://?x=1"), Error);
}
