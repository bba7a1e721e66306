// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
#include "cidrot/rotator.h"

#include <array>
#include <atomic>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <mutex>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "cidrot/error.h"
#include "cidrot/nanp.h"
#include "lease_id.h"
#include "lease_result.h"
#include "nanp_table.h"
#include "time_windows.h"

namespace cidrot {
namespace {

constexpr std::size_t kMaxNameBytes = 64;
constexpr std::size_t kMaxCarrierBytes = 128;
constexpr std::size_t kMaxMetaBytes = 4096;
constexpr std::size_t kMaxCampaignsPerNumber = 64;
constexpr std::int32_t kMaxConcurrent = 10000;

[[noreturn]] void invalid(const std::string& field, const std::string& what) {
  throw Error(ErrorCode::kInvalidArgument, field + ": " + what, field);
}

// Campaign names are checked on every lease: one table load per character.
constexpr std::array<bool, 256> kNameChars = [] {
  std::array<bool, 256> ok{};
  for (int c = 0; c < 256; ++c) {
    ok[c] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '_' || c == '-' || c == '.';
  }
  return ok;
}();

void check_name(const std::string& value, const char* field) {
  if (value.empty()) invalid(field, "must not be empty");
  if (value.size() > kMaxNameBytes) invalid(field, "longer than 64 bytes");
  bool ok = true;
  for (unsigned char c : value) ok &= kNameChars[c];
  if (!ok) invalid(field, "may hold only letters, digits, '_', '-' and '.'");
}

void check_printable(const std::string& value, std::size_t max, const char* field) {
  if (value.size() > max) invalid(field, "longer than " + std::to_string(max) + " bytes");
  bool control = false;
  for (unsigned char c : value) control |= (c < 0x20) | (c == 0x7f);
  if (control) invalid(field, "must not contain control characters");
}

void check_settings(const CampaignSettings& s) {
  if (s.tiers.empty()) invalid("tiers", "must name at least one tier");
  std::unordered_set<int> seen;
  for (Tier t : s.tiers) {
    if (!seen.insert(static_cast<int>(t)).second) {
      invalid("tiers", std::string("lists '") + tier_name(t) + "' twice");
    }
  }
  if (s.nearby_radius_km < 0 || s.nearby_radius_km > 5000) {
    invalid("nearby_radius_km", "must be in 0..5000");
  }
  if (s.nearby_max < 0 || s.nearby_max > 20) invalid("nearby_max", "must be in 0..20");
  if (s.lease_ttl.count() < 1 || s.lease_ttl.count() > 86400) {
    invalid("lease_ttl", "must be 1..86400 seconds");
  }
}

void check_outcome(const Outcome& o) {
  static const char* const kDispositions[] = {"answered", "no_answer", "busy", "failed",
                                              "voicemail"};
  if (!o.disposition.empty()) {
    bool ok = false;
    for (const char* d : kDispositions) ok = ok || o.disposition == d;
    if (!ok) {
      invalid("disposition", "must be one of answered, no_answer, busy, failed, voicemail");
    }
  }
  if (o.duration_s < -1 || o.duration_s > 86400) invalid("duration", "must be 0..86400 seconds");
}

// A campaign's settings with its ladders, built lazily per destination NPA and then immutable.
// Held by shared_ptr so a concurrent set_campaign() never frees a ladder a lease is using.
struct CampaignEntry {
  CampaignSettings settings;
  std::array<std::atomic<const Ladder*>, 1000> ladders{};
  std::mutex build_mu;
  std::vector<std::unique_ptr<Ladder>> owned;

  const Ladder& ladder(std::uint16_t npa) {
    if (const Ladder* l = ladders[npa].load(std::memory_order_acquire)) return *l;
    std::lock_guard<std::mutex> lock(build_mu);
    if (const Ladder* l = ladders[npa].load(std::memory_order_acquire)) return *l;
    owned.push_back(compact(build(npa)));
    ladders[npa].store(owned.back().get(), std::memory_order_release);
    return *owned.back();
  }

  // Every lease reads its ladder, the steps and the first step's NPAs: allocated one after the
  // other they share cache lines, instead of lying wherever building them left them.
  static std::unique_ptr<Ladder> compact(const Ladder& built) {
    auto ladder = std::make_unique<Ladder>();
    ladder->reserve(built.size());
    for (const LadderStep& step : built) {
      ladder->push_back(LadderStep{step.tier, {step.npas.begin(), step.npas.end()}});
    }
    return ladder;
  }

