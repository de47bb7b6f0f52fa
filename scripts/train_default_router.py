"""Train the default router shipped in the package (routeiq_sidecar/heads/default_router).

Runs this project's own command on the licensed shared outcome files only (routellm_mmlu,
Apache-2.0; llmrouter_9models, MIT; routerbench_subset_11models, MIT; not routerdc_7models,
whose repository has no licence):

    routeiq-sidecar train --data A,B,C --strategy difficulty --split none --seed 0 --out TMP

then copies the head file and writes ``training.json`` (data digests, seed, command, head
parameters). ``--encoder static`` fits the same head on the static encoder's vectors
(``train --encoder static``) into ``static.difficulty.npz`` and ``training.static.json``, which
also records the static recipe it needs (bundle/packaged.py). Reproduce with:

    .venv/bin/python scripts/train_default_router.py --data-dir ../shared/data --home .routeiq-home
    .venv/bin/python scripts/train_default_router.py --data-dir ../shared/data \
        --home .routeiq-home --encoder static
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from routeiq_sidecar.bundle import packaged
from routeiq_sidecar.cli import main as cli_main

LICENSED = ("routellm_mmlu", "llmrouter_9models", "routerbench_subset_11models")
SEED = 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=packaged.FOLDER)
    ap.add_argument("--encoder", default="minilm", choices=["minilm", "static"])
    args = ap.parse_args()
    kind = args.encoder
    flag = "" if kind == "minilm" else f" --encoder {kind}"
    data = ",".join(str(args.data_dir / f"{n}.jsonl") for n in LICENSED)
    with tempfile.TemporaryDirectory() as tmp:
        bundle = Path(tmp) / "bundle"
        argv = ["train", "--data", data, "--strategy", "difficulty", "--split", "none",
                "--seed", str(SEED), "--home", str(args.home), "--out", str(bundle),
                "--encoder", kind]
        if cli_main(argv) != 0:
            return 1
        manifest = json.loads((bundle / "manifest.json").read_text())
        table = manifest["static"] if kind == "static" else manifest
        head = dict(table["heads"]["difficulty"])
        args.out.mkdir(parents=True, exist_ok=True)
        shutil.copy2(bundle / head.pop("file"), args.out / packaged.HEAD_FILES[kind])
    training = manifest["training"]
    record = {
        "command": "routeiq-sidecar train --data "
                   + ",".join(f"../shared/data/{n}.jsonl" for n in LICENSED)
                   + f" --strategy difficulty --split none --seed {SEED}{flag} --out DIR",
        "reproduce": "python scripts/train_default_router.py --data-dir ../shared/data "
                     f"--home .routeiq-home{flag}",
        "files": [{k: f[k] for k in ("data", "data_sha256", "rows", "models")}
                  for f in training["files"]],
        "seed": training["seed"],
        "encoder_precision": training["encoder_precision"],
        "base_bundle": training["base_bundle"],
        "builder": manifest["builder"],
        "created": manifest["created"],
        "head": head,
    }
    if kind == "static":
        record["static_recipe"] = packaged.static_recipe(manifest["static"])
    (args.out / packaged.TRAINING_FILES[kind]).write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps({k: v for k, v in record.items() if k != "head"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
