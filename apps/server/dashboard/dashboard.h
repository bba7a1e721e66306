// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
//
// The operator dashboard (docs/dashboard.md): GET /dashboard and its embedded assets, cookie
// login/logout, and the figures it adds to GET /api/stats. The page reads and changes data only
// through the admin API; a dashboard session counts as admin there (Router::set_session_check),
// with a per-session CSRF token required in X-CSRF-Token on anything but GET/HEAD.

#ifndef CIDROT_SERVER_DASHBOARD_DASHBOARD_H_
#define CIDROT_SERVER_DASHBOARD_DASHBOARD_H_

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "cidrot/types.h"
#include "live_stats.h"
#include "router.h"
#include "sessions.h"

namespace cidrot::server::dashboard {

inline constexpr char kCookieName[] = "cidrot_session";
inline constexpr char kCsrfHeader[] = "X-CSRF-Token";
// Failed logins accepted per minute (all clients together) before the login answers 429.
inline constexpr int kLoginFailuresPerMinute = 20;

// The value of cookie `name` in a Cookie header ("" when absent).
std::string_view cookie_value(std::string_view header, std::string_view name);

// An embedded asset (generated from apps/server/dashboard/assets/ at build time).
struct Asset {
  const char* path;  // "/dashboard", "/dashboard/app.js", ...
  const char* content_type;
  const unsigned char* data;
  std::size_t size;
};
const Asset* assets_begin();
const Asset* assets_end();

class Dashboard {
 public:
  explicit Dashboard(std::chrono::seconds session_ttl = std::chrono::hours(8))
      : sessions_(session_ttl) {}

  // Adds the dashboard routes and the session check to `router` (which must outlive this).
  void register_routes(Router& router);

  LiveStats& live() { return live_; }
  // Adds "live", "regions" and each area code's "region" to a stats_json() object.
  void extend_stats(boost::json::object& stats_json, const StoreStats& stats) const;

  // True when `req` carries a live session cookie and, unless it is a GET/HEAD, the session's
  // CSRF token in X-CSRF-Token.
  bool session_allows(const Request& req) const;

 private:
  void login(Context& c);
  void logout(Context& c);
  void session(Context& c);
  // False (and the 429 filled in) when too many logins failed in the last minute.
  bool login_allowed(Context& c);
  void login_failed();

  const Router* router_ = nullptr;
  SessionStore sessions_;
  LiveStats live_;
  std::mutex login_mu_;
  std::int64_t login_minute_ = 0;
  int login_failures_ = 0;
};

}  // namespace cidrot::server::dashboard

#endif  // CIDROT_SERVER_DASHBOARD_DASHBOARD_H_
