// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// cidrot.Rotator. Every call that reaches the store runs with the GIL released, so Python threads
// lease concurrently and a slow network store never stalls the interpreter; Python objects are
// only touched before and after, with the GIL held.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common.h"
#include "fastcall.h"

namespace cidrot::python {
namespace {

using RotatorPtr = std::shared_ptr<Rotator>;

SortKey parse_sort(const std::string& s) {
  if (s == "caller_id") return SortKey::kCallerId;
  if (s == "last_used") return SortKey::kLastUsed;
  if (s == "hour_count") return SortKey::kHourCount;
  if (s == "day_count") return SortKey::kDayCount;
  if (s == "total_uses") return SortKey::kTotalUses;
  invalid("sort", "'" + s.substr(0, 32) +
                      "' is not one of caller_id, last_used, hour_count, day_count, total_uses");
}

std::vector<std::uint16_t> parse_area_codes(const py::object& v) {
  std::vector<std::uint16_t> out;
  if (v.is_none()) return out;
  if (py::isinstance<py::str>(v) || !py::isinstance<py::iterable>(v)) {
    invalid("area_codes", "expected a list of area codes");
  }
  for (py::handle item : v) {
    long long npa = -1;
    if (py::isinstance<py::int_>(item) && !py::isinstance<py::bool_>(item)) {
      npa = item.cast<long long>();
    } else if (py::isinstance<py::str>(item)) {
      const std::string s = item.cast<std::string>();
      if (s.size() == 3 && s.find_first_not_of("0123456789") == std::string::npos)
        npa = std::stoll(s);
    }
    if (npa < 200 || npa > 999) invalid("area_codes", "expected 3-digit area codes (200..999)");
    out.push_back(static_cast<std::uint16_t>(npa));
  }
  return out;
}

std::vector<PyLease> wrap_leases(const RotatorPtr& rot, std::vector<Lease> leases) {
  std::vector<PyLease> out;
  out.reserve(leases.size());
  for (auto& l : leases) out.push_back(PyLease{std::move(l), rot, false});
  return out;
}

// A batch is converted with the GIL held (it reads Python objects), then validated and written
// with it released. An invalid item is reported with its index and nothing is written.
UpsertResult add_numbers(const RotatorPtr& rot, const py::iterable& numbers) {
  if (py::isinstance<py::str>(numbers) || py::hasattr(numbers, "keys")) {
    throw Error(ErrorCode::kInvalidArgument,
                "numbers: expected an iterable of mappings (dicts) or cidrot.Number, not a single "
                "string or mapping; wrap one number in a list",
                "numbers");
  }
  std::vector<Number> batch;
  for (py::handle item : numbers) {
    try {
      batch.push_back(number_from_python(item));
    } catch (const Error& e) {
      raise_python_error(e, batch.size());
    }
  }
  std::optional<std::pair<std::size_t, Error>> bad;
  UpsertResult result;
  {
    py::gil_scoped_release nogil;
    for (std::size_t i = 0; i < batch.size() && !bad; ++i) {
      try {
        batch[i] = rot->normalize_number(std::move(batch[i]));
      } catch (const Error& e) {
        bad.emplace(i, e);
      }
    }
    if (!bad) result = rot->add_numbers(std::move(batch));
  }
  if (bad) raise_python_error(bad->second, bad->first);
  return result;
}

PyObject* next_fast(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  return fast::guarded([&]() -> PyObject* {
    PyObject* a[4];
    fast::parse_args("next", args, nargs, kwnames, {"destination", "campaign", "agent", "ttl"}, 3,
                     2, a);
    RotatorPtr rot = py::cast<RotatorPtr>(py::handle(self));
    CallRequest req{fast::str_arg(a[0], "next", "destination"),
                    fast::str_arg(a[1], "next", "campaign"), fast::str_arg(a[2], "next", "agent"),
                    std::chrono::seconds(0)};
    if (a[3] != nullptr && a[3] != Py_None) req.ttl = to_seconds(a[3], "ttl");
    LeaseResult r;
    {
      py::gil_scoped_release nogil;
      r = rot->next(req);
    }
    if (r) return py::cast(PyLease{std::move(*r.lease), std::move(rot), false}).release().ptr();
    return py::cast(PyDenial{r.denial, std::move(req.destination), std::move(req.campaign)})
        .release()
        .ptr();
  });
}

PyMethodDef next_def = {
    "next", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&next_fast)),
    METH_FASTCALL | METH_KEYWORDS,
    "next($self, destination, campaign, agent='', *, ttl=None)\n--\n\n"
    "Picks and leases a caller-ID for one call to `destination` (any NANP spelling). Returns a\n"
    "Lease (truthy; a context manager that releases on exit) or a Denial (falsy, with .reason).\n"
    "ttl: seconds (or timedelta) the lease holds the number; None = the campaign's lease_ttl.\n"
    "Raises InvalidArgument for a bad destination/campaign/agent/ttl; the store's error\n"
    "otherwise (nothing is leased then)."};

