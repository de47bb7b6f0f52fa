"""Category accuracy of a bundle's ``signals.category``: table and confusion matrices.

Measures what the bundle answers (its trained category head, else its prototype centroids)
next to the prototype centroids: on the held-out split of the files the head was trained on
(rebuilt from its training record) and on every other file given, whole (at most 300 rows per
task), e.g. routerdc_7models, which it never saw. docs/benchmarks.md carries the output of:

    .venv/bin/python bench/categories.py --data-dir ../shared/data --home .routeiq-home
    .venv/bin/python bench/categories.py --data-dir ../shared/data --home .routeiq-home \\
        --encoder static

(the same as ``routeiq-sidecar eval --categories --data ../shared/data/A.jsonl,...``).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # small products; see train_category_head

import argparse
import json
import sys
from pathlib import Path

FILES = ("routellm_mmlu", "llmrouter_9models", "routerbench_subset_11models",
         "routerdc_7models")


def main() -> int:
    from routeiq_sidecar.bundle.default import ensure_default_bundle
    from routeiq_sidecar.bundle.loader import load_bundle
    from routeiq_sidecar.training.category_report import render
    from routeiq_sidecar.training.category_train import measure_bundle

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--bundle", type=Path, default=None, help="default: the default bundle")
    ap.add_argument("--encoder", default="minilm", choices=["minilm", "static"])
    ap.add_argument("--precision", default="int8", choices=["int8", "fp32"])
    ap.add_argument("--json", type=Path, default=None, help="also write the report here")
    args = ap.parse_args()
    bundle = load_bundle(args.bundle or ensure_default_bundle(args.home),
                         precision=args.precision, encoder=args.encoder)
    files = [p for p in (args.data_dir / f"{n}.jsonl" for n in FILES) if p.is_file()]
    record = measure_bundle(bundle, files, cache_dir=args.home / "embeddings",
                            precision=args.precision)
    if args.json:
        args.json.write_text(json.dumps(record, indent=1) + "\n")
    print(render(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
