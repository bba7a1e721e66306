// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// Private: the part of a granted lease every store copies from the request.
#ifndef CIDROT_SRC_LEASE_RESULT_H_
#define CIDROT_SRC_LEASE_RESULT_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "cidrot/error.h"
#include "cidrot/store.h"

namespace cidrot::detail {

// Copies n bytes that may overlap. Up to 32 bytes (every id, caller-ID, destination and most
// names) it is a few word moves, all loads before the stores; a call to memmove through the PLT
// costs more than that at these sizes.
inline void move_bytes(char* d, const char* s, std::size_t n) {
  if (n <= 32 && n >= 8) {
    std::uint64_t w[4];
    if (n <= 16) {
      std::memcpy(&w[0], s, 8);
      std::memcpy(&w[1], s + n - 8, 8);
      std::memcpy(d, &w[0], 8);
      std::memcpy(d + n - 8, &w[1], 8);
    } else {
      std::memcpy(&w[0], s, 16);
      std::memcpy(&w[2], s + n - 16, 16);
      std::memcpy(d, &w[0], 16);
      std::memcpy(d + n - 16, &w[2], 16);
    }
  } else if (n < 8 && n >= 4) {
    std::uint32_t a, b;
    std::memcpy(&a, s, 4);
    std::memcpy(&b, s + n - 4, 4);
    std::memcpy(d, &a, 4);
    std::memcpy(d + n - 4, &b, 4);
  } else if (n < 4) {
    for (std::size_t i = 0; i < n; ++i) d[i] = s[i];  // distinct strings, or the same one
  } else {
    std::memmove(d, s, n);
  }
}

// *dst = src. When the sizes already match (a reused answer or record receiving the same kind of
// value again: ids, destinations, the same campaign and agent) it is a copy into the buffer
// instead of the library's general assign, which costs several times as much per lease.
inline void copy_string(std::string* dst, std::string_view src) {
  if (dst->size() == src.size()) {
    move_bytes(dst->data(), src.data(), src.size());
  } else {
    dst->assign(src.data(), src.size());
  }
}

// Throws Error(kInvalidArgument) for a request no store can run: a lease id that is not 32
// lowercase hex characters, or no ladder.
inline void check_lease_request(const LeaseRequest& req) {
  if (!is_lease_id(req.lease_id)) {
    throw Error(ErrorCode::kInvalidArgument, "lease_id: must be 32 lowercase hex chars",
                "lease_id");
  }
  if (req.ladder == nullptr) throw Error(ErrorCode::kInvalidArgument, "ladder: missing", "ladder");
}

// Sets result->lease to a lease of `req` (id, campaign, agent, destination) with the given times
// and tier, and returns it for the store to fill in the number (every field of it). A lease
// already in *result is overwritten in place, so its strings' storage is reused.
inline Lease& grant(LeaseResult* result, const LeaseRequest& req, TimePoint leased_at,
                    TimePoint expires_at, Tier tier) {
  Lease& l = result->lease ? *result->lease : result->lease.emplace();
  copy_string(&l.id, req.lease_id);
  copy_string(&l.campaign, req.campaign);
  copy_string(&l.agent, req.agent);
  copy_string(&l.destination, req.destination);
  l.leased_at = leased_at;
  l.expires_at = expires_at;
  l.tier = tier;
  return l;
}

}  // namespace cidrot::detail

#endif  // CIDROT_SRC_LEASE_RESULT_H_
