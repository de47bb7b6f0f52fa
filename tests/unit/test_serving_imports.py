"""Serving never imports the exporter: ``onnx`` (and export/) stay out of a serving process.

Each check runs in a fresh interpreter, since this test process has long imported everything.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

REPORT = (
    "import sys; "
    "print(sorted(m for m in sys.modules if m == 'onnx' or m.startswith(('onnx.', "
    "'routeiq_sidecar.export', 'routeiq_sidecar.training'))))"
)


def imported_after(code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\n{REPORT}"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return out.stdout.strip().splitlines()[-1]


def test_importing_the_app_and_the_cli_does_not_import_onnx() -> None:
    assert imported_after("import routeiq_sidecar.app, routeiq_sidecar.cli") == "[]"


def test_loading_a_bundle_and_its_strategies_does_not_import_onnx(tiny_bundle_path: Path) -> None:
    code = (
        "from routeiq_sidecar.bundle.loader import load_bundle\n"
        "from routeiq_sidecar.strategies.registry import build_strategies\n"
        f"build_strategies(load_bundle({str(tiny_bundle_path)!r}))"
    )
    assert imported_after(code) == "[]"


def test_building_the_parser_does_not_import_onnx_or_training() -> None:
    code = "from routeiq_sidecar.cli import build_parser\nbuild_parser(load=())"
    assert imported_after(code) == "[]"


def test_help_and_serve_help_do_not_import_onnx_or_training() -> None:
    """`routeiq-sidecar --help` and `serve --help` as main() runs them (argparse exits)."""
    for argv in (["--help"], ["serve", "--help"], ["bundle", "--help"]):
        code = (
            "import contextlib, io\nfrom routeiq_sidecar.cli import main\n"
            f"with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
            f"    main({argv!r})"
        )
        assert imported_after(code) == "[]", argv


def test_the_command_list_names_every_lazy_command_with_its_own_help_line() -> None:
    """The placeholders of `--help` say what the real parsers say."""
    from routeiq_sidecar.cli import LAZY_COMMANDS, build_parser

    def lines(load: tuple[str, ...] | None) -> dict[str, str]:
        sub = build_parser(load=load)._subparsers
        assert sub is not None
        (action,) = sub._group_actions
        return {a.dest: str(a.help) for a in action._choices_actions}  # type: ignore[attr-defined]

    real, listed = lines(None), lines(())
    assert real == listed
    assert set(LAZY_COMMANDS) <= set(listed)
