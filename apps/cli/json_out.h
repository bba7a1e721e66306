// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// Private to the CLI: the JSON forms `--json` prints. `lease_json` is the object the HTTP API's
// /next-cid returns: {caller_id, carrier, area_code, meta, reservation_id, expires_at, match}.
#ifndef CIDROT_APPS_CLI_JSON_OUT_H_
#define CIDROT_APPS_CLI_JSON_OUT_H_

#include <boost/json.hpp>
#include <iosfwd>
#include <string>

#include "cidrot/types.h"

namespace cidrot::cli {

// meta_json as a JSON value (it is validated as an object on the way in; a string otherwise).
boost::json::value meta_value(const std::string& meta_json);

boost::json::object lease_json(const Lease& lease);
boost::json::object number_json(const NumberState& state);
boost::json::object stats_json(const StoreStats& stats);

// Serialises `value` and a newline.
void print_json(std::ostream& out, const boost::json::value& value);

}  // namespace cidrot::cli

#endif  // CIDROT_APPS_CLI_JSON_OUT_H_
