"""Progress bars for long CLI work (stderr, quiet when not a terminal or when disabled)."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")


def progress(
    it: Iterable[T], *, desc: str = "", unit: str = "it", total: int | None = None
) -> Iterator[T]:
    yield from tqdm(
        it,
        desc=desc or None,
        unit=unit,
        total=total,
        file=sys.stderr,
        disable=not sys.stderr.isatty(),
        leave=False,
    )
