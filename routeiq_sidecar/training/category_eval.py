"""Category accuracy: overall, balanced, per class (precision / recall / F1), per group, and
the confusion matrix; as a dict (JSON) and as Markdown tables (docs/benchmarks.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n: int) -> np.ndarray:
    """``(n, n)`` counts: row = true category, column = predicted."""
    m = np.zeros((n, n), np.int64)
    np.add.at(m, (np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)), 1)
    return m


def report(y_true: np.ndarray, y_pred: np.ndarray, categories: Sequence[str],
           groups: Sequence[str] | None = None) -> dict[str, Any]:
    y_true = np.asarray(y_true, np.int64)
    y_pred = np.asarray(y_pred, np.int64)
    cm = confusion(y_true, y_pred, len(categories))
    support = cm.sum(1)
    predicted = cm.sum(0)
    tp = np.diag(cm)
    per_class = {}
    for i, c in enumerate(categories):
        p = tp[i] / predicted[i] if predicted[i] else 0.0
        r = tp[i] / support[i] if support[i] else 0.0
        per_class[c] = {"precision": round(float(p), 4), "recall": round(float(r), 4),
                        "f1": round(float(2 * p * r / (p + r)) if p + r else 0.0, 4),
                        "support": int(support[i]), "predicted": int(predicted[i])}
    present = support > 0
    out: dict[str, Any] = {
        "n": len(y_true),
        "accuracy": round(float(tp.sum() / max(1, len(y_true))), 4),
        "balanced_accuracy": round(float((tp[present] / support[present]).mean()), 4)
        if present.any() else 0.0,
        "per_class": per_class,
        "categories": list(categories),
        "confusion": cm.tolist(),
    }
    if groups is not None:
        by: dict[str, dict[str, Any]] = {}
        for g in sorted(set(groups)):
            rows = np.asarray([x == g for x in groups])
            top = np.bincount(y_pred[rows], minlength=len(categories))
            by[g] = {"n": int(rows.sum()), "category": categories[int(y_true[rows][0])],
                     "accuracy": round(float((y_pred[rows] == y_true[rows]).mean()), 4),
                     "most_predicted": categories[int(top.argmax())]}
        out["groups"] = by
    return out


def markdown(rep: dict[str, Any], title: str = "") -> str:
    """Per-class table then the confusion matrix, as Markdown."""
    cats = rep["categories"]
    short = [c[:12] for c in cats]
    lines = [f"**{title}**: " if title else "",
             f"accuracy {rep['accuracy']:.3f}, balanced accuracy "
             f"{rep['balanced_accuracy']:.3f}, n = {rep['n']}", "",
             "| category | precision | recall | F1 | support | predicted |",
             "|---|---:|---:|---:|---:|---:|"]
    for c in cats:
        pc = rep["per_class"][c]
        if pc["support"] or pc["predicted"]:
            lines.append(f"| {c} | {pc['precision']:.3f} | {pc['recall']:.3f} | {pc['f1']:.3f} "
                         f"| {pc['support']} | {pc['predicted']} |")
    lines += ["", "Confusion matrix (rows: true, columns: predicted):", "",
              "| true \\ predicted | " + " | ".join(short) + " |",
              "|---|" + "---:|" * len(cats)]
    for c, row in zip(cats, rep["confusion"], strict=True):
        if sum(row):
            lines.append(f"| {c} | " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines).lstrip("\n")


def groups_markdown(rep: dict[str, Any]) -> str:
    lines = ["| task | n | mapped to | accuracy | most predicted |", "|---|---:|---|---:|---|"]
    for g, r in rep.get("groups", {}).items():
        lines.append(f"| {g} | {r['n']} | {r['category']} | {r['accuracy']:.3f} "
                     f"| {r['most_predicted']} |")
    return "\n".join(lines)
