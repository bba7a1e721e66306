// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
#include "json_out.h"

#include <ostream>

namespace cidrot::cli {
namespace json = boost::json;

void print_json(std::ostream& out, const json::value& value) {
  out << json::serialize(value) << '\n';
}

}  // namespace cidrot::cli
