"""Start-up costs a new user feels: ``routeiq-sidecar --help`` wall time and ``serve`` cold
start to ready (process start until ``/readyz`` answers 200), medians of a few runs; with
``--trained DIR``, the size of a trained bundle folder.

    .venv/bin/python bench/startup.py --bundle DIR [--help-runs 5] [--serve-runs 3] [--trained DIR]

Prints JSON. Run it on a quiet machine when you can: both figures are dominated by imports and
model loading, which a busy host slows down.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

LISTENING = re.compile(r"listening http=(\S+):(\d+) grpc=")


def cli() -> list[str]:
    exe = shutil.which("routeiq-sidecar", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "routeiq_sidecar"]


def help_seconds(runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([*cli(), "--help"], check=True, capture_output=True)
        out.append(round(time.perf_counter() - t0, 3))
    return out


def serve_to_ready(bundle: Path) -> float:
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [*cli(), "serve", "--bundle", str(bundle), "--http-port", "0", "--grpc-port", "0"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ},
    )
    assert proc.stderr is not None
    try:
        for line in proc.stderr:
            m = LISTENING.search(line)
            if m:
                threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
                url = f"http://127.0.0.1:{m.group(2)}/readyz"
                while httpx.get(url, timeout=5).status_code != 200:
                    time.sleep(0.01)
                return round(time.perf_counter() - t0, 3)
        raise RuntimeError(f"serve exited {proc.wait()} before listening")
    finally:
        proc.terminate()
        proc.wait(30)


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", type=Path, required=True, help="bundle folder for serve")
    ap.add_argument("--help-runs", type=int, default=5)
    ap.add_argument("--serve-runs", type=int, default=3)
    ap.add_argument("--trained", type=Path, default=None, help="a trained bundle to measure")
    args = ap.parse_args()
    helps = help_seconds(args.help_runs)
    serves = [serve_to_ready(args.bundle) for _ in range(args.serve_runs)]
    report: dict[str, Any] = {
        "help_s": {"median": statistics.median(helps), "runs": helps},
        "serve_to_ready_s": {"median": statistics.median(serves), "runs": serves},
        "cpus": os.cpu_count(),
        "load_average": [round(x, 1) for x in os.getloadavg()],
    }
    if args.trained is not None:
        report["trained_bundle_mb"] = round(folder_bytes(args.trained) / 1e6, 1)
        report["trained_bundle_files"] = {
            p.name: round(p.stat().st_size / 1e6, 1) for p in sorted(args.trained.iterdir())
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
