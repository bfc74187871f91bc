#!/usr/bin/env bash
# Start a throwaway PostgreSQL (Debian's package) for the storage/API tests and print its URL.
# Usage: eval "$(scripts/test-postgres.sh start)"; ...; scripts/test-postgres.sh stop
set -euo pipefail
DIR=${PG_TEST_DIR:-/tmp/recovery-pg}
PORT=${PG_TEST_PORT:-55432}
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "${1:-start}" in
start)
    if [ ! -x "$BIN/initdb" ]; then
        echo "installing Debian's postgresql..." >&2
        apt-get install -y -qq postgresql >/dev/null
        BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    fi
    mkdir -p "$DIR" && { [ "$(id -u)" != 0 ] || chown postgres "$DIR"; }
    if [ ! -f "$DIR/PG_VERSION" ]; then
        as_pg "$BIN/initdb" -D "$DIR" -A trust -U postgres >/dev/null
    fi
    if ! as_pg "$BIN/pg_ctl" -D "$DIR" status >/dev/null 2>&1; then  # else: reuse it
        as_pg "$BIN/pg_ctl" -D "$DIR" -l "$DIR/log" -w start \
            -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=on" >/dev/null
    fi
    echo "export RECOVERY_TEST_PG_URL=postgresql+psycopg://postgres@127.0.0.1:$PORT/postgres"
    ;;
stop)
    as_pg "$BIN/pg_ctl" -D "$DIR" -m fast -w stop >/dev/null || true
    ;;
esac
