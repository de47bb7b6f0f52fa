#!/usr/bin/env bash
# One-command offline demo of RouteIQ routing a LiteLLM proxy:
#
#   bash scripts/demo-litellm.sh
#
# Starts the sidecar (.venv, its default bundle) and a LiteLLM proxy (.venv-litellm-new) with
# client_stub/examples/litellm_config.yaml as it is: three deployments answering with LiteLLM's
# `mock_response` (cheap = gpt-4o-mini, strong = gpt-4o, reasoning = o3-mini), so no provider
# key and no network are needed. Sends an easy and a hard request, prints which deployment
# served each (LiteLLM's x-litellm-model-id header) and RouteIQ's decision id
# (x-routeiq-decision-id), then stops both. Missing venvs are installed first (that step needs
# the package index; the demo itself does not).
#
# Settings for the proxy's plugin are ROUTEIQ_LITELLM_* variables (README, "Use with LiteLLM");
# the demo sets two of them unless you do:
#   ROUTEIQ_LITELLM_TOP_K=1         the plugin keeps only the sidecar's first choice, so the
#                                   deployment that serves is exactly RouteIQ's pick (the default,
#                                   2, lets LiteLLM choose among the best two)
#   ROUTEIQ_LITELLM_TIMEOUT_MS=2000 a laptop busy with other things still gets real decisions;
#                                   past it the proxy routes on its own and the demo says so
# ROUTEIQ_DEMO_LITELLM_VENV picks another LiteLLM venv (e.g. .venv-litellm-old),
# ROUTEIQ_SIDECAR_PYTHON another Python for the sidecar (default .venv/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
LITELLM_VENV=${ROUTEIQ_DEMO_LITELLM_VENV:-.venv-litellm-new}
SIDECAR_PY=${ROUTEIQ_SIDECAR_PYTHON:-.venv/bin/python}
CONFIG=client_stub/examples/litellm_config.yaml
MASTER_KEY=sk-routeiq-demo
EASY="hi, how are you?"
# The shipped difficulty head leans on prompt length (docs/benchmarks.md, "Routing that
# transfers"): a one-line proof ("Prove that the square root of 2 is irrational.") scores just
# over the switch between the cheap and the next model, so the hard request is clearly hard:
# several parts, each demanding.
HARD="Design a distributed rate limiter for a multi-region API gateway: give the data \
structures, the consistency trade-offs between regions, how it behaves during a network \
partition, and a proof sketch that no client can exceed its quota by more than a bounded amount."

say() { echo "demo: $*"; }

[ -x "$SIDECAR_PY" ] && "$SIDECAR_PY" -c "import routeiq_sidecar" 2>/dev/null ||
  bash scripts/install.sh runtime
[ -x "$LITELLM_VENV/bin/litellm" ] || bash scripts/install.sh lanes new

WORK=$(mktemp -d "${TMPDIR:-/tmp}/routeiq-demo.XXXXXX")
SIDECAR_PID="" PROXY_PID="" KEEP_LOGS=""
stop() {
  local rc=$?
  for pid in $PROXY_PID $SIDECAR_PID; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in $PROXY_PID $SIDECAR_PID; do
    wait "$pid" 2>/dev/null || true
  done
  if [ "$rc" -ne 0 ] || [ -n "$KEEP_LOGS" ]; then
    [ "$rc" -eq 0 ] && say "stopped the proxy and the sidecar; logs kept in $WORK" ||
      say "failed (exit $rc); logs kept in $WORK"
    for log in "$WORK"/sidecar.log "$WORK"/proxy.log; do
      [ -f "$log" ] && { echo "--- tail of $log"; tail -n 30 "$log"; }
    done
  else
    rm -rf "$WORK"
    say "stopped the proxy and the sidecar"
  fi
  exit "$rc"
}
trap stop EXIT
trap 'exit 130' INT TERM

