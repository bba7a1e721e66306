// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
//
// Value types shared by the Store interface and the Rotator façade. All are plain data: copyable,
// movable, thread-compatible (no internal synchronisation).

#ifndef CIDROT_TYPES_H_
#define CIDROT_TYPES_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cidrot/clock.h"

namespace cidrot {

// A caller-ID the centre owns, with its configuration. Usage state lives in NumberState.
struct Number {
  std::string caller_id;               // 10-digit NANP national form after validation
  std::string area_code;               // its NPA; derived from caller_id when empty
  std::string carrier;                 // free text, <= 128 bytes
  std::vector<std::string> campaigns;  // campaigns/pools it serves; empty = every campaign
  // Leases per calendar hour / day; 0 = no cap; nullopt = the Rotator's default limit (stores
  // always receive and return values).
  std::optional<std::int64_t> hourly_limit;
  std::optional<std::int64_t> daily_limit;
  std::int32_t max_concurrent = 1;  // simultaneous leases; 1 = exclusive
  bool active = true;               // inactive numbers are never picked
  std::string meta_json = "{}";     // a JSON object, <= 4096 bytes, stored verbatim
};

// A number plus its usage as of the windows it was read with.
struct NumberState {
  Number number;
  TimePoint last_used{};           // epoch (0) = never leased
  std::int64_t total_uses = 0;     // leases ever granted
  std::int64_t hour_count = 0;     // leases in the current hour window
  std::int64_t day_count = 0;      // leases in the current day window
  std::int32_t active_leases = 0;  // unexpired, unreleased leases
  std::string last_disposition;    // outcome of the last released lease that reported one
  std::int64_t last_duration_s = -1;

  bool hourly_capped() const {
    return number.hourly_limit.value_or(0) > 0 && hour_count >= *number.hourly_limit;
  }
  bool daily_capped() const {
    return number.daily_limit.value_or(0) > 0 && day_count >= *number.daily_limit;
  }
};

// The steps of local-presence selection, tried in a campaign's configured order.
enum class Tier {
  kSameNpa,   // the destination's own area code
  kOverlay,   // another NPA of its overlay complex
  kState,     // another NPA of its state/province
  kNearby,    // NPAs within the campaign's radius, nearest first
  kTimeZone,  // NPAs sharing a time zone with it
  kAny,       // anything in the campaign's pool
};

// "same_npa", "overlay", "state", "nearby", "time_zone", "any".
const char* tier_name(Tier tier) noexcept;
// Inverse of tier_name. Throws Error(kInvalidArgument, field="tiers") for an unknown name.
Tier parse_tier(const std::string& name);

// Per-campaign rules. A campaign without settings uses RotatorOptions::campaign_defaults.
struct CampaignSettings {
  std::string name;  // 1..64 bytes of [A-Za-z0-9_.-]
  std::vector<Tier> tiers = {Tier::kSameNpa, Tier::kOverlay,  Tier::kState,
                             Tier::kNearby,  Tier::kTimeZone, Tier::kAny};
  std::int32_t nearby_radius_km = 250;  // kNearby considers NPAs whose centroid is this close
  std::int32_t nearby_max = 10;         // ... and at most this many of them
  std::chrono::seconds lease_ttl{300};  // how long a lease holds its number unless released
};

// One outbound call asking for a caller-ID.
struct CallRequest {
  std::string destination;      // any accepted NANP spelling; normalised by the Rotator
  std::string campaign;         // 1..64 bytes of [A-Za-z0-9_.-]
  std::string agent;            // <= 64 bytes, printable; may be empty
  std::chrono::seconds ttl{0};  // 0 = the campaign's lease_ttl
};

// A granted caller-ID, held for the call until released or expired.
struct Lease {
  std::string id;  // 32 hex chars, unique across processes and hosts
  Number number;   // the leased number's configuration at lease time
  std::string campaign;
  std::string agent;
  std::string destination;  // 10-digit national form
  TimePoint leased_at{};
  TimePoint expires_at{};
  Tier tier = Tier::kAny;  // the ladder step that matched
};

enum class DenialReason {
  kPoolEmpty,       // the campaign's pool has no active numbers at all
  kAllReserved,     // numbers in scope exist but all are at their concurrency limit
  kAllLimited,      // numbers in scope exist but all are at an hourly or daily cap
  kNoMatchInScope,  // the pool has numbers, none inside the campaign's tier ladder
};

// "pool_empty", "all_reserved", "all_limited", "no_match_in_scope".
const char* denial_reason_name(DenialReason reason) noexcept;

// Result of a lease attempt: either a Lease or a denial reason. A denial is a normal value.
struct LeaseResult {
  std::optional<Lease> lease;
  DenialReason denial = DenialReason::kPoolEmpty;  // meaningful only when !lease

  explicit operator bool() const noexcept { return lease.has_value(); }
};

// What happened to the call, reported on release. Both fields optional.
struct Outcome {
  std::string disposition;       // "", "answered", "no_answer", "busy", "failed", "voicemail"
  std::int64_t duration_s = -1;  // call length in seconds; -1 = not reported
};

// The calendar windows caps are counted in, as Unix seconds of each window's start in the
// configured time zone, plus the instant they were computed for.
struct Windows {
  TimePoint now{};
  std::int64_t hour_start = 0;
  std::int64_t day_start = 0;
};

struct UpsertResult {
  std::int64_t inserted = 0;
  std::int64_t updated = 0;
};

enum class SortKey { kCallerId, kLastUsed, kHourCount, kDayCount, kTotalUses };

struct ListQuery {
  std::string campaign;                   // numbers serving it (incl. all-campaign ones); "" = all
  std::vector<std::uint16_t> area_codes;  // empty = any
  std::optional<bool> active;
  std::optional<bool> leased;    // has >= 1 active lease
  std::optional<bool> limited;   // at an hourly or daily cap now
  std::string caller_id_prefix;  // digits; "" = any
  SortKey sort = SortKey::kCallerId;
  bool descending = false;
  std::int64_t offset = 0;
  std::int64_t limit = 100;  // 1..10000
};

struct ListPage {
  std::vector<NumberState> items;
  std::int64_t total = 0;  // matches of the filters before offset/limit
};

struct AreaCodeStats {
  std::uint16_t npa = 0;
  std::int64_t numbers = 0;    // active numbers with this NPA
  std::int64_t available = 0;  // active, not at concurrency limit, not capped
};

struct StoreStats {
  std::int64_t numbers = 0;  // all, active or not
  std::int64_t active = 0;
  std::int64_t disabled = 0;
  std::int64_t leased_numbers = 0;  // with >= 1 active lease
  std::int64_t active_leases = 0;
  std::int64_t capped_hourly = 0;  // active numbers at their hourly cap now
  std::int64_t capped_daily = 0;   // active numbers at their daily cap now
  std::int64_t total_uses = 0;     // leases ever granted
  std::vector<std::pair<std::string, std::int64_t>> leases_by_campaign;  // active leases
  std::vector<AreaCodeStats> area_codes;                                 // ordered by NPA
};

}  // namespace cidrot

#endif  // CIDROT_TYPES_H_
