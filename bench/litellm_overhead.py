"""What the RouteIQ LiteLLM stub adds to a call, against LiteLLM's own default routing.

    ROUTEIQ_SIDECAR_PYTHON=.venv/bin/python PYTHONPATH=client_stub \
      .venv-litellm-new/bin/python bench/litellm_overhead.py [--bundle DIR] [--calls 300]
                                                            [--max-chars N] [--out FILE.json]

LiteLLM lives in the ``.venv-litellm-*`` venvs (scripts/install.sh), the sidecar in ``.venv``:
the sidecar runs with ``ROUTEIQ_SIDECAR_PYTHON`` (default: this Python).

One run, one machine: starts a real sidecar (``routeiq-sidecar serve`` on free ports, the
embedded default MiniLM bundle unless ``--bundle``; its embedding cache off so every decision
encodes its prompt), builds ``litellm.Router``s over the same three ``mock_response``
deployments (LiteLLM's default ``simple-shuffle``, and ``RouteIQStrategy`` per transport), and
sends the same prompts through all of them, interleaved, one call at a time. Prompts are real
ones, taken in turn from each data set in ``../shared/data`` (else generated).

Reported per transport (http, grpc), in milliseconds:

* ``added_e2e``: paired difference of whole ``Router.acompletion`` calls, stub minus default;
* ``added_select``: the same for deployment selection alone
  (``Router.async_get_available_deployment``), the part the stub replaces;
* ``decision``: the sidecar's own decision time (``timings.total_us`` of its answers);
* ``beyond_decision``: ``added_select`` minus ``decision``, per call: what the stub, the
  transport and the sidecar's HTTP/gRPC layer cost on top of deciding;
* ``roundtrip``: a bare client call to the sidecar with the stub's request (no LiteLLM);
* ``ratio``: median ``added_select`` / median ``decision`` (target <= 1.5).
"""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # before litellm is imported

import argparse
import asyncio
import itertools
import json
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
LISTENING = re.compile(r"listening http=(\S+):(\d+) grpc=(\S+):(\d+)")
DEPLOYMENTS = [("cheap", "openai/gpt-4o-mini"), ("strong", "openai/gpt-4o"),
               ("reasoning", "openai/o3-mini")]


def prompts(n: int, max_chars: int = 0, data: Path = DATA) -> list[str]:
    """``n`` distinct prompts, taken in turn from each shared data set (else generated),
    cut to ``max_chars`` characters when that is set (chat-sized prompts)."""
    sources: list[list[str]] = []
    for path in sorted(data.glob("*.jsonl")) if data.is_dir() else []:
        with path.open() as f:
            texts = [json.loads(line).get("prompt", "") for line in itertools.islice(f, n)]
        sources.append([t[:max_chars] if max_chars else t for t in texts if t])
    out: list[str] = []
    seen: set[str] = set()
    for i in range(n):
        for src in sources:
            if i < len(src) and src[i] not in seen and len(out) < n:
                seen.add(src[i])
                out.append(src[i])
    while len(out) < n:
        out.append(f"Question {len(out)}: explain step {len(out) % 7} of merge sort in detail.")
    return out


def start_sidecar(bundle: str | None, home: str) -> tuple[subprocess.Popen[str], str, str]:
    python = os.environ.get("ROUTEIQ_SIDECAR_PYTHON") or sys.executable
    cmd = [python, "-m", "routeiq_sidecar", "serve", "--http-port", "0",
           "--grpc-port", "0", "--home", home]
    if bundle:
        cmd += ["--bundle", bundle]
    env = {**os.environ, "ROUTEIQ_EMBED_CACHE_SIZE": "0"}
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                            env=env)
    assert proc.stderr is not None
    lines: list[str] = []
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            raise RuntimeError("sidecar exited: " + "".join(lines[-20:]))
        lines.append(line)
        m = LISTENING.search(line)
        if m:  # keep draining stderr so the sidecar never blocks on a full pipe
            threading.Thread(target=_drain, args=(proc.stderr,), daemon=True).start()
            return proc, f"http://127.0.0.1:{m.group(2)}", f"127.0.0.1:{m.group(4)}"
    proc.kill()
    raise RuntimeError("sidecar did not start")


def _drain(stream: Any) -> None:
    for _ in stream:
        pass


def model_list() -> list[dict[str, Any]]:
    return [
        {"model_name": "auto",
         "litellm_params": {"model": m, "api_key": "mock", "mock_response": f"from {d}"},
         "model_info": {"id": d}}
        for d, m in DEPLOYMENTS
    ]


def summary(values: list[float]) -> dict[str, float]:
    s = sorted(values)
    q = statistics.quantiles(s, n=100, method="inclusive") if len(s) > 1 else s * 99
    return {"median": round(statistics.median(s), 3), "p90": round(q[89], 3),
            "p99": round(q[98], 3), "mean": round(statistics.fmean(s), 3), "n": len(s)}


