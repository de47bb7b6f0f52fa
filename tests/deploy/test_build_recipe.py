"""The image's build recipe, run for real without a Docker engine.

The build context the Dockerfile's build stage copies (its COPY lines, less .dockerignore) goes
to a temp folder, scripts/docker-build-steps.sh installs it into a fresh venv and builds the
default bundle there (pip's cache makes the install quick), and then the runtime stage's
ENV, ENTRYPOINT, CMD and HEALTHCHECK run against it: as root in CI, inside a private mount
namespace whose root filesystem is read-only with a fresh tmpfs on /tmp, as Kubernetes runs
the pod (readOnlyRootFilesystem + an emptyDir on /tmp). Where that namespace cannot be made
(not root, no unshare), the same start runs without it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import CHEAP, STRONG
from tests.deploy.test_dockerfile import (
    ROOT,
    Stage,
    dockerignore_patterns,
    dockerignored,
    healthcheck_command,
    parse_dockerfile,
)
from tests.process_support import LISTENING

pytestmark = pytest.mark.slow

IMAGE_PREFIX = "/opt/routeiq"
# Shared libraries a python:3.11-slim-bookworm image has: glibc (libc6), libgcc-s1, libstdc++6
# and zlib1g are all in Debian's required set, which the slim image keeps.
SLIM_SYSTEM_LIBS = {
    "libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "libutil.so.1",
    "libresolv.so.2", "libcrypt.so.1", "libgcc_s.so.1", "libstdc++.so.6", "libz.so.1",
}  # fmt: skip
READ_ONLY_ROOT = (
    "mount -o remount,bind,ro / && mount -t tmpfs -o size=256m,mode=1777 tmpfs /tmp "
    '&& cd /tmp && exec "$@"'
)


@dataclass
class Recipe:
    src: Path
    prefix: Path
    build: Stage
    runtime: Stage


def _copy_build_context(dest: Path, build: Stage) -> None:
    """What the build stage's `COPY <src>... <dst>` lines put under its WORKDIR (Docker's
    rules: a folder's contents go into <dst>; a file goes into <dst> when it ends in /),
    less what .dockerignore leaves out of the context."""
    patterns = dockerignore_patterns()
    for arg in build.args("COPY"):
        *sources, target = arg.split()
        into_dir = target.endswith("/") or len(sources) > 1
        for source in sources:
            here = ROOT / source
            if here.is_file():
                to = dest / target / here.name if into_dir else dest / target
                to.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(here, to)
                continue
            for path in here.rglob("*"):
                rel = path.relative_to(ROOT).as_posix()
                if path.is_dir() or dockerignored(rel, patterns):
                    continue
                out = dest / target / path.relative_to(here)
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, out)


def _recipe_run(build: Stage) -> tuple[str, str]:
    """The build stage's RUN of the recipe: (script path, prefix argument)."""
    (run,) = [a for a in build.args("RUN") if "docker-build-steps.sh" in a]
    m = re.search(r"bash (\S+docker-build-steps\.sh) (\S+)", run)
    assert m, run
    return m.group(1), m.group(2)


@pytest.fixture(scope="module")
def recipe() -> Iterator[Recipe]:
    stages = parse_dockerfile()
    build, runtime = stages[0], stages[-1]
    script, prefix_arg = _recipe_run(build)
    assert prefix_arg == IMAGE_PREFIX
    # outside /tmp, which the read-only run covers with a fresh tmpfs
    base = "/var/tmp" if os.access("/var/tmp", os.W_OK) else None
    root = Path(tempfile.mkdtemp(prefix="routeiq-recipe-", dir=base))
    try:
        src, prefix = root / "src", root / "opt-routeiq"
        _copy_build_context(src, build)
        env = {**os.environ, **build.env(), "PYTHON": sys.executable}
        out = subprocess.run(
            ["bash", str(src / script), str(prefix)],
            cwd=src, env=env, capture_output=True, text=True, timeout=1800,
        )  # fmt: skip
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
        yield Recipe(src, prefix, build, runtime)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def image_env(r: Recipe) -> dict[str, str]:
    """The runtime stage's ENV with /opt/routeiq at the recipe's prefix."""
    env = {k: v.replace(IMAGE_PREFIX, str(r.prefix)) for k, v in r.runtime.env().items()}
    env["PATH"] = env["PATH"].replace("$PATH", os.environ.get("PATH", "/usr/bin:/bin"))
    return env


