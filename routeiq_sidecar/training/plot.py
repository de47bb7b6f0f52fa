"""``eval --plot out.png``: PGR curves of the strong/weak pair and quality-cost curves.

matplotlib is an optional extra (``pip install 'routeiq-sidecar[plot]'``); without it the
command fails with that hint instead of a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from routeiq_sidecar.errors import invalid

INSTALL_HINT = "pip install 'routeiq-sidecar[plot]' (matplotlib)"


def plot_report(report: dict[str, Any], curves: dict[str, Any], out: Path) -> Path:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise invalid("plot", f"--plot needs matplotlib: {INSTALL_HINT}") from None
    panels = [k for k in ("pair", "multi") if k in report]
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 5), squeeze=False)
    for ax, panel in zip(axes[0], panels, strict=True):
        if panel == "pair":
            pair = report["pair"]
            for name, c in curves.items():
                style = {"oracle": ":", "length": "--"}.get(name, "-")
                apgr = pair["routers"].get(name, pair.get(name, {})).get("apgr")
                label = f"{name} (APGR {apgr:.3f})" if isinstance(apgr, float) else name
                ax.plot(c.strong_share, np.clip(c.pgr, -0.2, 1.5), style, label=label)
            ax.plot([0, 1], [0, 1], color="grey", lw=0.8, label="random (APGR 0.5)")
            ax.set_xlabel(f"share of calls to {pair['strong']}")
            ax.set_ylabel(f"PGR (weak: {pair['weak']})")
            ax.set_title(f"{report['data']}: {pair['n']} prompts")
        else:
            multi = report["multi"]
            for name, r in multi["routers"].items():
                pts = np.asarray(r["points"])
                ax.plot(pts[:, 0], pts[:, 1], "-o", ms=2, label=f"{name} (AIQ {r['aiq']:.3f})")
            pts = np.asarray(multi["oracle"]["points"])
            ax.plot(pts[:, 0], pts[:, 1], ":", label=f"oracle (AIQ {multi['oracle']['aiq']:.3f})")
            hull = np.asarray(multi["random"]["hull"])
            ax.plot(hull[:, 0], hull[:, 1], color="grey", lw=0.8,
                    label=f"random mix (AIQ {multi['random']['aiq']:.3f})")
            for name, s in multi["single_models"].items():
                ax.scatter([s["cost"]], [s["score"]], s=12, color="black")
                ax.annotate(name, (s["cost"], s["score"]), fontsize=6)
            ax.set_xscale("log")
            ax.set_xlabel("mean $ per prompt")
            ax.set_ylabel("mean score")
            ax.set_title(f"{report['data']}: quality vs cost, {multi['n']} prompts")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
