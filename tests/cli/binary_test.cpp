// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// The real `cidrot` binary over SQLite files in temporary directories: import (good, bad, mixed,
// atomic, dry run, stdin), export round trips, each command's happy and error path, settings
// from the environment and .env, and several processes leasing from one file at once.
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "process.h"

namespace json = boost::json;
using cidrot::test::Process;
using cidrot::test::ProcessOptions;
using cidrot::test::ProcessResult;
using cidrot::test::read_file;
using cidrot::test::TempDir;
using cidrot::test::write_file;

namespace {

// One SQLite store in a fresh directory, and the binary pointed at it.
struct Env {
  TempDir dir;
  std::string url = "sqlite://" + (dir / "cidrot.db");

  ProcessResult operator()(std::vector<std::string> args, const std::string& input = "",
                           std::map<std::string, std::string> env = {}) const {
    args.insert(args.begin(), {CIDROT_CLI_BIN, "--store", url});
    ProcessOptions o;
    o.stdin_text = input;
    o.cwd = dir.path();
    o.env = std::move(env);
    return cidrot::test::run_process(args, o);
  }
  // The binary without --store, for the settings tests.
  ProcessResult bare(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
    args.insert(args.begin(), CIDROT_CLI_BIN);
    ProcessOptions o;
    o.cwd = dir.path();
    o.env = std::move(env);
    return cidrot::test::run_process(args, o);
  }
  std::int64_t count() const {
    const auto r = (*this)({"stats", "--json"});
    REQUIRE(r.code == 0);
    return json::parse(r.out).at("numbers").as_int64();
  }
};

const char* const kGood =
    "caller_id,carrier,area_code,daily_limit,hourly_limit,meta_json\n"
    "2125551234,Verizon,212,1000,100,\"{\"\"state\"\": \"\"NY\"\"}\"\n"
    "2125551235,\"AT&T, Inc.\",,500,50,\n"
    "+1 (646) 555-0100,T-Mobile,646,,,{\"state\": \"NY\", \"type\": \"mobile\"}\n"
    "3105550100,Verizon,310,0,0,{}\n";

const char* const kBad =
    "12345,short\n"
    "2125551236,x,310\n"
    "2125551237,x,,ten\n"
    "2125551238,x,,,,[1]\n";

}  // namespace

TEST_CASE("binary: import a good file", "[cli][binary][import]") {
  Env cli;
  write_file(cli.dir / "good.csv", kGood);
  auto r = cli({"import", "good.csv"});
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Catch::StartsWith("inserted 4, updated 0, rejected 0 (4 rows in "));
  CHECK(r.err.empty());
  CHECK(cli.count() == 4);
  r = cli({"show", "6465550100", "--json"});
  REQUIRE(r.code == 0);
  const auto o = json::parse(r.out);
  CHECK(o.at("carrier") == "T-Mobile");
  CHECK(o.at("meta").at("type") == "mobile");
  // Importing again updates.
  r = cli({"import", "good.csv"});
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Catch::StartsWith("inserted 0, updated 4, rejected 0"));
}

TEST_CASE("binary: import a bad file: every line reported, exit 4, nothing stored",
          "[cli][binary][import]") {
  Env cli;
  write_file(cli.dir / "bad.csv", kBad);
  const auto r = cli({"import", "bad.csv"});
  CHECK(r.code == 4);
  CHECK_THAT(r.out, Catch::StartsWith("inserted 0, updated 0, rejected 4"));
  CHECK_THAT(r.err, Catch::Contains("bad.csv:1: caller_id:") &&
                        Catch::Contains("bad.csv:2: area_code:") &&
                        Catch::Contains("bad.csv:3: daily_limit: 'ten'") &&
                        Catch::Contains("bad.csv:4: meta"));
  CHECK(cli.count() == 0);
}

