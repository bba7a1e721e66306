// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
//
// Faults: the test starts its OWN redis-server (AOF with fsync on every write, so an acknowledged
// lease must survive a kill -9), kills it in the middle of a multi-threaded lease/release run,
// restarts it on the same port, and freezes it (SIGSTOP) to exercise the timeout path. Calls must
// fail fast with backend_unavailable, leave no partial state, and the SAME store object must work
// again once the server is back.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cidrot/cidrot.h"

extern char** environ;

namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

constexpr int kTimeoutMs = 400;
// Scheduling noise on a shared 2-core machine, on top of the configured timeout.
constexpr auto kSlack = 600ms;

std::string find_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string p = path != nullptr ? path : "";
  for (std::size_t pos = 0; pos <= p.size();) {
    auto colon = p.find(':', pos);
    if (colon == std::string::npos) colon = p.size();
    const std::string candidate = p.substr(pos, colon - pos) + "/" + name;
    if (colon > pos && ::access(candidate.c_str(), X_OK) == 0) return candidate;
    pos = colon + 1;
  }
  return {};
}

// "+PONG" from 127.0.0.1:port (not "-LOADING", not refused).
bool answers_ping(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{0, 200000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  bool ok = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::send(fd, "PING\r\n", 6, MSG_NOSIGNAL) == 6) {
    char buf[16] = {};
    ok = ::recv(fd, buf, sizeof buf - 1, 0) > 0 && std::strncmp(buf, "+PONG", 5) == 0;
  }
  ::close(fd);
  return ok;
}

// A redis-server child on 127.0.0.1:port with its data in dir; killed when the test ends.
class RedisServer {
 public:
  RedisServer(std::string exe, int port, std::string dir)
      : exe_(std::move(exe)), port_(port), dir_(std::move(dir)) {}
  ~RedisServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGCONT);
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  void start() {
    REQUIRE_FALSE(answers_ping(port_));  // the port must be ours alone
    std::vector<std::string> args = {exe_,           "--port",    std::to_string(port_),
                                     "--bind",       "127.0.0.1", "--dir",
                                     dir_,           "--save",    "",
                                     "--appendonly", "yes",       "--appendfsync",
                                     "always",       "--logfile", dir_ + "/redis.log"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    REQUIRE(::posix_spawn(&pid_, exe_.c_str(), nullptr, nullptr, argv.data(), environ) == 0);
    const auto until = SteadyClock::now() + 15s;
    while (!answers_ping(port_)) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        FAIL("redis-server exited at start; see " << dir_ << "/redis.log");
      }
      if (SteadyClock::now() > until) FAIL("redis-server did not answer within 15 s");
      std::this_thread::sleep_for(20ms);
    }
  }

  void kill9() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  void freeze() { ::kill(pid_, SIGSTOP); }
  void thaw() { ::kill(pid_, SIGCONT); }

 private:
  std::string exe_;
  int port_;
  std::string dir_;
  pid_t pid_ = -1;
};

cidrot::Windows windows_now() {
  cidrot::Windows w;
  w.now = std::chrono::system_clock::now();
  const std::int64_t s = cidrot::to_unix_ms(w.now) / 1000;
  w.hour_start = s - s % 3600;
  w.day_start = s - s % 86400;
  return w;
}

struct Run {
  std::mutex mu;
  std::set<std::string> held;            // leased, acknowledged, not released
  std::set<std::string> maybe_released;  // release threw: it may or may not have happened
  std::int64_t ok_before = 0, ok_after_restart = 0, failures = 0, wrong_code = 0;
  std::int64_t lease_failures = 0;
  std::chrono::milliseconds slowest_failure{0};
  std::string first_wrong;
};

}  // namespace

