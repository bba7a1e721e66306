// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
//
// Every libpq call here is non-blocking and waits in poll() with the caller's deadline, so a
// server that stops answering (crashed host, frozen process, black-holed network) costs a call at
// most its timeout: libpq's blocking API would wait for TCP to give up, which takes minutes.

#include "pg_conn.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <utility>

namespace cidrot::storage::pg {

int Deadline::poll_ms() const {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(at - Clock::now());
  if (left.count() <= 0) return 0;
  // Round up so poll() never wakes a hair early and spins.
  return static_cast<int>(std::min<std::int64_t>(left.count() + 1, 1 << 30));
}

std::int64_t Result::i64(int row, int col) const {
  const char* s = PQgetvalue(r_.get(), row, col);
  std::int64_t v = 0;
  std::from_chars(s, s + PQgetlength(r_.get(), row, col), v);
  return v;
}

std::vector<std::string> Result::text_array(int row, int col) const {
  // Our arrays hold campaign names ([A-Za-z0-9_.-]) but decode quoting anyway, so a value that
  // was written by hand never comes back mangled.
  std::vector<std::string> out;
  const std::string s = str(row, col);
  if (s.size() < 2 || s == "{}") return out;
  std::string cur;
  bool quoted = false, in_quotes = false;
  for (std::size_t i = 1; i + 1 < s.size(); ++i) {
    const char c = s[i];
    if (in_quotes) {
      if (c == '\\' && i + 2 < s.size()) {
        cur += s[++i];
      } else if (c == '"') {
        in_quotes = false;
      } else {
        cur += c;
      }
    } else if (c == '"') {
      in_quotes = quoted = true;
    } else if (c == ',') {
      out.push_back(std::move(cur));
      cur.clear();
      quoted = false;
    } else {
      cur += c;
    }
  }
  (void)quoted;
  out.push_back(std::move(cur));
  return out;
}

void append_array_element(std::string* out, const std::string& v) {
  out->push_back('"');
  for (char c : v) {
    if (c == '"' || c == '\\') out->push_back('\\');
    out->push_back(c);
  }
  out->push_back('"');
}

namespace {

std::string trim_message(const char* m) {
  std::string s = m == nullptr ? "" : m;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (char& c : s) {
    if (c == '\n') c = ' ';
  }
  return s;
}

// Waits for `fd` to become readable (or writable) until the deadline. Returns false on timeout.
bool wait_fd(int fd, bool write, const Deadline& deadline) {
  for (;;) {
    pollfd p{fd, static_cast<short>(POLLIN | (write ? POLLOUT : 0)), 0};
    const int ms = deadline.poll_ms();
    if (ms == 0) return false;
    const int r = ::poll(&p, 1, ms);
    if (r > 0) return true;
    if (r == 0) return false;
    if (errno != EINTR) return true;  // let libpq report the socket error itself
  }
}

}  // namespace

std::unique_ptr<Conn> Conn::open(const ConnSettings& settings, Deadline deadline) {
  std::vector<const char*> keys, values;
  for (std::size_t i = 0; i < settings.keys.size(); ++i) {
    keys.push_back(settings.keys[i].c_str());
    values.push_back(settings.values[i].c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* c = PQconnectStartParams(keys.data(), values.data(), 0);
  if (c == nullptr) throw Failure{Failure::kConnect, "out of memory", {}, false};
  std::unique_ptr<Conn> conn(new Conn(c));
  if (PQstatus(c) == CONNECTION_BAD) {
    throw Failure{Failure::kConnect, trim_message(PQerrorMessage(c)), {}, false};
  }
  PostgresPollingStatusType st = PGRES_POLLING_WRITING;
  while (st != PGRES_POLLING_OK) {
    if (st == PGRES_POLLING_FAILED) {
      throw Failure{Failure::kConnect, trim_message(PQerrorMessage(c)), {}, false};
    }
    if (!wait_fd(PQsocket(c), st == PGRES_POLLING_WRITING, deadline)) {
      throw Failure{Failure::kTimeout, "connecting timed out", {}, false};
    }
    st = PQconnectPoll(c);
  }
  // libpq prints server notices to stderr by default; a library must not write there.
  PQsetNoticeProcessor(
      c, [](void*, const char*) {}, nullptr);
  if (PQsetnonblocking(c, 1) != 0) {
    throw Failure{Failure::kConnect, trim_message(PQerrorMessage(c)), {}, false};
  }
  conn->pid_ = PQbackendPID(c);
  // Remembered so an in-doubt lease can later be settled by ending exactly this session.
  Result r = conn->exec(
      "SELECT backend_start::text FROM pg_stat_activity WHERE pid = "
      "pg_backend_pid()",
      deadline);
  if (r.rows() == 1) conn->backend_start_ = r.str(0, 0);
  conn->calls_ = 0;
  return conn;
}

Conn::~Conn() {
  if (c_ != nullptr) PQfinish(c_);
}

void Conn::fail(Failure::Kind kind, const std::string& what, bool sent) {
  healthy_ = false;
  throw Failure{kind, what, {}, sent};
}

void Conn::wait(bool write, Deadline deadline, bool sent) {
  if (!wait_fd(PQsocket(c_), write, deadline)) {
    fail(Failure::kTimeout, "the server did not answer in time", sent);
  }
}

Result Conn::finish(Deadline deadline, bool sent) {
  for (;;) {
    const int f = PQflush(c_);
    if (f == 0) break;
    if (f < 0) fail(Failure::kLost, trim_message(PQerrorMessage(c_)), sent);
    wait(true, deadline, sent);
    if (!PQconsumeInput(c_)) fail(Failure::kLost, trim_message(PQerrorMessage(c_)), sent);
  }
  Result ok;
  for (;;) {
    while (PQisBusy(c_)) {
      wait(false, deadline, sent);
      if (!PQconsumeInput(c_)) fail(Failure::kLost, trim_message(PQerrorMessage(c_)), sent);
    }
    PGresult* r = PQgetResult(c_);
    if (r == nullptr) break;
    const ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE || st == PGRES_NONFATAL_ERROR) {
      Result owned(r);
      if (PQstatus(c_) == CONNECTION_BAD) {
        fail(Failure::kLost, trim_message(PQresultErrorMessage(r)), sent);
      }
      const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
      std::string sqlstate = state == nullptr ? "" : state;
      std::string message = trim_message(PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY));
      // Drain the rest so the session stays usable for the next call.
      while (true) {
        while (PQisBusy(c_)) {
          wait(false, deadline, sent);
          if (!PQconsumeInput(c_)) fail(Failure::kLost, message, sent);
        }
        PGresult* more = PQgetResult(c_);
        if (more == nullptr) break;
        PQclear(more);
      }
      // A server shutting down or a session the server ended leaves nothing to reuse.
      if (sqlstate.rfind("08", 0) == 0 || sqlstate.rfind("57P", 0) == 0) healthy_ = false;
      ++calls_;
      throw Failure{Failure::kSql, message, sqlstate, sent};
    }
    ok = Result(r);
  }
  if (PQstatus(c_) == CONNECTION_BAD) fail(Failure::kLost, trim_message(PQerrorMessage(c_)), sent);
  ++calls_;
  return ok;
}

Result Conn::exec_prepared(int id, const std::string& sql, const std::vector<const char*>& params,
                           Deadline deadline) {
  const std::string name = "cidrot_" + std::to_string(id);
  if (static_cast<std::size_t>(id) >= prepared_.size()) prepared_.resize(id + 1, false);
  if (!prepared_[id]) {
    if (!PQsendPrepare(c_, name.c_str(), sql.c_str(), 0, nullptr)) {
      fail(Failure::kLost, trim_message(PQerrorMessage(c_)), false);
    }
    // Preparing changes nothing on the server, so a failure here is never in doubt.
    finish(deadline, false);
    prepared_[id] = true;
  }
  if (!PQsendQueryPrepared(c_, name.c_str(), static_cast<int>(params.size()), params.data(),
                           nullptr, nullptr, 0)) {
    fail(Failure::kLost, trim_message(PQerrorMessage(c_)), false);
  }
  return finish(deadline, true);
}

Result Conn::exec_params(const std::string& sql, const std::vector<const char*>& params,
                         Deadline deadline) {
  if (!PQsendQueryParams(c_, sql.c_str(), static_cast<int>(params.size()), nullptr, params.data(),
                         nullptr, nullptr, 0)) {
    fail(Failure::kLost, trim_message(PQerrorMessage(c_)), false);
  }
  return finish(deadline, true);
}

Result Conn::exec(const std::string& sql, Deadline deadline) {
  if (!PQsendQuery(c_, sql.c_str())) fail(Failure::kLost, trim_message(PQerrorMessage(c_)), false);
  return finish(deadline, true);
}

Pool::~Pool() = default;

Pool::Handle Pool::acquire(Deadline deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (!idle_.empty()) {
      std::unique_ptr<Conn> c = std::move(idle_.back());
      idle_.pop_back();
      return Handle(this, std::move(c));
    }
    if (open_ < size_) {
      ++open_;
      lock.unlock();
      try {
        return Handle(this, Conn::open(settings_, deadline));
      } catch (...) {
        lock.lock();
        --open_;
        cv_.notify_one();
        throw;
      }
    }
    if (cv_.wait_until(lock, deadline.at) == std::cv_status::timeout && idle_.empty() &&
        open_ >= size_) {
      throw Failure{Failure::kTimeout,
                    "all " + std::to_string(size_) + " pooled connections stayed busy",
                    {},
                    false};
    }
  }
}

void Pool::give_back(std::unique_ptr<Conn> c) {
  std::lock_guard<std::mutex> lock(mu_);
  if (c->healthy()) {
    idle_.push_back(std::move(c));
  } else {
    --open_;
    c.reset();
  }
  cv_.notify_one();
}

void Pool::drop_idle() {
  std::vector<std::unique_ptr<Conn>> dead;
  {
    std::lock_guard<std::mutex> lock(mu_);
    dead.swap(idle_);
    open_ -= static_cast<int>(dead.size());
    cv_.notify_all();
  }
}

}  // namespace cidrot::storage::pg
