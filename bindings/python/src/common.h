// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// Private to the _cidrot extension: conversions between Python objects and cidrot value types,
// and the mapping of cidrot::Error onto the cidrot.Error exception hierarchy.
#ifndef CIDROT_BINDINGS_PYTHON_COMMON_H_
#define CIDROT_BINDINGS_PYTHON_COMMON_H_

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>  // in every TU: the type casters must be the same everywhere (ODR)

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "cidrot/cidrot.h"

namespace cidrot::python {

namespace py = pybind11;

// A lease as Python sees it: the value plus the Rotator that can end it, so it works as a context
// manager and keeps its Rotator alive.
struct PyLease {
  Lease lease;
  std::shared_ptr<Rotator> rotator;
  bool released = false;
};

// A denial is a value, never an exception (DESIGN.md §3); falsy so `if not result:` reads well.
struct PyDenial {
  DenialReason reason = DenialReason::kPoolEmpty;
  std::string destination;
  std::string campaign;
};

// Sets the Python error indicator to the cidrot.Error subclass for e.code(). With `index`, the
// error is about item `index` of a batch and says so: "numbers[3]: ..." (add_numbers) or, with
// batch "calls", "calls[3]: ..." (next_batch).
void set_python_error(const Error& e, std::optional<std::size_t> index = std::nullopt,
                      const char* batch = "numbers");
// The cidrot.Error subclass instance for e (not raised), as set_python_error() would set it.
py::object python_error(const Error& e, std::optional<std::size_t> index = std::nullopt,
                        const char* batch = "numbers");
// set_python_error() then throws py::error_already_set.
[[noreturn]] void raise_python_error(const Error& e,
                                     std::optional<std::size_t> index = std::nullopt,
                                     const char* batch = "numbers");
// The Python type name of v, for error messages.
std::string type_name(py::handle v);
// Throws Error(kInvalidArgument) naming `field`.
[[noreturn]] void invalid(const std::string& field, const std::string& what);

// Timestamps are timezone-aware UTC datetimes in Python.
py::object to_datetime(TimePoint t);
// Accepts a datetime (naive = UTC) or Unix seconds (int/float).
TimePoint to_time_point(py::handle value, const char* field);
// Accepts whole or fractional seconds (rounded up) or a timedelta; must be > 0.
std::chrono::seconds to_seconds(py::handle value, const char* field);

// Builds a Number from a mapping with the keys of cidrot.Number (or a Number itself).
Number number_from_python(py::handle item);
py::dict number_to_dict(const Number& n);
py::dict number_state_to_dict(const NumberState& s);
py::dict lease_to_dict(const Lease& l);
py::dict stats_to_dict(const StoreStats& s);

// Outcome from the optional keyword arguments of release().
Outcome make_outcome(const std::optional<std::string>& disposition,
                     const std::optional<std::int64_t>& duration_s);

// Module sections (module.cpp calls each once).
void bind_values(py::module_& m);
void bind_rotator(py::module_& m);

}  // namespace cidrot::python

#endif  // CIDROT_BINDINGS_PYTHON_COMMON_H_
