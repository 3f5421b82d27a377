"""A backfill embeds what the cache lacks: here, or on a real Ray cluster (a head and a worker node
on 127.0.0.1, started with `ray start` as operations would), with the same vectors either way."""
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from index.embedding.cache import EmbeddingCache, embed_key
from index.embedding.models import DEFAULT_MODEL
from index.text.prepare import DEFAULT_LEAD_WORDS, embedding_text

from .conftest import ROOT, clean_environ
from .test_server import free_port


def fresh_articles(sample_rows: list[dict], n: int) -> list[dict]:
    """Real articles with headlines no cache holds a vector for."""
    return [{**row, "id": f"backfill-{i}", "headline": f"{row['headline']} - {i}"} for i, row in enumerate(sample_rows[:n])]


def embed(data_dir: Path, source: Path, *args: str, env: dict | None = None) -> str:
    env = {**(env or clean_environ()), "DATA_DIR": str(data_dir)}
    done = subprocess.run([sys.executable, "-m", "service", "embed", str(source), *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def cached_vectors(data_dir: Path, articles: list[dict]) -> np.ndarray:
    cache = EmbeddingCache(data_dir / "embeddings.sqlite")
    keys = [embed_key(DEFAULT_MODEL, embedding_text(a["headline"], a["body"], DEFAULT_LEAD_WORDS)) for a in articles]
    found = cache.get_many(keys)
    cache.close()
    assert len(found) == len(keys)
    return np.stack([found[k] for k in keys])


@pytest.fixture
def source(tmp_path, sample_rows) -> tuple[Path, list[dict]]:
    articles = fresh_articles(sample_rows, 16)
    path = tmp_path / "import.jsonl"
    path.write_text("\n".join(json.dumps(a, ensure_ascii=False) for a in articles), encoding="utf-8")
    return path, articles


@pytest.fixture
def ray_cluster():
    """A head node and a worker node on 127.0.0.1, one CPU each, HOME and Ray's files in a temp folder;
    each node a `ray start --block` process of this test's own, stopped with it (`ray stop` would stop
    every Ray node of the machine)."""
    pytest.importorskip("ray")
    ray = str(Path(sys.executable).parent / "ray")
    home = Path(tempfile.mkdtemp(prefix="ray-"))  # short: Ray's socket paths must stay under 108 bytes
    env = {**clean_environ(), "HOME": str(home), "RAY_USAGE_STATS_ENABLED": "0"}
    address = f"127.0.0.1:{free_port()}"
    node = ["--block", "--node-ip-address=127.0.0.1", "--num-cpus=1", "--disable-usage-stats"]
    nodes = []
    try:
        nodes.append(subprocess.Popen([ray, "start", "--head", f"--port={address.split(':')[1]}",
                                       "--include-dashboard=false", f"--temp-dir={home}/t", *node], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        assert wait_for_nodes(ray, address, env, 1)
        nodes.append(subprocess.Popen([ray, "start", f"--address={address}", *node], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        assert wait_for_nodes(ray, address, env, 2)
        yield address, env
    finally:
        for process in reversed(nodes):
            process.terminate()
            process.wait(60)
        shutil.rmtree(home, ignore_errors=True)


def wait_for_nodes(ray: str, address: str, env: dict, count: int, seconds: float = 120) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = subprocess.run([ray, "status", f"--address={address}"], env=env, capture_output=True, text=True)
        if status.returncode == 0 and len(re.findall(r"^\s*1 node_", status.stdout, re.M)) >= count:
            return True
        time.sleep(1)
    return False


def test_a_backfill_here_embeds_what_the_cache_lacks_once(tmp_path, source, e5):
    path, articles = source
    first = embed(tmp_path / "data", path)
    assert "embedded 16 texts, 0 already cached; by node: local 16" in first
    assert "embedded 0 texts, 16 already cached" in embed(tmp_path / "data", path)
    expected = e5.encode([embedding_text(a["headline"], a["body"], DEFAULT_LEAD_WORDS) for a in articles])
    assert np.abs(cached_vectors(tmp_path / "data", articles) - expected).max() < 1e-5


def test_a_backfill_on_a_ray_cluster_uses_both_nodes_and_gives_the_local_vectors(tmp_path, source, e5, ray_cluster):
    path, articles = source
    address, env = ray_cluster
    out = embed(tmp_path / "data", path, "--ray", address, "--workers", "2", env=env)
    assert "embedded 16 texts, 0 already cached" in out, out
    nodes = re.findall(r"([0-9a-f]{12}) (\d+)", out.split("by node:")[1])
    assert len(nodes) == 2 and sum(int(n) for _, n in nodes) == 16, out  # both nodes did work
    expected = e5.encode([embedding_text(a["headline"], a["body"], DEFAULT_LEAD_WORDS) for a in articles])
    assert np.abs(cached_vectors(tmp_path / "data", articles) - expected).max() < 1e-5
    # A rebuild from a CMS export embeds the export's new texts on the cluster before storing them.
    changed = [{**a, "headline": a["headline"] + " (updated)"} for a in articles[:5]]
    path.write_text("\n".join(json.dumps(a, ensure_ascii=False) for a in changed), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "service", "rebuild", "--no-warm", "--from", str(path), "--ray", address],
                          env={**env, "DATA_DIR": str(tmp_path / "data")}, cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert -1 < out.find("embedded 5 texts, 0 already cached; by node:") < out.find("reconciled"), out
    assert re.search(r"rebuilt index \S+: 5 articles, 0 embedded", out), out
