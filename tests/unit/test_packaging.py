"""Licence metadata: both packages declare Apache-2.0 as an SPDX expression (PEP 639, no
deprecated ``{text = ...}`` table), ship the LICENSE file next to their pyproject, and the
built wheel says so (``License-Expression``, the file under ``.dist-info/licenses``)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECTS = [ROOT, ROOT / "client_stub"]


@pytest.mark.parametrize("project", PROJECTS, ids=["sidecar", "stub"])
def test_license_is_an_spdx_string_with_its_file(project: Path) -> None:
    meta = tomllib.loads((project / "pyproject.toml").read_text())
    assert meta["project"]["license"] == "Apache-2.0"
    assert meta["project"]["license-files"] == ["LICENSE"]
    assert any(r.startswith("setuptools>=77") for r in meta["build-system"]["requires"])
    text = (project / "LICENSE").read_text()
    assert text.split()[:5] == ["Apache", "License", "Version", "2.0,", "January"]
    assert (ROOT / "LICENSE").read_text() == text


def test_the_stub_wheel_carries_the_license(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(ROOT / "client_stub")],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("routeiq_litellm-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        metadata = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: Apache-2.0" in metadata.splitlines()
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
