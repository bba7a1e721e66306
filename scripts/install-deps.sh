#!/usr/bin/env bash
# Installs the Debian 12 packages libcidrot needs to build and test. Idempotent and quick when
# everything is already there. Usage: scripts/install-deps.sh [--test]
#   (no flag)  build dependencies only (what the server, CLI and library need)
#   --test     also the servers and tools the test suite runs (Redis, PostgreSQL, nginx, wrk,
#              Chromium for the dashboard test)
set -euo pipefail

BUILD_PKGS=(build-essential cmake ninja-build ccache pkg-config git
  libboost1.81-all-dev libsqlitecpp-dev libsqlite3-dev libhiredis-dev libpq-dev
  libhowardhinnant-date-dev tzdata)
TEST_PKGS=(catch2 libbenchmark-dev pybind11-dev python3-venv redis-server postgresql
  nginx-light wrk chromium chromium-driver curl)

pkgs=("${BUILD_PKGS[@]}")
if [[ "${1:-}" == "--test" ]]; then pkgs+=("${TEST_PKGS[@]}"); fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#pkgs[@]} packages present"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" \
  >/tmp/cidrot-apt.log 2>&1 || { tail -50 /tmp/cidrot-apt.log; exit 1; }
# Debian starts the packaged services on their default ports; tests use their own instances.
if [[ -z "$SUDO" ]] || command -v sudo >/dev/null; then
  $SUDO systemctl disable --now redis-server postgresql nginx >/dev/null 2>&1 || true
fi
echo "install-deps: done"
