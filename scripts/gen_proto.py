"""Regenerate routeiq_sidecar/_proto from proto/ (run after editing the .proto)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from protogen import generate  # noqa: E402

if __name__ == "__main__":
    generate(ROOT / "proto", ROOT / "routeiq_sidecar" / "_proto")
    print("generated", ROOT / "routeiq_sidecar" / "_proto")
