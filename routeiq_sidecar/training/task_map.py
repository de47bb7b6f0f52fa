"""Task labels of the outcome files -> the sidecar's categories (``task_categories.yaml``).

The outcome files carry a task label per row (MMLU subject, RouterBench / LLMRouter / RouterDC
task name). The table next to this module maps each onto one of the categories of the
prototype prompts (``strategies/prototypes/categories.yaml``), or onto ``null`` for tasks that
mix categories (left out of training and of the figures). An unknown label is an error: a new
file must be mapped before it can train the category head.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import yaml


class UnmappedTask(ValueError):
    """A task label the table does not know."""


def task_key(label: str) -> str:
    """Labels compare lower-cased, ``-`` read as ``_`` (``arc-challenge`` = ``arc_challenge``)."""
    return label.strip().lower().replace("-", "_")


@dataclass(frozen=True)
class TaskMap:
    tasks: dict[str, str | None]

    def category(self, label: str) -> str | None:
        """The category of a task label; None for a mixed task; UnmappedTask when unknown."""
        key = task_key(label)
        if key not in self.tasks:
            raise UnmappedTask(
                f"task label {label!r} is not in routeiq_sidecar/training/task_categories.yaml: "
                "map it to a category (or null for a mixed task) before training on it"
            )
        return self.tasks[key]

    def categories(self) -> set[str]:
        return {c for c in self.tasks.values() if c is not None}


def load_task_map() -> TaskMap:
    raw = (resources.files("routeiq_sidecar") / "training" / "task_categories.yaml").read_text(
        encoding="utf-8")
    table = yaml.safe_load(raw)["tasks"]
    return TaskMap({task_key(str(k)): (None if v is None else str(v)) for k, v in table.items()})
