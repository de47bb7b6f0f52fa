"""`centroid`: zero-config. Complexity from prototype-prompt centroids, mapped onto price tiers."""

from __future__ import annotations

from routeiq_sidecar.strategies.base import QualityEstimate, StrategyInput
from routeiq_sidecar.strategies.priors import difficulty_quality


class CentroidStrategy:
    name = "centroid"
    runs_inline = True  # the signals already hold its answer

    def predict(self, inp: StrategyInput) -> QualityEstimate:
        s = inp.signals
        q = difficulty_quality(s.complexity_score, inp.priors)
        return QualityEstimate(
            quality=q,
            sources=inp.prior_sources,
            note=f"{s.complexity} {s.category.replace('_', ' ')} prompt "
            f"(complexity {s.complexity_score:.2f})",
        )
