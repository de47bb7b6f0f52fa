"""The stub's unit tests import litellm: keep it off the network (local cost map)."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
