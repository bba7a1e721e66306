// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// The pure half of cidrot-server: route table, auth, codec and handlers over a memory:// store,
// without sockets. The HTTP behaviour (keep-alive, limits, timeouts, shutdown, concurrency) is
// tested against the real binary by http_test.py.

#include "router.h"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <memory>
#include <set>
#include <string>

#include "api.h"
#include "cidrot/rotator.h"
#include "cidrot/store.h"
#include "codec.h"
#include "metrics.h"
#include "rate_limiter.h"

using namespace cidrot;
using namespace cidrot::server;

namespace {

constexpr const char* kToken = "test-token-0123456789abcdef";

struct Fixture {
  explicit Fixture(std::string token = kToken, std::int64_t rate_limit = 0,
                   const std::string& store = "memory://")
      : rot(open_store(store)), api(rot, ApiOptions{rate_limit}) {
    router.set_admin_token(std::move(token));
    api.register_routes(router);
    metrics = std::make_unique<Metrics>(route_labels(router));
    api.set_metrics(metrics.get());
  }

  Response call(http::verb method, const std::string& target, std::string body = {},
                bool admin = false, const std::string& content_type = {}) {
    Request req{method, target, 11};
    if (admin) req.set(http::field::authorization, std::string("Bearer ") + kToken);
    if (!content_type.empty()) req.set(http::field::content_type, content_type);
    req.body() = std::move(body);
    req.prepare_payload();
    return router.handle(std::move(req));
  }
  Response get(const std::string& target) { return call(http::verb::get, target); }

  void add(const std::string& caller_id, const std::string& extra = "") {
    const auto r =
        call(http::verb::post, "/add-number", "{\"caller_id\":\"" + caller_id + "\"" + extra + "}",
             true, "application/json");
    REQUIRE(r.result_int() / 100 == 2);
  }

  Rotator rot;
  Api api;
  Router router;
  std::unique_ptr<Metrics> metrics;
};

boost::json::object body_of(const Response& r) { return boost::json::parse(r.body()).as_object(); }

std::string field_of(const Response& r) {
  const auto o = body_of(r);
  return o.contains("field") ? std::string(o.at("field").as_string()) : std::string();
}

}  // namespace

TEST_CASE("router: 404, 405 with Allow, path parameters", "[server]") {
  Fixture f;
  CHECK(f.get("/nope").result() == http::status::not_found);
  CHECK(f.get("/next-cid/").result() == http::status::not_found);
  const auto r = f.call(http::verb::put, "/api/numbers/2125550100", "", true);
  CHECK(r.result() == http::status::method_not_allowed);
  CHECK(std::string(r[http::field::allow]) == "GET, HEAD, PATCH, DELETE");
  // HEAD runs a GET route, but not /next-cid's: a HEAD must not lease.
  CHECK(f.call(http::verb::head, "/health", "", false).result() == http::status::ok);
  const auto h = f.call(http::verb::head, "/next-cid?to=2125551234&campaign=c", "", false);
  CHECK(h.result() == http::status::method_not_allowed);
  CHECK(std::string(h[http::field::allow]) == "GET");
  f.add("2125550100");
  const auto g = f.call(http::verb::get, "/api/numbers/%2B1%20212%20555%200100", "", true);
  REQUIRE(g.result() == http::status::ok);
  CHECK(body_of(g).at("caller_id").as_string() == "2125550100");
}

