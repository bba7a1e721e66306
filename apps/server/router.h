// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
//
// The pure part of cidrot-server: a route table that turns a parsed HTTP request into a
// response. No sockets here, so tests drive it directly (Router::handle) and the network layer
// (http_server.h) only moves bytes.
//
// Adding a route (e.g. the dashboard):
//
//   router.add({http::verb::get, "/dashboard", Access::kPublic, Exec::kInline,
//               [](Context& c) { c.html(http::status::ok, page); }});
//   router.add({http::verb::get, "/api/numbers/{caller_id}", Access::kAdmin, Exec::kWorker,
//               [&](Context& c) { ... c.path_param("caller_id") ... }});
//
// Exec::kWorker handlers run on the store worker pool (anything that calls the Rotator);
// Exec::kInline ones run on the I/O thread and must not block. Access::kAdmin routes are answered
// 401/403 before the handler runs unless the request carries the admin token
// (Authorization: Bearer or X-Admin-Token); a handler can also call Router::is_admin().

#ifndef CIDROT_SERVER_ROUTER_H_
#define CIDROT_SERVER_ROUTER_H_

#include <boost/beast/http.hpp>
#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cidrot/error.h"

namespace cidrot::server {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

enum class Access { kPublic, kAdmin };
enum class Exec { kInline, kWorker };

inline constexpr std::size_t kDefaultBodyLimit = 64 * 1024;

// The value of parameter `name` in `params`, or nullopt. Throws Error(kInvalidArgument, field
// `name`) when it is there twice with different values.
std::optional<std::string_view> single_value(
    const std::vector<std::pair<std::string, std::string>>& params, std::string_view name);

// What a handler sees and fills in. Query and path parameters are percent-decoded.
class Context {
 public:
  Context(const Request& request, std::string remote) : req(request), remote_(std::move(remote)) {}

  const Request& req;
  Response res;

  // The value of a query parameter, or nullopt. Throws Error(kInvalidArgument, field `name`)
  // when it is given twice with different values (params() lists every value).
  std::optional<std::string_view> param(std::string_view name) const;
  const std::vector<std::pair<std::string, std::string>>& params() const { return query_; }
  // A `{name}` segment of the route pattern ("" when the pattern has none).
  std::string_view path_param(std::string_view name) const;
  // The client address ("127.0.0.1").
  const std::string& remote() const { return remote_; }
  std::string_view path() const { return path_; }

  // Response helpers: set status, content type and body.
  void json(http::status status, std::string body);
  void text(http::status status, std::string body);
  void html(http::status status, std::string body);

 private:
  friend class Router;
  std::string remote_;
  std::string path_;
  std::vector<std::pair<std::string, std::string>> query_;
  std::vector<std::pair<std::string, std::string>> path_params_;
};

using Handler = std::function<void(Context&)>;
// Runs one route's handler for `count` requests at once (a worker that found several waiting):
// answers each context as the Handler would, and stores in errors[i] what the Handler would have
// thrown for request i (errors[i] is null on entry).
using BatchHandler =
    std::function<void(Context* const* contexts, std::size_t count, std::exception_ptr* errors)>;

struct Route {
  http::verb method;
  std::string pattern;  // "/next-cid", "/api/numbers/{caller_id}": literal segments and {params}
  Access access = Access::kPublic;
  Exec exec = Exec::kWorker;
  Handler handler;
  std::size_t body_limit = kDefaultBodyLimit;  // larger bodies get 413 before they are read
  BatchHandler batch_handler = nullptr;        // optional; see Exchange::batchable()
  // A GET route also answers HEAD (the handler runs; the response goes without its body). False
  // for a GET with effects (/next-cid leases), which answers HEAD with 405.
  bool answers_head = true;
  // Optional: answers an error the router raises itself (a request that waited too long for a
  // worker) in the route's own format, as its handler would; false leaves it to the JSON error.
  std::function<bool(Context&, const Error&)> answer_error = nullptr;
};

// One request on its way through the router: prepare() on the I/O thread, then run() on the
// thread the route asks for (Exchange::needs_worker()).
struct Exchange {
  explicit Exchange(Request request, std::string remote)
      : req(std::move(request)), ctx(req, std::move(remote)) {}
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  Request req;
  Context ctx;
  const Route* route = nullptr;
  int route_index = -1;  // index into Router::routes(), -1 when none matched
  bool done = false;     // ctx.res is final (an error found in prepare(), or run() finished)
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();

