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

# shellcheck source=scripts/demo_server.sh
. scripts/demo_server.sh

# Workloads outlive the server by design; the demo removes its own before it stops, within
# about ten seconds. A second Ctrl-C meanwhile skips what is left of the deleting.
stop_demo() { trap ':' INT TERM; trap - EXIT; demo_stop; }

if curl -fsS "$url/readyz" >/dev/null 2>&1; then
  echo "A Sapwood server already answers at $url: using it."
  server_pid=""
else
  echo "Starting Sapwood at $url (data in $SAPWOOD_HOME, log in $log)"
  trap 'stop_demo' EXIT
  trap 'stop_demo; exit 130' INT TERM
  demo_start_server "$port" "$log"
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

# Network defense (examples/network-defense): train a classifier, register it, score a feed
# of AntiNex rows with it, and serve it behind the gateway.
phase() { sapwood get "$1" "$2" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"].get("phase",""))'; }
wait_phase() {  # KIND NAME PHASE SECONDS
  for _ in $(seq 1 "$4"); do
    [ "$(phase "$1" "$2")" = "$3" ] && return 0
    [ "$(phase "$1" "$2")" = "Failed" ] && { sapwood describe "$1" "$2"; return 1; }
    sleep 1
  done
  echo "$1 $2 is not $3 after $4 s" >&2; return 1
}
example="$PWD/examples/network-defense"
printf '\n\033[1m$ sed "s#@EXAMPLE_DIR@#%s#" examples/network-defense/job.yaml | sapwood apply -f -\033[0m\n' "$example"
sed "s#@EXAMPLE_DIR@#$example#" examples/network-defense/job.yaml | sapwood apply -f -
echo "training the AntiNex classifier (about a minute)..."
wait_phase job train-antinex Succeeded 300
step sapwood logs job train-antinex
step sapwood models describe antinex
step sapwood apply -f examples/network-defense/feed.yaml -f examples/network-defense/service.yaml
rows="$SAPWOOD_HOME/demo-rows.csv"
python3 examples/network-defense/rows.py "$rows" --count 20000
step sapwood feed push traffic "$rows"
for _ in $(seq 1 120); do
  sapwood describe feed traffic | grep -q ' 0 waiting' && break
  sleep 1
done
step sapwood describe feed traffic
wait_phase service antinex Running 120 || true
gateway="http://127.0.0.1:${SAPWOOD_GATEWAY_PORT:-8421}"
token="$(python3 -c 'import sys,yaml; print(yaml.safe_load(open(sys.argv[1]))["token"])' "$SAPWOOD_HOME/config.yaml")"
team=default  # where objects applied without a team go
row="$(sed -n 2p "$rows" | cut -d, -f1-67)"
for _ in $(seq 1 60); do
  curl -fsS "$gateway/s/$team/antinex/v2/health/ready" -H "Authorization: Bearer $token" >/dev/null 2>&1 && break
  sleep 1
done
printf '\n\033[1m$ curl -X POST %s/s/%s/antinex/v2/models/antinex/predict -d {"rows": [[...67 features...]]}\033[0m\n' "$gateway" "$team"
curl -sS -X POST "$gateway/s/$team/antinex/v2/models/antinex/predict" \
  -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d "{\"rows\": [[${row}]]}" || true
echo

cat <<MSG

Sapwood is running at $url
  Dashboard:       $url/  (sign in with the token in $SAPWOOD_HOME/config.yaml)
  API docs:        $url/docs
  Gateway:         http://127.0.0.1:${SAPWOOD_GATEWAY_PORT:-8421}/s/<team>/<service>/...
  Your admin token was saved to $SAPWOOD_HOME/config.yaml, so the CLI is logged in.
  Try:             sapwood get jobs         sapwood events
                   sapwood logs job hello-train
                   sapwood delete job hello-train
                   sapwood feed tail traffic      sapwood describe feed traffic
                   sapwood models list            sapwood get services -o wide
MSG

if [ -n "$server_pid" ]; then
  if [ -n "${DEMO_SECONDS:-}" ]; then
    sleep "$DEMO_SECONDS"
  else
    echo "Press Ctrl-C to stop the server."
    wait "$server_pid"
  fi
fi
