"""Labelled prompts for the category head: outcome-file rows mapped by task, plus prototypes.

Each file row's task label (its ``category`` field) is mapped onto a sidecar category by
training/task_map.py; rows of mixed tasks (``null``) are counted and left out. At most ``cap``
rows are drawn per (file, task), seeded, so a file's big tasks do not drown the rest and the
embedding bill stays bounded. Texts are what the server embeds (``select_prompts``); a text
seen twice is kept once (the first label wins), so a held-out row never also trains.

The split is by prompt and stratified by group (``file:task``, ``prototypes:category``):
each group's rows are shuffled with ``default_rng([seed, crc32(group)])`` and the first
``round(fraction * n)`` are held out.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from routeiq_sidecar.bundle.prototypes import Prototypes
from routeiq_sidecar.training.data import load_jsonl
from routeiq_sidecar.training.embed import select_prompts, text_key
from routeiq_sidecar.training.task_map import TaskMap

PROTOTYPES = "prototypes"


@dataclass
class Labelled:
    categories: tuple[str, ...]
    texts: list[str] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)  # "file:task" or "prototypes:category"
    skipped: dict[str, int] = field(default_factory=dict)  # why rows were left out -> count

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def y(self) -> np.ndarray:
        return np.asarray(self.labels, np.int64)

    def files(self) -> list[str]:
        return [g.split(":", 1)[0] for g in self.groups]

    def add(self, texts: Sequence[str], cats: Sequence[str], groups: Sequence[str],
            seen: set[str]) -> None:
        index = {c: i for i, c in enumerate(self.categories)}
        for text, cat, group in zip(texts, cats, groups, strict=True):
            key = text_key(text)
            if key in seen:
                self.skipped["duplicate text"] = self.skipped.get("duplicate text", 0) + 1
                continue
            seen.add(key)
            self.texts.append(text)
            self.labels.append(index[cat])
            self.groups.append(group)


def _skip(lab: Labelled, why: str, n: int = 1) -> None:
    lab.skipped[why] = lab.skipped.get(why, 0) + n


def sample_file(path: Path, tasks: TaskMap, cap: int | None, seed: int
                ) -> tuple[list[str], list[str], list[str], dict[str, int]]:
    """``(prompts, categories, groups, skipped)`` of one file, at most ``cap`` rows per task."""
    ds = load_jsonl(path)
    stem = Path(path).stem
    by_task: dict[str, list[int]] = {}
    for i, ex in enumerate(ds.examples):
        by_task.setdefault(ex.category, []).append(i)
    prompts: list[str] = []
    cats: list[str] = []
    groups: list[str] = []
    skipped: dict[str, int] = {}
    for task in sorted(by_task):
        rows = by_task[task]
        cat = tasks.category(task)  # UnmappedTask for an unknown label
        if cat is None:
            skipped[f"mixed task {stem}:{task}"] = len(rows)
            continue
        if cap is not None and len(rows) > cap:
            rng = np.random.default_rng([seed, zlib.crc32(f"{stem}:{task}".encode())])
            rows = sorted(rng.choice(rows, size=cap, replace=False).tolist())
            skipped[f"over the cap {stem}:{task}"] = len(by_task[task]) - cap
        for i in rows:
            prompts.append(ds.examples[i].prompt)
            cats.append(cat)
            groups.append(f"{stem}:{task}")
    return prompts, cats, groups, skipped


def labelled_rows(files: Sequence[Path], protos: Prototypes, tasks: TaskMap,
                  manifest: dict[str, Any], *, cap: int | None, seed: int,
                  with_prototypes: bool = True) -> Labelled:
    """Labelled texts of ``files`` (then the prototype prompts, unless ``with_prototypes`` is
    False), labelled over the prototypes' category set."""
    cats = tuple(protos.categories)
    unknown = tasks.categories() - set(cats)
    if unknown:
        raise ValueError(f"task_categories.yaml maps onto unknown categories {sorted(unknown)}")
    lab = Labelled(cats)
    seen: set[str] = set()
    for path in files:
        prompts, cs, groups, skipped = sample_file(path, tasks, cap, seed)
        for why, n in skipped.items():
            _skip(lab, why, n)
        texts = [s.text for s in select_prompts(prompts, manifest)]
        lab.add(texts, cs, groups, seen)
    if with_prototypes:
        pairs = [(p, c) for c, ps in protos.categories.items() for p in ps]
        texts = [s.text for s in select_prompts([p for p, _ in pairs], manifest)]
        lab.add(texts, [c for _, c in pairs], [f"{PROTOTYPES}:{c}" for _, c in pairs], seen)
    return lab


def stratified_split(groups: Sequence[str], fraction: float, seed: int
                     ) -> tuple[np.ndarray, np.ndarray]:
    """``(train indices, held-out indices)``, sorted; by group, ``round(fraction * n)`` out."""
    by_group: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        by_group.setdefault(g, []).append(i)
    held: list[int] = []
    for g in sorted(by_group):
        rows = np.asarray(by_group[g], np.int64)
        order = np.random.default_rng([seed, zlib.crc32(g.encode())]).permutation(len(rows))
        held.extend(rows[order[: round(fraction * len(rows))]].tolist())
    mask = np.zeros(len(groups), bool)
    mask[held] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)
