#!/usr/bin/env bash
# HTTP benchmark: wrk against cidrot-server's GET /next-cid on the default SQLite store, next to
# nginx `return 200` (one worker, its own 127.0.0.1 port) in the same run, at 16/64/256
# connections, interleaved so that both see the same machine load; then an exhausted pool
# (every /next-cid a 409 denial) at 64 connections.
#
#   bash bench/http/run.sh                  # builds build/ if needed; 10 s per point
#   DURATION=30s CONNS="64 256" bash bench/http/run.sh
#   CIDROT_SERVER_BIN=build-x/apps/server/cidrot-server bash bench/http/run.sh
#   STORE=memory:// bash bench/http/run.sh  # the HTTP layer without SQLite's write path
#   CIDROT_BENCH_NPAS=1 bash bench/http/run.sh  # every lease from one area code (next_cid.lua)
#
# Also prints the server's CPU per /next-cid request by thread name (from /proc; `perf` needs no
# part in it), so that a change can be told apart from a busier machine.
#
# Prints a Markdown table (paste into bench/results/http.md) and the raw wrk output to
# $OUT (default /tmp/cidrot-bench-http). Needs wrk and nginx (Debian: wrk, nginx-light).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
DURATION=${DURATION:-10s}
CONNS=${CONNS:-16 64 256}
THREADS=${THREADS:-2}
NGINX_PORT=${NGINX_PORT:-18081}
CIDROT_PORT=${CIDROT_PORT:-18082}
POOL_NPAS=${POOL_NPAS:-200}   # area codes in the bench pool, 100 numbers each
OUT=${OUT:-/tmp/cidrot-bench-http}
TOKEN=bench-$$-$RANDOM$RANDOM
mkdir -p "$OUT"
rm -rf "${OUT:?}"/*

for tool in wrk nginx curl; do
  command -v $tool >/dev/null || { echo "bench: $tool is missing (apt-get install wrk nginx-light curl)"; exit 1; }
done

SERVER=${CIDROT_SERVER_BIN:-}
if [[ -z "$SERVER" ]]; then
  BUILD=${CIDROT_BUILD_DIR:-$ROOT/build}
  if [[ ! -f "$BUILD/build.ninja" ]]; then
    cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
      -DCIDROT_BUILD_TESTS=OFF >/dev/null
  fi
  ninja -C "$BUILD" cidrot-server >/dev/null
  SERVER=$BUILD/apps/server/cidrot-server
fi
SERVER=$(realpath "$SERVER")

NGINX_PID="" SERVER_PID=""
cleanup() {
  [[ -n "$NGINX_PID" ]] && kill "$NGINX_PID" 2>/dev/null || true
  [[ -n "$SERVER_PID" ]] && kill -TERM "$SERVER_PID" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT

# nginx, one worker.
mkdir -p "$OUT/nginx"
sed "s|@PORT@|$NGINX_PORT|; s|@PREFIX@|$OUT/nginx|g" bench/http/nginx.conf >"$OUT/nginx/nginx.conf"
nginx -p "$OUT/nginx" -c "$OUT/nginx/nginx.conf" -e "$OUT/nginx/error.log" &
NGINX_PID=$!

# cidrot-server on the default store (a fresh SQLite file in its data directory; STORE=memory://
# for the in-memory store), default logging (access lines to a file).
mkdir -p "$OUT/data"
(cd "$OUT/data" && CIDROT_DATA_DIR="$OUT/data" CIDROT_LISTEN=127.0.0.1:$CIDROT_PORT \
   ADMIN_TOKEN=$TOKEN exec env ${STORE:+CIDROT_STORE=$STORE} "$SERVER" >"$OUT/server.out" \
   2>"$OUT/server.err") &
SERVER_PID=$!
for _ in $(seq 1 100); do
  grep -q "listening on" "$OUT/server.out" 2>/dev/null && break
  sleep 0.1
done
grep "listening on" "$OUT/server.out" || { cat "$OUT/server.err"; exit 1; }
curl -fsS -o /dev/null "http://127.0.0.1:$NGINX_PORT/" || { cat "$OUT/nginx/error.log"; exit 1; }

# The bench pool: 100 numbers (555-01XX) in each of the first $POOL_NPAS area codes of the Lua
# script, serving campaign "bench" only, no caps, up to 1000 concurrent leases each (the 1 s
# TTL keeps ~rate active leases). The exhausted pool: 50 exclusive numbers of campaign
# "exhausted", all leased before its run.
npas=$(sed -n '/^local npas = {/,/^}/p' bench/http/next_cid.lua | tr -cs '0-9' '\n' | grep -E '^[0-9]{3}$' |
  head -"$POOL_NPAS")
{
  echo "caller_id,carrier,area_code,daily_limit,hourly_limit,meta_json,campaigns,active,max_concurrent"
  for npa in $npas; do
    for i in $(seq -w 0 99); do echo "${npa}55501$i,Bench,$npa,0,0,{},bench,true,1000"; done
  done
  for i in $(seq -w 0 49); do echo "41655501$i,Bench,416,0,0,{},exhausted,true,1"; done
} >"$OUT/pool.csv"
curl -fsS -H "Authorization: Bearer $TOKEN" --data-binary @"$OUT/pool.csv" \
  "http://127.0.0.1:$CIDROT_PORT/api/numbers/import" | sed 's/,"errors".*/}/' >"$OUT/import.json"
