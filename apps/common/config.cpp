// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT

#include "cidrot_app/config.h"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "cidrot/error.h"
#include "cidrot/store.h"

namespace cidrot::app {
namespace {

constexpr const char* kEnvFileKey = "CIDROT_ENV_FILE";

[[noreturn]] void bad_value(const std::string& key, const std::string& origin,
                            const std::string& message) {
  throw Error(ErrorCode::kInvalidArgument, origin + ": " + key + ": " + message, key);
}

std::int64_t parse_int(const std::string& key, const std::string& value, const std::string& origin,
                       std::int64_t min, std::int64_t max) {
  std::string_view s = value;
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  const bool digits = !s.empty() && s.size() <= 18 &&
                      std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  std::int64_t n = digits ? std::stoll(std::string(s)) : -1;
  if (!digits || n < min || n > max) {
    bad_value(key, origin,
              "expected an integer in " + std::to_string(min) + ".." + std::to_string(max) +
                  ", got '" + value.substr(0, 40) + "'");
  }
  return n;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

LogLevel parse_log_level(const std::string& value, const std::string& origin) {
  const std::string v = lower(value);
  if (v == "debug" || v == "trace") return LogLevel::kDebug;
  if (v == "info") return LogLevel::kInfo;
  if (v == "warning" || v == "warn") return LogLevel::kWarning;
  if (v == "error" || v == "critical") return LogLevel::kError;
  if (v == "off" || v == "none") return LogLevel::kOff;
  bad_value("LOG_LEVEL", origin,
            "expected DEBUG, INFO, WARNING, ERROR or OFF, got '" + value.substr(0, 40) + "'");
}

bool has_control_or_space(const std::string& s) {
  return std::any_of(s.begin(), s.end(), [](unsigned char c) { return c <= 0x20 || c == 0x7f; });
}

// A value with its origin, collected from all sources before validation so that each key is
// checked once, against the source that won.
struct Raw {
  std::string value;
  std::string origin;
};

}  // namespace

const char* log_level_name(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
    case LogLevel::kOff:
      return "off";
  }
  return "info";
}

const std::vector<ConfigKey>& config_keys() {
  static const std::vector<ConfigKey> keys = {
      {"CIDROT_STORE",
       {},
       "--store",
       "store URL (memory://, sqlite:///path.db, redis://..., postgresql://...); default "
       "sqlite://$CIDROT_DATA_DIR/cidrot.db"},
      {"CIDROT_DATA_DIR",
       {},
       "--data-dir",
       "directory of the default SQLite store (default: the working directory)"},
      {"CIDROT_LISTEN", {}, "--listen", "server address host:port (default 127.0.0.1:8000)"},
      {"ADMIN_TOKEN",
       {},
       "--admin-token",
       "bearer token of the admin routes (prefer the environment or .env to a flag)"},
      {"RESERVATION_TTL_SECONDS",
       {"DEFAULT_RESERVATION_TTL"},
       "--ttl",
       "seconds a caller-ID stays reserved unless released (default 300)"},
      {"DEFAULT_DAILY_LIMIT",
       {},
       "--daily-limit",
       "daily cap for numbers added without one (0 = no cap)"},
      {"DEFAULT_HOURLY_LIMIT",
       {},
       "--hourly-limit",
       "hourly cap for numbers added without one (0 = no cap)"},
      {"RATE_LIMIT_PER_AGENT",
       {"DEFAULT_RATE_LIMIT_PER_AGENT"},
       "--rate-limit-per-agent",
       "/next-cid requests per agent per minute (0 = off)"},
      {"CIDROT_TIME_ZONE",
       {},
       "--time-zone",
       "IANA zone of the hour/day windows (default: the host's zone)"},
      {"CIDROT_THREADS", {}, "--threads", "store worker threads (0 = automatic)"},
      {"LOG_LEVEL", {}, "--log-level", "DEBUG, INFO, WARNING, ERROR or OFF (default INFO)"},
      {"CIDROT_CAMPAIGNS",
       {},
       "--campaigns-file",
       "JSON file of per-campaign settings: tiers, nearby_radius_km, nearby_max, lease_ttl"},
      {kEnvFileKey, {}, "--env-file", ".env file to read (default ./.env when it exists)"},
  };
  return keys;
}

const ConfigKey* find_config_key(std::string_view flag_or_name) {
  for (const auto& k : config_keys()) {
    const std::string_view flag = k.flag;
    if (flag_or_name == k.name || flag_or_name == flag || flag_or_name == flag.substr(2)) return &k;
    for (const char* alias : k.aliases) {
      if (flag_or_name == alias) return &k;
    }
  }
  return nullptr;
}

AppConfig load_config(const LoadOptions& options) {
  auto getenv = options.getenv;
  if (!getenv) {
    getenv = [](const std::string& name) -> std::optional<std::string> {
      const char* v = std::getenv(name.c_str());
      return v ? std::optional<std::string>(v) : std::nullopt;
    };
  }
  for (const auto& [key, value] : options.overrides) {
    if (find_config_key(key) == nullptr || find_config_key(key)->name != key) {
      throw Error(ErrorCode::kInvalidArgument, "flag: unknown configuration key '" + key + "'",
                  key);
    }
  }

  AppConfig cfg;
  std::map<std::string, Raw> raw;

  // 1. The .env file: an explicit one must exist, the implicit ./.env only if present.
  std::string env_file;
  if (auto it = options.overrides.find(kEnvFileKey); it != options.overrides.end()) {
    env_file = it->second;
  } else if (options.env_file) {
    env_file = *options.env_file;
  } else if (auto e = getenv(kEnvFileKey)) {
    env_file = *e;
  } else {
    std::error_code ec;
    if (std::filesystem::is_regular_file(".env", ec)) env_file = ".env";
  }
  if (!env_file.empty()) {
    for (auto& entry : read_dotenv_file(env_file)) {
      const ConfigKey* k = find_config_key(entry.key);
      if (k == nullptr) {
        if (entry.key.rfind("CIDROT_", 0) == 0) {
          cfg.warnings.push_back(env_file + ":" + std::to_string(entry.line) + ": unknown key " +
                                 entry.key + " ignored");
        }
        continue;
      }
      if (k->name == std::string_view(kEnvFileKey)) continue;
      // A canonical name beats its alias wherever the two appear in one file.
      auto& slot = raw[k->name];
      const bool is_alias = entry.key != k->name;
      const bool slot_canonical =
          !slot.origin.empty() && slot.origin.find("(alias)") == std::string::npos;
      if (is_alias && slot_canonical) continue;
      slot = {entry.value,
              env_file + ":" + std::to_string(entry.line) + (is_alias ? " (alias)" : "")};
    }
    cfg.env_file = env_file;
  }

  // 2. The environment, canonical names before aliases.
  for (const auto& k : config_keys()) {
    if (k.name == std::string_view(kEnvFileKey)) continue;
    std::optional<std::string> v = getenv(k.name);
    std::string origin = "environment";
    for (auto a = k.aliases.begin(); !v && a != k.aliases.end(); ++a) {
      v = getenv(*a);
      origin = std::string("environment (") + *a + ")";
    }
    if (v) {
      if (v->size() > kMaxDotenvValueBytes) {
        bad_value(k.name, origin, "longer than " + std::to_string(kMaxDotenvValueBytes) + " bytes");
      }
      raw[k.name] = {*v, origin};
    }
  }

  // 3. Flags.
  for (const auto& [key, value] : options.overrides) {
    if (key == kEnvFileKey) continue;
    raw[key] = {value, "flag"};
  }

  for (const auto& k : config_keys()) cfg.origin[k.name] = "default";
  cfg.origin.erase(kEnvFileKey);
  for (const auto& [key, r] : raw) {
    cfg.origin[key] = r.origin.substr(0, r.origin.find(" (alias)"));
    const std::string& v = r.value;
    if (key == "ADMIN_TOKEN") {
      if (has_control_or_space(v))
        bad_value(key, r.origin, "must not contain spaces or control characters");
      cfg.admin_token = v;
    } else if (key == "RESERVATION_TTL_SECONDS") {
      cfg.reservation_ttl_s = parse_int(key, v, r.origin, 1, 86400);
    } else if (key == "DEFAULT_DAILY_LIMIT") {
      cfg.default_daily_limit = parse_int(key, v, r.origin, 0, 1000000000);
    } else if (key == "DEFAULT_HOURLY_LIMIT") {
      cfg.default_hourly_limit = parse_int(key, v, r.origin, 0, 1000000000);
    } else if (key == "RATE_LIMIT_PER_AGENT") {
      cfg.rate_limit_per_agent = parse_int(key, v, r.origin, 0, 1000000000);
    } else if (key == "LOG_LEVEL") {
      cfg.log_level = parse_log_level(v, r.origin);
    } else if (key == "CIDROT_STORE") {
      if (v.empty()) bad_value(key, r.origin, "must not be empty");
      cfg.store = v;
    } else if (key == "CIDROT_LISTEN") {
      try {
        parse_listen(v);
      } catch (const Error& e) {
        std::string why = e.what();  // "CIDROT_LISTEN: ...": bad_value names the key itself
        if (why.rfind(key + ": ", 0) == 0) why.erase(0, key.size() + 2);
        bad_value(key, r.origin, why);
      }
      cfg.listen = v;
    } else if (key == "CIDROT_TIME_ZONE") {
      if (v.size() > 64 || has_control_or_space(v))
        bad_value(key, r.origin, "not a time zone name");
      cfg.time_zone = v;
    } else if (key == "CIDROT_THREADS") {
      cfg.threads = static_cast<int>(parse_int(key, v, r.origin, 0, 256));
    } else if (key == "CIDROT_CAMPAIGNS") {
      cfg.campaigns_file = v;
    }
  }
  if (!cfg.campaigns_file.empty()) {
    // After the loop: a campaign without lease_ttl takes RESERVATION_TTL_SECONDS, from any source.
    cfg.campaigns =
        read_campaigns_file(cfg.campaigns_file, std::chrono::seconds(cfg.reservation_ttl_s));
  }

  if (cfg.store.empty()) {
    auto dir = raw.find("CIDROT_DATA_DIR");
    const auto backends = compiled_backends();
    const bool have_sqlite =
        std::find(backends.begin(), backends.end(), "sqlite") != backends.end();
    if (dir != raw.end() && !dir->second.value.empty() && have_sqlite) {
      std::error_code ec;
      auto path =
          std::filesystem::absolute(std::filesystem::path(dir->second.value) / "cidrot.db", ec);
      if (ec) bad_value("CIDROT_DATA_DIR", dir->second.origin, "cannot resolve the path");
      cfg.store = "sqlite://" + path.lexically_normal().string();
    } else {
      cfg.store = default_store_url();
    }
  }
  if (!cfg.admin_token.empty() && cfg.admin_token.size() < 16) {
    cfg.warnings.push_back(
        "ADMIN_TOKEN is shorter than 16 characters; use e.g. `openssl rand -hex 32`");
  }
  return cfg;
}

RotatorOptions rotator_options(const AppConfig& config) {
  RotatorOptions o;
  o.time_zone = config.time_zone;
  o.default_daily_limit = config.default_daily_limit;
  o.default_hourly_limit = config.default_hourly_limit;
  o.campaign_defaults.lease_ttl = std::chrono::seconds(config.reservation_ttl_s);
  return o;
}

std::vector<CampaignSettings> read_campaigns_file(const std::string& path,
                                                  std::chrono::seconds default_ttl) {
  const std::string where = "CIDROT_CAMPAIGNS: " + path + ": ";
  auto bad = [&](const std::string& message) -> Error {
    return Error(ErrorCode::kInvalidArgument, where + message, "CIDROT_CAMPAIGNS");
  };
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw bad("cannot read: is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw bad(std::string("cannot read: ") + std::strerror(errno));
  std::string text(kMaxCampaignsFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kMaxCampaignsFileBytes) {
    throw bad("larger than " + std::to_string(kMaxCampaignsFileBytes) + " bytes");
  }
  boost::json::error_code jec;
  const boost::json::value doc = boost::json::parse(text, jec);
  if (jec) throw bad("not valid JSON (" + jec.message() + ")");
  if (!doc.is_object()) {
    throw bad("expected an object of campaigns, e.g. {\"sales\": {\"tiers\": [\"same_npa\"]}}");
  }
  if (doc.as_object().size() > kMaxCampaigns) {
    throw bad("more than " + std::to_string(kMaxCampaigns) + " campaigns");
  }
  std::vector<CampaignSettings> out;
  for (const auto& [name, value] : doc.as_object()) {
    const std::string campaign = "campaign '" + std::string(name).substr(0, 64) + "': ";
    if (!value.is_object()) throw bad(campaign + "expected an object of settings");
    CampaignSettings s;
    s.name = std::string(name);
    s.lease_ttl = default_ttl;
    // Whole numbers only; anything outside int32 is left for the Rotator's range check to name.
    auto integer = [&](std::string_view key, const boost::json::value& v) -> std::int32_t {
      if (!v.is_int64() && !v.is_uint64())
        throw bad(campaign + std::string(key) + ": expected an integer");
      const std::int64_t n = v.is_int64() ? v.as_int64() : INT64_MAX;
      return static_cast<std::int32_t>(std::clamp<std::int64_t>(n, INT32_MIN, INT32_MAX));
    };
    for (const auto& [key, v] : value.as_object()) {
      if (key == "tiers") {
        if (!v.is_array()) throw bad(campaign + "tiers: expected a list of tier names");
        s.tiers.clear();
        for (const auto& t : v.as_array()) {
          if (!t.is_string()) throw bad(campaign + "tiers: expected a list of tier names");
          try {
            s.tiers.push_back(parse_tier(std::string(t.as_string())));
          } catch (const Error& e) {
            throw bad(campaign + e.what());
          }
        }
      } else if (key == "nearby_radius_km") {
        s.nearby_radius_km = integer(key, v);
      } else if (key == "nearby_max") {
        s.nearby_max = integer(key, v);
      } else if (key == "lease_ttl") {
        s.lease_ttl = std::chrono::seconds(integer(key, v));
      } else {
        throw bad(campaign + "unknown key '" + std::string(key).substr(0, 64) +
                  "' (known: tiers, nearby_radius_km, nearby_max, lease_ttl)");
      }
    }
    out.push_back(std::move(s));
  }
  return out;
}

void apply_campaigns(Rotator& rotator, const AppConfig& config) {
  for (const CampaignSettings& s : config.campaigns) {
    try {
      rotator.set_campaign(s);
    } catch (const Error& e) {
      throw Error(ErrorCode::kInvalidArgument,
                  "CIDROT_CAMPAIGNS: " + config.campaigns_file + ": campaign '" +
                      s.name.substr(0, 64) + "': " + e.what(),
                  "CIDROT_CAMPAIGNS");
    }
  }
}

ListenAddress parse_listen(std::string_view text) {
  auto bad = [&](const std::string& why) -> Error {
    return Error(
        ErrorCode::kInvalidArgument,
        "CIDROT_LISTEN: " + why + " (expected host:port, e.g. 127.0.0.1:8000 or [::1]:8000)",
        "CIDROT_LISTEN");
  };
  if (text.empty() || text.size() > 300) throw bad("empty or too long");
  ListenAddress out;
  std::string_view port;
  if (text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      throw bad("malformed IPv6 address");
    }
    out.host = std::string(text.substr(1, close - 1));
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) throw bad("missing port");
    out.host = std::string(text.substr(0, colon));
    if (out.host.find(':') != std::string::npos) throw bad("put an IPv6 address in brackets");
    port = text.substr(colon + 1);
  }
  if (out.host.empty()) out.host = "127.0.0.1";
  if (has_control_or_space(out.host)) throw bad("invalid host");
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    throw bad("port must be a number");
  }
  const long p = std::stol(std::string(port));
  if (p > 65535) throw bad("port must be 0..65535");
  out.port = static_cast<std::uint16_t>(p);
  return out;
}

