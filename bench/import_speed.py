"""Import with vectors made elsewhere, then rebuild, through the CLI, on a synthetic archive: seconds,
articles a second, CPU seconds and the peak memory of each command; and how many planted copies
ended in their original's story.

    python -m bench.import_speed --count 20000 [--baseline /tmp/before] [--keep]

`--baseline DIR` runs the same commands from another checkout (e.g. `git worktree add /tmp/before
HEAD~1`; its ingest seeds nothing from an id-keyed file, so its import embeds every article: give it a
cache-keyed file with `--baseline-vectors cache`) and prints the ratios. The archive and data folders
are made under a temporary folder and removed afterwards (`--keep` keeps them).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.synthetic_archive import MODEL, write_archive

ROOT = Path(__file__).resolve().parents[1]


def run(tree: Path, data: Path, *args: str) -> dict:
    """`python -m service ARGS` from `tree` on `data`: wall and CPU seconds, peak memory (MB)."""
    env = {**os.environ, "DATA_DIR": str(data), "JSON_LOGS": "0", "PYTHONPATH": str(tree)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "service", *args], cwd=tree, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    # ru_maxrss of children is the largest child's (its worker processes included), in KB
    return {"seconds": seconds, "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
            "peak_mb": after.ru_maxrss / 1024}


def copies_linked(data: Path, folder: Path) -> tuple[int, int]:
    import sqlite3

    with sqlite3.connect(data / "articles.sqlite") as conn:
        story = dict(conn.execute("SELECT id, story_id FROM articles"))
    pairs = [json.loads(line) for line in (folder / "copies.jsonl").open()]
    return sum(story[p["copy"]] == story[p["original"]] for p in pairs), len(pairs)


# Run from the checkout, with its own `index` (PYTHONPATH and cwd), so that the keys are its own.
CACHE_KEYED = """
import json, sys
from pathlib import Path
import numpy as np
from index.embedding.cache import embed_key, write_vectors_file
from index.text.prepare import DEFAULT_LEAD_WORDS, embedding_text
model, npz, jsonl, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
with np.load(npz) as data:
    position = {i: n for n, i in enumerate(data["ids"].tolist())}
    vectors = data["vectors"]
rows = [json.loads(line) for line in jsonl.open(encoding="utf-8")]
keys = [embed_key(model, embedding_text(r["headline"], r["body"], DEFAULT_LEAD_WORDS)) for r in rows]
write_vectors_file(out, model, keys, vectors[[position[r["id"]] for r in rows]])
"""


def cache_keyed(npz: Path, jsonl: Path, out: Path, tree: Path) -> Path:
    """The vectors of `npz` keyed by cache key, as the checkout at `tree` computes them (in a child process)."""
    subprocess.run([sys.executable, "-c", CACHE_KEYED, MODEL, str(npz), str(jsonl), str(out)], cwd=tree,
                   env={**os.environ, "PYTHONPATH": str(tree)}, check=True)
    return out


def measure(tree: Path, work: Path, name: str, jsonl: Path, npz: Path, folder: Path, count: int) -> dict:
    data = work / name
    ingest = run(tree, data, "ingest", str(jsonl), "--vectors", str(npz))
    rebuild = run(tree, data, "rebuild", "--no-warm")
    linked, planted = copies_linked(data, folder)
    print(f"{name:>9}: ingest {ingest['seconds']:7.1f} s ({count / ingest['seconds']:6.0f} articles/s, "
          f"{ingest['cpu']:6.1f} CPU s, peak {ingest['peak_mb']:6.0f} MB); rebuild {rebuild['seconds']:7.1f} s "
          f"({rebuild['cpu']:6.1f} CPU s, peak {rebuild['peak_mb']:6.0f} MB); copies in their original's story "
          f"{linked}/{planted}", flush=True)
    shutil.rmtree(data, ignore_errors=True)
    return {"ingest": ingest, "rebuild": rebuild}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--baseline", type=Path, default=None, help="another checkout to run the same commands from")
    parser.add_argument("--work", type=Path, default=None, help="where to put the archive and data folders")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="import-speed-", dir=args.work))
    try:
        folder = work / "archive"
        jsonl, npz = write_archive(folder, args.count, args.seed)
        print(f"archive: {args.count} articles, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
              flush=True)
        now = measure(ROOT, work, "this tree", jsonl, npz, folder, args.count)
        if args.baseline:
            seeded = cache_keyed(npz, jsonl, folder / "cache.vectors.npz", args.baseline)
            before = measure(args.baseline, work, "baseline", jsonl, seeded, folder, args.count)
            total = lambda r: r["ingest"]["seconds"] + r["rebuild"]["seconds"]  # noqa: E731
            print(f"import + rebuild: {total(now):.1f} s against {total(before):.1f} s "
                  f"({total(before) / total(now):.1f}x faster)")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
