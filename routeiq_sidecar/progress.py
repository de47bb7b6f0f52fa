"""Progress of long CLI work on stderr: a bar on a terminal, else plain log lines.

When stderr is not a terminal (CI, ``nohup``, a pipe into a log file) a bar would be noise,
and nothing at all leaves a long ``train`` silent for minutes; so there it writes one line
when a step starts, then at most one line every ``LOG_INTERVAL_S`` seconds, and one when it
ends: ``[progress] embedding (fit): 1024/5000 prompts (20%), 12s``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TextIO, TypeVar

from tqdm import tqdm

T = TypeVar("T")

LOG_INTERVAL_S = 15.0


def _line(out: TextIO, desc: str, done: int, total: int | None, unit: str, t0: float) -> None:
    share = f" ({100 * done // total}%)" if total else ""
    of = f"/{total}" if total is not None else ""
    out.write(f"[progress] {desc or 'working'}: {done}{of} {unit}{share}, "
              f"{time.monotonic() - t0:.0f}s\n")
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
    yield from tqdm(it, desc=desc or None, unit=unit, total=total, file=sys.stderr, leave=False)
