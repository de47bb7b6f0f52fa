"""Plain-text tables of the command line (eval, bench): aligned, numbers right, gaps as '-'."""

from __future__ import annotations

from routeiq_sidecar.loadtest.commands import bench_text
from routeiq_sidecar.tables import table


def test_columns_align_numbers_right_and_text_left() -> None:
    text = table(["name", "value"], [["knn", 0.71234], ["(random)", None], ["ensemble", 12]])
    lines = text.splitlines()
    assert lines == [
        "name       value",
        "--------  ------",
        "knn       0.7123",
        "(random)       -",
        "ensemble      12",
    ]


def test_bench_prints_a_row_per_level_and_the_failed_statuses() -> None:
    results = [
        {"transport": "rest", "concurrency": 1, "ok": 10, "errors": 0, "p50_ms": 1.5,
         "p99_ms": 3.25, "mean_ms": 1.7, "server_p50_ms": 0.9, "throughput_rps": 600.0,
         "statuses": {"ok": 10}},
        {"transport": "grpc", "concurrency": 8, "ok": 9, "errors": 1, "p50_ms": 2.0,
         "p99_ms": 9.0, "mean_ms": 2.2, "server_p50_ms": 1.0, "throughput_rps": 1500.5,
         "statuses": {"ok": 9, "RESOURCE_EXHAUSTED": 1}},
    ]  # fmt: skip
    lines = bench_text(results).splitlines()
    assert lines[0].split()[:4] == ["transport", "conc.", "ok", "errors"]
    assert lines[2].split() == ["rest", "1", "10", "0", "1.5", "3.25", "1.7", "0.9", "600"]
    assert lines[3].split()[:4] == ["grpc", "8", "9", "1"]
    assert lines[4] == "grpc x8: statuses {'RESOURCE_EXHAUSTED': 1}"
