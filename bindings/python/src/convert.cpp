// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
#include <cctype>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>

#include "common.h"

namespace cidrot::python {

std::string type_name(py::handle v) { return py::str(py::type::handle_of(v).attr("__name__")); }

namespace {

// Looked up once and kept for the life of the process: these run on every timestamp conversion
// and error, and the interpreter owns the modules anyway. Leaked on purpose so no Python object is
// destroyed after the interpreter has gone.
struct Handles {
  py::handle utc;            // datetime.timezone.utc
  py::handle epoch;          // datetime.datetime(1970, 1, 1, tzinfo=utc)
  py::handle timedelta;      // datetime.timedelta
  py::handle datetime_type;  // datetime.datetime
  py::handle json_dumps;     // json.dumps
};

const Handles& handles() {
  static const Handles h = [] {
    py::module_ dt = py::module_::import("datetime");
    Handles r;
    r.utc = py::object(dt.attr("timezone").attr("utc")).release();
    r.datetime_type = py::object(dt.attr("datetime")).release();
    r.epoch = r.datetime_type(1970, 1, 1, py::arg("tzinfo") = r.utc).release();
    r.timedelta = py::object(dt.attr("timedelta")).release();
    r.json_dumps = py::object(py::module_::import("json").attr("dumps")).release();
    return r;
  }();
  return h;
}

std::string short_repr(py::handle v) {
  std::string r = py::repr(v);
  if (r.size() > 40) r = r.substr(0, 37) + "...";
  return r;
}

bool is_blank_str(py::handle v) {
  return py::isinstance<py::str>(v) &&
         py::str(v).cast<std::string>().find_first_not_of(" \t") == std::string::npos;
}

// Integers, or strings of digits (CSV cells arrive as text). bool is refused: True is not a limit.
std::int64_t to_int(py::handle v, const std::string& field) {
  if (py::isinstance<py::bool_>(v)) invalid(field, "expected an integer, got bool");
  if (py::isinstance<py::int_>(v)) {
    try {
      return v.cast<std::int64_t>();
    } catch (const py::cast_error&) {
      invalid(field, "integer out of range");
    }
  }
  if (py::isinstance<py::str>(v)) {
    const std::string s = v.cast<std::string>();
    const auto b = s.find_first_not_of(" \t");
    const auto e = s.find_last_not_of(" \t");
    if (b != std::string::npos) {
      const std::string t = s.substr(b, e - b + 1);
      std::size_t used = 0;
      try {
        const long long x = std::stoll(t, &used, 10);
        if (used == t.size()) return x;
      } catch (const std::exception&) {
        // falls through to the message below
      }
    }
    invalid(field, "'" + s.substr(0, 32) + "' is not an integer");
  }
  invalid(field, "expected an integer, got " + type_name(v));
}

std::optional<std::int64_t> to_limit(py::handle v, const std::string& field) {
  if (v.is_none() || is_blank_str(v)) return std::nullopt;
  return to_int(v, field);
}

std::string to_text(py::handle v, const std::string& field) {
  if (v.is_none()) return {};
  if (py::isinstance<py::str>(v)) return v.cast<std::string>();
  if (py::isinstance<py::int_>(v) && !py::isinstance<py::bool_>(v)) return py::str(v);
  invalid(field, "expected a string, got " + type_name(v));
}

bool to_bool(py::handle v, const std::string& field) {
  if (py::isinstance<py::bool_>(v)) return v.cast<bool>();
  if (py::isinstance<py::int_>(v)) {
    const auto x = to_int(v, field);
    if (x == 0 || x == 1) return x == 1;
  } else if (py::isinstance<py::str>(v)) {
    std::string s = v.cast<std::string>();
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (s == "true" || s == "1" || s == "yes" || s == "y" || s == "on") return true;
    if (s == "false" || s == "0" || s == "no" || s == "n" || s == "off") return false;
  }
  invalid(field, "expected a bool (true/false, 1/0, yes/no), got " + short_repr(v));
}

// A list of names, or one string of names separated by commas, semicolons, '|' or spaces (a CSV
// cell). Names themselves are validated by the Rotator.
std::vector<std::string> to_campaigns(py::handle v) {
  std::vector<std::string> out;
  if (v.is_none()) return out;
  if (py::isinstance<py::str>(v)) {
    std::string cur;
    for (char c : v.cast<std::string>()) {
      if (c == ',' || c == ';' || c == '|' || c == ' ' || c == '\t') {
        if (!cur.empty()) out.push_back(std::move(cur));
        cur.clear();
      } else {
        cur += c;
      }
    }
    if (!cur.empty()) out.push_back(std::move(cur));
    return out;
  }
  if (!py::isinstance<py::iterable>(v)) {
    invalid("campaigns", "expected a list of names or a string, got " + type_name(v));
  }
  for (py::handle item : py::reinterpret_borrow<py::iterable>(v)) {
    if (!py::isinstance<py::str>(item)) {
      invalid("campaigns", "expected names (str), got " + type_name(item));
    }
    out.push_back(item.cast<std::string>());
  }
  return out;
}

const char* const kNumberKeys =
    "caller_id, area_code, carrier, campaigns, hourly_limit, daily_limit, max_concurrent, "
    "active, meta, meta_json";

}  // namespace

void invalid(const std::string& field, const std::string& what) {
  throw Error(ErrorCode::kInvalidArgument, field + ": " + what, field);
}

py::object python_error(const Error& e, std::optional<std::size_t> index, const char* batch) {
  py::object factory = py::module_::import("cidrot._errors").attr("_from_native");
  py::object index_obj = index ? py::object(py::int_(*index)) : py::object(py::none());
  return factory(error_code_name(e.code()), py::str(e.what()),
                 e.field().empty() ? py::object(py::none()) : py::str(e.field()), index_obj,
                 py::str(batch));
}

void set_python_error(const Error& e, std::optional<std::size_t> index, const char* batch) {
  try {
    py::object exc = python_error(e, index, batch);
    PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
  } catch (py::error_already_set& inner) {
    // cidrot._errors itself failed (broken install): surface that rather than hide the cause.
    inner.restore();
  }
}

void raise_python_error(const Error& e, std::optional<std::size_t> index, const char* batch) {
  set_python_error(e, index, batch);
  throw py::error_already_set();
}

py::object to_datetime(TimePoint t) {
  const Handles& h = handles();
  return h.epoch + h.timedelta(py::arg("milliseconds") = to_unix_ms(t));
}

TimePoint to_time_point(py::handle value, const char* field) {
  const Handles& h = handles();
  double seconds = 0;
  if (py::isinstance(value, h.datetime_type)) {
    py::object dt = py::reinterpret_borrow<py::object>(value);
    if (dt.attr("tzinfo").is_none()) dt = dt.attr("replace")(py::arg("tzinfo") = h.utc);
    seconds = dt.attr("timestamp")().cast<double>();
  } else if ((py::isinstance<py::int_>(value) || py::isinstance<py::float_>(value)) &&
             !py::isinstance<py::bool_>(value)) {
    seconds = value.cast<double>();
  } else {
    invalid(field, "expected a datetime or Unix seconds, got " + type_name(value));
  }
  if (!std::isfinite(seconds) || std::fabs(seconds) > 1e13) invalid(field, "out of range");
  return from_unix_ms(std::llround(seconds * 1000.0));
}

std::chrono::seconds to_seconds(py::handle value, const char* field) {
  double s = 0;
  if (py::isinstance(value, handles().timedelta)) {
    s = value.attr("total_seconds")().cast<double>();
  } else if ((py::isinstance<py::int_>(value) || py::isinstance<py::float_>(value)) &&
             !py::isinstance<py::bool_>(value)) {
    s = value.cast<double>();
  } else {
    invalid(field, "expected seconds or a timedelta, got " + type_name(value));
  }
  if (!std::isfinite(s) || s <= 0) invalid(field, "must be more than 0 seconds");
  if (s > 1e9) invalid(field, "too long");
  return std::chrono::seconds(static_cast<std::int64_t>(std::ceil(s)));
}

Number number_from_python(py::handle item) {
  if (py::isinstance<Number>(item)) return item.cast<Number>();
  if (!py::hasattr(item, "keys") || !py::hasattr(item, "items")) {
    throw Error(ErrorCode::kInvalidArgument,
                "expected a mapping (dict) or cidrot.Number, got " + type_name(item));
  }
  Number n;
  bool has_caller_id = false;
  std::optional<std::string> meta;
  for (py::handle kv : item.attr("items")()) {
    auto pair = py::reinterpret_borrow<py::tuple>(kv);
    py::handle key = pair[0];
    py::handle v = pair[1];
    if (!py::isinstance<py::str>(key)) {
      throw Error(ErrorCode::kInvalidArgument, "keys must be strings, got " + short_repr(key));
    }
    const std::string k = key.cast<std::string>();
    if (k == "caller_id") {
      n.caller_id = to_text(v, k);
      has_caller_id = true;
    } else if (k == "area_code") {
      n.area_code = to_text(v, k);
    } else if (k == "carrier") {
      n.carrier = to_text(v, k);
    } else if (k == "campaigns") {
      n.campaigns = to_campaigns(v);
    } else if (k == "hourly_limit") {
      n.hourly_limit = to_limit(v, k);
    } else if (k == "daily_limit") {
      n.daily_limit = to_limit(v, k);
    } else if (k == "max_concurrent") {
      if (!v.is_none() && !is_blank_str(v)) {
        const std::int64_t x = to_int(v, k);
        if (x < 1 || x > 10000) invalid(k, "must be in 1..10000");
        n.max_concurrent = static_cast<std::int32_t>(x);
      }
    } else if (k == "active") {
      if (!v.is_none() && !is_blank_str(v)) n.active = to_bool(v, k);
    } else if (k == "meta" || k == "meta_json") {
      if (meta) invalid("meta", "give meta or meta_json, not both");
      if (v.is_none() || is_blank_str(v)) {
        meta = "{}";
      } else if (k == "meta_json") {
        meta = to_text(v, k);
      } else if (py::hasattr(v, "keys")) {
        try {
          meta = handles()
                     .json_dumps(v, py::arg("separators") = py::make_tuple(",", ":"))
                     .cast<std::string>();
        } catch (py::error_already_set& e) {
          invalid("meta", std::string("not JSON-serialisable: ") + e.what());
        }
      } else {
        invalid("meta", "expected a dict, got " + type_name(v));
      }
    } else {
      invalid(k.substr(0, 64), "unknown field; expected one of " + std::string(kNumberKeys));
    }
  }
  if (!has_caller_id) invalid("caller_id", "missing");
  if (meta) n.meta_json = std::move(*meta);
  return n;
}

py::dict number_to_dict(const Number& n) {
  py::dict d;
  d["caller_id"] = n.caller_id;
  d["area_code"] = n.area_code;
  d["carrier"] = n.carrier;
  d["campaigns"] = py::cast(n.campaigns);
  d["hourly_limit"] = n.hourly_limit ? py::object(py::int_(*n.hourly_limit)) : py::none();
  d["daily_limit"] = n.daily_limit ? py::object(py::int_(*n.daily_limit)) : py::none();
  d["max_concurrent"] = n.max_concurrent;
  d["active"] = n.active;
  d["meta_json"] = n.meta_json;
  return d;
}

py::dict number_state_to_dict(const NumberState& s) {
  py::dict d = number_to_dict(s.number);
  d["last_used"] = to_unix_ms(s.last_used) == 0 ? py::none() : to_datetime(s.last_used);
  d["total_uses"] = s.total_uses;
  d["hour_count"] = s.hour_count;
  d["day_count"] = s.day_count;
  d["active_leases"] = s.active_leases;
  d["last_disposition"] =
      s.last_disposition.empty() ? py::object(py::none()) : py::str(s.last_disposition);
  d["last_duration_s"] =
      s.last_duration_s < 0 ? py::object(py::none()) : py::object(py::int_(s.last_duration_s));
  return d;
}

py::dict lease_to_dict(const Lease& l) {
  py::dict d;
  d["id"] = l.id;
  d["caller_id"] = l.number.caller_id;
  d["campaign"] = l.campaign;
  d["agent"] = l.agent;
  d["destination"] = l.destination;
  d["leased_at"] = to_datetime(l.leased_at);
  d["expires_at"] = to_datetime(l.expires_at);
  d["tier"] = tier_name(l.tier);
  d["number"] = number_to_dict(l.number);
  return d;
}

py::dict stats_to_dict(const StoreStats& s) {
  py::dict d;
  d["numbers"] = s.numbers;
  d["active"] = s.active;
  d["disabled"] = s.disabled;
  d["leased_numbers"] = s.leased_numbers;
  d["active_leases"] = s.active_leases;
  d["capped_hourly"] = s.capped_hourly;
  d["capped_daily"] = s.capped_daily;
  d["total_uses"] = s.total_uses;
  py::dict by_campaign;
  for (const auto& [name, count] : s.leases_by_campaign) by_campaign[py::str(name)] = count;
  d["leases_by_campaign"] = by_campaign;
  py::list areas;
  for (const auto& a : s.area_codes) {
    areas.append(py::dict(py::arg("npa") = a.npa, py::arg("numbers") = a.numbers,
                          py::arg("available") = a.available));
  }
  d["area_codes"] = areas;
  return d;
}

Outcome make_outcome(const std::optional<std::string>& disposition,
                     const std::optional<std::int64_t>& duration_s) {
  Outcome o;
  if (disposition) o.disposition = *disposition;
  if (duration_s) {
    if (*duration_s < 0) invalid("duration_s", "must not be negative");
    o.duration_s = *duration_s;
  }
  return o;
}

}  // namespace cidrot::python
