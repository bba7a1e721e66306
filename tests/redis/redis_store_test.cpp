// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
//
// Redis-specific behaviour the backend-neutral conformance suite cannot express: URL options and
// their errors, script reload after the server forgets it, foreign data under the prefix, key
// isolation between prefixes, unix sockets, and the costs that must stay linear.

#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "cidrot/cidrot.h"

namespace {

using namespace std::chrono_literals;

std::string url(const std::string& options) {
  static int n = 0;
  return std::string(CIDROT_TEST_REDIS_URL) + "?prefix=rt" + std::to_string(::getpid()) + "x" +
         std::to_string(::time(nullptr)) + "x" + std::to_string(n++) +
         (options.empty() ? "" : "&" + options);
}

// The host:port of CIDROT_TEST_REDIS_URL, for redis-cli.
std::string cli() {
  std::string u = CIDROT_TEST_REDIS_URL;
  const auto hp = u.substr(8, u.find('/', 8) - 8);
  return "redis-cli -h " + hp.substr(0, hp.find(':')) + " -p " + hp.substr(hp.find(':') + 1) +
         " -n " + u.substr(u.find('/', 8) + 1) + " ";
}

cidrot::Number number(const std::string& cid, int max_concurrent = 1) {
  cidrot::Number n;
  n.caller_id = cid;
  n.area_code = cid.substr(0, 3);
  n.hourly_limit = 0;
  n.daily_limit = 0;
  n.max_concurrent = max_concurrent;
  return n;
}

cidrot::Windows at(std::int64_t s) {
  cidrot::Windows w;
  w.now = cidrot::from_unix_ms(s * 1000);
  w.hour_start = s - s % 3600;
  w.day_start = s - s % 86400;
  return w;
}

cidrot::LeaseResult lease(cidrot::Store& store, const cidrot::Ladder& ladder, std::int64_t s) {
  cidrot::LeaseRequest req;
  req.lease_id = cidrot::make_lease_id();
  req.campaign = "c";
  req.destination = "2125550199";
  req.ladder = &ladder;
  req.windows = at(s);
  req.ttl = 600s;
  return store.lease(req);
}

const cidrot::Ladder kAny = {cidrot::LadderStep{cidrot::Tier::kAny, {}}};
constexpr std::int64_t kT = 1767225600 + 100;

int sh(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

}  // namespace

TEST_CASE("redis URLs: options are checked before connecting", "[redis]") {
  auto code_of = [](const std::string& u) {
    try {
      cidrot::open_store(u);
    } catch (const cidrot::Error& e) {
      return e.code();
    }
    return cidrot::ErrorCode::kInternal;  // opened: not expected here
  };
  CHECK(code_of("redis://127.0.0.1:6390/0?bogus=1") == cidrot::ErrorCode::kUnsupported);
  CHECK(code_of("unix:///tmp/x.sock?bogus=1") == cidrot::ErrorCode::kUnsupported);
  CHECK(code_of("redis://127.0.0.1:6390/0?pool=0") == cidrot::ErrorCode::kInvalidArgument);
  CHECK(code_of("redis://127.0.0.1:6390/0?timeout_ms=abc") == cidrot::ErrorCode::kInvalidArgument);
  CHECK(code_of("redis://127.0.0.1:6390/zero") == cidrot::ErrorCode::kInvalidArgument);
  CHECK(code_of("redis://127.0.0.1:6390/0?prefix=a%7Bb") == cidrot::ErrorCode::kInvalidArgument);
  CHECK(code_of("redis://127.0.0.1:99999/0") == cidrot::ErrorCode::kInvalidArgument);
  CHECK(code_of("unix://") == cidrot::ErrorCode::kInvalidArgument);
  // Nothing listens on port 1: refused at once, reported as unavailable, never a hang.
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(code_of("redis://127.0.0.1:1/0?timeout_ms=300") == cidrot::ErrorCode::kBackendUnavailable);
  CHECK(std::chrono::steady_clock::now() - t0 < 2s);
  // A password the server does not expect is an AUTH failure, not a crash.
  CHECK(code_of(std::string("redis://:wrong@") + std::string(CIDROT_TEST_REDIS_URL).substr(8)) ==
        cidrot::ErrorCode::kBackendUnavailable);
}

TEST_CASE("redis: prefixes isolate stores on one server", "[redis]") {
  auto a = cidrot::open_store(url(""));
  auto b = cidrot::open_store(url(""));
  a->upsert_numbers({number("2125550101")});
  CHECK(a->get_number("2125550101", at(kT)));
  CHECK_FALSE(b->get_number("2125550101", at(kT)));
  CHECK(lease(*b, kAny, kT).denial == cidrot::DenialReason::kPoolEmpty);
  CHECK(lease(*a, kAny, kT));
}

TEST_CASE("redis: the script is reloaded after SCRIPT FLUSH", "[redis]") {
  auto store = cidrot::open_store(url(""));
  store->upsert_numbers({number("2125550101"), number("2125550102")});
  REQUIRE(lease(*store, kAny, kT));
  REQUIRE(sh(cli() + "SCRIPT FLUSH") == 0);
  auto r = lease(*store, kAny, kT);  // EVALSHA answers NOSCRIPT; the store EVALs it again
  REQUIRE(r);
  CHECK(r.lease->number.caller_id == "2125550102");
}

TEST_CASE("redis: foreign data under the prefix is reported as corrupt", "[redis]") {
  const std::string u = url("");
  const std::string prefix = u.substr(u.find("prefix=") + 7);
  REQUIRE(sh(cli() + "SET '{" + prefix + "}:x' hello") == 0);
  auto store = cidrot::open_store(u);
  store->upsert_numbers({number("2125550101")});
  try {
    lease(*store, kAny, kT);
    FAIL("lease over a foreign key succeeded");
  } catch (const cidrot::Error& e) {
    CHECK(e.code() == cidrot::ErrorCode::kCorrupt);
  }
  // A layout from a newer cidrot is refused at open, with a message naming it.
  const std::string u2 = url("");
  const std::string p2 = u2.substr(u2.find("prefix=") + 7);
  REQUIRE(sh(cli() + "HSET '{" + p2 + "}:meta' v 99") == 0);
  try {
    cidrot::open_store(u2);
    FAIL("opened a store with an unknown layout");
  } catch (const cidrot::Error& e) {
    CHECK(e.code() == cidrot::ErrorCode::kCorrupt);
  }
}

TEST_CASE("redis: a number with a thousand leases ends them in one linear step", "[redis]") {
  auto store = cidrot::open_store(url("timeout_ms=5000"));
  store->upsert_numbers({number("2125550101", 1000)});
  for (int i = 0; i < 1000; ++i) REQUIRE(lease(*store, kAny, kT));
  CHECK(lease(*store, kAny, kT).denial == cidrot::DenialReason::kAllReserved);
  cidrot::ReleaseRequest rel;
  rel.caller_id = "2125550101";
  rel.now = at(kT).now;
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(store->release(rel) == 1000);
  CHECK(std::chrono::steady_clock::now() - t0 < 2s);
  CHECK(store->get_number("2125550101", at(kT))->active_leases == 0);
  CHECK(store->list_leases(at(kT).now, 10).empty());
  // And the same by expiry: 1000 leases of one number ending at the same instant.
  for (int i = 0; i < 1000; ++i) REQUIRE(lease(*store, kAny, kT));
  CHECK(store->expire(at(kT + 601).now) == 1000);
  CHECK(store->get_number("2125550101", at(kT + 601))->active_leases == 0);
}

TEST_CASE("redis: a large import is one atomic script", "[redis]") {
  auto store = cidrot::open_store(url("timeout_ms=60000"));
  std::vector<cidrot::Number> numbers;
  for (int i = 0; i < 20000; ++i) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "21255%05d", i);
    numbers.push_back(number(buf));
  }
  CHECK(store->upsert_numbers(numbers).inserted == 20000);
  CHECK(store->stats(at(kT)).numbers == 20000);
  // A batch with one unstorable number is refused whole.
  std::vector<cidrot::Number> bad = {number("3055550101"), number("3055550102")};
  bad[1].campaigns = {"a,b"};
  CHECK_THROWS_AS(store->upsert_numbers(bad), cidrot::Error);
  CHECK_FALSE(store->get_number("3055550101", at(kT)));
}

