// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
//
// The storage conformance suite: one set of Catch2 cases that defines the Store contract and runs
// unchanged against every backend. A backend's test executable links the cases (the
// cidrot_conformance object library) with conformance_main.cpp and is started with
//   CIDROT_CONFORMANCE_URL=<url template>
// where every "{n}" in the template is replaced by a fresh unique token per store, so each case
// gets an empty store:  memory://   sqlite:///tmp/cidrot-conf/{n}.db
//   redis://127.0.0.1:6390/0?prefix=conf{n}   postgresql://u@127.0.0.1:5433/db?schema=conf{n}
#ifndef CIDROT_TESTS_CONFORMANCE_H_
#define CIDROT_TESTS_CONFORMANCE_H_

#include <memory>
#include <string>

#include "cidrot/store.h"

namespace cidrot::conformance {

// A fresh, empty store's URL from the template (unique per call, also across processes).
std::string fresh_url();
// open_store(fresh_url()).
std::shared_ptr<Store> fresh_store();
// The template itself (for cases that open one store from several threads/processes).
const std::string& url_template();

}  // namespace cidrot::conformance

#endif  // CIDROT_TESTS_CONFORMANCE_H_
