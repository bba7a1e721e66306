// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <random>
#include <stdexcept>
#include <string>

#include "conformance.h"

namespace cidrot::conformance {

const std::string& url_template() {
  static const std::string url = [] {
    const char* env = std::getenv("CIDROT_CONFORMANCE_URL");
    if (env == nullptr || *env == '\0') {
      throw std::runtime_error("CIDROT_CONFORMANCE_URL is not set (e.g. memory://)");
    }
    return std::string(env);
  }();
  return url;
}

std::string fresh_url() {
  static std::atomic<int> counter{0};
  static const unsigned salt = std::random_device{}() % 100000;
  const std::string token = std::to_string(::getpid()) + "x" + std::to_string(salt) + "x" +
                            std::to_string(counter.fetch_add(1));
  std::string url = url_template();
  for (auto pos = url.find("{n}"); pos != std::string::npos; pos = url.find("{n}")) {
    url.replace(pos, 3, token);
  }
  return url;
}

std::shared_ptr<Store> fresh_store() { return open_store(fresh_url()); }

}  // namespace cidrot::conformance
