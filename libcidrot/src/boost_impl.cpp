// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// Debian's Boost 1.81 ships Boost.JSON and Boost.URL header-only: their implementation is compiled
// exactly once, here, and every part of the project (storage, server, CLI, bindings) links it
// through cidrot::cidrot instead of compiling it again.
#include <boost/json/src.hpp>
#include <boost/url/src.hpp>
