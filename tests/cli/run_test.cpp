// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// cidrot::cli::run() in-process over one shared memory:// store per test, with a manual clock:
// every command's happy path and error paths, exit codes, and the --json shapes.
#include <unistd.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <cstdio>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "cidrot/cidrot.h"
#include "cli.h"

namespace json = boost::json;
using cidrot::cli::run;

namespace {

struct Result {
  int code;
  std::string out;
  std::string err;
};

// 2030-01-02T03:04:05Z
const cidrot::TimePoint kStart = cidrot::from_unix_ms(1893553445000);

struct Cli {
  std::shared_ptr<cidrot::Store> store = cidrot::open_store("memory://");
  std::shared_ptr<cidrot::ManualClock> clock = std::make_shared<cidrot::ManualClock>(kStart);
  std::map<std::string, std::string> env = {{"CIDROT_TIME_ZONE", "UTC"}};

  Result operator()(std::vector<std::string> args, const std::string& input = "") {
    std::istringstream in(input);
    std::ostringstream out, err;
    cidrot::cli::Io io(in, out, err);
    io.store = store;
    io.clock = clock;
    io.read_dotenv = false;
    io.getenv = [this](const char* name) -> const char* {
      auto it = env.find(name);
      return it == env.end() ? nullptr : it->second.c_str();
    };
    const int code = run(args, io);
    return {code, out.str(), err.str()};
  }
};

json::object parse_object(const std::string& s) { return json::parse(s).as_object(); }

}  // namespace

TEST_CASE("run: no command, unknown command, unknown option are usage errors", "[cli][run]") {
  Cli cli;
  auto r = cli({});
  CHECK(r.code == 1);
  CHECK_THAT(r.err, Catch::Contains("Usage: cidrot"));
  r = cli({"frobnicate"});
  CHECK(r.code == 1);
  CHECK(r.err == "cidrot: unknown command 'frobnicate' (see 'cidrot --help')\n");
  r = cli({"list", "--bogus"});
  CHECK(r.code == 1);
  CHECK_THAT(r.err, Catch::StartsWith("cidrot list: ") && Catch::Contains("--bogus") &&
                        Catch::EndsWith("(see 'cidrot list --help')\n"));
  // Long options are not guessed from prefixes.
  r = cli({"list", "--tim", "UTC"});
  CHECK(r.code == 1);
  r = cli({"--help"});
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("Exit status"));
}

TEST_CASE("run: every command has --help", "[cli][run]") {
  Cli cli;
  for (const char* c : {"import", "export", "add", "list", "show", "enable", "disable", "remove",
                        "set", "next", "release", "stats", "backends", "version"}) {
    INFO(c);
    auto r = cli({c, "--help"});
    CHECK(r.code == 0);
    CHECK_THAT(r.out, Catch::StartsWith(std::string("Usage: cidrot ") + c));
    CHECK(r.err.empty());
    auto h = cli({"help", c});
    CHECK(h.code == 0);
    CHECK(h.out == r.out);
  }
}

