// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
#include "redis_client.h"

#include <hiredis/hiredis.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>

#include "cidrot/error.h"

namespace cidrot::storage::redis {
namespace {

timeval to_timeval(std::chrono::microseconds us) {
  if (us.count() < 1000) us = std::chrono::microseconds(1000);
  timeval tv{};
  tv.tv_sec = static_cast<decltype(tv.tv_sec)>(us.count() / 1000000);
  tv.tv_usec = static_cast<decltype(tv.tv_usec)>(us.count() % 1000000);
  return tv;
}

std::chrono::microseconds remaining(Deadline deadline) {
  return std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now());
}

bool starts_with(const char* s, const char* prefix) {
  return std::strncmp(s, prefix, std::strlen(prefix)) == 0;
}

// A pooled socket the server closed while it sat idle (restart, timeout, CLIENT KILL) reads as
// EOF; finding that here costs one syscall and spares the caller a failed command.
bool looks_alive(redisContext* ctx) {
  char b;
  const auto n = ::recv(ctx->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

}  // namespace

void ReplyDeleter::operator()(redisReply* r) const noexcept { freeReplyObject(r); }

Args& Args::add(std::string_view s) {
  offsets_.emplace_back(buf_.size(), s.size());
  buf_.append(s.data(), s.size());
  return *this;
}

Args& Args::add(std::int64_t v) {
  char tmp[24];
  const int n = std::snprintf(tmp, sizeof tmp, "%lld", static_cast<long long>(v));
  return add(std::string_view(tmp, static_cast<std::size_t>(n)));
}

void Args::clear() {
  buf_.clear();
  offsets_.clear();
}

void Args::view(std::vector<const char*>* argv, std::vector<std::size_t>* lens) const {
  argv->clear();
  lens->clear();
  for (const auto& [off, len] : offsets_) {
    argv->push_back(buf_.data() + off);
    lens->push_back(len);
  }
}

void check_reply(const redisReply* r) {
  if (r->type != REDIS_REPLY_ERROR) return;
  const std::string msg(r->str, r->len);
  const char* s = msg.c_str();
  // Conditions that pass when the server recovers or a failover completes.
  for (const char* transient : {"LOADING", "BUSY", "MASTERDOWN", "READONLY", "OOM", "NOAUTH",
                                "TRYAGAIN", "CLUSTERDOWN", "NOREPLICAS", "MISCONF"}) {
    if (starts_with(s, transient)) {
      throw Error(ErrorCode::kBackendUnavailable, "redis: " + msg.substr(0, 200));
    }
  }
  if (starts_with(s, "MOVED") || starts_with(s, "ASK")) {
    throw Error(ErrorCode::kBackendUnavailable,
                "redis: the store's keys live on another cluster node (" + msg.substr(0, 100) +
                    "); point the URL at that node or at a cluster proxy");
  }
  if (starts_with(s, "WRONGTYPE")) {
    throw Error(ErrorCode::kCorrupt, "redis: a key under the store's prefix holds foreign data (" +
                                         msg.substr(0, 120) + "); use another ?prefix=");
  }
  throw Error(ErrorCode::kInternal, "redis: " + msg.substr(0, 300));
}

void Connection::fail(const char* what) {
  dead_ = true;
  std::string detail = ctx_->errstr[0] != '\0' ? ctx_->errstr : "connection lost";
  const bool timed_out =
#ifdef REDIS_ERR_TIMEOUT
      ctx_->err == REDIS_ERR_TIMEOUT ||
#endif
      detail.find("temporarily unavailable") != std::string::npos ||
      detail.find("imeout") != std::string::npos;
  if (timed_out) detail = "no reply in time";
  throw Error(ErrorCode::kBackendUnavailable,
              std::string("redis ") + pool_->endpoint().display + ": " + what + ": " + detail);
}

Reply Connection::read_reply() {
  void* r = nullptr;
  if (redisGetReply(ctx_, &r) != REDIS_OK || r == nullptr) fail("reading reply");
  return Reply(static_cast<redisReply*>(r));
}

Reply Connection::raw(const Args& args) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  args.view(&argv, &lens);
  void* r = redisCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data());
  if (r == nullptr) fail("command failed");
  return Reply(static_cast<redisReply*>(r));
}

Reply Connection::run(const Args& args) {
  Reply r = raw(args);
  check_reply(r.get());
  return r;
}

std::vector<Reply> Connection::pipeline(const std::vector<Args>& cmds) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  for (const Args& a : cmds) {
    a.view(&argv, &lens);
    if (redisAppendCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data()) !=
        REDIS_OK) {
      fail("queueing command");
    }
  }
  std::vector<Reply> out;
  out.reserve(cmds.size());
  for (std::size_t i = 0; i < cmds.size(); ++i) out.push_back(read_reply());
  for (const Reply& r : out) check_reply(r.get());
  return out;
}

