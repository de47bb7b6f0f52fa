"""Train/test splits of a routing data set: by the rows' own ``split`` field, by held-out
category, or at random; the same data, method and seed always give the same split."""

from __future__ import annotations

from typing import Literal

import numpy as np

from routeiq_sidecar.errors import invalid
from routeiq_sidecar.training.data import Dataset

__all__ = ["SPLIT_METHODS", "SplitHow", "resolve_split", "split_dataset"]

SplitHow = Literal["field", "group", "random", "auto"]
SPLIT_METHODS: tuple[str, ...] = ("field", "group", "random", "auto")
_LEAK_FLAG = "test_prompt_also_in_train"


def resolve_split(ds: Dataset, how: str) -> str:
    """The concrete split method for ``how``.

    ``auto`` is ``field`` when every example has a ``split`` value, else ``group`` when there are
    at least two categories, else ``random``.
    """
    if how not in SPLIT_METHODS:
        raise invalid("split", f"unknown split method {how!r}; expected one of {SPLIT_METHODS}")
    if how != "auto":
        return how
    if all(ex.split is not None for ex in ds.examples):
        return "field"
    if len({ex.category for ex in ds.examples}) >= 2:
        return "group"
    return "random"


def split_dataset(
    ds: Dataset, how: str = "auto", *, seed: int = 0, test_fraction: float = 0.2
) -> tuple[Dataset, Dataset]:
    """Split ``ds`` into ``(train, test)``; both keep file order and ``ds.models``.

    * ``field``: rows whose ``split`` is ``"test"`` form the test set, minus those whose
      ``test_prompt_also_in_train`` is true (they are dropped from both sides); every other
      value (``"train"``, ``"validation"``...) goes to train. Every row needs a ``split``.
      ``seed`` and ``test_fraction`` are ignored.
    * ``group``: whole ``category`` values are held out. Categories (sorted) are shuffled with
      ``numpy.random.default_rng(seed)``; walking that order, a category joins the test set when
      that brings the test row count closer to ``test_fraction * len(ds)``. At least one
      category ends on each side.
    * ``random``: ``round(test_fraction * len(ds))`` rows (at least 1, at most ``len(ds) - 1``)
      drawn with ``numpy.random.default_rng(seed).permutation``.
    * ``auto``: see :func:`resolve_split`.

    The same data, method and seed always give the same split.
    """
    method = resolve_split(ds, how)
    n = len(ds)
    if method != "field" and not 0.0 < test_fraction < 1.0:
        raise invalid("test_fraction", f"must be in (0, 1), got {test_fraction}")
    if method == "field":
        missing = [ex.id for ex in ds.examples if ex.split is None]
        if missing:
            raise invalid(
                "split",
                f"'field' split needs a 'split' on every row; {len(missing)} lack one"
                f" (first: {missing[0]!r})",
            )
        train_idx = [i for i, ex in enumerate(ds.examples) if ex.split != "test"]
        test_idx = [
            i
            for i, ex in enumerate(ds.examples)
            if ex.split == "test" and ex.extras.get(_LEAK_FLAG) is not True
        ]
        if not test_idx:
            raise invalid("split", "'field' split: no usable row has split == 'test'")
        return ds.subset(train_idx), ds.subset(test_idx)

    if n < 2:
        raise invalid("split", f"cannot split {n} example(s)")
    rng = np.random.default_rng(seed)

    if method == "group":
        counts: dict[str, int] = {}
        for ex in ds.examples:
            counts[ex.category] = counts.get(ex.category, 0) + 1
        cats = sorted(counts)
        if len(cats) < 2:
            raise invalid("split", "'group' split needs at least two categories")
        target = test_fraction * n
        chosen: list[str] = []
        total = 0
        for k in rng.permutation(len(cats)):
            cat = cats[int(k)]
            if abs(total + counts[cat] - target) < abs(total - target):
                chosen.append(cat)
                total += counts[cat]
        if not chosen:  # every category alone overshoots badly: take the smallest one
            chosen.append(min(cats, key=lambda c: (counts[c], c)))
        if len(chosen) == len(cats):
            chosen.pop()
        held_out = set(chosen)
        train_idx = [i for i, ex in enumerate(ds.examples) if ex.category not in held_out]
        test_idx = [i for i, ex in enumerate(ds.examples) if ex.category in held_out]
        return ds.subset(train_idx), ds.subset(test_idx)

    n_test = min(max(round(test_fraction * n), 1), n - 1)
    test_set = {int(i) for i in rng.permutation(n)[:n_test]}
    train_idx = [i for i in range(n) if i not in test_set]
    return ds.subset(train_idx), ds.subset(sorted(test_set))
