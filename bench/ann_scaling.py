"""Exact against approximate search as the corpus grows: recall@10, query time, memory, build and batch time.

Every candidate is the service's own `VectorIndex` (`index.ann.faiss_index.new_index(force=...)`): exact (flat), and
approximate first stages re-ranked exactly from float16 copies of the vectors: HNSW over 8-bit
scalar-quantised vectors (the service's `hnsw`), HNSW over float32 vectors, IVF-SQ8 and IVF-PQ.

Data: (a) real e5 vectors, the sample's shipped ones (sample/ant_2017_feb_mar.vectors.npz) and any
`--real FILE` (.npy matrix or a vectors file, e.g. SaudiNewsNet embedded by `--embed-saudinewsnet N`,
cached outside the repo); (b) synthetic unit vectors of our dimension: `archive`, spread like e5's
(bench/synthetic_archive.py's model: cosine ~0.70 unrelated, 0.80 a topic, 0.88 a subtopic of 40), and
`clustered`, drawn around random topic centres with much noise (cosine ~0.5 within a cluster of 50,
~0 across): the harder for an approximate index, its neighbours being nearly level.

Per candidate: recall@10 against exact search of held-out queries; single-query time (median, p99:
every query searched alone, as a request is); resident memory per article of the saved index loaded in
a fresh process (and the peak while loading); build time (train and add); and `search_many` time per
query for a batch of stored vectors with k=21, as the rebuild links stories, projected to all of them.

    python -m bench.ann_scaling [--sizes 20000 100000 1000000] [--queries 200] [--real FILE ...]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from index.ann import faiss_index as service
from index.ann.faiss_index import VectorIndex, ivf_lists, new_index
from index.embedding.cache import read_vectors_file
from index.embedding.models import normalize_rows

ROOT = Path(__file__).resolve().parents[1]

DIM = 384
SAMPLE_VECTORS = ROOT / "sample" / "ant_2017_feb_mar.vectors.npz"
# Noise around each topic centre: a point keeps cosine ~0.7 with its centre and ~0.5 with its
# cluster mates (e5 neighbours are tighter still), and ~0 with other topics.
NOISE = 1.0
STORY_K = 21  # neighbours the rebuild asks of each article (rebuild.STORY_CANDIDATES + 1)
SNN_CACHE = Path(tempfile.gettempdir()) / "ann_scaling_saudinewsnet.npy"

LOAD = """
import json, resource
from index.ann.faiss_index import VectorIndex
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096
before = rss()
with open({path!r}, "rb") as f:
    index = VectorIndex.read(f)
