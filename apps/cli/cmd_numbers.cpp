// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// Number management: add, list, show, enable, disable, remove, set.
#include <algorithm>
#include <iomanip>
#include <ostream>
#include <sstream>

#include "cidrot/error.h"
#include "cidrot/nanp.h"
#include "json_out.h"
#include "session.h"

namespace cidrot::cli {
namespace {

namespace json = boost::json;

// Options that describe a number's configuration, shared by `add` and `set`.
void add_config_options(po::options_description& d) {
  d.add_options()("carrier", po::value<std::string>()->value_name("TEXT"), "carrier name")(
      "daily-limit", po::value<std::int64_t>()->value_name("N"), "leases per day (0 = no cap)")(
      "hourly-limit", po::value<std::int64_t>()->value_name("N"), "leases per hour (0 = no cap)")(
      "campaigns", po::value<std::vector<std::string>>()->value_name("A,B")->composing(),
      "campaigns it serves (repeatable or comma-separated; none = every campaign)")(
      "max-concurrent", po::value<std::int32_t>()->value_name("N"),
      "simultaneous leases allowed (1 = exclusive)")(
      "meta", po::value<std::string>()->value_name("JSON"), "free-form JSON object");
}

void apply_config_options(const po::variables_map& vm, Number& n) {
  if (vm.count("carrier")) n.carrier = vm["carrier"].as<std::string>();
  if (vm.count("daily-limit")) n.daily_limit = vm["daily-limit"].as<std::int64_t>();
  if (vm.count("hourly-limit")) n.hourly_limit = vm["hourly-limit"].as<std::int64_t>();
  if (vm.count("campaigns"))
    n.campaigns = split_list(vm["campaigns"].as<std::vector<std::string>>());
  if (vm.count("max-concurrent")) n.max_concurrent = vm["max-concurrent"].as<std::int32_t>();
  if (vm.count("meta")) n.meta_json = vm["meta"].as<std::string>();
}

po::options_description caller_id_positional(bool many) {
  po::options_description d;
  if (many) {
    d.add_options()("caller-id", po::value<std::vector<std::string>>()->required());
  } else {
    d.add_options()("caller-id", po::value<std::string>()->required());
  }
  return d;
}

po::positional_options_description caller_id_position(bool many) {
  po::positional_options_description p;
  p.add("caller-id", many ? -1 : 1);
  return p;
}

std::string limit_text(std::int64_t count, const std::optional<std::int64_t>& limit) {
  return std::to_string(count) + "/" + (limit.value_or(0) > 0 ? std::to_string(*limit) : "-");
}

std::string campaigns_text(const Number& n) {
  if (n.campaigns.empty()) return "*";
  std::string s;
  for (const auto& c : n.campaigns) s += (s.empty() ? "" : ",") + c;
  return s;
}

std::string area_text(const std::string& area_code) {
  const AreaCode* a = find_area_code(std::atoi(area_code.c_str()));
  if (!a) return area_code;
  std::string s = area_code + " (" + a->region;
  if (a->time_zones) s += ", " + time_zone_names(a->time_zones);
  return s + ")";
}

void print_table_header(std::ostream& out) {
  out << std::left << std::setw(11) << "CALLER_ID" << std::setw(5) << "AREA" << std::setw(16)
      << "CARRIER" << std::setw(7) << "ACTIVE" << std::setw(12) << "HOUR" << std::setw(12) << "DAY"
      << std::setw(7) << "LEASES" << std::setw(9) << "USES" << std::setw(25) << "LAST_USED"
      << "CAMPAIGNS\n";
}

void print_row(std::ostream& out, const NumberState& s) {
  const Number& n = s.number;
  const std::string last = iso_time(s.last_used);
  out << std::left << std::setw(11) << n.caller_id << std::setw(5) << n.area_code << std::setw(16)
      << n.carrier.substr(0, 15) << std::setw(7) << (n.active ? "yes" : "no") << std::setw(12)
      << limit_text(s.hour_count, n.hourly_limit) << std::setw(12)
      << limit_text(s.day_count, n.daily_limit) << std::setw(7) << s.active_leases << std::setw(9)
      << s.total_uses << std::setw(25) << (last.empty() ? "never" : last) << campaigns_text(n)
      << '\n';
}

// enable, disable and remove share their shape: each named number, exit 5 if any is missing.
int for_each_number(Session& s, const std::vector<std::string>& args, const char* done,
                    bool (*action)(Rotator&, const std::string&)) {
  po::options_description visible("Options");
  if (s.help) return s.print_help(visible), kExitOk;
  const auto vm = s.parse(args, visible, caller_id_positional(true), caller_id_position(true));
  int code = kExitOk;
  for (const std::string& id : vm["caller-id"].as<std::vector<std::string>>()) {
    const std::string cid = normalize_nanp(id, "caller_id");
    if (action(s.rotator(), cid)) {
      s.io.out << done << ' ' << cid << '\n';
    } else {
      s.io.err << "cidrot " << s.command.name << ": " << cid << ": no such number\n";
      code = kExitNotFound;
    }
  }
  return code;
}

}  // namespace

int cmd_add(Session& s, const std::vector<std::string>& args) {
  po::options_description visible("Options");
  add_config_options(visible);
  visible.add_options()("area-code", po::value<std::string>()->value_name("NPA"),
                        "its area code (default: derived)")("disabled", "add it inactive")(
      "replace", "replace the configuration of an existing number")(
      "json", "print the stored number as JSON");
  if (s.help) return s.print_help(visible), kExitOk;
  const auto vm = s.parse(args, visible, caller_id_positional(false), caller_id_position(false));

  Rotator& rot = s.rotator();
  Number n;
  n.caller_id = vm["caller-id"].as<std::string>();
  if (vm.count("area-code")) n.area_code = vm["area-code"].as<std::string>();
  n.active = !vm.count("disabled");
  apply_config_options(vm, n);
  n = rot.normalize_number(std::move(n));
  if (!vm.count("replace") && rot.get_number(n.caller_id)) {
    throw NotFound(n.caller_id + ": already exists (use 'cidrot set' to change it, or --replace)");
  }
  const UpsertResult r = rot.add_numbers({n});
  if (vm.count("json")) {
    if (auto state = rot.get_number(n.caller_id)) print_json(s.io.out, app::number_json(*state));
  } else {
    s.io.out << (r.inserted ? "added " : "updated ") << n.caller_id << '\n';
  }
  return kExitOk;
}

int cmd_list(Session& s, const std::vector<std::string>& args) {
  po::options_description visible("Options");
  visible.add_options()("campaign", po::value<std::string>()->value_name("NAME"),
                        "numbers serving this campaign (including those serving every campaign)")(
      "area-code", po::value<std::vector<std::string>>()->value_name("NPA")->composing(),
      "area codes (repeatable or comma-separated)")(
      "state", po::value<std::string>()->value_name("XX"),
      "area codes of a US state or Canadian province (NY, ON, ...)")(
      "prefix", po::value<std::string>()->value_name("DIGITS"), "caller-IDs starting with these")(
      "active", "active numbers only")("disabled", "disabled numbers only")(
      "limited", "numbers at their hourly or daily cap now")(
      "not-limited", "numbers below their caps")("leased", "numbers with an active lease")(
      "not-leased", "numbers without an active lease")(
      "sort", po::value<std::string>()->value_name("KEY")->default_value("caller_id"),
      "caller_id, last_used, hour_count, day_count or total_uses")("desc", "sort descending")(
      "limit", po::value<std::int64_t>()->value_name("N")->default_value(100), "at most N rows")(
      "offset", po::value<std::int64_t>()->value_name("N")->default_value(0), "skip N rows")(
      "all", "every matching row (ignores --limit/--offset)")(
      "json", "print {\"total\": N, \"items\": [...]}");
  if (s.help) return s.print_help(visible), kExitOk;
  const auto vm = s.parse(args, visible);

  auto exclusive = [&](const char* a, const char* b) -> std::optional<bool> {
    if (vm.count(a) && vm.count(b)) {
      throw UsageError(std::string("--") + a + " and --" + b + " exclude each other");
    }
    if (vm.count(a)) return true;
    if (vm.count(b)) return false;
    return std::nullopt;
  };
  ListQuery q;
  if (vm.count("campaign")) q.campaign = vm["campaign"].as<std::string>();
  q.active = exclusive("active", "disabled");
  q.limited = exclusive("limited", "not-limited");
  q.leased = exclusive("leased", "not-leased");
  if (vm.count("prefix")) q.caller_id_prefix = vm["prefix"].as<std::string>();
  std::vector<std::uint16_t> areas;
  if (vm.count("area-code")) {
    for (const std::string& a : split_list(vm["area-code"].as<std::vector<std::string>>())) {
      const int npa = std::atoi(a.c_str());
      if (a.size() != 3 || !std::all_of(a.begin(), a.end(), ::isdigit) || npa < 200) {
        throw UsageError("--area-code: '" + a + "' is not an area code");
      }
      areas.push_back(static_cast<std::uint16_t>(npa));
    }
  }
  if (vm.count("state")) {
    const std::string state = vm["state"].as<std::string>();
    const auto in_state = area_codes_in_region(state);
    if (in_state.empty()) throw UsageError("--state: no area codes in '" + state + "'");
    if (areas.empty()) {
      areas = in_state;
    } else {  // both given: the area codes named that lie in the state
      areas.erase(std::remove_if(areas.begin(), areas.end(),
                                 [&](std::uint16_t a) {
                                   return !std::binary_search(in_state.begin(), in_state.end(), a);
                                 }),
                  areas.end());
      if (areas.empty()) throw UsageError("--area-code: none of them is in " + state);
    }
  }
  q.area_codes = areas;
  const std::string sort = vm["sort"].as<std::string>();
  if (sort == "caller_id")
    q.sort = SortKey::kCallerId;
  else if (sort == "last_used")
    q.sort = SortKey::kLastUsed;
  else if (sort == "hour_count")
    q.sort = SortKey::kHourCount;
  else if (sort == "day_count")
    q.sort = SortKey::kDayCount;
  else if (sort == "total_uses")
    q.sort = SortKey::kTotalUses;
  else
    throw UsageError("--sort: unknown key '" + sort + "'");
  q.descending = vm.count("desc") > 0;

  Rotator& rot = s.rotator();
  // Pages are printed as they arrive, so that --all over a million numbers holds one page.
  const bool as_json = vm.count("json") > 0;
  const bool all = vm.count("all") > 0;
  q.limit = all ? 10000 : vm["limit"].as<std::int64_t>();
  q.offset = all ? 0 : vm["offset"].as<std::int64_t>();
  std::ostream& out = s.io.out;
  std::int64_t shown = 0, total = 0;
  for (;; q.offset += q.limit) {
    const ListPage page = rot.list_numbers(q);
    if (shown == 0) {
      total = page.total;
      if (as_json) {
        out << "{\"total\":" << total << ",\"items\":[";
      } else {
        print_table_header(out);
      }
    }
    for (const NumberState& item : page.items) {
      if (as_json) {
        out << (shown ? "," : "") << json::serialize(app::number_json(item));
      } else {
        print_row(out, item);
      }
      ++shown;
    }
    if (!all || static_cast<std::int64_t>(page.items.size()) < q.limit) break;
  }
  if (as_json) {
    out << "]}\n";
  } else if (shown < total) {
    out << "(" << shown << " of " << total << " shown; use --offset, --limit or --all)\n";
  }
  return kExitOk;
}

int cmd_show(Session& s, const std::vector<std::string>& args) {
  po::options_description visible("Options");
  visible.add_options()("json", "print the number as JSON (with its leases)");
  if (s.help) return s.print_help(visible), kExitOk;
  const auto vm = s.parse(args, visible, caller_id_positional(false), caller_id_position(false));

  Rotator& rot = s.rotator();
  const std::string cid = normalize_nanp(vm["caller-id"].as<std::string>(), "caller_id");
  const auto state = rot.get_number(cid);
  if (!state) throw NotFound(cid + ": no such number");
  std::vector<Lease> leases;
  if (state->active_leases > 0) {
    for (Lease& l : rot.list_leases(10000)) {
      if (l.number.caller_id == cid) leases.push_back(std::move(l));
    }
  }
  if (vm.count("json")) {
    json::object o = app::number_json(*state);
    json::array ls;
    for (const Lease& l : leases) ls.push_back(app::reservation_json(l));
    o["leases"] = std::move(ls);
    print_json(s.io.out, o);
    return kExitOk;
  }
  const Number& n = state->number;
  const std::string last = iso_time(state->last_used);
  std::ostream& out = s.io.out;
  auto row = [&](const char* key) -> std::ostream& {
    return out << std::left << std::setw(16) << key;
  };
  row("caller_id") << n.caller_id << '\n';
  row("area_code") << area_text(n.area_code) << '\n';
  row("carrier") << n.carrier << '\n';
  row("active") << (n.active ? "yes" : "no") << '\n';
  row("campaigns") << (n.campaigns.empty() ? "* (every campaign)" : campaigns_text(n)) << '\n';
  row("max_concurrent") << n.max_concurrent << '\n';
  row("hourly") << limit_text(state->hour_count, n.hourly_limit)
                << (state->hourly_capped() ? " (capped)" : "") << '\n';
  row("daily") << limit_text(state->day_count, n.daily_limit)
               << (state->daily_capped() ? " (capped)" : "") << '\n';
  row("total_uses") << state->total_uses << '\n';
  row("last_used") << (last.empty() ? "never" : last) << '\n';
  if (!state->last_disposition.empty() || state->last_duration_s >= 0) {
    row("last_outcome") << (state->last_disposition.empty() ? "-" : state->last_disposition);
    if (state->last_duration_s >= 0) out << " (" << state->last_duration_s << " s)";
    out << '\n';
  }
  row("meta") << n.meta_json << '\n';
  row("active_leases") << state->active_leases << '\n';
  for (const Lease& l : leases) {
    out << "  " << l.id << "  " << l.campaign << "  agent=" << (l.agent.empty() ? "-" : l.agent)
        << "  to=" << l.destination << "  expires " << iso_time(l.expires_at) << '\n';
  }
  return kExitOk;
}

int cmd_enable(Session& s, const std::vector<std::string>& args) {
  return for_each_number(s, args, "enabled",
                         [](Rotator& r, const std::string& id) { return r.set_active(id, true); });
}

int cmd_disable(Session& s, const std::vector<std::string>& args) {
  return for_each_number(s, args, "disabled",
                         [](Rotator& r, const std::string& id) { return r.set_active(id, false); });
}

int cmd_remove(Session& s, const std::vector<std::string>& args) {
  return for_each_number(s, args, "removed",
                         [](Rotator& r, const std::string& id) { return r.remove_number(id); });
}

int cmd_set(Session& s, const std::vector<std::string>& args) {
  po::options_description visible("Options");
  add_config_options(visible);
  visible.add_options()("add-campaign",
                        po::value<std::vector<std::string>>()->value_name("NAME")->composing(),
                        "add campaigns to those it serves")(
      "remove-campaign", po::value<std::vector<std::string>>()->value_name("NAME")->composing(),
      "remove campaigns from those it serves")("all-campaigns",
                                               "serve every campaign (clears its list)")(
      "json", "print the updated number as JSON");
  if (s.help) return s.print_help(visible), kExitOk;
  const auto vm = s.parse(args, visible, caller_id_positional(false), caller_id_position(false));
  static const char* const kChanges[] = {"carrier",      "daily-limit",     "hourly-limit",
                                         "campaigns",    "max-concurrent",  "meta",
                                         "add-campaign", "remove-campaign", "all-campaigns"};
  if (std::none_of(std::begin(kChanges), std::end(kChanges),
                   [&](const char* k) { return vm.count(k) > 0; })) {
    throw UsageError("nothing to change (see 'cidrot set --help')");
  }
  if (vm.count("all-campaigns") && (vm.count("campaigns") || vm.count("add-campaign"))) {
    throw UsageError("--all-campaigns excludes --campaigns and --add-campaign");
  }

  Rotator& rot = s.rotator();
  const std::string cid = normalize_nanp(vm["caller-id"].as<std::string>(), "caller_id");
  // Read-modify-write: a concurrent `set` of the same number may be overwritten (last one wins).
  auto state = rot.get_number(cid);
  if (!state) throw NotFound(cid + ": no such number");
  Number n = state->number;
  apply_config_options(vm, n);
  if (vm.count("all-campaigns")) n.campaigns.clear();
  if (vm.count("add-campaign")) {
    for (const auto& c : split_list(vm["add-campaign"].as<std::vector<std::string>>())) {
      if (std::find(n.campaigns.begin(), n.campaigns.end(), c) == n.campaigns.end()) {
        n.campaigns.push_back(c);
      }
    }
  }
  if (vm.count("remove-campaign")) {
    for (const auto& c : split_list(vm["remove-campaign"].as<std::vector<std::string>>())) {
      n.campaigns.erase(std::remove(n.campaigns.begin(), n.campaigns.end(), c), n.campaigns.end());
    }
    if (n.campaigns.empty() && !state->number.campaigns.empty()) {
      throw UsageError(
          "--remove-campaign would leave no campaign, which means every campaign; "
          "use --all-campaigns for that, or disable the number");
    }
  }
  rot.add_numbers({n});
  if (vm.count("json")) {
    if (auto updated = rot.get_number(cid)) print_json(s.io.out, app::number_json(*updated));
  } else {
    s.io.out << "updated " << cid << '\n';
  }
  return kExitOk;
}

}  // namespace cidrot::cli
