// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
//
// NANP parsing and the generated area-code table. The table facts below were checked against
// the NANPA NPA report of 11/26/2025 and the geoinfo data set (see docs/nanp.md); a regenerated
// table that breaks them needs a look, not a blind update.

#include "cidrot/nanp.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cidrot/error.h"
#include "nanp_table.h"

namespace {

using cidrot::AreaCode;
using cidrot::Error;
using cidrot::ErrorCode;

// Runs normalize_nanp and returns the Error it must throw.
Error rejection(const std::string& input, const char* field = "destination") {
  try {
    const std::string result = cidrot::normalize_nanp(input, field);
    FAIL("accepted '" << input << "' as " << result);
  } catch (const Error& e) {
    return e;
  }
  throw std::logic_error("unreachable");
}

void check_rejected(const std::string& input, const std::string& reason_part) {
  INFO("input: '" << input << "'");
  const Error e = rejection(input);
  CHECK(e.code() == ErrorCode::kInvalidArgument);
  CHECK(e.field() == "destination");
  const std::string what = e.what();
  CHECK(what.rfind("destination: ", 0) == 0);
  CHECK_THAT(what, Catch::Contains(reason_part));
}

const AreaCode& entry(int npa) {
  const AreaCode* found = cidrot::find_area_code(npa);
  INFO("npa " << npa);
  REQUIRE(found != nullptr);
  return *found;
}

std::set<int> overlay_of(int npa) {
  const AreaCode& e = entry(npa);
  return std::set<int>(e.overlay, e.overlay + e.overlay_count);
}

int bit_count(unsigned mask) {
  int n = 0;
  for (; mask != 0; mask &= mask - 1) ++n;
  return n;
}

double haversine_km(const AreaCode& a, const AreaCode& b) {
  const double kRad = 3.14159265358979323846 / 180.0;
  const double lat1 = a.latitude * kRad, lat2 = b.latitude * kRad;
  const double dlat = lat2 - lat1, dlon = (b.longitude - a.longitude) * kRad;
  const double h = std::sin(dlat / 2) * std::sin(dlat / 2) +
                   std::cos(lat1) * std::cos(lat2) * std::sin(dlon / 2) * std::sin(dlon / 2);
  return 2 * 6371.0 * std::asin(std::min(1.0, std::sqrt(h)));
}

}  // namespace

TEST_CASE("normalize_nanp accepts the usual spellings", "[nanp]") {
  for (const char* spelling :
       {"2125551234", "12125551234", "+1 (212) 555-1234", "212.555.1234", "1-212-555-1234",
        "+12125551234", "(212)555-1234", " 212 555 1234 ", "+1.212.555.1234", "1 (212) 555 1234"}) {
    INFO("spelling: '" << spelling << "'");
    CHECK(cidrot::normalize_nanp(spelling) == "2125551234");
  }
  CHECK(cidrot::normalize_nanp("9072229999") == "9072229999");
  // Exactly 64 bytes is still accepted.
  const std::string padded = "2125551234" + std::string(54, ' ');
  REQUIRE(padded.size() == 64);
  CHECK(cidrot::normalize_nanp(padded) == "2125551234");
}

TEST_CASE("normalize_nanp rejects each class of bad input, naming the field", "[nanp]") {
  check_rejected("", "empty");
  check_rejected("2125551234" + std::string(55, ' '), "longer than 64");
  check_rejected("1-800-FLOWERS", "letter 'F'");
  check_rejected("212555123x", "letter 'x'");
  check_rejected("212#555#1234", "'#'");
  check_rejected("212\t555\t1234", "byte 0x09");
  check_rejected(std::string("212\xC2\xA0") + "5551234", "byte 0xC2");  // no-break space
  check_rejected("+44 20 7946 0958", "country code 1");
  check_rejected("+2125551234", "country code 1");
  check_rejected("212+5551234", "'+'");
  check_rejected("++12125551234", "'+'");
  check_rejected("212555123", "has 9 digits");
  check_rejected("212555123456", "has 12 digits");
  check_rejected("22125551234", "has 11 digits");  // 11 digits, but no leading country code 1
  check_rejected("() - .", "has 0 digits");
  check_rejected("0125551234", "area code 012 starts with 0");
  check_rejected("1125551234", "area code 112 starts with 1");
  check_rejected("1 112 555 1234", "area code 112 starts with 1");
  check_rejected("9115551234", "area code 911 is an N11");
  check_rejected("12115551234", "area code 211 is an N11");
  check_rejected("2120551234", "exchange 055 starts with 0");
  check_rejected("2121551234", "exchange 155 starts with 1");
  check_rejected("2124111234", "exchange 411 is an N11");
  check_rejected("+1 (212) 911-0000", "exchange 911 is an N11");
}

