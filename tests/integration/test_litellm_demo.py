"""``scripts/demo-litellm.sh`` end to end, as a newcomer runs it: a real sidecar on its default
bundle and a real LiteLLM proxy from ``client_stub/examples/litellm_config.yaml``, with this
LiteLLM lane's proxy (``ROUTEIQ_DEMO_LITELLM_VENV``): 1.94.0 and 1.108.7 in scripts/test.sh; the
"core" lane (1.110.2) has no proxy and skips.

The easy request must be served by the cheap deployment and the hard one by the strong one,
each with a RouteIQ decision id, and the script must stop both processes and clean up.
The demo's hard prompt is a multi-part one on purpose (see the script): the shipped difficulty
head leans on prompt length, so a one-line proof scores near the switch between models.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.litellm_support import ROOT

DEMO = ROOT / "scripts" / "demo-litellm.sh"
SERVED = re.compile(r"^(easy|hard) -> served by (\S+)  \(RouteIQ decision_id=([0-9a-f]{32})\)$",
                    re.MULTILINE)
PID = re.compile(r"\(pid (\d+)\)")


def lane_venv() -> Path:
    """This lane's venv, with the LiteLLM proxy installed (else the test skips)."""
    venv = Path(sys.executable).parent.parent
    if shutil.which("litellm", path=str(venv / "bin")) is None:
        pytest.skip("the LiteLLM proxy is not installed in this venv: pip install 'litellm[proxy]'")
    try:
        import litellm.proxy.proxy_server  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"the LiteLLM proxy is not installed ({exc})")
    return venv


def test_the_demo_routes_easy_to_cheap_and_hard_to_strong(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROUTEIQ_LITELLM_")}
    # The sidecar: ROUTEIQ_SIDECAR_PYTHON when the lane sets it, else the demo's .venv.
    env.update(ROUTEIQ_DEMO_LITELLM_VENV=str(lane_venv()), TMPDIR=str(tmp_path))
    done = subprocess.run(["bash", str(DEMO)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=900)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    served = {label: (deployment, decision) for label, deployment, decision in SERVED.findall(out)}
    assert served.keys() == {"easy", "hard"}, out
    assert served["easy"][0] == "cheap", out
    assert served["hard"][0] == "strong", out
    assert served["easy"][1] != served["hard"][1]
    assert "answer: answered by gpt-4o-mini" in out and "answer: answered by gpt-4o\n" in out
    # Both processes stopped, the work folder removed.
    assert "demo: stopped the proxy and the sidecar" in out, out
    pids = [int(p) for p in PID.findall(out)]
    assert len(pids) == 2, out
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert list(tmp_path.glob("routeiq-demo.*")) == []
