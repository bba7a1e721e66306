// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
//
// Encoding of library values as the HTTP API's JSON, and decoding of request parameters and
// bodies into library values. Pure functions; no I/O, no business rules (validation of numbers,
// destinations and limits is the Rotator's: the codec only converts types and bounds sizes).

#ifndef CIDROT_SERVER_CODEC_H_
#define CIDROT_SERVER_CODEC_H_

#include <boost/beast/http/status.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cidrot/error.h"
#include "cidrot/types.h"
#include "cidrot_app/json.h"
#include "router.h"

namespace cidrot::server {

// --- errors -------------------------------------------------------------------------------------

// The status a library error maps to: kInvalidArgument 400, kNotFound 404, kConflict 409,
// kBackendUnavailable 503, anything else 500.
http::status status_for(ErrorCode code) noexcept;

// {"error": code, "field": field, "message": message} ("field" omitted when empty).
std::string error_json(std::string_view code, std::string_view field, std::string_view message);
void set_error(Response& res, http::status status, std::string_view code, std::string_view field,
               std::string_view message);
// A library error as its status and body.
void set_error(Response& res, const Error& error);

// `error` with its field renamed (the library's "destination" is the API's "to"), including the
// "field: " prefix of its message.
Error rename_field(const Error& error, std::string_view from, std::string_view to);

// A 400 naming `field`.
[[noreturn]] void throw_invalid(std::string_view field, const std::string& message);

// --- encoding
// -------------------------------------------------------------------------------------

// `s` as a JSON string literal, quotes included.
std::string json_quote(std::string_view s);

// iso8601, json_quote_into, next_cid_json, number_json, stats_json: shared with the CLI
// (apps/common).
using app::iso8601;
using app::json_quote_into;
using app::next_cid_json;
using app::number_json;
using app::stats_json;

// --- decoding
// -------------------------------------------------------------------------------------

// Parses a JSON object body (at most `limit` bytes, depth 16). Throws a 400 (field "body") for
// empty, malformed or non-object input.
boost::json::object parse_json_object(std::string_view body);

// Parses an application/x-www-form-urlencoded body ("a=1&b=2", '+' = space).
std::vector<std::pair<std::string, std::string>> parse_form(std::string_view body);

// The parameters of a request that may carry them in the query, a JSON body or a form body:
// query first, then the body's fields for names the query does not have. JSON scalars are
// converted to their text; nested objects/arrays are kept as JSON text.
std::vector<std::pair<std::string, std::string>> merged_params(const Context& ctx);

// Integer parameter in [min, max]; throws a 400 naming `field` otherwise.
std::int64_t parse_int_param(std::string_view field, std::string_view value, std::int64_t min,
                             std::int64_t max);
// true/false/1/0/yes/no; throws a 400 naming `field` otherwise.
bool parse_bool_param(std::string_view field, std::string_view value);

// A number from the seed's /add-number fields: caller_id, carrier, area_code, daily_limit,
// hourly_limit, meta (object, or meta_json text), campaigns (array or comma list), active,
// max_concurrent. JSON bodies give typed values; query/form give text.
Number number_from_json(const boost::json::object& body);
Number number_from_params(const std::vector<std::pair<std::string, std::string>>& params);

// Applies a PATCH body (active, hourly_limit, daily_limit, campaigns, meta, carrier,
// max_concurrent; null limit = back to the default) to `number`. Unknown fields are a 400.
void apply_patch(Number& number, const boost::json::object& patch);

// Outcome from disposition/duration parameters. Every Asterisk DIALSTATUS is accepted
// (ANSWER -> answered, NOANSWER/CANCEL/DONTCALL/TORTURE -> no_answer, BUSY -> busy,
// CONGESTION/CHANUNAVAIL/INVALIDARGS -> failed); other values are passed to the library, which
// validates them.
Outcome outcome_from(std::optional<std::string_view> disposition,
                     std::optional<std::string_view> duration);

}  // namespace cidrot::server

#endif  // CIDROT_SERVER_CODEC_H_
