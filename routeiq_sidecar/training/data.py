"""Routing data: load per-model outcome files (JSONL) and turn them into matrices (splits:
training/splits.py).

One JSON object per line (blank lines are skipped)::

    {"id": "...", "prompt": "...", "scores": {"model-a": 1, "model-b": 0.0, "model-c": null},
     "category": "...", "source": "...", "split": "train" | "test",        # split is optional
     "cost_usd": {"model-a": 0.0012, ...},                                  # optional, or
     "cost_per_1M_tokens": {"model-a": {"input": 0.2, "output": 0.2}, ...}, # optional
     ...any other keys (label, test_prompt_also_in_train, ...)}

Rules (every violation raises :class:`~routeiq_sidecar.errors.RouteIQError`, INVALID_ARGUMENT,
built by :func:`~routeiq_sidecar.errors.invalid`, whose message names the file and line as
``path:line``):

* a line must be a JSON object; ``prompt`` a non-empty string; ``id``, when present, a string
  unique in the file (absent: ``<file name>:<line>``); ``category``/``source`` strings when present
  (absent: ``""``); ``split`` a string or null;
* ``scores`` an object of ``model: number | null``; ``null`` means "not evaluated" and is dropped;
  at least one numeric score; booleans, strings, NaN and infinities are rejected;
* a file with no example at all is an error.

Per-prompt costs (:attr:`Example.costs`, US dollars for this one prompt):

* ``cost_usd`` present: taken as is (``null`` entries dropped);
* else ``cost_per_1M_tokens`` present: an *estimate*,
  ``(input_tokens * input + output_tokens * output) / 1e6`` with
  ``input_tokens = ceil(len(prompt) / CHARS_PER_TOKEN)`` (4 characters a token, the usual
  rule of thumb for English) and ``output_tokens = ASSUMED_OUTPUT_TOKENS`` (256, since the files
  carry no response lengths); see :func:`estimate_prompt_cost`;
* else ``None``.

Every other key is kept in :attr:`Example.extras` (e.g. ``label``, ``test_prompt_also_in_train``,
and the raw ``cost_per_1M_tokens`` prices).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from routeiq_sidecar.errors import ErrorKind, RouteIQError, invalid
from routeiq_sidecar.text import CHARS_PER_TOKEN

__all__ = [
    "ASSUMED_OUTPUT_TOKENS",
    "Dataset",
    "Example",
    "cost_matrix",
    "estimate_prompt_cost",
    "load_jsonl",
    "score_matrix",
]

ASSUMED_OUTPUT_TOKENS = 256
"""Output tokens assumed for every response when a cost must be derived from token prices."""

_CORE_KEYS = frozenset({"id", "prompt", "scores", "category", "source", "split", "cost_usd"})


@dataclass(frozen=True)
class Example:
    """One prompt with the outcome of each evaluated model."""

    id: str
    prompt: str
    scores: dict[str, float]
    """``{model: score}``, higher is better; models with a ``null`` score are absent."""
    category: str = ""
    source: str = ""
    split: str | None = None
    costs: dict[str, float] | None = None
    """``{model: $ for this prompt}``; see the module docstring for how it is obtained."""
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Dataset:
    """Examples in file order plus the sorted union of the models scored in them."""

    examples: tuple[Example, ...]
    models: tuple[str, ...]
    path: str | None = None

    def __len__(self) -> int:
        return len(self.examples)

    def __iter__(self) -> Iterator[Example]:
        return iter(self.examples)

    def subset(self, indices: Iterable[int]) -> Dataset:
        """The examples at ``indices`` (in that order), keeping this dataset's model list."""
        return Dataset(tuple(self.examples[i] for i in indices), self.models, self.path)

    @property
    def prompts(self) -> list[str]:
        return [ex.prompt for ex in self.examples]

    @property
    def categories(self) -> list[str]:
        return [ex.category for ex in self.examples]


# --------------------------------------------------------------------------------------- loading


def estimate_prompt_cost(prompt: str, input_per_1m: float, output_per_1m: float) -> float:
    """Estimated $ of one call: ``ceil(len(prompt)/4)`` input tokens and 256 output tokens."""
    input_tokens = math.ceil(len(prompt) / CHARS_PER_TOKEN)
    return (input_tokens * input_per_1m + ASSUMED_OUTPUT_TOKENS * output_per_1m) / 1e6


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _finite_number(value: object) -> float | None:
    """``float(value)`` when ``value`` is a finite JSON number (not a bool), else ``None``."""
    if not _is_number(value):
        return None
    out = float(value)  # type: ignore[arg-type]
    return out if math.isfinite(out) else None


def _parse_scores(raw: object, where: str) -> dict[str, float]:
    if raw is None:
        raise invalid("scores", f"{where}: missing 'scores'")
    if not isinstance(raw, dict):
        raise invalid("scores", f"{where}: 'scores' must be an object of model: number")
    scores: dict[str, float] = {}
    for model, value in raw.items():
        if value is None:
            continue
        number = _finite_number(value)
        if number is None:
            raise invalid("scores", f"{where}: non-numeric score for model {model!r}: {value!r}")
        scores[str(model)] = number
    if not scores:
        raise invalid("scores", f"{where}: 'scores' has no numeric value")
    return scores


