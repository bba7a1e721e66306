// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// The value types as read-only Python classes. Values are copied out of the C++ structs only when
// an attribute is read, so a lease that is used for its caller_id alone costs one string.

#include <string>
#include <utility>

#include "common.h"
#include "fastcall.h"

namespace cidrot::python {
namespace {

py::object optional_int(const std::optional<std::int64_t>& v) {
  return v ? py::object(py::int_(*v)) : py::object(py::none());
}

py::object time_or_none(TimePoint t) {
  return to_unix_ms(t) == 0 ? py::object(py::none()) : to_datetime(t);
}

std::string quoted(const std::string& s) { return py::repr(py::str(s)); }

void bind_number(py::module_& m) {
  py::class_<Number>(m, "Number", R"doc(
A caller-ID the centre owns, with its configuration (read-only).

``Number(caller_id, **fields)`` takes the same keys as the mappings given to
:meth:`Rotator.add_numbers`: ``area_code``, ``carrier``, ``campaigns``, ``hourly_limit``,
``daily_limit``, ``max_concurrent``, ``active``, ``meta`` (a dict) or ``meta_json`` (its JSON text).
Values are checked and normalised when the number is added.)doc")
      .def(py::init([](py::object caller_id, py::kwargs fields) {
             py::dict d;
             for (auto kv : fields) d[kv.first] = kv.second;
             d["caller_id"] = caller_id;
             return number_from_python(d);
           }),
           py::arg("caller_id"))
      .def_property_readonly("caller_id", [](const Number& n) { return n.caller_id; },
                             "10-digit national form, e.g. '2125550100' (once added).")
      .def_property_readonly("area_code", [](const Number& n) { return n.area_code; })
      .def_property_readonly("carrier", [](const Number& n) { return n.carrier; })
      .def_property_readonly("campaigns", [](const Number& n) { return n.campaigns; },
                             "Campaigns it serves; empty = every campaign.")
      .def_property_readonly("hourly_limit", [](const Number& n) { return optional_int(n.hourly_limit); },
                             "Leases per calendar hour; 0 = no cap; None = the Rotator's default.")
      .def_property_readonly("daily_limit", [](const Number& n) { return optional_int(n.daily_limit); },
                             "Leases per calendar day; 0 = no cap; None = the Rotator's default.")
      .def_property_readonly("max_concurrent", [](const Number& n) { return n.max_concurrent; },
                             "Simultaneous leases; 1 = exclusive.")
      .def_property_readonly("active", [](const Number& n) { return n.active; })
      .def_property_readonly("meta_json", [](const Number& n) { return n.meta_json; })
      .def_property_readonly(
          "meta", [](const Number& n) { return py::module_::import("json").attr("loads")(n.meta_json); },
          "meta_json parsed (a new dict on each read).")
      .def("to_dict", &number_to_dict, "The fields as a dict, accepted back by add_numbers().")
      .def(
          "__eq__",
          [](const Number& a, const Number& b) { return number_to_dict(a).equal(number_to_dict(b)); },
          py::is_operator())
      .def("__repr__", [](const Number& n) {
        return "Number(" + quoted(n.caller_id) + ", carrier=" + quoted(n.carrier) + ", campaigns=" +
               std::string(py::repr(py::cast(n.campaigns))) + ")";
      });
}

void bind_number_state(py::module_& m) {
  py::class_<NumberState>(m, "NumberState", "A number with its usage as of the current windows.")
      .def_property_readonly("number", [](const NumberState& s) { return s.number; })
      .def_property_readonly("caller_id", [](const NumberState& s) { return s.number.caller_id; })
      .def_property_readonly("last_used", [](const NumberState& s) { return time_or_none(s.last_used); },
                             "UTC datetime of its last lease, or None if never leased.")
      .def_property_readonly("total_uses", [](const NumberState& s) { return s.total_uses; })
      .def_property_readonly("hour_count", [](const NumberState& s) { return s.hour_count; },
                             "Leases in the current hour window.")
      .def_property_readonly("day_count", [](const NumberState& s) { return s.day_count; },
                             "Leases in the current day window.")
      .def_property_readonly("active_leases", [](const NumberState& s) { return s.active_leases; })
      .def_property_readonly("last_disposition",
                             [](const NumberState& s) -> py::object {
                               if (s.last_disposition.empty()) return py::none();
                               return py::str(s.last_disposition);
                             })
      .def_property_readonly("last_duration_s",
                             [](const NumberState& s) -> py::object {
                               if (s.last_duration_s < 0) return py::none();
                               return py::int_(s.last_duration_s);
                             })
      .def_property_readonly("hourly_capped", &NumberState::hourly_capped)
      .def_property_readonly("daily_capped", &NumberState::daily_capped)
      .def("to_dict", &number_state_to_dict, "The number's fields and its usage as one flat dict.")
      .def("__repr__", [](const NumberState& s) {
        return "NumberState(" + quoted(s.number.caller_id) + ", active=" +
               (s.number.active ? "True" : "False") + ", active_leases=" +
               std::to_string(s.active_leases) + ", hour_count=" + std::to_string(s.hour_count) +
               ", day_count=" + std::to_string(s.day_count) + ")";
      });
}

// Ends the lease once per object; the hot path of every call, so a raw fastcall method.
PyObject* lease_release(PyLease& l, const Outcome& outcome) {
  if (l.released) Py_RETURN_FALSE;
  std::int64_t ended = 0;
  {
    py::gil_scoped_release nogil;
    ended = l.rotator->release(l.lease.id, outcome);
  }
  l.released = true;
  return PyBool_FromLong(ended > 0);
}

PyObject* lease_release_fast(PyObject* self, PyObject* const* args, Py_ssize_t nargs,
                             PyObject* kwnames) {
  return fast::guarded([&]() -> PyObject* {
    PyObject* a[2];
    fast::parse_args("release", args, nargs, kwnames, {"disposition", "duration_s"}, 2, 0, a);
    const Outcome outcome = fast::outcome_args(a[0], a[1], "release");
    return lease_release(*py::cast<PyLease*>(py::handle(self)), outcome);
  });
}

PyObject* lease_enter_fast(PyObject* self, PyObject* const*, Py_ssize_t nargs, PyObject* kwnames) {
  if (nargs != 0 || kwnames != nullptr) {
    PyErr_SetString(PyExc_TypeError, "__enter__() takes no arguments");
    return nullptr;
  }
  Py_INCREF(self);
  return self;
}

PyObject* lease_exit_fast(PyObject* self, PyObject* const* args, Py_ssize_t nargs,
                          PyObject* kwnames) {
  return fast::guarded([&]() -> PyObject* {
    PyObject* a[3];
    fast::parse_args("__exit__", args, nargs, kwnames, {"exc_type", "exc", "tb"}, 3, 3, a);
    PyObject* ended = lease_release(*py::cast<PyLease*>(py::handle(self)), Outcome{});
    Py_XDECREF(ended);
    Py_RETURN_FALSE;  // never swallows the exception that ended the block
  });
}

PyMethodDef lease_release_def = {
    "release", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&lease_release_fast)),
    METH_FASTCALL | METH_KEYWORDS,
    "release($self, disposition=None, duration_s=None)\n--\n\n"
    "Ends the lease and records the call's outcome. Returns True if this call ended it, False if\n"
    "it was already released or had expired. disposition: 'answered', 'no_answer', 'busy',\n"
    "'failed' or 'voicemail'; duration_s: call length in seconds."};
