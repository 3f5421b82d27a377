"""Exact (Flat) against approximate (IVF) search as the corpus grows: query time, recall@10, memory.

Synthetic unit vectors of our dimension (384) drawn around random topic centres (news clusters by
topic, so neighbours have structure, as real embeddings do); queries are held-out points. Recall@10
is measured against exact search; every query is searched alone, as the service does.
With --data, the vectors are instead those of a data folder's live index (real embeddings, e.g. all
of SaudiNewsNet after `bench/dedup_eval.py --keep DIR`), with --queries of them held out as queries.

    python bench/ann_scaling.py [--sizes 100000 1000000] [--queries 200] [--data DIR]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import faiss
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from index import snapshots  # noqa: E402
from index.embedders import normalize_rows  # noqa: E402
from index.vectors import VectorIndex, ivf_lists, ivf_probes, new_index  # noqa: E402

DIM = 384
# Noise around each topic centre: a point keeps cosine ~0.7 with its centre and ~0.5 with its
# cluster mates (e5 neighbours are tighter still), and ~0 with other topics.
NOISE = 1.0


def clustered(n: int, rng: np.random.RandomState, centres: np.ndarray) -> np.ndarray:
    out = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        picks = centres[rng.randint(0, len(centres), m)]
        out[start : start + m] = normalize_rows(picks + NOISE * rng.randn(m, DIM).astype(np.float32) / np.sqrt(DIM))
    return out


def timed_search(index: VectorIndex, queries: np.ndarray, k: int) -> tuple[list[list[int]], float]:
    started = time.perf_counter()
    results = [[key for key, _ in index.search(q, k)] for q in queries]
    return results, (time.perf_counter() - started) / len(queries)


def live_vectors(data_dir: Path) -> np.ndarray:
    """Every vector of a data folder's live index."""
    loaded = snapshots.load_live(data_dir / "index")
    if loaded is None:
        raise SystemExit(f"{data_dir} has no live index: build one with `python -m service rebuild`")
    if loaded[1].kind != "flat":
        raise SystemExit(f"{data_dir} holds an {loaded[1].kind} index; --data compares from a flat one (up to 200k articles)")
    flat = faiss.downcast_index(loaded[1].faiss_index.index)
    return flat.reconstruct_n(0, flat.ntotal)


def compare(label: str, vectors: np.ndarray, queries: np.ndarray) -> None:
    """Flat against IVF (the service's list count, several probe counts) on `vectors`."""
    n, keys = len(vectors), np.arange(len(vectors))
    flat = VectorIndex(DIM)
    flat.upsert(keys, vectors)
    exact, flat_seconds = timed_search(flat, queries, 10)
    flat_bytes = len(flat.to_bytes())

    started = time.perf_counter()
    ivf = new_index(DIM, vectors, force="ivf")
    ivf.upsert(keys, vectors)
    build_seconds = time.perf_counter() - started
    ivf_bytes = len(ivf.to_bytes())
    print(f"{label} n={n:,}: flat {flat_seconds * 1000:.2f} ms/query, {flat_bytes / n:.0f} bytes/article; "
          f"IVF nlist={ivf_lists(n)} built in {build_seconds:.0f} s, {ivf_bytes / n:.0f} bytes/article")
    for nprobe in sorted({8, 16, 32, 64, 128, 256, ivf_probes(ivf_lists(n))}):
        ivf.set_nprobe(nprobe)
        approx, seconds = timed_search(ivf, queries, 10)
        recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact)])
        chosen = " (the service's choice)" if nprobe == ivf_probes(ivf_lists(n)) else ""
        print(f"  nprobe {nprobe:3d}{chosen}: recall@10 {recall:.3f}  {seconds * 1000:.2f} ms/query  "
              f"speed-up vs flat {flat_seconds / seconds:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--data", type=Path, default=None, help="use the real vectors of this data folder")
    args = parser.parse_args()
    rng = np.random.RandomState(1338)
    if args.data:
        vectors = live_vectors(args.data)
        held_out = rng.permutation(len(vectors))
        compare(f"real ({args.data})", vectors[held_out[args.queries :]], vectors[held_out[: args.queries]])
        return
    for n in args.sizes:
        centres = normalize_rows(rng.randn(max(1, n // 50), DIM))
        compare("synthetic", clustered(n, rng, centres), clustered(args.queries, rng, centres))


if __name__ == "__main__":
    main()
