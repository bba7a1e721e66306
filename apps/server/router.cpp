// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT

#include "router.h"

#include <algorithm>
#include <array>
#include <boost/url/parse.hpp>
#include <boost/url/pct_string_view.hpp>
#include <boost/url/url_view.hpp>
#include <exception>

#include "cidrot/error.h"
#include "codec.h"

namespace cidrot::server {
namespace {

constexpr std::size_t kMaxParams = 64;
constexpr std::size_t kMaxSegments = 16;

std::vector<std::string> split_pattern(const std::string& pattern) {
  std::vector<std::string> out;
  std::size_t pos = 1;  // patterns start with '/'
  while (pos <= pattern.size()) {
    const auto slash = pattern.find('/', pos);
    out.push_back(
        pattern.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos));
    if (slash == std::string::npos) break;
    pos = slash + 1;
  }
  if (out.size() == 1 && out[0].empty()) out.clear();  // "/"
  return out;
}

bool is_param(const std::string& segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

// A query key or value, '+' as space. Most are plain digits and names: copied, not decoded.
std::string decode_param(boost::urls::pct_string_view s) {
  if (s.find_first_of("%+") == std::string_view::npos) return std::string(s.data(), s.size());
  return s.decode(boost::urls::encoding_opts(true));
}

std::string_view strip_query(std::string_view target) { return target.substr(0, target.find('?')); }

std::string allow_header(const std::vector<http::verb>& verbs) {
  std::string out;
  for (auto v : verbs) {
    if (!out.empty()) out += ", ";
    out += std::string(http::to_string(v));
  }
  return out;
}

}  // namespace

std::optional<std::string_view> single_value(
    const std::vector<std::pair<std::string, std::string>>& params, std::string_view name) {
  const std::string* found = nullptr;
  for (const auto& [k, v] : params) {
    if (k != name) continue;
    // The seed's server took the last of two values and many frameworks the first: a dialer
    // that sends two different destinations meant one of them, and guessing leases for the
    // wrong call.
    if (found != nullptr && *found != v) throw_invalid(name, "given twice with different values");
    found = &v;
  }
  if (found == nullptr) return std::nullopt;
  return std::string_view(*found);
}

std::optional<std::string_view> Context::param(std::string_view name) const {
  return single_value(query_, name);
}

std::string_view Context::path_param(std::string_view name) const {
  for (const auto& [k, v] : path_params_) {
    if (k == name) return v;
  }
  return {};
}

void Context::json(http::status status, std::string body) {
  res.result(status);
  res.set(http::field::content_type, "application/json");
  res.body() = std::move(body);
}

void Context::text(http::status status, std::string body) {
  res.result(status);
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.body() = std::move(body);
}

void Context::html(http::status status, std::string body) {
  res.result(status);
  res.set(http::field::content_type, "text/html; charset=utf-8");
  res.body() = std::move(body);
}

bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
  // Compare over the longer length so that the time depends on lengths only, never on where the
  // first difference is.
  const std::size_t n = std::max(a.size(), b.size());
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

void Router::add(Route route) {
  if (route.pattern.empty() || route.pattern.front() != '/') {
    throw std::invalid_argument("route pattern must start with '/': " + route.pattern);
  }
  segments_.push_back(split_pattern(route.pattern));
  routes_.push_back(std::move(route));
}

bool Router::is_admin(const Request& req) const {
  if (admin_token_.empty()) return false;
  std::string_view presented;
  const auto auth = req[http::field::authorization];
  if (auth.size() > 7 && (auth.substr(0, 7) == "Bearer " || auth.substr(0, 7) == "bearer ")) {
    presented = auth.substr(7);
    while (!presented.empty() && presented.front() == ' ') presented.remove_prefix(1);
  } else {
    presented = req["X-Admin-Token"];
  }
  if (presented.empty()) return session_check_ && session_check_(req);
  return constant_time_equal(presented, admin_token_);
}

bool Router::token_matches(std::string_view presented) const {
  return !admin_token_.empty() && !presented.empty() &&
         constant_time_equal(presented, admin_token_);
}

Router::Match Router::match(http::verb method, std::string_view path) const {
  // Runs twice per request (for the body limit, then for the route), so the path is split in
  // place; only a segment with a percent escape is decoded into a string. The target's syntax
  // is checked once, by prepare().
  Match m;
  if (path.empty() || path.front() != '/') return m;
  std::array<std::string_view, kMaxSegments> segs;
  std::array<std::string, kMaxSegments> decoded;
  std::size_t count = 0;
  std::string_view rest = path.substr(1);
  if (!rest.empty()) {  // "/" has no segments, "/a/" has "a" and ""
    for (;;) {
      if (count == kMaxSegments) return m;
      const auto slash = rest.find('/');
      std::string_view seg = rest.substr(0, slash);
      if (seg.find('%') != std::string_view::npos) {
        auto d = boost::urls::make_pct_string_view(seg);
        if (!d) return m;
        decoded[count] = d->decode();
        seg = decoded[count];
      }
      segs[count++] = seg;
      if (slash == std::string_view::npos) break;
      rest.remove_prefix(slash + 1);
    }
  }
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    const auto& pat = segments_[i];
    if (pat.size() != count) continue;
    bool ok = true;
    for (std::size_t j = 0; ok && j < count; ++j) {
      ok = is_param(pat[j]) ? !segs[j].empty() : pat[j] == segs[j];
    }
    if (!ok) continue;
    const bool head_as_get = method == http::verb::head && routes_[i].method == http::verb::get &&
                             routes_[i].answers_head;
    if (routes_[i].method != method && !head_as_get) {
      m.allowed.push_back(routes_[i].method);
      if (routes_[i].method == http::verb::get && routes_[i].answers_head) {
        m.allowed.push_back(http::verb::head);
      }
      continue;
    }
    m.index = static_cast<int>(i);
    for (std::size_t j = 0; j < count; ++j) {
      if (is_param(pat[j])) {
        m.params.emplace_back(pat[j].substr(1, pat[j].size() - 2), std::string(segs[j]));
      }
    }
    return m;
  }
  return m;
}