TEST_CASE("router: a request that waited past the queue timeout is a 503 that did nothing",
          "[server]") {
  // SQLite: its /next-cid has a batch handler, which run_batch() checks too.
  const std::string dir = "/tmp/cidrot_router_queue_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  Fixture f(kToken, 0, "sqlite://" + dir + "/q.db");
  f.router.set_queue_timeout(std::chrono::milliseconds(50));
  f.add("2125550100", R"(,"max_concurrent":5)");
  auto queued = [&](const std::string& target, std::chrono::milliseconds waited) {
    auto ex = std::make_unique<Exchange>(Request{http::verb::get, target, 11}, "127.0.0.1");
    f.router.prepare(*ex);
    ex->start -= waited;
    return ex;
  };
  const std::string next = "/next-cid?to=2125551234&campaign=c";
  auto json_ex = queued(next, std::chrono::milliseconds(100));
  f.router.run(*json_ex);
  CHECK(json_ex->ctx.res.result() == http::status::service_unavailable);
  CHECK(body_of(json_ex->ctx.res).at("error") == "backend_unavailable");
  // format=text: the error in headers, an empty body (nothing a dialplan could dial).
  auto text_ex = queued(next + "&format=text", std::chrono::milliseconds(100));
  f.router.run(*text_ex);
  CHECK(text_ex->ctx.res.result() == http::status::service_unavailable);
  CHECK(text_ex->ctx.res.body().empty());
  CHECK(text_ex->ctx.res["X-Cidrot-Error"] == "backend_unavailable");
  // A batch: the late one is answered 503, the fresh one leases.
  auto late = queued(next, std::chrono::milliseconds(100));
  auto fresh = queued(next, std::chrono::milliseconds(0));
  REQUIRE(late->batchable());
  Exchange* batch[] = {late.get(), fresh.get()};
  f.router.run_batch(batch, 2);
  CHECK(late->ctx.res.result() == http::status::service_unavailable);
  CHECK(fresh->ctx.res.result() == http::status::ok);
  // Only the fresh request leased anything.
  CHECK(f.rot.stats().active_leases == 1);
  std::filesystem::remove_all(dir);
}

TEST_CASE("router: admin access", "[server]") {
  Fixture f;
  Request bearer{http::verb::get, "/api/stats", 11};
  CHECK(f.router.handle(bearer).result() == http::status::unauthorized);
  bearer.set(http::field::authorization, std::string("Bearer ") + kToken);
  CHECK(f.router.handle(bearer).result() == http::status::ok);
  Request header{http::verb::get, "/api/stats", 11};
  header.set("X-Admin-Token", kToken);
  CHECK(f.router.handle(header).result() == http::status::ok);
  Request wrong{http::verb::get, "/api/stats", 11};
  wrong.set(http::field::authorization, std::string("Bearer ") + kToken + "x");
  const auto w = f.router.handle(wrong);
  CHECK(w.result() == http::status::unauthorized);
  CHECK(w.body().find(kToken) == std::string::npos);

  Fixture disabled("");
  const auto d = disabled.call(http::verb::get, "/api/stats", "", true);
  CHECK(d.result() == http::status::forbidden);
  CHECK_THAT(d.body(), Catch::Contains("ADMIN_TOKEN"));

  CHECK(constant_time_equal("abc", "abc"));
  CHECK_FALSE(constant_time_equal("abc", "abd"));
  CHECK_FALSE(constant_time_equal("abc", "abcd"));
  CHECK_FALSE(constant_time_equal("", "a"));
}

TEST_CASE("next-cid: JSON, text, denial", "[server]") {
  Fixture f;
  f.add("2125550100", ",\"carrier\":\"Verizon\",\"meta\":{\"state\":\"NY\"}");
  const auto r = f.get("/next-cid?to=%2B1%20(212)%20555-1234&campaign=sales&agent=a1");
  REQUIRE(r.result() == http::status::ok);
  const auto o = body_of(r);
  CHECK(o.at("caller_id").as_string() == "2125550100");
  CHECK(o.at("carrier").as_string() == "Verizon");
  CHECK(o.at("area_code").as_string() == "212");
  CHECK(o.at("meta").as_object().at("state").as_string() == "NY");
  CHECK(o.at("reservation_id").as_string().size() == 32);
  CHECK(o.at("match").as_string() == "same_npa");
  CHECK(o.at("expires_at").as_string().size() == 24);

  const auto denied = f.get("/next-cid?to=2125551234&campaign=sales&agent=a2");
  CHECK(denied.result() == kNoCallerIdStatus);
  CHECK(body_of(denied).at("reason").as_string() == "all_reserved");
  const auto text = f.get("/next-cid?to=2125551234&campaign=sales&agent=a2&format=text");
  CHECK(text.result() == kNoCallerIdStatus);
  CHECK(text.body().empty());
  CHECK(std::string(text["X-Cidrot-Reason"]) == "all_reserved");

  const auto rel = f.call(http::verb::post, "/release",
                          "reservation_id=" + std::string(o.at("reservation_id").as_string()) +
                              "&disposition=ANSWER&duration=12",
                          false, "application/x-www-form-urlencoded");
  REQUIRE(rel.result() == http::status::ok);
  CHECK(body_of(rel).at("released").as_int64() == 1);
  const auto digits = f.get("/next-cid?to=2125551234&campaign=sales&format=text");
  CHECK(digits.result() == http::status::ok);
  CHECK(digits.body() == "2125550100");
  const auto st = f.rot.get_number("2125550100");
  REQUIRE(st);
  CHECK(st->last_disposition == "answered");
  CHECK(st->last_duration_s == 12);

  Fixture empty;
  CHECK(body_of(empty.get("/next-cid?to=2125551234&campaign=x")).at("reason").as_string() ==
        "pool_empty");
}