TEST_CASE("normalize_nanp reports the caller's field name", "[nanp]") {
  const Error e = rejection("555-1234", "caller_id");
  CHECK(e.code() == ErrorCode::kInvalidArgument);
  CHECK(e.field() == "caller_id");
  CHECK(std::string(e.what()).rfind("caller_id: has 7 digits", 0) == 0);
}

TEST_CASE("time_zone_names lists zones in bit order", "[nanp]") {
  CHECK(cidrot::time_zone_names(0).empty());
  CHECK(cidrot::time_zone_names(cidrot::kTzEastern) == "eastern");
  CHECK(cidrot::time_zone_names(cidrot::kTzEastern | cidrot::kTzCentral) == "eastern,central");
  CHECK(cidrot::time_zone_names(cidrot::kTzPacific | cidrot::kTzMountain) == "mountain,pacific");
  CHECK(cidrot::time_zone_names(0x3ff) ==
        "atlantic,eastern,central,mountain,pacific,alaska,hawaii,newfoundland,chamorro,samoa");
}

TEST_CASE("find_area_code looks up in-service NPAs only", "[nanp]") {
  CHECK(cidrot::find_area_code(-1) == nullptr);
  CHECK(cidrot::find_area_code(0) == nullptr);
  CHECK(cidrot::find_area_code(199) == nullptr);
  CHECK(cidrot::find_area_code(911) == nullptr);
  CHECK(cidrot::find_area_code(999) == nullptr);
  CHECK(cidrot::find_area_code(1000) == nullptr);
  CHECK(cidrot::find_area_code(465) == nullptr);  // NYC overlay planned for 2026, not in service
  REQUIRE(cidrot::find_area_code(212) != nullptr);
  CHECK(cidrot::find_area_code(212)->npa == 212);
}

TEST_CASE("all_area_codes is the whole table, ordered and indexed", "[nanp]") {
  const auto& all = cidrot::all_area_codes();
  CHECK(all.size() >= 400);
  CHECK(all.size() == cidrot::detail::nanp_table().size);
  CHECK(std::string(cidrot::detail::nanp_table().npa_report_date) == "11/26/2025");
  for (std::size_t i = 0; i < all.size(); ++i) {
    INFO("npa " << all[i]->npa);
    CHECK(all[i]->npa >= 200);
    CHECK(all[i]->npa <= 999);
    if (i > 0) CHECK(all[i - 1]->npa < all[i]->npa);
    CHECK(cidrot::find_area_code(all[i]->npa) == all[i]);
    CHECK(all[i]->region != nullptr);
    CHECK(all[i]->country != nullptr);
  }
  int indexed = 0;
  for (int npa = 0; npa < 1000; ++npa) indexed += cidrot::find_area_code(npa) != nullptr;
  CHECK(indexed == static_cast<int>(all.size()));
}