TEST_CASE("binary: import a mixed file: good rows kept unless --atomic", "[cli][binary][import]") {
  Env cli;
  write_file(cli.dir / "mixed.csv", std::string(kGood) + kBad);
  SECTION("default: good rows kept") {
    const auto r = cli({"import", "mixed.csv"});
    CHECK(r.code == 4);
    CHECK_THAT(r.out, Catch::StartsWith("inserted 4, updated 0, rejected 4"));
    // Lines count from the header: kBad starts on line 6.
    CHECK_THAT(r.err, Catch::StartsWith("mixed.csv:6: caller_id:"));
    CHECK(cli.count() == 4);
  }
  SECTION("--atomic: nothing") {
    const auto r = cli({"import", "--atomic", "mixed.csv"});
    CHECK(r.code == 4);
    CHECK_THAT(r.out, Catch::Contains("nothing was written"));
    CHECK(cli.count() == 0);
  }
  SECTION("--dry-run: nothing") {
    const auto r = cli({"import", "mixed.csv", "--dry-run"});
    CHECK(r.code == 4);
    CHECK_THAT(r.out, Catch::Contains("dry run: 4 valid rows"));
    CHECK(cli.count() == 0);
  }
  SECTION("--atomic with a good file writes it all") {
    write_file(cli.dir / "good.csv", kGood);
    CHECK(cli({"import", "--atomic", "good.csv"}).code == 0);
    CHECK(cli.count() == 4);
  }
}

TEST_CASE("binary: import from stdin and in many chunks", "[cli][binary][import]") {
  Env cli;
  std::string big;
  for (int i = 0; i < 5000; ++i) big += std::to_string(2125550000 + i) + ",c\n";
  const auto r = cli({"import", "-", "--chunk-size", "700"}, big);
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Catch::StartsWith("inserted 5000, updated 0, rejected 0"));
  CHECK(cli.count() == 5000);
  // No terminal: no progress bar.
  CHECK(r.err.empty());
}

TEST_CASE("binary: export round-trips through import", "[cli][binary][export]") {
  Env a;
  write_file(a.dir / "good.csv", kGood);
  REQUIRE(a({"import", "good.csv"}).code == 0);
  REQUIRE(a({"add", "4155550100", "--carrier", " spaced \"quoted\" ", "--campaigns", "x,y",
             "--max-concurrent", "3", "--disabled", "--meta", R"({"note":"a,b\nc"})"})
              .code == 0);
  for (const bool full : {false, true}) {
    INFO("full=" << full);
    std::vector<std::string> args = {"export", "-o", "out.csv"};
    if (full) args.push_back("--full");
    auto r = a(args);
    REQUIRE(r.code == 0);
    CHECK(r.err == "exported 5 numbers to out.csv\n");
    const std::string first = read_file(a.dir.path() / "out.csv");
    CHECK_THAT(first, Catch::StartsWith("caller_id,carrier,area_code,daily_limit,hourly_limit,"
                                        "meta_json"));

    Env b;
    write_file(b.dir / "in.csv", first);
    r = b({"import", "in.csv"});
    REQUIRE(r.code == 0);
    CHECK_THAT(r.out, Catch::StartsWith("inserted 5,"));
    r = b(args);
    REQUIRE(r.code == 0);
    CHECK(read_file(b.dir.path() / "out.csv") == first);
    // Standard output is the same text.
    CHECK(b({"export", full ? "--full" : "--active"}).out.size() <= first.size());
    if (full) {
      const auto shown = json::parse(b({"show", "4155550100", "--json"}).out);
      CHECK(shown.at("active") == false);
      CHECK(shown.at("max_concurrent") == 3);
      CHECK(shown.at("campaigns").as_array().size() == 2);
      CHECK(shown.at("carrier") == " spaced \"quoted\" ");
      CHECK(shown.at("meta").at("note") == "a,b\nc");
    }
  }
  CHECK(a({"export", "-o", "/nonexistent/dir/out.csv"}).code == 1);
}

