// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// Private to the CLI: what `--json` prints. Numbers, stats and reservations use the JSON forms the
// server uses (cidrot_app/json.h), as does a lease (app::next_cid_json, the body of /next-cid).
#ifndef CIDROT_APPS_CLI_JSON_OUT_H_
#define CIDROT_APPS_CLI_JSON_OUT_H_

#include <boost/json.hpp>
#include <iosfwd>

#include "cidrot/types.h"
#include "cidrot_app/json.h"

namespace cidrot::cli {

// Serialises `value` and a newline.
void print_json(std::ostream& out, const boost::json::value& value);

}  // namespace cidrot::cli

#endif  // CIDROT_APPS_CLI_JSON_OUT_H_
