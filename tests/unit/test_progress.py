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


def test_lines_carry_rate_and_eta_while_work_remains() -> None:
    out = io.StringIO()
    for _ in prog.log_lines(range(4), desc="embedding", unit="batch", total=None, out=out,
                            interval=0.0):
        pass
    lines = out.getvalue().splitlines()
    middle = lines[1]  # after 1 of 4: a rate and an ETA
    assert middle.startswith("[progress] embedding: 1/4 batch (25%), ")
    assert " batch/s, ETA " in middle
    assert " batch/s" in lines[-1] and "ETA" not in lines[-1]  # done: no ETA


def test_durations_read_as_seconds_minutes_hours() -> None:
    assert [prog._duration(s) for s in (4.4, 75, 3725)] == ["4s", "1m15s", "1h02m"]


def test_stage_writes_start_heartbeats_and_duration() -> None:
    import threading

    out = io.StringIO()
    beat = threading.Event()

    class Watched(io.StringIO):
        def write(self, s: str) -> int:
            if "running" in s:
                beat.set()
            return out.write(s)

    with prog.stage("bundle: export", out=Watched(), interval=0.01):
        assert beat.wait(10), "no heartbeat while the stage ran"
    lines = out.getvalue().splitlines()
    assert lines[0] == "[progress] bundle: export: started"
    assert any(line.startswith("[progress] bundle: export: running, ") for line in lines)
    assert lines[-1].startswith("[progress] bundle: export: done in ")
