"""Train the category head shipped in the package (routeiq_sidecar/heads/default_router).

Fits the head (training/category_train.py) on the task labels of the licensed shared outcome
files only (routellm_mmlu, Apache-2.0; llmrouter_9models, MIT; routerbench_subset_11models,
MIT; labels mapped by routeiq_sidecar/training/task_categories.yaml) plus the prototype
prompts, embedded by the default bundle's encoder at the serving precision (int8), and measures
it on their held-out split and on routerdc_7models (no licence: measured on, never trained
on). Writes ``category.npz`` and ``training.category.json`` (data digests, seed, command,
parameters, figures); ``--encoder static`` writes ``static.category.npz`` and
``training.static.category.json`` (which also records the static recipe, bundle/packaged.py).
Reproduce with:

    .venv/bin/python scripts/train_category_head.py --data-dir ../shared/data --home .routeiq-home
    .venv/bin/python scripts/train_category_head.py --data-dir ../shared/data \\
        --home .routeiq-home --encoder static

``--report FILE`` also writes the Markdown tables (docs/benchmarks.md carries them).
"""

from __future__ import annotations

import os

# One BLAS thread: the fits are small (10k x 384 x 10) and a multi-threaded BLAS on a busy
# 2-core machine spends 20x longer spinning than computing. Set before numpy is imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from routeiq_sidecar import __version__
from routeiq_sidecar.bundle import manifest as mf
from routeiq_sidecar.bundle import packaged
from routeiq_sidecar.bundle.default import ensure_default_bundle
from routeiq_sidecar.bundle.loader import load_bundle
from routeiq_sidecar.training.category_report import render
from routeiq_sidecar.training.category_train import train_category_head

LICENSED = ("routellm_mmlu", "llmrouter_9models", "routerbench_subset_11models")
MEASURED = ("routerdc_7models",)  # never trained on (its repository has no licence)
SEED = 0
PRECISION = "int8"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=packaged.FOLDER)
    ap.add_argument("--encoder", default="minilm", choices=["minilm", "static"])
    ap.add_argument("--bundle", type=Path, default=None,
                    help="base bundle whose encoder embeds (default: the default bundle)")
    ap.add_argument("--report", type=Path, default=None, help="write the Markdown tables here")
    args = ap.parse_args()
    kind = args.encoder
    base = args.bundle or ensure_default_bundle(args.home)
    bundle = load_bundle(base, precision=PRECISION, encoder=kind)
    files = [args.data_dir / f"{n}.jsonl" for n in LICENSED]
    measured = [p for p in (args.data_dir / f"{n}.jsonl" for n in MEASURED) if p.is_file()]
    head, record = train_category_head(bundle, files, seed=SEED, precision=PRECISION,
                                       cache_dir=args.home / "embeddings", eval_files=measured)
    flag = "" if kind == "minilm" else f" --encoder {kind}"
    out: dict[str, Any] = {
        "command": "python scripts/train_category_head.py --data-dir ../shared/data "
                   f"--home .routeiq-home{flag}",
        "files": [{"data": p.name, "data_sha256": mf.sha256_file(p)} for p in files],
        "measured_only": [{"data": p.name, "data_sha256": mf.sha256_file(p)} for p in measured],
        "task_map": "routeiq_sidecar/training/task_categories.yaml",
        "seed": SEED,
        "encoder": kind,
        "encoder_precision": PRECISION,
        "base_bundle": {"name": bundle.name, "version": bundle.version},
        "builder": f"routeiq-sidecar {__version__}",
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        **record,
    }
    if kind == "static":
        out["static_recipe"] = packaged.static_recipe(bundle.manifest["static"])
    args.out.mkdir(parents=True, exist_ok=True)
    head.save(args.out / packaged.CATEGORY_FILES[kind])
    (args.out / packaged.CATEGORY_TRAINING_FILES[kind]).write_text(
        json.dumps(out, indent=1) + "\n")
    text = render(out)
    if args.report:
        args.report.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
