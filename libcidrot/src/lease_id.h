// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// Private: lease ids written in place, for callers that reuse a buffer instead of allocating.
#ifndef CIDROT_SRC_LEASE_ID_H_
#define CIDROT_SRC_LEASE_ID_H_

namespace cidrot::detail {

// Writes a new lease id (what make_lease_id() returns) to out[0..31]. Thread-safe.
void write_lease_id(char* out);

}  // namespace cidrot::detail

#endif  // CIDROT_SRC_LEASE_ID_H_
