"""The stub's unit tests import litellm: keep it off the network (local cost map)."""

from __future__ import annotations

import os
import warnings

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

with warnings.catch_warnings():  # pydantic warns about LiteLLM's own TypedDicts at import
    warnings.simplefilter("ignore", UserWarning)
    import litellm  # noqa: F401
