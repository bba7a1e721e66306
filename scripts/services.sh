#!/usr/bin/env bash
# Starts (or stops) throwaway Redis and PostgreSQL servers for the tests, on 127.0.0.1 only and
# on non-default ports, with data in a temporary directory.
#   source scripts/services.sh; services_start   -> exports CIDROT_TEST_REDIS_URL,
#                                                   CIDROT_TEST_POSTGRES_URL
#   services_stop
CIDROT_REDIS_PORT=${CIDROT_REDIS_PORT:-6390}
CIDROT_PG_PORT=${CIDROT_PG_PORT:-5433}

services_start() {
  CIDROT_SERVICES_DIR=$(mktemp -d /tmp/cidrot-services.XXXXXX)
  chmod 755 "$CIDROT_SERVICES_DIR"
  export CIDROT_SERVICES_DIR

  redis-server --bind 127.0.0.1 --port "$CIDROT_REDIS_PORT" --dir "$CIDROT_SERVICES_DIR" \
    --save '' --appendonly no --daemonize yes \
    --pidfile "$CIDROT_SERVICES_DIR/redis.pid" --logfile "$CIDROT_SERVICES_DIR/redis.log"
  for _ in $(seq 50); do
    redis-cli -h 127.0.0.1 -p "$CIDROT_REDIS_PORT" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  redis-cli -h 127.0.0.1 -p "$CIDROT_REDIS_PORT" ping >/dev/null
  export CIDROT_TEST_REDIS_URL="redis://127.0.0.1:$CIDROT_REDIS_PORT/0"

  local pgbin pgdata as_pg=()
  pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  pgdata="$CIDROT_SERVICES_DIR/pg"
  mkdir -p "$pgdata"
  if [[ $(id -u) -eq 0 ]]; then
    chown postgres:postgres "$pgdata"
    as_pg=(runuser -u postgres --)
  fi
  "${as_pg[@]}" "$pgbin/initdb" -D "$pgdata" -A trust -U cidrot -E UTF8 >"$CIDROT_SERVICES_DIR/initdb.log"
  "${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgdata" -l "$pgdata/server.log" -w \
    -o "-p $CIDROT_PG_PORT -c listen_addresses=127.0.0.1 -k $pgdata -c max_connections=300" start >/dev/null
  psql -h 127.0.0.1 -p "$CIDROT_PG_PORT" -U cidrot -d postgres -qc "CREATE DATABASE cidrot_test" >/dev/null
  export CIDROT_TEST_POSTGRES_URL="postgresql://cidrot@127.0.0.1:$CIDROT_PG_PORT/cidrot_test"
  CIDROT_PG_STOP=("${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgdata" -m fast stop)
  echo "services: redis on 127.0.0.1:$CIDROT_REDIS_PORT, postgresql on 127.0.0.1:$CIDROT_PG_PORT"
}

services_stop() {
  [[ -n "${CIDROT_SERVICES_DIR:-}" ]] || return 0
  if [[ -f "$CIDROT_SERVICES_DIR/redis.pid" ]]; then
    kill "$(cat "$CIDROT_SERVICES_DIR/redis.pid")" 2>/dev/null || true
  fi
  if [[ -n "${CIDROT_PG_STOP:-}" ]]; then "${CIDROT_PG_STOP[@]}" >/dev/null 2>&1 || true; fi
  rm -rf "$CIDROT_SERVICES_DIR"
  CIDROT_SERVICES_DIR=""
}
