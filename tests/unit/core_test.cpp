// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// Unit tests of core pieces below the Store contract: calendar windows, lease ids, ladders.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <ctime>
#include <set>
#include <thread>

#include "cidrot/cidrot.h"
#include "lease_result.h"
#include "time_windows.h"

using namespace cidrot;
using namespace std::chrono_literals;

namespace {

TimePoint utc(int y, int mo, int d, int h = 0, int mi = 0, int s = 0) {
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

std::int64_t secs(TimePoint t) { return to_unix_ms(t) / 1000; }

}  // namespace

TEST_CASE("hour and day windows in New York, across a DST change", "[unit][windows]") {
  detail::WindowCalculator w("America/New_York");
  CHECK(w.zone_name() == "America/New_York");
  Windows a = w.at(utc(2026, 3, 2, 15, 10, 5));  // 10:10:05 EST
  CHECK(a.hour_start == secs(utc(2026, 3, 2, 15)));
  CHECK(a.day_start == secs(utc(2026, 3, 2, 5)));  // local midnight = 05:00 UTC
  // 8 March 2026, 03:30 EDT: clocks went 02:00 -> 03:00; midnight was still EST.
  Windows b = w.at(utc(2026, 3, 8, 7, 30));
  CHECK(b.hour_start == secs(utc(2026, 3, 8, 7)));
  CHECK(b.day_start == secs(utc(2026, 3, 8, 5)));
  // The next day starts at 04:00 UTC (EDT).
  Windows c = w.at(utc(2026, 3, 9, 4, 0, 1));
  CHECK(c.day_start == secs(utc(2026, 3, 9, 4)));
  // The cache never answers for an instant outside its hour.
  Windows d = w.at(utc(2026, 3, 9, 5, 0, 0));
  CHECK(d.hour_start == secs(utc(2026, 3, 9, 5)));
  Windows back = w.at(utc(2026, 3, 2, 15, 59, 59));
  CHECK(back.hour_start == secs(utc(2026, 3, 2, 15)));
}

TEST_CASE("a repeated local hour at DST fall-back is two windows", "[unit][windows]") {
  detail::WindowCalculator w("America/Chicago");
  // 1 Nov 2026: 01:00-02:00 CDT (06:00 UTC), then 01:00-02:00 CST again (07:00 UTC).
  Windows first = w.at(utc(2026, 11, 1, 6, 30));
  Windows second = w.at(utc(2026, 11, 1, 7, 30));
  CHECK(first.hour_start == secs(utc(2026, 11, 1, 6)));
  CHECK(second.hour_start == secs(utc(2026, 11, 1, 7)));
  CHECK(first.day_start == second.day_start);
}

TEST_CASE("half-hour zones start hours at :30 UTC", "[unit][windows]") {
  detail::WindowCalculator w("Asia/Kolkata");  // UTC+5:30
  Windows a = w.at(utc(2026, 5, 1, 10, 45));
  CHECK(a.hour_start == secs(utc(2026, 5, 1, 10, 30)));
  CHECK(a.day_start == secs(utc(2026, 4, 30, 18, 30)));
}

TEST_CASE("a zone's rules are read when it is opened and not on its first window",
          "[unit][windows]") {
  // A server holding every descriptor it may open must still compute windows. Kathmandu (UTC+5:45)
  // is a zone no other test here opens, so its file has not been read by anyone else.
  detail::WindowCalculator w("Asia/Kathmandu");
  rlimit old{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &old) == 0);
  rlimit low = old;
  low.rlim_cur = 64;
  REQUIRE(setrlimit(RLIMIT_NOFILE, &low) == 0);
  std::vector<int> fds;
  for (int fd; (fd = ::open("/dev/null", O_RDONLY)) >= 0;) fds.push_back(fd);
  const int open_errno = errno;
  Windows a{};
  std::string failure;
  try {
    a = w.at(utc(2026, 5, 1, 10, 50));
  } catch (const std::exception& e) {
    failure = e.what();
  }
  for (int fd : fds) ::close(fd);
  REQUIRE(setrlimit(RLIMIT_NOFILE, &old) == 0);
  REQUIRE(open_errno == EMFILE);
  CHECK(failure == "");
  CHECK(a.hour_start == secs(utc(2026, 5, 1, 10, 15)));
}