TEST_CASE("run: add, show, list, set, disable, enable, remove", "[cli][run]") {
  Cli cli;
  auto r = cli({"add", "+1 (212) 555-1234", "--carrier", "Verizon", "--daily-limit", "50",
                "--hourly-limit", "5", "--campaigns", "sales,support", "--meta", R"({"k":"v"})"});
  REQUIRE(r.code == 0);
  CHECK(r.out == "added 2125551234\n");

  SECTION("add of an existing number is refused unless --replace") {
    r = cli({"add", "2125551234"});
    CHECK(r.code == 5);
    CHECK_THAT(r.err, Catch::Contains("already exists"));
    r = cli({"add", "2125551234", "--replace", "--carrier", "ATT"});
    CHECK(r.code == 0);
    CHECK(r.out == "updated 2125551234\n");
    CHECK(cli.store->get_number("2125551234", {})->number.carrier == "ATT");
  }
  SECTION("add validates") {
    r = cli({"add", "12345"});
    CHECK(r.code == 1);
    CHECK_THAT(r.err, Catch::StartsWith("cidrot add: caller_id"));
    r = cli({"add", "2125550000", "--meta", "[1]"});
    CHECK(r.code == 1);
    CHECK_THAT(r.err, Catch::Contains("meta"));
    r = cli({"add", "2125550000", "--daily-limit", "lots"});
    CHECK(r.code == 1);
    r = cli({"add"});
    CHECK(r.code == 1);
    CHECK(cli.store->get_number("2125550000", {}) == std::nullopt);
  }
  SECTION("show") {
    r = cli({"show", "212-555-1234"});
    CHECK(r.code == 0);
    CHECK_THAT(r.out, Catch::Contains("Verizon") && Catch::Contains("sales,support") &&
                          Catch::Contains("0/5"));
    r = cli({"show", "2125551234", "--json"});
    REQUIRE(r.code == 0);
    const auto o = parse_object(r.out);
    CHECK(o.at("caller_id") == "2125551234");
    CHECK(o.at("daily_limit") == 50);
    CHECK(o.at("hourly_limit") == 5);
    CHECK(o.at("meta").at("k") == "v");
    CHECK(o.at("campaigns").as_array().size() == 2);
    CHECK(o.at("last_used").is_null());
    CHECK(o.at("leases").as_array().empty());
    r = cli({"show", "2125559999"});
    CHECK(r.code == 5);
    CHECK(r.err == "cidrot show: 2125559999: no such number\n");
  }
  SECTION("list and its filters") {
    REQUIRE(cli({"add", "6465550100", "--campaigns", "other"}).code == 0);
    REQUIRE(cli({"add", "3105550100", "--disabled"}).code == 0);
    auto ids = [&](std::vector<std::string> args) {
      args.insert(args.begin(), "list");
      args.push_back("--json");
      auto res = cli(args);
      REQUIRE(res.code == 0);
      std::vector<std::string> out;
      const json::object page = parse_object(res.out);
      for (const auto& item : page.at("items").as_array()) {
        out.emplace_back(item.at("caller_id").as_string());
      }
      return out;
    };
    using V = std::vector<std::string>;
    CHECK(ids({}) == V{"2125551234", "3105550100", "6465550100"});
    CHECK(ids({"--campaign", "sales"}) == V{"2125551234", "3105550100"});  // 310 serves all
    CHECK(ids({"--area-code", "212,646"}) == V{"2125551234", "6465550100"});
    CHECK(ids({"--state", "ny"}) == V{"2125551234", "6465550100"});
    CHECK(ids({"--state", "CA"}) == V{"3105550100"});
    CHECK(ids({"--disabled"}) == V{"3105550100"});
    CHECK(ids({"--active", "--prefix", "646"}) == V{"6465550100"});
    CHECK(ids({"--limit", "1", "--offset", "1"}) == V{"3105550100"});
    CHECK(ids({"--sort", "caller_id", "--desc", "--all"}) ==
          V{"6465550100", "3105550100", "2125551234"});
    CHECK(cli({"list", "--active", "--disabled"}).code == 1);
    CHECK(cli({"list", "--state", "ZZ"}).code == 1);
    CHECK(cli({"list", "--area-code", "12"}).code == 1);
    CHECK(cli({"list", "--sort", "colour"}).code == 1);
    r = cli({"list", "--limit", "2"});
    CHECK_THAT(r.out, Catch::StartsWith("CALLER_ID") && Catch::Contains("(2 of 3 shown"));
  }
  SECTION("set") {
    r = cli({"set", "2125551234", "--hourly-limit", "9", "--add-campaign", "vip",
             "--remove-campaign", "support"});
    REQUIRE(r.code == 0);
    auto n = cli.store->get_number("2125551234", {})->number;
    CHECK(n.hourly_limit == 9);
    CHECK(n.daily_limit == 50);  // untouched
    CHECK(n.campaigns == std::vector<std::string>{"sales", "vip"});
    CHECK(n.carrier == "Verizon");
    r = cli({"set", "2125551234", "--all-campaigns", "--meta", "{}", "--json"});
    REQUIRE(r.code == 0);
    CHECK(parse_object(r.out).at("campaigns").as_array().empty());
    CHECK(cli({"set", "2125551234"}).code == 1);  // nothing to change
    CHECK(cli({"set", "2125551234", "--max-concurrent", "0"}).code == 1);
    CHECK(cli({"set", "2125559999", "--carrier", "x"}).code == 5);
  }
  SECTION("disable, enable, remove") {
    r = cli({"disable", "2125551234"});
    CHECK(r.code == 0);
    CHECK(r.out == "disabled 2125551234\n");
    CHECK_FALSE(cli.store->get_number("2125551234", {})->number.active);
    CHECK(cli({"next", "--to", "2125550000", "--campaign", "sales"}).code == 2);
    CHECK(cli({"enable", "2125551234"}).code == 0);
    CHECK(cli.store->get_number("2125551234", {})->number.active);
    r = cli({"remove", "2125551234", "2125559999"});
    CHECK(r.code == 5);
    CHECK(r.out == "removed 2125551234\n");
    CHECK(r.err == "cidrot remove: 2125559999: no such number\n");
    CHECK(cli.store->get_number("2125551234", {}) == std::nullopt);
    CHECK(cli({"enable", "bad"}).code == 1);
  }
}

