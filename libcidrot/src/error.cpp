// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
#include "cidrot/error.h"

#include <utility>

#include "cidrot/types.h"
#include "cidrot/version.h"

namespace cidrot {

const char* error_code_name(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "invalid_argument";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kUnsupported:
      return "unsupported";
    case ErrorCode::kBackendUnavailable:
      return "backend_unavailable";
    case ErrorCode::kCorrupt:
      return "corrupt";
    case ErrorCode::kConflict:
      return "conflict";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "internal";
}

Error::Error(ErrorCode code, const std::string& message, std::string field)
    : std::runtime_error(message), code_(code), field_(std::move(field)) {}

const char* tier_name(Tier tier) noexcept {
  switch (tier) {
    case Tier::kSameNpa:
      return "same_npa";
    case Tier::kOverlay:
      return "overlay";
    case Tier::kState:
      return "state";
    case Tier::kNearby:
      return "nearby";
    case Tier::kTimeZone:
      return "time_zone";
    case Tier::kAny:
      return "any";
  }
  return "any";
}

Tier parse_tier(const std::string& name) {
  for (Tier t :
       {Tier::kSameNpa, Tier::kOverlay, Tier::kState, Tier::kNearby, Tier::kTimeZone, Tier::kAny}) {
    if (name == tier_name(t)) return t;
  }
  throw Error(ErrorCode::kInvalidArgument,
              "tiers: unknown tier '" + name.substr(0, 32) +
                  "' (expected same_npa, overlay, state, nearby, time_zone or any)",
              "tiers");
}

const char* denial_reason_name(DenialReason reason) noexcept {
  switch (reason) {
    case DenialReason::kPoolEmpty:
      return "pool_empty";
    case DenialReason::kAllReserved:
      return "all_reserved";
    case DenialReason::kAllLimited:
      return "all_limited";
    case DenialReason::kNoMatchInScope:
      return "no_match_in_scope";
  }
  return "pool_empty";
}

const char* version() noexcept { return "0.1.0"; }

}  // namespace cidrot
