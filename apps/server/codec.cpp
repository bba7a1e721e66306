// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT

#include "codec.h"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/params_view.hpp>
#include <cctype>
#include <charconv>
#include <ctime>

namespace cidrot::server {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// A parameter value as shown in a message: cut short, control characters blanked.
std::string shown(std::string_view v) {
  std::string s(v.substr(0, 40));
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == '"' || c == '\\') c = '?';
  }
  return "'" + s + (v.size() > 40 ? "...'" : "'");
}

std::string scalar_text(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::string:
      return std::string(v.get_string());
    case boost::json::kind::null:
      return "";
    case boost::json::kind::bool_:
      return v.get_bool() ? "true" : "false";
    default:
      return boost::json::serialize(v);
  }
}

std::optional<std::int64_t> json_limit(const boost::json::value& v, std::string_view field) {
  if (v.is_null()) return std::nullopt;
  if (v.is_int64() && v.get_int64() >= 0) return v.get_int64();
  if (v.is_uint64() && v.get_uint64() <= 1000000000000ull)
    return static_cast<std::int64_t>(v.get_uint64());
  if (v.is_string()) {
    if (v.get_string().empty()) return std::nullopt;
    return parse_int_param(field, v.get_string(), 0, 1000000000000);
  }
  throw_invalid(field, "expected a non-negative integer or null");
}

bool json_bool(const boost::json::value& v, std::string_view field) {
  if (v.is_bool()) return v.get_bool();
  if (v.is_int64()) return v.get_int64() != 0;
  if (v.is_string()) return parse_bool_param(field, v.get_string());
  throw_invalid(field, "expected true or false");
}

std::vector<std::string> split_campaigns(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const auto comma = text.find_first_of(",;");
    std::string_view c = text.substr(0, comma);
    while (!c.empty() && c.front() == ' ') c.remove_prefix(1);
    while (!c.empty() && c.back() == ' ') c.remove_suffix(1);
    if (!c.empty()) out.emplace_back(c);
    text.remove_prefix(comma == std::string_view::npos ? text.size() : comma + 1);
  }
  return out;
}

std::vector<std::string> json_campaigns(const boost::json::value& v) {
  if (v.is_null()) return {};
  if (v.is_string()) return split_campaigns(v.get_string());
  if (!v.is_array()) throw_invalid("campaigns", "expected an array of campaign names");
  std::vector<std::string> out;
  for (const auto& c : v.get_array()) {
    if (!c.is_string()) throw_invalid("campaigns", "expected an array of campaign names");
    out.emplace_back(c.get_string());
  }
  return out;
}

std::string json_meta(const boost::json::value& v) {
  // The Rotator checks that meta is an object and bounds its size; text is passed as written so
  // that the message it gives names the real problem.
  if (v.is_null()) return "{}";
  if (v.is_string()) return std::string(v.get_string());
  return boost::json::serialize(v);
}

std::int32_t json_max_concurrent(const boost::json::value& v) {
  if (v.is_int64() && v.get_int64() >= 1 && v.get_int64() <= 1000000) {
    return static_cast<std::int32_t>(v.get_int64());
  }
  if (v.is_string()) {
    return static_cast<std::int32_t>(parse_int_param("max_concurrent", v.get_string(), 1, 1000000));
  }
  throw_invalid("max_concurrent", "expected an integer >= 1");
}

}  // namespace

http::status status_for(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return http::status::bad_request;
    case ErrorCode::kNotFound:
      return http::status::not_found;
    case ErrorCode::kConflict:
      return http::status::conflict;
    case ErrorCode::kBackendUnavailable:
      return http::status::service_unavailable;
    default:
      return http::status::internal_server_error;
  }
}

std::string json_quote(std::string_view s) {
  std::string out;
  json_quote_into(out, s);
  return out;
}

std::string error_json(std::string_view code, std::string_view field, std::string_view message) {
  std::string body = "{\"error\":" + json_quote(code);
  if (!field.empty()) body += ",\"field\":" + json_quote(field);
  body += ",\"message\":" + json_quote(message) + "}";
  return body;
}

void set_error(Response& res, http::status status, std::string_view code, std::string_view field,
               std::string_view message) {
  res.result(status);
  res.set(http::field::content_type, "application/json");
  res.body() = error_json(code, field, message);
}

void set_error(Response& res, const Error& error) {
  set_error(res, status_for(error.code()), error_code_name(error.code()), error.field(),
            error.what());
}

Error rename_field(const Error& error, std::string_view from, std::string_view to) {
  if (error.field() != from) return error;
  std::string message = error.what();
  const std::string prefix = std::string(from) + ":";
  if (message.compare(0, prefix.size(), prefix) == 0) {
    message = std::string(to) + ":" + message.substr(prefix.size());
  }
  return Error(error.code(), message, std::string(to));
}

void throw_invalid(std::string_view field, const std::string& message) {
  throw Error(ErrorCode::kInvalidArgument, std::string(field) + ": " + message, std::string(field));
}

boost::json::object parse_json_object(std::string_view body) {
  if (body.empty()) throw_invalid("body", "expected a JSON object, got an empty body");
  boost::json::parse_options opts;
  opts.max_depth = 16;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(body, ec, {}, opts);
  if (ec) throw_invalid("body", "malformed JSON (" + ec.message() + ")");
  if (!v.is_object()) throw_invalid("body", "expected a JSON object");
  return std::move(v.get_object());
}