TEST_CASE("unknown zones are an error naming time_zone", "[unit][windows]") {
  try {
    detail::WindowCalculator w("Not/AZone");
    FAIL("accepted");
  } catch (const Error& e) {
    CHECK(e.field() == "time_zone");
    CHECK(e.code() == ErrorCode::kInvalidArgument);
  }
  detail::WindowCalculator host("");
  CHECK_FALSE(host.zone_name().empty());
}

TEST_CASE("lease ids are 32 hex chars and unique across threads", "[unit][lease_id]") {
  std::vector<std::vector<std::string>> per(4);
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < 20000; ++i) per[t].push_back(make_lease_id());
    });
  }
  for (auto& t : ts) t.join();
  std::set<std::string> all;
  for (auto& v : per) {
    for (auto& id : v) {
      CHECK(id.size() == 32);
      CHECK(id.find_first_not_of("0123456789abcdef") == std::string::npos);
      CHECK(is_lease_id(id));
      all.insert(id);
    }
  }
  CHECK(all.size() == 80000);
  CHECK_FALSE(is_lease_id(""));
  CHECK_FALSE(is_lease_id(std::string(31, 'a')));
  CHECK_FALSE(is_lease_id(std::string(33, 'a')));
  CHECK_FALSE(is_lease_id(std::string(31, 'a') + "A"));  // upper case is not the form
  CHECK_FALSE(is_lease_id(std::string(31, 'a') + "g"));
}

TEST_CASE("copy_string copies every size exactly, into equal and unequal sizes", "[unit]") {
  // Each size takes one of move_bytes' paths (<4, 4..7, 8..16, 17..32, >32 bytes).
  for (std::size_t n = 0; n <= 70; ++n) {
    std::string src(n, ' ');
    for (std::size_t i = 0; i < n; ++i) src[i] = static_cast<char>('a' + (i * 7 + n) % 26);
    std::string same(n, '#');  // equal size: copied in place
    cidrot::detail::copy_string(&same, src);
    CHECK(same == src);
    std::string other("xyz");  // another size: assigned
    cidrot::detail::copy_string(&other, src);
    CHECK(other == src);
    cidrot::detail::copy_string(&same, same);  // onto itself
    CHECK(same == src);
  }
}

TEST_CASE("names of tiers, denials and error codes are the wire contract", "[unit]") {
  CHECK(std::string(tier_name(Tier::kTimeZone)) == "time_zone");
  CHECK(parse_tier("nearby") == Tier::kNearby);
  CHECK(std::string(denial_reason_name(DenialReason::kNoMatchInScope)) == "no_match_in_scope");
  CHECK(std::string(error_code_name(ErrorCode::kBackendUnavailable)) == "backend_unavailable");
  CHECK(std::string(version()) == "0.1.0");
}

TEST_CASE("a campaign's settings fall back to the defaults", "[unit]") {
  RotatorOptions o;
  o.campaign_defaults.lease_ttl = 120s;
  Rotator rot(open_store("memory://"), o);
  CHECK(rot.campaign("anything").lease_ttl == 120s);
  CHECK(rot.campaign("anything").name == "anything");
  CampaignSettings s;
  s.name = "vip";
  s.tiers = {Tier::kSameNpa};
  rot.set_campaign(s);
  CHECK(rot.campaign("vip").tiers.size() == 1);
  CHECK(rot.campaign("vip").lease_ttl == 300s);
}

TEST_CASE("default_store_url points at cidrot.db in CIDROT_DATA_DIR", "[unit]") {
  ::setenv("CIDROT_DATA_DIR", "/var/lib/cidrot", 1);
  const std::string url = default_store_url();
  ::unsetenv("CIDROT_DATA_DIR");
  const auto backends = compiled_backends();
  if (std::find(backends.begin(), backends.end(), "sqlite") != backends.end()) {
    CHECK(url == "sqlite:///var/lib/cidrot/cidrot.db");
  } else {
    CHECK(url == "memory://");
  }
}