PyMethodDef lease_enter_def = {
    "__enter__", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&lease_enter_fast)),
    METH_FASTCALL | METH_KEYWORDS, "__enter__($self)\n--\n\nReturns the lease itself."};
PyMethodDef lease_exit_def = {
    "__exit__", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&lease_exit_fast)),
    METH_FASTCALL | METH_KEYWORDS,
    "__exit__($self, exc_type, exc, tb)\n--\n\nReleases the lease unless already released."};

void bind_lease(py::module_& m) {
  py::class_<PyLease>(m, "Lease", R"doc(
A caller-ID granted to one call, held until released or expired.

Truthy. Use it as a context manager to release it when the call ends::

    with rot.next("2125550199", "sales") as lease:   # after checking it is not a Denial
        dial(lease.caller_id)

Leaving the block releases the lease (idempotent); call :meth:`release` inside the block to
report the outcome.)doc")
      .def_property_readonly("id", [](const PyLease& l) { return l.lease.id; }, "32 hex chars.")
      .def_property_readonly("caller_id", [](const PyLease& l) { return l.lease.number.caller_id; },
                             "The caller-ID to present, 10 digits.")
      .def_property_readonly("number", [](const PyLease& l) { return l.lease.number; })
      .def_property_readonly("campaign", [](const PyLease& l) { return l.lease.campaign; })
      .def_property_readonly("agent", [](const PyLease& l) { return l.lease.agent; })
      .def_property_readonly("destination", [](const PyLease& l) { return l.lease.destination; },
                             "The called number, 10 digits.")
      .def_property_readonly("leased_at", [](const PyLease& l) { return to_datetime(l.lease.leased_at); })
      .def_property_readonly("expires_at", [](const PyLease& l) { return to_datetime(l.lease.expires_at); })
      .def_property_readonly("tier", [](const PyLease& l) { return tier_name(l.lease.tier); },
                             "The selection step that matched: 'same_npa', 'overlay', 'state', "
                             "'nearby', 'time_zone' or 'any'.")
      .def_property_readonly("released", [](const PyLease& l) { return l.released; },
                             "True once released through this object.")
      .def("to_dict", [](const PyLease& l) { return lease_to_dict(l.lease); })
      .def("__bool__", [](const PyLease&) { return true; })
      .def("__repr__", [](const PyLease& l) {
        return "Lease(caller_id=" + quoted(l.lease.number.caller_id) +
               ", campaign=" + quoted(l.lease.campaign) + ", tier=" + quoted(tier_name(l.lease.tier)) +
               ", id=" + quoted(l.lease.id) + (l.released ? ", released" : "") + ")";
      });

  fast::add_method(m.attr("Lease"), &lease_release_def);
  fast::add_method(m.attr("Lease"), &lease_enter_def);
  fast::add_method(m.attr("Lease"), &lease_exit_def);

  py::class_<PyDenial>(m, "Denial", R"doc(
No caller-ID could be leased: a normal outcome, not an error. Falsy.

reason: 'pool_empty' (the campaign has no active numbers), 'all_reserved' (all in scope are at
their concurrency limit), 'all_limited' (all in scope are at an hourly or daily cap),
'no_match_in_scope' (none inside the campaign's tier ladder).)doc")
      .def_property_readonly("reason", [](const PyDenial& d) { return denial_reason_name(d.reason); })
      .def_property_readonly("destination", [](const PyDenial& d) { return d.destination; })
      .def_property_readonly("campaign", [](const PyDenial& d) { return d.campaign; })
      .def("__bool__", [](const PyDenial&) { return false; })
      .def("__repr__", [](const PyDenial& d) {
        return "Denial(reason=" + quoted(denial_reason_name(d.reason)) +
               ", campaign=" + quoted(d.campaign) + ", destination=" + quoted(d.destination) + ")";
      });
}

void bind_results(py::module_& m) {
  py::class_<UpsertResult>(m, "UpsertResult", "What add_numbers()/import_csv() wrote.")
      .def_readonly("inserted", &UpsertResult::inserted)
      .def_readonly("updated", &UpsertResult::updated)
      .def("__repr__", [](const UpsertResult& r) {
        return "UpsertResult(inserted=" + std::to_string(r.inserted) +
               ", updated=" + std::to_string(r.updated) + ")";
      });

  py::class_<ListPage>(m, "NumberPage", "One page of list_numbers(); iterable over its items.")
      .def_property_readonly("items", [](const ListPage& p) { return p.items; })
      .def_readonly("total", &ListPage::total, "Matches of the filters before offset/limit.")
      .def("__len__", [](const ListPage& p) { return p.items.size(); })
      .def("__iter__", [](const ListPage& p) { return py::iter(py::cast(p.items)); })
      .def("__repr__", [](const ListPage& p) {
        return "NumberPage(items=<" + std::to_string(p.items.size()) +
               ">, total=" + std::to_string(p.total) + ")";
      });

  py::class_<AreaCodeStats>(m, "AreaCodeStats", "Per area code totals in Stats.area_codes.")
      .def_readonly("npa", &AreaCodeStats::npa)
      .def_readonly("numbers", &AreaCodeStats::numbers, "Active numbers with this NPA.")
      .def_readonly("available", &AreaCodeStats::available,
                    "Active, not at their concurrency limit, not capped.")
      .def("__repr__", [](const AreaCodeStats& a) {
        return "AreaCodeStats(npa=" + std::to_string(a.npa) + ", numbers=" +
               std::to_string(a.numbers) + ", available=" + std::to_string(a.available) + ")";
      });

  py::class_<StoreStats>(m, "Stats", "Totals of the store as of now.")
      .def_readonly("numbers", &StoreStats::numbers, "All numbers, active or not.")
      .def_readonly("active", &StoreStats::active)
      .def_readonly("disabled", &StoreStats::disabled)
      .def_readonly("leased_numbers", &StoreStats::leased_numbers)
      .def_readonly("active_leases", &StoreStats::active_leases)
      .def_readonly("capped_hourly", &StoreStats::capped_hourly)
      .def_readonly("capped_daily", &StoreStats::capped_daily)
      .def_readonly("total_uses", &StoreStats::total_uses)
      .def_property_readonly("leases_by_campaign",
                             [](const StoreStats& s) {
                               py::dict d;
                               for (const auto& [k, v] : s.leases_by_campaign) d[py::str(k)] = v;
                               return d;
                             })
      .def_property_readonly("area_codes", [](const StoreStats& s) { return s.area_codes; })
      .def("to_dict", &stats_to_dict)
      .def("__repr__", [](const StoreStats& s) {
        return "Stats(numbers=" + std::to_string(s.numbers) + ", active=" +
               std::to_string(s.active) + ", active_leases=" + std::to_string(s.active_leases) +
               ", total_uses=" + std::to_string(s.total_uses) + ")";
      });

  py::class_<CampaignSettings>(m, "Campaign", "A campaign's selection settings (read-only).")
      .def_readonly("name", &CampaignSettings::name)
      .def_property_readonly("tiers",
                             [](const CampaignSettings& c) {
                               std::vector<std::string> names;
                               for (Tier t : c.tiers) names.emplace_back(tier_name(t));
                               return names;
                             })
      .def_readonly("nearby_radius_km", &CampaignSettings::nearby_radius_km)
      .def_readonly("nearby_max", &CampaignSettings::nearby_max)
      .def_property_readonly("lease_ttl", [](const CampaignSettings& c) { return c.lease_ttl.count(); },
                             "Seconds a lease holds its number unless released.")
      .def("__repr__", [](const CampaignSettings& c) {
        return "Campaign(" + quoted(c.name) + ", lease_ttl=" + std::to_string(c.lease_ttl.count()) +
               ")";
      });
}

void bind_clocks(py::module_& m) {
  py::class_<Clock, std::shared_ptr<Clock>>(m, "Clock", "A wall clock the Rotator reads.")
      .def("now", [](const Clock& c) { return to_datetime(c.now()); });
  py::class_<SystemClock, Clock, std::shared_ptr<SystemClock>>(m, "SystemClock",
                                                               "The system wall clock (the default).")
      .def(py::init<>());
  py::class_<ManualClock, Clock, std::shared_ptr<ManualClock>>(m, "ManualClock", R"doc(
A clock that moves only when told: test hour/day caps and lease expiry without sleeping.
start: a datetime (naive = UTC) or Unix seconds. Thread-safe.)doc")
      .def(py::init([](py::handle start) {
             return std::make_shared<ManualClock>(to_time_point(start, "start"));
           }),
           py::arg("start"))
      .def("set", [](ManualClock& c, py::handle t) { c.set(to_time_point(t, "time")); },
           py::arg("time"))
      .def(
          "advance",
          [](ManualClock& c, py::handle seconds) {
            double s = 0;
            if (py::hasattr(seconds, "total_seconds")) {
              s = seconds.attr("total_seconds")().cast<double>();
            } else {
              s = seconds.cast<double>();
            }
            c.advance(std::chrono::milliseconds(std::llround(s * 1000.0)));
          },
          py::arg("seconds"), "Moves the clock by seconds (float or timedelta; may be negative).");
}

}  // namespace

void bind_values(py::module_& m) {
  bind_number(m);
  bind_number_state(m);
  bind_lease(m);
  bind_results(m);
  bind_clocks(m);
}

}  // namespace cidrot::python
