# Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
"""Conan 2 recipe of libcidrot.

    conan create .                                   # with Conan Center's packages
    conan create . -pr:a conan/profiles/debian-system  # offline, over Debian's -dev packages

The package is what `cmake --install` produces: lib/libcidrot.a (or .so), include/cidrot/*.h and
lib/cmake/cidrot/cidrotConfig.cmake. CMake consumers get that config file (it finds the private
link dependencies of a static cidrot the same way the build found them, which also works when a
profile maps them to system packages with [platform_requires], for which CMakeDeps generates
nothing); other generators use cpp_info below.
"""

import os
import re

from conan import ConanFile
from conan.tools.build import check_min_cppstd
from conan.tools.cmake import CMake, CMakeDeps, CMakeToolchain, cmake_layout
from conan.tools.files import copy, load

required_conan_version = ">=2.0.5"


class CidrotConan(ConanFile):
    name = "cidrot"
    description = (
        "Outbound caller-ID rotation for call centres: local presence, least-recently-used "
        "rotation, hourly/daily caps and exclusive leases over memory, SQLite, Redis or PostgreSQL"
    )
    license = "MIT"
    topics = ("caller-id", "call-center", "dialer", "telephony", "nanp")
    package_type = "library"
    settings = "os", "arch", "compiler", "build_type"
    options = {
        "shared": [True, False],
        "fPIC": [True, False],
        "with_sqlite": [True, False],
        "with_redis": [True, False],
        "with_postgres": [True, False],
        "tools": [True, False],
    }
    default_options = {
        "shared": False,
        "fPIC": True,
        "with_sqlite": True,
        "with_redis": True,
        "with_postgres": True,
        "tools": False,
    }
    exports_sources = (
        "CMakeLists.txt",
        "cmake/*",
        "libcidrot/*",
        "storage/*",
        "apps/*",
        "LICENSE*",
        "THIRD_PARTY_NOTICES.md",
    )

    def set_version(self):
        # One source of truth: project(cidrot VERSION x.y.z) in the root CMakeLists.txt.
        text = load(self, os.path.join(self.recipe_folder, "CMakeLists.txt"))
        self.version = re.search(r"project\(cidrot\s+VERSION\s+([0-9.]+)", text).group(1)

    def config_options(self):
        if self.settings.os == "Windows":
            del self.options.fPIC

    def configure(self):
        if self.options.shared:
            self.options.rm_safe("fPIC")

    def layout(self):
        cmake_layout(self)

    def requirements(self):
        # Ranges start at the versions Debian 12 ships (see conan/profiles/debian-system), so a
        # profile can map them to the system packages; online they resolve to Conan Center's
        # newest. The library uses only hiredis's synchronous API, common to 0.14 and 1.x.
        self.requires("boost/[>=1.81.0 <2]")
        self.requires("date/[>=3.0.1 <4]")
        if self.options.with_sqlite:
            self.requires("sqlitecpp/[>=3.2.1 <4]")
            self.requires("sqlite3/[>=3.40.0 <4]")
        if self.options.with_redis:
            self.requires("hiredis/[>=0.14.1 <2]")
        if self.options.with_postgres:
            self.requires("libpq/[>=15.0 <18]")

    def validate(self):
        check_min_cppstd(self, 17)

    def generate(self):
        tc = CMakeToolchain(self)
        tc.cache_variables["CIDROT_WITH_SQLITE"] = bool(self.options.with_sqlite)
        tc.cache_variables["CIDROT_WITH_REDIS"] = bool(self.options.with_redis)
        tc.cache_variables["CIDROT_WITH_POSTGRES"] = bool(self.options.with_postgres)
        tc.cache_variables["CIDROT_BUILD_SERVER"] = bool(self.options.tools)
        tc.cache_variables["CIDROT_BUILD_CLI"] = bool(self.options.tools)
        tc.cache_variables["CIDROT_BUILD_TESTS"] = False
        tc.cache_variables["CIDROT_BUILD_BENCH"] = False
        tc.cache_variables["CIDROT_BUILD_PYTHON"] = False
        tc.cache_variables["CIDROT_INSTALL"] = True
        tc.generate()
        CMakeDeps(self).generate()

    def build(self):
        cmake = CMake(self)
        cmake.configure()
        cmake.build()

    def package(self):
        for pattern in ("LICENSE*", "THIRD_PARTY_NOTICES.md"):
            copy(self, pattern, self.source_folder, os.path.join(self.package_folder, "licenses"))
        cmake = CMake(self)
        cmake.install()
        if self.options.tools:
            # The server and the CLI install themselves through their own install() rules, if
            # any; fall back to the build tree so the tools are packaged either way.
            for exe in ("cidrot-server", "cidrot"):
                copy(self, exe, self.build_folder, os.path.join(self.package_folder, "bin"),
                     keep_path=False)

    def package_info(self):
        # CMake consumers use the package's own cidrotConfig.cmake (see the module docstring).
        self.cpp_info.set_property("cmake_find_mode", "none")
        self.cpp_info.builddirs = [os.path.join("lib", "cmake", "cidrot")]
        self.cpp_info.set_property("cmake_file_name", "cidrot")
        self.cpp_info.set_property("cmake_target_name", "cidrot::cidrot")
        self.cpp_info.set_property("pkg_config_name", "cidrot")

        self.cpp_info.libs = ["cidrot"]
        self.cpp_info.requires = ["boost::headers", "date::date-tz"]
        if self.options.with_sqlite:
            self.cpp_info.requires += ["sqlitecpp::sqlitecpp", "sqlite3::sqlite3"]
        if self.options.with_redis:
            self.cpp_info.requires.append("hiredis::hiredis")
        if self.options.with_postgres:
            self.cpp_info.requires.append("libpq::libpq")
        if self.settings.os in ("Linux", "FreeBSD"):
            self.cpp_info.system_libs = ["pthread", "m"]
        if self.options.tools:
            self.runenv_info.prepend_path("PATH", os.path.join(self.package_folder, "bin"))
