// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// open_store(): the one place that knows every compiled backend. Registration is an explicit
// table rather than static initialisers, so a static link can never silently drop a backend.

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "backends.h"
#include "cidrot/error.h"
#include "cidrot/store.h"

namespace cidrot {
namespace {

struct Backend {
  const char* scheme;
  std::shared_ptr<Store> (*open)(const std::string& url);
};

const std::vector<Backend>& backends() {
  static const std::vector<Backend> table = {
      {"memory", &storage::open_memory_store},
#ifdef CIDROT_HAVE_SQLITE
      {"sqlite", &storage::open_sqlite_store},
#endif
#ifdef CIDROT_HAVE_REDIS
      {"redis", &storage::open_redis_store},         {"unix", &storage::open_redis_store},
#endif
#ifdef CIDROT_HAVE_POSTGRES
      {"postgresql", &storage::open_postgres_store}, {"postgres", &storage::open_postgres_store},
#endif
  };
  return table;
}

}  // namespace

std::vector<std::string> compiled_backends() {
  std::vector<std::string> names;
  for (const auto& b : backends()) names.emplace_back(b.scheme);
  return names;
}

std::shared_ptr<Store> open_store(const std::string& url) {
  if (url.size() > 4096)
    throw Error(ErrorCode::kInvalidArgument, "url: longer than 4096 bytes", "url");
  const auto colon = url.find("://");
  if (colon == std::string::npos || colon == 0) {
    throw Error(ErrorCode::kInvalidArgument,
                "url: '" + url.substr(0, 64) + "' is not a store URL (expected scheme://...)",
                "url");
  }
  std::string scheme = url.substr(0, colon);
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const auto& b : backends()) {
    if (scheme == b.scheme) return b.open(url);
  }
  std::string known;
  for (const auto& b : backends())
    known += (known.empty() ? "" : ", ") + std::string(b.scheme) + "://";
  throw Error(
      ErrorCode::kUnsupported,
      "url: unsupported scheme '" + scheme.substr(0, 32) + "://'; this build supports " + known,
      "url");
}

}  // namespace cidrot

namespace cidrot {

std::string default_store_url() {
#ifdef CIDROT_HAVE_SQLITE
  std::string dir;
  if (const char* d = std::getenv("CIDROT_DATA_DIR"); d != nullptr && *d != '\0') dir = d;
  std::error_code ec;
  std::filesystem::path base =
      dir.empty() ? std::filesystem::current_path(ec) : std::filesystem::path(dir);
  if (ec) base = ".";
  std::filesystem::path file = std::filesystem::absolute(base / "cidrot.db", ec);
  if (ec) file = base / "cidrot.db";
  // A path is not a URL: characters with a meaning in URLs are percent-encoded.
  std::string url = "sqlite://";
  for (char c : file.lexically_normal().string()) {
    if (c == '%' || c == '?' || c == '#' || c == ' ') {
      static const char* hex = "0123456789ABCDEF";
      url += '%';
      url += hex[(static_cast<unsigned char>(c) >> 4) & 0xf];
      url += hex[static_cast<unsigned char>(c) & 0xf];
    } else {
      url += c;
    }
  }
  return url;
#else
  return "memory://";
#endif
}

}  // namespace cidrot
