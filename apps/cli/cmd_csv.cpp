// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// CSV import and export in the seed format.
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <memory>
#include <ostream>
#include <sstream>

#include "cidrot/error.h"
#include "cidrot_app/csv_import.h"
#include "json_out.h"
#include "session.h"

namespace cidrot::cli {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kIoBuffer = 1 << 20;
constexpr std::uint64_t kProgressMinBytes = 1 << 20;  // smaller files finish before a bar helps

// A one-line progress bar on a terminal, redrawn at most every 100 ms.
class ProgressBar {
 public:
  ProgressBar(std::ostream& err, std::uint64_t total_bytes) : err_(err), total_(total_bytes) {}

  void update(const app::csv::ImportProgress& p) {
    const auto now = Clock::now();
    if (now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    std::ostringstream line;
    line << "\rimporting ";
    if (total_ > 0) {
      const double frac = std::min(1.0, static_cast<double>(p.bytes) / static_cast<double>(total_));
      const int filled = static_cast<int>(frac * 30);
      line << '[' << std::string(filled, '#') << std::string(30 - filled, '.') << "] "
           << std::setw(3) << static_cast<int>(frac * 100) << "% ";
    }
    line << p.rows << " rows";
    err_ << line.str() << std::flush;
    drawn_ = true;
  }
  // Clears the bar so that the next message starts on a clean line.
  void clear() {
    if (drawn_) err_ << "\r\033[K" << std::flush;
    drawn_ = false;
  }

 private:
  std::ostream& err_;
  std::uint64_t total_;
  Clock::time_point last_{};
  bool drawn_ = false;
};

}  // namespace

int cmd_import(Session& s, const std::vector<std::string>& args) {
  po::options_description visible("Options");
  visible.add_options()("dry-run", "validate every row and report, write nothing")(
      "atomic",
      "all or nothing: write every row in one transaction, and only if none is "
      "rejected (holds the whole file in memory)")(
      "chunk-size", po::value<std::size_t>()->value_name("N"),
      "rows per transaction otherwise (default: adaptive, from 10000 up to 200000 rows while a "
      "transaction takes under 0.25 s)")(
      "quiet,q", "do not print rejected rows (the summary still counts them)")(
      "no-progress", "never draw the progress bar (drawn only on a terminal)")(
      "json", "print the summary as JSON (with the first 1000 rejected rows)");
  po::options_description hidden;
  hidden.add_options()("file", po::value<std::string>()->required());
  po::positional_options_description pos;
  pos.add("file", 1);
  if (s.help) return s.print_help(visible), kExitOk;
  const auto vm = s.parse(args, visible, hidden, pos);

  const std::string path = vm["file"].as<std::string>();
  app::csv::ImportOptions options;
  options.dry_run = vm.count("dry-run") > 0;
  options.atomic = vm.count("atomic") > 0;
  if (vm.count("chunk-size")) {
    options.chunk_rows = vm["chunk-size"].as<std::size_t>();
    if (options.chunk_rows < 1 || options.chunk_rows > 1000000) {
      throw UsageError("--chunk-size: must be between 1 and 1000000");
    }
  } else {
    // Big files load several times faster in big transactions, but a server on the same store
    // waits for each one: grow them only while they stay short.
    options.chunk_rows = 10000;
    options.target_upsert_time = std::chrono::milliseconds(500);
    options.max_chunk_rows = 200000;
  }

  std::istream* in = &s.io.in;
  std::ifstream file;
  std::unique_ptr<char[]> buffer;
  std::uint64_t size = 0;
  const std::string shown = path == "-" ? "<stdin>" : path;
  if (path != "-") {
    buffer = std::make_unique<char[]>(kIoBuffer);
    file.rdbuf()->pubsetbuf(buffer.get(), kIoBuffer);
    file.open(path, std::ios::binary);
    if (!file) throw UsageError("cannot open '" + path + "': " + std::strerror(errno));
    // A directory opens fine and fails at the first read, inside the import.
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
      throw UsageError("cannot read '" + path + "': " + std::strerror(EISDIR));
    }
    file.seekg(0, std::ios::end);
    size = static_cast<std::uint64_t>(std::max<std::streamoff>(0, file.tellg()));
    file.seekg(0, std::ios::beg);
    in = &file;
  }

  Rotator& rot = s.rotator();
  const bool json_out = vm.count("json") > 0;
  const bool quiet = vm.count("quiet") > 0;
  ProgressBar bar(s.io.err, size);
  const bool show_bar =
      s.io.err_is_tty && !vm.count("no-progress") && (path == "-" || size >= kProgressMinBytes);

  app::csv::ImportCallbacks callbacks;
  callbacks.on_reject = [&](const app::csv::RowError& e) {
    if (quiet) return;
    bar.clear();
    s.io.err << shown << ':' << e.line << ": " << e.reason << '\n';
  };
  if (show_bar) callbacks.on_progress = [&](const app::csv::ImportProgress& p) { bar.update(p); };

