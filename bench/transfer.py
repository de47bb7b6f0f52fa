"""Leave one file out (docs/benchmarks.md "Routing that transfers"): for each outcome file, fit
the `difficulty` head on the other files and measure it on the one left out, against random,
length, the oracle, its kNN part alone and the old `centroid` default. Prints markdown
tables and the JSON report; ``--plots DIR`` draws one PGR curve figure per fold.

    .venv/bin/python bench/transfer.py --home .routeiq-home --plots bench/results
    # the same as: routeiq-sidecar eval --leave-one-out --data A,B,C,D --home .routeiq-home

``--grid`` also scores a small grid of (blend, k) by mean leave-one-out APGR (how the
defaults were picked), with the similarity gate off; ``--gate-grid`` scores the gate's
threshold and weight at the default blend and k; ``--rows-grid`` scores the kNN memory's
size (``max_rows`` prompts kept per file, which sets what the neighbour scan reads per query)
at the encoder's default parameters. ``--encoder static`` fits and measures on
the bundle's static encoder (``eval --leave-one-out --encoder static``); ``--base DIR`` names
that bundle.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from transfer_args import add_data_args, data_paths

from routeiq_sidecar.bundle.default import ensure_default_bundle
from routeiq_sidecar.bundle.loader import load_bundle
from routeiq_sidecar.training.transfer import RULES, fold, leave_one_out, load_file


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _cell(r: dict[str, Any], key: str) -> str:
    v = r.get(key)
    return "-" if v is None else f"{v:.3f}"


def served(setting: dict[str, Any] | None) -> str:
    """A served setting's APGR cell (``prices``, ``names``), ``-`` for the rules."""
    if setting is None:
        return "-"
    return _cell(setting, "apgr") + (" (constant)" if setting["constant"] else "")


def table(report: dict[str, Any]) -> str:
    lines = ["| left-out file (rows) | strong / weak | router | APGR | CPT(50) | CPT(80) "
             "| APGR, prices only | APGR, names only | AIQ |",
             "|---|---|---|---|---|---|---|---|---|"]
    for f in report["folds"]:
        first = True
        for name in (*f["routers"], *RULES):
            r = f["routers"][name] if name in f["routers"] else f[name]
            head = (f"| {f['file']} ({f['n']}) | {f['strong']} / {f['weak']} " if first
                    else "|  |  ")
            label = f"**{name}**" if name == "difficulty" else name
            if r.get("constant"):
                label += " (constant)"
            lines.append(f"{head}| {label} | {r['apgr']:.3f} | {pct(r['cpt50'])} | "
                         f"{pct(r['cpt80'])} | {served(r.get('prices'))} | "
                         f"{served(r.get('names'))} | {_cell(r, 'aiq')} |")
            first = False
    lines.append("")
    lines.append("| router | " + " | ".join(f["file"] for f in report["folds"])
                 + " | mean APGR | mean APGR, prices only | mean APGR, names only |")
    lines.append("|---|" + "---|" * (len(report["folds"]) + 3))
    for name, mean in report["mean_apgr"].items():
        vals = [(f["routers"][name] if name in f["routers"] else f[name])["apgr"]
                for f in report["folds"]]
        others = [report[k].get(name) for k in ("mean_apgr_prices", "mean_apgr_names")]
        lines.append(f"| {name} | " + " | ".join(f"{v:.3f}" for v in vals) + f" | {mean:.3f} | "
                     + " | ".join("-" if v is None else f"{v:.3f}" for v in others) + " |")
    lines.append("")
    lines.append("Best router per fold: " + ", ".join(
        f"{k} {v}" for k, v in report["best_router"].items()))
    return "\n".join(lines)