PyObject* release_fast(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  return fast::guarded([&]() -> PyObject* {
    PyObject* a[3];
    fast::parse_args("release", args, nargs, kwnames, {"lease", "disposition", "duration_s"}, 3, 1,
                     a);
    Rotator* rot = py::cast<Rotator*>(py::handle(self));
    const Outcome outcome = fast::outcome_args(a[1], a[2], "release");
    PyLease* obj = nullptr;
    std::string id;
    if (PyUnicode_Check(a[0])) {
      id = fast::str_arg(a[0], "release", "lease");
    } else if (py::isinstance<PyLease>(a[0])) {
      obj = py::cast<PyLease*>(py::handle(a[0]));
      id = obj->lease.id;
    } else {
      invalid("lease_id", "expected a lease id (str) or a cidrot.Lease");
    }
    std::int64_t ended = 0;
    {
      py::gil_scoped_release nogil;
      ended = rot->release(id, outcome);
    }
    if (obj != nullptr) obj->released = true;
    return PyLong_FromLongLong(ended);
  });
}

PyMethodDef release_def = {
    "release", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&release_fast)),
    METH_FASTCALL | METH_KEYWORDS,
    "release($self, lease, disposition=None, duration_s=None)\n--\n\n"
    "Ends a lease given as a Lease or its id; idempotent. Returns 1 if it ended one, 0 if none\n"
    "was active. disposition: 'answered', 'no_answer', 'busy', 'failed', 'voicemail';\n"
    "duration_s: call length in seconds."};

// The calls one next_batch() takes at most: a burst of a dialer is tens to hundreds.
constexpr std::size_t kMaxBatchCalls = 10000;

// One call of next_batch(): a (destination, campaign[, agent]) tuple or list, or a mapping with
// the keys of next()'s arguments.
CallRequest call_from_python(py::handle item, const std::optional<std::chrono::seconds>& ttl) {
  CallRequest req;
  auto text = [](py::handle v, const char* field) {
    if (!py::isinstance<py::str>(v)) invalid(field, "expected a str, got " + type_name(v));
    return v.cast<std::string>();
  };
  if (py::isinstance<py::dict>(item) || py::hasattr(item, "keys")) {
    py::object m = py::reinterpret_borrow<py::object>(item);
    for (py::handle key : m.attr("keys")()) {
      const std::string k = py::isinstance<py::str>(key) ? key.cast<std::string>() : "";
      if (k != "destination" && k != "campaign" && k != "agent" && k != "ttl") {
        invalid("calls", "unknown key " + py::repr(key).cast<std::string>().substr(0, 40) +
                             " (expected destination, campaign, agent, ttl)");
      }
    }
    if (!m.contains("destination") || !m.contains("campaign")) {
      invalid("calls", "a call needs 'destination' and 'campaign'");
    }
    req.destination = text(m["destination"], "destination");
    req.campaign = text(m["campaign"], "campaign");
    if (m.contains("agent")) req.agent = text(m["agent"], "agent");
    if (m.contains("ttl") && !m["ttl"].is_none()) {
      req.ttl = to_seconds(m["ttl"], "ttl");
    } else if (ttl) {
      req.ttl = *ttl;
    }
    return req;
  }
  if (!py::isinstance<py::tuple>(item) && !py::isinstance<py::list>(item)) {
    invalid("calls", "expected a (destination, campaign[, agent]) tuple or a mapping, got " +
                         type_name(item));
  }
  py::sequence seq = py::reinterpret_borrow<py::sequence>(item);
  if (seq.size() < 2 || seq.size() > 3) {
    invalid("calls", "expected a (destination, campaign[, agent]) tuple");
  }
  req.destination = text(seq[0], "destination");
  req.campaign = text(seq[1], "campaign");
  if (seq.size() == 3) req.agent = text(seq[2], "agent");
  if (ttl) req.ttl = *ttl;
  return req;
}