TEST_CASE("run: next prints the caller-ID or the HTTP API's object; denial is exit 2",
          "[cli][run]") {
  Cli cli;
  cli.env["RESERVATION_TTL_SECONDS"] = "120";
  REQUIRE(cli({"add", "2125551234", "--carrier", "V", "--meta", R"({"state":"NY"})"}).code == 0);
  REQUIRE(cli({"add", "6465550100"}).code == 0);

  auto r =
      cli({"next", "--to", "+1 212 555 0199", "--campaign", "sales", "--agent", "a7", "--json"});
  REQUIRE(r.code == 0);
  const auto o = parse_object(r.out);
  std::vector<std::string> keys;
  for (const auto& kv : o) keys.emplace_back(kv.key());
  std::sort(keys.begin(), keys.end());
  // The HTTP API's /next-cid object: the seed's keys, the lease, and the request it answered.
  CHECK(keys == std::vector<std::string>{"agent", "area_code", "caller_id", "campaign", "carrier",
                                         "destination", "expires_at", "match", "meta",
                                         "reservation_id"});
  CHECK(o.at("destination") == "2125550199");
  CHECK(o.at("agent") == "a7");
  CHECK(o.at("caller_id") == "2125551234");
  CHECK(o.at("carrier") == "V");
  CHECK(o.at("area_code") == "212");
  CHECK(o.at("meta").at("state") == "NY");
  CHECK(o.at("match") == "same_npa");
  CHECK(o.at("expires_at") == "2030-01-02T03:06:05.000Z");  // RESERVATION_TTL_SECONDS
  CHECK(o.at("reservation_id").as_string().size() == 32);

  // The same-area number is leased (exclusive), so the overlay number comes next.
  r = cli({"next", "--to", "2125550199", "--campaign", "sales", "--ttl", "10"});
  CHECK(r.code == 0);
  CHECK(r.out == "6465550100\n");

  r = cli({"next", "--to", "2125550199", "--campaign", "sales"});
  CHECK(r.code == 2);
  CHECK(r.out.empty());
  CHECK(r.err ==
        "cidrot next: no caller-ID available: every number in scope is in use by other calls "
        "(all_reserved, campaign 'sales')\n");
  r = cli({"next", "--to", "2125550199", "--campaign", "sales", "--json"});
  CHECK(r.code == 2);
  CHECK(parse_object(r.out).at("reason") == "all_reserved");

  // An expired lease frees its number by itself.
  cli.clock->advance(std::chrono::seconds(11));
  CHECK(cli({"next", "--to", "2125550199", "--campaign", "sales"}).out == "6465550100\n");

  SECTION("campaign settings from --campaigns-file (CIDROT_CAMPAIGNS)") {
    const std::string path = "/tmp/cidrot_cli_campaigns_" + std::to_string(::getpid()) + ".json";
    std::FILE* f = std::fopen(path.c_str(), "w");
    REQUIRE(f);
    std::fputs(R"({"local": {"tiers": ["same_npa"]}})", f);
    std::fclose(f);
    // 310 has no number: "local" stops at the destination's own area code.
    r = cli(
        {"next", "--to", "3105550199", "--campaign", "local", "--campaigns-file", path, "--json"});
    CHECK(r.code == 2);
    CHECK(parse_object(r.out).at("reason") == "no_match_in_scope");
    cli.env["CIDROT_CAMPAIGNS"] = path;
    CHECK(cli({"next", "--to", "3105550199", "--campaign", "local"}).code == 2);
    std::remove(path.c_str());
    r = cli({"next", "--to", "3105550199", "--campaign", "local"});
    CHECK(r.code == 1);
    CHECK_THAT(r.err, Catch::Contains("CIDROT_CAMPAIGNS: " + path + ": cannot read"));
  }

  SECTION("bad input") {
    CHECK(cli({"next", "--to", "911", "--campaign", "sales"}).code == 1);
    CHECK(cli({"next", "--campaign", "sales"}).code == 1);
    CHECK(cli({"next", "--to", "2125550199"}).code == 1);
    CHECK(cli({"next", "--to", "2125550199", "--campaign", "bad name!"}).code == 1);
    CHECK(cli({"next", "--to", "2125550199", "--campaign", "s", "--ttl", "0"}).code == 1);
  }
  SECTION("release by id and by caller-ID, idempotent") {
    const std::string id(o.at("reservation_id").as_string());
    r = cli({"release", id, "--disposition", "answered", "--duration", "42"});
    CHECK(r.code == 0);
    CHECK(r.out == "released 1 lease\n");
    r = cli({"release", id, "--json"});
    CHECK(r.code == 0);
    CHECK(parse_object(r.out).at("released") == 0);
    auto st = cli.store->get_number("2125551234", {});
    CHECK(st->last_disposition == "answered");
    CHECK(st->last_duration_s == 42);
    r = cli({"release", "--caller-id", "646-555-0100"});
    CHECK(r.out == "released 1 lease\n");
    CHECK(cli({"release"}).code == 1);
    CHECK(cli({"release", id, "--caller-id", "6465550100"}).code == 1);
    CHECK(cli({"release", "not-a-lease-id"}).code == 1);
    CHECK(cli({"release", id, "--disposition", "exploded"}).code == 1);
  }
}

