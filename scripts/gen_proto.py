"""Regenerate routeiq_sidecar/_proto from proto/ (run after editing the .proto): RouteIQ's own
router.proto, and the vendored Envoy ext_proc closure (proto/third_party/README.md)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from protogen import generate, generate_envoy  # noqa: E402

if __name__ == "__main__":
    generate(ROOT / "proto", ROOT / "routeiq_sidecar" / "_proto")
    generate_envoy(ROOT / "proto" / "third_party", ROOT / "routeiq_sidecar" / "_proto")
    print("generated", ROOT / "routeiq_sidecar" / "_proto")
