// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// Calls and the store: next, release, stats, backends, version.
#include <iomanip>
#include <ostream>

#include "cidrot/store.h"
#include "cidrot/version.h"
#include "json_out.h"
#include "session.h"

namespace cidrot::cli {
namespace json = boost::json;

int cmd_next(Session& s, const std::vector<std::string>& args) {
  po::options_description visible("Options");
  visible.add_options()("to", po::value<std::string>()->value_name("NUMBER")->required(),
                        "the destination (2125551234, +1 212 555 1234, ...)")(
      "campaign", po::value<std::string>()->value_name("NAME")->required(), "the campaign")(
      "agent", po::value<std::string>()->value_name("NAME")->default_value(""), "the agent")(
      "ttl", po::value<std::int64_t>()->value_name("SECONDS"),
      "lease length (default: the campaign's, RESERVATION_TTL_SECONDS)")(
      "json", "print {caller_id, carrier, area_code, meta, reservation_id, expires_at, match}");
  if (s.help) return s.print_help(visible), kExitOk;
  const auto vm = s.parse(args, visible);

  CallRequest req;
  req.destination = vm["to"].as<std::string>();
  req.campaign = vm["campaign"].as<std::string>();
  req.agent = vm["agent"].as<std::string>();
  if (vm.count("ttl")) {
    const std::int64_t ttl = vm["ttl"].as<std::int64_t>();
    if (ttl < 1) throw UsageError("--ttl: must be at least 1 second");
    req.ttl = std::chrono::seconds(ttl);
  }
  const LeaseResult r = s.rotator().next(req);
  if (!r) {
    const char* reason = denial_reason_name(r.denial);
    const std::string message =
        std::string("no caller-ID available: ") + app::denial_message(r.denial);
    if (vm.count("json")) {
      print_json(s.io.out, json::object{{"error", "no_caller_id"},
                                        {"reason", reason},
                                        {"message", message},
                                        {"campaign", req.campaign}});
    }
    s.io.out.flush();
    s.io.err << "cidrot next: " << message << " (" << reason << ", campaign '" << req.campaign
             << "')\n";
    return kExitNoCallerId;
  }
  if (vm.count("json")) {
    s.io.out << app::next_cid_json(*r.lease) << '\n';
  } else {
    s.io.out << r.lease->number.caller_id << '\n';
  }
  return kExitOk;
}

int cmd_release(Session& s, const std::vector<std::string>& args) {
  po::options_description visible("Options");
  visible.add_options()("caller-id", po::value<std::string>()->value_name("NUMBER"),
                        "end every lease of this number instead of one lease")(
      "disposition", po::value<std::string>()->value_name("D")->default_value(""),
      "answered, no_answer, busy, failed or voicemail")(
      "duration", po::value<std::int64_t>()->value_name("SECONDS"), "call length")(
      "json", "print {\"released\": N}");
  po::options_description hidden;
  hidden.add_options()("lease-id", po::value<std::string>());
  po::positional_options_description pos;
  pos.add("lease-id", 1);
  if (s.help) return s.print_help(visible), kExitOk;
  const auto vm = s.parse(args, visible, hidden, pos);

  if (vm.count("lease-id") == vm.count("caller-id")) {
    throw UsageError("give either a lease id or --caller-id");
  }
  Outcome outcome;
  outcome.disposition = vm["disposition"].as<std::string>();
  if (vm.count("duration")) {
    outcome.duration_s = vm["duration"].as<std::int64_t>();
    if (outcome.duration_s < 0) throw UsageError("--duration: must be >= 0");
  }
  Rotator& rot = s.rotator();
  const std::int64_t n = vm.count("lease-id")
                             ? rot.release(vm["lease-id"].as<std::string>(), outcome)
                             : rot.release_caller_id(vm["caller-id"].as<std::string>(), outcome);
  if (vm.count("json")) {
    print_json(s.io.out, json::object{{"released", n}});
  } else {
    s.io.out << "released " << n << (n == 1 ? " lease\n" : " leases\n");
  }
  return kExitOk;
}

int cmd_stats(Session& s, const std::vector<std::string>& args) {
  po::options_description visible("Options");
  visible.add_options()("area-codes", "also list every area code's numbers and availability")(
      "json", "print the statistics as JSON");
  if (s.help) return s.print_help(visible), kExitOk;
  const auto vm = s.parse(args, visible);

  const StoreStats st = s.rotator().stats();
  if (vm.count("json")) {
    print_json(s.io.out, app::stats_json(st));
    return kExitOk;
  }
  std::ostream& out = s.io.out;
  auto row = [&](const char* key) -> std::ostream& {
    return out << std::left << std::setw(16) << key;
  };
  row("store") << s.rotator().store().backend_name() << '\n';
  row("numbers") << st.numbers << " (active " << st.active << ", disabled " << st.disabled << ")\n";
  row("leases") << st.active_leases << " on " << st.leased_numbers << " numbers\n";
  row("capped") << "hourly " << st.capped_hourly << ", daily " << st.capped_daily << '\n';
  row("total_uses") << st.total_uses << '\n';
  if (!st.leases_by_campaign.empty()) {
    out << "leases by campaign:\n";
    for (const auto& [name, count] : st.leases_by_campaign) {
      out << "  " << std::setw(24) << name << count << '\n';
    }
  }
  if (vm.count("area-codes")) {
    out << "area codes (active numbers / available now):\n";
    for (const auto& a : st.area_codes) {
      out << "  " << a.npa << "  " << a.numbers << " / " << a.available << '\n';
    }
  }
  return kExitOk;
}

int cmd_backends(Session& s, const std::vector<std::string>& args) {
  po::options_description visible("Options");
  visible.add_options()("json", "print a JSON array");
  if (s.help) return s.print_help(visible), kExitOk;
  const auto vm = s.parse(args, visible);
  const auto names = compiled_backends();
  if (vm.count("json")) {
    json::array a;
    for (const auto& n : names) a.emplace_back(n);
    print_json(s.io.out, a);
  } else {
    for (const auto& n : names) s.io.out << n << '\n';
  }
  return kExitOk;
}

int cmd_version(Session& s, const std::vector<std::string>& args) {
  po::options_description visible("Options");
  visible.add_options()("json", "print {\"version\": ...}");
  if (s.help) return s.print_help(visible), kExitOk;
  const auto vm = s.parse(args, visible);
  if (vm.count("json")) {
    print_json(s.io.out, json::object{{"version", version()}});
  } else {
    s.io.out << "cidrot " << version() << '\n';
  }
  return kExitOk;
}

}  // namespace cidrot::cli
