// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// The seed-format CSV reader/writer and the import driver (apps/common/csv_import).
#include "cidrot_app/csv_import.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cidrot/cidrot.h"

namespace csv = cidrot::app::csv;
using cidrot::Number;

namespace {

struct Parsed {
  std::vector<Number> rows;
  std::vector<std::int64_t> row_lines;
  std::vector<csv::RowError> errors;
  bool header = false;
};

Parsed parse(const std::string& text, csv::ReaderOptions options = {}) {
  std::istringstream in(text);
  csv::Reader reader(in, options);
  Parsed p;
  Number n;
  csv::RowError e;
  for (;;) {
    const auto st = reader.next(n, e);
    if (st == csv::Reader::Status::kEnd) break;
    if (st == csv::Reader::Status::kRow) {
      p.rows.push_back(n);
      p.row_lines.push_back(reader.line());
    } else {
      p.errors.push_back(e);
    }
  }
  p.header = reader.has_header();
  return p;
}

}  // namespace

TEST_CASE("csv: the seed format with and without a header", "[csv]") {
  const std::string body =
      "2125551234,Verizon,212,1000,100,\"{\"\"state\"\": \"\"NY\"\"}\"\n"
      "6465550100,ATT,,,,\n";
  for (const bool with_header : {true, false}) {
    const Parsed p = parse(
        (with_header ? "caller_id,carrier,area_code,daily_limit,hourly_limit,meta_json\n" : "") +
        body);
    CHECK(p.header == with_header);
    REQUIRE(p.errors.empty());
    REQUIRE(p.rows.size() == 2);
    CHECK(p.rows[0].caller_id == "2125551234");
    CHECK(p.rows[0].carrier == "Verizon");
    CHECK(p.rows[0].area_code == "212");
    CHECK(p.rows[0].daily_limit == 1000);
    CHECK(p.rows[0].hourly_limit == 100);
    CHECK(p.rows[0].meta_json == R"({"state": "NY"})");
    CHECK(p.rows[1].area_code == "646");             // derived
    CHECK_FALSE(p.rows[1].daily_limit.has_value());  // the Rotator's default
    CHECK_FALSE(p.rows[1].hourly_limit.has_value());
    CHECK(p.rows[1].meta_json == "{}");
    CHECK(p.row_lines == std::vector<std::int64_t>{with_header ? 2 : 1, with_header ? 3 : 2});
  }
}

TEST_CASE("csv: caller-IDs in any NANP spelling, short rows, spaces around fields", "[csv]") {
  const Parsed p = parse("+1 (212) 555-1234 , Verizon \n12125550001\n 212.555.0002 ,\"  x  \"\n");
  REQUIRE(p.errors.empty());
  REQUIRE(p.rows.size() == 3);
  CHECK(p.rows[0].caller_id == "2125551234");
  CHECK(p.rows[0].carrier == "Verizon");
  CHECK(p.rows[1].caller_id == "2125550001");
  CHECK(p.rows[2].caller_id == "2125550002");
  CHECK(p.rows[2].carrier == "  x  ");  // quoted: kept verbatim
}

TEST_CASE("csv: header columns by name, in any order, with the extended columns", "[csv]") {
  // The header is the first line that names caller_id, wherever that column is.
  const Parsed p = parse(
      "\nHourly_Limit,caller_id,meta,active,campaigns,max_concurrent\n"
      "5,2125551234,{},false,sales;support,3\n");
  REQUIRE(p.header);
  REQUIRE(p.errors.empty());
  REQUIRE(p.rows.size() == 1);
  CHECK(p.rows[0].caller_id == "2125551234");
  CHECK(p.rows[0].hourly_limit == 5);
  CHECK(p.rows[0].max_concurrent == 3);
  // A first line without it is data, even if other fields look like column names.
  const Parsed d = parse("2125551234,carrier\n");
  CHECK_FALSE(d.header);
  REQUIRE(d.rows.size() == 1);
  CHECK(d.rows[0].carrier == "carrier");

  const Parsed q = parse(
      "caller_id,Hourly_Limit,meta,active,campaigns,max_concurrent\n"
      "2125551234,5,{},false,sales;support,3\n"
      "2125551235,,,yes,,\n");
  REQUIRE(q.header);
  REQUIRE(q.errors.empty());
  REQUIRE(q.rows.size() == 2);
  CHECK(q.rows[0].hourly_limit == 5);
  CHECK_FALSE(q.rows[0].daily_limit.has_value());
  CHECK_FALSE(q.rows[0].active);
  CHECK(q.rows[0].campaigns == std::vector<std::string>{"sales", "support"});
  CHECK(q.rows[0].max_concurrent == 3);
  CHECK(q.rows[1].active);
  CHECK(q.rows[1].campaigns.empty());
  CHECK(q.rows[1].max_concurrent == 1);
}

