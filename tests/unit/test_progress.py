"""progress: plain log lines when stderr is not a terminal (a long `train` is never silent)."""

from __future__ import annotations

import io

import pytest

from routeiq_sidecar import progress as prog


def test_log_lines_start_every_interval_and_end() -> None:
    out = io.StringIO()
    items = list(prog.log_lines(range(3), desc="embedding (fit)", unit="batch", total=None,
                                out=out, interval=0.0))
    assert items == [0, 1, 2]
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("[progress] embedding (fit): 0/3 batch (0%)")
    assert lines[-1].startswith("[progress] embedding (fit): 3/3 batch (100%)")
    assert len(lines) == 5  # start, one per item (interval 0), end


def test_log_lines_without_length_omit_the_share() -> None:
    out = io.StringIO()
    assert list(prog.log_lines(iter("ab"), desc="", unit="it", total=None, out=out,
                               interval=1e9)) == ["a", "b"]
    assert out.getvalue().splitlines() == [
        line for line in out.getvalue().splitlines() if line.startswith("[progress] working: ")
    ]
    assert out.getvalue().splitlines()[-1].startswith("[progress] working: 2 it,")


def test_progress_logs_when_stderr_is_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    assert list(prog.progress(range(4), desc="knn grid", unit="config")) == [0, 1, 2, 3]
    err = capsys.readouterr().err
    assert "[progress] knn grid: 0/4 config (0%)" in err
    assert "[progress] knn grid: 4/4 config (100%)" in err
