// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
//
// Rotator: the façade every frontend (HTTP server, CLI, Python, custom dialers) calls. It
// validates and normalises input, turns campaign settings and the NANP table into selection
// ladders, computes the hour/day windows in the configured time zone, and delegates each atomic
// step to the Store.
//
// Thread safety: all methods may be called concurrently from any number of threads.
//
//   auto rot = cidrot::Rotator(cidrot::open_store("sqlite:///var/lib/cidrot/cidrot.db"));
//   cidrot::LeaseResult r = rot.next({"+1 212 555 0199", "sales", "agent7"});
//   if (r) { dial(r.lease->number.caller_id); ...; rot.release(r.lease->id, {"answered", 42}); }

#ifndef CIDROT_ROTATOR_H_
#define CIDROT_ROTATOR_H_

#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cidrot/clock.h"
#include "cidrot/store.h"
#include "cidrot/types.h"

namespace cidrot {

struct RotatorOptions {
  // IANA zone ("America/New_York") whose calendar hours and days the caps count in;
  // "" = the host's zone (TZ, then /etc/localtime), falling back to UTC.
  std::string time_zone;
  // Limits given to numbers added without their own (the seed's DEFAULT_*_LIMIT); 0 = no cap.
  std::int64_t default_hourly_limit = 0;
  std::int64_t default_daily_limit = 0;
  // Settings for campaigns that have none of their own (name is ignored).
  CampaignSettings campaign_defaults;
};

// One call of Rotator::next_batch() with its answer.
struct CallBatchItem {
  const CallRequest* request = nullptr;  // never null
  LeaseResult* result = nullptr;         // never null; overwritten as next(request, result) does
  std::exception_ptr error;  // what next() would have thrown for this call; *result unspecified
};

class Rotator {
 public:
  // Throws Error(kInvalidArgument) for an unknown time zone or invalid defaults.
  // `clock` defaults to the system clock.
  explicit Rotator(std::shared_ptr<Store> store, RotatorOptions options = {},
                   std::shared_ptr<const Clock> clock = nullptr);
  ~Rotator();
  Rotator(const Rotator&) = delete;
  Rotator& operator=(const Rotator&) = delete;

  // Registers or replaces a campaign's settings (in this Rotator only; not persisted).
  // Throws Error(kInvalidArgument) naming the bad field (name, tiers, nearby_radius_km, ...).
  void set_campaign(const CampaignSettings& settings);
  // Returns the campaign's settings, or the defaults (with `name` filled in) if it has none.
  CampaignSettings campaign(const std::string& name) const;

  // Picks and leases a caller-ID for one call. A denial is a value (see LeaseResult).
  // Throws Error(kInvalidArgument) for a bad destination/campaign/agent/ttl, and the store's
  // Error on infrastructure faults (nothing is leased then).
  LeaseResult next(const CallRequest& request);
  // As next(request), but writes the answer into *out (never null), reusing the storage a
  // previous answer left there (see Store::lease_into): keep one LeaseResult per thread and, on
  // memory://, a grant allocates nothing. Same throws as next(); *out is then valid but
  // unspecified.
  void next(const CallRequest& request, LeaseResult* out);
  // Leases a caller-ID for each item's call, as next(request, result) would, with all the valid
  // calls leased together (Store::lease_batch: on SQLite one transaction and one commit for the
  // whole batch, which makes a burst of calls several times cheaper than one next() each). The
  // calls are concurrent: the answers are those of some order of them. A call that next() would
  // reject gets that Error in its `error`, as does a call the store failed; the other calls are
  // unaffected by an invalid one. Never throws. Blocks like next(). Thread-safe.
  void next_batch(CallBatchItem* items, std::size_t count) noexcept;

  // Ends a lease by id; idempotent. Returns 1 if it ended a lease, 0 if there was none.
  // Throws Error(kInvalidArgument) for a malformed id or outcome.
  std::int64_t release(const std::string& lease_id, const Outcome& outcome = {});
  // Ends every lease of a number (the seed's DELETE /api/reservation/{caller_id}). Returns how
  // many.
  std::int64_t release_caller_id(const std::string& caller_id, const Outcome& outcome = {});

  // Validates and normalises one number: caller_id to 10 digits; area_code derived, or checked
  // against the caller_id; unset limits get the defaults; carrier, campaigns, meta_json bounded
  // and meta_json a JSON object. Throws Error(kInvalidArgument) naming the field. Pure.
  Number normalize_number(Number number) const;
  // normalize_number() on each, then one atomic upsert. Throws on the first invalid number
  // (nothing written).
  UpsertResult add_numbers(std::vector<Number> numbers);

  // Returns false when the number does not exist. caller_id in any accepted spelling.
  bool set_active(const std::string& caller_id, bool active);
  bool remove_number(const std::string& caller_id);
  std::optional<NumberState> get_number(const std::string& caller_id);
  // Throws Error(kInvalidArgument) for a limit outside 1..10000 or a negative offset.
  ListPage list_numbers(const ListQuery& query);
  std::vector<Lease> list_leases(std::int64_t limit = 100);
  StoreStats stats();
  std::int64_t expire();

  // The current hour/day windows in the configured zone.
  Windows windows() const;
  // The resolved IANA zone name ("UTC" when the host has none).
  const std::string& time_zone() const noexcept;

  Store& store() noexcept;
  const Clock& clock() const noexcept;

 private:
  // Validates `request` and fills *req (every field) for the store. Throws as next() does.
  void prepare(const CallRequest& request, LeaseRequest* req);

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cidrot

#endif  // CIDROT_ROTATOR_H_
