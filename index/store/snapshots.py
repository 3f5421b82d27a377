"""Versioned index snapshots on disk, and the pointer that says which one is live.

Layout under the index folder::

    CURRENT                  name of the live version (replaced atomically with os.replace)
    v20261129T065700123/     one version: vectors.faiss, files learnt with it, and meta.json (model,
                             seq, count, the sha256 of every other file of the version)
    .tmp-<version>-<pid>-<thread>/   a version being written by that process

A version is written in full under a temporary name, then renamed; only then does CURRENT move.
Readers therefore see either the old or the new version, never a half-written one. A version whose
files do not match their checksums, or cannot be read, is passed over for the newest older one.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, TypeVar

from .. import crash_points
from ..ann.faiss_index import VectorIndex
from ..errors import IndexCorrupt

log = logging.getLogger(__name__)

POINTER = "CURRENT"
STALE_SECONDS = 3600  # a temporary this old was left by a process that died
VECTORS = "vectors.faiss"
META = "meta.json"
# A temporary's name ends with the id of the process writing it (see `_stage` and `_point_to`).
_WRITER_PID = re.compile(r"^\.(?:tmp-v[0-9T]+|" + POINTER + r"\.tmp)-(\d+)-\d+$")
Extras = TypeVar("Extras")


@dataclass(frozen=True)
class SnapshotMeta:
    """What a snapshot holds: built with which model, up to which change of the store."""

    version: str
    model: str
    dim: int
    count: int
    seq: int
    built_at: str
    sha256: str  # of the vectors file (what versions written before `files` check)
    files: dict[str, str] = field(default_factory=dict)  # sha256 of every file of the version but meta.json


def _fsync_write(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


class _Hashing:
    """A binary file's `write` that also hashes what goes through it."""

    def __init__(self, out: BinaryIO) -> None:
        self.out, self.sha256 = out, hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        return self.out.write(data)


def _write_index(path: Path, index: VectorIndex) -> str:
    """Write `index` to `path`, flushed to disk; returns the file's sha256, computed on the way."""
    with open(path, "wb") as f:
        hashing = _Hashing(f)
        index.write(hashing)
        f.flush()
        os.fsync(f.fileno())
    return hashing.sha256.hexdigest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 24):
            digest.update(chunk)
    return digest.hexdigest()


def _new_version_name() -> str:
    return "v" + datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")


def write_snapshot(root: Path, index: VectorIndex, model: str, seq: int,
                   extras: dict[str, bytes] | None = None) -> SnapshotMeta:
    """Write `index` as a new version under `root`, with files learnt with it (`extras`, by name),
    and make it the live one. The index goes straight to its file, hashed on the way (at a million
    articles it is over a gigabyte: never a second copy in memory)."""
    version = _new_version_name()
    meta = SnapshotMeta(
        version=version,
        model=model,
        dim=index.dim,
        count=len(index),
        seq=seq,
        built_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        sha256="",
    )

    def write(folder: Path) -> None:
        nonlocal meta
        vectors_sum = _write_index(folder / VECTORS, index)
        sums = {VECTORS: vectors_sum, **{name: hashlib.sha256(data).hexdigest() for name, data in (extras or {}).items()}}
        meta = replace(meta, sha256=vectors_sum, files=sums)
        for name, data in {META: json.dumps(asdict(meta), indent=1).encode(), **(extras or {})}.items():
            _fsync_write(folder / name, data)

    _stage(root, version, write)
    crash_points.reached("rebuild:written")
    _point_to(root, version)
    return meta


def install(root: Path, version: str, files: dict[str, bytes]) -> None:
    """Make a version another machine built (`pg_versions.SharedVersions`) the live one under `root`,
    writing its files first unless the folder has it."""
    if not files and not (root / version).exists():
        raise IndexCorrupt(f"index version {version} is gone from {root}")

    def write(folder: Path) -> None:
        for name, data in files.items():
            _fsync_write(folder / name, data)

    _stage(root, version, write)
    _point_to(root, version)


def _stage(root: Path, version: str, write: Callable[[Path], None]) -> None:
    """Write a version's files under `root` (`write` fills a folder), in full under a temporary name,
    then renamed (nothing when the folder has it already)."""
    root.mkdir(parents=True, exist_ok=True)
    if not (root / version).exists():
        staging = root / f".tmp-{version}-{os.getpid()}-{threading.get_ident()}"
        staging.mkdir()
        try:
            write(staging)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        try:
            os.rename(staging, root / version)
        except OSError:  # another process of this folder copied the same version first
            shutil.rmtree(staging, ignore_errors=True)
            if not (root / version).is_dir():
                raise


def _point_to(root: Path, version: str) -> None:
    """Make `version` the live one (the pointer replaced atomically)."""
    pointer_tmp = root / f".{POINTER}.tmp-{os.getpid()}-{threading.get_ident()}"
    _fsync_write(pointer_tmp, version.encode())
    os.replace(pointer_tmp, root / POINTER)


