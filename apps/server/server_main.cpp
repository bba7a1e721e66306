// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT

#include "server_main.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <functional>
#include <iterator>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "api.h"
#include "cidrot/error.h"
#include "cidrot/rotator.h"
#include "cidrot/store.h"
#include "cidrot/version.h"
#include "cidrot_app/config.h"
#include "http_server.h"
#include "log.h"
#include "metrics.h"
#include "router.h"
#include "thread_name.h"

namespace cidrot::server {
namespace {

void print_usage() {
  std::printf(
      "Usage: cidrot-server [options]\n"
      "Serves the caller-ID rotation HTTP API (GET /next-cid, ...).\n\n"
      "Configuration comes from a .env file, then the environment, then these flags:\n");
  for (const auto& k : app::config_keys()) {
    std::printf("  %-24s %-24s %s\n", (std::string(k.flag) + " V").c_str(), k.name, k.help);
  }
  std::printf(
      "  %-24s %-24s %s\n"
      "  --idle-timeout-ms N      close a keep-alive connection idle this long (60000)\n"
      "  --header-timeout-ms N    time from a request's first byte to its last header (10000)\n"
      "  --body-timeout-ms N      time to read a request body (30000)\n"
      "  --shutdown-grace-ms N    on SIGTERM, wait this long for in-flight requests (15000)\n"
      "  --worker-spin-us N       an idle store worker looks for work this long before it\n"
      "                           sleeps (50; 0 = sleep at once, e.g. on a busy single core)\n"
      "  --expire-every-ms N      drop expired leases in the background this often (1000;\n"
      "                           0 = only inside calls)\n"
      "  --io-spin-us N           with answers due from the workers, the I/O thread polls this\n"
      "                           long before it sleeps (50; 0 = sleep at once)\n"
      "  --max-connections N      client connections at once (10000; fewer when the descriptor\n"
      "                           limit, ulimit -n, cannot hold them; more are closed at once)\n"
      "  --queue-timeout-ms N     a request that waited this long for a store worker (the store\n"
      "                           is frozen or locked) gets 503 without a store call (2000;\n"
      "                           0 = wait)\n"
      "  --print-config           print the resolved configuration and exit\n"
      "  --version                print the version and exit\n"
      "  --help                   this text\n",
      "--io-threads N", "", "network threads (default 1)");
}

// Store worker threads when CIDROT_THREADS is 0. Store calls block (SQLite locks, network round
// trips), so there are more workers than cores; the SQLite store commits concurrent leases
// together, which wants several callers waiting at once.
int auto_workers() {
  const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  return static_cast<int>(std::clamp(hw * 4u, 8u, 64u));
}

// Drops expired leases every `every` on its own thread. Calls drop what has expired anyway, but
// then the first call after a quiet spell pays for every lease that expired meanwhile, in its
// own transaction (on SQLite, a few microseconds each: ~100 ms after a pause of a busy dialer),
// and the store holds the expired rows until then.
class ExpirySweep {
 public:
  ExpirySweep(Rotator& rotator, const Logger& log, std::chrono::milliseconds every)
      : rotator_(rotator), log_(log), every_(every) {
    if (every_.count() > 0) thread_ = std::thread([this] { loop(); });
  }
  ~ExpirySweep() { stop(); }
  ExpirySweep(const ExpirySweep&) = delete;
  ExpirySweep& operator=(const ExpirySweep&) = delete;

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void loop() {
    name_this_thread("cidrot-expire");
    bool failing = false;  // log a store that is down once, not every sweep
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, every_, [this] { return stopping_; })) {
      lock.unlock();
      try {
        rotator_.expire();
        if (failing) log_.log(LogLevel::kInfo, "expiry sweep: the store answers again");
        failing = false;
      } catch (const std::exception& e) {
        if (!failing) log_.log(LogLevel::kWarning, std::string("expiry sweep: ") + e.what());
        failing = true;
      }
      lock.lock();
    }
  }