def _parse_costs(obj: Mapping[str, Any], prompt: str, where: str) -> dict[str, float] | None:
    if obj.get("cost_usd") is not None:
        raw = obj["cost_usd"]
        if not isinstance(raw, dict):
            raise invalid("cost_usd", f"{where}: 'cost_usd' must be an object of model: number")
        costs: dict[str, float] = {}
        for model, value in raw.items():
            if value is None:
                continue
            number = _finite_number(value)
            if number is None or number < 0:
                raise invalid("cost_usd", f"{where}: bad cost for model {model!r}: {value!r}")
            costs[str(model)] = number
        return costs
    if obj.get("cost_per_1M_tokens") is not None:
        raw = obj["cost_per_1M_tokens"]
        if not isinstance(raw, dict):
            raise invalid(
                "cost_per_1M_tokens",
                f"{where}: 'cost_per_1M_tokens' must be an object of model: {{input, output}}",
            )
        costs = {}
        for model, price in raw.items():
            if price is None:
                continue
            inp = _finite_number(price.get("input")) if isinstance(price, dict) else None
            out = _finite_number(price.get("output")) if isinstance(price, dict) else None
            if inp is None or out is None or inp < 0 or out < 0:
                raise invalid(
                    "cost_per_1M_tokens",
                    f"{where}: bad price for model {model!r}: {price!r}"
                    ' (want {"input": number, "output": number})',
                )
            costs[str(model)] = estimate_prompt_cost(prompt, inp, out)
        return costs
    return None


def _optional_str(obj: Mapping[str, Any], key: str, where: str, default: str) -> str:
    value = obj.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise invalid(key, f"{where}: {key!r} must be a string, got {value!r}")
    return value


def _parse_example(obj: Mapping[str, Any], path: Path, lineno: int) -> Example:
    where = f"{path}:{lineno}"
    prompt = obj.get("prompt")
    if prompt is None:
        raise invalid("prompt", f"{where}: missing 'prompt'")
    if not isinstance(prompt, str):
        raise invalid("prompt", f"{where}: 'prompt' must be a string, got {type(prompt).__name__}")
    if not prompt.strip():
        raise invalid("prompt", f"{where}: empty 'prompt'")
    scores = _parse_scores(obj.get("scores"), where)
    split = obj.get("split")
    if split is not None and not isinstance(split, str):
        raise invalid("split", f"{where}: 'split' must be a string or null, got {split!r}")
    return Example(
        id=_optional_str(obj, "id", where, f"{path.name}:{lineno}"),
        prompt=prompt,
        scores=scores,
        category=_optional_str(obj, "category", where, ""),
        source=_optional_str(obj, "source", where, ""),
        split=split,
        costs=_parse_costs(obj, prompt, where),
        extras={k: v for k, v in obj.items() if k not in _CORE_KEYS},
    )


def load_jsonl(path: str | Path, *, limit: int | None = None) -> Dataset:
    """Read a routing-data JSONL file (at most ``limit`` examples); see the module docstring."""
    p = Path(path)
    if limit is not None and limit < 1:
        raise invalid("limit", f"must be >= 1, got {limit}")
    examples: list[Example] = []
    seen: dict[str, int] = {}
    try:
        fh = p.open(encoding="utf-8")
    except FileNotFoundError:
        raise RouteIQError(ErrorKind.NOT_FOUND, f"{p}: no such file", field="path") from None
    except OSError as exc:
        raise invalid("path", f"{p}: cannot open: {exc.strerror or exc}") from None
    with fh:
        lineno = 0
        try:
            for lineno, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise invalid(
                        "line", f"{p}:{lineno}: malformed JSON: {exc.msg} (column {exc.colno})"
                    ) from None
                if not isinstance(obj, dict):
                    raise invalid(
                        "line", f"{p}:{lineno}: expected a JSON object, got {type(obj).__name__}"
                    )
                ex = _parse_example(obj, p, lineno)
                if ex.id in seen:
                    raise invalid(
                        "id", f"{p}:{lineno}: duplicate id {ex.id!r} (first at line {seen[ex.id]})"
                    )
                seen[ex.id] = lineno
                examples.append(ex)
                if limit is not None and len(examples) >= limit:
                    break
        except UnicodeDecodeError:
            raise invalid("line", f"{p}:{lineno + 1}: not valid UTF-8") from None
    if not examples:
        raise invalid("path", f"{p}: empty file: no examples")
    models = tuple(sorted({m for ex in examples for m in ex.scores}))
    return Dataset(tuple(examples), models, str(p))


# -------------------------------------------------------------------------------------- matrices


def _as_examples(examples: Dataset | Iterable[Example]) -> Sequence[Example]:
    if isinstance(examples, Dataset):
        return examples.examples
    return list(examples)


def score_matrix(examples: Dataset | Iterable[Example], models: Sequence[str]) -> np.ndarray:
    """``(n_examples, n_models)`` float64 scores, NaN where a model was not scored."""
    rows = _as_examples(examples)
    out = np.full((len(rows), len(models)), np.nan, dtype=np.float64)
    for i, ex in enumerate(rows):
        for j, model in enumerate(models):
            value = ex.scores.get(model)
            if value is not None:
                out[i, j] = value
    return out


def cost_matrix(examples: Dataset | Iterable[Example], models: Sequence[str]) -> np.ndarray:
    """``(n_examples, n_models)`` float64 $ per prompt, NaN where unknown (or no costs at all)."""
    rows = _as_examples(examples)
    out = np.full((len(rows), len(models)), np.nan, dtype=np.float64)
    for i, ex in enumerate(rows):
        if ex.costs is None:
            continue
        for j, model in enumerate(models):
            value = ex.costs.get(model)
            if value is not None:
                out[i, j] = value
    return out
