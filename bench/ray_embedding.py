"""The Ray path of a backfill against the local path, on the same texts, in the same run: the overhead
of Ray with one worker, and the throughput of 1 against 2 workers, on a real local Ray cluster (a
head node started here with `ray start --block`, `--cpus` CPUs, HOME in a temp folder).

Every pass starts from an empty embedding cache, so every text is embedded. The local path runs the
same embedder in this process; `OMP_NUM_THREADS=1` for it, as Ray gives each one-CPU actor one
thread (else the local path would use both cores and the comparison would not be per worker).

    python -m bench.ray_embedding [--texts 120] [--cpus 2]
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.serving import free_port
from index.embedding.backfill import backfill
from index.embedding.cache import EmbeddingCache
from index.embedding.cached import CachedEmbedder
from index.embedding.models import DEFAULT_MODEL
from index.text.prepare import DEFAULT_LEAD_WORDS, embedding_text

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample" / "ant_2017_feb_mar.jsonl.gz"


def texts_of(count: int) -> list[str]:
    with gzip.open(SAMPLE, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for _, line in zip(range(count), f)]
    return [embedding_text(f"{r['headline']} (bench)", r["body"], DEFAULT_LEAD_WORDS) for r in rows]


def seconds_for(texts: list[str], folder: Path, address: str | None, workers: int) -> float:
    """Seconds to embed `texts` into an empty cache."""
    cache = EmbeddingCache(folder / f"cache-{time.monotonic_ns()}.sqlite")
    started = time.perf_counter()
    done = backfill(CachedEmbedder(DEFAULT_MODEL, cache, DEFAULT_LEAD_WORDS), texts, address, workers)
    seconds = time.perf_counter() - started
    cache.close()
    assert done.embedded == len(texts)
    return seconds


def rate_and_start(texts: list[str], folder: Path, address: str | None, workers: int) -> tuple[float, float]:
    """Texts a second once running, and the seconds a job costs before its first text (actors
    starting, models loading): a job of 2 texts gives the second, the difference with all the third."""
    small = seconds_for(texts[:2], folder, address, workers)
    whole = seconds_for(texts, folder, address, workers)
    return (len(texts) - 2) / (whole - small), small


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=120)
    parser.add_argument("--cpus", type=int, default=2)
    args = parser.parse_args()
    texts = texts_of(args.texts)
    folder = Path(tempfile.mkdtemp(prefix="raybench-"))
    ray = str(Path(sys.executable).parent / "ray")
    env = {**os.environ, "HOME": str(folder), "RAY_USAGE_STATS_ENABLED": "0"}
    port = free_port()
    os.environ["OMP_NUM_THREADS"] = "1"
    head = None
    try:
        local = rate_and_start(texts, folder, None, 1)
        # A head node of this script's own (`ray stop` would stop every Ray node of the machine).
        head = subprocess.Popen([ray, "start", "--head", "--block", f"--port={port}", "--node-ip-address=127.0.0.1",
                                 f"--num-cpus={args.cpus}", "--include-dashboard=false", f"--temp-dir={folder}/t",
                                 "--disable-usage-stats"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        address = f"127.0.0.1:{port}"
        while subprocess.run([ray, "status", f"--address={address}"], env=env, capture_output=True).returncode:
            time.sleep(1)
        os.environ["HOME"] = str(folder)
        # A first job on a new cluster also installs the job's code on it: done once, untimed.
        seconds_for([f"warm-up {i}" for i in range(8)], folder, address, args.cpus)
        runs = {workers: rate_and_start(texts, folder, address, workers) for workers in range(1, args.cpus + 1)}
    finally:
        import ray as ray_api

        ray_api.shutdown()
        if head is not None:
            head.terminate()
            head.wait(60)
        shutil.rmtree(folder, ignore_errors=True)
    print(f"{len(texts)} texts (headline + {DEFAULT_LEAD_WORDS} words), {os.cpu_count()} cores, one thread a worker;"
          " rate once running, and a job's start-up")
    print(f"local, this process      {local[0]:6.2f} texts/s   start-up {local[1]:5.1f} s")
    for workers, (rate, start) in runs.items():
        print(f"Ray, {workers} worker(s)          {rate:6.2f} texts/s   start-up {start:5.1f} s   {rate / local[0]:5.2f}x local"
              f"   {rate / runs[1][0]:5.2f}x one Ray worker")
    print(f"Ray's overhead once running, one worker: {(1 - runs[1][0] / local[0]) * 100:.1f}% (goal <= 10%)")
    per_worker = runs[max(runs)][0] / max(runs)
    for workers in (1, 8, 32, 128):
        hours = 1_000_000 / (per_worker * workers) / 3600
        print(f"projected, 1M articles on {workers:3d} one-CPU workers: {hours:7.1f} h (straight line from"
              f" {per_worker:.2f} texts/s a worker, measured with {max(runs)})")


if __name__ == "__main__":
    main()
