"""Bundle manifests: sha256 of every file, written at build and checked at every load."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from routeiq_sidecar.errors import BundleError

MANIFEST = "manifest.json"
FORMAT = 1


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_table(folder: Path) -> dict[str, dict[str, Any]]:
    """Every file of the folder except the manifest, with its hash and size."""
    table: dict[str, dict[str, Any]] = {}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if p.is_file() and rel != MANIFEST:
            table[rel] = {"sha256": sha256_file(p), "size": p.stat().st_size}
    return table


def content_version(files: dict[str, dict[str, Any]]) -> str:
    """A short id of the bundle's content (stable across rebuilds of identical files)."""
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(f"{name}:{files[name]['sha256']}\n".encode())
    return h.hexdigest()[:12]


def write_manifest(folder: Path, meta: dict[str, Any]) -> dict[str, Any]:
    files = file_table(folder)
    manifest = {"format": FORMAT, **meta, "files": files}
    manifest.setdefault("version", content_version(files))
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    if not folder.is_dir():
        raise BundleError(f"bundle {folder}: not a folder")
    if not path.is_file():
        raise BundleError(f"bundle {folder}: {MANIFEST} is missing")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BundleError(f"bundle {folder}: {MANIFEST} is not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise BundleError(f"bundle {folder}: {MANIFEST} has no 'files' table")
    if manifest.get("format") != FORMAT:
        raise BundleError(f"bundle {folder}: unsupported format {manifest.get('format')!r}")
    for key in ("name", "version", "encoder"):
        if key not in manifest:
            raise BundleError(f"bundle {folder}: {MANIFEST} lacks '{key}'")
    return manifest


def verify(folder: Path) -> dict[str, Any]:
    """Check every listed file's hash and that no unlisted file was added; return the manifest."""
    manifest = read_manifest(folder)
    listed: dict[str, Any] = manifest["files"]
    for name, entry in sorted(listed.items()):
        path = folder / name
        if ".." in Path(name).parts or Path(name).is_absolute():
            raise BundleError(f"bundle {folder}: manifest lists an unsafe path {name!r}")
        if not path.is_file():
            raise BundleError(f"bundle {folder}: file {name} is missing")
        if not isinstance(entry, dict):
            raise BundleError(f"bundle {folder}: manifest entry of {name} is not a mapping")
        digest = sha256_file(path)
        if digest != entry.get("sha256"):
            raise BundleError(
                f"bundle {folder}: file {name} does not match the manifest "
                f"(sha256 {digest[:12]}..., expected {str(entry.get('sha256'))[:12]}...): "
                "the bundle was modified or corrupted"
            )
    extra = sorted(set(file_table(folder)) - set(listed))
    if extra:
        raise BundleError(f"bundle {folder}: files not in the manifest: {', '.join(extra)}")
    return manifest
