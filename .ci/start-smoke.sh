#!/usr/bin/env bash
# The README's start command, run as a newcomer would (after `npm ci`), on the Node.js first on PATH:
# `npm start` builds and serves the embedded default (SQLite, local development issuer), and we ask for
# what the README promises: /healthz, /docs, the dashboard and its script, and /me with a token from
# `npx skaledata dev-token`. Then SIGTERM, which must end the server cleanly (exit 0). Run it in the tree
# under test; it prints one line per check and fails on the first that does not hold.
set -euo pipefail

node_bin=$(realpath "$(command -v node)")
data=$(mktemp -d)
log="$data/npm-start.log"
port=$(node -e 'const s = require("node:net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
base="http://127.0.0.1:$port"

fail() {
  echo "start smoke ($(node --version)): $*" >&2
  echo "--- npm start output (last 40 lines) ---" >&2
  tail -n 40 "$log" >&2 || true
  exit 1
}

# In a process group of its own, so the cleanup can end npm, its shell, a build in progress and the server.
PORT=$port DATA_DIR="$data" setsid npm start >"$log" 2>&1 &
npm_pid=$!
server_pid=
# On the way out, whatever happened: nothing left running, nothing left on disk (and errexit off, so a
# process already gone does not turn a pass into a failure).
cleanup() {
  set +e
  [ -n "$server_pid" ] && kill -TERM "$server_pid" 2>/dev/null
  kill -TERM -- -"$npm_pid" 2>/dev/null
  wait "$npm_pid" 2>/dev/null
  rm -rf "$data"
}
trap cleanup EXIT

# npm start builds first (a minute or two on two cores), then listens.
for _ in $(seq 1 600); do
  curl -fsS -o /dev/null "$base/healthz" 2>/dev/null && break
  kill -0 "$npm_pid" 2>/dev/null || fail "npm start exited before /healthz answered"
  sleep 0.5
done
curl -fsS -o /dev/null "$base/healthz" || fail "/healthz did not answer within 5 minutes"
echo "start smoke: GET /healthz 200"

# The serving process must be the Node.js under test, not one npm or a script found elsewhere.
server_pid=$(ss -ltnpH "sport = :$port" | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2 || true)
[ -n "$server_pid" ] || fail "no process found listening on port $port"
server_node=$(realpath "/proc/$server_pid/exe")
[ "$server_node" = "$node_bin" ] || fail "the server runs $server_node, expected $node_bin"
echo "start smoke: served by $server_node ($(node --version))"

status_and_type() { curl -sS -o "$data/body" -w '%{http_code} %{content_type}\n' "$@"; }
read -r status type < <(status_and_type "$base/docs")
[ "$status" = 200 ] && [[ $type == text/html* ]] || fail "GET /docs answered $status $type"
echo "start smoke: GET /docs $status $type"

read -r status type < <(status_and_type "$base/")
[ "$status" = 200 ] && [[ $type == text/html* ]] || fail "GET / answered $status $type"
script=$(grep -o '/assets/[A-Za-z0-9._-]*\.js' "$data/body" | head -n 1)
[ -n "$script" ] || fail "the dashboard page names no script"
read -r status type < <(status_and_type "$base$script")
[ "$status" = 200 ] && [[ $type == *javascript* ]] || fail "GET $script answered $status $type"
echo "start smoke: GET / 200 text/html, its $script $status"

token=$(DATA_DIR="$data" npx --no-install skaledata dev-token --email smoke@example.com) || fail "skaledata dev-token failed"
read -r status type < <(status_and_type "$base/me" -H "Authorization: Bearer $token")
[ "$status" = 200 ] || fail "GET /me with a dev token answered $status"
node -e '
  const me = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
  if (me.type !== "user" || me.email !== "smoke@example.com") { console.error(JSON.stringify(me)); process.exit(1); }
' "$data/body" || fail "GET /me did not describe the dev-token user"
echo "start smoke: GET /me 200 as smoke@example.com"

kill -TERM "$server_pid"
for _ in $(seq 1 100); do kill -0 "$npm_pid" 2>/dev/null || break; sleep 0.2; done
kill -0 "$npm_pid" 2>/dev/null && fail "the server did not stop within 20 s of SIGTERM"
code=0
wait "$npm_pid" || code=$?
[ "$code" = 0 ] || fail "npm start exited with $code after SIGTERM"
echo "start smoke: SIGTERM, exit 0"
