// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
#include "cli.h"

#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <iostream>
#include <sstream>

#include "cidrot/error.h"
#include "cidrot/store.h"
#include "cidrot_app/csv_import.h"
#include "cidrot_app/json.h"
#include "session.h"

namespace cidrot::cli {
namespace {

// Long options are never guessed from prefixes: `--time` must not silently become --time-zone.
constexpr int kStyle =
    po::command_line_style::default_style & ~po::command_line_style::allow_guessing;

const Command kCommands[] = {
    {"import", "FILE|- [options]", "import numbers from a CSV file in the seed format",
     "Rows are caller_id,carrier,area_code,daily_limit,hourly_limit,meta_json (header optional;\n"
     "an empty area_code is derived from the caller-ID; '-' reads standard input). Existing\n"
     "numbers are updated, new ones inserted, in atomic chunks. Each rejected row is printed to\n"
     "stderr with its line number and reason; the good rows are kept unless --atomic.\n"
     "Exit status: 0 when every row was imported, 4 when any row was rejected.",
     &cmd_import},
    {"export", "[options]", "write all numbers as CSV in the seed format",
     "Writes a header and one row per number, in caller-ID order, to standard output or -o FILE.\n"
     "--full adds the campaigns, max_concurrent and active columns, which import reads back.",
     &cmd_export},
    {"add", "CALLER_ID [options]", "add a number",
     "Fails with exit status 5 if the number exists, unless --replace (which sets its whole\n"
     "configuration; use 'cidrot set' to change single fields).",
     &cmd_add},
    {"list", "[options]", "list numbers with their usage", "", &cmd_list},
    {"show", "CALLER_ID [options]", "show one number, its usage and its leases", "", &cmd_show},
    {"enable", "CALLER_ID...", "make numbers selectable again", "", &cmd_enable},
    {"disable", "CALLER_ID...", "stop selecting numbers (current leases run out)", "",
     &cmd_disable},
    {"remove", "CALLER_ID...", "delete numbers and their leases", "", &cmd_remove},
    {"set", "CALLER_ID [options]", "change a number's limits, campaigns, meta or carrier", "",
     &cmd_set},
    {"next", "--to NUMBER --campaign NAME [options]", "lease a caller-ID for one call",
     "Prints the caller-ID's 10 digits (or, with --json, the object the HTTP API returns).\n"
     "Exit status 2 and the reason on stderr when no caller-ID is available.",
     &cmd_next},
    {"release", "LEASE_ID | --caller-id NUMBER [options]",
     "end a lease, optionally with its outcome",
     "Idempotent: releasing a lease that already ended succeeds and reports 0.", &cmd_release},
    {"stats", "[options]", "totals: numbers, leases, capped numbers, per campaign and area code",
     "", &cmd_stats},
    {"backends", "[options]", "list the store backends compiled into this build", "",
     &cmd_backends},
    {"version", "[options]", "print the version", "", &cmd_version},
};

const Command* find_command(const std::string& name) {
  for (const Command& c : kCommands) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

po::options_description global_options() {
  po::options_description d("Global options (before or after the command)");
  d.add_options()("store", po::value<std::string>()->value_name("URL"),
                  "store URL (default: $CIDROT_STORE, else the server's default SQLite file)")(
      "time-zone", po::value<std::string>()->value_name("ZONE"),
      "IANA zone the hourly/daily caps count in (default: $CIDROT_TIME_ZONE, else the host's)")(
      "env-file", po::value<std::string>()->value_name("FILE"),
      "read settings from FILE (default: $CIDROT_ENV_FILE, else ./.env when it exists)")(
      "campaigns-file", po::value<std::string>()->value_name("FILE"),
      "per-campaign settings (tiers, lease_ttl, ...) as the server reads them (default: "
      "$CIDROT_CAMPAIGNS)")("help,h", "show help");
  return d;
}

void print_usage(std::ostream& out) {
  out << "Usage: cidrot [--store URL] COMMAND [options] [arguments]\n\n"
         "Manage caller-ID numbers and lease them from the shell.\n\nCommands:\n";
  for (const Command& c : kCommands) {
    std::string name = c.name;
    name.resize(10, ' ');
    out << "  " << name << c.summary << '\n';
  }
  out << '\n'
      << global_options() << '\n'
      << "Environment (also read from ./.env, or the file --env-file or CIDROT_ENV_FILE names):\n"
         "  CIDROT_STORE, CIDROT_DATA_DIR, CIDROT_TIME_ZONE, DEFAULT_DAILY_LIMIT,\n"
         "  DEFAULT_HOURLY_LIMIT, RESERVATION_TTL_SECONDS, CIDROT_CAMPAIGNS\n\n"
         "Exit status: 0 ok, 1 usage error, 2 no caller-ID available, 3 store error,\n"
         "4 import rows rejected, 5 number not found.\n\n"
         "Run 'cidrot COMMAND --help' for a command's options.\n";
}

// Settings: flags > environment > .env > defaults, through the loader the server uses too.
app::AppConfig load_settings(Io& io, const po::variables_map& vm) {
  app::LoadOptions options;
  if (io.getenv) {
    options.getenv = [&io](const std::string& name) -> std::optional<std::string> {
      const char* v = io.getenv(name.c_str());
      return v ? std::optional<std::string>(v) : std::nullopt;
    };
  }
  if (!io.read_dotenv) options.env_file = "";
  if (vm.count("store")) options.overrides["CIDROT_STORE"] = vm["store"].as<std::string>();
  if (vm.count("time-zone"))
    options.overrides["CIDROT_TIME_ZONE"] = vm["time-zone"].as<std::string>();
  if (vm.count("env-file")) options.overrides["CIDROT_ENV_FILE"] = vm["env-file"].as<std::string>();
  if (vm.count("campaigns-file")) {
    options.overrides["CIDROT_CAMPAIGNS"] = vm["campaigns-file"].as<std::string>();
  }
  app::AppConfig config = app::load_config(options);
  for (const std::string& w : config.warnings) io.err << "cidrot: warning: " << w << '\n';
  return config;
}

int exit_code_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kUnsupported:
      return kExitUsage;
    case ErrorCode::kNotFound:
      return kExitNotFound;
    default:
      return kExitStore;
  }
}

int run_checked(const std::vector<std::string>& args, Io& io, std::string& prefix) {
  po::options_description global = global_options();
  po::options_description positional_opts;
  positional_opts.add_options()("command", po::value<std::string>())(
      "args", po::value<std::vector<std::string>>());
  po::options_description all;
  all.add(global).add(positional_opts);
  po::positional_options_description pos;
  pos.add("command", 1).add("args", -1);

  // Global options may stand anywhere; everything the global parser does not know is the
  // command's, in its original order.
  po::parsed_options parsed = po::command_line_parser(args)
                                  .options(all)
                                  .positional(pos)
                                  .style(kStyle)
                                  .allow_unregistered()
                                  .run();
  po::variables_map vm;
  po::store(parsed, vm);
  po::notify(vm);
  const bool help = vm.count("help") > 0;

  std::vector<std::string> rest;
  bool command_seen = false;
  for (const po::option& o : parsed.options) {
    if (o.unregistered) {
      rest.insert(rest.end(), o.original_tokens.begin(), o.original_tokens.end());
    } else if (o.position_key >= 0 || o.string_key == "args" || o.string_key == "command") {
      if (!command_seen && o.string_key == "command") {
        command_seen = true;
        continue;
      }
      rest.insert(rest.end(), o.value.begin(), o.value.end());
    }
  }

  if (!vm.count("command")) {
    if (help) {
      print_usage(io.out);
      return kExitOk;
    }
    print_usage(io.err);
    return kExitUsage;
  }
  std::string name = vm["command"].as<std::string>();
  if (name == "help") {
    if (rest.empty()) {
      print_usage(io.out);
      return kExitOk;
    }
    name = rest.front();
    rest.clear();
    const Command* c = find_command(name);
    if (!c) throw UsageError("unknown command '" + name + "' (see 'cidrot --help')");
    Session s(io, *c, true, app::AppConfig{});
    return c->run(s, rest);
  }
  const Command* command = find_command(name);
  if (!command) throw UsageError("unknown command '" + name + "' (see 'cidrot --help')");
  prefix = "cidrot " + name + ": ";
  Session session(io, *command, help, help ? app::AppConfig{} : load_settings(io, vm));
  return command->run(session, rest);
}

}  // namespace