std::string redact_store_url(const std::string& url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return url;
  const auto auth_start = scheme_end + 3;
  const auto at = url.find('@', auth_start);
  const auto slash = url.find('/', auth_start);
  if (at == std::string::npos || (slash != std::string::npos && slash < at)) return url;
  const auto colon = url.find(':', auth_start);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

std::string describe(const AppConfig& c) {
  std::ostringstream out;
  auto line = [&](const char* key, const std::string& value) {
    auto it = c.origin.find(key);
    out << key << "=" << value << "    # " << (it == c.origin.end() ? "default" : it->second)
        << "\n";
  };
  line("CIDROT_STORE", redact_store_url(c.store));
  line("CIDROT_LISTEN", c.listen);
  line("ADMIN_TOKEN", c.admin_token.empty() ? "" : "<redacted>");
  line("RESERVATION_TTL_SECONDS", std::to_string(c.reservation_ttl_s));
  line("DEFAULT_DAILY_LIMIT", std::to_string(c.default_daily_limit));
  line("DEFAULT_HOURLY_LIMIT", std::to_string(c.default_hourly_limit));
  line("RATE_LIMIT_PER_AGENT", std::to_string(c.rate_limit_per_agent));
  line("CIDROT_TIME_ZONE", c.time_zone);
  line("CIDROT_THREADS", std::to_string(c.threads));
  line("LOG_LEVEL", log_level_name(c.log_level));
  line("CIDROT_CAMPAIGNS", c.campaigns_file);
  for (const CampaignSettings& s : c.campaigns) {
    out << "#   campaign " << s.name << ": tiers=";
    for (std::size_t i = 0; i < s.tiers.size(); ++i) out << (i ? "," : "") << tier_name(s.tiers[i]);
    out << " nearby_radius_km=" << s.nearby_radius_km << " nearby_max=" << s.nearby_max
        << " lease_ttl=" << s.lease_ttl.count() << "\n";
  }
  if (!c.env_file.empty()) out << "# read " << c.env_file << "\n";
  return out.str();
}

}  // namespace cidrot::app