echo "bench: imported $(cat "$OUT/import.json")"

# "name ticks" per thread name of the server (utime + stime, in clock ticks).
thread_ticks() {
  for t in /proc/"$SERVER_PID"/task/*; do
    echo "$(cat "$t/comm" 2>/dev/null) $(awk '{ print $14 + $15 }' "$t/stat" 2>/dev/null)"
  done | awk 'NF == 2 { a[$1] += $2 } END { for (k in a) print k, a[k] }' | sort
}
HZ=$(getconf CLK_TCK)

run_wrk() {  # name conns url [lua]
  local name=$1 conns=$2 url=$3 lua=${4:-}
  local args=(-t"$THREADS" -c"$conns" -d"$DURATION" --latency)
  [[ -n "$lua" ]] && args+=(-s "$lua")
  wrk "${args[@]}" "$url" >"$OUT/$name-c$conns.txt" 2>&1
}

# "req/s p50 p99 non2xx" from a wrk report, latencies in ms.
summarise() {
  awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /Requests\/sec/ { rps = $2 }
    /^ +50%/ { p50 = ms($2) }
    /^ +99%/ { p99 = ms($2) }
    /Non-2xx/ { non2xx = $5 }
    /Socket errors/ { errs = $0 }
    END { printf "%.0f %.3f %.3f %d\n", rps, p50, p99, non2xx + 0 }' "$1"
}

echo "bench: warm-up"
run_wrk warmup 64 "http://127.0.0.1:$CIDROT_PORT" bench/http/next_cid.lua

declare -A RES
for c in $CONNS; do
  echo "bench: $c connections: nginx"
  run_wrk nginx "$c" "http://127.0.0.1:$NGINX_PORT/"
  RES[nginx,$c]=$(summarise "$OUT/nginx-c$c.txt")
  echo "bench: $c connections: cidrot-server /next-cid"
  thread_ticks >"$OUT/ticks-before-c$c.txt"
  run_wrk cidrot "$c" "http://127.0.0.1:$CIDROT_PORT" bench/http/next_cid.lua
  thread_ticks >"$OUT/ticks-after-c$c.txt"
  RES[cidrot,$c]=$(summarise "$OUT/cidrot-c$c.txt")
done

# Exhausted pool: lease all 50 numbers for an hour, then every request is denied (409).
for _ in $(seq 1 50); do
  curl -fsS -o /dev/null "http://127.0.0.1:$CIDROT_PORT/next-cid?to=4165551234&campaign=exhausted&ttl=3600"
done
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$CIDROT_PORT/next-cid?to=4165551234&campaign=exhausted")
[[ "$code" == "409" ]] || { echo "bench: exhausted pool answered $code, not 409"; exit 1; }
echo "bench: 64 connections: exhausted pool"
CIDROT_BENCH_CAMPAIGN=exhausted run_wrk exhausted 64 "http://127.0.0.1:$CIDROT_PORT" bench/http/next_cid.lua
RES[exhausted,64]=$(summarise "$OUT/exhausted-c64.txt")
echo "bench: 64 connections: cidrot-server /next-cid again (success rate next to the denials)"
run_wrk cidrot2 64 "http://127.0.0.1:$CIDROT_PORT" bench/http/next_cid.lua
RES[cidrot2,64]=$(summarise "$OUT/cidrot2-c64.txt")

kill -TERM "$SERVER_PID"
wait "$SERVER_PID" && echo "bench: cidrot-server exited 0 on SIGTERM"
SERVER_PID=""
fives=$(grep -c '" 5[0-9][0-9] ' "$OUT/server.out" || true)

echo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "store: $(sed -n 's/.*(store \([^,]*\),.*/\1/p' "$OUT/server.out"); wrk -t$THREADS -d$DURATION; pool $(grep -c , "$OUT/pool.csv") numbers"
echo
echo "| connections | nginx req/s | nginx p50 / p99 ms | /next-cid req/s | /next-cid p50 / p99 ms | ratio | non-2xx |"
echo "|---:|---:|---:|---:|---:|---:|---:|"
for c in $CONNS; do
  read -r nr n50 n99 _ <<<"${RES[nginx,$c]}"
  read -r cr c50 c99 cn <<<"${RES[cidrot,$c]}"
  ratio=$(awk -v a="$cr" -v b="$nr" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
  echo "| $c | $nr | $n50 / $n99 | $cr | $c50 / $c99 | ${ratio}x | $cn |"
done
echo
echo "Server CPU per /next-cid request, by thread (µs; names as \`top -H\` shows them, docs/deploy.md):"
echo
echo "| connections | cidrot-io | cidrot-store | cidrot-ckpt | cidrot-expire | all |"
echo "|---:|---:|---:|---:|---:|---:|"
for c in $CONNS; do
  n=$(awk '/requests in/ { print $1 }' "$OUT/cidrot-c$c.txt")
  join -a2 "$OUT/ticks-before-c$c.txt" "$OUT/ticks-after-c$c.txt" |
    awk -v c="$c" -v n="${n:-0}" -v hz="$HZ" '
      { d[$1] = (NF == 3 ? $3 - $2 : $2); all += d[$1] }
      function us(t) { return n > 0 ? t * 1e6 / hz / n : 0 }
      END { printf "| %s | %.1f | %.1f | %.1f | %.1f | %.1f |\n", c, us(d["cidrot-io"]),
              us(d["cidrot-store"]), us(d["cidrot-ckpt"]), us(d["cidrot-expire"]), us(all) }'
done
echo
read -r er e50 e99 en <<<"${RES[exhausted,64]}"
read -r sr s50 s99 _ <<<"${RES[cidrot2,64]}"
echo
echo "| 64 connections | req/s | p50 / p99 ms | non-2xx |"
echo "|---|---:|---:|---:|"
echo "| exhausted pool (409 all_reserved) | $er | $e50 / $e99 | $en |"
echo "| success, same run | $sr | $s50 / $s99 | - |"
echo "| denial / success | $(awk -v a="$er" -v b="$sr" 'BEGIN { printf "%.2fx", (b > 0 ? a / b : 0) }') | | |"
echo
echo "5xx in the access log: $fives; raw wrk output in $OUT"
