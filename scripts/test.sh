#!/usr/bin/env bash
# Install everything the tests need, then run lint, types and the whole test suite.
# Extra arguments go to pytest, e.g. scripts/test.sh -k rest
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh dev
.venv/bin/ruff check .
.venv/bin/mypy routeiq_sidecar client_stub/routeiq_litellm
.venv/bin/python -m pytest "$@"