print(json.dumps({{"resident": rss() - before, "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before}}))
"""


def archive_like(n: int, queries: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`n` vectors and `queries` more, as bench/synthetic_archive.py draws an archive's."""
    from bench.synthetic_archive import Archive

    archive = Archive(n + queries, seed)
    drawn = np.empty((n + queries, DIM), dtype=np.float32)
    subtopics = archive.rng.integers(0, archive.subtopics, n + queries)
    for start in range(0, n + queries, 100_000):
        drawn[start : start + 100_000] = archive.vectors(subtopics[start : start + 100_000])
    return drawn[:n], drawn[n:]


def clustered(n: int, rng: np.random.RandomState, centres: np.ndarray) -> np.ndarray:
    out = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        picks = centres[rng.randint(0, len(centres), m)]
        out[start : start + m] = normalize_rows(picks + NOISE * rng.randn(m, DIM).astype(np.float32) / np.sqrt(DIM))
    return out


def candidates(n: int, full: bool) -> list[tuple[str, str, list[int]]]:
    """(label, kind or FAISS factory string for `new_index`, efforts to try: efSearch or nprobe)."""
    lists = ivf_lists(n)
    chosen = sorted({64, service.EF_SEARCH, 256})
    rows = [("flat (exact)", "flat", [0]), (f"{service.HNSW} +rerank (service)", "hnsw", chosen)]
    if full:
        rows += [("HNSW32,Flat +rerank", "HNSW32,Flat", [service.EF_SEARCH]),
                 (f"IVF{lists},SQ8 +rerank", f"IVF{lists},SQ8", [16, 32, 64]),
                 (f"IVF{lists},PQ48 +rerank", f"IVF{lists},PQ48", [16, 32, 64])]
    return rows


def memory(index: VectorIndex) -> tuple[int, int, int]:
    """(file bytes, resident bytes once loaded, peak bytes while loading) of the saved index, in a fresh process."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "vectors.faiss"
        with open(path, "wb") as f:
            index.write(f)
        done = subprocess.run([sys.executable, "-c", LOAD.format(path=str(path))],
                              cwd=ROOT, capture_output=True, text=True, check=True)
        loaded = json.loads(done.stdout)
        return path.stat().st_size, loaded["resident"], loaded["peak"]


def single(index: VectorIndex, queries: np.ndarray, k: int = 10) -> tuple[list[list[int]], np.ndarray]:
    results, seconds = [], []
    for q in queries:
        started = time.perf_counter()
        results.append([key for key, _ in index.search(q, k)])
        seconds.append(time.perf_counter() - started)
    return results, np.array(seconds)


def compare(label: str, vectors: np.ndarray, queries: np.ndarray, batch: int, full: bool, timed: int) -> list[dict]:
    """Every candidate on `vectors` (keys 0..n-1), searched with `queries`; a row of figures per setting."""
    n, keys = len(vectors), np.arange(len(vectors))
    exact = None
    rows = []
    batch_queries = vectors[np.random.RandomState(1).choice(n, min(batch, n), replace=False)]
    for name, kind, efforts in candidates(n, full):
        started, cpu = time.perf_counter(), time.process_time()
        index = new_index(DIM, vectors, force=kind)
        index.upsert(keys, vectors)
        build, build_cpu = time.perf_counter() - started, time.process_time() - cpu
        size, resident, peak = memory(index)
        # Exact search of a whole batch costs n * batch: a slice of it is enough to time.
        asked = batch_queries if kind != "flat" else batch_queries[: max(200, int(1e9 / n))]
        started = time.perf_counter()
        index.search_many(asked, STORY_K)
        per_query = (time.perf_counter() - started) / len(asked)
        for effort in efforts:
            if kind != "flat":
                index.tune(effort=effort)
            results, seconds = single(index, queries[:timed] if kind == "flat" else queries)
            if kind == "flat":
                exact = index.search_many(queries, 10)[1].tolist()
            recall = float(np.mean([len(set(a) & set(e)) / 10 for a, e in zip(results, exact)]))
            rows.append({"data": label, "n": n, "index": name, "effort": effort or "", "recall": recall,
                         "median_ms": np.median(seconds) * 1000, "p99_ms": np.percentile(seconds, 99) * 1000,
                         "bytes": resident / n, "file_bytes": size / n, "peak_bytes": peak / n, "build_s": build, "build_cpu_s": build_cpu,
                         "batch_ms": per_query * 1000, "batch_all_s": per_query * n})
            print(line(rows[-1]), flush=True)
        del index
    return rows


HEADER = (f"{'data':<22} {'n':>9} {'index':<28} {'effort':>6} {'recall@10':>9} {'median ms':>9} {'p99 ms':>7} "
          f"{'B/article':>9} {'file B':>7} {'peak B':>7} {'build s':>8} {'cpu s':>7} {'batch ms':>8} {'batch all s':>11}")


def line(r: dict) -> str:
    return (f"{r['data']:<22} {r['n']:>9,} {r['index']:<28} {r['effort']!s:>6} {r['recall']:>9.3f} "
            f"{r['median_ms']:>9.3f} {r['p99_ms']:>7.2f} {r['bytes']:>9.0f} {r['file_bytes']:>7.0f} "
            f"{r['peak_bytes']:>7.0f} {r['build_s']:>8.1f} {r['build_cpu_s']:>7.1f} {r['batch_ms']:>8.3f} {r['batch_all_s']:>11.1f}")


def real_vectors(path: Path) -> np.ndarray:
    if path.suffix == ".npy":
        return normalize_rows(np.load(path).astype(np.float32))
    return read_vectors_file(path)[2]


def embed_saudinewsnet(count: int, source: Path) -> Path:
    """Embed `count` SaudiNewsNet articles (headline and lead, as the service does) with the default
    model, cached in SNN_CACHE (outside the repo: SaudiNewsNet is research-only)."""
    import random
    import zipfile

    from index.embedding.models import E5Embedder
    from index.text.prepare import DEFAULT_LEAD_WORDS, embedding_text

    if SNN_CACHE.exists() and len(np.load(SNN_CACHE, mmap_mode="r")) >= count:
        return SNN_CACHE
    rows = []
    for archive in sorted(source.glob("*.zip")):
        with zipfile.ZipFile(archive) as z:
            rows += json.load(z.open(z.namelist()[0]))
    rows = [r for r in rows if r.get("title") and r.get("content")]
    random.Random(0).shuffle(rows)
    texts = [embedding_text(r["title"], r["content"], DEFAULT_LEAD_WORDS) for r in rows[:count]]
    np.save(SNN_CACHE, E5Embedder().encode(texts))
    return SNN_CACHE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[20_000, 100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--batch", type=int, default=20_000, help="stored vectors searched in one search_many call")
    parser.add_argument("--flat-queries", type=int, default=50, help="single exact searches timed (slow at 1M)")
    parser.add_argument("--real", type=Path, nargs="*", default=[SAMPLE_VECTORS])
    parser.add_argument("--embed-saudinewsnet", type=int, default=0, metavar="N",
                        help=f"embed N SaudiNewsNet articles into {SNN_CACHE} (once) and add them as real vectors")
    parser.add_argument("--saudinewsnet", type=Path, default=Path("/work/shared/data/saudinewsnet"))
    parser.add_argument("--synthetic", nargs="*", default=["archive", "clustered"], choices=["archive", "clustered"])
    parser.add_argument("--full-up-to", type=int, default=1_000_000,
                        help="every candidate up to this size; beyond, exact and the service's only")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args()
    rng = np.random.RandomState(1338)
    real = list(args.real) + ([embed_saudinewsnet(args.embed_saudinewsnet, args.saudinewsnet)]
                              if args.embed_saudinewsnet else [])
    print(HEADER, flush=True)
    rows = []
    for path in real:
        vectors = real_vectors(path)
        held_out = rng.permutation(len(vectors))
        queries = min(args.queries, len(vectors) // 10)
        rows += compare(f"real {path.stem[:17]}", vectors[held_out[queries:]], vectors[held_out[:queries]],
                        args.batch, True, args.flat_queries)
    for n in args.sizes:
        for model in args.synthetic:
            if model == "archive":
                vectors, queries = archive_like(n, args.queries, seed=n)
            else:
                centres = normalize_rows(rng.randn(max(1, n // 50), DIM))
                vectors, queries = clustered(n, rng, centres), clustered(args.queries, rng, centres)
            rows += compare(f"synthetic {model}", vectors, queries, args.batch, n <= args.full_up_to, args.flat_queries)
            del vectors
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
