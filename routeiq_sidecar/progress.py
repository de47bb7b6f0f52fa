"""Progress of long CLI work on stderr: a bar on a terminal, else plain log lines.

When stderr is not a terminal (CI, ``nohup``, a pipe into a log file) a bar would be noise,
and nothing at all leaves a long ``train`` silent for minutes; so there it writes one line
when a step starts, then at most one line every ``LOG_INTERVAL_S`` seconds, and one when it
ends: ``[progress] embedding (fit): 1024/5000 prompts (20%), 12s, 85.3 prompts/s, ETA 47s``.
Steps that are not a loop (an ONNX export, a quantisation, fitting a network) run inside
``stage(...)``, which writes a start line, a heartbeat every ``LOG_INTERVAL_S`` seconds and the
time it took.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TextIO, TypeVar

T = TypeVar("T")

LOG_INTERVAL_S = 5.0
PREFIX = "[progress]"


def _duration(seconds: float) -> str:
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def _line(out: TextIO, desc: str, done: int, total: int | None, unit: str, t0: float) -> None:
    elapsed = time.monotonic() - t0
    share = f" ({100 * done // total}%)" if total else ""
    of = f"/{total}" if total is not None else ""
    text = f"{PREFIX} {desc or 'working'}: {done}{of} {unit}{share}, {_duration(elapsed)}"
    if done and elapsed > 0:
        rate = done / elapsed
        text += f", {rate:.0f} {unit}/s" if rate >= 100 else f", {rate:.3g} {unit}/s"
        if total and done < total:
            text += f", ETA {_duration((total - done) / rate)}"
    out.write(text + "\n")
    out.flush()


def log_lines(
    it: Iterable[T], *, desc: str, unit: str, total: int | None, out: TextIO,
    interval: float = LOG_INTERVAL_S,
) -> Iterator[T]:
    """Yield from ``it``, writing a start line, a line per ``interval`` seconds and an end line."""
    if total is None and hasattr(it, "__len__"):
        total = len(it)  # type: ignore[arg-type]
    t0 = last = time.monotonic()
    done = 0
    _line(out, desc, done, total, unit, t0)
    for item in it:
        yield item
        done += 1
        now = time.monotonic()
        if now - last >= interval:
            last = now
            _line(out, desc, done, total, unit, t0)
    _line(out, desc, done, total, unit, t0)


def progress(
    it: Iterable[T], *, desc: str = "", unit: str = "it", total: int | None = None
) -> Iterator[T]:
    if not sys.stderr.isatty():
        yield from log_lines(it, desc=desc, unit=unit, total=total, out=sys.stderr)
        return
    from tqdm import tqdm  # only on a terminal

    yield from tqdm(it, desc=desc or None, unit=unit, total=total, file=sys.stderr, leave=False)


@contextmanager
def stage(
    desc: str, *, out: TextIO | None = None, interval: float = LOG_INTERVAL_S
) -> Iterator[None]:
    """A step without a loop to count: a start line, a heartbeat per ``interval`` seconds while it
    runs (not on a terminal), and its duration at the end."""
    stream = out if out is not None else sys.stderr
    t0 = time.monotonic()
    stream.write(f"{PREFIX} {desc}: started\n")
    stream.flush()
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(interval):
            stream.write(f"{PREFIX} {desc}: running, {_duration(time.monotonic() - t0)}\n")
            stream.flush()

    beater = None
    if not stream.isatty():
        beater = threading.Thread(target=beat, name="progress-heartbeat", daemon=True)
        beater.start()
    try:
        yield
    finally:
        stop.set()
        if beater is not None:
            beater.join()
        stream.write(f"{PREFIX} {desc}: done in {_duration(time.monotonic() - t0)}\n")
        stream.flush()