def host_env(r: Recipe) -> dict[str, str]:
    """This machine's environment with the image's ENV on top (and no PYTHONPATH)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return {**env, **image_env(r)}


def venv_python(r: Recipe, code: str) -> str:
    out = subprocess.run(
        [str(r.prefix / "venv" / "bin" / "python"), "-c", code],
        capture_output=True, text=True, timeout=120, env=host_env(r), cwd=r.prefix,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_recipe_lays_out_the_image(recipe: Recipe) -> None:
    prefix, env = recipe.prefix, image_env(recipe)
    bundle, home = Path(env["ROUTEIQ_BUNDLE"]), Path(env["ROUTEIQ_HOME"])
    assert bundle.is_symlink() and not os.path.isabs(os.readlink(bundle))  # relocatable
    assert bundle.resolve().parent == (home / "bundles").resolve()
    assert bundle.resolve().name.startswith("default-")
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["name"] == "routeiq-default"
    verify = subprocess.run(
        [str(prefix / "venv" / "bin" / "routeiq-sidecar"), "bundle", "verify", str(bundle)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert verify.returncode == 0, verify.stderr
    # installed, not linked to the source tree; no torch
    location = venv_python(recipe, "import routeiq_sidecar; print(routeiq_sidecar.__file__)")
    assert Path(location).is_relative_to(prefix / "venv")
    assert venv_python(recipe, "import importlib.util as u; print(u.find_spec('torch'))") == "None"
    # the OTLP exporter imports: nothing installed over opentelemetry-proto's files
    code = (
        "import importlib, importlib.metadata as md\n"
        "try:\n    md.distribution('opentelemetry-exporter-otlp-proto-grpc')\n"
        "except md.PackageNotFoundError:\n    pass\n"
        "else:\n"
        "    importlib.import_module('opentelemetry.exporter.otlp.proto.grpc.trace_exporter')\n"
    )
    venv_python(recipe, code)
    stub = recipe.src / "client_stub" / "routeiq_litellm"
    assert (prefix / "litellm-stub" / "routeiq_litellm" / "__init__.py").is_file() == stub.is_dir()
    assert not (home / "bundles" / ".lock").exists()


def test_everything_is_readable_by_the_image_user(recipe: Recipe) -> None:
    """Built as root, run as uid 10001: every file readable, every folder enterable."""
    for path in [recipe.prefix, *recipe.prefix.rglob("*")]:
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            continue
        assert mode & stat.S_IROTH, f"{path} is not world-readable"
        if stat.S_ISDIR(mode):
            assert mode & stat.S_IXOTH, f"{path} is not world-enterable"


def test_slim_runtime_has_the_shared_libraries(recipe: Recipe) -> None:
    if shutil.which("ldd") is None:
        pytest.skip("ldd absent")
    outside: dict[str, set[str]] = {}
    for lib in (recipe.prefix / "venv").rglob("*.so*"):
        if not lib.is_file():
            continue
        out = subprocess.run(["ldd", str(lib)], capture_output=True, text=True, timeout=60)
        for line in out.stdout.splitlines():
            name, arrow, where = line.strip().partition(" => ")
            if not arrow:
                continue
            if "not found" in where:
                outside.setdefault(name, set()).add(f"{lib.name}: not found")
            elif not where.startswith(str(recipe.prefix)):
                outside.setdefault(name, set()).add(lib.name)
    extra = {k: v for k, v in outside.items() if k not in SLIM_SYSTEM_LIBS}
    assert not extra, f"system libraries a slim image lacks: {extra}"


def _read_only_root_available() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", READ_ONLY_ROOT, "sh",
         "sh", "-c", "! touch /var/tmp/.routeiq-ro-probe 2>/dev/null && touch /tmp/ok"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    return probe.returncode == 0


def _wait_listening(proc: subprocess.Popen[str], lines: list[str]) -> tuple[int, int]:
    assert proc.stderr is not None
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            if proc.poll() is not None:
                raise AssertionError(f"serve exited {proc.returncode}: {''.join(lines)[-4000:]}")
            continue
        lines.append(line)
        m = LISTENING.search(line)
        if m:
            return int(m.group(2)), int(m.group(4))
    proc.kill()
    raise AssertionError(f"serve did not start: {''.join(lines)[-4000:]}")


def test_image_start_serves_from_a_read_only_root(recipe: Recipe) -> None:
    runtime = recipe.runtime
    entrypoint = json.loads(runtime.args("ENTRYPOINT")[0]) + json.loads(runtime.args("CMD")[0])
    env = host_env(recipe)
    # Port 0 and loopback here (the image binds 0.0.0.0:8080/50051); workers as in the image.
    env.update(
        ROUTEIQ_HTTP_HOST="127.0.0.1", ROUTEIQ_GRPC_HOST="127.0.0.1",
        ROUTEIQ_HTTP_PORT="0", ROUTEIQ_GRPC_PORT="0",
    )  # fmt: skip
    cmd = [shutil.which(entrypoint[0], path=env["PATH"]) or entrypoint[0], *entrypoint[1:]]
    assert Path(cmd[0]).is_relative_to(recipe.prefix), cmd[0]
    read_only = _read_only_root_available()
    if read_only:
        cmd = ["unshare", "--mount", "--propagation", "private", "sh", "-c", READ_ONLY_ROOT, "sh",
               *cmd]  # fmt: skip
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        cwd="/" if read_only else tempfile.gettempdir(),
    )  # fmt: skip
    lines: list[str] = []
    try:
        http_port, _ = _wait_listening(proc, lines)
        base = f"http://127.0.0.1:{http_port}"
        assert httpx.get(f"{base}/readyz", timeout=30).status_code == 200
        r = httpx.post(f"{base}/v1/route", json={"prompt": "hi", "candidates": [CHEAP, STRONG]},
                       timeout=60)  # fmt: skip
        assert r.status_code == 200, r.text
        manifest = json.loads(
            (Path(image_env(recipe)["ROUTEIQ_BUNDLE"]) / "manifest.json").read_text()
        )
        assert r.json()["bundle_version"] == manifest["version"]
        assert r.json()["strategy"] == manifest["default_strategy"] == "difficulty"
        # the image's HEALTHCHECK, as Docker would run it inside the container
        check = healthcheck_command(runtime)
        hc_env = {**env, "ROUTEIQ_HTTP_PORT": str(http_port)}
        hc = subprocess.run(
            [shutil.which(check[0], path=env["PATH"]) or check[0], *check[1:]],
            env=hc_env, capture_output=True, text=True, timeout=30, cwd=tempfile.gettempdir(),
        )  # fmt: skip
        assert hc.returncode == 0, hc.stderr
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(120) == 0, "".join(lines)[-4000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
        assert proc.stderr is not None
        proc.stderr.close()
    log = "".join(lines)
    assert "Read-only file system" not in log and "Traceback" not in log, log[-4000:]
