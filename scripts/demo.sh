#!/usr/bin/env bash
# `make demo`: start Sapwood on its embedded defaults, apply the quickstart, show it working.
# The server keeps running in the foreground afterwards; Ctrl-C stops it.
# DEMO_SECONDS=N stops it by itself after N seconds (used to check the demo non-interactively).
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="$PWD/.venv/bin:$PATH"
export SAPWOOD_HOME="${SAPWOOD_HOME:-$HOME/.sapwood}"
port="${SAPWOOD_PORT:-8420}"
url="http://127.0.0.1:${port}"
mkdir -p "$SAPWOOD_HOME"
log="$SAPWOOD_HOME/server.log"

if curl -fsS "$url/readyz" >/dev/null 2>&1; then
  echo "A Sapwood server already answers at $url: using it."
  server_pid=""
else
  echo "Starting Sapwood at $url (data in $SAPWOOD_HOME, log in $log)"
  sapwood server --port "$port" >>"$log" 2>&1 &
  server_pid=$!
  trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null' EXIT INT TERM
  for _ in $(seq 1 100); do
    curl -fsS "$url/readyz" >/dev/null 2>&1 && break
    kill -0 "$server_pid" 2>/dev/null || { echo "the server exited; see $log" >&2; exit 1; }
    sleep 0.2
  done
fi
export SAPWOOD_URL="$url"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

step sapwood whoami
step sapwood apply -f examples/quickstart/
sleep 3
step sapwood get jobs
step sapwood get services -o wide
step sapwood get workspaces
step sapwood describe job hello-train

cat <<MSG

Sapwood is running at $url
  API docs:        $url/docs
  Your admin token was saved to $SAPWOOD_HOME/config.yaml, so the CLI is logged in.
  Try:             sapwood get jobs         sapwood events
                   sapwood logs job hello-train
                   sapwood delete job hello-train
MSG

if [ -n "$server_pid" ]; then
  if [ -n "${DEMO_SECONDS:-}" ]; then
    sleep "$DEMO_SECONDS"
  else
    echo "Press Ctrl-C to stop the server."
    wait "$server_pid"
  fi
fi