  Rotator& rotator_;
  const Logger& log_;
  const std::chrono::milliseconds every_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

// Descriptors the server needs besides its client connections: the store's files or sockets (a
// few per store worker: SQLite's database and WAL per connection, a Redis or PostgreSQL socket),
// the log, the event loop's own, a zone file. Generous, since running short fails store calls.
constexpr std::size_t kReservedDescriptorsBase = 64;
constexpr std::size_t kReservedDescriptorsPerWorker = 4;

// Fits `opt.max_connections` in the descriptor limit. The soft limit is often 1024 under a hard
// limit far above it, and a dialer farm can hold thousands of keep-alive connections, so the soft
// limit is raised as far as the connections need (no further: the hard limit may be a million).
// Past the limit, accept() fails with EMFILE, and so would the store's next open of a file or
// socket, which turns leases into 500s; so connections are capped below the limit, leaving the
// reserve free. Returns a warning when the cap is lower than asked, else "".
std::string fit_descriptor_limit(ServerOptions* opt) {
  const std::size_t reserve =
      kReservedDescriptorsBase +
      kReservedDescriptorsPerWorker * static_cast<std::size_t>(std::max(1, opt->worker_threads));
  const rlim_t wanted = static_cast<rlim_t>(opt->max_connections + reserve);
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return "";
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < wanted) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max == RLIM_INFINITY ? wanted : std::min(lim.rlim_max, wanted);
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
  }
  if (lim.rlim_cur == RLIM_INFINITY || lim.rlim_cur >= wanted) return "";
  const std::size_t limit = static_cast<std::size_t>(lim.rlim_cur);
  const std::size_t asked = opt->max_connections;
  opt->max_connections = std::max<std::size_t>(1, limit > reserve ? limit - reserve : limit / 2);
  return "the descriptor limit (ulimit -n) is " + std::to_string(limit) + ", so at most " +
         std::to_string(opt->max_connections) + " client connections are served at once (" +
         std::to_string(asked) + " asked; " + std::to_string(reserve) +
         " descriptors are kept for the store); raise it with ulimit -n or systemd's LimitNOFILE= "
         "for more";
}

// A flag's integer value in [min, max], or -1.
long long int_flag(const std::string& value, long long min, long long max) {
  try {
    std::size_t used = 0;
    const long long v = std::stoll(value, &used);
    return used == value.size() && v >= min && v <= max ? v : -1;
  } catch (const std::exception&) {
    return -1;
  }
}

}  // namespace