TEST_CASE("table: US, Canadian and island NPAs from the NANPA report", "[nanp]") {
  const AreaCode& nj = entry(201);
  CHECK(std::string(nj.region) == "NJ");
  CHECK(std::string(nj.country) == "US");
  CHECK(nj.time_zones == cidrot::kTzEastern);

  const AreaCode& toronto = entry(416);
  CHECK(std::string(toronto.region) == "ON");
  CHECK(std::string(toronto.country) == "CA");
  CHECK(std::string(entry(514).region) == "QC");
  CHECK(std::string(entry(709).region) == "NL");
  CHECK(entry(709).time_zones == cidrot::kTzNewfoundland);
  CHECK(std::string(entry(902).region) == "NS");  // filed as NS/PE: first listed
  CHECK(std::string(entry(867).region) == "NT");  // filed as NT/YT/NU: first listed

  const AreaCode& alaska = entry(907);
  CHECK(std::string(alaska.region) == "AK");
  CHECK(alaska.time_zones == cidrot::kTzAlaska);
  CHECK(entry(808).time_zones == cidrot::kTzHawaii);

  const AreaCode& guam = entry(671);
  CHECK(std::string(guam.region) == "GU");
  CHECK(std::string(guam.country) == "US");
  CHECK(guam.time_zones == cidrot::kTzChamorro);
  CHECK(std::string(entry(670).region) == "MP");  // NANPA spells it CNMI
  CHECK(entry(684).time_zones == cidrot::kTzSamoa);
  CHECK(std::string(entry(787).country) == "US");
  CHECK(entry(787).time_zones == cidrot::kTzAtlantic);

  const AreaCode& jamaica = entry(876);
  CHECK(std::string(jamaica.region) == "JM");
  CHECK(std::string(jamaica.country) == "JM");
  CHECK(overlay_of(876) == std::set<int>{658});
  CHECK(std::string(entry(345).country) == "KY");  // Cayman Islands
  CHECK(std::string(entry(758).country) == "LC");  // NANPA spells it both ST.LUCIA and ST. LUCIA
  CHECK(std::string(entry(869).country) == "KN");  // ST. KITTS & NEVIS
  CHECK(std::string(entry(721).country) == "SX");  // Sint Maarten
}

TEST_CASE("table: multi-zone NPAs keep every zone", "[nanp]") {
  CHECK(entry(270).time_zones == (cidrot::kTzEastern | cidrot::kTzCentral));   // "EC"
  CHECK(entry(915).time_zones == (cidrot::kTzCentral | cidrot::kTzMountain));  // "CM"
  CHECK(entry(541).time_zones == (cidrot::kTzMountain | cidrot::kTzPacific));  // "MP"
  // "PT/MT only for W Wendover"
  CHECK(entry(775).time_zones == (cidrot::kTzMountain | cidrot::kTzPacific));
  CHECK(bit_count(entry(867).time_zones) == 3);  // "CMP"
  int multi = 0;
  for (const AreaCode* e : cidrot::all_area_codes()) multi += bit_count(e->time_zones) > 1;
  CHECK(multi == 24);
}

TEST_CASE("table: non-geographic NPAs are in service but outside every local tier", "[nanp]") {
  for (int npa : {500, 521, 533, 600, 700, 710, 800, 833, 888, 900}) {
    const AreaCode& e = entry(npa);
    INFO("npa " << npa);
    CHECK(std::string(e.region).empty());
    CHECK(e.time_zones == 0);
    CHECK_FALSE(e.has_centroid);
    CHECK(e.nearby_count == 0);
  }
  CHECK(std::string(entry(600).country) == "CA");
  CHECK(std::string(entry(800).country).empty());  // NANP-wide
  CHECK(overlay_of(800) == std::set<int>{833, 844, 855, 866, 877, 888});
  CHECK(cidrot::area_codes_in_region("").empty());
}