Reply Connection::eval(const Args& args) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  args.view(&argv, &lens);
  argv[0] = "EVALSHA";
  lens[0] = 7;
  argv[1] = pool_->sha_.data();
  lens[1] = pool_->sha_.size();
  void* r = redisCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data());
  if (r == nullptr) fail("script call failed");
  Reply reply(static_cast<redisReply*>(r));
  if (reply->type == REDIS_REPLY_ERROR && starts_with(reply->str, "NOSCRIPT")) {
    // The server lost its script cache (restart, SCRIPT FLUSH, failover): EVAL loads it again.
    argv[0] = "EVAL";
    lens[0] = 4;
    argv[1] = pool_->script_.data();
    lens[1] = pool_->script_.size();
    r = redisCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data());
    if (r == nullptr) fail("script call failed");
    reply.reset(static_cast<redisReply*>(r));
  }
  check_reply(reply.get());
  return reply;
}

Pool::Pool(Endpoint endpoint, int size, std::chrono::milliseconds timeout, std::string script)
    : endpoint_(std::move(endpoint)), size_(size), timeout_(timeout), script_(std::move(script)) {}

Pool::~Pool() {
  for (redisContext* c : idle_) redisFree(c);
}

void Pool::start(Deadline deadline) {
  Connection c = acquire(deadline);
  try {
    Args a;
    a.add("SCRIPT").add("LOAD").add(script_);
    Reply r = c.run(a);
    if (r->type != REDIS_REPLY_STRING) {
      throw Error(ErrorCode::kInternal, "redis: SCRIPT LOAD returned no digest");
    }
    sha_.assign(r->str, r->len);
  } catch (...) {
    give_back(c);
    throw;
  }
  give_back(c);
}

redisContext* Pool::connect(Deadline deadline) {
  const auto left = remaining(deadline);
  if (left.count() <= 0) {
    throw Error(ErrorCode::kBackendUnavailable, "redis " + endpoint_.display +
                                                    ": no connection within " +
                                                    std::to_string(timeout_.count()) + " ms");
  }
  redisContext* ctx =
      endpoint_.unix_socket
          ? redisConnectUnixWithTimeout(endpoint_.path.c_str(), to_timeval(left))
          : redisConnectWithTimeout(endpoint_.host.c_str(), endpoint_.port, to_timeval(left));
  if (ctx == nullptr) {
    throw Error(ErrorCode::kBackendUnavailable, "redis: cannot allocate a connection");
  }
  if (ctx->err != 0) {
    const std::string why = ctx->errstr;
    redisFree(ctx);
    throw Error(ErrorCode::kBackendUnavailable,
                "redis " + endpoint_.display + ": cannot connect: " + why);
  }
  try {
    redisSetTimeout(ctx, to_timeval(remaining(deadline)));
    Connection c(ctx, this, false);
    if (!endpoint_.password.empty()) {
      Args a;
      a.add("AUTH");
      if (!endpoint_.user.empty()) a.add(endpoint_.user);
      a.add(endpoint_.password);
      Reply r = c.raw(a);
      if (r->type == REDIS_REPLY_ERROR) {
        throw Error(ErrorCode::kBackendUnavailable,
                    "redis " + endpoint_.display + ": AUTH failed: " + std::string(r->str, r->len));
      }
    }
    if (endpoint_.db != 0) {
      Args a;
      a.add("SELECT").add(endpoint_.db);
      Reply r = c.raw(a);
      if (r->type == REDIS_REPLY_ERROR) {
        throw Error(ErrorCode::kBackendUnavailable, "redis " + endpoint_.display + ": SELECT " +
                                                        std::to_string(endpoint_.db) +
                                                        " failed: " + std::string(r->str, r->len));
      }
    }
  } catch (...) {
    redisFree(ctx);
    throw;
  }
  return ctx;
}

Connection Pool::acquire(Deadline deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    while (!idle_.empty()) {
      redisContext* ctx = idle_.back();
      idle_.pop_back();
      if (looks_alive(ctx)) {
        lock.unlock();
        const auto left = remaining(deadline);
        if (left.count() <= 0 || redisSetTimeout(ctx, to_timeval(left)) != REDIS_OK) {
          lock.lock();
          idle_.push_back(ctx);
          cv_.notify_one();
          throw Error(ErrorCode::kBackendUnavailable, "redis " + endpoint_.display +
                                                          ": no connection within " +
                                                          std::to_string(timeout_.count()) + " ms");
        }
        return Connection(ctx, this, true);
      }
      redisFree(ctx);
      --open_;
    }
    if (open_ < size_) {
      ++open_;
      lock.unlock();
      try {
        return Connection(connect(deadline), this, false);
      } catch (...) {
        lock.lock();
        --open_;
        cv_.notify_one();
        throw;
      }
    }
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
        open_ >= size_) {
      throw Error(ErrorCode::kBackendUnavailable,
                  "redis " + endpoint_.display + ": all " + std::to_string(size_) +
                      " connections busy for " + std::to_string(timeout_.count()) +
                      " ms (raise ?pool=)");
    }
  }
}

void Pool::give_back(Connection& c) {
  if (c.ctx_ == nullptr) return;
  redisContext* ctx = c.ctx_;
  c.ctx_ = nullptr;
  if (c.dead_) {
    redisFree(ctx);
    std::lock_guard<std::mutex> lock(mu_);
    --open_;
  } else {
    std::lock_guard<std::mutex> lock(mu_);
    idle_.push_back(ctx);
  }
  cv_.notify_one();
}

}  // namespace cidrot::storage::redis
