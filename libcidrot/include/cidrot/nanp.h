// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
//
// North American Numbering Plan: number parsing and the area-code (NPA) table that local-presence
// selection uses. The table is generated from NANPA's NPA report and the MIT-licensed geoinfo
// NPA-NXX data set by tools/gen_nanp.py; it is compiled in and immutable, so every function here is
// thread-safe and never blocks.

#ifndef CIDROT_NANP_H_
#define CIDROT_NANP_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cidrot {

// Returns the 10-digit national form ("2125551234") of a NANP number written as "2125551234",
// "12125551234", "+1 (212) 555-1234", "212.555.1234", "1-212-555-1234", ... Spaces, dots,
// dashes and parentheses are ignored; a leading "+1" or "1" country code is dropped.
// Throws Error(kInvalidArgument, field = `field`) when the input is empty, longer than 64 bytes,
// holds other characters, has the wrong number of digits, or is not a dialable NANP number:
// NPA or NXX starting with 0 or 1, or an N11 NPA/NXX (211, 311, ..., 911).
std::string normalize_nanp(std::string_view input, const char* field = "destination");

// Time zones an area code may span (a bit set: multi-zone NPAs keep all their zones).
enum TimeZoneBit : std::uint16_t {
  kTzAtlantic = 1 << 0,
  kTzEastern = 1 << 1,
  kTzCentral = 1 << 2,
  kTzMountain = 1 << 3,
  kTzPacific = 1 << 4,
  kTzAlaska = 1 << 5,
  kTzHawaii = 1 << 6,
  kTzNewfoundland = 1 << 7,
  kTzChamorro = 1 << 8,  // Guam, Northern Mariana Islands (UTC+10)
  kTzSamoa = 1 << 9,     // American Samoa (UTC-11)
};

// Returns a comma-separated list of zone names ("eastern,central") for a TimeZoneBit set.
std::string time_zone_names(std::uint16_t mask);

struct NearbyAreaCode {
  std::uint16_t npa;
  std::uint16_t distance_km;  // between the two NPAs' centroids
};

// One in-service area code. Pointers refer to static storage and stay valid for the program's life.
struct AreaCode {
  std::uint16_t npa;  // 200..999
  // ISO 3166-2 subdivision ("NY", "ON"), the country for islands ("JM"), or "" for
  // non-geographic codes (8XX toll-free, 5XX, 900, ...).
  const char* region;
  const char* country;  // ISO 3166-1 alpha-2: "US", "CA", "JM", ...; "" when NANPA gives none
  const std::uint16_t* overlay;  // the other NPAs of its overlay complex (not itself)
  std::uint8_t overlay_count;
  std::uint16_t time_zones;      // TimeZoneBit set; 0 when unknown (and for non-geographic codes)
  bool has_centroid;             // false when the geography set has no point for it
  float latitude, longitude;     // centroid of its exchanges, when has_centroid
  const NearbyAreaCode* nearby;  // nearest other NPAs with centroids, nearest first
  std::uint8_t nearby_count;
};

// Returns the table entry for `npa`, or nullptr if it is not an in-service area code.
const AreaCode* find_area_code(int npa) noexcept;

// Returns every in-service area code, ordered by NPA.
const std::vector<const AreaCode*>& all_area_codes();

// Returns the NPAs whose region equals `region` (case-insensitive, "ny" works), ordered by NPA;
// empty when none. "US-KY" qualifies by country: "KY" alone matches Kentucky and the Cayman
// Islands, as "MS" matches Mississippi and Montserrat.
std::vector<std::uint16_t> area_codes_in_region(std::string_view region);

// Returns the NPAs sharing at least one time zone bit with `mask`, ordered by NPA.
std::vector<std::uint16_t> area_codes_in_time_zones(std::uint16_t mask);

}  // namespace cidrot

#endif  // CIDROT_NANP_H_
