// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
//
// Fault test: this test starts its OWN PostgreSQL (initdb + pg_ctl in a temp dir, 127.0.0.1,
// port CIDROT_TEST_POSTGRES_FAULT_PORT, default 5434) and, while 4 threads lease and release
// through one store object, freezes the server (SIGSTOP: a host that stops answering), thaws it,
// stops it (pg_ctl -m fast), starts it, and crashes it (pg_ctl -m immediate) and starts it again.
// It checks that every failed call failed with kBackendUnavailable within the configured
// timeout, that the same store object works again after each outage, and that the store's
// counts equal exactly the leases the callers were granted (no partial state).

#include <dirent.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "cidrot/cidrot.h"
#include "pg_test_support.h"

using namespace cidrot;
using namespace std::chrono_literals;

namespace {

constexpr int kTimeoutMs = 1000;

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

bool is_file(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// The directory holding initdb and pg_ctl: CIDROT_PG_BINDIR, else the newest
// /usr/lib/postgresql/<version>/bin. Empty when there is none.
std::string find_bindir() {
  if (const char* env = std::getenv("CIDROT_PG_BINDIR"); env != nullptr && *env != '\0') {
    return env;
  }
  std::string best;
  int best_version = -1;
  if (DIR* d = ::opendir("/usr/lib/postgresql")) {
    while (dirent* e = ::readdir(d)) {
      const std::string bin = std::string("/usr/lib/postgresql/") + e->d_name + "/bin";
      const int version = std::atoi(e->d_name);
      if (version > best_version && is_file(bin + "/initdb") && is_file(bin + "/pg_ctl")) {
        best = bin;
        best_version = version;
      }
    }
    ::closedir(d);
  }
  return best;
}

// A throwaway server. PostgreSQL refuses to run as root, so as root every server command runs
// as the `postgres` user (runuser) on a directory that user owns.
class Server {
 public:
  Server() {
    bindir_ = find_bindir();
    if (bindir_.empty()) {
      FAIL(
          "the fault test needs PostgreSQL's server binaries (initdb, pg_ctl): install "
          "postgresql (Debian: /usr/lib/postgresql/<version>/bin) or set CIDROT_PG_BINDIR");
    }
    const char* p = std::getenv("CIDROT_TEST_POSTGRES_FAULT_PORT");
    port_ = p != nullptr && *p != '\0' ? p : "5434";
    char tmpl[] = "/tmp/cidrot-pgfault-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) FAIL("mkdtemp failed");
    dir_ = tmpl;
    if (::geteuid() == 0) {
      const passwd* pw = ::getpwnam("postgres");
      if (pw == nullptr) FAIL("running as root, but there is no 'postgres' user to run the server");
      if (::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) FAIL("chown of " + dir_ + " failed");
      as_ = "runuser -u postgres -- ";
    }
    run("initdb -D " + shell_quote(dir_ + "/data") + " -U cidrot -A trust --no-sync >" +
        shell_quote(dir_ + "/initdb.log") + " 2>&1");
    start();
  }

  ~Server() {
    for (int pid : frozen_) ::kill(pid, SIGCONT);
    std::system((as_ + bindir_ + "/pg_ctl -D " + shell_quote(dir_ + "/data") +
                 " -m immediate stop >/dev/null 2>&1")
                    .c_str());
    std::system(("rm -rf " + shell_quote(dir_)).c_str());
  }

  std::string url() const {
    return "postgresql://cidrot@127.0.0.1:" + port_ +
           "/postgres?timeout_ms=" + std::to_string(kTimeoutMs) + "&pool=4&schema=fault";
  }

  void start() {
    run("pg_ctl -D " + shell_quote(dir_ + "/data") + " -l " + shell_quote(dir_ + "/server.log") +
        " -w -t 60 -o " +
        shell_quote("-c listen_addresses=127.0.0.1 -p " + port_ +
                    " -c unix_socket_directories=" + dir_ + " -c fsync=off") +
        " start >/dev/null");
  }
  void stop(const char* mode) {
    run(std::string("pg_ctl -D ") + shell_quote(dir_ + "/data") + " -m " + mode +
        " -w stop >/dev/null");
  }

  // SIGSTOP/SIGCONT the postmaster and all its children: a server that accepts TCP
  // connections (the kernel does) but never answers.
  void freeze() {
    frozen_ = server_pids();
    for (int pid : frozen_) ::kill(pid, SIGSTOP);
  }
  void thaw() {
    for (int pid : frozen_) ::kill(pid, SIGCONT);
    frozen_.clear();
  }

 private:
  void run(const std::string& cmd) {
    const std::string full = as_ + bindir_ + "/" + cmd;
    if (std::system(full.c_str()) != 0) {
      std::ifstream log(dir_ + "/server.log");
      std::stringstream tail;
      tail << log.rdbuf();
      FAIL("command failed: " << full << "\n" << tail.str());
    }
  }

  std::vector<int> server_pids() const {
    std::ifstream pidfile(dir_ + "/data/postmaster.pid");
    int postmaster = 0;
    pidfile >> postmaster;
    REQUIRE(postmaster > 0);
    std::vector<int> pids = {postmaster};
    if (DIR* d = ::opendir("/proc")) {
      while (dirent* e = ::readdir(d)) {
        const int pid = std::atoi(e->d_name);
        if (pid <= 0) continue;
        std::ifstream stat(std::string("/proc/") + e->d_name + "/stat");
        std::string line;
        std::getline(stat, line);
        const auto close = line.rfind(')');
        if (close == std::string::npos) continue;
        std::istringstream rest(line.substr(close + 2));
        char state;
        int ppid = 0;
        rest >> state >> ppid;
        if (ppid == postmaster) pids.push_back(pid);
      }
      ::closedir(d);
    }
    return pids;
  }

  std::string bindir_, port_, dir_, as_;
  std::vector<int> frozen_;
};

struct Tally {
  std::atomic<int> granted{0};
  std::atomic<int> failed{0};
  std::atomic<int> wrong_code{0};
  std::atomic<long> slowest_failure_ms{0};
  std::atomic<long> slowest_call_ms{0};
  std::mutex mu;
  std::vector<std::string> unreleased;  // lease ids whose release failed during an outage
};

void note_max(std::atomic<long>& slot, long v) {
  long cur = slot.load();
  while (v > cur && !slot.compare_exchange_weak(cur, v)) {
  }
}

}  // namespace

TEST_CASE("fault: a server that freezes, stops and crashes mid-run", "[postgres][fault]") {
  Server server;
  auto store = open_store(server.url());
  auto clock = std::make_shared<ManualClock>(std::chrono::system_clock::from_time_t(1772409600));
  RotatorOptions o;
  o.time_zone = "UTC";
  {
    Rotator setup(store, o, clock);
    std::vector<Number> nums;
    for (int i = 0; i < 12; ++i) {
      Number n;
      n.caller_id = "21255501" + std::to_string(10 + i);
      n.hourly_limit = 0;
      n.daily_limit = 0;
      nums.push_back(n);
    }
    setup.add_numbers(nums);
  }

  Tally t;
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&, w] {
      Rotator rot(store, o, clock);
      while (!stop) {
        const auto t0 = std::chrono::steady_clock::now();
        auto elapsed = [&] {
          return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::steady_clock::now() - t0)
                                       .count());
        };
        std::string id;
        try {
          LeaseResult r = rot.next(CallRequest{"2125559999", "sales", "w" + std::to_string(w), 0s});
          note_max(t.slowest_call_ms, elapsed());
          if (!r) continue;  // all 12 may be held by unreleased leases for a moment
          t.granted++;
          id = r.lease->id;
          rot.release(id);
        } catch (const Error& e) {
          note_max(t.slowest_call_ms, elapsed());
          note_max(t.slowest_failure_ms, elapsed());
          t.failed++;
          if (e.code() != ErrorCode::kBackendUnavailable) {
            std::fprintf(stderr, "unexpected error: %s\n", e.what());
            t.wrong_code++;
          }
          if (!id.empty()) {
            std::lock_guard<std::mutex> lock(t.mu);
            t.unreleased.push_back(id);
          }
          std::this_thread::sleep_for(5ms);
        }
      }
    });
  }

  auto granted_after = [&](std::chrono::milliseconds d) {
    const int before = t.granted;
    std::this_thread::sleep_for(d);
    return t.granted - before;
  };

  CHECK(granted_after(800ms) > 0);

  // 1. Frozen server: nothing answers, connections hang in the kernel's backlog.
  server.freeze();
  const int failed_before_freeze = t.failed;
  std::this_thread::sleep_for(2500ms);
  CHECK(t.failed - failed_before_freeze >= 4);  // every worker's call timed out at least once
  server.thaw();
  CHECK(granted_after(1500ms) > 0);  // the same store object works again

  // 2. Clean shutdown (sessions are terminated), then a restart.
  server.stop("fast");
  const int failed_before_stop = t.failed;
  std::this_thread::sleep_for(1500ms);
  CHECK(t.failed - failed_before_stop > 0);
  server.start();
  CHECK(granted_after(1500ms) > 0);

  // 3. Crash (no shutdown at all; recovery on start).
  server.stop("immediate");
  std::this_thread::sleep_for(1000ms);
  server.start();
  CHECK(granted_after(1500ms) > 0);

  stop = true;
  for (auto& th : workers) th.join();

  INFO("granted " << t.granted << ", failed " << t.failed << ", slowest failure "
                  << t.slowest_failure_ms << " ms, slowest call " << t.slowest_call_ms << " ms");
  CHECK(t.wrong_code == 0);
  // Failing calls fail within the timeout (plus scheduling slack on a shared 2-core box).
  CHECK(t.slowest_failure_ms <= kTimeoutMs + 500);
  CHECK(t.slowest_call_ms <= kTimeoutMs + 500);

  Rotator check(store, o, clock);
  for (const auto& id : t.unreleased) check.release(id);
  // No partial state: exactly the granted leases were counted, and none is left behind.
  const StoreStats st = check.stats();
  CHECK(st.total_uses == t.granted);
  CHECK(st.active_leases == 0);
  CHECK(check.list_leases().empty());
  std::int64_t hours = 0;
  for (const auto& n : check.list_numbers(ListQuery{}).items) hours += n.hour_count;
  CHECK(hours == t.granted);
}