TEST_CASE("run: hourly caps deny with all_limited", "[cli][run]") {
  Cli cli;
  REQUIRE(cli({"add", "2125551234", "--hourly-limit", "1", "--max-concurrent", "5"}).code == 0);
  CHECK(cli({"next", "--to", "2125550199", "--campaign", "c"}).code == 0);
  auto r = cli({"next", "--to", "2125550199", "--campaign", "c"});
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Catch::Contains("(all_limited, campaign 'c')"));
  r = cli({"list", "--limited", "--json"});
  CHECK(parse_object(r.out).at("total") == 1);
  cli.clock->advance(std::chrono::hours(1));
  CHECK(cli({"next", "--to", "2125550199", "--campaign", "c"}).code == 0);
}

TEST_CASE("run: settings from the environment: default limits, bad values", "[cli][run]") {
  Cli cli;
  cli.env["DEFAULT_DAILY_LIMIT"] = "1000";
  cli.env["DEFAULT_HOURLY_LIMIT"] = "100";
  REQUIRE(cli({"add", "2125551234"}).code == 0);
  REQUIRE(cli({"import", "-"}, "2125551235\n").code == 0);
  for (const char* id : {"2125551234", "2125551235"}) {
    const auto n = cli.store->get_number(id, {})->number;
    CHECK(n.daily_limit == 1000);
    CHECK(n.hourly_limit == 100);
  }
  cli.env["DEFAULT_HOURLY_LIMIT"] = "lots";
  auto r = cli({"list"});
  CHECK(r.code == 1);
  CHECK_THAT(r.err, Catch::Contains("DEFAULT_HOURLY_LIMIT"));
  // --help works whatever the environment says.
  CHECK(cli({"list", "--help"}).code == 0);
  cli.env.erase("DEFAULT_HOURLY_LIMIT");
  cli.env["CIDROT_TIME_ZONE"] = "Mars/Olympus";
  r = cli({"list"});
  CHECK(r.code == 1);
  CHECK_THAT(r.err, Catch::Contains("Mars/Olympus"));
}