TEST_CASE("csv: a bad header stops the file", "[csv]") {
  CHECK_THROWS_AS(parse("caller_id,carrier,colour\n2125551234,a,b\n"), csv::FormatError);
  CHECK_THROWS_WITH(parse("caller_id,carrier,colour\n"),
                    Catch::Contains("line 1") && Catch::Contains("colour"));
  CHECK_THROWS_WITH(parse("\n\ncaller_id,carrier,carrier\n"),
                    Catch::Contains("line 3") && Catch::Contains("twice"));
}

TEST_CASE("csv: per-row errors carry the line and reason; good rows around them survive", "[csv]") {
  const Parsed p = parse(
      "caller_id,carrier,area_code,daily_limit,hourly_limit,meta_json\n"  // 1
      "2125551234,a\n"                                                    // 2 ok
      "12345,short\n"                                                     // 3 bad number
      "2125551235,a,,-1\n"                                                // 4 negative limit
      "2125551236,a,,,12x\n"                                              // 5 bad limit
      "2125551237,a,,,,\"{}\",extra\n"                                    // 6 too many fields
      ",a\n"                                                              // 7 empty caller_id
      "0125551238\n"                                                      // 8 NPA starts with 0
      "2125551239,\"quoted\"junk,212\n"                                   // 9 text after quote
      "2125551240\n");                                                    // 10 ok
  CHECK(p.row_lines == std::vector<std::int64_t>{2, 10});
  REQUIRE(p.rows.size() == 2);
  REQUIRE(p.errors.size() == 7);
  std::vector<std::int64_t> lines;
  for (const auto& e : p.errors) lines.push_back(e.line);
  CHECK(lines == std::vector<std::int64_t>{3, 4, 5, 6, 7, 8, 9});
  CHECK_THAT(p.errors[0].reason, Catch::StartsWith("caller_id:"));
  CHECK_THAT(p.errors[1].reason, Catch::StartsWith("daily_limit:"));
  CHECK_THAT(p.errors[2].reason, Catch::StartsWith("hourly_limit:") && Catch::Contains("12x"));
  CHECK_THAT(p.errors[3].reason, Catch::Contains("at most 6 fields, got 7"));
  CHECK_THAT(p.errors[4].reason, Catch::StartsWith("caller_id: empty"));
  CHECK_THAT(p.errors[5].reason, Catch::StartsWith("caller_id:"));
  CHECK_THAT(p.errors[6].reason, Catch::Contains("closing quote"));
}

TEST_CASE("csv: RFC 4180 quoting, multi-line fields, CRLF, BOM, blank and comment lines", "[csv]") {
  const std::string text =
      "\xEF\xBB\xBF"
      "caller_id,carrier,area_code,daily_limit,hourly_limit,meta_json\r\n"  // 1
      "\r\n"                                                                // 2
      "# a comment, with \"quotes\r\n"                                      // 3
      "2125551234,\"Big, \"\"Quoted\"\"\r\nCarrier\",212,,,\r\n"            // 4-5
      "2125551235,x\r\n"                                                    // 6
      "2125551236,x";                                                       // 7, no final newline
  const Parsed p = parse(text);
  REQUIRE(p.header);
  REQUIRE(p.errors.empty());
  REQUIRE(p.rows.size() == 3);
  CHECK(p.rows[0].carrier == "Big, \"Quoted\"\r\nCarrier");
  CHECK(p.row_lines == std::vector<std::int64_t>{4, 6, 7});
}

TEST_CASE("csv: lone CR line ends count as lines", "[csv]") {
  const Parsed p = parse("2125551234\r12345\r2125551235\r");
  REQUIRE(p.rows.size() == 2);
  REQUIRE(p.errors.size() == 1);
  CHECK(p.errors[0].line == 2);
  CHECK(p.row_lines == std::vector<std::int64_t>{1, 3});
}

TEST_CASE("csv: an unterminated quote is reported at the line where it opened", "[csv]") {
  const Parsed p = parse("2125551234,a\n2125551235,\"open\n2125551236,b\n");
  REQUIRE(p.rows.size() == 1);
  REQUIRE(p.errors.size() == 1);
  CHECK(p.errors[0].line == 2);
  CHECK_THAT(p.errors[0].reason, Catch::Contains("unterminated"));
}

