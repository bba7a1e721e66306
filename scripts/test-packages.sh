#!/usr/bin/env bash
# Checks the three packaged ways into libcidrot, each from the sources as they are in this tree and
# with nothing installed beforehand but the system's compilers and -dev packages:
#
#   python  fresh venv, `pip install .` (scikit-build-core + pybind11 from PyPI), pytest
#           tests/python against the installed package (run from outside the source tree;
#           mypy too, for the stub test)
#   cmake   configure/build/`cmake --install` to a prefix, then build and run test_package/ and
#           the example of docs/cpp.md against that prefix with find_package(cidrot)
#   conan   conan (from PyPI, in a venv) with a throw-away CONAN_HOME, Conan Center disabled,
#           `conan create .` with conan/profiles/debian-system (Debian's packages via
#           [platform_requires]), which also builds and runs test_package/
#
# Usage: scripts/test-packages.sh [python] [cmake] [conan]      (default: all three)
# Environment:
#   CIDROT_TEST_REDIS_URL, CIDROT_TEST_POSTGRES_URL   passed to pytest: the Redis/PostgreSQL tests
#                                  run (and must pass) when set, and are skipped when not
#   PYTHON                         interpreter for the venvs (default: python3)
#   CIDROT_JOBS                    parallel compile jobs (default: 2)
#   CIDROT_PACKAGES_WORKDIR        keep venvs/builds/prefix there (default: a temp dir, removed)
#   CIDROT_INSTALL_FROM_BUILD      an already built tree to `cmake --install` (skips the cmake
#                                  step's own build; CI passes its main build)
#   CIDROT_CMAKE_ARGS              extra arguments for the `cmake --install` build, e.g.
#                                  "-DCIDROT_WITH_POSTGRES=OFF" on a machine without libpq
# Uses ccache when installed (CCACHE_DIR as set by the caller).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${PYTHON:-python3}
JOBS=${CIDROT_JOBS:-2}
STEPS=("$@")
[[ ${#STEPS[@]} -eq 0 ]] && STEPS=(python cmake conan)

if [[ -n ${CIDROT_PACKAGES_WORKDIR:-} ]]; then
  WORK=$CIDROT_PACKAGES_WORKDIR
  mkdir -p "$WORK"
else
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/cidrot-packages.XXXXXX")
  trap 'rm -rf "$WORK"' EXIT
fi
WORK=$(cd "$WORK" && pwd)

export CMAKE_BUILD_PARALLEL_LEVEL=$JOBS
if command -v ccache >/dev/null 2>&1; then
  # CMake >= 3.17 reads these to initialise the compiler launcher of every project it configures,
  # including the ones pip and Conan run.
  export CMAKE_C_COMPILER_LAUNCHER=ccache CMAKE_CXX_COMPILER_LAUNCHER=ccache
fi
GENERATOR=()
command -v ninja >/dev/null 2>&1 && GENERATOR=(-G Ninja)

log() { printf '\n== test-packages: %s\n' "$*"; }
fail() { printf 'test-packages: FAILED: %s\n' "$*" >&2; exit 1; }

step_python() {
  local venv=$WORK/venv-python
  log "python: fresh venv, pip install . (${PYTHON})"
  rm -rf "$venv"
  "$PYTHON" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet "pytest>=7" mypy
  "$venv/bin/python" -m pip install "$ROOT"
  log "python: pytest tests/python against the installed package"
  # From outside the tree, so `import cidrot` can only find the installed package.
  (cd "$WORK" && CIDROT_TEST_INSTALLED=1 "$venv/bin/python" -m pytest -p no:cacheprovider \
     -o "addopts=" -ra "$ROOT/tests/python")
}

step_cmake() {
  local build=$WORK/build-install prefix=$WORK/prefix
  rm -rf "$build" "$prefix"
  if [[ -n ${CIDROT_INSTALL_FROM_BUILD:-} ]]; then
    # CI has just built and tested everything there: install that build instead of a second one.
    log "cmake: install $CIDROT_INSTALL_FROM_BUILD to $prefix"
    cmake --install "$CIDROT_INSTALL_FROM_BUILD" --prefix "$prefix"
  else
    log "cmake: build and install to $prefix"
    # shellcheck disable=SC2086  # CIDROT_CMAKE_ARGS is a list of arguments
    cmake -S "$ROOT" -B "$build" "${GENERATOR[@]}" -DCMAKE_BUILD_TYPE=Release \
      -DCIDROT_BUILD_TESTS=OFF -DCIDROT_BUILD_SERVER=OFF -DCIDROT_BUILD_CLI=OFF \
      -DCIDROT_BUILD_PYTHON=OFF -DCIDROT_INSTALL=ON -DCMAKE_INSTALL_PREFIX="$prefix" \
      ${CIDROT_CMAKE_ARGS:-}
    cmake --build "$build" --parallel "$JOBS"
    cmake --install "$build"
  fi
  [[ -f $prefix/include/cidrot/cidrot.h ]] || fail "headers not installed"
  [[ -f $prefix/lib/cmake/cidrot/cidrotConfig.cmake ]] || fail "cidrotConfig.cmake not installed"
  [[ -f $prefix/lib/cmake/cidrot/cidrotConfigVersion.cmake ]] || fail "version file not installed"

  log "cmake: test_package/ against the prefix"
  cmake -S "$ROOT/test_package" -B "$WORK/build-test-package" "${GENERATOR[@]}" \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix"
  cmake --build "$WORK/build-test-package"
  "$WORK/build-test-package/test_package"

  log "cmake: the dialer example of docs/cpp.md against the prefix"
  local ex=$WORK/docs-cpp-example
  rm -rf "$ex" && mkdir -p "$ex"
  "$PYTHON" - "$ROOT/docs/cpp.md" "$ex" <<'PY'
import pathlib, re, sys
text = pathlib.Path(sys.argv[1]).read_text()
section = text.split("## Complete example", 1)[1].split("\n## ", 1)[0]
cpp = re.findall(r"```cpp\n(.*?)```", section, re.S)
cmake = re.findall(r"```cmake\n(.*?)```", section, re.S)
assert len(cpp) == 1 and len(cmake) == 1, "docs/cpp.md: expected one cpp and one cmake block"
out = pathlib.Path(sys.argv[2])
(out / "dialer.cpp").write_text(cpp[0])
(out / "CMakeLists.txt").write_text(cmake[0])
PY
  cmake -S "$ex" -B "$ex/build" "${GENERATOR[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$prefix"
  cmake --build "$ex/build"
  "$ex/build/dialer"
}

step_conan() {
  local venv=$WORK/venv-conan
  log "conan: conan from PyPI, hermetic CONAN_HOME, conan create . offline (debian-system)"
  rm -rf "$venv"
  "$PYTHON" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet "conan>=2.0.5,<3"
  export CONAN_HOME=$WORK/conan-home
  rm -rf "$CONAN_HOME"
  "$venv/bin/conan" profile detect --force
  # Offline: every dependency must come from the system through [platform_requires].
  "$venv/bin/conan" remote disable "*"
  "$venv/bin/conan" create "$ROOT" -pr:h "$ROOT/conan/profiles/debian-system" -pr:b default \
    -c "tools.build:jobs=$JOBS"
  "$venv/bin/conan" list "cidrot/*:*"
}

for step in "${STEPS[@]}"; do
  case $step in
    python | cmake | conan)
      start=$SECONDS
      "step_$step"
      log "$step: OK ($((SECONDS - start)) s)"
      ;;
    *) fail "unknown step '$step' (expected python, cmake, conan)" ;;
  esac
done
log "all OK: ${STEPS[*]}"