TEST_CASE("redis: unix socket URLs", "[redis]") {
  if (sh("command -v redis-server") != 0) {
    FAIL(
        "redis-server is not on PATH: this case starts a socket-only server "
        "(Debian: apt-get install redis-server)");
  }
  char tmpl[] = "/tmp/cidrot-redis-unix-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  const std::string dir = tmpl;
  const std::string sock = dir + "/redis.sock";
  // A second throwaway server on a socket only (port 0: no TCP), stopped however the case ends.
  struct Stop {
    std::string sock, dir;
    ~Stop() {
      sh("redis-cli -s " + sock + " SHUTDOWN NOSAVE");
      sh("rm -rf " + dir);
    }
  } stop{sock, dir};
  REQUIRE(sh("redis-server --port 0 --unixsocket " + sock + " --save '' --dir " + dir +
             " --daemonize yes --pidfile " + dir + "/pid") == 0);
  for (int i = 0; i < 100 && ::access(sock.c_str(), F_OK) != 0; ++i) {
    std::this_thread::sleep_for(20ms);
  }
  auto store = cidrot::open_store("unix://" + sock + "?db=2&prefix=u");
  store->upsert_numbers({number("2125550101")});
  CHECK(lease(*store, kAny, kT));
  CHECK(store->backend_name() == "redis");
}
