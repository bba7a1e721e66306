// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
//
// Dashboard login sessions: a random id in an HttpOnly cookie, mapped server-side to an expiry
// and a CSRF token. The admin token itself never leaves the login request.

#ifndef CIDROT_SERVER_DASHBOARD_SESSIONS_H_
#define CIDROT_SERVER_DASHBOARD_SESSIONS_H_

#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace cidrot::server::dashboard {

// `bytes` random bytes from the kernel's CSPRNG, as lowercase hex. Throws on failure.
std::string random_hex(std::size_t bytes);

class SessionStore {
 public:
  using Clock = std::chrono::steady_clock;

  explicit SessionStore(std::chrono::seconds ttl = std::chrono::hours(8),
                        std::size_t max_sessions = 1024)
      : ttl_(ttl), max_sessions_(max_sessions) {}

  struct Created {
    std::string cookie;  // "<selector>.<verifier>": the cookie's value
    std::string csrf;    // to be sent back in X-CSRF-Token on state-changing requests
  };
  // A new session; the oldest one is dropped when max_sessions are live.
  Created create();
  // The CSRF token of the live session `cookie` names, or nullopt (unknown, forged, expired).
  std::optional<std::string> csrf_for(std::string_view cookie) const;
  // Ends the session; false when there was none.
  bool remove(std::string_view cookie);
  std::chrono::seconds ttl() const { return ttl_; }
  std::size_t size() const;

 private:
  struct Session {
    std::string verifier;
    std::string csrf;
    Clock::time_point expires;
  };
  // Looked up by the selector; the verifier is compared in constant time, so lookup timing says
  // nothing about the secret half.
  const Session* find_locked(std::string_view cookie) const;

  std::chrono::seconds ttl_;
  std::size_t max_sessions_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Session> sessions_;
};

}  // namespace cidrot::server::dashboard

#endif  // CIDROT_SERVER_DASHBOARD_SESSIONS_H_
