// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// cidrot-server's command line: flags -> configuration -> store -> routes -> serve.

#ifndef CIDROT_SERVER_SERVER_MAIN_H_
#define CIDROT_SERVER_SERVER_MAIN_H_

namespace cidrot::server {

// Returns the process exit code: 0 after a graceful shutdown, 2 for a usage or configuration
// error, 1 when the store cannot be opened or the address cannot be bound.
int server_main(int argc, char** argv);

}  // namespace cidrot::server

#endif  // CIDROT_SERVER_SERVER_MAIN_H_