TEST_CASE("table: overlays are symmetric and in service", "[nanp]") {
  CHECK(overlay_of(212) == std::set<int>{332, 646, 917});
  CHECK(overlay_of(201) == std::set<int>{551});
  // 917 overlays two complexes: Manhattan and the other boroughs.
  CHECK(overlay_of(917) == std::set<int>{212, 332, 347, 646, 718, 929});
  // 718 and 212 are separate areas sharing only 917.
  CHECK(overlay_of(718).count(212) == 0);
  // 416's own row omits its 2025 overlay 942; 942's row lists it.
  CHECK(overlay_of(416) == std::set<int>{437, 647, 942});
  // 465 (NYC) and 483 (AL) are planned, not in service.
  CHECK(overlay_of(347).count(465) == 0);
  CHECK(overlay_of(334).empty());
  CHECK(entry(213).overlay_count == 2);  // 213/323/738

  for (const AreaCode* e : cidrot::all_area_codes()) {
    for (int i = 0; i < e->overlay_count; ++i) {
      const int partner = e->overlay[i];
      INFO("npa " << e->npa << " partner " << partner);
      CHECK(partner != e->npa);
      const AreaCode* other = cidrot::find_area_code(partner);
      REQUIRE(other != nullptr);
      CHECK(overlay_of(partner).count(e->npa) == 1);
      if (i > 0) CHECK(e->overlay[i - 1] < partner);
    }
    if (e->overlay_count == 0) CHECK(e->overlay == nullptr);
  }
}

TEST_CASE("table: centroids sit where the NPAs are", "[nanp]") {
  const AreaCode& manhattan = entry(212);
  REQUIRE(manhattan.has_centroid);
  CHECK(manhattan.latitude == Approx(40.75).margin(0.1));
  CHECK(manhattan.longitude == Approx(-73.98).margin(0.1));
  const AreaCode& anchorage = entry(907);
  REQUIRE(anchorage.has_centroid);
  CHECK(anchorage.latitude > 55.0f);
  CHECK(anchorage.longitude < -130.0f);
  // geoinfo has these hemispheres wrong; the generator corrects them.
  CHECK(entry(671).longitude > 140.0f);
  CHECK(entry(684).latitude < -10.0f);
  // Newer overlays and the islands are not in the 2018 geography set.
  CHECK_FALSE(entry(332).has_centroid);
  CHECK_FALSE(entry(876).has_centroid);
  int located = 0;
  for (const AreaCode* e : cidrot::all_area_codes()) located += e->has_centroid;
  CHECK(located == 296);
}

TEST_CASE("table: nearby lists are the nearest NPAs, sorted by distance", "[nanp]") {
  const AreaCode& manhattan = entry(212);
  REQUIRE(manhattan.nearby_count == 20);
  const std::set<int> nyc = {332, 347, 646, 718, 917, 929};
  for (int i = 0; i < 4; ++i) {
    INFO("nearby[" << i << "] = " << manhattan.nearby[i].npa);
    CHECK(nyc.count(manhattan.nearby[i].npa) == 1);
    CHECK(manhattan.nearby[i].distance_km < 15);
  }
  std::set<int> first_eight;
  for (int i = 0; i < 8; ++i) first_eight.insert(manhattan.nearby[i].npa);
  CHECK(first_eight.count(201) == 1);  // Jersey City / Hackensack across the Hudson
  CHECK(first_eight.count(551) == 1);
  CHECK(manhattan.nearby[19].distance_km < 200);
  CHECK(entry(416).nearby[0].npa == 905);  // Toronto's suburbs

  for (const AreaCode* e : cidrot::all_area_codes()) {
    INFO("npa " << e->npa);
    if (!e->has_centroid) {
      CHECK(e->nearby_count == 0);
      continue;
    }
    CHECK(e->nearby_count == 20);
    for (int i = 0; i < e->nearby_count; ++i) {
      const cidrot::NearbyAreaCode& n = e->nearby[i];
      INFO("nearby " << n.npa);
      CHECK(n.npa != e->npa);
      const AreaCode* other = cidrot::find_area_code(n.npa);
      REQUIRE(other != nullptr);
      CHECK(other->has_centroid);
      CHECK(std::abs(haversine_km(*e, *other) - n.distance_km) <= 1.0);
      if (i > 0) {
        const cidrot::NearbyAreaCode& prev = e->nearby[i - 1];
        CHECK(std::make_pair(prev.distance_km, prev.npa) < std::make_pair(n.distance_km, n.npa));
      }
    }
  }
}

