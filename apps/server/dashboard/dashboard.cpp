// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT

#include "dashboard.h"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <map>
#include <utility>

#include "cidrot/nanp.h"
#include "codec.h"

namespace cidrot::server::dashboard {
namespace {

// The page loads nothing from elsewhere and runs no inline script, so the policy can be strict:
// an injected <script> or style attribute would not run even if escaping were ever missed.
constexpr char kCsp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

void security_headers(Response& res) {
  res.set(http::field::cache_control, "no-store");
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Referrer-Policy", "no-referrer");
}

std::string cookie_attributes(const Request& req) {
  // Behind a TLS-terminating proxy the cookie must not travel over plain HTTP.
  const bool https = req["X-Forwarded-Proto"] == "https";
  return std::string("; Path=/; HttpOnly; SameSite=Strict") + (https ? "; Secure" : "");
}

// A browser always sends Origin on a cross-site POST; when it is present it must be this host.
bool same_origin(const Request& req) {
  const auto origin = req[http::field::origin];
  if (origin.empty()) return true;
  const auto host = req[http::field::host];
  if (host.empty()) return false;
  const auto scheme_end = origin.find("://");
  return scheme_end != std::string_view::npos && origin.substr(scheme_end + 3) == host;
}

std::int64_t minute_now() {
  return std::chrono::duration_cast<std::chrono::minutes>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::string_view cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const auto semi = header.find(';');
    std::string_view part = header.substr(0, semi);
    header.remove_prefix(semi == std::string_view::npos ? header.size() : semi + 1);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    const auto eq = part.find('=');
    if (eq != std::string_view::npos && part.substr(0, eq) == name) return part.substr(eq + 1);
  }
  return {};
}

bool Dashboard::session_allows(const Request& req) const {
  const auto cookie = cookie_value(req[http::field::cookie], kCookieName);
  if (cookie.empty()) return false;
  const auto csrf = sessions_.csrf_for(cookie);
  if (!csrf) return false;
  if (req.method() == http::verb::get || req.method() == http::verb::head) return true;
  const auto presented = req[kCsrfHeader];
  return !presented.empty() && constant_time_equal(presented, *csrf);
}

void Dashboard::register_routes(Router& r) {
  router_ = &r;
  r.set_session_check([this](const Request& req) { return session_allows(req); });
  for (const Asset* a = assets_begin(); a != assets_end(); ++a) {
    r.add({http::verb::get, a->path, Access::kPublic, Exec::kInline, [a](Context& c) {
             c.res.result(http::status::ok);
             c.res.set(http::field::content_type, a->content_type);
             c.res.body().assign(reinterpret_cast<const char*>(a->data), a->size);
             security_headers(c.res);
             c.res.set("Content-Security-Policy", kCsp);
             c.res.set("X-Frame-Options", "DENY");
           }});
  }
  r.add({http::verb::post, "/dashboard/login", Access::kPublic, Exec::kInline,
         [this](Context& c) { login(c); }});
  r.add({http::verb::post, "/dashboard/logout", Access::kPublic, Exec::kInline,
         [this](Context& c) { logout(c); }});
  r.add({http::verb::get, "/dashboard/session", Access::kPublic, Exec::kInline,
         [this](Context& c) { session(c); }});
}

bool Dashboard::login_allowed(Context& c) {
  std::lock_guard<std::mutex> lock(login_mu_);
  const std::int64_t m = minute_now();
  if (m != login_minute_) {
    login_minute_ = m;
    login_failures_ = 0;
  }
  if (login_failures_ < kLoginFailuresPerMinute) return true;
  c.res.set(http::field::retry_after, "60");
  set_error(c.res, http::status::too_many_requests, "rate_limited", "token",
            "token: too many failed logins; retry in a minute");
  return false;
}

void Dashboard::login_failed() {
  std::lock_guard<std::mutex> lock(login_mu_);
  ++login_failures_;
}

void Dashboard::login(Context& c) {
  security_headers(c.res);
  if (!same_origin(c.req)) {
    set_error(c.res, http::status::forbidden, "cross_origin", "",
              "login from another origin refused");
    return;
  }
  if (!router_->admin_enabled()) {
    set_error(c.res, http::status::forbidden, "admin_disabled", "",
              "no admin token is configured: set ADMIN_TOKEN and restart cidrot-server");
    return;
  }
  if (!login_allowed(c)) return;
  std::string token;
  const std::string_view body = c.req.body();
  if (!body.empty() && body.front() == '{') {
    const auto o = parse_json_object(body);
    if (const auto* t = o.if_contains("token"); t && t->is_string()) token = t->as_string();
  } else {
    for (const auto& [k, v] : parse_form(body)) {
      if (k == "token") token = v;
    }
  }
  if (!router_->token_matches(token)) {
    login_failed();
    set_error(c.res, http::status::unauthorized, "unauthorized", "token", "token: wrong token");
    return;
  }
  const auto s = sessions_.create();
  c.res.set(http::field::set_cookie, std::string(kCookieName) + "=" + s.cookie +
                                         cookie_attributes(c.req) +
                                         "; Max-Age=" + std::to_string(sessions_.ttl().count()));
  c.json(http::status::ok,
         boost::json::serialize(boost::json::object{{"authenticated", true},
                                                    {"csrf_token", s.csrf},
                                                    {"expires_in_s", sessions_.ttl().count()}}));
}

void Dashboard::logout(Context& c) {
  security_headers(c.res);
  // Needs the CSRF token, so another site cannot log an operator out.
  if (!session_allows(c.req)) {
    set_error(c.res, http::status::forbidden, "csrf", "",
              "logout needs a live session and its X-CSRF-Token");
    return;
  }
  sessions_.remove(cookie_value(c.req[http::field::cookie], kCookieName));
  c.res.set(http::field::set_cookie,
            std::string(kCookieName) + "=" + cookie_attributes(c.req) + "; Max-Age=0");
  c.json(http::status::ok, R"({"authenticated":false})");
}

void Dashboard::session(Context& c) {
  security_headers(c.res);
  const auto cookie = cookie_value(c.req[http::field::cookie], kCookieName);
  const auto csrf = cookie.empty() ? std::nullopt : sessions_.csrf_for(cookie);
  boost::json::object o{{"authenticated", csrf.has_value()},
                        {"admin_enabled", router_->admin_enabled()}};
  if (csrf) o["csrf_token"] = *csrf;
  c.json(http::status::ok, boost::json::serialize(o));
}

void Dashboard::extend_stats(boost::json::object& o, const StoreStats& stats) const {
  o["live"] = live_.snapshot();
  struct Region {
    std::int64_t area_codes = 0;  // in-service NPAs of the region
    std::int64_t covered = 0;     // ... with at least one active number
    std::int64_t exhausted = 0;   // ... with numbers, none available now
    std::int64_t numbers = 0;
    std::int64_t available = 0;
  };
  std::map<std::pair<std::string, std::string>, Region> regions;  // (country, region)
  for (const AreaCode* a : all_area_codes()) {
    if (*a->region) ++regions[{a->country, a->region}].area_codes;
  }
  if (auto* areas = o.if_contains("area_codes"); areas && areas->is_array()) {
    auto& arr = areas->as_array();
    for (std::size_t i = 0; i < arr.size() && i < stats.area_codes.size(); ++i) {
      const AreaCodeStats& s = stats.area_codes[i];
      const AreaCode* a = find_area_code(s.npa);
      const std::string region = a ? a->region : "";
      const std::string country = a ? a->country : "";
      auto& obj = arr[i].as_object();
      obj["region"] = region;
      obj["country"] = country;
      Region& r = regions[{country, region}];
      r.numbers += s.numbers;
      r.available += s.available;
      if (s.numbers > 0) ++r.covered;
      if (s.numbers > 0 && s.available == 0) ++r.exhausted;
    }
  }
  boost::json::array out;
  for (const auto& [key, r] : regions) {
    out.push_back(boost::json::object{{"country", key.first},
                                      {"region", key.second},
                                      {"area_codes", r.area_codes},
                                      {"covered_area_codes", r.covered},
                                      {"exhausted_area_codes", r.exhausted},
                                      {"numbers", r.numbers},
                                      {"available", r.available}});
  }
  o["regions"] = std::move(out);
}

}  // namespace cidrot::server::dashboard
