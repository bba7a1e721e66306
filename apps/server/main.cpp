// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
#include "server_main.h"

int main(int argc, char** argv) { return cidrot::server::server_main(argc, argv); }