TEST_CASE("area_codes_in_region matches case-insensitively, optionally with a country", "[nanp]") {
  const std::vector<std::uint16_t> ny = cidrot::area_codes_in_region("NY");
  CHECK(cidrot::area_codes_in_region("ny") == ny);
  CHECK(cidrot::area_codes_in_region("nY") == ny);
  CHECK(std::is_sorted(ny.begin(), ny.end()));
  CHECK(ny.size() == 22);
  for (int npa : {212, 315, 332, 347, 516, 518, 585, 607, 631, 646, 716, 718, 845, 914, 917, 929}) {
    INFO("npa " << npa);
    CHECK(std::count(ny.begin(), ny.end(), npa) == 1);
  }
  for (std::uint16_t npa : ny) CHECK(std::string(entry(npa).region) == "NY");

  const std::vector<std::uint16_t> on = cidrot::area_codes_in_region("on");
  CHECK(std::count(on.begin(), on.end(), 416) == 1);
  CHECK(on.size() == 19);
  CHECK(cidrot::area_codes_in_region("JM") == std::vector<std::uint16_t>{658, 876});

  // KY is both Kentucky and the Cayman Islands; the ISO 3166-2 form separates them.
  const std::vector<std::uint16_t> ky = cidrot::area_codes_in_region("KY");
  CHECK(std::count(ky.begin(), ky.end(), 345) == 1);
  CHECK(std::count(ky.begin(), ky.end(), 502) == 1);
  const std::vector<std::uint16_t> kentucky = cidrot::area_codes_in_region("us-ky");
  CHECK(kentucky.size() == ky.size() - 1);
  CHECK(std::count(kentucky.begin(), kentucky.end(), 345) == 0);
  CHECK(cidrot::area_codes_in_region("KY-KY") == std::vector<std::uint16_t>{345});
  CHECK(cidrot::area_codes_in_region("CA-NY").empty());

  CHECK(cidrot::area_codes_in_region("ZZ").empty());
  CHECK(cidrot::area_codes_in_region("N").empty());
  CHECK(cidrot::area_codes_in_region("US-").empty());
}

TEST_CASE("area_codes_in_time_zones matches any shared zone", "[nanp]") {
  CHECK(cidrot::area_codes_in_time_zones(0).empty());
  CHECK(cidrot::area_codes_in_time_zones(cidrot::kTzAlaska) == std::vector<std::uint16_t>{907});
  CHECK(cidrot::area_codes_in_time_zones(cidrot::kTzHawaii) == std::vector<std::uint16_t>{808});
  CHECK(cidrot::area_codes_in_time_zones(cidrot::kTzChamorro) ==
        std::vector<std::uint16_t>{670, 671});
  const std::vector<std::uint16_t> eastern = cidrot::area_codes_in_time_zones(cidrot::kTzEastern);
  CHECK(std::is_sorted(eastern.begin(), eastern.end()));
  CHECK(std::count(eastern.begin(), eastern.end(), 212) == 1);
  CHECK(std::count(eastern.begin(), eastern.end(), 270) == 1);  // Eastern and Central
  CHECK(std::count(eastern.begin(), eastern.end(), 213) == 0);
  CHECK(std::count(eastern.begin(), eastern.end(), 800) == 0);  // non-geographic: no zone
  const std::vector<std::uint16_t> west =
      cidrot::area_codes_in_time_zones(cidrot::kTzMountain | cidrot::kTzPacific);
  CHECK(std::count(west.begin(), west.end(), 775) == 1);
  CHECK(std::count(west.begin(), west.end(), 213) == 1);
  CHECK(std::count(west.begin(), west.end(), 303) == 1);
  CHECK(std::count(west.begin(), west.end(), 212) == 0);
  for (std::uint16_t npa : west) {
    CHECK((entry(npa).time_zones & (cidrot::kTzMountain | cidrot::kTzPacific)) != 0);
  }
}
