// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// Private to the CLI: what every command gets, the command table, and shared helpers.
#ifndef CIDROT_APPS_CLI_SESSION_H_
#define CIDROT_APPS_CLI_SESSION_H_

#include <boost/program_options.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "cidrot/rotator.h"
#include "cidrot_app/config.h"
#include "cli.h"

namespace cidrot::cli {

namespace po = boost::program_options;

// Bad command line: exit 1.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A named number is missing (or, for `add`, present): exit 5.
class NotFound : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Command;

class Session {
 public:
  Session(Io& io_in, const Command& cmd, bool help_only, app::AppConfig settings)
      : io(io_in), command(cmd), help(help_only), config(std::move(settings)) {}

  Io& io;
  const Command& command;
  const bool help;              // --help was given: print the command's help and do nothing else
  const app::AppConfig config;  // settings from flags, environment and .env

  // The Rotator over the configured store, opened on first use.
  Rotator& rotator();

  // Parses the command's arguments. `visible` is shown in --help; `hidden` holds positionals.
  po::variables_map parse(const std::vector<std::string>& args,
                          const po::options_description& visible,
                          const po::options_description& hidden = po::options_description(),
                          const po::positional_options_description& positional = {}) const;
  // Prints the command's help to io.out.
  void print_help(const po::options_description& visible) const;

 private:
  std::unique_ptr<Rotator> rotator_;
};

using CommandFn = int (*)(Session& session, const std::vector<std::string>& args);

struct Command {
  const char* name;
  const char* synopsis;  // after "cidrot NAME "
  const char* summary;   // one line
  const char* details;   // paragraphs shown by --help, may be ""
  CommandFn run;
};

// Commands (cmd_*.cpp).
int cmd_import(Session& s, const std::vector<std::string>& args);
int cmd_export(Session& s, const std::vector<std::string>& args);
int cmd_add(Session& s, const std::vector<std::string>& args);
int cmd_list(Session& s, const std::vector<std::string>& args);
int cmd_show(Session& s, const std::vector<std::string>& args);
int cmd_enable(Session& s, const std::vector<std::string>& args);
int cmd_disable(Session& s, const std::vector<std::string>& args);
int cmd_remove(Session& s, const std::vector<std::string>& args);
int cmd_set(Session& s, const std::vector<std::string>& args);
int cmd_next(Session& s, const std::vector<std::string>& args);
int cmd_release(Session& s, const std::vector<std::string>& args);
int cmd_stats(Session& s, const std::vector<std::string>& args);
int cmd_backends(Session& s, const std::vector<std::string>& args);
int cmd_version(Session& s, const std::vector<std::string>& args);

// Helpers shared by commands.
std::vector<std::string> split_list(const std::vector<std::string>& values);  // "a,b" "c" -> a b c
// UTC ISO 8601 with milliseconds ("2024-05-01T12:00:00.000Z"); "" for the epoch (never).
std::string iso_time(TimePoint t);

}  // namespace cidrot::cli

#endif  // CIDROT_APPS_CLI_SESSION_H_
