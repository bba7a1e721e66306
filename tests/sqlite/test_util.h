// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// Helpers shared by the SQLite backend tests.
#ifndef CIDROT_TESTS_SQLITE_TEST_UTIL_H_
#define CIDROT_TESTS_SQLITE_TEST_UTIL_H_

#include <SQLiteCpp/Database.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "cidrot/cidrot.h"

namespace cidrot::sqlite_test {

// A new empty directory under the build tree; each call returns a fresh one.
inline std::string fresh_dir() {
  std::string tmpl = std::string(CIDROT_SQLITE_TEST_DIR) + "/t.XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

inline Number make_number(const std::string& caller_id, std::int64_t hourly = 0,
                          std::int64_t daily = 0, std::int32_t max_concurrent = 1,
                          std::vector<std::string> campaigns = {}) {
  Number n;
  n.caller_id = caller_id;
  n.area_code = caller_id.substr(0, 3);
  n.carrier = "TestTel";
  n.campaigns = std::move(campaigns);
  n.hourly_limit = hourly;
  n.daily_limit = daily;
  n.max_concurrent = max_concurrent;
  return n;
}

// Starts the worker program with `args`; its stdout goes to `stdout_fd` when >= 0.
inline pid_t spawn_worker(const std::vector<std::string>& args, int stdout_fd = -1,
                          int close_fd = -1) {
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    if (stdout_fd >= 0) ::dup2(stdout_fd, 1);
    if (close_fd >= 0) ::close(close_fd);
    std::vector<char*> argv;
    std::string prog = CIDROT_SQLITE_WORKER;
    argv.push_back(prog.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(prog.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

inline int wait_exit(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

inline std::int64_t query_int(SQLite::Database& db, const std::string& sql) {
  return db.execAndGet(sql).getInt64();
}

}  // namespace cidrot::sqlite_test

#endif  // CIDROT_TESTS_SQLITE_TEST_UTIL_H_
