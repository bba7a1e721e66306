// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// Private: libpq connections with a hard deadline on every call, and a small connection pool.
#ifndef CIDROT_STORAGE_POSTGRES_PG_CONN_H_
#define CIDROT_STORAGE_POSTGRES_PG_CONN_H_

#include <libpq-fe.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace cidrot::storage::pg {

using Clock = std::chrono::steady_clock;

// The instant a call must have finished by.
struct Deadline {
  Clock::time_point at;
  static Deadline in(std::chrono::milliseconds d) { return {Clock::now() + d}; }
  bool passed() const { return Clock::now() >= at; }
  // Milliseconds left, at least 0, for poll().
  int poll_ms() const;
};

// A failure below the Store layer; PostgresStore turns it into a cidrot::Error.
struct Failure {
  enum Kind { kConnect, kTimeout, kLost, kSql } kind;
  std::string message;   // never holds the password: libpq messages do not echo it
  std::string sqlstate;  // kSql only
  bool sent = false;     // the request reached the socket: its effect is unknown on kTimeout/kLost
};

// An owned PGresult.
class Result {
 public:
  Result() = default;
  explicit Result(PGresult* r) : r_(r, &PQclear) {}
  int rows() const { return r_ ? PQntuples(r_.get()) : 0; }
  bool null(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
  std::string str(int row, int col) const {
    return std::string(PQgetvalue(r_.get(), row, col),
                       static_cast<std::size_t>(PQgetlength(r_.get(), row, col)));
  }
  const char* c_str(int row, int col) const { return PQgetvalue(r_.get(), row, col); }
  std::int64_t i64(int row, int col) const;
  bool boolean(int row, int col) const { return PQgetvalue(r_.get(), row, col)[0] == 't'; }
  // A text[] column, decoded from its array literal.
  std::vector<std::string> text_array(int row, int col) const;

 private:
  std::shared_ptr<PGresult> r_;
};

struct ConnSettings {
  std::vector<std::string> keys, values;  // libpq connection keywords
  std::string target;                     // "host:port/db" for messages (no credentials)
};

// One server session. Not thread-safe: the pool hands it to one caller at a time.
class Conn {
 public:
  // Connects without blocking past `deadline` (libpq's non-blocking connect and poll()).
  // Throws Failure{kConnect|kTimeout}.
  static std::unique_ptr<Conn> open(const ConnSettings& settings, Deadline deadline);
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  // Runs a prepared statement (prepared on this session the first time: `id` indexes the
  // store's statement table, `sql` is its text). Text parameters, NULL for a null pointer.
  Result exec_prepared(int id, const std::string& sql, const std::vector<const char*>& params,
                       Deadline deadline);
  // Runs one or more statements without parameters (simple query protocol).
  Result exec(const std::string& sql, Deadline deadline);
  // Like exec_prepared() but unprepared (dynamic SQL).
  Result exec_params(const std::string& sql, const std::vector<const char*>& params,
                     Deadline deadline);

  // False once a call failed in a way that leaves the session unusable (lost, timed out).
  bool healthy() const { return healthy_; }
  int backend_pid() const { return pid_; }
  const std::string& backend_start() const { return backend_start_; }
  // How many calls this session completed: a session that waited idle in the pool may have
  // died meanwhile (server restart), which the store treats differently from a fresh one failing.
  std::int64_t calls() const { return calls_; }

 private:
  explicit Conn(PGconn* c) : c_(c) {}
  Result finish(Deadline deadline, bool sent);
  [[noreturn]] void fail(Failure::Kind kind, const std::string& what, bool sent);
  void wait(bool write, Deadline deadline, bool sent);

  PGconn* c_;
  bool healthy_ = true;
  std::int64_t calls_ = 0;
  int pid_ = 0;
  std::string backend_start_;
  std::vector<bool> prepared_;
};

// A bounded set of sessions shared by the store's callers.
class Pool {
 public:
  Pool(ConnSettings settings, int size) : settings_(std::move(settings)), size_(size) {}
  ~Pool();

  // A session for one call; returned to the pool (or dropped if unhealthy) on destruction.
  class Handle {
   public:
    Handle(Pool* pool, std::unique_ptr<Conn> c) : pool_(pool), c_(std::move(c)) {}
    Handle(Handle&& o) noexcept = default;
    Handle& operator=(Handle&&) = delete;
    ~Handle() {
      if (c_) pool_->give_back(std::move(c_));
    }
    Conn* operator->() { return c_.get(); }
    Conn& operator*() { return *c_; }

   private:
    Pool* pool_;
    std::unique_ptr<Conn> c_;
  };

  // Waits for an idle session (or opens one) until `deadline`. Throws Failure.
  Handle acquire(Deadline deadline);
  // Closes every idle session: after one was found dead, the others most likely are too.
  void drop_idle();
  const ConnSettings& settings() const { return settings_; }

 private:
  void give_back(std::unique_ptr<Conn> c);

  ConnSettings settings_;
  const int size_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Conn>> idle_;
  int open_ = 0;  // sessions that exist: idle or handed out
};

// Quotes `v` as one element of a PostgreSQL array literal ("..." with \ and " escaped).
void append_array_element(std::string* out, const std::string& v);

}  // namespace cidrot::storage::pg

#endif  // CIDROT_STORAGE_POSTGRES_PG_CONN_H_