std::vector<std::pair<std::string, std::string>> parse_form(std::string_view body) {
  std::vector<std::pair<std::string, std::string>> out;
  if (body.empty()) return out;
  try {
    boost::urls::params_view params(body, boost::urls::encoding_opts(true));
    for (const auto& p : params) out.emplace_back(p.key, p.value);
  } catch (const std::exception&) {
    throw_invalid("body", "malformed form data");
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> merged_params(const Context& ctx) {
  std::vector<std::pair<std::string, std::string>> out = ctx.params();
  const std::string_view body = ctx.req.body();
  if (body.empty()) return out;
  std::vector<std::pair<std::string, std::string>> extra;
  const auto ct = ctx.req[http::field::content_type];
  const bool json = ct.find("json") != std::string_view::npos ||
                    (ct.empty() && !body.empty() && body.front() == '{');
  if (json) {
    for (const auto& [key, value] : parse_json_object(body)) {
      extra.emplace_back(std::string(key), scalar_text(value));
    }
  } else {
    extra = parse_form(body);
  }
  // Only the query's names hide the body's: a name repeated in the body stays repeated, so that
  // single_value() can refuse two different values.
  const auto query_end = static_cast<std::ptrdiff_t>(out.size());
  for (auto& kv : extra) {
    const bool in_query = std::any_of(out.begin(), out.begin() + query_end,
                                      [&](const auto& q) { return q.first == kv.first; });
    if (!in_query) out.push_back(std::move(kv));
  }
  return out;
}

std::int64_t parse_int_param(std::string_view field, std::string_view value, std::int64_t min,
                             std::int64_t max) {
  std::int64_t n = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (value.empty() || ec != std::errc() || end != value.data() + value.size() || n < min ||
      n > max) {
    throw_invalid(field, "expected an integer in " + std::to_string(min) + ".." +
                             std::to_string(max) + ", got " + shown(value));
  }
  return n;
}

bool parse_bool_param(std::string_view field, std::string_view value) {
  const std::string v = lower(value);
  if (v == "1" || v == "true" || v == "yes" || v == "on") return true;
  if (v == "0" || v == "false" || v == "no" || v == "off") return false;
  throw_invalid(field, "expected true or false, got " + shown(value));
}

Number number_from_json(const boost::json::object& body) {
  Number n;
  bool have_id = false;
  for (const auto& [key, value] : body) {
    if (key == "caller_id") {
      if (!value.is_string() && !value.is_int64()) throw_invalid("caller_id", "expected a string");
      n.caller_id = scalar_text(value);
      have_id = true;
    } else if (key == "carrier") {
      if (!value.is_string() && !value.is_null()) throw_invalid("carrier", "expected a string");
      n.carrier = scalar_text(value);
    } else if (key == "area_code") {
      if (!value.is_string() && !value.is_int64() && !value.is_null()) {
        throw_invalid("area_code", "expected a string");
      }
      n.area_code = scalar_text(value);
    } else if (key == "daily_limit") {
      n.daily_limit = json_limit(value, "daily_limit");
    } else if (key == "hourly_limit") {
      n.hourly_limit = json_limit(value, "hourly_limit");
    } else if (key == "meta" || key == "meta_json") {
      n.meta_json = json_meta(value);
    } else if (key == "campaigns") {
      n.campaigns = json_campaigns(value);
    } else if (key == "active") {
      n.active = json_bool(value, "active");
    } else if (key == "max_concurrent") {
      n.max_concurrent = json_max_concurrent(value);
    }
    // Other keys are ignored, as the seed did.
  }
  if (!have_id || n.caller_id.empty()) throw_invalid("caller_id", "missing");
  return n;
}

Number number_from_params(const std::vector<std::pair<std::string, std::string>>& params) {
  boost::json::object body;
  for (const auto& [key, value] : params) {
    if (!body.contains(key)) body[key] = *single_value(params, key);
  }
  return number_from_json(body);
}

void apply_patch(Number& n, const boost::json::object& patch) {
  if (patch.empty()) throw_invalid("body", "nothing to change");
  for (const auto& [key, value] : patch) {
    if (key == "active") {
      n.active = json_bool(value, "active");
    } else if (key == "hourly_limit") {
      n.hourly_limit = json_limit(value, "hourly_limit");
    } else if (key == "daily_limit") {
      n.daily_limit = json_limit(value, "daily_limit");
    } else if (key == "campaigns") {
      n.campaigns = json_campaigns(value);
    } else if (key == "meta" || key == "meta_json") {
      n.meta_json = json_meta(value);
    } else if (key == "carrier") {
      if (!value.is_string()) throw_invalid("carrier", "expected a string");
      n.carrier = std::string(value.get_string());
    } else if (key == "max_concurrent") {
      n.max_concurrent = json_max_concurrent(value);
    } else {
      throw_invalid(std::string(key),
                    "cannot be changed (changeable: active, hourly_limit, daily_limit, campaigns, "
                    "meta, carrier, max_concurrent)");
    }
  }
}

Outcome outcome_from(std::optional<std::string_view> disposition,
                     std::optional<std::string_view> duration) {
  Outcome o;
  if (disposition && !disposition->empty()) {
    if (disposition->size() > 32) throw_invalid("disposition", "longer than 32 bytes");
    const std::string d = lower(*disposition);
    if (d == "answer") {
      o.disposition = "answered";
    } else if (d == "noanswer" || d == "cancel" || d == "dontcall" || d == "torture") {
      // DONTCALL/TORTURE: the callee's privacy manager turned the call away; it was not answered.
      o.disposition = "no_answer";
    } else if (d == "congestion" || d == "chanunavail" || d == "invalidargs") {
      o.disposition = "failed";
    } else {
      o.disposition = d;
    }
  }
  if (duration && !duration->empty())
    o.duration_s = parse_int_param("duration", *duration, 0, 86400);
  return o;
}

}  // namespace cidrot::server