  app::csv::ImportSummary summary;
  const auto start = Clock::now();
  const auto print_json_summary = [&](double seconds) {
    json::array errors;
    for (const auto& e : summary.errors) {
      errors.push_back(json::object{{"line", e.line}, {"message", e.reason}});
    }
    print_json(s.io.out, json::object{{"rows", summary.rows},
                                      {"valid", summary.valid},
                                      {"inserted", summary.inserted},
                                      {"updated", summary.updated},
                                      {"rejected", summary.rejected},
                                      {"committed", summary.committed},
                                      {"dry_run", options.dry_run},
                                      {"atomic", options.atomic},
                                      {"seconds", seconds},
                                      {"errors", std::move(errors)}});
  };
  const auto imported_before_error = [&] {
    bar.clear();
    if (summary.committed) {
      s.io.err << "cidrot import: " << (summary.inserted + summary.updated)
               << " rows were imported before the error below\n";
    }
  };
  try {
    app::csv::import_csv(*in, rot, options, summary, callbacks);
  } catch (const app::csv::FormatError& e) {
    // A bad header stops the file before any row: a --json caller still gets its summary.
    bar.clear();
    if (json_out) {
      summary.errors.push_back({e.line(), e.reason()});
      print_json_summary(std::chrono::duration<double>(Clock::now() - start).count());
    }
    throw;
  } catch (const Error&) {
    imported_before_error();
    throw;
  } catch (const std::ios_base::failure& e) {
    // A read error (EIO, a file truncated under us) is the file's fault, not an internal one.
    imported_before_error();
    throw UsageError("reading '" + shown + "' failed: " + e.what());
  }
  bar.clear();
  if (in->bad()) throw UsageError("reading '" + shown + "' failed");
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();

  if (json_out) {
    print_json_summary(seconds);
  } else {
    std::ostream& out = s.io.out;
    out << "inserted " << summary.inserted << ", updated " << summary.updated << ", rejected "
        << summary.rejected << " (" << summary.rows << " rows in " << std::fixed
        << std::setprecision(2) << seconds << " s)\n";
    if (options.dry_run) {
      out << "dry run: " << summary.valid << " valid rows; nothing was written\n";
    } else if (options.atomic && summary.rejected > 0) {
      out << "--atomic: nothing was written because rows were rejected\n";
    }
  }
  return summary.rejected > 0 ? kExitRejected : kExitOk;
}

int cmd_export(Session& s, const std::vector<std::string>& args) {
  po::options_description visible("Options");
  visible.add_options()("output,o", po::value<std::string>()->value_name("FILE"),
                        "write to FILE (replaced only once complete) instead of standard output")(
      "full", "add the campaigns, max_concurrent and active columns")(
      "campaign", po::value<std::string>()->value_name("NAME"), "only numbers serving it")(
      "active", "only active numbers");
  if (s.help) return s.print_help(visible), kExitOk;
  const auto vm = s.parse(args, visible);

  const bool full = vm.count("full") > 0;
  std::ofstream file;
  std::unique_ptr<char[]> buffer;
  std::string path, tmp;
  std::ostream* out = &s.io.out;
  if (vm.count("output") && vm["output"].as<std::string>() != "-") {
    path = vm["output"].as<std::string>();
    tmp = path + ".tmp-" + std::to_string(::getpid());
    buffer = std::make_unique<char[]>(kIoBuffer);
    file.rdbuf()->pubsetbuf(buffer.get(), kIoBuffer);
    file.open(tmp, std::ios::binary | std::ios::trunc);
    if (!file) throw UsageError("cannot write '" + tmp + "': " + std::strerror(errno));
    out = &file;
  }
  // Removes the partial file if anything below throws.
  struct TmpGuard {
    std::string path;
    ~TmpGuard() {
      if (!path.empty()) std::remove(path.c_str());
    }
  } guard{tmp};

  ListQuery q;
  if (vm.count("campaign")) q.campaign = vm["campaign"].as<std::string>();
  if (vm.count("active")) q.active = true;
  q.limit = 10000;
  Rotator& rot = s.rotator();
  app::csv::write_header(*out, full);
  std::int64_t rows = 0;
  // Offset paging: numbers added or removed while exporting may be missed or repeated.
  for (q.offset = 0;; q.offset += q.limit) {
    const ListPage page = rot.list_numbers(q);
    for (const NumberState& st : page.items) app::csv::write_row(*out, st.number, full);
    rows += static_cast<std::int64_t>(page.items.size());
    if (static_cast<std::int64_t>(page.items.size()) < q.limit) break;
  }
  out->flush();
  if (!*out) throw UsageError("writing '" + (path.empty() ? "<stdout>" : tmp) + "' failed");
  if (!path.empty()) {
    file.close();
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
      throw UsageError("cannot rename '" + tmp + "' to '" + path + "': " + std::strerror(errno));
    }
    guard.path.clear();
    s.io.err << "exported " << rows << " numbers to " << path << '\n';
  }
  return kExitOk;
}

}  // namespace cidrot::cli