TEST_CASE("csv: over-long records are rejected and skipped, the next line is read", "[csv]") {
  csv::ReaderOptions options;
  options.max_record_bytes = 64;
  const std::string long_line = "2125551234," + std::string(200, 'x');
  const std::string long_quoted = "2125551235,\"" + std::string(200, 'y') + "\"";
  const Parsed p = parse(
      long_line + "\n" + long_quoted + "\n2125551236,ok\n" + std::string(100, ',') + "\n", options);
  REQUIRE(p.rows.size() == 1);
  CHECK(p.rows[0].caller_id == "2125551236");
  CHECK(p.row_lines == std::vector<std::int64_t>{3});
  REQUIRE(p.errors.size() == 3);
  CHECK(p.errors[0].line == 1);
  CHECK(p.errors[1].line == 2);
  CHECK(p.errors[2].line == 4);
  CHECK_THAT(p.errors[0].reason, Catch::Contains("longer than 64 bytes"));
}

TEST_CASE("csv: unquoted JSON in the last column may contain commas", "[csv]") {
  const Parsed p = parse(
      "2125551234,Verizon,212,1000,100,{\"state\": \"NY\", \"type\": \"mobile\"}\n"
      "caller_id_not_a_header\n");
  REQUIRE(p.rows.size() == 1);
  CHECK(p.rows[0].meta_json == R"({"state": "NY", "type": "mobile"})");
  // Elsewhere a brace gets no special treatment: unquoted JSON with commas breaks the row.
  const Parsed q = parse("caller_id,meta_json,carrier\n2125551234,{\"a\": 1, \"b\": 2},x\n");
  CHECK(q.rows.empty());
  CHECK(q.errors.size() == 1);
}

TEST_CASE("csv: write_row quotes what needs it and reads back identically", "[csv]") {
  Number n;
  n.caller_id = "2125551234";
  n.area_code = "212";
  n.carrier = " Comma, \"Quote\"\nNewline ";
  n.daily_limit = 0;
  n.hourly_limit = 7;
  n.meta_json = R"({"a":"b,c","d":[1,2]})";
  n.campaigns = {"sales", "support"};
  n.active = false;
  n.max_concurrent = 4;
  for (const bool full : {false, true}) {
    std::ostringstream out;
    csv::write_header(out, full);
    csv::write_row(out, n, full);
    const Parsed p = parse(out.str());
    REQUIRE(p.errors.empty());
    REQUIRE(p.rows.size() == 1);
    const Number& r = p.rows[0];
    CHECK(r.caller_id == n.caller_id);
    CHECK(r.carrier == n.carrier);
    CHECK(r.area_code == n.area_code);
    CHECK(r.daily_limit == n.daily_limit);
    CHECK(r.hourly_limit == n.hourly_limit);
    CHECK(r.meta_json == n.meta_json);
    if (full) {
      CHECK(r.campaigns == n.campaigns);
      CHECK(r.active == n.active);
      CHECK(r.max_concurrent == n.max_concurrent);
    }
  }
  std::string field;
  csv::append_field(field, "plain");
  CHECK(field == "plain");
}

// ---- the import driver over a real Rotator (memory://) ----

namespace {

struct Fixture {
  std::shared_ptr<cidrot::Store> store = cidrot::open_store("memory://");
  cidrot::Rotator rot{store};

  csv::ImportSummary import(const std::string& text, csv::ImportOptions options = {},
                            std::vector<csv::RowError>* rejected = nullptr) {
    std::istringstream in(text);
    csv::ImportSummary summary;
    csv::ImportCallbacks cb;
    if (rejected) cb.on_reject = [&](const csv::RowError& e) { rejected->push_back(e); };
    csv::import_csv(in, rot, options, summary, cb);
    return summary;
  }
  std::int64_t count() { return rot.stats().numbers; }
};

std::string rows(int from, int to) {
  std::string s;
  for (int i = from; i < to; ++i)
    s += std::to_string(2125550000 + i) + ",c" + std::to_string(i) + "\n";
  return s;
}

}  // namespace

