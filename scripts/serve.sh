#!/usr/bin/env bash
# Run the sidecar on its embedded default bundle (built once, then cached in ROUTEIQ_HOME).
# Installs into .venv the first time (scripts/install.sh, which needs the package index) and
# again only when pyproject.toml or scripts/install.sh changed; otherwise it starts offline.
# Afterwards `.venv/bin/routeiq-sidecar serve` (or `source .venv/bin/activate`) does the same.
# Extra arguments go to `routeiq-sidecar serve`, e.g. scripts/serve.sh --http-port 8081
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=.venv/.routeiq-installed
recipe=$(bash scripts/install.sh recipe-hash)
# runtime or dev installs both serve; the code itself is an editable install (never stale).
if [ ! -x .venv/bin/routeiq-sidecar ] || [ ! -f "$stamp" ] ||
  [ "$(cut -d' ' -f2 "$stamp")" != "$recipe" ]; then
  echo "serve.sh: installing into .venv (once; needs the package index)" >&2
  bash scripts/install.sh runtime
fi
exec .venv/bin/routeiq-sidecar serve "$@"
