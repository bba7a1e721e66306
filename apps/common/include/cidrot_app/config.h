// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
//
// Configuration shared by cidrot-server and the cidrot CLI. Sources, lowest precedence first:
//   1. a .env file (KEY=VALUE lines; the seed's names work unchanged),
//   2. the process environment,
//   3. command-line flags (passed in as overrides keyed by the same names).
// Keys that are not ours (the seed's DB_USER, REDIS_PASSWORD, JWT_SECRET_KEY, ...) are ignored so
// an old .env can be reused as it is; an unknown CIDROT_* key is reported as a warning (a typo).
//
//   cidrot::app::LoadOptions opts;
//   opts.overrides["CIDROT_LISTEN"] = "127.0.0.1:9000";   // from --listen
//   cidrot::app::AppConfig cfg = cidrot::app::load_config(opts);
//   cidrot::Rotator rot(cidrot::open_store(cfg.store), cidrot::app::rotator_options(cfg));
//
// Every error is a cidrot::Error(kInvalidArgument) whose field() is the key at fault and whose
// message names the source (".env:12: RESERVATION_TTL_SECONDS: ...").

#ifndef CIDROT_APP_CONFIG_H_
#define CIDROT_APP_CONFIG_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cidrot/rotator.h"

namespace cidrot::app {

// --- .env files -------------------------------------------------------------------------------

// Bounds on what a .env file may hold; anything larger is an error, never truncated.
inline constexpr std::size_t kMaxDotenvBytes = 256 * 1024;
inline constexpr std::size_t kMaxDotenvLineBytes = 8192;
inline constexpr std::size_t kMaxDotenvKeyBytes = 128;
inline constexpr std::size_t kMaxDotenvValueBytes = 4096;

struct DotenvEntry {
  std::string key;
  std::string value;
  int line = 0;  // 1-based
};

// Parses .env text. Accepted per line: blank; "# comment"; [export ]KEY=VALUE where KEY is
// [A-Za-z_][A-Za-z0-9_]*; VALUE unquoted (trimmed; " #..." starts a comment), 'single-quoted'
// (literal) or "double-quoted" (\n \t \r \\ \" \$ escapes). CRLF and a UTF-8 BOM are accepted.
// A later duplicate key wins. `source` names the file in messages. Throws
// Error(kInvalidArgument, field = key or "env_file") with "source:LINE: ..." on malformed input.
std::vector<DotenvEntry> parse_dotenv(std::string_view text, const std::string& source = ".env");

// Reads and parses a .env file (at most kMaxDotenvBytes). Throws Error(kInvalidArgument,
// field "env_file") when it cannot be read.
std::vector<DotenvEntry> read_dotenv_file(const std::string& path);

// --- the configuration ------------------------------------------------------------------------

enum class LogLevel { kDebug, kInfo, kWarning, kError, kOff };

// "debug", "info", "warning", "error", "off".
const char* log_level_name(LogLevel level) noexcept;

struct AppConfig {
  std::string admin_token;                  // ADMIN_TOKEN; "" = admin routes refuse
  std::int64_t reservation_ttl_s = 300;     // RESERVATION_TTL_SECONDS, 1..86400
  std::int64_t default_daily_limit = 0;     // DEFAULT_DAILY_LIMIT, 0 = no cap
  std::int64_t default_hourly_limit = 0;    // DEFAULT_HOURLY_LIMIT, 0 = no cap
  std::int64_t rate_limit_per_agent = 0;    // RATE_LIMIT_PER_AGENT, /next-cid per minute; 0 = off
  LogLevel log_level = LogLevel::kInfo;     // LOG_LEVEL: DEBUG, INFO, WARNING, ERROR, OFF
  std::string store;                        // CIDROT_STORE; default cidrot::default_store_url()
  std::string listen = "127.0.0.1:8000";    // CIDROT_LISTEN, host:port or [v6]:port
  std::string time_zone;                    // CIDROT_TIME_ZONE, IANA name; "" = host zone
  int threads = 0;                          // CIDROT_THREADS: store worker threads, 0 = auto
  std::string env_file;                     // the .env file actually read, "" when none
  std::string campaigns_file;               // CIDROT_CAMPAIGNS: JSON file of campaign settings
  std::vector<CampaignSettings> campaigns;  // read from it; applied by apply_campaigns()

