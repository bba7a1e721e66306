// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// cidrot._cidrot: the native half of the `cidrot` package. Users import `cidrot`, which adds the
// exception classes and the CSV importer written in Python.

#include <exception>
#include <string>

#include "common.h"

PYBIND11_MODULE(_cidrot, m) {
  namespace py = pybind11;
  using namespace cidrot::python;

  m.doc() = "Native core of cidrot (libcidrot). Import `cidrot` instead.";

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const cidrot::Error& e) {
      set_python_error(e);
    }
  });

  bind_values(m);
  bind_rotator(m);

  m.def("version", &cidrot::version, "The libcidrot version, e.g. '0.1.0'.");
  m.def("compiled_backends", &cidrot::compiled_backends,
        "Store URL schemes compiled into this build, e.g. ['memory', 'sqlite', 'redis', ...].");
  m.def("default_store_url", &cidrot::default_store_url,
        "The store the server and CLI use when none is configured.");
  m.def(
      "normalize_nanp",
      [](const std::string& number) { return cidrot::normalize_nanp(number, "number"); },
      py::arg("number"),
      "The 10-digit national form of a NANP number ('+1 (212) 555-0100' -> '2125550100'); "
      "raises InvalidArgument if it is not a dialable NANP number.");
  m.attr("TIERS") = py::make_tuple("same_npa", "overlay", "state", "nearby", "time_zone", "any");
}
