#!/usr/bin/env bash
# Browser test of the operator dashboard (docs/dashboard.md), called by scripts/test.sh as
#   CIDROT_SERVER_BIN=<path to cidrot-server> bash tests/browser/run.sh
# Needs node + npm and Chromium (/usr/bin/chromium, or CHROMIUM=<path>); installs playwright-core
# into tests/browser/node_modules on first use. Extra arguments go to dashboard.test.mjs
# (--screenshot FILE, --bench N). Exits non-zero on failure.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
: "${CIDROT_SERVER_BIN:?set CIDROT_SERVER_BIN to the cidrot-server binary}"
export CIDROT_SERVER_BIN="$(cd "$(dirname "$CIDROT_SERVER_BIN")" && pwd)/$(basename "$CIDROT_SERVER_BIN")"
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
[ -x "$CIDROT_SERVER_BIN" ] || { echo "run.sh: $CIDROT_SERVER_BIN is not executable" >&2; exit 2; }
[ -x "$CHROMIUM" ] || { echo "run.sh: no Chromium at $CHROMIUM (apt-get install chromium)" >&2; exit 2; }
command -v node >/dev/null || { echo "run.sh: node is needed" >&2; exit 2; }
export CIDROT_CALLER_DIR="$PWD"  # --screenshot paths are relative to where run.sh was called
cd "$here"
if ! node -e "require.resolve('playwright-core')" 2>/dev/null; then
  # --ignore-scripts: playwright-core downloads no browser; we drive the system Chromium.
  npm install --no-audit --no-fund --ignore-scripts --no-package-lock >&2
fi
exec node dashboard.test.mjs "$@"
