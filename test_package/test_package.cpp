// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
//
// Smallest real use of the installed library: open memory://, add one number, lease it for a call
// to the same area code, check the lease, release it. Exits non-zero on any failure, so a package
// whose headers, library or link dependencies are incomplete fails here.

#include <cidrot/cidrot.h>

#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>

namespace {

int fail(const std::string& what) {
  std::cerr << "test_package: FAILED: " << what << "\n";
  return EXIT_FAILURE;
}

}  // namespace

int main() {
  try {
    cidrot::Rotator rot(cidrot::open_store("memory://"));

    cidrot::Number number;
    number.caller_id = "+1 (212) 555-0100";
    number.carrier = "test";
    const cidrot::UpsertResult added = rot.add_numbers({number});
    if (added.inserted != 1) return fail("add_numbers inserted " + std::to_string(added.inserted));

    const cidrot::LeaseResult first = rot.next({"212-555-0199", "sales", "agent1"});
    if (!first) return fail(std::string("no lease: ") + cidrot::denial_reason_name(first.denial));
    if (first.lease->number.caller_id != "2125550100") {
      return fail("leased " + first.lease->number.caller_id + ", expected 2125550100");
    }
    if (first.lease->tier != cidrot::Tier::kSameNpa) {
      return fail(std::string("tier ") + cidrot::tier_name(first.lease->tier));
    }

    // The only number is exclusive (max_concurrent 1): a second call must be denied, not share it.
    const cidrot::LeaseResult second = rot.next({"2125550198", "sales", "agent2"});
    if (second) return fail("the same number was leased twice");
    if (second.denial != cidrot::DenialReason::kAllReserved) {
      return fail(std::string("denial ") + cidrot::denial_reason_name(second.denial));
    }

    if (rot.release(first.lease->id, {"answered", 42}) != 1) return fail("release returned 0");
    if (!rot.next({"2125550197", "sales", "agent3"})) return fail("no lease after release");

    std::cout << "test_package: OK: libcidrot " << cidrot::version() << ", leased "
              << first.lease->number.caller_id << "\n";
    return EXIT_SUCCESS;
  } catch (const cidrot::Error& e) {
    return fail(std::string(cidrot::error_code_name(e.code())) + ": " + e.what());
  } catch (const std::exception& e) {
    return fail(e.what());
  }
}
