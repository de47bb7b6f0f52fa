#!/usr/bin/env bash
# Install everything the tests need, then run lint, types and the whole test suite.
# Extra arguments go to the main lane's pytest, e.g. scripts/test.sh -k rest
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh dev
.venv/bin/ruff check .
.venv/bin/mypy routeiq_sidecar client_stub/routeiq_litellm
# The LiteLLM stub's integration tests run in the LiteLLM lanes below, not in the main lane.
STUB_IT=(tests/integration/test_litellm_sdk.py tests/integration/test_litellm_plugin.py
  tests/integration/test_litellm_proxy.py tests/integration/test_litellm_demo.py)
.venv/bin/python -m pytest "${STUB_IT[@]/#/--ignore=}" "$@"
# LiteLLM lanes (scripts/install.sh): only LiteLLM, the stub's wheel and pytest in each venv;
# the sidecar the tests start runs from .venv. --confcutdir keeps tests/conftest.py (which
# imports the sidecar package) out. The gRPC transport does not depend on LiteLLM's version:
# its cases run in the "new" lane only, to keep CI short; so does scripts/demo-litellm.sh
# (test_litellm_demo.py), which a newcomer runs with the "new" lane's proxy.
for lane in old new core; do
  py=".venv-litellm-$lane/bin/python"
  echo "== LiteLLM lane $lane: litellm $("$py" -m pip show litellm | awk '/^Version:/{print $2}')"
  select=()
  [ "$lane" = new ] || select=(-k "not grpc and not demo")
  ROUTEIQ_SIDECAR_PYTHON="$PWD/.venv/bin/python" ROUTEIQ_LITELLM_LANE="$lane" \
    "$py" -m pytest -p no:cacheprovider --confcutdir=tests/integration "${select[@]}" \
    --ignore=tests/unit/stub/test_stub_proto.py tests/unit/stub "${STUB_IT[@]}"
done
