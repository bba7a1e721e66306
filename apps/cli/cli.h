// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
//
// The `cidrot` command line as a function, so that tests can call it in-process. main() is
// `return cidrot::cli::run(argc, argv, std::cin, std::cout, std::cerr);`.

#ifndef CIDROT_APPS_CLI_CLI_H_
#define CIDROT_APPS_CLI_CLI_H_

#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cidrot/clock.h"
#include "cidrot/store.h"

namespace cidrot::cli {

// Exit codes (documented in docs/cli.md).
enum ExitCode : int {
  kExitOk = 0,
  kExitUsage = 1,       // bad command line: unknown command/option, missing or invalid value
  kExitNoCallerId = 2,  // `next` found no caller-ID (the reason is printed)
  kExitStore = 3,       // the store cannot be opened or failed (nothing partial was written)
  kExitRejected = 4,    // `import`: one or more rows were rejected (see the summary)
  kExitNotFound = 5,    // a named number does not exist (or, for `add`, already exists)
};

// What a run talks to. Tests fill it to share one memory:// store across runs, to drive time,
// and to control the environment; the real binary uses the defaults.
struct Io {
  Io(std::istream& in_stream, std::ostream& out_stream, std::ostream& err_stream)
      : in(in_stream), out(out_stream), err(err_stream) {}

  std::istream& in;
  std::ostream& out;
  std::ostream& err;
  // Whether `err` is a terminal (the import progress bar is drawn only then).
  bool err_is_tty = false;
  // Environment lookup; nullptr = ::getenv. Returns nullptr when unset.
  std::function<const char*(const char*)> getenv;
  // When set, used instead of opening --store / CIDROT_STORE / the default.
  std::shared_ptr<Store> store;
  // When set, the Rotator's clock.
  std::shared_ptr<const Clock> clock;
  // Whether to read a .env file from the working directory (CIDROT_ENV_FILE overrides the path).
  bool read_dotenv = true;
};

// Runs one command line; `args` excludes the program name. Never throws: every error becomes a
// one-line message on io.err and an exit code.
int run(const std::vector<std::string>& args, Io& io);

// The binary's entry point: args from argv, isatty(2) for the progress bar, the process
// environment.
int run(int argc, char** argv, std::istream& in, std::ostream& out, std::ostream& err);

}  // namespace cidrot::cli

#endif  // CIDROT_APPS_CLI_CLI_H_
