// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// Raw CPython "fastcall" methods for the per-call hot path (Rotator.next, Rotator.release,
// Lease.release, Lease.__exit__). pybind11's generic dispatcher costs a few hundred nanoseconds a
// call, as much as the lease itself on memory://; these methods parse their arguments directly
// and keep the binding's overhead under the C++ cost of the call (bench/python_vs_cpp).
#ifndef CIDROT_BINDINGS_PYTHON_FASTCALL_H_
#define CIDROT_BINDINGS_PYTHON_FASTCALL_H_

#include <cstddef>
#include <cstring>
#include <exception>
#include <initializer_list>
#include <new>
#include <string>

#include "common.h"

namespace cidrot::python::fast {

// Runs `f` (returning a new reference) and turns any C++ exception into the Python error the
// pybind11-bound methods would raise.
template <typename F>
PyObject* guarded(F&& f) noexcept {
  try {
    return f();
  } catch (py::error_already_set& e) {
    e.restore();
  } catch (const Error& e) {
    set_python_error(e);
  } catch (const py::builtin_exception& e) {
    e.set_error();
  } catch (const std::bad_alloc&) {
    PyErr_NoMemory();
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
  }
  return nullptr;
}

// Matches METH_FASTCALL|METH_KEYWORDS arguments to `names` (the first `max_positional` may be
// positional, the first `required` must be given). out[i] is a borrowed reference or nullptr.
// Throws py::type_error with Python's usual wording on a mismatch.
inline void parse_args(const char* fname, PyObject* const* args, Py_ssize_t nargs,
                       PyObject* kwnames, std::initializer_list<const char*> names,
                       Py_ssize_t max_positional, Py_ssize_t required, PyObject** out) {
  const auto count = static_cast<Py_ssize_t>(names.size());
  for (Py_ssize_t i = 0; i < count; ++i) out[i] = nullptr;
  if (nargs > max_positional) {
    throw py::type_error(std::string(fname) + "() takes at most " +
                         std::to_string(max_positional) + " positional arguments (" +
                         std::to_string(nargs) + " given)");
  }
  for (Py_ssize_t i = 0; i < nargs; ++i) out[i] = args[i];
  const Py_ssize_t nkw = kwnames == nullptr ? 0 : PyTuple_GET_SIZE(kwnames);
  for (Py_ssize_t k = 0; k < nkw; ++k) {
    const char* key = PyUnicode_AsUTF8(PyTuple_GET_ITEM(kwnames, k));
    if (key == nullptr) throw py::error_already_set();
    Py_ssize_t slot = -1;
    Py_ssize_t i = 0;
    for (const char* name : names) {
      if (std::strcmp(name, key) == 0) slot = i;
      ++i;
    }
    if (slot < 0) {
      throw py::type_error(std::string(fname) + "() got an unexpected keyword argument '" + key +
                           "'");
    }
    if (out[slot] != nullptr) {
      throw py::type_error(std::string(fname) + "() got multiple values for argument '" + key +
                           "'");
    }
    out[slot] = args[nargs + k];
  }
  Py_ssize_t i = 0;
  for (const char* name : names) {
    if (i < required && out[i] == nullptr) {
      throw py::type_error(std::string(fname) + "() missing required argument '" + name + "'");
    }
    ++i;
  }
}

// A str argument as UTF-8; None only where `allow_none` (then "").
inline std::string str_arg(PyObject* o, const char* fname, const char* name,
                           bool allow_none = false) {
  if (o == nullptr || (allow_none && o == Py_None)) return {};
  if (!PyUnicode_Check(o)) {
    throw py::type_error(std::string(fname) + "(): '" + name + "' must be str, not " +
                         Py_TYPE(o)->tp_name);
  }
  Py_ssize_t n = 0;
  const char* s = PyUnicode_AsUTF8AndSize(o, &n);
  if (s == nullptr) throw py::error_already_set();
  return std::string(s, static_cast<std::size_t>(n));
}

// The disposition/duration_s pair of the release methods.
inline Outcome outcome_args(PyObject* disposition, PyObject* duration_s, const char* fname) {
  std::optional<std::string> d;
  std::optional<std::int64_t> s;
  if (disposition != nullptr && disposition != Py_None) {
    d = str_arg(disposition, fname, "disposition");
  }
  if (duration_s != nullptr && duration_s != Py_None) {
    if (!PyLong_Check(duration_s) || PyBool_Check(duration_s)) {
      throw py::type_error(std::string(fname) + "(): 'duration_s' must be int or None");
    }
    const long long v = PyLong_AsLongLong(duration_s);
    if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
    s = v;
  }
  return make_outcome(d, s);
}

// Installs a static PyMethodDef as a method of the pybind11 class `cls`.
inline void add_method(const py::handle& cls, PyMethodDef* def) {
  PyObject* descr = PyDescr_NewMethod(reinterpret_cast<PyTypeObject*>(cls.ptr()), def);
  if (descr == nullptr) throw py::error_already_set();
  py::setattr(cls, def->ml_name, py::reinterpret_steal<py::object>(descr));
}

}  // namespace cidrot::python::fast

#endif  // CIDROT_BINDINGS_PYTHON_FASTCALL_H_
