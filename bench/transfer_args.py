"""The data options of the leave-one-file-out benches (bench/transfer.py,
transfer_variants.py, transfer_ceiling.py): where the outcome files are, which of them, the
cache folder and the encoder precision."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILES = ("routellm_mmlu", "llmrouter_9models", "routerbench_subset_11models",
         "routerdc_7models")


def add_data_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--files", default=",".join(FILES))
    ap.add_argument("--home", type=Path, default=ROOT / ".routeiq-home")
    ap.add_argument("--precision", default="int8")


def data_paths(args: argparse.Namespace) -> list[Path] | None:
    """The files ``--data-dir`` and ``--files`` name; None (and a message) if one is missing."""
    paths = [args.data_dir / f"{n}.jsonl" for n in args.files.split(",")]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(f"data files not found: {missing}", file=sys.stderr)
        return None
    return paths
