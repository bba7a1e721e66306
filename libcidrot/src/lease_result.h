// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// Private: the part of a granted lease every store copies from the request.
#ifndef CIDROT_SRC_LEASE_RESULT_H_
#define CIDROT_SRC_LEASE_RESULT_H_

#include <cstring>
#include <string>
#include <string_view>

#include "cidrot/store.h"

namespace cidrot::detail {

// *dst = src. When the sizes already match (a reused answer or record receiving the same kind of
// value again: ids, destinations, the same campaign and agent) it is one memmove into the buffer
// instead of the library's general assign, which costs several times as much per lease.
inline void copy_string(std::string* dst, std::string_view src) {
  if (dst->size() == src.size()) {
    std::memmove(dst->data(), src.data(), src.size());
  } else {
    dst->assign(src.data(), src.size());
  }
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