// The calls are converted with the GIL held (an unusable one raises, with its index, before
// anything is leased), leased together without it, and answered in order: a Lease, a Denial, or
// the cidrot.Error next() would have raised for that call (not raised: the others stand).
py::list next_batch(const RotatorPtr& rot, const py::iterable& calls, const py::object& ttl_arg) {
  if (py::isinstance<py::str>(calls)) invalid("calls", "expected an iterable of calls, not a str");
  std::optional<std::chrono::seconds> ttl;
  if (!ttl_arg.is_none()) ttl = to_seconds(ttl_arg, "ttl");
  std::vector<CallRequest> reqs;
  for (py::handle item : calls) {
    if (reqs.size() == kMaxBatchCalls) {
      invalid("calls", "at most " + std::to_string(kMaxBatchCalls) + " calls per batch");
    }
    try {
      reqs.push_back(call_from_python(item, ttl));
    } catch (const Error& e) {
      raise_python_error(e, reqs.size(), "calls");
    }
  }
  std::vector<LeaseResult> results(reqs.size());
  std::vector<CallBatchItem> items(reqs.size());
  for (std::size_t i = 0; i < reqs.size(); ++i) items[i] = CallBatchItem{&reqs[i], &results[i], {}};
  {
    py::gil_scoped_release nogil;
    rot->next_batch(items.data(), items.size());
  }
  py::list out(reqs.size());
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    py::object answer;
    if (items[i].error) {
      try {
        std::rethrow_exception(items[i].error);
      } catch (const Error& e) {
        answer = python_error(e, i, "calls");
      } catch (const std::exception& e) {
        answer = python_error(Error(ErrorCode::kInternal, e.what()), i, "calls");
      } catch (...) {
        answer = python_error(Error(ErrorCode::kInternal, "unknown error"), i, "calls");
      }
    } else if (results[i]) {
      answer = py::cast(PyLease{std::move(*results[i].lease), rot, false});
    } else {
      answer = py::cast(
          PyDenial{results[i].denial, std::move(reqs[i].destination), std::move(reqs[i].campaign)});
    }
    out[i] = std::move(answer);
  }
  return out;
}

// Runs `f` on the Rotator without the GIL; for calls that return plain C++ values.
template <typename F>
auto nogil(F&& f) {
  py::gil_scoped_release release;
  return f();
}

}  // namespace

