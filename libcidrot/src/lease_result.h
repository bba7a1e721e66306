// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// Private: the part of a granted lease every store copies from the request.
#ifndef CIDROT_SRC_LEASE_RESULT_H_
#define CIDROT_SRC_LEASE_RESULT_H_

#include "cidrot/store.h"

namespace cidrot::detail {

// Sets result->lease to a lease of `req` (id, campaign, agent, destination) with the given times
// and tier, and returns it for the store to fill in the number.
inline Lease& grant(LeaseResult* result, const LeaseRequest& req, TimePoint leased_at,
                    TimePoint expires_at, Tier tier) {
  Lease& l = result->lease.emplace();
  l.id = req.lease_id;
  l.campaign = req.campaign;
  l.agent = req.agent;
  l.destination = req.destination;
  l.leased_at = leased_at;
  l.expires_at = expires_at;
  l.tier = tier;
  return l;
}

}  // namespace cidrot::detail

#endif  // CIDROT_SRC_LEASE_RESULT_H_
