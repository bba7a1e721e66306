// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// Durability: a child process leases under load from several threads and prints each
// acknowledged lease id to a pipe; it is killed with SIGKILL mid-flight. Reopened, the file must
// hold every acknowledged lease with its counters, nothing half-written, and pass integrity_check.
#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <poll.h>
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <set>

#include "cidrot/cidrot.h"
#include "test_util.h"

using namespace cidrot;
using namespace cidrot::sqlite_test;

namespace {

// Reads whole lines from `fd` into `out` until `min_lines` arrived or `timeout` passed (or EOF).
void read_lines(int fd, std::string* pending, std::vector<std::string>* out, std::size_t min_lines,
                std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[65536];
  while (out->size() < min_lines && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return;
    pending->append(buf, static_cast<std::size_t>(n));
    for (std::size_t nl; (nl = pending->find('\n')) != std::string::npos;) {
      out->push_back(pending->substr(0, nl));
      pending->erase(0, nl + 1);
    }
  }
}

}  // namespace

TEST_CASE("acknowledged leases survive kill -9 of the leasing process", "[crash]") {
  const std::string mode = GENERATE(as<std::string>{}, "normal", "full");
  const std::string dir = fresh_dir();
  const std::string path = dir + "/crash.db";
  const std::string url = "sqlite://" + path + "?synchronous=" + mode;
  {
    std::vector<Number> numbers;
    for (int i = 0; i < 300; ++i) {
      numbers.push_back(make_number(std::to_string(2125550000 + i), 0, 0, 1000000));
    }
    open_store(url)->upsert_numbers(numbers);
  }

  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t pid = spawn_worker({"crash", url, "4"}, fds[1], fds[0]);
  ::close(fds[1]);
  std::vector<std::string> acked;
  std::string pending;
  // Let it run under load for a while, then kill it in the middle of its work.
  read_lines(fds[0], &pending, &acked, 2000, std::chrono::seconds(30));
  REQUIRE(::kill(pid, SIGKILL) == 0);
  CHECK(wait_exit(pid) == 128 + SIGKILL);
  // Lines written before the kill are still in the pipe.
  read_lines(fds[0], &pending, &acked, SIZE_MAX, std::chrono::seconds(2));
  ::close(fds[0]);
  INFO("mode " << mode << ", acknowledged leases: " << acked.size());
  REQUIRE(acked.size() >= 100);

  {
    SQLite::Database db(path);
    CHECK(db.execAndGet("PRAGMA integrity_check").getString() == "ok");
    std::set<std::string> stored;
    SQLite::Statement q(db, "SELECT id FROM leases");
    while (q.executeStep()) stored.insert(q.getColumn(0).getString());
    int missing = 0;
    for (const std::string& id : acked) missing += stored.count(id) == 0;
    CHECK(missing == 0);
    CHECK(stored.size() >= acked.size());
    // Nothing half-written: every lease has its counters and every counter its lease.
    CHECK(query_int(db, "SELECT sum(total_uses) FROM numbers") ==
          static_cast<std::int64_t>(stored.size()));
    CHECK(query_int(db,
                    "SELECT count(*) FROM numbers n WHERE n.total_uses <>"
                    " (SELECT count(*) FROM leases l WHERE l.number_id = n.id)") == 0);
    CHECK(query_int(db,
                    "SELECT count(*) FROM numbers n WHERE n.last_used <>"
                    " coalesce((SELECT max(leased_at) FROM leases l WHERE l.number_id = n.id),"
                    " 0)") == 0);
  }
  // And the store opens and serves again.
  auto store = open_store(url);
  const Ladder ladder = {LadderStep{Tier::kAny, {}}};
  LeaseRequest req;
  req.lease_id = make_lease_id();
  req.campaign = "crash";
  req.destination = "2125550100";
  req.ladder = &ladder;
  req.windows.now = std::chrono::system_clock::now();
  CHECK(store->lease(req));
}
