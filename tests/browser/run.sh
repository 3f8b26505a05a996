#!/usr/bin/env bash
# Drives the web admin center in headless Chromium (Debian's `chromium`) with Playwright for
# Python, as a person would: by labels and visible text.
#
#   tests/browser/run.sh [pytest args]
#
# Builds nothing: takes the binary from $SEATKEEPER_BIN (default target/debug/seatkeeper).
# Installs Debian's chromium with apt-get if it is missing (never Playwright's own browser
# download), and Playwright and pytest into $VENV (default .venv at the repository root). Starts
# `seatkeeper serve --demo --dev-clock` on a free loopback port over a fresh data directory, runs
# the tests and stops the server. Screenshots of what each test checked are written to
# $SCREENSHOTS (default target/screenshots). Exits with pytest's code.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VENV=${VENV:-$ROOT/.venv}
BIN=${SEATKEEPER_BIN:-$ROOT/target/debug/seatkeeper}
export SCREENSHOTS=${SCREENSHOTS:-$ROOT/target/screenshots}

if [[ ! -x "$BIN" ]]; then
  echo "No seatkeeper binary at $BIN: build it with 'cargo build -p seatkeeper' or set SEATKEEPER_BIN." >&2
  exit 2
fi
CHROMIUM=${CHROMIUM:-$(command -v chromium || true)}
if [[ -z "$CHROMIUM" ]]; then
  if [[ $(id -u) -ne 0 ]]; then
    echo "Chromium is missing: install Debian's package (apt-get install chromium) or run as root." >&2
    exit 2
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  CHROMIUM=$(command -v chromium)
fi
export CHROMIUM
if [[ ! -x "$VENV/bin/python" ]]; then
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import playwright, pytest' >/dev/null 2>&1; then
  "$VENV/bin/pip" install --quiet --disable-pip-version-check playwright pytest
fi
mkdir -p "$SCREENSHOTS"

# shellcheck source=../demo-server.sh
source "$HERE/../demo-server.sh"

export SEATKEEPER_URL="$URL" SEATKEEPER_TOKEN="$TOKEN" SEATKEEPER_ADMIN="$ADMIN" SEATKEEPER_PASSWORD="$PASSWORD" SEATKEEPER_BIN="$BIN" SEATKEEPER_DATA="$DATA" SEATKEEPER_LOG="$LOG"
set +e
"$VENV/bin/python" -m pytest -q -p no:cacheprovider "$HERE" "$@"
CODE=$?
set -e
echo "Screenshots: $SCREENSHOTS"
exit $CODE
