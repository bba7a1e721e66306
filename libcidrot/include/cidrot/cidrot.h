// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// Umbrella header: the whole public API of libcidrot.
#ifndef CIDROT_CIDROT_H_
#define CIDROT_CIDROT_H_

#include "cidrot/clock.h"
#include "cidrot/error.h"
#include "cidrot/nanp.h"
#include "cidrot/rotator.h"
#include "cidrot/store.h"
#include "cidrot/types.h"
#include "cidrot/version.h"

#endif  // CIDROT_CIDROT_H_