  bool needs_worker() const { return !done && route && route->exec == Exec::kWorker; }
  // Runs on a worker and may be run together with other requests of the same route.
  bool batchable() const { return needs_worker() && route->batch_handler != nullptr; }
};

class Router {
 public:
  // Adds a route; later routes never shadow earlier ones (first match wins).
  void add(Route route);
  const std::vector<Route>& routes() const { return routes_; }

  // "" disables the admin routes (they answer 403 saying how to set a token).
  void set_admin_token(std::string token) { admin_token_ = std::move(token); }
  bool admin_enabled() const { return !admin_token_.empty(); }
  // True when `req` carries the admin token, or the session check (below) accepts it.
  // Constant-time in the token's contents.
  bool is_admin(const Request& req) const;
  // True when `presented` is the admin token (constant-time; false when none is configured).
  bool token_matches(std::string_view presented) const;
  // A second way to be admin: the dashboard's session cookie (apps/server/dashboard). Called on
  // the I/O thread, so it must not block.
  void set_session_check(std::function<bool(const Request&)> check) {
    session_check_ = std::move(check);
  }

  // The body limit for a request whose headers have been read: the matched route's, or the
  // default when no route matches or an admin route lacks the token (so only admins can send the
  // large bodies some admin routes accept).
  std::size_t body_limit_for(const Request& headers) const;

  // Cheap and non-blocking: parses the target, matches a route, checks access. On a problem it
  // fills ex.ctx.res and sets ex.done (400 bad target, 404, 405 with Allow, 401/403).
  void prepare(Exchange& ex) const;
  // A request that waited longer than `timeout` between being read and reaching run() (all
  // store workers busy: a frozen or locked store) is answered 503 backend_unavailable without
  // running its handler, so that a slow store costs each caller about its own timeout, not one
  // per request queued ahead of it. 0 (the default) = no limit. Call before serving.
  void set_queue_timeout(std::chrono::milliseconds timeout) { queue_timeout_ = timeout; }

  // Runs the matched handler; maps exceptions to error responses; never throws.
  void run(Exchange& ex) const;
  // As run() for each exchange; those that are batchable() with the same route as the first
  // one go through its batch handler together, the others through run(). Never throws.
  void run_batch(Exchange* const* exchanges, std::size_t count) const;

  // prepare() + run() in the calling thread; for tests and inline use.
  Response handle(Request req, std::string remote = "127.0.0.1") const;

  // Called with every exception a handler let escape that became a 5xx (for the error log).
  std::function<void(const Exchange&, const std::string& what)> on_internal_error;

 private:
  // Maps what a handler threw to ex's error response (and the error log for a 5xx).
  void fail(Exchange& ex, std::exception_ptr error) const;
  // True (and ex answered 503) when ex waited past the queue timeout.
  bool expired(Exchange& ex, std::chrono::steady_clock::time_point now) const;

  struct Match {
    int index = -1;
    std::vector<std::pair<std::string, std::string>> params;
    std::vector<http::verb> allowed;  // methods of routes whose pattern matched
  };
  Match match(http::verb method, std::string_view path) const;

  std::vector<Route> routes_;
  std::vector<std::vector<std::string>> segments_;  // each route's pattern, split
  std::string admin_token_;
  std::function<bool(const Request&)> session_check_;
  std::chrono::milliseconds queue_timeout_{0};
};

// Constant-time string equality (time depends only on the lengths).
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

}  // namespace cidrot::server

#endif  // CIDROT_SERVER_ROUTER_H_
