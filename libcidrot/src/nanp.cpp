// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT

#include "cidrot/nanp.h"

#include <array>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <string>

#include "cidrot/error.h"
#include "nanp_table.h"

namespace cidrot {
namespace {

constexpr std::size_t kMaxInputBytes = 64;

[[noreturn]] void reject(const char* field, const std::string& reason) {
  throw Error(ErrorCode::kInvalidArgument, std::string(field) + ": " + reason, field);
}

// Quotes a rejected character so that the message stays one printable ASCII line whatever the
// caller sent (the message ends up in HTTP bodies and terminals).
std::string quote_char(char c) {
  const auto byte = static_cast<unsigned char>(c);
  if (byte > 0x20 && byte < 0x7f) return std::string("'") + c + "'";
  char buf[16];
  std::snprintf(buf, sizeof buf, "byte 0x%02X", static_cast<unsigned>(byte));
  return buf;
}

bool is_separator(char c) { return c == ' ' || c == '.' || c == '-' || c == '(' || c == ')'; }

bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// `code` is the 3-digit NPA or NXX; `what` is "area code" or "exchange".
void check_code(const char* field, const char* what, std::string_view code) {
  if (code[0] == '0' || code[0] == '1') {
    reject(field, std::string(what) + " " + std::string(code) + " starts with " + code[0] +
                      "; NANP " + what + "s start with 2-9");
  }
  if (code[1] == '1' && code[2] == '1') {
    reject(field, std::string(what) + " " + std::string(code) +
                      " is an N11 service code (211-911), not a dialable " + what);
  }
}

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

// NPAs are below 1000, so a flat array gives O(1) lookups with no hashing.
using NpaIndex = std::array<const AreaCode*, 1000>;

const NpaIndex& npa_index() noexcept {
  static const NpaIndex index = [] {
    NpaIndex built{};
    const detail::NanpTable& table = detail::nanp_table();
    for (std::size_t i = 0; i < table.size; ++i) {
      const AreaCode& entry = table.entries[i];
      if (entry.npa < built.size()) built[entry.npa] = &entry;
    }
    return built;
  }();
  return index;
}

bool all_digits(std::string_view s) {
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Dialers send plain digits almost always; they skip the scanner and its string building, and
// are checked by the same rules (and messages) as every other spelling. Returns the national
// ten digits, or an empty view when `input` is not plain digits.
std::string_view plain_national(std::string_view input, const char* field) {
  if ((input.size() == 10 || (input.size() == 11 && input[0] == '1')) && all_digits(input)) {
    const std::string_view national = input.substr(input.size() - 10);
    const bool dialable = national[0] >= '2' && national[3] >= '2' &&
                          !(national[1] == '1' && national[2] == '1') &&
                          !(national[4] == '1' && national[5] == '1');
    if (!dialable) {
      check_code(field, "area code", national.substr(0, 3));
      check_code(field, "exchange", national.substr(3, 3));
    }
    return national;
  }
  return {};
}

}  // namespace

void detail::normalize_nanp_into(std::string_view input, const char* field, std::string* out) {
  if (field == nullptr) field = "destination";
  const std::string_view national = plain_national(input, field);
  if (national.empty()) {
    *out = normalize_nanp(input, field);
  } else if (out->size() == 10) {
    std::memcpy(out->data(), national.data(), 10);
  } else {
    out->assign(national.data(), national.size());
  }
}

std::string normalize_nanp(std::string_view input, const char* field) {
  if (field == nullptr) field = "destination";
  if (const std::string_view national = plain_national(input, field); !national.empty()) {
    return std::string(national);
  }
  if (input.empty()) reject(field, "is empty; expected a NANP number such as 2125551234");
  if (input.size() > kMaxInputBytes) {
    reject(field, "is longer than " + std::to_string(kMaxInputBytes) + " characters");
  }
  std::string digits;
  bool plus = false;
  for (std::size_t i = 0; i < input.size(); ++i) {
    const char c = input[i];
    if (c >= '0' && c <= '9') {
      digits.push_back(c);
    } else if (c == '+' && !plus && digits.empty()) {
      plus = true;
    } else if (c == '+') {
      reject(field, "'+' at position " + std::to_string(i + 1) +
                        " is only allowed once, before the country code 1");
    } else if (is_letter(c)) {
      reject(field, "contains the letter " + quote_char(c) + " at position " +
                        std::to_string(i + 1) + "; give vanity numbers as digits");
    } else if (!is_separator(c)) {
      reject(field, "contains " + quote_char(c) + " at position " + std::to_string(i + 1) +
                        "; only digits, spaces, '.', '-', '(', ')' and a leading '+1' are allowed");
    }
  }
  if (plus && (digits.size() != 11 || digits[0] != '1')) {
    reject(field,
           "'+' must be followed by the country code 1 and 10 digits; only NANP numbers are "
           "accepted");
  }
  if (digits.size() == 11 && digits[0] == '1') {
    digits.erase(0, 1);
  } else if (digits.size() != 10) {
    reject(field, "has " + std::to_string(digits.size()) +
                      " digits; expected 10, or 11 starting with the country code 1");
  }
  const std::string_view view(digits);
  check_code(field, "area code", view.substr(0, 3));
  check_code(field, "exchange", view.substr(3, 3));
  return digits;
}

std::string time_zone_names(std::uint16_t mask) {
  static constexpr std::array<const char*, 10> kNames = {
      "atlantic", "eastern", "central",      "mountain", "pacific",
      "alaska",   "hawaii",  "newfoundland", "chamorro", "samoa"};
  std::string names;
  for (std::size_t bit = 0; bit < kNames.size(); ++bit) {
    if ((mask & (1u << bit)) == 0) continue;
    if (!names.empty()) names.push_back(',');
    names += kNames[bit];
  }
  return names;
}

const AreaCode* find_area_code(int npa) noexcept {
  if (npa < 0 || npa >= 1000) return nullptr;
  return npa_index()[static_cast<std::size_t>(npa)];
}

const std::vector<const AreaCode*>& all_area_codes() {
  static const std::vector<const AreaCode*> all = [] {
    const detail::NanpTable& table = detail::nanp_table();
    std::vector<const AreaCode*> built;
    built.reserve(table.size);
    for (std::size_t i = 0; i < table.size; ++i) built.push_back(&table.entries[i]);
    return built;
  }();
  return all;
}

std::vector<std::uint16_t> area_codes_in_region(std::string_view region) {
  // Besides a bare region ("NY"), accept the ISO 3166-2 form "US-NY": the bare codes of two island
  // countries equal US states (KY Cayman Islands / Kentucky, MS Montserrat / Mississippi), and
  // "US-KY" / "KY-KY" tell them apart.
  std::string_view country;
  const std::size_t dash = region.find('-');
  if (dash != std::string_view::npos) {
    country = region.substr(0, dash);
    region = region.substr(dash + 1);
  }
  std::vector<std::uint16_t> npas;
  // Non-geographic codes have region "": they belong to no region.
  if (region.empty()) return npas;
  for (const AreaCode* entry : all_area_codes()) {
    if (!iequals(entry->region, region)) continue;
    if (dash != std::string_view::npos && !iequals(entry->country, country)) continue;
    npas.push_back(entry->npa);
  }
  return npas;
}

std::vector<std::uint16_t> area_codes_in_time_zones(std::uint16_t mask) {
  std::vector<std::uint16_t> npas;
  for (const AreaCode* entry : all_area_codes()) {
    if ((entry->time_zones & mask) != 0) npas.push_back(entry->npa);
  }
  return npas;
}

}  // namespace cidrot