wait_for() {  # wait_for SECONDS PID WHAT COMMAND...: until COMMAND succeeds, or fail
  local deadline=$((SECONDS + $1)) pid=$2 what=$3
  shift 3
  until "$@"; do
    kill -0 "$pid" 2>/dev/null || { say "$what exited"; return 1; }
    [ "$SECONDS" -lt "$deadline" ] || { say "$what not up after ${deadline}s"; return 1; }
    sleep 0.5
  done
}

# 1. The sidecar on free ports; its log's "listening http=HOST:PORT" line names them.
"$SIDECAR_PY" -m routeiq_sidecar serve --http-port 0 --grpc-port 0 \
  >"$WORK/sidecar.log" 2>&1 &
SIDECAR_PID=$!
listening() { grep -q '"listening http=' "$WORK/sidecar.log"; }
say "starting the sidecar (the first run builds its default bundle once)"
wait_for 600 "$SIDECAR_PID" "the sidecar" listening
SIDECAR_URL=http://$(sed -n 's/.*"listening http=\([^ ]*\) .*/\1/p' "$WORK/sidecar.log" | head -n 1)
say "sidecar on $SIDECAR_URL (pid $SIDECAR_PID)"

# 2. The LiteLLM proxy, from the example config alone, with this checkout's stub first on the path.
PORT=$("$LITELLM_VENV/bin/python" -c \
  'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
PROXY=http://127.0.0.1:$PORT
LITELLM_VERSION=$("$LITELLM_VENV/bin/python" -c \
  'from importlib.metadata import version; print(version("litellm"))')
env -u DATABASE_URL \
  PYTHONPATH="$ROOT/client_stub${PYTHONPATH:+:$PYTHONPATH}" \
  LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_MASTER_KEY=$MASTER_KEY \
  ROUTEIQ_LITELLM_URL="$SIDECAR_URL" \
  ROUTEIQ_LITELLM_TOP_K="${ROUTEIQ_LITELLM_TOP_K:-1}" \
  ROUTEIQ_LITELLM_TIMEOUT_MS="${ROUTEIQ_LITELLM_TIMEOUT_MS:-2000}" \
  "$LITELLM_VENV/bin/litellm" --config "$CONFIG" --host 127.0.0.1 --port "$PORT" \
  >"$WORK/proxy.log" 2>&1 &
PROXY_PID=$!
live() { curl -fs -o /dev/null "$PROXY/health/liveliness"; }
say "starting the LiteLLM $LITELLM_VERSION proxy with $CONFIG"
wait_for 300 "$PROXY_PID" "the LiteLLM proxy" live
say "LiteLLM proxy on $PROXY (pid $PROXY_PID)"

# 3. One easy and one hard request; what served each, and RouteIQ's decision.
ask() {  # ask LABEL PROMPT
  local label=$1 body headers served decision
  body=$("$LITELLM_VENV/bin/python" -c \
    'import json, sys; print(json.dumps({"model": "auto",
      "messages": [{"role": "user", "content": sys.argv[1]}]}))' "$2")
  headers="$WORK/$label.headers"
  curl -fsS -D "$headers" -o "$WORK/$label.json" "$PROXY/v1/chat/completions" \
    -H "authorization: Bearer $MASTER_KEY" -H "content-type: application/json" -d "$body"
  served=$(awk 'tolower($1) == "x-litellm-model-id:" {print $2}' "$headers" | tr -d '\r')
  decision=$(awk 'tolower($1) == "x-routeiq-decision-id:" {print $2}' "$headers" | tr -d '\r')
  printf '%-4s -> served by %s' "$label" "$served"
  if [ -n "$decision" ]; then
    printf '  (RouteIQ decision_id=%s)\n' "$decision"
  else
    printf "  (no decision: LiteLLM routed on its own; why: %s)\n" "$WORK/proxy.log"
    KEEP_LOGS=1
  fi
  printf '        prompt: %.90s\n' "$2"
  printf '        answer: %s\n' "$("$LITELLM_VENV/bin/python" -c 'import json, sys
print(json.load(open(sys.argv[1]))["choices"][0]["message"]["content"])' "$WORK/$label.json")"
}
ask easy "$EASY"
ask hard "$HARD"
