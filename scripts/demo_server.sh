# Starting and stopping the demo's server; sourced by scripts/demo.sh (and its tests).
# Needs PATH to reach `sapwood` and SAPWOOD_HOME set.

# The demo's objects, removed on exit (workloads outlive the server by design).
demo_objects=(job/hello-train service/hello-web workspace/scratch feed/ids
  job/train-antinex feed/traffic service/antinex)
demo_remove_s=7   # at most this long deleting the demo's objects on exit (a feed's worker takes
                  # up to its 5 s lease poll to stop)
demo_stop_s=2     # then at most this long for the server to stop before it is killed

# demo_start_server PORT LOG: starts `sapwood server` in the background (server_pid) and
# returns once it is ready. On its first start the server creates the admin user and
# writes the token to LOG; that block is shown here too, once, so the token is not only
# in the log. Later starts print no token.
demo_start_server() {
  local port="$1" log="$2" offset
  offset="$(stat -c %s "$log" 2>/dev/null || echo 0)"
  (umask 077 && mkdir -p "$(dirname "$log")" && : >>"$log")  # it holds the admin token of the first start
  # In its own session, so Ctrl-C reaches only the demo: the server must outlive the
  # signal long enough for demo_stop to delete the demo's workloads through it.
  setsid sapwood server --port "$port" >>"$log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 150); do
    curl -fsS "http://127.0.0.1:${port}/readyz" >/dev/null 2>&1 && break
    kill -0 "$server_pid" 2>/dev/null || { echo "the server exited; see $log" >&2; return 1; }
    sleep 0.2
  done
  curl -fsS "http://127.0.0.1:${port}/readyz" >/dev/null 2>&1 \
    || { echo "the server is not ready after 30 s; see $log" >&2; return 1; }
  # The server writes the block before it answers /readyz (bootstrap runs at startup).
  tail -c +"$((offset + 1))" "$log" | sed -n '/^Created the admin user/,/^Elsewhere:/p'
}

# demo_stop: removes the demo's objects (at most demo_remove_s), then stops the server
# (TERM, then KILL after demo_stop_s). Returns within about ten seconds whatever state
# the server is in; idempotent.
demo_stop() {
  [ -n "${server_pid:-}" ] || return 0
  local pid="$server_pid"
  server_pid=""
  kill -0 "$pid" 2>/dev/null || return 0
  echo "removing the demo's objects and stopping the server..."
  # A hard stop just past the deadline, should the server hold a request open.
  timeout -k 0.5 "${demo_remove_s}.5" \
    python3 "$(dirname "${BASH_SOURCE[0]}")/demo_remove.py" \
    --until "$(date -d "+${demo_remove_s} seconds" +%s.%N)" "${demo_objects[@]}" || true
  # The server stops its gateway itself (a TERM to the gateway first would be restarted).
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 "$((demo_stop_s * 10))"); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "the server did not stop within ${demo_stop_s}s: killed" >&2
    # The whole session: the server and its gateway.
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}
