# Sourced by the client suites (tests/graph_sdk/run.sh, tests/schemathesis/run.sh): starts
# `$BIN serve --demo --dev-clock` on a free loopback port over a fresh data directory and waits
# until it answers. Needs BIN and VENV; sets WORK, DATA, LOG, SERVER, URL and TOKEN (the demo
# Global admin's bearer token), ADMIN and PASSWORD (its user name and password), and stops the server and removes WORK when the script exits.

WORK=$(mktemp -d)
DATA="$WORK/data"
LOG="$WORK/server.log"
SERVER=""
cleanup() {
  if [[ -n "$SERVER" ]] && kill -0 "$SERVER" 2>/dev/null; then
    kill -TERM "$SERVER" 2>/dev/null || true
    wait "$SERVER" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$("$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$BIN" serve --data-dir "$DATA" --listen "127.0.0.1:$PORT" --demo --dev-clock >"$LOG" 2>&1 &
SERVER=$!

URL="http://127.0.0.1:$PORT"
TOKEN=""
for _ in $(seq 1 300); do
  if ! kill -0 "$SERVER" 2>/dev/null; then
    echo "The server stopped while starting:" >&2
    cat "$LOG" >&2
    exit 1
  fi
  TOKEN=$(sed -n 's/^Bearer token:[[:space:]]*//p' "$LOG" | head -1)
  if [[ -n "$TOKEN" ]] && "$VENV/bin/python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/healthz", timeout=1)' "$URL" >/dev/null 2>&1; then
    break
  fi
  sleep 0.1
done
ADMIN=$(sed -n 's/^Global admin:[[:space:]]*//p' "$LOG" | head -1)
PASSWORD=$(sed -n 's/^Password:[[:space:]]*\([^ ]*\) (the demo.*/\1/p' "$LOG" | head -1)
if [[ -z "$TOKEN" ]]; then
  echo "The server did not print a bearer token within 30 s:" >&2
  cat "$LOG" >&2
  exit 1
fi