TEST_CASE("binary: each command's happy path and error path", "[cli][binary]") {
  Env cli;
  auto r = cli({"add", "2125551234", "--hourly-limit", "10", "--campaigns", "sales"});
  CHECK(r.code == 0);
  CHECK(r.out == "added 2125551234\n");
  CHECK(cli({"add", "2125551234"}).code == 5);
  CHECK(cli({"add", "not-a-number"}).code == 1);

  r = cli({"list"});
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("2125551234 212"));
  CHECK(cli({"list", "--limit", "0"}).code == 1);

  CHECK(cli({"show", "2125551234"}).code == 0);
  CHECK(cli({"show", "2125559999"}).code == 5);

  CHECK(cli({"set", "2125551234", "--carrier", "ATT"}).code == 0);
  CHECK(cli({"set", "2125551234", "--hourly-limit", "-3"}).code == 1);

  r = cli({"next", "--to", "212-555-0199", "--campaign", "sales", "--agent", "a1", "--json"});
  REQUIRE(r.code == 0);
  const std::string lease_id(json::parse(r.out).at("reservation_id").as_string());
  r = cli({"next", "--to", "2125550199", "--campaign", "sales"});
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Catch::Contains("all_reserved"));
  CHECK(cli({"next", "--to", "2125550199", "--campaign", "other"}).code == 2);  // pool_empty
  CHECK(cli({"next", "--to", "12", "--campaign", "sales"}).code == 1);

  r = cli({"stats"});
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("store           sqlite"));

  r = cli({"release", lease_id, "--disposition", "answered", "--duration", "30"});
  CHECK(r.code == 0);
  CHECK(r.out == "released 1 lease\n");
  CHECK(cli({"release", lease_id}).out == "released 0 leases\n");
  CHECK(cli({"release", lease_id, "--duration", "x"}).code == 1);
  r = cli({"next", "--to", "2125550199", "--campaign", "sales"});
  CHECK(r.out == "2125551234\n");
  CHECK(cli({"release", "--caller-id", "2125551234"}).out == "released 1 lease\n");

  CHECK(cli({"disable", "2125551234"}).code == 0);
  CHECK(cli({"next", "--to", "2125550199", "--campaign", "sales"}).code == 2);
  CHECK(cli({"enable", "2125551234"}).code == 0);
  CHECK(cli({"disable", "2125559999"}).code == 5);

  r = cli({"backends"});
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("sqlite\n"));
  CHECK_THAT(cli({"version"}).out, Catch::StartsWith("cidrot "));

  CHECK(cli({"remove", "2125551234"}).code == 0);
  CHECK(cli({"remove", "2125551234"}).code == 5);
  CHECK(cli.count() == 0);
}

TEST_CASE("binary: store errors are exit 3 in one line; bad URLs exit 1", "[cli][binary]") {
  TempDir dir;
  auto run = [&](const std::string& url) {
    ProcessOptions o;
    o.cwd = dir.path();
    return cidrot::test::run_process({CIDROT_CLI_BIN, "--store", url, "list"}, o);
  };
  auto r = run("sqlite:///nonexistent/dir/x.db");
  CHECK(r.code == 3);
  CHECK_THAT(r.err, Catch::StartsWith("cidrot list: store error (backend_unavailable): "));
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  write_file(dir / "junk.db", std::string(4096, 'j'));
  r = run("sqlite://" + (dir / "junk.db"));
  CHECK(r.code == 3);
  CHECK_THAT(r.err, Catch::Contains("store error (corrupt)"));
  CHECK(run("bogus://x").code == 1);
  CHECK(run("sqlite://" + (dir / "x.db") + "?colour=red").code == 1);
}