// A SQLite file in a fresh temporary directory (removed with the object).
struct TempSqlite {
  std::filesystem::path dir;
  TempSqlite() {
    char tmpl[] = "/tmp/cidrot-router-XXXXXX";
    dir = ::mkdtemp(tmpl);
  }
  ~TempSqlite() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  std::string url() const { return "sqlite://" + (dir / "t.db").string(); }
};

bool have_sqlite() {
  const auto b = compiled_backends();
  return std::find(b.begin(), b.end(), "sqlite") != b.end();
}

TEST_CASE("next-cid: batched only on a store that leases a batch in one call", "[server]") {
  Fixture mem;
  Exchange ex(Request{http::verb::get, "/next-cid?to=2125551234&campaign=s", 11}, "127.0.0.1");
  mem.router.prepare(ex);
  CHECK_FALSE(ex.batchable());  // memory:// leases item by item
  if (!have_sqlite()) return;   // a build without SQLite has no batching store
  TempSqlite tmp;
  Fixture sql(kToken, 0, tmp.url());
  Exchange ex2(Request{http::verb::get, "/next-cid?to=2125551234&campaign=s", 11}, "127.0.0.1");
  sql.router.prepare(ex2);
  CHECK(ex2.batchable());
}

TEST_CASE("next-cid batch: each request answered as alone, errors kept to their own request",
          "[server]") {
  if (!have_sqlite()) return;  // the batch path needs a batching store (SQLite)
  TempSqlite tmp;
  Fixture f(kToken, 0, tmp.url());
  f.add("2125550100");
  f.add("2125550101");
  f.add("2125550102", ",\"campaigns\":[\"other\"]");
  // Requests as a worker would find them waiting together: good ones, bad input (JSON and text
  // mode), a bad format, an unknown route in between (run alone), and more calls than numbers.
  const std::vector<std::string> targets = {
      "/next-cid?to=2125551234&campaign=sales&agent=a1",
      "/next-cid?to=12&campaign=sales",                      // bad destination: 400, field to
      "/next-cid?to=12&campaign=sales&format=text",          // the same in text mode
      "/next-cid?to=2125551234&campaign=sales&format=xml",   // bad format: 400 JSON
      "/health",                                             // another route: run alone
      "/next-cid?to=2125551234&campaign=sales&format=text",  // the second sales number
      "/next-cid?to=2125551234&campaign=sales",              // none left: 409 all_reserved
      "/next-cid?to=2125551234&campaign=other",              // its own campaign's number
  };
  std::vector<std::unique_ptr<Exchange>> owned;
  std::vector<Exchange*> batch;
  for (const std::string& t : targets) {
    owned.push_back(std::make_unique<Exchange>(Request{http::verb::get, t, 11}, "127.0.0.1"));
    f.router.prepare(*owned.back());
    batch.push_back(owned.back().get());
  }
  REQUIRE(batch[0]->batchable());
  CHECK_FALSE(batch[4]->batchable());
  f.router.run_batch(batch.data(), batch.size());
  for (Exchange* ex : batch) CHECK(ex->done);
  auto res = [&](std::size_t i) -> Response& { return batch[i]->ctx.res; };
  CHECK(res(0).result() == http::status::ok);
  const std::string first(body_of(res(0)).at("caller_id").as_string());
  CHECK(res(1).result() == http::status::bad_request);
  CHECK(body_of(res(1)).at("field").as_string() == "to");
  CHECK(res(2).result() == http::status::bad_request);
  CHECK(res(2).body().empty());
  CHECK(std::string(res(2)["X-Cidrot-Error"]) == "invalid_argument");
  CHECK(res(3).result() == http::status::bad_request);
  CHECK(body_of(res(3)).at("field").as_string() == "format");
  CHECK(res(4).result() == http::status::ok);
  CHECK(res(5).result() == http::status::ok);
  const std::string second = res(5).body();
  CHECK(std::set<std::string>{first, second} == std::set<std::string>{"2125550100", "2125550101"});
  CHECK(res(6).result() == kNoCallerIdStatus);
  CHECK(body_of(res(6)).at("reason").as_string() == "all_reserved");
  CHECK(res(7).result() == http::status::ok);
  CHECK(body_of(res(7)).at("caller_id").as_string() == "2125550102");
  // Three leases, nothing from the bad requests.
  CHECK(f.rot.stats().active_leases == 3);
  CHECK(f.rot.stats().total_uses == 3);
}