TEST_CASE("fault: Redis killed and restarted mid-run; frozen Redis times out", "[redis][fault]") {
  const std::string exe = find_on_path("redis-server");
  if (exe.empty()) {
    FAIL(
        "redis-server is not on PATH: the Redis fault test starts its own server "
        "(Debian: apt-get install redis-server)");
  }
  char tmpl[] = "/tmp/cidrot-redis-fault-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  const std::string dir = tmpl;
  const int port = CIDROT_TEST_REDIS_FAULT_PORT;
  RedisServer server(exe, port, dir);
  server.start();

  const std::string url = "redis://127.0.0.1:" + std::to_string(port) +
                          "/0?prefix=fault&pool=4&timeout_ms=" + std::to_string(kTimeoutMs);
  auto store = cidrot::open_store(url);
  std::vector<cidrot::Number> numbers;
  for (int i = 0; i < 16; ++i) {
    cidrot::Number n;
    n.caller_id = "21255502" + std::string(i < 10 ? "0" : "") + std::to_string(i);
    n.area_code = "212";
    n.campaigns = {"f"};
    n.hourly_limit = 0;
    n.daily_limit = 0;
    numbers.push_back(n);
  }
  REQUIRE(store->upsert_numbers(numbers).inserted == 16);
  const cidrot::Ladder ladder = {cidrot::LadderStep{cidrot::Tier::kAny, {}}};

  auto lease_once = [&](std::string* id) {
    cidrot::LeaseRequest req;
    req.lease_id = cidrot::make_lease_id();
    req.campaign = "f";
    req.destination = "2125550199";
    req.ladder = &ladder;
    req.windows = windows_now();
    req.ttl = 600s;
    auto r = store->lease(req);
    if (r) *id = r.lease->id;
    return bool(r);
  };

  Run run;
  std::atomic<bool> stop{false}, restarted{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      while (!stop.load()) {
        std::string id;
        bool leased = false;
        const auto t0 = SteadyClock::now();
        try {
          leased = lease_once(&id);
          if (leased) {
            std::lock_guard<std::mutex> lock(run.mu);
            run.held.insert(id);
            (restarted.load() ? run.ok_after_restart : run.ok_before)++;
          }
        } catch (const cidrot::Error& e) {
          const auto took =
              std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t0);
          std::lock_guard<std::mutex> lock(run.mu);
          run.failures++;
          run.lease_failures++;
          run.slowest_failure = std::max(run.slowest_failure, took);
          if (e.code() != cidrot::ErrorCode::kBackendUnavailable) {
            run.wrong_code++;
            run.first_wrong = e.what();
          }
        }
        std::this_thread::sleep_for(1ms);
        if (!leased) continue;
        const auto t1 = SteadyClock::now();
        try {
          cidrot::ReleaseRequest rel;
          rel.lease_id = id;
          rel.now = std::chrono::system_clock::now();
          store->release(rel);
          std::lock_guard<std::mutex> lock(run.mu);
          run.held.erase(id);
        } catch (const cidrot::Error& e) {
          const auto took =
              std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t1);
          std::lock_guard<std::mutex> lock(run.mu);
          run.held.erase(id);
          run.maybe_released.insert(id);
          run.failures++;
          run.slowest_failure = std::max(run.slowest_failure, took);
          if (e.code() != cidrot::ErrorCode::kBackendUnavailable) {
            run.wrong_code++;
            run.first_wrong = e.what();
          }
        }
      }
    });
  }
  auto joiner = [&] {
    stop = true;
    for (auto& t : threads) {
      if (t.joinable()) t.join();
    }
  };
  struct Join {
    std::function<void()> f;
    ~Join() { f(); }
  } join_guard{joiner};

  std::this_thread::sleep_for(400ms);
  server.kill9();
  std::this_thread::sleep_for(1500ms);
  {
    std::lock_guard<std::mutex> lock(run.mu);
    CHECK(run.ok_before > 0);
    CHECK(run.lease_failures > 0);
  }
  server.start();  // same port, same directory: the AOF brings the data back
  restarted = true;
  const auto until = SteadyClock::now() + 10s;
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(run.mu);
      if (run.ok_after_restart >= 20) break;
    }
    if (SteadyClock::now() > until) break;
    std::this_thread::sleep_for(20ms);
  }
  joiner();

  std::printf(
      "redis_fault: %lld leases before the kill, %lld failed calls (slowest %lld ms, "
      "timeout %d ms), %lld leases after the restart\n",
      static_cast<long long>(run.ok_before), static_cast<long long>(run.failures),
      static_cast<long long>(run.slowest_failure.count()), kTimeoutMs,
      static_cast<long long>(run.ok_after_restart));
  INFO("first unexpected error: " << run.first_wrong);
  CHECK(run.wrong_code == 0);
  CHECK(run.ok_after_restart >= 20);  // the same store object works again
  CHECK(run.slowest_failure <= std::chrono::milliseconds(kTimeoutMs) + kSlack);

  // One more call flushes anything the failed calls may have left (see RedisStore::lease).
  store->ping();
  std::string probe;
  if (lease_once(&probe)) run.held.insert(probe);

  // No partial state: the leases in the store are exactly the acknowledged ones, give or take the
  // releases whose outcome is unknown; each number's count matches its lease records.
  const auto w = windows_now();
  const auto leases = store->list_leases(w.now, 1000);
  std::map<std::string, int> per_number;
  std::set<std::string> ids;
  for (const auto& l : leases) {
    ids.insert(l.id);
    per_number[l.number.caller_id]++;
  }
  for (const auto& id : run.held) {
    INFO("acknowledged lease lost: " << id);
    CHECK(ids.count(id) == 1);
  }
  for (const auto& id : ids) {
    INFO("lease nobody holds: " << id);
    CHECK((run.held.count(id) == 1 || run.maybe_released.count(id) == 1));
  }
  for (const auto& n : numbers) {
    auto st = store->get_number(n.caller_id, w);
    REQUIRE(st);
    INFO(n.caller_id);
    CHECK(st->active_leases == per_number[n.caller_id]);
    CHECK(st->active_leases <= 1);
  }

  // The availability index is whole: after releasing everything, all 16 numbers lease once each.
  for (const auto& n : numbers) {
    cidrot::ReleaseRequest rel;
    rel.caller_id = n.caller_id;
    rel.now = w.now;
    store->release(rel);
  }
  std::set<std::string> distinct;
  for (int i = 0; i < 16; ++i) {
    std::string id;
    REQUIRE(lease_once(&id));
  }
  for (const auto& l : store->list_leases(std::chrono::system_clock::now(), 100)) {
    distinct.insert(l.number.caller_id);
  }
  CHECK(distinct.size() == 16);
  std::string none;
  CHECK_FALSE(lease_once(&none));

  SECTION("a frozen server: the call times out, then the same object works again") {
    for (const auto& n : numbers) {
      cidrot::ReleaseRequest rel;
      rel.caller_id = n.caller_id;
      rel.now = std::chrono::system_clock::now();
      store->release(rel);
    }
    // Leases counted so far (total, this hour, this day), over the 16 numbers.
    auto usage = [&] {
      std::array<std::int64_t, 3> u{};
      const cidrot::Windows now = windows_now();
      for (const auto& n : numbers) {
        const auto st = store->get_number(n.caller_id, now);
        REQUIRE(st);
        u[0] += st->total_uses;
        u[1] += st->hour_count;
        u[2] += st->day_count;
      }
      return u;
    };
    const auto before = usage();
    server.freeze();
    const auto t0 = SteadyClock::now();
    std::string id;
    try {
      lease_once(&id);
      FAIL("a lease on a frozen server returned");
    } catch (const cidrot::Error& e) {
      CHECK(e.code() == cidrot::ErrorCode::kBackendUnavailable);
    }
    const auto took = SteadyClock::now() - t0;
    CHECK(took >= std::chrono::milliseconds(kTimeoutMs) - 50ms);
    CHECK(took <= std::chrono::milliseconds(kTimeoutMs) + kSlack);
    server.thaw();
    std::string id2;
    REQUIRE(lease_once(&id2));
    // The timed-out lease ran when the server woke up, or was abandoned before it could: either
    // way only the lease we were granted is left.
    std::this_thread::sleep_for(100ms);
    store->ping();
    std::string id3;
    REQUIRE(lease_once(&id3));
    std::set<std::string> left;
    for (const auto& l : store->list_leases(std::chrono::system_clock::now(), 100)) {
      left.insert(l.id);
    }
    CHECK(left == std::set<std::string>{id2, id3});
    // The call that failed counts nowhere: only the two granted leases were added, so a failed
    // call never uses up a number's cap.
    const auto after = usage();
    CHECK(after[0] == before[0] + 2);
    CHECK(after[1] == before[1] + 2);
    CHECK(after[2] == before[2] + 2);
  }
  std::filesystem::remove_all(dir);
}
