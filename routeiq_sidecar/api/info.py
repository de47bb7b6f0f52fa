"""GetInfo, built once for both transports."""

from __future__ import annotations

from routeiq_sidecar import __version__
from routeiq_sidecar._proto.routeiq.v1 import router_pb2 as pb
from routeiq_sidecar.engine.engine import Engine
from routeiq_sidecar.types import PROFILES


def info_out(engine: Engine) -> pb.GetInfoResponse:
    loaded = engine.loaded
    b = loaded.bundle
    enc = b.manifest.get("encoder", {})
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
        encoder=f"{enc.get('source', '?')} {enc.get('source_version', '')} "
        f"({engine.settings.encoder_precision})".strip(),
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
