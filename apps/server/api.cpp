// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT

#include "api.h"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <istream>
#include <streambuf>

#include "cidrot/error.h"
#include "cidrot/nanp.h"
#include "cidrot/version.h"
#include "cidrot_app/csv_import.h"
#include "cidrot_app/json.h"
#include "codec.h"

namespace cidrot::server {
namespace {

using app::denial_message;
using app::reservation_json;

using Params = std::vector<std::pair<std::string, std::string>>;

std::string_view required(const Context& c, std::string_view name, const char* what) {
  const auto v = c.param(name);
  if (!v || v->empty()) throw_invalid(name, std::string("missing (") + what + ")");
  return *v;
}

std::string json(const boost::json::object& o) { return boost::json::serialize(o); }

SortKey parse_sort(std::string_view v) {
  if (v == "caller_id") return SortKey::kCallerId;
  if (v == "last_used") return SortKey::kLastUsed;
  if (v == "hour_count") return SortKey::kHourCount;
  if (v == "day_count") return SortKey::kDayCount;
  if (v == "total_uses") return SortKey::kTotalUses;
  throw_invalid("sort", "expected caller_id, last_used, hour_count, day_count or total_uses");
}

// Reads a request body in place (the CSV reader wants an istream).
class ViewBuf : public std::streambuf {
 public:
  explicit ViewBuf(std::string_view s) {
    char* p = const_cast<char*>(s.data());
    setg(p, p, p + s.size());
  }
};

std::string caller_id_of(const Context& c) {
  return normalize_nanp(c.path_param("caller_id"), "caller_id");
}

}  // namespace

Api::Api(Rotator& rotator, ApiOptions options)
    : rot_(rotator), options_(options), limiter_(options.rate_limit_per_agent) {}

void Api::register_routes(Router& r) {
  using V = http::verb;
  auto h = [this](void (Api::*fn)(Context&)) { return [this, fn](Context& c) { (this->*fn)(c); }; };
  // With a store that leases a batch in one call (SQLite: one commit), a worker that finds
  // several /next-cid requests waiting leases them together. Other stores lease item by item,
  // where gathering requests would serialise calls the workers now make concurrently.
  BatchHandler next_cid_batch_handler;
  if (rot_.store().batches_leases()) {
    next_cid_batch_handler = [this](Context* const* contexts, std::size_t count,
                                    std::exception_ptr* errors) {
      next_cid_batch(contexts, count, errors);
    };
  }
  r.add({V::get, "/next-cid", Access::kPublic, Exec::kWorker, h(&Api::next_cid), kDefaultBodyLimit,
         std::move(next_cid_batch_handler), /*answers_head=*/false,
         [this](Context& c, const Error& e) {
           // format=text: the error goes in headers with an empty body, as next_cid() answers.
           const auto format =
               c.params().end() !=
               std::find_if(c.params().begin(), c.params().end(), [](const auto& kv) {
                 return kv.first == "format" && kv.second == "text";
               });
           if (format) next_cid_text_error(c, e);
           return format;
         }});
  r.add({V::post, "/release", Access::kPublic, Exec::kWorker, h(&Api::release)});
  r.add({V::get, "/health", Access::kPublic, Exec::kWorker, h(&Api::health)});
  r.add({V::get, "/metrics", Access::kPublic, Exec::kWorker, h(&Api::metrics)});
  r.add({V::post, "/add-number", Access::kAdmin, Exec::kWorker, h(&Api::add_number)});
  r.add({V::delete_, "/api/reservation/{caller_id}", Access::kAdmin, Exec::kWorker,
         h(&Api::delete_reservation)});
  r.add({V::get, "/api/reservations", Access::kAdmin, Exec::kWorker, h(&Api::list_reservations)});
  r.add({V::post, "/api/numbers/import", Access::kAdmin, Exec::kWorker, h(&Api::import_numbers),
         kImportBodyLimit});
  r.add({V::get, "/api/numbers", Access::kAdmin, Exec::kWorker, h(&Api::list_numbers)});
  r.add({V::get, "/api/numbers/{caller_id}", Access::kAdmin, Exec::kWorker, h(&Api::get_number)});
  r.add(
      {V::patch, "/api/numbers/{caller_id}", Access::kAdmin, Exec::kWorker, h(&Api::patch_number)});
  r.add({V::delete_, "/api/numbers/{caller_id}", Access::kAdmin, Exec::kWorker,
         h(&Api::delete_number)});
  r.add({V::get, "/api/stats", Access::kAdmin, Exec::kWorker, h(&Api::stats)});
  dashboard_.register_routes(r);
}

bool Api::next_cid_begin(Context& c, NextCid* n) {
  const auto format = c.param("format");
  if (format && *format != "json" && *format != "text") {
    throw_invalid("format", "expected json or text");
  }
  n->text = format && *format == "text";
  n->key.clear();
  CallRequest& req = n->req;
  req.destination = std::string(required(c, "to", "the destination number"));
  req.campaign = std::string(required(c, "campaign", "the campaign name"));
  req.agent = std::string(c.param("agent").value_or(""));
  req.ttl = std::chrono::seconds(0);
  if (const auto ttl = c.param("ttl")) {
    req.ttl = std::chrono::seconds(parse_int_param("ttl", *ttl, 1, 86400));
  }
  if (limiter_.enabled()) {
    n->key = req.agent.empty() ? "ip:" + c.remote() : "agent:" + req.agent;
    if (const std::int64_t wait = limiter_.acquire(n->key)) {
      if (metrics_) metrics_->count_rate_limited();
      c.res.set(http::field::retry_after, std::to_string(wait));
      set_error(
          c.res, http::status::too_many_requests, "rate_limited", "agent",
          "agent: more than RATE_LIMIT_PER_AGENT=" + std::to_string(options_.rate_limit_per_agent) +
              " requests per minute; retry in " + std::to_string(wait) + " s");
      if (n->text) {
        c.res.set("X-Cidrot-Error", "rate_limited");
        c.res.set(http::field::content_type, "text/plain; charset=utf-8");
        c.res.body().clear();
      }
      return false;
    }
  }
  return true;
}

Error Api::next_cid_rotator_error(const NextCid& n, const Error& e) {
  // A request the library rejected did not use the agent's budget.
  if (!n.key.empty() && e.code() == ErrorCode::kInvalidArgument) limiter_.refund(n.key);
  if (e.code() == ErrorCode::kBackendUnavailable) {
    writes_.failed(std::chrono::steady_clock::now(), e.what());
  }
  return rename_field(e, "destination", "to");
}

void Api::next_cid_answer(Context& c, const NextCid& n, const LeaseResult& result,
                          std::chrono::steady_clock::time_point t0,
                          std::chrono::steady_clock::time_point t1) {
  if (metrics_) metrics_->observe_lease(t1 - t0);
  writes_.ok(t1);
  dashboard_.live().observe(static_cast<bool>(result), t1 - t0, t1);
  if (result) {
    if (metrics_) metrics_->count_grant();
    if (n.text) {
      c.text(http::status::ok, result.lease->number.caller_id);
    } else {
      c.json(http::status::ok, next_cid_json(*result.lease));
    }
    return;
  }
  if (metrics_) metrics_->count_denial(result.denial);
  const char* reason = denial_reason_name(result.denial);
  c.res.set("X-Cidrot-Reason", reason);
  if (n.text) {
    c.text(kNoCallerIdStatus, "");
    return;
  }
  c.json(kNoCallerIdStatus,
         "{\"error\":\"no_caller_id\",\"reason\":\"" + std::string(reason) + "\",\"message\":" +
             json_quote(std::string("no caller-ID available: ") + denial_message(result.denial)) +
             ",\"campaign\":" + json_quote(n.req.campaign) + "}");
}

void Api::next_cid_text_error(Context& c, const Error& e) {
  // Asterisk's CURL() returns the body whatever the status, so a text-mode error carries its
  // code in a header and an empty body that no dialplan can mistake for a caller-ID.
  set_error(c.res, e);
  c.res.set("X-Cidrot-Error", error_code_name(e.code()));
  c.res.set(http::field::content_type, "text/plain; charset=utf-8");
  c.res.body().clear();
}

void Api::next_cid(Context& c) {
  thread_local NextCid n;  // one per worker thread, reused like the result
  n.text = false;
  try {
    if (!next_cid_begin(c, &n)) return;
    // One per worker thread, reused: a lease then allocates nothing on memory://.
    thread_local LeaseResult result;
    const auto t0 = std::chrono::steady_clock::now();
    try {
      rot_.next(n.req, &result);
    } catch (const Error& e) {
      throw next_cid_rotator_error(n, e);
    }
    next_cid_answer(c, n, result, t0, std::chrono::steady_clock::now());
  } catch (const Error& e) {
    if (!n.text) throw;
    next_cid_text_error(c, e);
  }
}

void Api::next_cid_batch(Context* const* contexts, std::size_t count, std::exception_ptr* errors) {
  // Per worker thread, reused (grown before any pointer into them is taken).
  thread_local std::vector<NextCid> calls;
  thread_local std::vector<LeaseResult> results;
  thread_local std::vector<CallBatchItem> items;
  thread_local std::vector<std::size_t> of;  // items index -> request index
  if (calls.size() < count) calls.resize(count);
  if (results.size() < count) results.resize(count);
  items.clear();
  of.clear();
  // As next_cid() does with an Error: text mode answers it in headers, JSON mode hands it to the
  // router (errors[i]), which answers it as it answers a throw.
  auto failed = [&](std::size_t i, const Error& e) {
    if (calls[i].text) {
      next_cid_text_error(*contexts[i], e);
    } else {
      errors[i] = std::current_exception();
    }
  };
  for (std::size_t i = 0; i < count; ++i) {
    calls[i].text = false;
    try {
      if (!next_cid_begin(*contexts[i], &calls[i])) continue;
    } catch (const Error& e) {
      failed(i, e);
      continue;
    }
    items.push_back(CallBatchItem{&calls[i].req, &results[i], nullptr});
    of.push_back(i);
  }
  if (items.empty()) return;
  const auto t0 = std::chrono::steady_clock::now();
  rot_.next_batch(items.data(), items.size());
  const auto t1 = std::chrono::steady_clock::now();
  for (std::size_t k = 0; k < items.size(); ++k) {
    const std::size_t i = of[k];
    try {
      if (items[k].error) {
        try {
          std::rethrow_exception(items[k].error);
        } catch (const Error& e) {
          throw next_cid_rotator_error(calls[i], e);
        }
      }
      next_cid_answer(*contexts[i], calls[i], results[i], t0, t1);
    } catch (const Error& e) {
      failed(i, e);
    } catch (...) {
      errors[i] = std::current_exception();
    }
  }
}

void Api::release(Context& c) {
  const Params p = merged_params(c);
  auto id = single_value(p, "reservation_id");
  if (!id) id = single_value(p, "lease_id");
  if (!id) id = single_value(p, "id");
  const auto caller_id = single_value(p, "caller_id");
  if ((!id || id->empty()) && (!caller_id || caller_id->empty())) {
    throw_invalid("reservation_id", "missing (give reservation_id or caller_id)");
  }
  auto disposition = single_value(p, "disposition");
  if (!disposition) disposition = single_value(p, "dialstatus");
  const Outcome outcome = outcome_from(disposition, single_value(p, "duration"));
  const std::int64_t n = (id && !id->empty())
                             ? rot_.release(std::string(*id), outcome)
                             : rot_.release_caller_id(std::string(*caller_id), outcome);
  c.json(http::status::ok, json({{"released", n}}));
}

void Api::add_number(Context& c) {
  const std::string_view body = c.req.body();
  const auto ct = c.req[http::field::content_type];
  const bool json_body =
      !body.empty() && (ct.find("json") != std::string_view::npos || body.front() == '{');
  Number n =
      json_body ? number_from_json(parse_json_object(body)) : number_from_params(merged_params(c));
  n = rot_.normalize_number(std::move(n));
  const UpsertResult r = rot_.add_numbers({n});
  const bool created = r.inserted > 0;
  c.json(created ? http::status::created : http::status::ok,
         json({{"status", created ? "created" : "updated"}, {"number", number_json(n)}}));
}

void Api::delete_reservation(Context& c) {
  const std::string id = caller_id_of(c);
  const std::int64_t n = rot_.release_caller_id(id);
  if (n == 0 && !rot_.get_number(id)) {
    throw Error(ErrorCode::kNotFound, "caller_id: " + id + " is not in the pool", "caller_id");
  }
  c.json(http::status::ok, json({{"caller_id", id}, {"released", n}}));
}

void Api::list_reservations(Context& c) {
  std::int64_t limit = 100;
  if (const auto l = c.param("limit")) limit = parse_int_param("limit", *l, 1, 10000);
  boost::json::array items;
  for (const Lease& l : rot_.list_leases(limit)) items.push_back(reservation_json(l));
  const auto count = static_cast<std::int64_t>(items.size());
  c.json(http::status::ok, json({{"count", count}, {"items", std::move(items)}}));
}

void Api::list_numbers(Context& c) {
  ListQuery q;
  std::string_view prefix_param = "caller_id_prefix";  // as the client spelt it
  for (const auto& [key, value] : c.params()) {
    if (key == "campaign") {
      q.campaign = value;
    } else if (key == "area_code") {
      std::string_view rest = value;
      while (!rest.empty()) {
        const auto comma = rest.find(',');
        q.area_codes.push_back(static_cast<std::uint16_t>(
            parse_int_param("area_code", rest.substr(0, comma), 200, 999)));
        rest.remove_prefix(comma == std::string_view::npos ? rest.size() : comma + 1);
      }
    } else if (key == "active") {
      q.active = parse_bool_param(key, value);
    } else if (key == "leased") {
      q.leased = parse_bool_param(key, value);
    } else if (key == "limited") {
      q.limited = parse_bool_param(key, value);
    } else if (key == "prefix" || key == "caller_id_prefix") {
      q.caller_id_prefix = value;
      prefix_param = key;
    } else if (key == "sort") {
      q.sort = parse_sort(value);
    } else if (key == "order") {
      if (value != "asc" && value != "desc") throw_invalid("order", "expected asc or desc");
      q.descending = value == "desc";
    } else if (key == "offset") {
      q.offset = parse_int_param("offset", value, 0, 1000000000000);
    } else if (key == "limit") {
      q.limit = parse_int_param("limit", value, 1, 10000);
    } else {
      throw_invalid(key,
                    "unknown parameter (filters: campaign, area_code, active, leased, limited, "
                    "prefix, sort, order, offset, limit)");
    }
  }
  ListPage page;
  try {
    page = rot_.list_numbers(q);
  } catch (const Error& e) {
    // The library names its own field; the error names the parameter the client sent.
    throw rename_field(e, "caller_id_prefix", prefix_param);
  }
  boost::json::array items;
  items.reserve(page.items.size());
  for (const auto& s : page.items) items.push_back(number_json(s));
  c.json(http::status::ok, json({{"total", page.total},
                                 {"offset", q.offset},
                                 {"limit", q.limit},
                                 {"items", std::move(items)}}));
}

void Api::get_number(Context& c) {
  const std::string id = caller_id_of(c);
  const auto st = rot_.get_number(id);
  if (!st)
    throw Error(ErrorCode::kNotFound, "caller_id: " + id + " is not in the pool", "caller_id");
  c.json(http::status::ok, json(number_json(*st)));
}

void Api::patch_number(Context& c) {
  const std::string id = caller_id_of(c);
  const boost::json::object patch = parse_json_object(c.req.body());
  auto st = rot_.get_number(id);
  if (!st)
    throw Error(ErrorCode::kNotFound, "caller_id: " + id + " is not in the pool", "caller_id");
  Number n = st->number;
  apply_patch(n, patch);  // validates the patch before anything is written
  if (patch.size() == 1 && patch.contains("active")) {
    if (!rot_.set_active(id, n.active)) {
      throw Error(ErrorCode::kNotFound, "caller_id: " + id + " is not in the pool", "caller_id");
    }
  } else {
    rot_.add_numbers({rot_.normalize_number(std::move(n))});
  }
  st = rot_.get_number(id);
  if (!st)
    throw Error(ErrorCode::kNotFound, "caller_id: " + id + " is not in the pool", "caller_id");
  c.json(http::status::ok, json(number_json(*st)));
}

void Api::delete_number(Context& c) {
  const std::string id = caller_id_of(c);
  if (!rot_.remove_number(id)) {
    throw Error(ErrorCode::kNotFound, "caller_id: " + id + " is not in the pool", "caller_id");
  }
  c.json(http::status::ok, json({{"caller_id", id}, {"deleted", true}}));
}

void Api::import_numbers(Context& c) {
  app::csv::ImportOptions options;
  // A misspelt option (?dryrun=1) must not import for real.
  for (const auto& param : c.params()) {
    if (param.first != "dry_run" && param.first != "atomic") {
      throw_invalid(param.first, "unknown parameter (options: dry_run, atomic)");
    }
  }
  if (const auto v = c.param("dry_run")) options.dry_run = parse_bool_param("dry_run", *v);
  if (const auto v = c.param("atomic")) options.atomic = parse_bool_param("atomic", *v);
  options.max_errors_kept = 1000;
  ViewBuf buf(c.req.body());
  std::istream in(&buf);
  app::csv::ImportSummary summary;
  try {
    app::csv::import_csv(in, rot_, options, summary);
  } catch (const app::csv::FormatError& e) {
    set_error(c.res, http::status::bad_request, "invalid_csv", "csv",
              "csv: line " + std::to_string(e.line()) + ": " + e.reason());
    return;
  }
  boost::json::array errors;
  for (const auto& e : summary.errors) {
    errors.push_back(boost::json::object{{"line", e.line}, {"message", e.reason}});
  }
  boost::json::object body{{"rows", summary.rows},         {"valid", summary.valid},
                           {"inserted", summary.inserted}, {"updated", summary.updated},
                           {"rejected", summary.rejected}, {"committed", summary.committed},
                           {"dry_run", options.dry_run},   {"errors", std::move(errors)}};
  if (summary.rows == 0 || summary.valid == 0 || (options.atomic && summary.rejected > 0)) {
    // Nothing usable (or an atomic import with rejects): the request failed, nothing was written.
    body["error"] = "invalid_csv";
    body["field"] = "csv";
    body["message"] =
        summary.rows == 0 ? "csv: no records in the body" : "csv: no row was imported; see errors";
    c.json(http::status::bad_request, json(body));
    return;
  }
  c.json(http::status::ok, json(body));
}

void Api::stats(Context& c) {
  const StoreStats st = rot_.stats();
  boost::json::object o = stats_json(st);
  dashboard_.extend_stats(o, st);
  o["server"] = boost::json::object{{"version", version()},
                                    {"backend", rot_.store().backend_name()},
                                    {"time_zone", rot_.time_zone()},
                                    {"rate_limit_per_agent", options_.rate_limit_per_agent},
                                    {"uptime_s", std::chrono::duration_cast<std::chrono::seconds>(
                                                     std::chrono::steady_clock::now() - started_)
                                                     .count()}};
  c.json(http::status::ok, json(o));
}

void Api::health(Context& c) {
  boost::json::object o{{"backend", rot_.store().backend_name()},
                        {"version", version()},
                        {"timestamp", iso8601(std::chrono::system_clock::now())}};
  try {
    rot_.store().ping();
    o["store"] = "ok";
    // The ping is a read; leases also need the write path (write_health.h).
    const std::string failing =
        writes_.failing(std::chrono::steady_clock::now(), kWriteFailureWindow);
    if (!failing.empty()) {
      o["status"] = "unhealthy";
      o["writes"] = "failing: " + failing;
      c.json(http::status::service_unavailable, json(o));
      return;
    }
    o["status"] = "healthy";
    c.json(http::status::ok, json(o));
  } catch (const Error& e) {
    o["status"] = "unhealthy";
    o["store"] = e.what();
    c.json(http::status::service_unavailable, json(o));
  }
}

void Api::metrics(Context& c) {
  std::optional<StoreStats> stats;
  try {
    stats = rot_.stats();
  } catch (const Error&) {
    // Rendered with cidrot_store_up 0: a scrape must not fail because the store did.
  }
  c.text(http::status::ok, metrics_ ? metrics_->render(stats ? &*stats : nullptr) : "");
  c.res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
}

}  // namespace cidrot::server