  // Newer NPAs (e.g. 332) have no centroid in the 2018 geography set; an overlay partner covers
  // the same ground, so its neighbours are theirs too.
  static const AreaCode* with_centroid(const AreaCode* area) {
    if (area == nullptr || area->has_centroid) return area;
    for (int i = 0; i < area->overlay_count; ++i) {
      const AreaCode* partner = find_area_code(area->overlay[i]);
      if (partner != nullptr && partner->has_centroid) return partner;
    }
    return nullptr;
  }

  Ladder build(std::uint16_t npa) const {
    Ladder out;
    std::unordered_set<std::uint16_t> seen;
    const AreaCode* area = find_area_code(npa);
    auto add_step = [&](Tier tier, const std::vector<std::uint16_t>& npas) {
      LadderStep step{tier, {}};
      for (std::uint16_t n : npas) {
        if (seen.insert(n).second) step.npas.push_back(n);
      }
      if (!step.npas.empty()) out.push_back(std::move(step));
    };
    for (Tier tier : settings.tiers) {
      switch (tier) {
        case Tier::kSameNpa:
          add_step(tier, {npa});
          break;
        case Tier::kOverlay:
          if (area) add_step(tier, {area->overlay, area->overlay + area->overlay_count});
          break;
        case Tier::kState:
          // Qualified by country: "KY" is both Kentucky and the Cayman Islands.
          if (area) {
            add_step(tier, area_codes_in_region(std::string(area->country) + "-" + area->region));
          }
          break;
        case Tier::kNearby:
          if (const AreaCode* geo = with_centroid(area)) {
            int taken = 0;
            for (int i = 0; i < geo->nearby_count && taken < settings.nearby_max; ++i) {
              if (geo->nearby[i].distance_km > settings.nearby_radius_km) break;
              if (seen.count(geo->nearby[i].npa) != 0) continue;
              // One step per NPA: the nearest area with a free number wins.
              add_step(tier, {geo->nearby[i].npa});
              ++taken;
            }
          }
          break;
        case Tier::kTimeZone:
          if (area && area->time_zones != 0) {
            add_step(tier, area_codes_in_time_zones(area->time_zones));
          }
          break;
        case Tier::kAny:
          out.push_back(LadderStep{Tier::kAny, {}});
          return out;  // nothing after "any" can match anything new
      }
    }
    return out;
  }
};

}  // namespace

struct Rotator::Impl {
  std::shared_ptr<Store> store;
  RotatorOptions options;
  std::shared_ptr<const Clock> clock;
  detail::WindowCalculator windows;
  // Campaign settings change rarely and are read on every lease: readers load an immutable
  // snapshot without locking; writers copy it. Old snapshots and entries stay alive for the
  // Rotator's life (a handful of set_campaign calls), so a reader never sees freed memory.
  using CampaignMap = std::unordered_map<std::string, CampaignEntry*>;
  std::mutex write_mu;
  std::atomic<const CampaignMap*> campaigns{nullptr};
  std::vector<std::unique_ptr<CampaignMap>> retired_maps;
  std::vector<std::unique_ptr<CampaignEntry>> entries;
  CampaignEntry* defaults = nullptr;

  Impl(std::shared_ptr<Store> s, RotatorOptions o, std::shared_ptr<const Clock> c)
      : store(std::move(s)),
        options(std::move(o)),
        clock(std::move(c)),
        windows(options.time_zone) {}

  CampaignEntry* entry(const std::string& name) const {
    const CampaignMap* map = campaigns.load(std::memory_order_acquire);
    auto it = map->find(name);
    return it != map->end() ? it->second : defaults;
  }

