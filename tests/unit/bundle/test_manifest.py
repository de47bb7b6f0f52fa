"""Bundle manifests: every file hashed at build, checked at every load; tampering is refused."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from routeiq_sidecar.bundle.build import build_bundle
from routeiq_sidecar.bundle.loader import load_bundle
from routeiq_sidecar.bundle.manifest import MANIFEST, content_version, file_table, verify
from routeiq_sidecar.errors import BundleError, ErrorKind


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("manifest") / "tiny"
    build_bundle(path, encoder="tiny-random", name="manifest-test")
    return path


@pytest.fixture
def bundle(pristine: Path, tmp_path: Path) -> Path:
    """A private copy each test may tamper with."""
    path = tmp_path / "bundle"
    shutil.copytree(pristine, path)
    return path


def manifest_of(path: Path) -> dict:
    return json.loads((path / MANIFEST).read_text())


def rewrite_manifest(path: Path, manifest: dict) -> None:
    (path / MANIFEST).write_text(json.dumps(manifest))


def refused(path: Path) -> str:
    with pytest.raises(BundleError) as err:
        verify(path)
    assert err.value.kind is ErrorKind.BUNDLE_INVALID
    msg = str(err.value)
    assert msg.startswith(f"bundle {path}: "), msg
    return msg


def flip_one_byte(path: Path, offset: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    i = len(data) // 2 if offset is None else offset
    data[i] ^= 0x01
    path.write_bytes(bytes(data))


# --- a good bundle
def test_verify_passes(bundle: Path) -> None:
    m = verify(bundle)
    assert m["name"] == "manifest-test"
    assert m["format"] == 1
    assert {"static.npy", "centroids.static.npz"} <= set(m["files"])  # the static encoder too
    files = {p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()}
    assert set(m["files"]) == files - {MANIFEST}
    for name, entry in m["files"].items():
        assert entry["size"] == (bundle / name).stat().st_size
        assert len(entry["sha256"]) == 64
    assert m["version"] == content_version(m["files"])
    assert file_table(bundle) == m["files"]


def test_version_is_content_addressed(pristine: Path) -> None:
    files = manifest_of(pristine)["files"]
    changed = {**files, "encoder.onnx": {**files["encoder.onnx"], "sha256": "0" * 64}}
    assert content_version(files) == content_version(dict(reversed(list(files.items()))))
    assert content_version(files) != content_version(changed)
    assert len(content_version(files)) == 12


# --- tampering
@pytest.mark.parametrize(
    "name",
    ["encoder.onnx", "tokenizer.json", "centroids.npz", "static.npy", "centroids.static.npz"],
)
def test_flipped_byte_refused(bundle: Path, name: str) -> None:
    flip_one_byte(bundle / name)
    msg = refused(bundle)
    assert f"file {name} does not match the manifest" in msg
    assert "modified or corrupted" in msg


def test_deleted_file_refused(bundle: Path) -> None:
    (bundle / "tokenizer.json").unlink()
    assert "file tokenizer.json is missing" in refused(bundle)


def test_unlisted_file_refused(bundle: Path) -> None:
    (bundle / "notes.txt").write_text("hello")
    assert "files not in the manifest: notes.txt" in refused(bundle)


def test_unlisted_nested_file_refused(bundle: Path) -> None:
    (bundle / "extra").mkdir()
    (bundle / "extra" / "payload.bin").write_bytes(b"\x00")
    (bundle / "extra" / MANIFEST).write_text("{}")
    msg = refused(bundle)
    assert f"extra/{MANIFEST}" in msg and "extra/payload.bin" in msg


@pytest.mark.parametrize("bad", ["../outside.txt", "sub/../../outside.txt", "/etc/passwd"])
def test_unsafe_path_refused(bundle: Path, bad: str) -> None:
    (bundle.parent / "outside.txt").write_text("x")
    m = manifest_of(bundle)
    m["files"][bad] = {"sha256": "0" * 64, "size": 1}
    rewrite_manifest(bundle, m)
    msg = refused(bundle)
    assert f"unsafe path {bad!r}" in msg


def test_invalid_json_manifest_refused(bundle: Path) -> None:
    (bundle / MANIFEST).write_text('{"files": ')
    msg = refused(bundle)
    assert f"{MANIFEST} is not valid JSON" in msg


def test_missing_manifest_refused(bundle: Path) -> None:
    (bundle / MANIFEST).unlink()
    assert f"{MANIFEST} is missing" in refused(bundle)


def test_not_a_folder(tmp_path: Path) -> None:
    assert "not a folder" in refused(tmp_path / "nowhere")


@pytest.mark.parametrize(
    ("edit", "cause"),
    [
        (lambda m: m.pop("files"), "has no 'files' table"),
        (lambda m: m.update(files=["encoder.onnx"]), "has no 'files' table"),
        (lambda m: m.update(format=99), "unsupported format 99"),
        (lambda m: m.pop("name"), "lacks 'name'"),
        (lambda m: m.pop("encoder"), "lacks 'encoder'"),
        (
            lambda m: m["files"].update({"tokenizer.json": "abc"}),
            "manifest entry of tokenizer.json is not a mapping",
        ),
    ],
)
def test_malformed_manifest_refused(bundle: Path, edit: object, cause: str) -> None:
    m = manifest_of(bundle)
    edit(m)  # type: ignore[operator]
    rewrite_manifest(bundle, m)
    assert cause in refused(bundle)


def test_manifest_array_refused(bundle: Path) -> None:
    (bundle / MANIFEST).write_text("[]")
    assert "has no 'files' table" in refused(bundle)


def test_edited_manifest_hash_refused(bundle: Path) -> None:
    m = manifest_of(bundle)
    m["files"]["centroids.npz"]["sha256"] = "f" * 64
    rewrite_manifest(bundle, m)
    msg = refused(bundle)
    assert "file centroids.npz does not match the manifest" in msg
    assert "expected ffffffffffff" in msg


# --- loading
def test_load_bundle_verifies(bundle: Path) -> None:
    loaded = load_bundle(bundle)
    assert loaded.name == "manifest-test"
    assert loaded.version == manifest_of(bundle)["version"]
    flip_one_byte(bundle / "encoder.onnx")
    with pytest.raises(BundleError, match=r"file encoder\.onnx does not match the manifest"):
        load_bundle(bundle)


# --- command line
def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "routeiq_sidecar", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_verify(bundle: Path) -> None:
    ok = run_cli("bundle", "verify", str(bundle))
    assert ok.returncode == 0, ok.stderr
    out = json.loads(ok.stdout)
    assert out["ok"] is True and out["name"] == "manifest-test"

    flip_one_byte(bundle / "tokenizer.json")
    bad = run_cli("bundle", "verify", str(bundle))
    assert bad.returncode == 1
    assert bad.stdout == ""
    assert "file tokenizer.json does not match the manifest" in bad.stderr
    assert str(bundle) in bad.stderr
    assert "Traceback" not in bad.stderr