def plot(curves: dict[str, Any], out: Path, name: str = "transfer_loo.png") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, len(curves), figsize=(4.6 * len(curves), 4.2), squeeze=False)
    for ax, (fold_name, cur) in zip(axes[0], curves.items(), strict=True):
        for i, (router, c) in enumerate(cur.items()):
            style = "--" if router in ("structural", "irt", "mf_desc") else "-"
            color = {"difficulty": "tab:blue", "length": "black", "oracle": "tab:red"}.get(
                router, plt.get_cmap("tab20")(i % 20))
            ax.plot(c.strong_share, c.pgr, style, label=router, color=color,
                    lw=2.0 if router in ("difficulty", "length") else 0.9)
        ax.plot([0, 1], [0, 1], "k:", lw=0.8)
        ax.set_title(fold_name, fontsize=9)
        ax.set_xlabel("share of calls to the strong model")
        ax.set_ylabel("PGR")
    axes[0][0].legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(out / name, dpi=110)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_args(ap)
    ap.add_argument("--encoder", default="minilm", choices=["minilm", "static"],
                    help="whose vectors the head learns from (eval --leave-one-out --encoder)")
    ap.add_argument("--base", type=Path, default=None,
                    help="bundle whose encoder embeds the prompts (default: the default bundle)")
    ap.add_argument("--plots", type=Path, default=None)
    ap.add_argument("--grid", action="store_true", help="score (blend, k) with the gate off")
    ap.add_argument("--gate-grid", action="store_true",
                    help="score the similarity gate (gate, gate_weight) at the default blend")
    ap.add_argument("--rows-grid", action="store_true",
                    help="score the kNN memory's size (max_rows per file) at the default "
                         "parameters of the encoder")
    ap.add_argument("--difficulty-only", action="store_true",
                    help="fit and score only the difficulty routers (minutes, not half an hour)")
    ap.add_argument("--json", type=Path, default=None, help="also write the JSON report here")
    args = ap.parse_args()
    paths = data_paths(args)
    if paths is None:
        return 2
    base = args.base or ensure_default_bundle(args.home)
    bundle = load_bundle(base, precision=args.precision, encoder=args.encoder)
    cache = args.home / "embeddings"
    report, curves = leave_one_out(paths, bundle, cache=cache, precision=args.precision,
                                   full=not args.difficulty_only)
    print(table(report))
    if args.grid or args.gate_grid or args.rows_grid:
        files = [load_file(p, bundle, cache, args.precision) for p in paths]

        def row(label: str, params: dict[str, float]) -> None:
            vals = [fold(f, [o for o in files if o is not f], bundle, params=params,
                         full=False, precision=args.precision)[0]["routers"]["difficulty"]["apgr"]
                    for f in files]
            print(f"| {label} | " + " | ".join(f"{v:.3f}" for v in vals)
                  + f" | {np.mean(vals):.3f} |", flush=True)

        names = " | ".join(f.name for f in files)
        if args.grid:  # the blend and k, without the similarity gate
            print(f"\n| blend | k | {names} | mean |\n|---|---|" + "---|" * (len(files) + 1))
            for blend, k in itertools.product((0.0, 0.2, 1 / 3, 0.5, 1.0), (10, 30, 100)):
                if blend == 0.0 and k != 10:
                    continue
                row(f"{blend:.2f} | {k}", {"blend": blend, "k": k, "gate": np.inf})
        if args.gate_grid:  # the similarity gate at the default blend and k
            print(f"\n| gate | gate_weight | {names} | mean |\n|---|---|"
                  + "---|" * (len(files) + 1))
            row("off | 0", {"gate": np.inf, "gate_weight": 0.0})
            for gate, weight in itertools.product((0.7, 0.75, 0.8, 0.85), (1.0, 2.0, 4.0)):
                row(f"{gate} | {weight:g}", {"gate": gate, "gate_weight": weight})
        if args.rows_grid:  # the kNN memory's size: the scan reads every stored row per query
            print(f"\n| max_rows | {names} | mean |\n|---|" + "---|" * (len(files) + 1))
            for max_rows in (4000, 2000, 1000, 500, 250):
                row(f"{max_rows}", {"max_rows": max_rows})
    if args.plots is not None:
        suffix = "" if args.encoder == "minilm" else f"-{args.encoder}"
        plot(curves, args.plots, f"transfer_loo{suffix}.png")
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
