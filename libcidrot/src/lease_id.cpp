// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
#include "lease_id.h"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
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

// Writes v as 16 lowercase hex digits, most significant first. Every lease formats one id, so the
// nibbles are spread into bytes and mapped to ASCII eight at a time instead of one per step.
void hex16(std::uint64_t v, char* out) {
  auto spread = [](std::uint64_t x) {  // nibble i of a 32-bit x -> byte 7-i of the result
    x = (x | (x << 16)) & 0x0000ffff0000ffffULL;
    x = (x | (x << 8)) & 0x00ff00ff00ff00ffULL;
    x = (x | (x << 4)) & 0x0f0f0f0f0f0f0f0fULL;
    return __builtin_bswap64(x);
  };
  auto ascii = [](std::uint64_t x) {  // 0..9 -> '0'..'9', 10..15 -> 'a'..'f', per byte
    const std::uint64_t letters = ((x + 0x0606060606060606ULL) >> 4) & 0x0101010101010101ULL;
    return x + 0x3030303030303030ULL + letters * ('a' - '0' - 10);
  };
  const std::uint64_t hi = ascii(spread(v >> 32)), lo = ascii(spread(v & 0xffffffffULL));
  std::memcpy(out, &hi, 8);
  std::memcpy(out + 8, &lo, 8);
}

// Per byte of w: 0x80 when it is '0'..'9' or 'a'..'f'. Bytes must be ASCII (< 0x80): adding
// 0x80 - bound sets a byte's top bit exactly when it is >= bound, with no carry between bytes.
std::uint64_t lower_hex_bytes(std::uint64_t w) {
  auto at_least = [w](unsigned char bound) {
    return w + 0x0101010101010101ULL * static_cast<std::uint64_t>(0x80 - bound);
  };
  const std::uint64_t digit = at_least('0') & ~at_least('9' + 1);
  const std::uint64_t letter = at_least('a') & ~at_least('f' + 1);
  return (digit | letter) & 0x8080808080808080ULL;
}

}  // namespace

namespace detail {

void write_lease_id(char* out) {
  // The first half is fixed per process: it is formatted once.
  static const std::array<char, 16> high = [] {
    std::array<char, 16> digits;
    hex16(mix(seed_from_os()), digits.data());
    return digits;
  }();
  static std::atomic<std::uint64_t> counter{seed_from_os()};
  std::memcpy(out, high.data(), 16);
  hex16(mix(counter.fetch_add(1, std::memory_order_relaxed)), out + 16);
}

}  // namespace detail

std::string make_lease_id() {
  std::string id(32, '0');
  detail::write_lease_id(id.data());
  return id;
}

bool is_lease_id(std::string_view id) noexcept {
  if (id.size() != 32) return false;
  std::uint64_t ok = 0x8080808080808080ULL;
  for (int i = 0; i < 4; ++i) {
    std::uint64_t w;
    std::memcpy(&w, id.data() + 8 * i, 8);
    ok &= (w & 0x8080808080808080ULL) == 0 ? lower_hex_bytes(w) : 0;
  }
  return ok == 0x8080808080808080ULL;
}

}  // namespace cidrot
