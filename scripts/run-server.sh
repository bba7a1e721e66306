#!/usr/bin/env bash
# Builds cidrot-server and runs it in the foreground on the embedded SQLite store, with the demo
# numbers (examples/demo_numbers.csv) imported when the store is empty. Ctrl-C stops it
# gracefully. Usage: scripts/run-server.sh [cidrot-server flags...]
#
# Environment: the server's own (ADMIN_TOKEN, CIDROT_LISTEN, CIDROT_STORE, CIDROT_DATA_DIR, ...,
# or a .env file in the repository root); CIDROT_BUILD_DIR (default build/).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${CIDROT_BUILD_DIR:-$ROOT/build}

# 1. Debian build dependencies (skipped quickly when present), and curl for the import below.
bash scripts/install-deps.sh
if ! command -v curl >/dev/null; then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get install -y -qq curl >/dev/null
fi

# 2. Configure and build (Release, Ninja, ccache): just the server.
if [[ ! -f "$BUILD/build.ninja" ]]; then
  echo "run-server: configuring $BUILD"
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache \
    -DCIDROT_BUILD_TESTS=OFF >"$BUILD.configure.log" 2>&1 ||
    { cat "$BUILD.configure.log"; exit 1; }
fi
echo "run-server: building cidrot-server (first build takes a few minutes)"
ninja -C "$BUILD" cidrot-server
SERVER="$BUILD/apps/server/cidrot-server"

# 3. An admin token for this run when none is configured (the import needs one).
if "$SERVER" --print-config "$@" | grep -q '^ADMIN_TOKEN=    #'; then
  ADMIN_TOKEN=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
  export ADMIN_TOKEN
  SHOWN_TOKEN=$ADMIN_TOKEN
  echo "run-server: no ADMIN_TOKEN configured; using ADMIN_TOKEN=$ADMIN_TOKEN for this run"
  echo "            (put ADMIN_TOKEN=... in .env to keep one)"
fi

# 4. Start the server; the banner on its stdout gives the address it bound.
LOG=$(mktemp -t cidrot-server.XXXXXX)
"$SERVER" "$@" > >(tee "$LOG") &
PID=$!
# Ctrl-C reaches the server directly (same process group); a TERM to this script is passed on.
trap 'kill -TERM $PID 2>/dev/null || true' TERM
trap ':' INT
URL=""
for _ in $(seq 1 100); do
  URL=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$LOG" | head -1)
  [[ -n "$URL" ]] && break
  kill -0 $PID 2>/dev/null || { wait $PID; exit $?; }
  sleep 0.1
done
[[ -n "$URL" ]] || { echo "run-server: the server did not start"; kill $PID; exit 1; }

# 5. Demo numbers into an empty store.
auth=(-H "Authorization: Bearer ${ADMIN_TOKEN:-}")
if [[ -z "${ADMIN_TOKEN:-}" ]]; then
  # Configured in .env: the server knows it, this shell does not; read it from there.
  tok=$(sed -n 's/^[[:space:]]*\(export[[:space:]]\+\)\?ADMIN_TOKEN[[:space:]]*=[[:space:]]*//p' \
    .env 2>/dev/null | tail -1 | sed "s/^[\"']//; s/[\"'][[:space:]]*$//")
  auth=(-H "Authorization: Bearer $tok")
fi
numbers=$(curl -fsS "${auth[@]}" "$URL/api/stats" | sed -n 's/^{"numbers":\([0-9]*\).*/\1/p' || true)
if [[ "$numbers" == "0" ]]; then
  echo "run-server: the store is empty; importing examples/demo_numbers.csv"
  curl -fsS "${auth[@]}" -H 'Content-Type: text/csv' --data-binary @examples/demo_numbers.csv \
    "$URL/api/numbers/import" | sed 's/,"errors".*/}/; s/^/run-server: /'
  echo
elif [[ -z "$numbers" ]]; then
  echo "run-server: could not read /api/stats (admin token?); not importing the demo numbers"
else
  echo "run-server: the store holds $numbers numbers; not importing the demo numbers"
fi

cat <<EOF

  Try:
    curl '$URL/next-cid?to=2125551234&campaign=sales&agent=agent7'
    curl '$URL/next-cid?to=3105551234&campaign=sales&agent=agent7&format=text'
    curl -H 'Authorization: Bearer ${SHOWN_TOKEN:-<your ADMIN_TOKEN>}' '$URL/api/stats'

  Ctrl-C stops the server.
EOF
set +e
wait $PID
code=$?
wait $PID 2>/dev/null
rm -f "$LOG"
exit $code
