// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// Private: a small synchronous Redis client over hiredis (only the API common to hiredis 0.14 and
// 1.x): a bounded connection pool, per-call deadlines, reconnect after the server comes back, and
// EVALSHA with a reload after NOSCRIPT.
#ifndef CIDROT_STORAGE_REDIS_CLIENT_H_
#define CIDROT_STORAGE_REDIS_CLIENT_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

struct redisContext;
struct redisReply;

namespace cidrot::storage::redis {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

struct ReplyDeleter {
  void operator()(redisReply* r) const noexcept;
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

// Where and how to connect.
struct Endpoint {
  bool unix_socket = false;
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string path;  // unix socket
  std::string user;  // Redis 6 ACL user; "" = the default user
  std::string password;
  std::int64_t db = 0;
  std::string display;  // for messages, password redacted
};

// Command arguments kept as one buffer so building them allocates little.
class Args {
 public:
  Args& add(std::string_view s);
  Args& add(std::int64_t v);
  std::size_t size() const { return offsets_.size(); }
  void clear();
  // Pointers for redisCommandArgv; valid until the next add().
  void view(std::vector<const char*>* argv, std::vector<std::size_t>* lens) const;

 private:
  std::string buf_;
  std::vector<std::pair<std::size_t, std::size_t>> offsets_;
};

class Pool;

// One pooled connection, checked out for the duration of one Store call.
class Connection {
 public:
  Connection(Connection&& o) noexcept
      : ctx_(o.ctx_), pool_(o.pool_), reused_(o.reused_), dead_(o.dead_) {
    o.ctx_ = nullptr;
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  Connection& operator=(Connection&&) = delete;
  ~Connection() = default;  // the Pool takes the socket back (Pool::with)

  // Sends one command and waits for its reply. Throws Error(kBackendUnavailable) on I/O failure or
  // timeout (the connection is then dead) and maps error replies (see check_reply).
  Reply run(const Args& args);
  // As run(), but returns error replies instead of throwing.
  Reply raw(const Args& args);
  // Sends all commands at once, then reads every reply (pipelining).
  std::vector<Reply> pipeline(const std::vector<Args>& cmds);
  // Runs the store script: `args` starts with two placeholders (replaced by EVALSHA <sha>), then
  // numkeys, keys and arguments. On NOSCRIPT (restart, flush, failover) EVAL loads it again.
  Reply eval(const Args& args);

  bool dead() const { return dead_; }

 private:
  friend class Pool;
  Connection(redisContext* ctx, Pool* pool, bool reused)
      : ctx_(ctx), pool_(pool), reused_(reused) {}
  [[noreturn]] void fail(const char* what);
  Reply read_reply();

  redisContext* ctx_;
  Pool* pool_;
  bool reused_;
  bool dead_ = false;
};

// Turns a Redis error reply into the matching cidrot::Error (returns normally otherwise).
void check_reply(const redisReply* r);

// A fixed-size pool. Thread-safe. Connections are opened lazily, dropped when they fail and
// reopened on the next call, so a store object survives a server restart.
class Pool {
 public:
  Pool(Endpoint endpoint, int size, std::chrono::milliseconds timeout, std::string script);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Opens the first connection and loads the script (open_store calls this once, before sharing).
  void start(Deadline deadline);

  std::chrono::milliseconds timeout() const { return timeout_; }
  const Endpoint& endpoint() const { return endpoint_; }

  // Runs fn(Connection&, bool retry) with a connection, within `deadline`. A call that failed on
  // a connection reused from the pool (the server may have restarted since) is tried once more
  // on a fresh connection with retry=true, so fn must be safe to repeat (the store makes its
  // writes idempotent for that). Throws Error(kBackendUnavailable) when the server cannot be
  // reached in time.
  template <class F>
  auto with(Deadline deadline, F&& fn) -> decltype(fn(std::declval<Connection&>(), false)) {
    for (int attempt = 0;; ++attempt) {
      Connection c = acquire(deadline);
      try {
        auto result = fn(c, attempt > 0);
        give_back(c);
        return result;
      } catch (...) {
        const bool retry = c.dead_ && c.reused_ && attempt == 0 && Clock::now() < deadline;
        give_back(c);
        if (!retry) throw;
      }
    }
  }

 private:
  friend class Connection;
  Connection acquire(Deadline deadline);
  void give_back(Connection& c);
  redisContext* connect(Deadline deadline);

  const Endpoint endpoint_;
  const int size_;
  const std::chrono::milliseconds timeout_;
  const std::string script_;
  std::string sha_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<redisContext*> idle_;
  int open_ = 0;
};

}  // namespace cidrot::storage::redis

#endif  // CIDROT_STORAGE_REDIS_CLIENT_H_