std::size_t Router::body_limit_for(const Request& headers) const {
  const Match m = match(headers.method(), strip_query(headers.target()));
  if (m.index < 0) return kDefaultBodyLimit;
  const Route& r = routes_[static_cast<std::size_t>(m.index)];
  if (r.access == Access::kAdmin && !is_admin(headers)) return kDefaultBodyLimit;
  return r.body_limit;
}

void Router::prepare(Exchange& ex) const {
  Context& ctx = ex.ctx;
  ctx.res.version(ex.req.version());
  ctx.res.keep_alive(ex.req.keep_alive());
  auto fail = [&](http::status status, std::string_view code, std::string_view field,
                  std::string_view message) {
    set_error(ctx.res, status, code, field, message);
    ex.done = true;
  };
  const std::string_view target = ex.req.target();
  auto parsed = boost::urls::parse_origin_form(target);
  if (!parsed)
    return fail(http::status::bad_request, "invalid_argument", "target",
                "target: malformed request target");
  ctx.path_ = std::string(parsed->encoded_path());
  std::size_t count = 0;
  for (auto p : parsed->encoded_params()) {
    if (++count > kMaxParams) {
      return fail(http::status::bad_request, "invalid_argument", "query",
                  "query: more than " + std::to_string(kMaxParams) + " parameters");
    }
    // "?" alone and a trailing or doubled "&" are no parameter, for every route.
    if (p.key.empty() && p.value.empty()) continue;
    if (ctx.query_.empty()) ctx.query_.reserve(8);
    ctx.query_.emplace_back(decode_param(p.key), decode_param(p.value));
  }
  Match m = match(ex.req.method(), ctx.path_);
  if (m.index < 0) {
    if (!m.allowed.empty()) {
      ctx.res.set(http::field::allow, allow_header(m.allowed));
      return fail(http::status::method_not_allowed, "method_not_allowed", "",
                  std::string(ex.req.method_string()) +
                      " is not allowed here; allowed: " + allow_header(m.allowed));
    }
    return fail(http::status::not_found, "no_route", "", "no route for " + ctx.path_);
  }
  ex.route_index = m.index;
  ex.route = &routes_[static_cast<std::size_t>(m.index)];
  ctx.path_params_ = std::move(m.params);
  if (ex.route->access == Access::kAdmin) {
    if (admin_token_.empty()) {
      return fail(http::status::forbidden, "admin_disabled", "",
                  "admin routes are disabled: no admin token is configured. Set ADMIN_TOKEN in "
                  "the environment or in .env (e.g. ADMIN_TOKEN=$(openssl rand -hex 32)) and "
                  "restart cidrot-server");
    }
    if (!is_admin(ex.req)) {
      ctx.res.set(http::field::www_authenticate, "Bearer realm=\"cidrot\"");
      return fail(http::status::unauthorized, "unauthorized", "",
                  "missing or wrong admin token (send Authorization: Bearer <ADMIN_TOKEN> or "
                  "X-Admin-Token)");
    }
  }
}