void bind_rotator(py::module_& m) {
  py::class_<Rotator, RotatorPtr>(m, "Rotator", R"doc(
Picks and leases caller-IDs from a store. All methods are thread-safe and release the GIL while
they wait on the store.

store: a store URL: 'memory://', 'sqlite:///path/cidrot.db', 'redis://host:6379/0',
'postgresql://user:pass@host/db' (see compiled_backends()).
time_zone: IANA zone whose calendar hours/days the caps count in ('' = the host's zone).
default_hourly_limit / default_daily_limit: caps for numbers added without their own (0 = none).
clock: a Clock (e.g. ManualClock in tests); None = the system clock.)doc")
      .def(py::init([](const std::string& store, const std::string& time_zone,
                       std::int64_t default_hourly_limit, std::int64_t default_daily_limit,
                       std::shared_ptr<Clock> clock) {
             RotatorOptions options;
             options.time_zone = time_zone;
             options.default_hourly_limit = default_hourly_limit;
             options.default_daily_limit = default_daily_limit;
             py::gil_scoped_release nogil;
             return std::make_shared<Rotator>(open_store(store), std::move(options),
                                              std::move(clock));
           }),
           py::arg("store") = "memory://", py::kw_only(), py::arg("time_zone") = "",
           py::arg("default_hourly_limit") = 0, py::arg("default_daily_limit") = 0,
           py::arg("clock") = py::none())
      .def(
          "release_caller_id",
          [](const RotatorPtr& rot, const std::string& caller_id,
             const std::optional<std::string>& disposition,
             const std::optional<std::int64_t>& duration_s) {
            const Outcome outcome = make_outcome(disposition, duration_s);
            return nogil([&] { return rot->release_caller_id(caller_id, outcome); });
          },
          py::arg("caller_id"), py::arg("disposition") = py::none(),
          py::arg("duration_s") = py::none(), "Ends every lease of a number. Returns how many.")
      .def("next_batch", &next_batch, py::arg("calls"), py::kw_only(), py::arg("ttl") = py::none(),
           R"doc(
Leases a caller-ID for each call of a burst, together: on SQLite one transaction and one commit
for the whole batch, several times cheaper than one next() per call. `calls`: an iterable (at
most 10000) of (destination, campaign[, agent]) tuples or of dicts with the keys of next()
(destination, campaign, agent, ttl). ttl: the default for calls that give none.
Returns a list in the order of `calls`: for each, a Lease, a Denial, or the cidrot.Error that
next() would have raised for it (returned, not raised: the other calls stand; its .index is the
call's position). A call that is not a tuple or mapping of strings raises InvalidArgument (with
.index) before anything is leased.)doc")
      .def("add_numbers", &add_numbers, py::arg("numbers"), R"doc(
Adds numbers or updates their configuration (usage is kept). `numbers` is an iterable of dicts
(keys: caller_id, area_code, carrier, campaigns, hourly_limit, daily_limit, max_concurrent, active,
meta or meta_json) or Number objects. All or nothing: an invalid item raises InvalidArgument whose
.index is its position, and nothing is written.)doc")
      .def(
          "normalize_number",
          [](const RotatorPtr& rot, py::handle number) {
            Number n = number_from_python(number);
            return nogil([&] { return rot->normalize_number(std::move(n)); });
          },
          py::arg("number"), "Validates and normalises one number without storing it.")
      .def(
          "set_active",
          [](const RotatorPtr& rot, const std::string& caller_id, bool active) {
            return nogil([&] { return rot->set_active(caller_id, active); });
          },
          py::arg("caller_id"), py::arg("active"),
          "Enables or disables a number. Returns False if it does not exist.")
      .def(
          "remove_number",
          [](const RotatorPtr& rot, const std::string& caller_id) {
            return nogil([&] { return rot->remove_number(caller_id); });
          },
          py::arg("caller_id"), "Deletes a number and its leases. Returns False if none existed.")
      .def(
          "get_number",
          [](const RotatorPtr& rot, const std::string& caller_id) {
            return nogil([&] { return rot->get_number(caller_id); });
          },
          py::arg("caller_id"), "The number with its usage, or None.")
      .def(
          "list_numbers",
          [](const RotatorPtr& rot, const std::optional<std::string>& campaign,
             const py::object& area_codes, std::optional<bool> active, std::optional<bool> leased,
             std::optional<bool> limited, const std::optional<std::string>& prefix,
             const std::string& sort, bool descending, std::int64_t offset, std::int64_t limit) {
            ListQuery q;
            q.campaign = campaign.value_or("");
            q.area_codes = parse_area_codes(area_codes);
            q.active = active;
            q.leased = leased;
            q.limited = limited;
            q.caller_id_prefix = prefix.value_or("");
            q.sort = parse_sort(sort);
            q.descending = descending;
            q.offset = offset;
            q.limit = limit;
            return nogil([&] { return rot->list_numbers(q); });
          },
          py::kw_only(), py::arg("campaign") = py::none(), py::arg("area_codes") = py::none(),
          py::arg("active") = py::none(), py::arg("leased") = py::none(),
          py::arg("limited") = py::none(), py::arg("prefix") = py::none(),
          py::arg("sort") = "caller_id", py::arg("descending") = false, py::arg("offset") = 0,
          py::arg("limit") = 100, R"doc(
One page of numbers matching the filters (None = any). campaign: numbers serving it (including
those serving every campaign); prefix: leading digits of the caller-ID; sort: 'caller_id',
'last_used', 'hour_count', 'day_count' or 'total_uses'; limit: 1..10000.)doc")
      .def(
          "list_leases",
          [](const RotatorPtr& rot, std::int64_t limit) {
            auto leases = nogil([&] { return rot->list_leases(limit); });
            return wrap_leases(rot, std::move(leases));
          },
          py::arg("limit") = 100, "Active leases, soonest expiry first.")
      .def(
          "stats", [](const RotatorPtr& rot) { return nogil([&] { return rot->stats(); }); },
          "Totals of the store as of now.")
      .def(
          "expire", [](const RotatorPtr& rot) { return nogil([&] { return rot->expire(); }); },
          "Drops expired leases now (next() does it on its own too). Returns how many.")
      .def(
          "ping", [](const RotatorPtr& rot) { nogil([&] { rot->store().ping(); }); },
          "Checks the store answers; raises BackendUnavailable when it does not.")
      .def(
          "set_campaign",
          [](const RotatorPtr& rot, const std::string& name, const py::object& tiers,
             std::optional<std::int32_t> nearby_radius_km, std::optional<std::int32_t> nearby_max,
             const py::object& lease_ttl) {
            CampaignSettings s = rot->campaign(name);
            s.name = name;
            if (!tiers.is_none()) {
              if (py::isinstance<py::str>(tiers)) invalid("tiers", "expected a list of tier names");
              s.tiers.clear();
              for (py::handle t : tiers) s.tiers.push_back(parse_tier(py::str(t)));
            }
            if (nearby_radius_km) s.nearby_radius_km = *nearby_radius_km;
            if (nearby_max) s.nearby_max = *nearby_max;
            if (!lease_ttl.is_none()) s.lease_ttl = to_seconds(lease_ttl, "lease_ttl");
            rot->set_campaign(s);
          },
          py::arg("name"), py::kw_only(), py::arg("tiers") = py::none(),
          py::arg("nearby_radius_km") = py::none(), py::arg("nearby_max") = py::none(),
          py::arg("lease_ttl") = py::none(), R"doc(
Sets a campaign's selection rules in this Rotator (not persisted); unspecified settings keep
their current value. tiers: ordered subset of 'same_npa', 'overlay', 'state', 'nearby',
'time_zone', 'any'.)doc")
      .def("campaign", &Rotator::campaign, py::arg("name"),
           "A campaign's settings (the defaults if it has none of its own).")
      .def_property_readonly("time_zone", &Rotator::time_zone, "The resolved IANA zone name.")
      .def_property_readonly(
          "backend", [](const RotatorPtr& rot) { return rot->store().backend_name(); },
          "'memory', 'sqlite', 'redis' or 'postgresql'.")
      .def("__repr__", [](const RotatorPtr& rot) {
        return "<cidrot.Rotator backend=" + rot->store().backend_name() +
               " time_zone=" + rot->time_zone() + ">";
      });
  fast::add_method(m.attr("Rotator"), &next_def);
  fast::add_method(m.attr("Rotator"), &release_def);
}

}  // namespace cidrot::python
