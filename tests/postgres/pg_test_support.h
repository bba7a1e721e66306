// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// Helpers shared by the PostgreSQL tests: the test server's URL, fresh schemas, raw SQL through
// libpq (to corrupt or inspect what the store wrote), and child processes.
#ifndef CIDROT_TESTS_POSTGRES_PG_TEST_SUPPORT_H_
#define CIDROT_TESTS_POSTGRES_PG_TEST_SUPPORT_H_

#include <libpq-fe.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace cidrot::pgtest {

// CIDROT_TEST_POSTGRES_URL, e.g. postgresql://cidrot:secret@127.0.0.1:5433/cidrot.
inline std::string base_url() {
  const char* u = std::getenv("CIDROT_TEST_POSTGRES_URL");
  if (u == nullptr || *u == '\0') {
    throw std::runtime_error(
        "CIDROT_TEST_POSTGRES_URL is not set (ctest sets it from the CMake "
        "cache variable of the same name)");
  }
  return u;
}

// `url` with one more query option.
inline std::string with_option(const std::string& url, const std::string& kv) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + kv;
}

// A schema name no other test run uses.
inline std::string fresh_schema(const std::string& prefix) {
  static std::atomic<int> n{0};
  static const unsigned salt = std::random_device{}() % 1000000;
  return prefix + std::to_string(::getpid()) + "x" + std::to_string(salt) + "x" +
         std::to_string(n.fetch_add(1));
}

// libpq's form of a URL (it accepts postgresql:// URIs but not our own options).
inline std::string libpq_url(const std::string& url) {
  const auto q = url.find('?');
  return q == std::string::npos ? url : url.substr(0, q);
}

// Runs SQL on its own connection; returns the first column of the first row ("" if none).
inline std::string raw_sql(const std::string& url, const std::string& sql) {
  PGconn* c = PQconnectdb(libpq_url(url).c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    std::string m = PQerrorMessage(c);
    PQfinish(c);
    throw std::runtime_error("raw_sql connect: " + m);
  }
  PGresult* r = PQexec(c, sql.c_str());
  const auto st = PQresultStatus(r);
  std::string out;
  if (st == PGRES_TUPLES_OK && PQntuples(r) > 0) out = PQgetvalue(r, 0, 0);
  std::string err = PQresultErrorMessage(r);
  PQclear(r);
  PQfinish(c);
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) throw std::runtime_error("raw_sql: " + err);
  return out;
}

// Memory shared with forked children (anonymous, MAP_SHARED); lock-free atomics work across
// processes in it. Never freed: a test process maps a few of these at most.
template <class T>
T* shared_block() {
  void* p = ::mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::runtime_error("mmap failed");
  return new (p) T();
}

// Runs `body` in `n` child processes (argument: the child's index) and waits for them. A child
// exits with body's return value (0 = fine); any exception is exit code 99. Returns the codes.
// Fork before this process opens stores or starts threads, so children inherit neither.
inline std::vector<int> run_children(int n, const std::function<int(int)>& body) {
  std::vector<pid_t> pids;
  for (int i = 0; i < n; ++i) {
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
      int code = 99;
      try {
        code = body(i);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "child %d: %s\n", i, e.what());
      } catch (...) {
      }
      std::fflush(nullptr);
      ::_exit(code);  // never return into the test runner from a child
    }
    pids.push_back(pid);
  }
  std::vector<int> codes;
  for (pid_t pid : pids) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    codes.push_back(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  }
  return codes;
}

}  // namespace cidrot::pgtest

#endif  // CIDROT_TESTS_POSTGRES_PG_TEST_SUPPORT_H_
