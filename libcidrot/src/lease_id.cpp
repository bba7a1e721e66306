// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>

#include "cidrot/store.h"

namespace cidrot {
namespace {

// splitmix64: a cheap bijective mixer, so ids from one seeded counter never collide within a
// process and are unpredictable enough to be unique across processes and hosts (random seed).
std::uint64_t mix(std::uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::uint64_t seed_from_os() {
  std::random_device rd;
  std::uint64_t s = (std::uint64_t{rd()} << 32) ^ rd();
  return s ^
         static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
}

}  // namespace

std::string make_lease_id() {
  static const std::uint64_t high = mix(seed_from_os());
  static std::atomic<std::uint64_t> counter{seed_from_os()};
  const std::uint64_t low = mix(counter.fetch_add(1, std::memory_order_relaxed));
  static const char* hex = "0123456789abcdef";
  std::string id(32, '0');
  for (int i = 0; i < 16; ++i) {
    id[i] = hex[(high >> (60 - 4 * i)) & 0xf];
    id[16 + i] = hex[(low >> (60 - 4 * i)) & 0xf];
  }
  return id;
}

bool is_lease_id(std::string_view id) noexcept {
  if (id.size() != 32) return false;
  unsigned bad = 0;
  for (char c : id) bad |= !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  return bad == 0;
}

}  // namespace cidrot
