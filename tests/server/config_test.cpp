// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// apps/common configuration: .env dialect, precedence, seed names, validation messages.

#include "cidrot_app/config.h"

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>

#include "cidrot/error.h"

using cidrot::Error;
using cidrot::app::AppConfig;
using cidrot::app::LoadOptions;

namespace {

std::string write_temp(const std::string& text) {
  char name[] = "/tmp/cidrot_env_XXXXXX";
  const int fd = mkstemp(name);
  REQUIRE(fd >= 0);
  std::FILE* f = fdopen(fd, "w");
  std::fputs(text.c_str(), f);
  std::fclose(f);
  return name;
}

LoadOptions with_env(std::map<std::string, std::string> env) {
  LoadOptions o;
  o.env_file = "";
  o.getenv = [env](const std::string& k) -> std::optional<std::string> {
    auto it = env.find(k);
    return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
  return o;
}

std::string error_of(const std::function<void()>& f, std::string* field = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (field) *field = e.field();
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("parse_dotenv accepts the common dialect", "[config]") {
  const auto entries = cidrot::app::parse_dotenv(
      "\xEF\xBB\xBF# comment\r\n"
      "\n"
      "ADMIN_TOKEN=abc123  # trailing comment\r\n"
      "export LOG_LEVEL = INFO\n"
      "A='lit # eral \\n'\n"
      "B=\"x\\ty \\\"q\\\" # kept\"  # gone\n"
      "C=pa#ss\n"
      "D=\n"
      "A=second\n");
  std::map<std::string, std::string> m;
  for (const auto& e : entries) m[e.key] = e.value;
  CHECK(m.at("ADMIN_TOKEN") == "abc123");
  CHECK(m.at("LOG_LEVEL") == "INFO");
  CHECK(m.at("A") == "second");  // later duplicate wins
  CHECK(m.at("B") == "x\ty \"q\" # kept");
  CHECK(m.at("C") == "pa#ss");
  CHECK(m.at("D").empty());
  CHECK(entries.front().line == 3);
  CHECK(entries[2].value == "lit # eral \\n");  // single quotes are literal
}

TEST_CASE("parse_dotenv names the line of each error", "[config]") {
  struct Case {
    const char* text;
    const char* expect;
  };
  const Case cases[] = {
      {"OK=1\nno equals sign\n", "x.env:2: expected KEY=VALUE"},
      {"1BAD=1\n", "x.env:1: invalid key"},
      {"A=\"open\n", "x.env:1: A: unterminated double quote"},
      {"\n\nA='open\n", "x.env:3: A: unterminated single quote"},
      {"A=\"x\" y\n", "x.env:1: A: unexpected text after the closing quote"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    CHECK_THAT(error_of([&] { cidrot::app::parse_dotenv(c.text, "x.env"); }),
               Catch::StartsWith(c.expect));
  }
  const std::string long_line = "A=" + std::string(cidrot::app::kMaxDotenvLineBytes, 'x');
  CHECK_THAT(error_of([&] { cidrot::app::parse_dotenv(long_line, "x.env"); }),
             Catch::Contains("line longer than"));
  const std::string huge(cidrot::app::kMaxDotenvBytes + 1, '#');
  CHECK_THAT(error_of([&] { cidrot::app::parse_dotenv(huge, "x.env"); }),
             Catch::Contains("larger than"));
}

TEST_CASE("load_config: .env < environment < flags, seed names and aliases", "[config]") {
  const std::string path = write_temp(
      "DB_USER=callerid_user\n"  // the seed's own keys are ignored silently
      "JWT_SECRET_KEY=x\n"
      "ADMIN_TOKEN=file-token-0123456789\n"
      "RESERVATION_TTL_SECONDS=120\n"
      "DEFAULT_DAILY_LIMIT=1000\n"
      "DEFAULT_HOURLY_LIMIT=100\n"
      "DEFAULT_RATE_LIMIT_PER_AGENT=200\n"
      "LOG_LEVEL=DEBUG\n"
      "CIDROT_LISTEN=127.0.0.1:9100\n"
      "CIDROT_TYPO=1\n");
  LoadOptions o = with_env({{"DEFAULT_HOURLY_LIMIT", "50"}, {"CIDROT_STORE", "memory://"}});
  o.env_file = path;
  o.overrides["CIDROT_LISTEN"] = "127.0.0.1:0";
  const AppConfig c = cidrot::app::load_config(o);
  CHECK(c.admin_token == "file-token-0123456789");
  CHECK(c.reservation_ttl_s == 120);
  CHECK(c.default_daily_limit == 1000);
  CHECK(c.default_hourly_limit == 50);   // environment beats .env
  CHECK(c.rate_limit_per_agent == 200);  // seed FAQ alias
  CHECK(c.log_level == cidrot::app::LogLevel::kDebug);
  CHECK(c.store == "memory://");
  CHECK(c.listen == "127.0.0.1:0");  // flag beats .env
  CHECK(c.origin.at("CIDROT_LISTEN") == "flag");
  CHECK(c.origin.at("DEFAULT_HOURLY_LIMIT") == "environment");
  CHECK(c.origin.at("ADMIN_TOKEN") == path + ":3");
  REQUIRE(c.warnings.size() == 1);
  CHECK_THAT(c.warnings[0], Catch::Contains("CIDROT_TYPO"));
  CHECK(c.env_file == path);

  const auto ro = cidrot::app::rotator_options(c);
  CHECK(ro.default_daily_limit == 1000);
  CHECK(ro.default_hourly_limit == 50);
  CHECK(ro.campaign_defaults.lease_ttl == std::chrono::seconds(120));
  CHECK_THAT(cidrot::app::describe(c), !Catch::Contains("file-token"));
  std::remove(path.c_str());
}

TEST_CASE("load_config: defaults", "[config]") {
  const AppConfig c = cidrot::app::load_config(with_env({}));
  CHECK(c.admin_token.empty());
  CHECK(c.reservation_ttl_s == 300);
  CHECK(c.rate_limit_per_agent == 0);
  CHECK(c.listen == "127.0.0.1:8000");
  CHECK_FALSE(c.store.empty());
  CHECK(c.env_file.empty());
  const AppConfig d =
      cidrot::app::load_config(with_env({{"CIDROT_DATA_DIR", "/var/lib/cidrot-test"}}));
  if (d.store.rfind("sqlite://", 0) == 0)
    CHECK(d.store == "sqlite:///var/lib/cidrot-test/cidrot.db");
}

TEST_CASE("load_config: invalid values name the key and the source", "[config]") {
  struct Case {
    const char* key;
    const char* value;
    const char* expect;
  };
  const Case cases[] = {
      {"RESERVATION_TTL_SECONDS", "0", "environment: RESERVATION_TTL_SECONDS: expected an integer"},
      {"RESERVATION_TTL_SECONDS", "5m", "expected an integer in 1..86400, got '5m'"},
      {"DEFAULT_DAILY_LIMIT", "-1", "DEFAULT_DAILY_LIMIT: expected an integer"},
      {"DEFAULT_HOURLY_LIMIT", "99999999999999999999", "DEFAULT_HOURLY_LIMIT: expected"},
      {"RATE_LIMIT_PER_AGENT", "", "RATE_LIMIT_PER_AGENT: expected an integer"},
      {"LOG_LEVEL", "loud", "LOG_LEVEL: expected DEBUG, INFO"},
      {"CIDROT_LISTEN", "8000", "CIDROT_LISTEN: missing port"},
      {"CIDROT_LISTEN", "::1:8000", "put an IPv6 address in brackets"},
      {"CIDROT_LISTEN", "127.0.0.1:70000", "port must be 0..65535"},
      {"CIDROT_THREADS", "1000", "CIDROT_THREADS: expected an integer in 0..256"},
      {"ADMIN_TOKEN", "has space", "ADMIN_TOKEN: must not contain spaces"},
      {"CIDROT_STORE", "", "CIDROT_STORE: must not be empty"},
  };
  for (const auto& c : cases) {
    INFO(c.key << "=" << c.value);
    std::string field;
    CHECK_THAT(error_of(
                   [&] {
                     cidrot::app::load_config(with_env({{c.key, c.value}}));
                   },
                   &field),
               Catch::Contains(c.expect));
    CHECK(field == c.key);
  }
  LoadOptions bad_flag = with_env({});
  bad_flag.overrides["NOT_A_KEY"] = "1";
  CHECK_THAT(error_of([&] { cidrot::app::load_config(bad_flag); }),
             Catch::Contains("unknown configuration key"));
  LoadOptions missing = with_env({});
  missing.env_file = "/nonexistent/cidrot.env";
  CHECK_THAT(error_of([&] { cidrot::app::load_config(missing); }), Catch::Contains("cannot open"));
  const std::string path = write_temp("\n\nRESERVATION_TTL_SECONDS=abc\n");
  LoadOptions from_file = with_env({});
  from_file.env_file = path;
  CHECK_THAT(error_of([&] { cidrot::app::load_config(from_file); }),
             Catch::StartsWith(path + ":3: RESERVATION_TTL_SECONDS"));
  std::remove(path.c_str());
}

TEST_CASE("parse_listen and find_config_key", "[config]") {
  auto a = cidrot::app::parse_listen("[::1]:8080");
  CHECK(a.host == "::1");
  CHECK(a.port == 8080);
  a = cidrot::app::parse_listen(":9000");
  CHECK(a.host == "127.0.0.1");
  CHECK(a.port == 9000);
  REQUIRE(cidrot::app::find_config_key("--store") != nullptr);
  CHECK(std::string(cidrot::app::find_config_key("store")->name) == "CIDROT_STORE");
  CHECK(std::string(cidrot::app::find_config_key("DEFAULT_RESERVATION_TTL")->name) ==
        "RESERVATION_TTL_SECONDS");
  CHECK(cidrot::app::find_config_key("--nope") == nullptr);
  CHECK(cidrot::app::redact_store_url("redis://:s3cret@127.0.0.1:6379/0") ==
        "redis://:***@127.0.0.1:6379/0");
  CHECK(cidrot::app::redact_store_url("postgresql://u:pw@h/db") == "postgresql://u:***@h/db");
  CHECK(cidrot::app::redact_store_url("sqlite:///a@b/c.db") == "sqlite:///a@b/c.db");
}

TEST_CASE("CIDROT_CAMPAIGNS: a JSON file of campaign settings, applied to the Rotator",
          "[config][campaigns]") {
  using cidrot::Tier;
  const std::string path = write_temp(R"({
    "local": {"tiers": ["same_npa", "overlay"], "lease_ttl": 600},
    "wide": {"nearby_radius_km": 400, "nearby_max": 5}
  })");
  const AppConfig c = cidrot::app::load_config(
      with_env({{"CIDROT_CAMPAIGNS", path}, {"RESERVATION_TTL_SECONDS", "120"}}));
  CHECK(c.campaigns_file == path);
  CHECK(c.origin.at("CIDROT_CAMPAIGNS") == "environment");
  REQUIRE(c.campaigns.size() == 2);
  const auto& local = c.campaigns[0].name == "local" ? c.campaigns[0] : c.campaigns[1];
  const auto& wide = c.campaigns[0].name == "local" ? c.campaigns[1] : c.campaigns[0];
  CHECK(local.tiers == std::vector<Tier>{Tier::kSameNpa, Tier::kOverlay});
  CHECK(local.lease_ttl.count() == 600);
  // Left out: CampaignSettings' defaults, and the configured TTL.
  CHECK(wide.tiers == cidrot::CampaignSettings{}.tiers);
  CHECK(wide.nearby_radius_km == 400);
  CHECK(wide.nearby_max == 5);
  CHECK(wide.lease_ttl.count() == 120);

  cidrot::Rotator rot(cidrot::open_store("memory://"), cidrot::app::rotator_options(c));
  cidrot::app::apply_campaigns(rot, c);
  CHECK(rot.campaign("local").tiers == local.tiers);
  CHECK(rot.campaign("local").lease_ttl.count() == 600);
  CHECK(rot.campaign("wide").nearby_max == 5);
  CHECK(rot.campaign("other").lease_ttl.count() == 120);  // no settings: the defaults
  CHECK_THAT(cidrot::app::describe(c), Catch::Contains("campaign local: tiers=same_npa,overlay "
                                                       "nearby_radius_km=250 nearby_max=10 "
                                                       "lease_ttl=600"));
  std::remove(path.c_str());
}

TEST_CASE("CIDROT_CAMPAIGNS: every error names the file, the campaign and the key",
          "[config][campaigns]") {
  struct Case {
    const char* text;
    const char* expect;
  };
  const Case read_cases[] = {
      {"{", "not valid JSON"},
      {"[]", "expected an object of campaigns"},
      {R"({"sales": 5})", "campaign 'sales': expected an object of settings"},
      {R"({"sales": {"tier": ["any"]}})", "campaign 'sales': unknown key 'tier'"},
      {R"({"sales": {"tiers": "any"}})", "campaign 'sales': tiers: expected a list"},
      {R"({"sales": {"tiers": ["same_npa", 3]}})", "campaign 'sales': tiers: expected a list"},
      {R"({"sales": {"tiers": ["near"]}})", "campaign 'sales': tiers:"},
      {R"({"sales": {"lease_ttl": "10m"}})", "campaign 'sales': lease_ttl: expected an integer"},
      {R"({"sales": {"nearby_max": 2.5}})", "campaign 'sales': nearby_max: expected an integer"},
  };
  for (const auto& c : read_cases) {
    INFO(c.text);
    const std::string path = write_temp(c.text);
    std::string field;
    CHECK_THAT(error_of(
                   [&] {
                     cidrot::app::load_config(with_env({{"CIDROT_CAMPAIGNS", path}}));
                   },
                   &field),
               Catch::StartsWith("CIDROT_CAMPAIGNS: " + path + ": ") && Catch::Contains(c.expect));
    CHECK(field == "CIDROT_CAMPAIGNS");
    std::remove(path.c_str());
  }
  CHECK_THAT(error_of([] {
               cidrot::app::load_config(with_env({{"CIDROT_CAMPAIGNS", "/nonexistent/c.json"}}));
             }),
             Catch::Contains("/nonexistent/c.json: cannot read"));
  CHECK_THAT(error_of([] {
               cidrot::app::load_config(with_env({{"CIDROT_CAMPAIGNS", "/tmp"}}));
             }),
             Catch::Contains("/tmp: cannot read"));

  // Ranges are the Rotator's: refused when applied, naming the campaign.
  const Case apply_cases[] = {
      {R"({"sales": {"lease_ttl": 0}})", "campaign 'sales': lease_ttl: must be 1..86400"},
      {R"({"sales": {"nearby_max": 99999999999}})", "campaign 'sales': nearby_max: must be in"},
      {R"({"sales": {"tiers": []}})", "campaign 'sales': tiers: must name at least one tier"},
      {R"({"sales": {"tiers": ["any", "any"]}})", "tiers: lists 'any' twice"},
      {R"({"no spaces": {}})", "campaign 'no spaces': name:"},
  };
  for (const auto& c : apply_cases) {
    INFO(c.text);
    const std::string path = write_temp(c.text);
    const AppConfig cfg = cidrot::app::load_config(with_env({{"CIDROT_CAMPAIGNS", path}}));
    cidrot::Rotator rot(cidrot::open_store("memory://"), cidrot::app::rotator_options(cfg));
    std::string field;
    CHECK_THAT(error_of([&] { cidrot::app::apply_campaigns(rot, cfg); }, &field),
               Catch::StartsWith("CIDROT_CAMPAIGNS: " + path + ": ") && Catch::Contains(c.expect));
    CHECK(field == "CIDROT_CAMPAIGNS");
    std::remove(path.c_str());
  }
}
