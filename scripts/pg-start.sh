#!/usr/bin/env bash
# Installs PostgreSQL (Debian's package) if needed and starts a throwaway cluster on 127.0.0.1.
# Prints the admin URL on stdout; the cluster's directory and pid go to $PG_STATE (default /tmp/seatkeeper-pg).
set -euo pipefail
PGPORT=${PGPORT:-55433}
PG_STATE=${PG_STATE:-/tmp/seatkeeper-pg}
if ! ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
fi
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | tail -1)
if [[ -f "$PG_STATE/data/postmaster.pid" ]] && kill -0 "$(head -1 "$PG_STATE/data/postmaster.pid")" 2>/dev/null; then
  echo "postgres://postgres@127.0.0.1:$PGPORT/postgres"
  exit 0
fi
rm -rf "$PG_STATE"; mkdir -p "$PG_STATE"
chown postgres:postgres "$PG_STATE"; chmod 700 "$PG_STATE"
runuser -u postgres -- "$PGBIN/initdb" -D "$PG_STATE/data" -U postgres -A trust -E UTF8 --no-locale >&2
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PG_STATE/data" -l "$PG_STATE/server.log" -w -t 60 \
  -o "-p $PGPORT -k $PG_STATE -c listen_addresses=127.0.0.1 -c max_connections=400 -c shared_buffers=256MB" start >&2
echo "postgres://postgres@127.0.0.1:$PGPORT/postgres"