def version_files(root: Path, version: str) -> dict[str, bytes]:
    """Every file of one version on disk, by name."""
    return {p.name: p.read_bytes() for p in sorted((root / version).iterdir()) if p.is_file()}


def current_version(root: Path) -> str | None:
    """The name of the live version, or None when nothing was ever built."""
    try:
        return (root / POINTER).read_text().strip() or None
    except FileNotFoundError:
        return None


def read_meta(root: Path, version: str) -> SnapshotMeta | None:
    """The metadata of one version, or None when it cannot be read."""
    try:
        return SnapshotMeta(**json.loads((root / version / META).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def read_extra(root: Path, version: str, name: str) -> bytes | None:
    """A file written with a version (see `write_snapshot`), or None."""
    try:
        return (root / version / name).read_bytes()
    except OSError:
        return None


def read_snapshot(root: Path, version: str) -> tuple[SnapshotMeta, VectorIndex]:
    """Load one version, checking the checksum of every file its metadata lists (only the vectors'
    for a version written before it listed them); raises IndexCorrupt with the reason. The vectors
    file is read twice (hashed, then loaded in pieces), never held whole beside the index it makes."""
    folder = root / version
    try:
        meta = SnapshotMeta(**json.loads((folder / META).read_text()))
        sums = {**meta.files, VECTORS: meta.sha256}
        digests = {name: _file_sha256(folder / name) for name in sums}
    except (OSError, ValueError, TypeError) as exc:
        raise IndexCorrupt(f"index version {version} cannot be read: {exc}")
    for name, expected in sums.items():
        if digests[name] != expected:
            raise IndexCorrupt(f"index version {version} is damaged: {name} does not match its checksum")
    try:
        with open(folder / VECTORS, "rb") as f:
            index = VectorIndex.read(f)
    except (OSError, RuntimeError, ValueError, KeyError) as exc:
        raise IndexCorrupt(f"index version {version} cannot be loaded: {exc}")
    if len(index) != meta.count or index.dim != meta.dim:
        raise IndexCorrupt(f"index version {version} holds {len(index)} vectors, its metadata says {meta.count}")
    return meta, index


def versions(root: Path) -> list[str]:
    """Complete versions on disk, oldest first."""
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and p.name.startswith("v"))


def load_live(root: Path) -> tuple[SnapshotMeta, VectorIndex] | None:
    """The live version, or the newest older one that loads if the live one is damaged."""
    loaded = load_live_with(root, lambda meta: None)
    return (loaded[0], loaded[1]) if loaded is not None else None


def load_live_with(root: Path, read_extras: Callable[[SnapshotMeta], Extras]
                   ) -> tuple[SnapshotMeta, VectorIndex, Extras] | None:
    """The live version and what `read_extras` makes of its other files, or the newest older version
    for which both succeed: `read_extras` raises IndexCorrupt for a file it cannot read or parse."""
    live = current_version(root)
    if live is None:
        return None
    candidates = [live] + [v for v in reversed(versions(root)) if v != live]
    errors = []
    for version in candidates:
        try:
            meta, index = read_snapshot(root, version)
            extras = read_extras(meta)
        except IndexCorrupt as exc:
            errors.append(exc.message)
            log.error("%s", exc.message)
            continue
        if version != live:
            log.warning("serving index version %s instead of the damaged live version %s", version, live)
        return meta, index, extras
    raise IndexCorrupt("no index version can be loaded (" + "; ".join(errors) + "); run `python -m service rebuild`")


def prune(root: Path, keep: int, also_keep: set[str] = frozenset()) -> list[str]:
    """Remove all but the newest `keep` versions (never the live one, nor those in `also_keep`) and
    temporaries left by a process that died (older than STALE_SECONDS: another may be writing one)."""
    live = current_version(root)
    removed = []
    for version in versions(root)[:-keep] if keep > 0 else versions(root):
        if version != live and version not in also_keep:
            shutil.rmtree(root / version, ignore_errors=True)
            removed.append(version)
    for stale in [*root.glob(".tmp-*"), *root.glob(f".{POINTER}.tmp-*")]:
        if time.time() - stale.stat().st_mtime > STALE_SECONDS:
            _remove(stale)
    return removed


def remove_dead_temporaries(root: Path) -> list[str]:
    """Remove the temporaries (a version's folder, a pointer's file) of processes that are no longer
    running: a write that was killed, or failed on a full disk, must not keep the disk full until the
    hour of `prune` is up. Returns their names. A process of another user counts as running."""
    removed = []
    for path in root.glob(".*tmp-*") if root.is_dir() else []:
        match = _WRITER_PID.match(path.name)
        if match and not _running(int(match.group(1))):
            _remove(path)
            removed.append(path.name)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
