// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
#include <iostream>

#include "cli.h"

int main(int argc, char** argv) {
  return cidrot::cli::run(argc, argv, std::cin, std::cout, std::cerr);
}