TEST_CASE("binary: settings from CIDROT_STORE, CIDROT_DATA_DIR and .env", "[cli][binary]") {
  Env cli;
  SECTION("CIDROT_STORE") {
    REQUIRE(cli.bare({"add", "2125551234"}, {{"CIDROT_STORE", cli.url}}).code == 0);
    CHECK(cli.count() == 1);
  }
  SECTION("default: cidrot.db in CIDROT_DATA_DIR, as the server") {
    std::filesystem::create_directories(cli.dir.path() / "data");
    REQUIRE(cli.bare({"add", "2125551234"}, {{"CIDROT_DATA_DIR", cli.dir / "data"}}).code == 0);
    CHECK(std::filesystem::exists(cli.dir.path() / "data" / "cidrot.db"));
  }
  SECTION("the seed's .env names in ./.env") {
    write_file(cli.dir / ".env",
               "# the seed's file\nDB_USER=callerid_user\nCIDROT_STORE=" + cli.url +
                   "\nDEFAULT_DAILY_LIMIT=1000\nDEFAULT_HOURLY_LIMIT=100\n"
                   "RESERVATION_TTL_SECONDS=60\n");
    REQUIRE(cli.bare({"add", "2125551234"}).code == 0);
    const auto n = json::parse(cli({"show", "2125551234", "--json"}).out);
    CHECK(n.at("daily_limit") == 1000);
    CHECK(n.at("hourly_limit") == 100);
    const auto r = cli.bare({"next", "--to", "2125550000", "--campaign", "c", "--json"});
    REQUIRE(r.code == 0);
    CHECK(json::parse(r.out).at("caller_id") == "2125551234");
    // The environment beats .env; flags beat both.
    CHECK(cli.bare({"add", "2125551235"}, {{"DEFAULT_DAILY_LIMIT", "7"}}).code == 0);
    CHECK(json::parse(cli({"show", "2125551235", "--json"}).out).at("daily_limit") == 7);
    write_file(cli.dir / ".env", "DEFAULT_HOURLY_LIMIT=many\n");
    const auto bad = cli({"list"});
    CHECK(bad.code == 1);
    CHECK_THAT(bad.err, Catch::Contains(".env:1") && Catch::Contains("DEFAULT_HOURLY_LIMIT"));
  }
}

TEST_CASE("binary: processes leasing from one SQLite file never share a number",
          "[cli][binary][concurrency]") {
  Env cli;
  constexpr int kNumbers = 12;
  constexpr int kCalls = 30;
  std::string csv;
  for (int i = 0; i < kNumbers; ++i) csv += std::to_string(2125550100 + i) + "\n";
  REQUIRE(cli({"import", "-"}, csv).code == 0);

  // All at once, plus an import of other numbers running alongside.
  std::string other;
  for (int i = 0; i < 3000; ++i) other += std::to_string(3105550000 + i) + ",x,,,,,nope\n";
  for (int i = 0; i < 3000; ++i) other += std::to_string(3105550000 + i) + ",x\n";
  ProcessOptions io;
  io.cwd = cli.dir.path();
  io.stdin_text = other;
  Process importer(
      {CIDROT_CLI_BIN, "--store", cli.url, "import", "-", "--quiet", "--chunk-size", "500"}, io);
  std::vector<std::unique_ptr<Process>> calls;
  ProcessOptions co;
  co.cwd = cli.dir.path();
  for (int i = 0; i < kCalls; ++i) {
    // Calls to a 212 destination take the 212 numbers first; once those are leased they fall
    // through to the 310 numbers the importer is adding meanwhile (or are denied).
    calls.push_back(std::make_unique<Process>(
        std::vector<std::string>{CIDROT_CLI_BIN, "--store", cli.url, "next", "--to", "2125550000",
                                 "--campaign", "c", "--agent", "a" + std::to_string(i)},
        co));
  }
  std::multiset<std::string> leased;
  int denied = 0;
  for (auto& p : calls) {
    const auto r = p->wait();
    INFO(r.err);
    REQUIRE((r.code == 0 || r.code == 2));
    if (r.code == 0) leased.insert(r.out.substr(0, 10));
    if (r.code == 2) ++denied;
  }
  const auto imp = importer.wait();
  CHECK(imp.code == 4);  // the first 3000 rows have 7 fields
  CHECK_THAT(imp.out, Catch::StartsWith("inserted 3000,"));
  // Every lease is a distinct number; every 212 number was leased at most once.
  std::set<std::string> distinct(leased.begin(), leased.end());
  CHECK(distinct.size() == leased.size());
  CHECK(static_cast<int>(leased.size()) + denied == kCalls);
  int local = 0;
  for (const auto& id : distinct) local += id.rfind("212", 0) == 0;
  CHECK(local == kNumbers);  // same-NPA numbers are preferred, so all 12 went first
  const auto st = json::parse(cli({"stats", "--json"}).out);
  CHECK(st.at("active_leases") == static_cast<std::int64_t>(leased.size()));
}
