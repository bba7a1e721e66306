// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
#include "json_out.h"

#include <ostream>

#include "session.h"

namespace cidrot::cli {
namespace json = boost::json;

json::value meta_value(const std::string& meta_json) {
  // The Rotator stores meta as a serialised object; anything else is not passed through.
  json::error_code ec;
  json::value v = json::parse(meta_json, ec);
  if (ec || !v.is_object()) return json::object();
  return v;
}

// Keys and order as cidrot-server's /next-cid body.
json::object lease_json(const Lease& lease) {
  json::object o;
  o["caller_id"] = lease.number.caller_id;
  o["carrier"] = lease.number.carrier;
  o["area_code"] = lease.number.area_code;
  o["meta"] = meta_value(lease.number.meta_json);
  o["reservation_id"] = lease.id;
  o["expires_at"] = iso_time(lease.expires_at);
  o["match"] = tier_name(lease.tier);
  o["campaign"] = lease.campaign;
  o["agent"] = lease.agent;
  o["destination"] = lease.destination;
  return o;
}

// Keys as cidrot-server's number objects (GET /api/numbers).
json::object number_json(const NumberState& s) {
  const Number& n = s.number;
  json::object o;
  o["caller_id"] = n.caller_id;
  o["area_code"] = n.area_code;
  o["carrier"] = n.carrier;
  json::array campaigns;
  for (const auto& c : n.campaigns) campaigns.emplace_back(c);
  o["campaigns"] = std::move(campaigns);
  o["hourly_limit"] = n.hourly_limit.value_or(0);
  o["daily_limit"] = n.daily_limit.value_or(0);
  o["max_concurrent"] = n.max_concurrent;
  o["active"] = n.active;
  o["meta"] = meta_value(n.meta_json);
  o["last_used"] =
      to_unix_ms(s.last_used) == 0 ? json::value(nullptr) : json::value(iso_time(s.last_used));
  o["total_uses"] = s.total_uses;
  o["hour_count"] = s.hour_count;
  o["day_count"] = s.day_count;
  o["active_leases"] = s.active_leases;
  o["hourly_capped"] = s.hourly_capped();
  o["daily_capped"] = s.daily_capped();
  o["last_disposition"] = s.last_disposition;
  o["last_duration_s"] =
      s.last_duration_s < 0 ? json::value(nullptr) : json::value(s.last_duration_s);
  return o;
}

json::object stats_json(const StoreStats& st) {
  json::object o;
  o["numbers"] = st.numbers;
  o["active"] = st.active;
  o["disabled"] = st.disabled;
  o["leased_numbers"] = st.leased_numbers;
  o["active_leases"] = st.active_leases;
  o["capped_hourly"] = st.capped_hourly;
  o["capped_daily"] = st.capped_daily;
  o["total_uses"] = st.total_uses;
  json::object by_campaign;
  for (const auto& [name, count] : st.leases_by_campaign) by_campaign[name] = count;
  o["leases_by_campaign"] = std::move(by_campaign);
  json::array areas;
  for (const auto& a : st.area_codes) {
    areas.push_back(json::object{
        {"area_code", std::to_string(a.npa)}, {"numbers", a.numbers}, {"available", a.available}});
  }
  o["area_codes"] = std::move(areas);
  return o;
}

void print_json(std::ostream& out, const json::value& value) {
  out << json::serialize(value) << '\n';
}

}  // namespace cidrot::cli