TEST_CASE("import: chunks commit as they go; counts add up", "[csv][import]") {
  Fixture f;
  csv::ImportOptions o;
  o.chunk_rows = 3;
  const auto s = f.import(rows(0, 10), o);
  CHECK(s.rows == 10);
  CHECK(s.valid == 10);
  CHECK(s.inserted == 10);
  CHECK(s.updated == 0);
  CHECK(s.rejected == 0);
  CHECK(s.committed);
  CHECK(f.count() == 10);
  // The same file again updates every row.
  const auto again = f.import(rows(0, 10), o);
  CHECK(again.inserted == 0);
  CHECK(again.updated == 10);
  CHECK(f.count() == 10);
}

TEST_CASE("import: bad rows are reported and skipped; meta and area checks are the Rotator's",
          "[csv][import]") {
  Fixture f;
  std::vector<csv::RowError> rejected;
  const auto s = f.import(
      "2125551234,a,,,,\"{\"\"ok\"\":1}\"\n"
      "2125551235,a,,,,[1]\n"  // meta not an object
      "2125551236,a,310\n"     // area code does not match
      "2125551237,a\n",
      {}, &rejected);
  CHECK(s.rows == 4);
  CHECK(s.inserted == 2);
  CHECK(s.rejected == 2);
  REQUIRE(rejected.size() == 2);
  CHECK(rejected[0].line == 2);
  CHECK_THAT(rejected[0].reason, Catch::StartsWith("meta"));
  CHECK(rejected[1].line == 3);
  CHECK_THAT(rejected[1].reason, Catch::StartsWith("area_code"));
  CHECK(s.errors.size() == 2);
  CHECK(f.count() == 2);
}

TEST_CASE("import: --atomic writes nothing when any row is rejected, everything otherwise",
          "[csv][import]") {
  Fixture f;
  csv::ImportOptions o;
  o.atomic = true;
  o.chunk_rows = 2;  // ignored by atomic
  auto s = f.import(rows(0, 5) + "bad\n" + rows(5, 8), o);
  CHECK(s.rejected == 1);
  CHECK(s.valid == 8);
  CHECK_FALSE(s.committed);
  CHECK(s.inserted == 0);
  CHECK(f.count() == 0);
  s = f.import(rows(0, 8), o);
  CHECK(s.committed);
  CHECK(s.inserted == 8);
  CHECK(f.count() == 8);
}

TEST_CASE("import: dry run validates and writes nothing", "[csv][import]") {
  Fixture f;
  csv::ImportOptions o;
  o.dry_run = true;
  const auto s = f.import(rows(0, 4) + "x\n", o);
  CHECK(s.valid == 4);
  CHECK(s.rejected == 1);
  CHECK_FALSE(s.committed);
  CHECK(f.count() == 0);
}

TEST_CASE("import: a caller-ID repeated in the file: the later row wins", "[csv][import]") {
  Fixture f;
  const auto s = f.import("2125551234,first\n2125551235,x\n2125551234,second\n");
  CHECK(s.inserted == 2);
  CHECK(s.updated == 1);
  CHECK(f.rot.get_number("2125551234")->number.carrier == "second");
}

TEST_CASE("import: only the first max_errors_kept errors are kept, all are counted",
          "[csv][import]") {
  Fixture f;
  csv::ImportOptions o;
  o.max_errors_kept = 3;
  std::string text;
  for (int i = 0; i < 10; ++i) text += "bad" + std::to_string(i) + "\n";
  const auto s = f.import(text, o);
  CHECK(s.rejected == 10);
  CHECK(s.errors.size() == 3);
}

TEST_CASE("import: rows take the Rotator's default limits", "[csv][import]") {
  cidrot::RotatorOptions ro;
  ro.default_daily_limit = 1000;
  ro.default_hourly_limit = 100;
  cidrot::Rotator rot(cidrot::open_store("memory://"), ro);
  std::istringstream in("2125551234\n2125551235,x,,5,0\n");
  csv::ImportSummary s;
  csv::import_csv(in, rot, {}, s);
  REQUIRE(s.inserted == 2);
  CHECK(rot.get_number("2125551234")->number.daily_limit == 1000);
  CHECK(rot.get_number("2125551234")->number.hourly_limit == 100);
  CHECK(rot.get_number("2125551235")->number.daily_limit == 5);
  CHECK(rot.get_number("2125551235")->number.hourly_limit == 0);
}

namespace {

// The memory store, recording the size of each upsert batch.
class CountingStore final : public cidrot::Store {
 public:
  std::shared_ptr<cidrot::Store> inner = cidrot::open_store("memory://");
  std::vector<std::size_t> batches;
  bool sorted = true;  // every batch in caller-ID order