bool Router::expired(Exchange& ex, std::chrono::steady_clock::time_point now) const {
  if (queue_timeout_.count() <= 0 || now - ex.start <= queue_timeout_) return false;
  const Error e(ErrorCode::kBackendUnavailable,
                "store: no worker was free within " + std::to_string(queue_timeout_.count()) +
                    " ms (the store is slow or unreachable); nothing was done");
  if (!ex.route->answer_error || !ex.route->answer_error(ex.ctx, e)) {
    fail(ex, std::make_exception_ptr(e));
  }
  ex.done = true;
  return true;
}

void Router::run(Exchange& ex) const {
  if (ex.done || ex.route == nullptr) return;
  if (expired(ex, std::chrono::steady_clock::now())) return;
  try {
    ex.route->handler(ex.ctx);
  } catch (...) {
    fail(ex, std::current_exception());
  }
  ex.done = true;
}

void Router::fail(Exchange& ex, std::exception_ptr error) const {
  try {
    std::rethrow_exception(error);
  } catch (const Error& e) {
    ex.ctx.res.erase(http::field::retry_after);
    set_error(ex.ctx.res, e);
    if (status_for(e.code()) == http::status::internal_server_error && on_internal_error) {
      on_internal_error(ex, e.what());
    }
  } catch (const std::exception& e) {
    set_error(ex.ctx.res, http::status::internal_server_error, "internal", "",
              "internal error; see the server log");
    if (on_internal_error) on_internal_error(ex, e.what());
  } catch (...) {
    set_error(ex.ctx.res, http::status::internal_server_error, "internal", "",
              "internal error; see the server log");
    if (on_internal_error) on_internal_error(ex, "unknown exception");
  }
}

void Router::run_batch(Exchange* const* exchanges, std::size_t count) const {
  // Per worker thread, reused: a batch then allocates nothing once warm.
  thread_local std::vector<Exchange*> together;
  thread_local std::vector<Context*> contexts;
  thread_local std::vector<std::exception_ptr> errors;
  const Route* route = count > 0 && exchanges[0]->batchable() ? exchanges[0]->route : nullptr;
  together.clear();
  contexts.clear();
  const auto now = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < count; ++i) {
    Exchange* ex = exchanges[i];
    if (route != nullptr && ex->batchable() && ex->route == route) {
      if (expired(*ex, now)) continue;
      together.push_back(ex);
      contexts.push_back(&ex->ctx);
    } else {
      run(*ex);
    }
  }
  if (together.empty()) return;
  errors.assign(together.size(), nullptr);
  try {
    route->batch_handler(contexts.data(), contexts.size(), errors.data());
  } catch (...) {
    for (auto& e : errors) e = std::current_exception();
  }
  for (std::size_t i = 0; i < together.size(); ++i) {
    if (errors[i]) fail(*together[i], errors[i]);
    together[i]->done = true;
  }
  errors.clear();
}

Response Router::handle(Request req, std::string remote) const {
  Exchange ex(std::move(req), std::move(remote));
  prepare(ex);
  run(ex);
  ex.ctx.res.prepare_payload();
  return std::move(ex.ctx.res);
}

}  // namespace cidrot::server
