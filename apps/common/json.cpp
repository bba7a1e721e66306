// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT

#include "cidrot_app/json.h"

#include <boost/json/parse.hpp>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>

namespace cidrot::app {

std::string iso8601(TimePoint t) {
  const std::int64_t ms = to_unix_ms(t);
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  // The server formats a time or two per request, nearly always in the current second: the
  // date and time part is kept per thread and only the milliseconds are written each call.
  thread_local std::time_t cached_secs = -1;
  thread_local char cached[32];
  if (ms >= 0 && secs == cached_secs) {
    const int frac = static_cast<int>(ms % 1000);
    std::string out(cached, 19);
    out += '.';
    out += static_cast<char>('0' + frac / 100);
    out += static_cast<char>('0' + frac / 10 % 10);
    out += static_cast<char>('0' + frac % 10);
    out += 'Z';
    return out;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  if (ms >= 0 && tm.tm_year + 1900 <= 9999) {
    std::memcpy(cached, buf, 19);
    cached_secs = secs;
  }
  return buf;
}

const char* denial_message(DenialReason r) {
  switch (r) {
    case DenialReason::kPoolEmpty:
      return "the campaign's pool has no active numbers";
    case DenialReason::kAllReserved:
      return "every number in scope is in use by other calls";
    case DenialReason::kAllLimited:
      return "every number in scope is at its hourly or daily cap";
    case DenialReason::kNoMatchInScope:
      return "the pool has numbers, but none inside the campaign's local-presence tiers";
  }
  return "";
}

boost::json::object reservation_json(const Lease& l) {
  return {{"reservation_id", l.id},
          {"caller_id", l.number.caller_id},
          {"campaign", l.campaign},
          {"agent", l.agent},
          {"destination", l.destination},
          {"leased_at", iso8601(l.leased_at)},
          {"expires_at", iso8601(l.expires_at)},
          {"match", tier_name(l.tier)}};
}

boost::json::object number_json(const Number& n) {
  boost::json::object o;
  o["caller_id"] = n.caller_id;
  o["area_code"] = n.area_code;
  o["carrier"] = n.carrier;
  boost::json::array campaigns;
  for (const auto& c : n.campaigns) campaigns.emplace_back(c);
  o["campaigns"] = std::move(campaigns);
  o["hourly_limit"] = n.hourly_limit.value_or(0);
  o["daily_limit"] = n.daily_limit.value_or(0);
  o["max_concurrent"] = n.max_concurrent;
  o["active"] = n.active;
  boost::system::error_code ec;
  boost::json::value meta = boost::json::parse(n.meta_json, ec);
  o["meta"] = (ec || !meta.is_object()) ? boost::json::value(boost::json::object()) : meta;
  return o;
}

boost::json::object number_json(const NumberState& s) {
  boost::json::object o = number_json(s.number);
  o["last_used"] = to_unix_ms(s.last_used) == 0 ? boost::json::value(nullptr)
                                                : boost::json::value(iso8601(s.last_used));
  o["total_uses"] = s.total_uses;
  o["hour_count"] = s.hour_count;
  o["day_count"] = s.day_count;
  o["active_leases"] = s.active_leases;
  o["hourly_capped"] = s.hourly_capped();
  o["daily_capped"] = s.daily_capped();
  o["last_disposition"] = s.last_disposition;
  o["last_duration_s"] =
      s.last_duration_s < 0 ? boost::json::value(nullptr) : boost::json::value(s.last_duration_s);
  return o;
}

boost::json::object stats_json(const StoreStats& s) {
  boost::json::object o;
  o["numbers"] = s.numbers;
  o["active"] = s.active;
  o["disabled"] = s.disabled;
  o["leased_numbers"] = s.leased_numbers;
  o["active_leases"] = s.active_leases;
  o["capped_hourly"] = s.capped_hourly;
  o["capped_daily"] = s.capped_daily;
  o["total_uses"] = s.total_uses;
  boost::json::object by_campaign;
  for (const auto& [name, count] : s.leases_by_campaign) by_campaign[name] = count;
  o["leases_by_campaign"] = std::move(by_campaign);
  boost::json::array areas;
  for (const auto& a : s.area_codes) {
    areas.push_back(boost::json::object{
        {"area_code", std::to_string(a.npa)}, {"numbers", a.numbers}, {"available", a.available}});
  }
  o["area_codes"] = std::move(areas);
  return o;
}

void json_quote_into(std::string& out, std::string_view s) {
  out.reserve(out.size() + s.size() + 2);
  out.push_back('"');
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          static const char* hex = "0123456789abcdef";
          out += "\\u00";
          out.push_back(hex[c >> 4]);
          out.push_back(hex[c & 15]);
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

std::string next_cid_json(const Lease& lease) {
  const Number& n = lease.number;
  std::string out;
  out.reserve(256 + n.meta_json.size() + n.carrier.size());
  out += "{\"caller_id\":\"";
  out += n.caller_id;  // 10 digits, validated by the library
  out += "\",\"carrier\":";
  json_quote_into(out, n.carrier);
  out += ",\"area_code\":\"";
  out += n.area_code;
  out += "\",\"meta\":";
  // The Rotator stores meta as serialised JSON of an object; anything else (a store written by
  // other means) is not trusted into the output.
  if (n.meta_json.size() >= 2 && n.meta_json.front() == '{' && n.meta_json.back() == '}') {
    out += n.meta_json;
  } else {
    out += "{}";
  }
  out += ",\"reservation_id\":\"";
  out += lease.id;
  out += "\",\"expires_at\":\"";
  out += iso8601(lease.expires_at);
  out += "\",\"match\":\"";
  out += tier_name(lease.tier);
  out += "\",\"campaign\":";
  json_quote_into(out, lease.campaign);
  out += ",\"agent\":";
  json_quote_into(out, lease.agent);
  out += ",\"destination\":\"";
  out += lease.destination;
  out += "\"}";
  return out;
}

}  // namespace cidrot::app