int server_main(int argc, char** argv) {
  app::LoadOptions load;
  bool print_config = false;
  int io_threads = 1;
  std::chrono::milliseconds expire_every{1000};
  std::chrono::milliseconds queue_timeout{2000};  // see Router::set_queue_timeout
  ServerOptions opt;
  // The server-only integer flags: name, accepted range, where the value goes.
  using std::chrono::microseconds, std::chrono::milliseconds;
  auto ms_to = [](milliseconds* target) {
    return [target](long long v) { *target = milliseconds(v); };
  };
  const struct {
    const char* name;
    long long min, max;
    std::function<void(long long)> set;
  } int_flags[] = {
      {"--idle-timeout-ms", 1, 3600000, ms_to(&opt.idle_timeout)},
      {"--header-timeout-ms", 1, 3600000, ms_to(&opt.header_timeout)},
      {"--body-timeout-ms", 1, 3600000, ms_to(&opt.body_timeout)},
      {"--shutdown-grace-ms", 1, 3600000, ms_to(&opt.shutdown_grace)},
      {"--expire-every-ms", 0, 3600000, ms_to(&expire_every)},
      {"--queue-timeout-ms", 0, 3600000, ms_to(&queue_timeout)},
      {"--worker-spin-us", 0, 1000000, [&](long long v) { opt.worker_spin = microseconds(v); }},
      {"--io-spin-us", 0, 1000000, [&](long long v) { opt.io_spin = microseconds(v); }},
      {"--io-threads", 1, 64, [&](long long v) { io_threads = static_cast<int>(v); }},
      {"--max-connections", 1, 1000000,
       [&](long long v) { opt.max_connections = static_cast<std::size_t>(v); }},
  };
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      print_usage();
      return 0;
    }
    if (arg == "--version") {
      std::printf("cidrot-server %s\n", version());
      return 0;
    }
    if (arg == "--print-config") {
      print_config = true;
      continue;
    }
    std::string value;
    const auto eq = arg.find('=');
    const std::string name = arg.substr(0, eq);
    const bool known =
        name.rfind("--", 0) == 0 && (app::find_config_key(name) != nullptr ||
                                     std::any_of(std::begin(int_flags), std::end(int_flags),
                                                 [&](const auto& f) { return name == f.name; }));
    if (!known) {
      // Before "needs a value": a typo or a flag of another program is what to report.
      std::fprintf(stderr, "cidrot-server: unknown option '%s' (see --help)\n", name.c_str());
      return 2;
    }
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      std::fprintf(stderr, "cidrot-server: %s needs a value (see --help)\n", name.c_str());
      return 2;
    }
    const auto flag = std::find_if(std::begin(int_flags), std::end(int_flags),
                                   [&](const auto& f) { return name == f.name; });
    if (flag != std::end(int_flags)) {
      const long long v = int_flag(value, flag->min, flag->max);
      if (v < 0) {
        std::fprintf(stderr, "cidrot-server: %s must be %lld..%lld\n", flag->name, flag->min,
                     flag->max);
        return 2;
      }
      flag->set(v);
      continue;
    }
    load.overrides[app::find_config_key(name)->name] = value;
  }

  app::AppConfig cfg;
  try {
    cfg = app::load_config(load);
  } catch (const Error& e) {
    std::fprintf(stderr, "cidrot-server: configuration: %s\n", e.what());
    return 2;
  }
  if (print_config) {
    std::fputs(app::describe(cfg).c_str(), stdout);
    return 0;
  }
  Logger log(cfg.log_level);
  for (const auto& w : cfg.warnings) log.log(LogLevel::kWarning, w);
  if (cfg.store.rfind("memory://", 0) == 0) {
    // Also the default of a build without SQLite: say so once, loudly, rather than let a
    // restart lose every number without a word.
    log.log(LogLevel::kWarning,
            "the store is memory://: numbers, counters and leases live in this process only and "
            "are lost when it stops; set CIDROT_STORE to a sqlite://, redis:// or postgresql:// "
            "URL to keep them");
  }

  std::shared_ptr<Store> store;
  try {
    store = open_store(cfg.store);
  } catch (const Error& e) {
    std::fprintf(stderr, "cidrot-server: cannot open the store %s: %s\n",
                 app::redact_store_url(cfg.store).c_str(), e.what());
    return e.code() == ErrorCode::kInvalidArgument || e.code() == ErrorCode::kUnsupported ? 2 : 1;
  }
  std::unique_ptr<Rotator> rotator;
  try {
    // What the Rotator refuses here (an unknown time zone, a campaign's settings) is
    // configuration, not the store.
    rotator = std::make_unique<Rotator>(std::move(store), app::rotator_options(cfg));
    app::apply_campaigns(*rotator, cfg);
  } catch (const Error& e) {
    std::fprintf(stderr, "cidrot-server: configuration: %s\n", e.what());
    return 2;
  }
  if (!cfg.campaigns.empty()) {
    std::string names;
    for (const auto& c : cfg.campaigns) names += (names.empty() ? "" : ", ") + c.name;
    log.log(LogLevel::kInfo, "campaign settings from " + cfg.campaigns_file + ": " + names);
  }

  // One write before listening: it drops leases that expired while no server ran and makes the
  // SQLite store build its in-memory selection order (about half a second per 200k numbers),
  // which the first caller would otherwise wait for. A store that is down now is not fatal:
  // /health reports it and calls fail with 503 until it is back.
  try {
    rotator->expire();
  } catch (const Error& e) {
    log.log(LogLevel::kWarning, std::string("store not ready at start: ") + e.what());
  }

  Router router;
  router.set_admin_token(cfg.admin_token);
  router.set_queue_timeout(queue_timeout);
  Api api(*rotator, ApiOptions{cfg.rate_limit_per_agent});
  api.register_routes(router);
  Metrics metrics(route_labels(router));
  api.set_metrics(&metrics);
  router.on_internal_error = [&log](const Exchange& ex, const std::string& what) {
    log.log(LogLevel::kError, std::string(ex.req.method_string()) + " " +
                                  (ex.route ? ex.route->pattern : std::string("-")) + ": " + what);
  };

  const app::ListenAddress listen = app::parse_listen(cfg.listen);
  opt.host = listen.host;
  opt.port = listen.port;
  opt.io_threads = io_threads;
  opt.worker_threads = cfg.threads > 0 ? cfg.threads : auto_workers();
  if (const std::string capped = fit_descriptor_limit(&opt); !capped.empty()) {
    log.log(LogLevel::kWarning, capped);
  }
  std::unique_ptr<HttpServer> server;
  try {
    server = std::make_unique<HttpServer>(router, metrics, log, opt);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cidrot-server: %s\n", e.what());
    return 1;
  }
  const std::string host =
      opt.host.find(':') != std::string::npos ? "[" + opt.host + "]" : opt.host;
  log.banner("cidrot-server " + std::string(version()) + " listening on http://" + host + ":" +
             std::to_string(server->port()) + " (store " + app::redact_store_url(cfg.store) + ", " +
             std::to_string(opt.worker_threads) + " store workers, " +
             std::to_string(opt.io_threads) + " I/O thread" + (opt.io_threads > 1 ? "s" : "") +
             ", time zone " + rotator->time_zone() + ")");
  if (!router.admin_enabled()) {
    log.log(LogLevel::kWarning,
            "ADMIN_TOKEN is not set: admin routes (/add-number, /api/...) answer 403. Set it in "
            "the environment or .env, e.g. ADMIN_TOKEN=$(openssl rand -hex 32)");
  }
  ExpirySweep sweep(*rotator, log, expire_every);
  server->run();
  sweep.stop();
  log.log(LogLevel::kInfo, "stopped");
  return 0;
}

}  // namespace cidrot::server
