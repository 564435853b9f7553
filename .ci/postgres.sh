#!/usr/bin/env bash
# Start a throwaway PostgreSQL server for the tests: the distribution's package, run as the
# `postgres` user (initdb refuses root), listening on 127.0.0.1 only, trust auth on loopback.
# Prints the URL the tests read from IDO_TEST_POSTGRES. Idempotent: a running server is reused.
# Usage: eval "$(bash .ci/postgres.sh)"   (sets IDO_TEST_POSTGRES)
set -euo pipefail
PORT="${IDO_PG_PORT:-55432}"
DATA="${IDO_PG_DATA:-/tmp/ido-ci-postgres}"
if ! ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >&2
    else
        echo "PostgreSQL is not installed and this is not root: sudo apt-get install -y postgresql" >&2
        exit 1
    fi
fi
PGBIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
as_postgres() {
    if [ "$(id -un)" = postgres ]; then "$@"; else su postgres -s /bin/sh -c "$(printf '%q ' "$@")"; fi
}
if ! as_postgres "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    if [ ! -f "$DATA/PG_VERSION" ]; then
        rm -rf "$DATA" && mkdir -p "$DATA" && chown postgres: "$DATA"
        as_postgres "$PGBIN/initdb" -D "$DATA" -U postgres -A trust --no-sync >/dev/null
    fi
    as_postgres "$PGBIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 60 start \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -c unix_socket_directories=$DATA -c max_connections=200 -c fsync=on" >/dev/null
fi
for db in ido_test ido_bench; do
    as_postgres "$PGBIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 \
        || as_postgres "$PGBIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "$db"
done
echo "export IDO_TEST_POSTGRES=postgresql://postgres@127.0.0.1:$PORT/ido_test"