TEST_CASE("bad input: a 4xx naming the field, and no lease or counter left", "[server]") {
  Fixture f;
  f.add("2125550100");
  const std::string big(10 * 1024, '9');
  struct Case {
    http::verb method;
    std::string target;
    std::string body;
    bool admin;
    unsigned status;
    std::string field;
  };
  const std::vector<Case> cases = {
      {http::verb::get, "/next-cid?campaign=c", "", false, 400, "to"},
      {http::verb::get, "/next-cid?to=&campaign=c", "", false, 400, "to"},
      {http::verb::get, "/next-cid?to=2125551234", "", false, 400, "campaign"},
      {http::verb::get, "/next-cid?to=2125551234&campaign=", "", false, 400, "campaign"},
      {http::verb::get, "/next-cid?to=abcdefghij&campaign=c", "", false, 400, "to"},
      {http::verb::get, "/next-cid?to=1234&campaign=c", "", false, 400, "to"},
      {http::verb::get, "/next-cid?to=" + big + "&campaign=c", "", false, 400, "to"},
      {http::verb::get, "/next-cid?to=2125551234&campaign=" + big, "", false, 400, "campaign"},
      {http::verb::get, "/next-cid?to=2125551234&campaign=c&agent=" + big, "", false, 400, "agent"},
      {http::verb::get, "/next-cid?to=2125551234&campaign=c&ttl=abc", "", false, 400, "ttl"},
      {http::verb::get, "/next-cid?to=2125551234&campaign=c&ttl=0", "", false, 400, "ttl"},
      {http::verb::get, "/next-cid?to=2125551234&campaign=c&format=xml", "", false, 400, "format"},
      {http::verb::get, "/next-cid?to=2125551234&campaign=bad%20name", "", false, 400, "campaign"},
      {http::verb::post, "/release", "", false, 400, "reservation_id"},
      {http::verb::post, "/release", "reservation_id=xyz", false, 400, "reservation_id"},
      {http::verb::post, "/release", "caller_id=2125550100&duration=-5", false, 400, "duration"},
      {http::verb::post, "/release", "caller_id=2125550100&disposition=maybe", false, 400,
       "disposition"},
      {http::verb::post, "/add-number", "{\"caller_id\":", true, 400, "body"},
      {http::verb::post, "/add-number", "[1,2]", true, 400, "body"},
      {http::verb::post, "/add-number", "{\"carrier\":\"x\"}", true, 400, "caller_id"},
      {http::verb::post, "/add-number", "{\"caller_id\":\"2125550199\",\"meta\":[1]}", true, 400,
       "meta"},
      {http::verb::post, "/add-number", "{\"caller_id\":\"2125550199\",\"daily_limit\":\"x\"}",
       true, 400, "daily_limit"},
      {http::verb::post, "/add-number", "{\"caller_id\":\"2125550199\",\"area_code\":\"310\"}",
       true, 400, "area_code"},
      {http::verb::post, "/add-number?caller_id=" + big, "", true, 400, "caller_id"},
      {http::verb::patch, "/api/numbers/2125550100", "{\"bogus\":1}", true, 400, "bogus"},
      {http::verb::patch, "/api/numbers/2125550100", "{}", true, 400, "body"},
      {http::verb::patch, "/api/numbers/2125550100", "not json", true, 400, "body"},
      {http::verb::patch, "/api/numbers/2125550199", "{\"active\":false}", true, 404, "caller_id"},
      {http::verb::get, "/api/numbers?limit=0", "", true, 400, "limit"},
      {http::verb::get, "/api/numbers?sort=nope", "", true, 400, "sort"},
      {http::verb::get, "/api/numbers?area_code=12", "", true, 400, "area_code"},
      {http::verb::get, "/api/numbers?colour=red", "", true, 400, "colour"},
      {http::verb::get, "/api/numbers/12", "", true, 400, "caller_id"},
      {http::verb::delete_, "/api/numbers/2125550199", "", true, 404, "caller_id"},
      {http::verb::delete_, "/api/reservation/2125550199", "", true, 404, "caller_id"},
      {http::verb::post, "/api/numbers/import", "caller_id,colour\n2125550101,red\n", true, 400,
       "csv"},
      {http::verb::post, "/api/numbers/import", "", true, 400, "csv"},
      {http::verb::post, "/api/numbers/import", "\"unterminated\n", true, 400, "csv"},
      {http::verb::post, "/api/numbers/import", "hello,world\nfoo\n", true, 400, "csv"},
      {http::verb::post, "/api/numbers/import", "2125550101,x,212,-1,,\n", true, 400, "csv"},
      {http::verb::get, "/api/stats", "", false, 401, ""},
  };
  for (const auto& c : cases) {
    INFO(http::to_string(c.method)
         << " " << c.target.substr(0, 80) << " body=" << c.body.substr(0, 60));
    const auto r = f.call(c.method, c.target, c.body, c.admin);
    CHECK(r.result_int() == c.status);
    CHECK(field_of(r) == c.field);
  }
  const StoreStats s = f.rot.stats();
  CHECK(s.numbers == 1);
  CHECK(s.active_leases == 0);
  CHECK(s.total_uses == 0);
  const auto n = f.rot.get_number("2125550100");
  REQUIRE(n);
  CHECK(n->number.active);
  CHECK(n->hour_count == 0);
}

