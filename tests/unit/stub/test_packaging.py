"""The stub is a wheel that declares the LiteLLM range it is tested against.

In a LiteLLM lane (``ROUTEIQ_LITELLM_LANE``, scripts/test.sh) the venv holds only LiteLLM, the
test runner and the stub's wheel: there the stub must come from that wheel, not the source tree.
"""

from __future__ import annotations

import os
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
import routeiq_litellm
from packaging.requirements import Requirement
from packaging.version import Version
from routeiq_litellm.compat import NEWEST_TESTED, OLDEST_TESTED, SUPPORTED

ROOT = Path(__file__).resolve().parents[3]
IN_LANE = bool(os.environ.get("ROUTEIQ_LITELLM_LANE"))


def litellm_requirement(requires: list[str]) -> Requirement:
    (req,) = [Requirement(r) for r in requires if Requirement(r).name == "litellm"]
    return req


def test_pyproject_declares_the_tested_litellm_range() -> None:
    project = tomllib.loads((ROOT / "client_stub" / "pyproject.toml").read_text())["project"]
    req = litellm_requirement(project["dependencies"])
    assert {str(s) for s in req.specifier} == set(SUPPORTED)
    assert Version(OLDEST_TESTED) in req.specifier and Version(NEWEST_TESTED) in req.specifier
    assert Version(metadata.version("litellm")) in req.specifier  # the one installed here
    assert project["version"] == routeiq_litellm.__version__


@pytest.mark.skipif(not IN_LANE, reason="only in a LiteLLM lane (scripts/test.sh)")
def test_in_a_lane_the_stub_comes_from_its_wheel() -> None:
    here = Path(routeiq_litellm.__file__).resolve()
    assert ROOT / "client_stub" not in here.parents, here
    assert "site-packages" in here.parts
    assert metadata.version("routeiq-litellm") == routeiq_litellm.__version__
    req = litellm_requirement(metadata.requires("routeiq-litellm") or [])
    assert {str(s) for s in req.specifier} == set(SUPPORTED)
    files = {str(f) for f in metadata.files("routeiq-litellm") or ()}
    assert "routeiq_litellm/py.typed" in files
    assert any(f.startswith("routeiq_litellm/_proto/") for f in files)
