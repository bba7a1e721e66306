// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
#include "url.h"

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <boost/url/url_view.hpp>
#include <charconv>

#include "cidrot/error.h"

namespace cidrot::storage {

StoreUrl parse_store_url(const std::string& url, std::initializer_list<const char*> allowed_keys) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) {
    throw Error(ErrorCode::kInvalidArgument,
                "url: malformed store URL (" + parsed.error().message() + ")", "url");
  }
  const boost::urls::url_view& u = *parsed;
  StoreUrl out;
  out.scheme = std::string(u.scheme());
  for (char& c : out.scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  out.user = u.user();
  out.password = u.password();
  out.host = u.host();
  out.port = std::string(u.port());
  out.path = u.path();
  for (auto param : u.params()) {
    bool known = false;
    for (const char* k : allowed_keys) known = known || param.key == k;
    if (!known) {
      std::string list;
      for (const char* k : allowed_keys) list += (list.empty() ? "" : ", ") + std::string(k);
      throw Error(ErrorCode::kUnsupported,
                  "url: unknown option '" + std::string(param.key).substr(0, 64) + "' for " +
                      out.scheme + ":// (supported: " + (list.empty() ? "none" : list) + ")",
                  "url");
    }
    out.query[std::string(param.key)] = std::string(param.value);
  }
  return out;
}

std::int64_t url_int_option(const StoreUrl& url, const char* key, std::int64_t fallback,
                            std::int64_t min, std::int64_t max) {
  auto it = url.query.find(key);
  if (it == url.query.end()) return fallback;
  std::int64_t v = 0;
  const std::string& s = it->second;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < min || v > max) {
    throw Error(ErrorCode::kInvalidArgument,
                std::string("url: option '") + key + "' must be an integer in " +
                    std::to_string(min) + ".." + std::to_string(max),
                "url");
  }
  return v;
}

std::string redact_url(const std::string& url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return "<malformed url>";
  boost::urls::url u = *parsed;
  if (u.has_password()) u.set_password("***");
  return std::string(u.buffer());
}

}  // namespace cidrot::storage