TEST_CASE("text format errors never look like a caller-ID", "[server]") {
  Fixture f;
  const auto r = f.get("/next-cid?to=12&campaign=c&format=text");
  CHECK(r.result() == http::status::bad_request);
  CHECK(r.body().empty());
  CHECK(std::string(r["X-Cidrot-Error"]) == "invalid_argument");
}

TEST_CASE("numbers: add by query, patch, list filters, delete, import counts", "[server]") {
  Fixture f;
  auto r = f.call(http::verb::post, "/add-number?caller_id=2125550100&carrier=ATT&daily_limit=7",
                  "", true);
  REQUIRE(r.result() == http::status::created);
  CHECK(body_of(r).at("number").as_object().at("daily_limit").as_int64() == 7);
  r = f.call(http::verb::post, "/add-number?caller_id=2125550100&carrier=Verizon", "", true);
  CHECK(r.result() == http::status::ok);  // an update
  r = f.call(http::verb::patch, "/api/numbers/2125550100",
             "{\"active\":false,\"campaigns\":[\"sales\"],\"meta\":{\"k\":1}}", true);
  REQUIRE(r.result() == http::status::ok);
  CHECK_FALSE(body_of(r).at("active").as_bool());
  CHECK(body_of(r).at("campaigns").as_array().size() == 1);

  r = f.call(http::verb::post, "/api/numbers/import",
             "caller_id,carrier,area_code,daily_limit,hourly_limit,meta_json\n"
             "3105550101,T-Mobile,310,100,10,\"{\"\"state\"\": \"\"CA\"\"}\"\n"
             "not-a-number,x,,,,\n"
             "4155550102,,,,,\n",
             true, "text/csv");
  REQUIRE(r.result() == http::status::ok);
  auto o = body_of(r);
  CHECK(o.at("inserted").as_int64() == 2);
  CHECK(o.at("rejected").as_int64() == 1);
  CHECK(o.at("errors").as_array()[0].as_object().at("line").as_int64() == 3);

  r = f.call(http::verb::get, "/api/numbers?active=true&sort=caller_id&order=desc&limit=1", "",
             true);
  REQUIRE(r.result() == http::status::ok);
  o = body_of(r);
  CHECK(o.at("total").as_int64() == 2);
  CHECK(o.at("items").as_array().size() == 1);
  CHECK(o.at("items").as_array()[0].as_object().at("caller_id").as_string() == "4155550102");
  r = f.call(http::verb::get, "/api/numbers?area_code=310,415&prefix=310", "", true);
  CHECK(body_of(r).at("total").as_int64() == 1);

  r = f.call(http::verb::delete_, "/api/numbers/4155550102", "", true);
  CHECK(r.result() == http::status::ok);
  CHECK(f.rot.stats().numbers == 2);
}

