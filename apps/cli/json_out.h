// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// Private to the CLI: what `--json` prints. Numbers, stats and reservations use the JSON forms the
// server uses (cidrot_app/json.h); `lease_json` is the object /next-cid returns.
#ifndef CIDROT_APPS_CLI_JSON_OUT_H_
#define CIDROT_APPS_CLI_JSON_OUT_H_

#include <boost/json.hpp>
#include <iosfwd>

#include "cidrot/types.h"
#include "cidrot_app/json.h"

namespace cidrot::cli {

// {caller_id, carrier, area_code, meta, reservation_id, expires_at, match, campaign, agent,
// destination}: the body of cidrot-server's GET /next-cid (apps/server/codec.cpp lease_json).
boost::json::object lease_json(const Lease& lease);

// Serialises `value` and a newline.
void print_json(std::ostream& out, const boost::json::value& value);

}  // namespace cidrot::cli

#endif  // CIDROT_APPS_CLI_JSON_OUT_H_
