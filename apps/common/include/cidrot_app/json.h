// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
//
// The JSON form of library values shared by cidrot-server's responses and the CLI's --json
// output, so that both print the same thing (docs/http-api.md, docs/openapi.yaml).

#ifndef CIDROT_APP_JSON_H_
#define CIDROT_APP_JSON_H_

#include <boost/json/object.hpp>
#include <string>
#include <string_view>

#include "cidrot/clock.h"
#include "cidrot/types.h"

namespace cidrot::app {

// UTC ISO 8601 with milliseconds: "2026-11-21T16:55:00.123Z".
std::string iso8601(TimePoint t);

// One sentence for a denial reason ("every number in scope is at its hourly or daily cap").
const char* denial_message(DenialReason reason);

// {caller_id, area_code, carrier, campaigns, hourly_limit, daily_limit, max_concurrent, active,
// meta}; meta parsed (an unreadable meta becomes {}).
boost::json::object number_json(const Number& number);
// number_json(number) plus last_used (null when never), total_uses, hour_count, day_count,
// active_leases, hourly_capped, daily_capped, last_disposition, last_duration_s (null when none).
boost::json::object number_json(const NumberState& state);
// StoreStats: totals, leases_by_campaign {name: n}, area_codes [{area_code, numbers, available}].
boost::json::object stats_json(const StoreStats& stats);
// `s` as a JSON string literal, quotes included, appended to `out`.
void json_quote_into(std::string& out, std::string_view s);

// The body of GET /next-cid (and of `cidrot next --json`): {caller_id, carrier, area_code, meta,
// reservation_id, expires_at, match, campaign, agent, destination}; meta as stored when it is a
// JSON object, else {}. Written by hand: it is the server's hot path.
std::string next_cid_json(const Lease& lease);

// A lease as listed by GET /api/reservations: {reservation_id, caller_id, campaign, agent,
// destination, leased_at, expires_at, match}.
boost::json::object reservation_json(const Lease& lease);

}  // namespace cidrot::app

#endif  // CIDROT_APP_JSON_H_
