// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// Checks shared by the store tests: the differential tests (the same operations on memory:// and
// on another backend, answers compared) and the batch tests (errors handed back as values).
#ifndef CIDROT_TESTS_STORE_CHECKS_H_
#define CIDROT_TESTS_STORE_CHECKS_H_

#include <catch2/catch.hpp>
#include <exception>

#include "cidrot/cidrot.h"

namespace cidrot::testing {

// Every total of two StoreStats taken at the same windows agrees (area-code rows not compared).
inline void check_same_stats(const StoreStats& a, const StoreStats& b) {
  CHECK(a.numbers == b.numbers);
  CHECK(a.active == b.active);
  CHECK(a.disabled == b.disabled);
  CHECK(a.active_leases == b.active_leases);
  CHECK(a.leased_numbers == b.leased_numbers);
  CHECK(a.capped_hourly == b.capped_hourly);
  CHECK(a.capped_daily == b.capped_daily);
  CHECK(a.total_uses == b.total_uses);
  CHECK(a.leases_by_campaign == b.leases_by_campaign);
}

// The cidrot::Error `e` holds (a batch item's error); fails the test when it holds none or
// something else.
inline Error error_of(const std::exception_ptr& e) {
  REQUIRE(e);
  try {
    std::rethrow_exception(e);
  } catch (const Error& err) {
    return err;
  } catch (...) {
    FAIL("not a cidrot::Error");
  }
  return Error(ErrorCode::kInternal, "unreachable");
}

}  // namespace cidrot::testing

#endif  // CIDROT_TESTS_STORE_CHECKS_H_