  // Where each key's value came from: "default", "<file>:<line>", "environment", "flag".
  std::map<std::string, std::string> origin;
  // Non-fatal findings (unknown CIDROT_* keys, ...), one line each.
  std::vector<std::string> warnings;
};

struct LoadOptions {
  // .env file to read. nullopt: "$CIDROT_ENV_FILE" if set, else "./.env" when it exists.
  // An explicitly named file (here or in CIDROT_ENV_FILE) must exist. "" = read no file.
  std::optional<std::string> env_file;
  // Reads one environment variable (nullopt when unset). Default: std::getenv.
  std::function<std::optional<std::string>(const std::string&)> getenv;
  // Highest-precedence values, keyed by canonical name ("CIDROT_STORE", "ADMIN_TOKEN", ...),
  // typically from command-line flags. Unknown keys are an error (a frontend bug or a typo).
  std::map<std::string, std::string> overrides;
};

// One configuration key: its canonical name, accepted aliases (seed spellings), the flag a
// frontend should offer for it, and a one-line description. Ordered for help output.
struct ConfigKey {
  const char* name;
  std::vector<const char*> aliases;
  const char* flag;  // "--store"
  const char* help;
};
const std::vector<ConfigKey>& config_keys();

// Returns the canonical key for a flag ("--store" or "store") or env name/alias, or nullptr.
const ConfigKey* find_config_key(std::string_view flag_or_name);

// Loads the configuration from the sources above. Throws Error(kInvalidArgument, field = key)
// for an unreadable .env file or an invalid value; the message says where the value came from.
AppConfig load_config(const LoadOptions& options = {});

// RotatorOptions from the configuration: time zone, default limits, lease TTL for campaigns
// without settings of their own. Never throws (the Rotator validates the time zone).
RotatorOptions rotator_options(const AppConfig& config);

// Bounds on a campaigns file (CIDROT_CAMPAIGNS).
inline constexpr std::size_t kMaxCampaignsFileBytes = 1024 * 1024;
inline constexpr std::size_t kMaxCampaigns = 10000;

// Reads per-campaign settings from a JSON file:
//   {"sales": {"tiers": ["same_npa", "overlay", "state"], "lease_ttl": 600},
//    "support": {"nearby_radius_km": 400, "nearby_max": 5}}
// Every key of a campaign is optional; what is left out keeps CampaignSettings' default, with
// lease_ttl = `default_ttl`. Tier names as tier_name() spells them. Ranges are the Rotator's and
// are checked by apply_campaigns(). Throws Error(kInvalidArgument, field "CIDROT_CAMPAIGNS") whose
// message names the file (and the campaign and key) for a file that cannot be read, is larger
// than kMaxCampaignsFileBytes, is not such an object, or has an unknown key or a wrong type.
std::vector<CampaignSettings> read_campaigns_file(const std::string& path,
                                                  std::chrono::seconds default_ttl);

// Gives `rotator` the settings of every campaign in config.campaigns. Throws
// Error(kInvalidArgument, field "CIDROT_CAMPAIGNS") naming the file and campaign when the Rotator
// refuses one (a bad name, an empty or repeated tier list, a value out of range); campaigns
// before it are applied. Call it before serving: set_campaign is not meant for the hot path.
void apply_campaigns(Rotator& rotator, const AppConfig& config);

// host and port of a listen address: "127.0.0.1:8000", "[::1]:8000", "0.0.0.0:80", ":8000"
// (= 127.0.0.1). Throws Error(kInvalidArgument, field "CIDROT_LISTEN").
struct ListenAddress {
  std::string host;
  std::uint16_t port = 0;
};
ListenAddress parse_listen(std::string_view text);

// `url` with any password ("redis://:secret@host", "postgresql://u:secret@h/db") replaced by
// "***", safe to log.
std::string redact_store_url(const std::string& url);

// The configuration as KEY=VALUE lines, with the admin token redacted; for --print-config.
std::string describe(const AppConfig& config);

}  // namespace cidrot::app

#endif  // CIDROT_APP_CONFIG_H_
