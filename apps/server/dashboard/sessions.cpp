// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT

#include "sessions.h"

#include <sys/random.h>

#include <cerrno>
#include <stdexcept>

#include "router.h"

namespace cidrot::server::dashboard {

std::string random_hex(std::size_t bytes) {
  std::string raw(bytes, '\0');
  std::size_t got = 0;
  while (got < bytes) {
    const ssize_t n = getrandom(raw.data() + got, bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("getrandom failed");
    }
    got += static_cast<std::size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes * 2);
  for (unsigned char c : raw) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

SessionStore::Created SessionStore::create() {
  std::string selector = random_hex(12);
  Session s{random_hex(32), random_hex(32), Clock::now() + ttl_};
  Created out{selector + "." + s.verifier, s.csrf};
  std::lock_guard<std::mutex> lock(mu_);
  const auto now = Clock::now();
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    it = it->second.expires <= now ? sessions_.erase(it) : std::next(it);
  }
  if (sessions_.size() >= max_sessions_) {
    auto oldest = sessions_.begin();
    for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
      if (it->second.expires < oldest->second.expires) oldest = it;
    }
    sessions_.erase(oldest);
  }
  sessions_.emplace(std::move(selector), std::move(s));
  return out;
}

const SessionStore::Session* SessionStore::find_locked(std::string_view cookie) const {
  const auto dot = cookie.find('.');
  if (dot == std::string_view::npos) return nullptr;
  const auto it = sessions_.find(std::string(cookie.substr(0, dot)));
  if (it == sessions_.end()) return nullptr;
  if (!constant_time_equal(cookie.substr(dot + 1), it->second.verifier)) return nullptr;
  if (it->second.expires <= Clock::now()) return nullptr;
  return &it->second;
}

std::optional<std::string> SessionStore::csrf_for(std::string_view cookie) const {
  std::lock_guard<std::mutex> lock(mu_);
  const Session* s = find_locked(cookie);
  if (s == nullptr) return std::nullopt;
  return s->csrf;
}

bool SessionStore::remove(std::string_view cookie) {
  std::lock_guard<std::mutex> lock(mu_);
  if (find_locked(cookie) == nullptr) return false;
  sessions_.erase(std::string(cookie.substr(0, cookie.find('.'))));
  return true;
}

std::size_t SessionStore::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sessions_.size();
}

}  // namespace cidrot::server::dashboard