async def timed(fn: Callable[[], Awaitable[Any]]) -> float:
    t0 = time.perf_counter()
    await fn()
    return (time.perf_counter() - t0) * 1000.0


def _call(router: Any, msgs: list[dict[str, str]]) -> Callable[[], Awaitable[Any]]:
    return lambda: router.acompletion(model="auto", messages=msgs)


def _pick(router: Any, msgs: list[dict[str, str]]) -> Callable[[], Awaitable[Any]]:
    return lambda: router.async_get_available_deployment(
        model="auto", messages=msgs, request_kwargs={"metadata": {}}
    )


async def measure(urls: dict[str, str], texts: list[str], warmup: int) -> dict[str, Any]:
    """All transports and LiteLLM's default routing on each prompt in turn (drift cancels)."""
    import httpx
    from litellm import Router
    from routeiq_litellm import install
    from routeiq_litellm.candidates import build_candidates
    from routeiq_litellm.request import build_route_request

    default = Router(model_list=model_list())
    routers = {t: Router(model_list=model_list()) for t in urls}
    strategies = {
        t: install(routers[t], url=url, transport=t, timeout_ms=2000, feedback=False)
        for t, url in urls.items()
    }
    cands, _ = build_candidates(model_list())
    direct = httpx.AsyncClient()
    series: dict[str, dict[str, list[float]]] = {
        t: {"added_e2e": [], "added_select": [], "decision": [], "beyond_decision": []}
        for t in urls
    }
    roundtrip: list[float] = []
    at_warmup: dict[str, dict[str, int]] = {}
    for i, text in enumerate(texts):
        if i == warmup:
            at_warmup = {t: s.stats.snapshot() for t, s in strategies.items()}
        msgs = [{"role": "user", "content": text}]
        base_call = await timed(_call(default, msgs))
        base_pick = await timed(_pick(default, msgs))
        for t, router in routers.items():
            stub_call = await timed(_call(router, msgs))
            stub_pick = await timed(_pick(router, msgs))
            decision = strategies[t].last_decision
            if i >= warmup:
                series[t]["added_e2e"].append(stub_call - base_call)
                series[t]["added_select"].append(stub_pick - base_pick)
                decided = decision.total_us / 1000.0 if decision else 0.0
                series[t]["decision"].append(decided)
                series[t]["beyond_decision"].append(stub_pick - base_pick - decided)
        if "http" in urls:
            body = build_route_request(model_group="auto", candidates=cands, messages=msgs)
            rt = await timed(lambda: direct.post(f"{urls['http']}/v1/route", json=body))  # noqa: B023
            if i >= warmup:
                roundtrip.append(rt)
    await direct.aclose()
    out: dict[str, Any] = {}
    for t, ser in series.items():
        out[t] = {name: summary(values) for name, values in ser.items()}
        out[t]["ratio"] = round(
            out[t]["added_select"]["median"] / max(out[t]["decision"]["median"], 1e-9), 2
        )
        total = strategies[t].stats.snapshot()
        before = at_warmup.get(t, {})
        out[t]["stub_warmup"] = {k: v for k, v in before.items() if v}
        out[t]["stub_measured"] = {k: v - before.get(k, 0) for k, v in total.items()
                                   if v - before.get(k, 0)}
    if roundtrip:
        out["http"]["roundtrip"] = summary(roundtrip)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", help="bundle folder (default: the embedded MiniLM bundle)")
    ap.add_argument("--calls", type=int, default=300, help="measured calls per transport")
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--transports", default="http,grpc")
    ap.add_argument("--max-chars", type=int, default=0,
                    help="cut prompts to this many characters (0: whole prompts)")
    ap.add_argument("--data", type=Path, default=DATA,
                    help=f"folder of *.jsonl prompt files (default {DATA})")
    ap.add_argument("--out", help="also write the JSON here")
    args = ap.parse_args()

    transports = [t for t in args.transports.split(",") if t]
    texts = prompts(args.calls + args.warmup, args.max_chars, args.data)
    home = os.environ.get("ROUTEIQ_HOME") or tempfile.mkdtemp(prefix="routeiq-bench-")
    proc, http_url, grpc_url = start_sidecar(args.bundle, home)
    result: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "bundle": args.bundle or "default (MiniLM)",
        "calls": args.calls,
        "max_chars": args.max_chars,
        "prompt_chars_median": statistics.median(len(t) for t in texts),
    }
    try:
        import litellm

        result["litellm"] = getattr(litellm, "__version__", None) or _dist_version("litellm")
        urls = {t: http_url if t == "http" else grpc_url for t in transports}
        result.update(asyncio.run(measure(urls, texts, args.warmup)))
    finally:
        proc.terminate()
        proc.wait(30)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


def _dist_version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


if __name__ == "__main__":
    main()