TEST_CASE("metrics and health", "[server]") {
  Fixture f;
  f.add("2125550100");
  f.get("/next-cid?to=2125551234&campaign=c");
  f.get("/next-cid?to=2125551234&campaign=c");
  CHECK(f.get("/health").result() == http::status::ok);
  const auto m = f.get("/metrics");
  REQUIRE(m.result() == http::status::ok);
  CHECK_THAT(m.body(), Catch::Contains("cidrot_lease_duration_seconds_count 2"));
  CHECK_THAT(m.body(), Catch::Contains("cidrot_denials_total{reason=\"all_reserved\"} 1"));
  CHECK_THAT(m.body(), Catch::Contains("cidrot_numbers{state=\"leased\"} 1"));
  CHECK_THAT(m.body(), Catch::Contains("cidrot_store_up 1"));
}

TEST_CASE("rate limit: 429 with Retry-After, per agent, no lease", "[server]") {
  Fixture f(kToken, 3);
  f.add("2125550100", ",\"max_concurrent\":100");
  for (int i = 0; i < 3; ++i) {
    CHECK(f.get("/next-cid?to=2125551234&campaign=c&agent=a").result() == http::status::ok);
  }
  const auto r = f.get("/next-cid?to=2125551234&campaign=c&agent=a");
  CHECK(r.result() == http::status::too_many_requests);
  CHECK(std::stoi(std::string(r[http::field::retry_after])) >= 1);
  CHECK(f.get("/next-cid?to=2125551234&campaign=c&agent=b").result() == http::status::ok);
  CHECK(f.rot.stats().total_uses == 4);
  // Invalid requests do not use up the budget.
  for (int i = 0; i < 5; ++i) f.get("/next-cid?to=12&campaign=c&agent=z");
  CHECK(f.get("/next-cid?to=2125551234&campaign=c&agent=z").result() == http::status::ok);

  RateLimiter lim(60);
  const auto t0 = RateLimiter::Clock::now();
  for (int i = 0; i < 60; ++i) REQUIRE(lim.acquire("k", t0) == 0);
  CHECK(lim.acquire("k", t0) == 1);
  CHECK(lim.acquire("k", t0 + std::chrono::milliseconds(1100)) == 0);
  CHECK(RateLimiter(0).acquire("k") == 0);
}

TEST_CASE("codec helpers", "[server]") {
  CHECK(iso8601(from_unix_ms(0)) == "1970-01-01T00:00:00.000Z");
  CHECK(iso8601(from_unix_ms(1795280100123)) == "2026-11-21T16:55:00.123Z");
  // The per-thread cache of the current second: the same second, the next one, back again.
  CHECK(iso8601(from_unix_ms(1795280100005)) == "2026-11-21T16:55:00.005Z");
  CHECK(iso8601(from_unix_ms(1795280101990)) == "2026-11-21T16:55:01.990Z");
  CHECK(iso8601(from_unix_ms(1795280100070)) == "2026-11-21T16:55:00.070Z");
  CHECK(json_quote("a\"b\\c\n\x01") == "\"a\\\"b\\\\c\\n\\u0001\"");
  const auto form = parse_form("a=1+2&b=%41&c");
  REQUIRE(form.size() == 3);
  CHECK(form[0].second == "1 2");
  CHECK(form[1].second == "A");
  CHECK(outcome_from(std::string_view("NOANSWER"), std::string_view("0")).disposition ==
        "no_answer");
  CHECK(outcome_from(std::string_view("CHANUNAVAIL"), std::nullopt).disposition == "failed");
  // Every DIALSTATUS Asterisk's Dial() sets maps to an outcome: a dialplan that posts it raw
  // must never have its release refused.
  for (const char* status : {"ANSWER", "BUSY", "NOANSWER", "CANCEL", "CONGESTION", "CHANUNAVAIL",
                             "DONTCALL", "TORTURE", "INVALIDARGS"}) {
    const auto d = outcome_from(std::string_view(status), std::nullopt).disposition;
    CAPTURE(status);
    CHECK((d == "answered" || d == "no_answer" || d == "busy" || d == "failed"));
  }
  CHECK(outcome_from(std::nullopt, std::string_view("30")).duration_s == 30);
  const Error e(ErrorCode::kInvalidArgument, "destination: too short", "destination");
  const Error renamed = rename_field(e, "destination", "to");
  CHECK(renamed.field() == "to");
  CHECK(std::string(renamed.what()) == "to: too short");
  CHECK(status_for(ErrorCode::kBackendUnavailable) == http::status::service_unavailable);
  CHECK(status_for(ErrorCode::kNotFound) == http::status::not_found);
}
