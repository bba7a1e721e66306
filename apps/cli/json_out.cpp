// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
#include "json_out.h"

#include <ostream>

namespace cidrot::cli {
namespace json = boost::json;

json::object lease_json(const Lease& lease) {
  // Meta through number_json so that an unreadable meta prints as {} exactly as the server does.
  json::object number = app::number_json(lease.number);
  json::object o;
  o["caller_id"] = lease.number.caller_id;
  o["carrier"] = lease.number.carrier;
  o["area_code"] = lease.number.area_code;
  o["meta"] = std::move(number["meta"]);
  o["reservation_id"] = lease.id;
  o["expires_at"] = app::iso8601(lease.expires_at);
  o["match"] = tier_name(lease.tier);
  o["campaign"] = lease.campaign;
  o["agent"] = lease.agent;
  o["destination"] = lease.destination;
  return o;
}

void print_json(std::ostream& out, const json::value& value) {
  out << json::serialize(value) << '\n';
}

}  // namespace cidrot::cli