  std::string backend_name() const override { return inner->backend_name(); }
  cidrot::UpsertResult upsert_numbers(const std::vector<Number>& numbers) override {
    batches.push_back(numbers.size());
    sorted = sorted &&
             std::is_sorted(numbers.begin(), numbers.end(), [](const Number& a, const Number& b) {
               return a.caller_id < b.caller_id;
             });
    return inner->upsert_numbers(numbers);
  }
  bool set_active(const std::string& id, bool active) override {
    return inner->set_active(id, active);
  }
  bool remove_number(const std::string& id) override { return inner->remove_number(id); }
  std::optional<cidrot::NumberState> get_number(const std::string& id,
                                                const cidrot::Windows& w) override {
    return inner->get_number(id, w);
  }
  cidrot::ListPage list_numbers(const cidrot::ListQuery& q, const cidrot::Windows& w) override {
    return inner->list_numbers(q, w);
  }
  cidrot::LeaseResult lease(const cidrot::LeaseRequest& r) override { return inner->lease(r); }
  std::int64_t release(const cidrot::ReleaseRequest& r) override { return inner->release(r); }
  std::int64_t expire(cidrot::TimePoint now) override { return inner->expire(now); }
  std::vector<cidrot::Lease> list_leases(cidrot::TimePoint now, std::int64_t limit) override {
    return inner->list_leases(now, limit);
  }
  cidrot::StoreStats stats(const cidrot::Windows& w) override { return inner->stats(w); }
  void ping() override { inner->ping(); }
};

}  // namespace

TEST_CASE("import: chunks are sorted by caller-ID and grow while upserts are quick",
          "[csv][import]") {
  auto store = std::make_shared<CountingStore>();
  cidrot::Rotator rot(store);
  csv::ImportOptions o;
  o.chunk_rows = 10;
  o.max_chunk_rows = 80;
  o.target_upsert_time = std::chrono::hours(1);  // every upsert is "quick"
  std::string text;
  for (int i = 499; i >= 0; --i) text += std::to_string(2125550000 + i) + "\n";
  std::istringstream in(text);
  csv::ImportSummary s;
  csv::import_csv(in, rot, o, s);
  CHECK(s.inserted == 500);
  CHECK(store->batches == std::vector<std::size_t>{10, 20, 40, 80, 80, 80, 80, 80, 30});
  CHECK(store->sorted);  // the file was in descending order

  // A fixed size without a target.
  auto fixed = std::make_shared<CountingStore>();
  cidrot::Rotator rot2(fixed);
  o.target_upsert_time = std::chrono::milliseconds(0);
  o.chunk_rows = 200;
  std::istringstream in2(text);
  csv::ImportSummary s2;
  csv::import_csv(in2, rot2, o, s2);
  CHECK(fixed->batches == std::vector<std::size_t>{200, 200, 100});
  // The store saw every number once; order within the file does not matter.
  CHECK(rot2.list_numbers({}).total == 500);
}

TEST_CASE("csv: arbitrary input never crashes, hangs or loses count of lines", "[csv]") {
  // Short random texts over the characters that matter to the parser; a deterministic generator
  // so a failure reproduces.
  const std::string alphabet = ",,\"\"\r\n\n{} 2125550019#x";
  std::uint32_t state = 12345;
  auto next = [&] { return state = state * 1664525u + 1013904223u; };
  csv::ReaderOptions options;
  options.max_record_bytes = 40;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string text;
    const std::size_t len = next() % 120;
    for (std::size_t i = 0; i < len; ++i) text.push_back(alphabet[next() % alphabet.size()]);
    INFO(text);
    std::istringstream in(text);
    csv::Reader reader(in, options);
    Number n;
    csv::RowError e;
    std::int64_t last_line = 0;
    int records = 0;
    try {
      for (;;) {
        const auto st = reader.next(n, e);
        if (st == csv::Reader::Status::kEnd) break;
        const std::int64_t line = st == csv::Reader::Status::kRow ? reader.line() : e.line;
        CHECK(line > last_line);  // records move forward through the file
        last_line = line;
        REQUIRE(++records <= static_cast<int>(len) + 1);
        if (st == csv::Reader::Status::kRow) CHECK(n.caller_id.size() == 10);
      }
    } catch (const csv::FormatError&) {
      // a header-like first record naming unknown columns
    }
    CHECK(reader.bytes_read() <= len);
  }
}