Rotator& Session::rotator() {
  if (!rotator_) {
    std::shared_ptr<Store> store = io.store ? io.store : open_store(config.store);
    rotator_ = std::make_unique<Rotator>(std::move(store), app::rotator_options(config), io.clock);
    app::apply_campaigns(*rotator_, config);
  }
  return *rotator_;
}

po::variables_map Session::parse(const std::vector<std::string>& args,
                                 const po::options_description& visible,
                                 const po::options_description& hidden,
                                 const po::positional_options_description& positional) const {
  po::options_description all;
  all.add(visible).add(hidden);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(all).positional(positional).style(kStyle).run(),
            vm);
  try {
    po::notify(vm);
  } catch (const po::required_option& e) {
    // Positional arguments are hidden options; "'--caller-id' is required" names an option the
    // user never saw. Name the argument as the synopsis does (CALLER_ID, FILE).
    std::string name = e.get_option_name();
    name.erase(0, name.find_first_not_of('-'));
    if (hidden.find_nothrow(name, false) == nullptr) throw;
    for (char& c : name)
      c = c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    throw po::error("missing argument " + name);
  }
  return vm;
}

void Session::print_help(const po::options_description& visible) const {
  std::string summary = command.summary;
  summary[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(summary[0])));
  io.out << "Usage: cidrot " << command.name << ' ' << command.synopsis << "\n\n"
         << summary << ".\n";
  if (*command.details) io.out << '\n' << command.details << '\n';
  if (!visible.options().empty()) io.out << '\n' << visible;
  io.out << '\n' << global_options();
}