  Windows now_windows() const { return windows.at(clock->now()); }
};

Rotator::Rotator(std::shared_ptr<Store> store, RotatorOptions options,
                 std::shared_ptr<const Clock> clock) {
  if (!store) invalid("store", "must not be null");
  if (!clock) clock = std::make_shared<SystemClock>();
  if (options.default_hourly_limit < 0) invalid("default_hourly_limit", "must be >= 0");
  if (options.default_daily_limit < 0) invalid("default_daily_limit", "must be >= 0");
  check_settings(options.campaign_defaults);
  impl_ = std::make_unique<Impl>(std::move(store), std::move(options), std::move(clock));
  impl_->entries.push_back(std::make_unique<CampaignEntry>());
  impl_->defaults = impl_->entries.back().get();
  impl_->defaults->settings = impl_->options.campaign_defaults;
  impl_->retired_maps.push_back(std::make_unique<Impl::CampaignMap>());
  impl_->campaigns.store(impl_->retired_maps.back().get());
}

Rotator::~Rotator() = default;

void Rotator::set_campaign(const CampaignSettings& settings) {
  check_name(settings.name, "name");
  check_settings(settings);
  auto e = std::make_unique<CampaignEntry>();
  e->settings = settings;
  std::lock_guard<std::mutex> lock(impl_->write_mu);
  auto next = std::make_unique<Impl::CampaignMap>(*impl_->campaigns.load());
  (*next)[settings.name] = e.get();
  impl_->entries.push_back(std::move(e));
  impl_->campaigns.store(next.get(), std::memory_order_release);
  impl_->retired_maps.push_back(std::move(next));
}

CampaignSettings Rotator::campaign(const std::string& name) const {
  CampaignSettings s = impl_->entry(name)->settings;
  s.name = name;
  return s;
}

LeaseResult Rotator::next(const CallRequest& request) {
  LeaseResult result;
  next(request, &result);
  return result;
}

void Rotator::prepare(const CallRequest& request, LeaseRequest* req) {
  check_name(request.campaign, "campaign");
  check_printable(request.agent, kMaxNameBytes, "agent");
  if (request.ttl.count() < 0 || request.ttl.count() > 86400) {
    invalid("ttl", "must be 0..86400 seconds");
  }
  detail::normalize_nanp_into(request.destination, "destination", &req->destination);
  const auto npa =
      static_cast<std::uint16_t>((req->destination[0] - '0') * 100 +
                                 (req->destination[1] - '0') * 10 + (req->destination[2] - '0'));
  CampaignEntry* entry = impl_->entry(request.campaign);
  req->ladder = &entry->ladder(npa);
  req->lease_id.resize(32);
  detail::write_lease_id(req->lease_id.data());
  req->lease_id_fresh = true;
  detail::copy_string(&req->campaign, request.campaign);
  detail::copy_string(&req->agent, request.agent);
  req->windows = impl_->now_windows();
  req->ttl = request.ttl.count() > 0 ? request.ttl : entry->settings.lease_ttl;
}

void Rotator::next(const CallRequest& request, LeaseResult* out) {
  // One request per thread, every field set on every call: its strings keep their capacity, so
  // building it allocates nothing (the 32-char id alone would be an allocation per lease).
  thread_local LeaseRequest req;
  prepare(request, &req);
  impl_->store->lease_into(req, out);
}

void Rotator::next_batch(CallBatchItem* items, std::size_t count) noexcept {
  // Per thread, like next()'s request (grown before any pointer into it is taken).
  thread_local std::vector<LeaseRequest> reqs;
  thread_local std::vector<LeaseBatchItem> batch;
  thread_local std::vector<std::size_t> from;  // batch index -> items index
  try {
    batch.clear();
    from.clear();
    if (reqs.size() < count) reqs.resize(count);
    for (std::size_t i = 0; i < count; ++i) {
      try {
        items[i].error = nullptr;
        prepare(*items[i].request, &reqs[i]);
      } catch (...) {
        items[i].error = std::current_exception();
        continue;
      }
      batch.push_back(LeaseBatchItem{&reqs[i], items[i].result, nullptr});
      from.push_back(i);
    }
  } catch (...) {
    // Out of memory while setting the batch up: no call reached the store.
    for (std::size_t i = 0; i < count; ++i) items[i].error = std::current_exception();
    return;
  }
  if (batch.empty()) return;
  impl_->store->lease_batch(batch.data(), batch.size());
  for (std::size_t k = 0; k < batch.size(); ++k) items[from[k]].error = batch[k].error;
}

std::int64_t Rotator::release(const std::string& lease_id, const Outcome& outcome) {
  if (!is_lease_id(lease_id)) invalid("reservation_id", "must be 32 lowercase hex characters");
  check_outcome(outcome);
  // Reused per thread like next()'s request: copying the id into it allocates nothing.
  thread_local ReleaseRequest req;
  req.lease_id = lease_id;
  req.caller_id.clear();
  req.outcome = outcome;
  req.now = impl_->clock->now();
  return impl_->store->release(req);
}

std::int64_t Rotator::release_caller_id(const std::string& caller_id, const Outcome& outcome) {
  check_outcome(outcome);
  ReleaseRequest req;
  req.caller_id = normalize_nanp(caller_id, "caller_id");
  req.outcome = outcome;
  req.now = impl_->clock->now();
  return impl_->store->release(req);
}

Number Rotator::normalize_number(Number n) const {
  n.caller_id = normalize_nanp(n.caller_id, "caller_id");
  const std::string npa = n.caller_id.substr(0, 3);
  if (n.area_code.empty()) {
    n.area_code = npa;
  } else if (n.area_code != npa) {
    invalid("area_code",
            "'" + n.area_code.substr(0, 8) + "' does not match the caller_id's area code " + npa);
  }
  check_printable(n.carrier, kMaxCarrierBytes, "carrier");
  if (n.campaigns.size() > kMaxCampaignsPerNumber) invalid("campaigns", "more than 64 campaigns");
  std::vector<std::string> campaigns;
  for (const auto& c : n.campaigns) {
    check_name(c, "campaigns");
    if (std::find(campaigns.begin(), campaigns.end(), c) == campaigns.end()) campaigns.push_back(c);
  }
  std::sort(campaigns.begin(), campaigns.end());
  n.campaigns = std::move(campaigns);
  if (n.hourly_limit && *n.hourly_limit < 0) invalid("hourly_limit", "must be >= 0 (0 = no cap)");
  if (n.daily_limit && *n.daily_limit < 0) invalid("daily_limit", "must be >= 0 (0 = no cap)");
  if (!n.hourly_limit) n.hourly_limit = impl_->options.default_hourly_limit;
  if (!n.daily_limit) n.daily_limit = impl_->options.default_daily_limit;
  if (n.max_concurrent < 1 || n.max_concurrent > kMaxConcurrent) {
    invalid("max_concurrent", "must be 1..10000");
  }
  if (n.meta_json.empty()) n.meta_json = "{}";
  if (n.meta_json.size() > kMaxMetaBytes) invalid("meta", "longer than 4096 bytes");
  boost::system::error_code ec;
  boost::json::value meta = boost::json::parse(n.meta_json, ec);
  if (ec) invalid("meta", "is not valid JSON (" + ec.message() + ")");
  if (!meta.is_object()) invalid("meta", "must be a JSON object");
  n.meta_json = boost::json::serialize(meta);
  return n;
}

UpsertResult Rotator::add_numbers(std::vector<Number> numbers) {
  std::unordered_map<std::string, std::size_t> position;
  std::vector<Number> unique;
  unique.reserve(numbers.size());
  for (auto& n : numbers) {
    Number norm = normalize_number(std::move(n));
    // The last spelling of a number in one batch wins, as if upserted one by one.
    auto [it, fresh] = position.emplace(norm.caller_id, unique.size());
    if (fresh) {
      unique.push_back(std::move(norm));
    } else {
      unique[it->second] = std::move(norm);
    }
  }
  if (unique.empty()) return {};
  return impl_->store->upsert_numbers(unique);
}

bool Rotator::set_active(const std::string& caller_id, bool active) {
  return impl_->store->set_active(normalize_nanp(caller_id, "caller_id"), active);
}

bool Rotator::remove_number(const std::string& caller_id) {
  return impl_->store->remove_number(normalize_nanp(caller_id, "caller_id"));
}

std::optional<NumberState> Rotator::get_number(const std::string& caller_id) {
  return impl_->store->get_number(normalize_nanp(caller_id, "caller_id"), impl_->now_windows());
}

ListPage Rotator::list_numbers(const ListQuery& query) {
  if (query.limit < 1 || query.limit > 10000) invalid("limit", "must be 1..10000");
  if (query.offset < 0) invalid("offset", "must be >= 0");
  if (!query.campaign.empty()) check_name(query.campaign, "campaign");
  if (query.caller_id_prefix.size() > 10) invalid("caller_id_prefix", "longer than 10 digits");
  for (char c : query.caller_id_prefix) {
    if (c < '0' || c > '9') invalid("caller_id_prefix", "must be digits");
  }
  for (auto npa : query.area_codes) {
    if (npa < 200 || npa > 999) invalid("area_code", "must be 200..999");
  }
  return impl_->store->list_numbers(query, impl_->now_windows());
}

std::vector<Lease> Rotator::list_leases(std::int64_t limit) {
  if (limit < 1 || limit > 10000) invalid("limit", "must be 1..10000");
  return impl_->store->list_leases(impl_->clock->now(), limit);
}

StoreStats Rotator::stats() { return impl_->store->stats(impl_->now_windows()); }

std::int64_t Rotator::expire() { return impl_->store->expire(impl_->clock->now()); }

Windows Rotator::windows() const { return impl_->now_windows(); }

const std::string& Rotator::time_zone() const noexcept { return impl_->windows.zone_name(); }

Store& Rotator::store() noexcept { return *impl_->store; }

const Clock& Rotator::clock() const noexcept { return *impl_->clock; }

}  // namespace cidrot
