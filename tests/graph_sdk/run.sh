#!/usr/bin/env bash
# Drives the Graph-compatible API with the official Python Microsoft Graph SDK (msgraph-sdk).
#
#   tests/graph_sdk/run.sh [pytest args]
#
# Builds nothing: takes the binary from $SEATKEEPER_BIN (default target/debug/seatkeeper).
# Creates a virtual environment at $VENV (default .venv at the repository root) with msgraph-sdk and
# pytest if it is missing, starts `seatkeeper serve --demo` on a free loopback port over a fresh
# data directory, adds an organization without a default usage location with
# `seatkeeper tenant create`, runs the tests and stops the server. Exits with pytest's code.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VENV=${VENV:-$ROOT/.venv}
BIN=${SEATKEEPER_BIN:-$ROOT/target/debug/seatkeeper}

if [[ ! -x "$BIN" ]]; then
  echo "No seatkeeper binary at $BIN: build it with 'cargo build -p seatkeeper' or set SEATKEEPER_BIN." >&2
  exit 2
fi
if [[ ! -x "$VENV/bin/python" ]]; then
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import msgraph, pytest' >/dev/null 2>&1; then
  "$VENV/bin/pip" install --quiet --disable-pip-version-check msgraph-sdk pytest
fi

# shellcheck source=../demo-server.sh
source "$HERE/../demo-server.sh"

# An organization without a default usage location, created while the server runs.
NOLOC_JSON=$("$BIN" tenant create --data-dir "$DATA" --name "SDK Test" --admin admin@sdk.test --json)
NOLOC_TOKEN=$(printf '%s' "$NOLOC_JSON" | "$VENV/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["token"])')

export SEATKEEPER_URL="$URL" SEATKEEPER_TOKEN="$TOKEN" SEATKEEPER_NOLOC_TOKEN="$NOLOC_TOKEN"
set +e
# The SDK's generated code warns about its own deprecated classes; that is not ours to fix.
"$VENV/bin/python" -m pytest -q -p no:cacheprovider -W ignore::DeprecationWarning "$HERE/test_graph_sdk.py" "$@"
CODE=$?
set -e
if [[ $CODE -ne 0 ]]; then
  echo "--- server log ---" >&2
  tail -n 50 "$LOG" >&2
fi
exit $CODE
