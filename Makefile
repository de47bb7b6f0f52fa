# Developer entry points; `bash scripts/install.sh dev` first (it makes .venv).
VENV ?= .venv
PY := $(VENV)/bin/python
# The checkout's code first, whatever .venv has installed (worktrees share one venv).
SRC_PATH := PYTHONPATH=$(CURDIR):$(CURDIR)/client_stub

.PHONY: proto lint test test-fast

proto:  ## regenerate routeiq_sidecar/_proto and the LiteLLM stub's copy from proto/
	$(PY) scripts/gen_proto.py
	$(PY) scripts/gen_stub_proto.py

lint:  ## ruff and mypy --strict (pyproject.toml)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy routeiq_sidecar client_stub/routeiq_litellm

test:  ## everything CI runs: install, lint, the main lane and the LiteLLM lanes
	bash scripts/test.sh

test-fast:  ## the unit tests, without the slow ones
	$(SRC_PATH) $(PY) -m pytest -q -m "not slow" tests/unit
