// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
#ifndef CIDROT_VERSION_H_
#define CIDROT_VERSION_H_

#define CIDROT_VERSION_MAJOR 0
#define CIDROT_VERSION_MINOR 1
#define CIDROT_VERSION_PATCH 0

namespace cidrot {
// "0.1.0". Never throws.
const char* version() noexcept;
}  // namespace cidrot

#endif  // CIDROT_VERSION_H_