std::vector<std::string> split_list(const std::vector<std::string>& values) {
  std::vector<std::string> out;
  for (const std::string& v : values) {
    std::string cur;
    for (char c : v + ",") {
      if (c == ',' || c == ';' || c == ' ') {
        if (!cur.empty()) out.push_back(cur);
        cur.clear();
      } else {
        cur.push_back(c);
      }
    }
  }
  return out;
}

std::string iso_time(TimePoint t) { return to_unix_ms(t) == 0 ? "" : app::iso8601(t); }

int run(const std::vector<std::string>& args, Io& io) {
  std::string prefix = "cidrot: ";
  auto fail = [&](int code, const std::string& message, const char* hint) {
    io.out.flush();
    io.err << prefix << message << hint << '\n';
    io.err.flush();
    return code;
  };
  try {
    const int code = run_checked(args, io, prefix);
    io.out.flush();
    return code;
  } catch (const po::error& e) {
    const std::string cmd = prefix == "cidrot: " ? "" : prefix.substr(7, prefix.size() - 9) + " ";
    return fail(kExitUsage, e.what(), (" (see 'cidrot " + cmd + "--help')").c_str());
  } catch (const UsageError& e) {
    return fail(kExitUsage, e.what(), "");
  } catch (const NotFound& e) {
    return fail(kExitNotFound, e.what(), "");
  } catch (const app::csv::FormatError& e) {
    return fail(kExitRejected, e.what(), "; nothing was imported");
  } catch (const Error& e) {
    const int code = exit_code_for(e.code());
    if (code == kExitStore) {
      return fail(code, std::string("store error (") + error_code_name(e.code()) + "): " + e.what(),
                  "");
    }
    return fail(code, e.what(), "");
  } catch (const std::exception& e) {
    return fail(kExitStore, std::string("internal error: ") + e.what(), "");
  }
}

int run(int argc, char** argv, std::istream& in, std::ostream& out, std::ostream& err) {
  if (&in == &std::cin && &out == &std::cout) {
    // Import and export stream tens of MB; C stdio synchronisation would make that per-character.
    std::ios_base::sync_with_stdio(false);
  }
  std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + (argc > 0 ? argc : 0));
  Io io{in, out, err};
  io.err_is_tty = &err == &std::cerr && ::isatty(STDERR_FILENO) == 1;
  return run(args, io);
}

}  // namespace cidrot::cli
