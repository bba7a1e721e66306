#!/usr/bin/env bash
# The test command (README, .ci/run): installs what it needs, builds everything with warnings as
# errors, starts throwaway Redis and PostgreSQL servers, and runs every test suite:
# C++ (ctest: unit, conformance on every backend, multi-process, crash, fault, server, CLI),
# Python (pip install . + pytest), packaging (install-prefix consumer, conan create), browser.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${CIDROT_BUILD_DIR:-$ROOT/build-test}
# Paths below the checkout are hashed relative to it, so clones in other folders share ccache hits.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$ROOT}

bash scripts/install-deps.sh --test

source scripts/services.sh
trap services_stop EXIT
services_start

echo "== configure + build ($BUILD)"
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache \
  -DCIDROT_WERROR=ON -DCIDROT_BUILD_BENCH=ON \
  -DCIDROT_TEST_REDIS_URL="$CIDROT_TEST_REDIS_URL" \
  -DCIDROT_TEST_POSTGRES_URL="$CIDROT_TEST_POSTGRES_URL" >"$BUILD.configure.log" 2>&1 \
  || { cat "$BUILD.configure.log"; exit 1; }
ninja -C "$BUILD" -j"$(nproc)"

echo "== ctest"
ctest --test-dir "$BUILD" --output-on-failure -j2 --timeout 600

if [[ -x scripts/test-packages.sh || -f scripts/test-packages.sh ]]; then
  echo "== packages: pip install . + pytest, install-prefix consumer, conan create"
  CIDROT_INSTALL_FROM_BUILD="$BUILD" bash scripts/test-packages.sh
fi

if [[ -f tests/browser/run.sh ]]; then
  echo "== browser: dashboard in headless Chromium"
  CIDROT_SERVER_BIN="$BUILD/apps/server/cidrot-server" bash tests/browser/run.sh
fi
echo "== all tests passed"
