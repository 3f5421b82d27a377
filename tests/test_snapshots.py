import os
import time

import numpy as np
import pytest

from index.ann.faiss_index import VectorIndex
from index.embedding.models import normalize_rows
from index.errors import IndexCorrupt
from index.store import snapshots


def build(n: int) -> VectorIndex:
    index = VectorIndex(8)
    index.upsert(list(range(n)), normalize_rows(np.random.RandomState(n).randn(n, 8)))
    return index


def test_write_then_load_live(tmp_path):
    meta = snapshots.write_snapshot(tmp_path, build(10), "m", seq=7)
    loaded_meta, index = snapshots.load_live(tmp_path)
    assert loaded_meta == meta and len(index) == 10 and meta.seq == 7 and meta.model == "m"


def test_nothing_built_yet(tmp_path):
    assert snapshots.load_live(tmp_path / "none") is None


def test_damaged_live_version_falls_back_to_the_previous_one(tmp_path):
    first = snapshots.write_snapshot(tmp_path, build(10), "m", seq=1)
    second = snapshots.write_snapshot(tmp_path, build(20), "m", seq=2)
    data = (tmp_path / second.version / snapshots.VECTORS).read_bytes()
    (tmp_path / second.version / snapshots.VECTORS).write_bytes(data[: len(data) // 2])  # truncated
    with pytest.raises(IndexCorrupt, match="checksum"):
        snapshots.read_snapshot(tmp_path, second.version)
    meta, index = snapshots.load_live(tmp_path)
    assert meta.version == first.version and len(index) == 10


def test_no_loadable_version_is_a_clear_error(tmp_path):
    meta = snapshots.write_snapshot(tmp_path, build(5), "m", seq=1)
    (tmp_path / meta.version / snapshots.VECTORS).write_bytes(b"garbage")
    with pytest.raises(IndexCorrupt, match="rebuild"):
        snapshots.load_live(tmp_path)


def test_prune_keeps_the_newest_and_the_live(tmp_path):
    made = [snapshots.write_snapshot(tmp_path, build(3), "m", seq=i).version for i in range(5)]
    (tmp_path / ".tmp-vstale").mkdir()
    (tmp_path / ".tmp-vbeing-written").mkdir()  # another process is copying a version right now
    old = time.time() - snapshots.STALE_SECONDS - 1
    os.utime(tmp_path / ".tmp-vstale", (old, old))
    removed = snapshots.prune(tmp_path, keep=2)
    assert removed == made[:3]
    assert snapshots.versions(tmp_path) == made[3:]
    assert not (tmp_path / ".tmp-vstale").exists() and (tmp_path / ".tmp-vbeing-written").exists()
    assert snapshots.current_version(tmp_path) == made[-1]


def test_every_file_of_a_version_is_checked_and_a_damaged_one_falls_back(tmp_path):
    extras = {"frequencies.json.z": b"learnt words", "words.npz": b"article words"}
    first = snapshots.write_snapshot(tmp_path, build(10), "m", seq=1, extras=extras)
    second = snapshots.write_snapshot(tmp_path, build(20), "m", seq=2, extras=extras)
    assert set(second.files) == {snapshots.VECTORS, *extras}
    (tmp_path / second.version / "words.npz").write_bytes(b"article wordz")  # one byte changed
    with pytest.raises(IndexCorrupt, match="words.npz does not match its checksum"):
        snapshots.read_snapshot(tmp_path, second.version)
    meta, index = snapshots.load_live(tmp_path)
    assert meta.version == first.version and len(index) == 10
    (tmp_path / first.version / "frequencies.json.z").unlink()  # a listed file that is gone
    with pytest.raises(IndexCorrupt, match="cannot be read"):
        snapshots.read_snapshot(tmp_path, first.version)
