#!/usr/bin/env bash
# Property-based tests of the REST API (/api/v1) with Schemathesis, driven by the OpenAPI
# document the server itself serves at /api/v1/openapi.json.
#
#   tests/schemathesis/run.sh [extra schemathesis run args]
#
# Builds nothing: takes the binary from $SEATKEEPER_BIN (default target/debug/seatkeeper).
# Uses the virtual environment at $VENV (default .venv at the repository root, shared with the
# Graph SDK tests) and installs schemathesis into it if missing. Starts `seatkeeper serve --demo
# --dev-clock` on a free loopback port over a fresh data directory, runs Schemathesis as the
# demo's Global admin, and exits non-zero on any failure. Settings: schemathesis.toml here.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VENV=${VENV:-$ROOT/.venv}
BIN=${SEATKEEPER_BIN:-$ROOT/target/debug/seatkeeper}
# Same seed, same requests: a failure seen once can be replayed.
SEED=${SCHEMATHESIS_SEED:-20261129}

if [[ ! -x "$BIN" ]]; then
  echo "No seatkeeper binary at $BIN: build it with 'cargo build -p seatkeeper' or set SEATKEEPER_BIN." >&2
  exit 2
fi
if [[ ! -x "$VENV/bin/python" ]]; then
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import schemathesis' >/dev/null 2>&1; then
  "$VENV/bin/pip" install --quiet --disable-pip-version-check 'schemathesis>=4,<5'
fi

# shellcheck source=../demo-server.sh
source "$HERE/../demo-server.sh"

set +e
# One worker: the run is reproducible from the seed, and stateful sequences do not interleave.
# It takes about a minute; the timeout turns a hang into a failure instead of a stuck CI run.
timeout "${SCHEMATHESIS_TIMEOUT:-300}" \
  "$VENV/bin/schemathesis" --config-file "$HERE/schemathesis.toml" run \
  "$URL/api/v1/openapi.json" \
  --header "Authorization: Bearer $TOKEN" \
  --seed "$SEED" \
  --workers 1 \
  --no-color \
  "$@"
CODE=$?
set -e
if [[ $CODE -eq 124 ]]; then
  echo "Schemathesis did not finish within ${SCHEMATHESIS_TIMEOUT:-300} s." >&2
fi
if [[ $CODE -ne 0 ]]; then
  echo "--- server log (last 50 lines) ---" >&2
  tail -n 50 "$LOG" >&2
fi
exit $CODE