TEST_CASE("run: import from stdin, summary, exit 4 with rejects, --json summary",
          "[cli][run][import]") {
  Cli cli;
  const std::string mixed =
      "caller_id,carrier,area_code,daily_limit,hourly_limit,meta_json\n"
      "2125551234,V\n"
      "2125551\n"
      "6465550100,A,,5,1\n";
  auto r = cli({"import", "-"}, mixed);
  CHECK(r.code == 4);
  CHECK_THAT(r.out, Catch::StartsWith("inserted 2, updated 0, rejected 1 (3 rows"));
  CHECK_THAT(r.err, Catch::StartsWith("<stdin>:3: caller_id:"));
  CHECK(cli.store->stats({}).numbers == 2);

  r = cli({"import", "-", "--json", "--quiet"}, mixed);
  CHECK(r.code == 4);
  CHECK(r.err.empty());
  const auto o = parse_object(r.out);
  CHECK(o.at("inserted") == 0);
  CHECK(o.at("updated") == 2);
  CHECK(o.at("rejected") == 1);
  CHECK(o.at("errors").as_array().at(0).at("line") == 3);
  CHECK(o.at("errors").as_array().at(0).at("message").as_string().starts_with("caller_id:"));

  r = cli({"import", "-", "--atomic"}, mixed);
  CHECK(r.code == 4);
  CHECK_THAT(r.out, Catch::Contains("nothing was written"));

  r = cli({"import", "-", "--dry-run"}, "2125559999\n");
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("dry run: 1 valid"));
  CHECK(cli.store->get_number("2125559999", {}) == std::nullopt);

  r = cli({"import", "-"}, "caller_id,colour\n");
  CHECK(r.code == 4);
  CHECK_THAT(r.err, Catch::Contains("line 1: header: unknown column 'colour'") &&
                        Catch::Contains("nothing was imported"));

  // --json still prints the summary when the header stops the file.
  r = cli({"import", "-", "--json"}, "caller_id,colour\n2125551234,red\n");
  CHECK(r.code == 4);
  const auto h = parse_object(r.out);
  CHECK(h.at("committed") == false);
  CHECK(h.at("rows") == 0);
  CHECK(h.at("errors").as_array().at(0).at("line") == 1);
  CHECK(h.at("errors").as_array().at(0).at("message").as_string().starts_with("header: unknown"));

  r = cli({"import"});
  CHECK(r.code == 1);
  // The missing argument is named as in the synopsis, not as the hidden option behind it.
  CHECK(r.err == "cidrot import: missing argument FILE (see 'cidrot import --help')\n");
  r = cli({"show"});
  CHECK(r.code == 1);
  CHECK(r.err == "cidrot show: missing argument CALLER_ID (see 'cidrot show --help')\n");
  CHECK(cli({"import", "/nonexistent/file.csv"}).code == 1);
  // A directory is a file that cannot be read (exit 1), not an internal error (exit 3).
  r = cli({"import", "/"});
  CHECK(r.code == 1);
  CHECK(r.err == "cidrot import: cannot read '/': Is a directory\n");
  CHECK(cli({"import", "-", "--chunk-size", "0"}, "").code == 1);
}

TEST_CASE("run: export writes the seed format; --full adds columns", "[cli][run][export]") {
  Cli cli;
  REQUIRE(cli({"add", "6465550100", "--carrier", "A, Inc.", "--campaigns", "x;y",
               "--max-concurrent", "2", "--disabled"})
              .code == 0);
  REQUIRE(cli({"add", "2125551234", "--meta", R"({"a":"b"})", "--daily-limit", "3"}).code == 0);
  auto r = cli({"export"});
  REQUIRE(r.code == 0);
  CHECK(r.out ==
        "caller_id,carrier,area_code,daily_limit,hourly_limit,meta_json\n"
        "2125551234,,212,3,0,\"{\"\"a\"\":\"\"b\"\"}\"\n"
        "6465550100,\"A, Inc.\",646,0,0,{}\n");
  r = cli({"export", "--full"});
  CHECK_THAT(r.out, Catch::Contains("6465550100,\"A, Inc.\",646,0,0,{},x;y,false,2\n"));
  r = cli({"export", "--active"});
  CHECK_THAT(r.out, !Catch::Contains("6465550100"));
}

TEST_CASE("run: stats, backends, version", "[cli][run]") {
  Cli cli;
  REQUIRE(cli({"add", "2125551234"}).code == 0);
  REQUIRE(cli({"add", "2125551235", "--disabled"}).code == 0);
  REQUIRE(cli({"next", "--to", "2125550000", "--campaign", "sales"}).code == 0);
  auto r = cli({"stats", "--json"});
  REQUIRE(r.code == 0);
  const auto o = parse_object(r.out);
  CHECK(o.at("numbers") == 2);
  CHECK(o.at("active") == 1);
  CHECK(o.at("disabled") == 1);
  CHECK(o.at("active_leases") == 1);
  CHECK(o.at("leases_by_campaign").at("sales") == 1);
  r = cli({"stats", "--area-codes"});
  CHECK_THAT(r.out, Catch::Contains("numbers         2 (active 1, disabled 1)") &&
                        Catch::Contains("212  1 / 0"));

  r = cli({"backends", "--json"});
  const auto arr = json::parse(r.out).as_array();
  CHECK(std::find(arr.begin(), arr.end(), json::value("memory")) != arr.end());
  CHECK(cli({"version"}).out == std::string("cidrot ") + cidrot::version() + "\n");
  CHECK(parse_object(cli({"version", "--json"}).out).at("version") == cidrot::version());
}

TEST_CASE("run: an unknown store scheme is a usage error, not a crash", "[cli][run]") {
  std::istringstream in;
  std::ostringstream out, err;
  cidrot::cli::Io io(in, out, err);
  io.read_dotenv = false;
  io.getenv = [](const char*) -> const char* { return nullptr; };
  CHECK(run({"--store", "bogus://x", "list"}, io) == 1);
  CHECK_THAT(err.str(), Catch::StartsWith("cidrot list: url: unsupported scheme"));
}
