"""Markdown of a category-head training record (scripts/train_category_head.py) or of a
bundle's measurement (bench/categories.py): summary table, per-class figures, confusion
matrices, per-task accuracy of the measured files."""

from __future__ import annotations

from typing import Any

from routeiq_sidecar.training.category_eval import groups_markdown, markdown

TRAINED = "trained head"
CENTROIDS = "prototype centroids"


def summary_rows(record: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """``(rows, classifier, report)`` for every measured set in ``record``."""
    out = []
    served = TRAINED if record.get("category_source", "trained") == "trained" else CENTROIDS
    for name, key in ((served, "held_out"), (CENTROIDS, "held_out_prototype_centroids")):
        for part, label in (("data", "held-out split: file rows"),
                            ("prototypes", "held-out split: prototype prompts")):
            rep = record.get(key, {}).get(part)
            if rep:
                out.append((label, name, rep))
    for stem, m in record.get("measured_files", {}).items():
        out.append((f"{stem} (never trained on)", served, m["trained"]))
        out.append((f"{stem} (never trained on)", CENTROIDS, m["prototype_centroids"]))
    return out


def render(record: dict[str, Any]) -> str:
    lines = ["| rows | classifier | n | accuracy | balanced accuracy |",
             "|---|---|---:|---:|---:|"]
    for label, name, rep in summary_rows(record):
        lines.append(f"| {label} | {name} | {rep['n']} | {rep['accuracy']:.3f} "
                     f"| {rep['balanced_accuracy']:.3f} |")
    if "kind" in record:
        lines += ["", f"Picked: `{record['kind']}` {record['params']} "
                      f"(by {record['selection']['metric']})."]
    served = TRAINED if record.get("category_source", "trained") == "trained" else CENTROIDS
    held = record.get("held_out", {})
    for part, title in (("data", f"Held-out split, file rows ({served})"),
                        ("prototypes", f"Held-out split, prototype prompts ({served})")):
        if part in held:
            lines += ["", markdown(held[part], title)]
    for stem, m in record.get("measured_files", {}).items():
        lines += ["", markdown(m["trained"], f"{stem}, never trained on ({served})"),
                  "", f"Per task ({stem}):", "", groups_markdown(m["trained"])]
    if "data" in held:
        lines += ["", "Per task (held-out split, file rows):", "", groups_markdown(held["data"])]
    return "\n".join(lines)
