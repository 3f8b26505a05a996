#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, unit, property and integration tests on
# SQLite and on a real PostgreSQL started here on 127.0.0.1, the official Microsoft Graph
# Python SDK against a real server, Schemathesis against the REST API's OpenAPI document, and the
# web admin center in Debian's headless Chromium driven by Playwright. Installs what it needs
# (Debian's PostgreSQL and Chromium, Python packages).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}
started=$(date +%s)
step() { echo; echo "==> $* ($(( $(date +%s) - started )) s)"; }

if [[ $(id -u) -ne 0 ]]; then
  echo "scripts/test.sh installs PostgreSQL with apt-get and runs it as the postgres user: run it as root" >&2
  exit 2
fi

step "PostgreSQL"
export PG_STATE=$(mktemp -d /tmp/seatkeeper-pg.XXXX)
# The first free port from 55439 up, unless PGPORT names one: another cluster on the machine
# (a second checkout's test run, say) keeps its port.
if [[ -z "${PGPORT:-}" ]]; then
  for port in $(seq 55439 55538); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      PGPORT=$port
      break
    fi
  done
fi
export PGPORT=${PGPORT:-55439}
SEATKEEPER_TEST_PG_URL=$(bash scripts/pg-start.sh)
export SEATKEEPER_TEST_PG_URL
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | tail -1)
# Stopped and removed at the end: each run's cluster holds some 3 GB of test databases.
stop_pg() {
  runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PG_STATE/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$PG_STATE"
}
trap stop_pg EXIT
echo "PostgreSQL at $SEATKEEPER_TEST_PG_URL"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests (SQLite and PostgreSQL)"
if ! cargo nextest --version >/dev/null 2>&1; then
  cargo install cargo-nextest --locked
fi
cargo nextest run --workspace --locked --no-fail-fast

step "Microsoft Graph Python SDK against a real server"
SEATKEEPER_BIN=target/debug/seatkeeper bash tests/graph_sdk/run.sh

step "Schemathesis against the REST API's OpenAPI document"
SEATKEEPER_BIN=target/debug/seatkeeper bash tests/schemathesis/run.sh

step "the web admin center in headless Chromium (Playwright)"
SEATKEEPER_BIN=target/debug/seatkeeper bash tests/browser/run.sh

step "all passed in $(( $(date +%s) - started )) s"
