#!/usr/bin/env bash
# Install (once) and run the sidecar on its embedded default bundle (built once, then cached).
# Extra arguments go to `routeiq-sidecar serve`, e.g. scripts/serve.sh --http-port 8081
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh runtime
exec .venv/bin/routeiq-sidecar serve "$@"
