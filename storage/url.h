// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// Private: store URL parsing shared by the backends (Boost.URL under the hood).
#ifndef CIDROT_STORAGE_URL_H_
#define CIDROT_STORAGE_URL_H_

#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>

namespace cidrot::storage {

// A parsed store URL. Percent-encoding is decoded in every field.
struct StoreUrl {
  std::string scheme;    // lower case: "sqlite", "redis", ...
  std::string user;
  std::string password;
  std::string host;
  std::string port;      // "" when absent
  std::string path;      // "/var/lib/cidrot.db", "/0", ...
  std::map<std::string, std::string> query;
};

// Parses `url`. Throws Error(kInvalidArgument, field "url") when malformed, and
// Error(kUnsupported, field "url") when the query has a key not in `allowed_keys` (the message
// lists the allowed ones).
StoreUrl parse_store_url(const std::string& url, std::initializer_list<const char*> allowed_keys);

// Reads an integer query option in [min, max], or `fallback` when absent. Throws
// Error(kInvalidArgument, field "url") naming the key when it is not such an integer.
std::int64_t url_int_option(const StoreUrl& url, const char* key, std::int64_t fallback,
                            std::int64_t min, std::int64_t max);

// Returns `url` with any password replaced by "***", safe to log.
std::string redact_url(const std::string& url);

}  // namespace cidrot::storage

#endif  // CIDROT_STORAGE_URL_H_
