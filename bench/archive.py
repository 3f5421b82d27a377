"""Archive scale, scripted: the goal's figures of issue #23 at N articles, beside the version before it.

For each size N, in fresh data folders under /tmp:
1. a synthetic archive (bench/synthetic_archive.py: real Arabic words, topics, unit vectors made
   elsewhere in an id-keyed .npz) with 200 planted reworded copies: stored articles re-published
   with a few words changed and two swapped, their vectors at cosine 0.97 from the original's;
2. `python -m service ingest FILE --vectors NPZ` and `python -m service rebuild --no-warm`, each timed
   with its peak resident memory (the child's rusage);
3. the production server (gunicorn as `make serve-prod` starts it: 2 workers x 16 threads,
   PROMETHEUS_MULTIPROC_DIR) on a free port of 127.0.0.1, and through it: first-time GET
   similar?k=10&exclude_source=... (each id once, so nothing precomputed or cached) interleaved with
   GET /healthz, medians, p99 and ratio; the workers' CPU time per request of each route alone (a
   ratio that other work on the machine does not move, as it moves wall times); throughput of 6 readers beside 1 writer posting new articles
   (GET similar?k=6 on ids never asked before, then GET /healthz in its place: the ratio of the two);
   GET duplicates of the 200 copies (original listed first?); the workers' resident memory;
4. one table, with the same run of the version before this issue (--before REV, default 06b638e)
   from a temporary `git worktree` at --before-size (its code takes the cache-keyed vectors file of
   its day, converted from the same npz by its own code, untimed), and the current code at that size;
5. a column projecting the current code's figures to 10M from its two largest sizes: a line in N for
   times and memory (import, rebuild, RSS, disk: a fixed part plus a part per article), in ln N for a
   search's latency and (inverse) throughput (an HNSW-like index; exact search would be linear),
   /healthz as measured; proportional to N or ln N when only one size was measured.

    python -m bench.archive [--sizes 20000 100000 1000000] [--before 06b638e] [--before-size 20000]
                            [--no-before] [--requests 300] [--seconds 30] [--keep] [--json FILE]

The current code is also measured at --before-size, side by side. `make bench-archive` runs the
default, N=1M (and 20k for both versions); a few minutes at N=20,000.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.archive_serve import (
    cpu_per_request,
    duplicates_found,
    first_time_latency,
    production_server,
    tail,
    throughput,
)

ROOT = Path(__file__).resolve().parents[1]

VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python" if (VENV / "bin" / "python").exists() else Path(sys.executable)
GUNICORN = PYTHON.with_name("gunicorn")
BEFORE = "06b638e"  # the commit before issue #23's work
COPY_COSINE = 0.97
WRITER_POOL = 2_000  # stored articles the writer republishes from
TARGET = 10_000_000


# -- the archive -----------------------------------------------------------------------------------


@dataclass
class Archive:
    size: int  # generated articles, the planted copies not counted
    jsonl: Path
    npz: Path
    copies: list[tuple[str, str]]  # (copy id, original id)
    ids: list[str]  # stored ids in a random order, copies left out
    republish: list[dict]  # articles the writer republishes under new ids

    @property
    def articles(self) -> int:
        return self.size + len(self.copies)


def reword(article: dict, rng: random.Random, vocabulary: list[str], copy_id: str) -> dict:
    """A republished copy: two adjacent headline words swapped, a few body words replaced and two swapped."""
    headline = article["headline"].split()
    if len(headline) >= 3:
        i = rng.randrange(len(headline) - 1)
        headline[i], headline[i + 1] = headline[i + 1], headline[i]
    body = (article.get("body") or "").split()
    for _ in range(max(1, len(body) // 40)):
        if body:
            body[rng.randrange(len(body))] = rng.choice(vocabulary)
    if len(body) >= 3:
        i = rng.randrange(len(body) - 1)
        body[i], body[i + 1] = body[i + 1], body[i]
    return {**article, "id": copy_id, "headline": " ".join(headline), "body": " ".join(body),
            "source": "bench-republisher", "url": None}


def nearby(vector: np.ndarray, cosine: float, rng: np.random.Generator) -> np.ndarray:
    """A unit vector at exactly `cosine` from the unit vector `vector`."""
    v = vector.astype(np.float32) / np.linalg.norm(vector)
    u = rng.standard_normal(len(v)).astype(np.float32)
    u -= (u @ v) * v
    u /= np.linalg.norm(u)
    return cosine * v + math.sqrt(1 - cosine**2) * u


def prepare_archive(folder: Path, size: int, seed: int, copies: int) -> Archive:
    """The synthetic archive of `size` articles with `copies` planted copies (appended to its JSONL and
    npz); made once per folder (planted.json records it)."""
    marker = folder / "planted.json"
    if marker.exists():
        done = json.loads(marker.read_text())
        return Archive(size, Path(done["jsonl"]), Path(done["npz"]), [tuple(c) for c in done["copies"]],
                       done["ids"], done["republish"])
    from bench.synthetic_archive import write_archive  # the other half of the bench (one generator)

    started = time.monotonic()
    jsonl, npz = (Path(p) for p in write_archive(folder, size, seed))
    print(f"  generated {size} articles in {time.monotonic() - started:.0f} s: {jsonl}, {npz}", flush=True)
    # The generator plants copies of its own (copies.jsonl): ours are of articles that are neither.
    taken: set[str] = set()
    if (jsonl.parent / "copies.jsonl").exists():
        for line in (jsonl.parent / "copies.jsonl").read_text().splitlines():
            pair = json.loads(line)
            taken.update((pair["copy"], pair["original"]))
    rng = random.Random(seed + 1)
    picked = rng.sample(range(size), min(size, copies + WRITER_POOL + 3 * len(taken)))
    wanted = dict.fromkeys(sorted(picked))
    vocabulary: list[str] = []
    with open(jsonl, encoding="utf-8") as f:
        for number, line in enumerate(f):
            if number in wanted:
                wanted[number] = json.loads(line)
                vocabulary += wanted[number].get("body", "").split()[:50]
    free = [n for n in picked if wanted[n]["id"] not in taken]
    originals = [wanted[n] for n in free[:copies]]
    republish = [wanted[n] for n in free[copies : copies + WRITER_POOL]]
    planted = [reword(a, rng, vocabulary, f"bench-copy-{i:03d}") for i, a in enumerate(originals)]

    with np.load(npz, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    ids = [str(i) for i in arrays["ids"]]
    position = {article_id: n for n, article_id in enumerate(ids)}
    vector_rng = np.random.default_rng(seed + 2)
    extra = np.stack([nearby(arrays["vectors"][position[a["id"]]], COPY_COSINE, vector_rng) for a in originals])
    arrays["ids"] = np.concatenate([arrays["ids"], np.array([c["id"] for c in planted])])
    arrays["vectors"] = np.concatenate([arrays["vectors"], extra.astype(arrays["vectors"].dtype)])
    temporary = npz.with_name(npz.name + ".tmp")
    with open(temporary, "wb") as f:
        np.savez(f, **arrays)
    os.replace(temporary, npz)
    with open(jsonl, "a", encoding="utf-8") as f:
        for copy in planted:
            f.write(json.dumps(copy, ensure_ascii=False) + "\n")
    rng.shuffle(ids)
    pairs = [(c["id"], a["id"]) for c, a in zip(planted, originals)]
    marker.write_text(json.dumps({"jsonl": str(jsonl), "npz": str(npz), "copies": pairs, "ids": ids,
                                  "republish": republish}, ensure_ascii=False))
    return Archive(size, jsonl, npz, pairs, ids, republish)


# The version before this issue reads a vectors file keyed by the hash of (model, embedded text):
# made here by that version's own code from the id-keyed npz, so that its keys are its own.
CACHE_KEYED = """
import json, sys
from pathlib import Path
import numpy as np
from index.records.article import validate_article
from index.embedding.cache import embed_key, write_vectors_file
from index.text.prepare import DEFAULT_LEAD_WORDS, embedding_text
jsonl, npz, out = sys.argv[1:4]
with np.load(npz, allow_pickle=False) as data:
    model, vectors = str(data["model"]), data["vectors"]
    position = {str(i): n for n, i in enumerate(data["ids"])}
keys, rows = [], []
with open(jsonl, encoding="utf-8") as f:
    for line in f:
        article = validate_article(json.loads(line))
        keys.append(embed_key(model, embedding_text(article.headline, article.body, DEFAULT_LEAD_WORDS)))
        rows.append(position[article.id])
write_vectors_file(Path(out), model, keys, vectors[np.asarray(rows)])
"""


def cache_keyed(archive: Archive, tree: Path) -> Path:
    out = archive.npz.with_name(f"cache-keyed-{tree.name}.vectors.npz")
    if not out.exists():
        subprocess.run([str(PYTHON), "-c", CACHE_KEYED, str(archive.jsonl), str(archive.npz), str(out)], cwd=tree,
                       env=tree_env(tree), check=True)
    return out


# -- one version at one size -----------------------------------------------------------------------


def tree_env(tree: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(tree)}


def timed(command: list[str], tree: Path, env: dict[str, str], log: Path) -> tuple[float, int]:
    """(wall seconds, peak resident bytes) of a command run in `tree`; RuntimeError with its log's tail on failure."""
    with open(log, "wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=tree, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"`{' '.join(command[1:])}` exited with code {process.returncode}:\n{tail(log)}")
    return elapsed, usage.ru_maxrss * 1024


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def measure(label: str, tree: Path, archive: Archive, vectors: Path, work: Path,
            args: argparse.Namespace) -> dict[str, Any]:
    """Every figure of one version of the code at one archive size; what was measured before a failure
    is kept, with the error."""
    data = work / f"data-{label}-{archive.size}"
    env = {**tree_env(tree), "DATA_DIR": str(data)}
    out: dict[str, Any] = {"articles": archive.articles}
    try:
        if args.reuse and (data / "index" / "CURRENT").exists():  # serving figures only, over a kept folder
            print(f"[{label} N={archive.size}] reusing {data} (no import figures)", flush=True)
            for cached in data.glob("answers.sqlite*"):  # answers of the ids asked before: first-time again
                cached.unlink()
        else:
            print(f"[{label} N={archive.size}] ingest", flush=True)
            out["ingest_s"], out["ingest_rss"] = timed(
                [str(PYTHON), "-m", "service", "ingest", str(archive.jsonl), "--vectors", str(vectors)],
                tree, env, work / f"{label}-{archive.size}-ingest.log")
            print(f"[{label} N={archive.size}] rebuild (ingest {out['ingest_s']:.0f} s)", flush=True)
            out["rebuild_s"], out["rebuild_rss"] = timed([str(PYTHON), "-m", "service", "rebuild", "--no-warm"],
                                                         tree, env, work / f"{label}-{archive.size}-rebuild.log")
            out["import_total_s"] = out["ingest_s"] + out["rebuild_s"]
        out["disk"] = folder_bytes(data)
        print(f"[{label} N={archive.size}] serve", flush=True)
        with production_server(tree, data, GUNICORN, env) as server:
            out["ready_s"] = server.ready_seconds
            out["index_type"] = server.health().get("index_type", "?")
            out.update(first_time_latency(server.port, archive.ids, args.requests))
            out["load_avg"] = os.getloadavg()[0]  # other work on the machine weighs on the figures
            out.update(cpu_per_request(server, archive.ids[args.requests + 20:], args.requests))
            out.update(duplicates_found(server.port, archive.copies))
            before_writes = server.memory()
            out.update({f"{name}_read": value for name, value in before_writes.items()})
            print(f"[{label} N={archive.size}] writer + readers", flush=True)
            out.update(throughput(server.port, archive.ids[2 * args.requests + 20:] or archive.ids, archive.republish,
                                  args.seconds, args.writes))
            out.update(server.memory())
    except Exception as exc:  # noqa: BLE001 - reported in the table, the other versions still run
        out["error"] = f"{type(exc).__name__}: {exc}"
        print(f"[{label} N={archive.size}] FAILED: {out['error']}", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(data, ignore_errors=True)
    return out


# -- the table -------------------------------------------------------------------------------------

MB = 1024 * 1024
# (key, label, format, scaling to 10M: "lin" time/memory, "log" search, "const", "" none, goal)
ROWS = [
    ("articles", "articles (incl. 200 planted copies)", "{:,.0f}", "", ""),
    ("ingest_s", "import: ingest FILE --vectors, s", "{:,.0f}", "lin", ""),
    ("ingest_rss", "import: peak RSS, MB", "{:,.0f}", "lin", ""),
    ("rebuild_s", "rebuild --no-warm, s", "{:,.0f}", "lin", ""),
    ("rebuild_rss", "rebuild: peak RSS, MB", "{:,.0f}", "lin", ""),
    ("import_total_s", "import + rebuild, min", "{:,.1f}", "lin", "<= 30 at 1M"),
    ("disk", "data folder on disk, MB", "{:,.0f}", "lin", ""),
    ("ready_s", "server start to /readyz 200, s", "{:,.1f}", "lin", ""),
    ("index_type", "index type (/healthz)", "{}", "", ""),
    ("similar_median", "first-time GET similar k=10, median ms", "{:,.2f}", "log", ""),
    ("similar_p99", "first-time GET similar k=10, p99 ms", "{:,.1f}", "log", "<= 50 at 1M"),
    ("healthz_median", "GET /healthz, median ms", "{:,.2f}", "const", ""),
    ("latency_ratio", "similar / healthz (medians)", "{:,.1f}x", "log", "<= 3x at 1M"),
    ("similar_cpu", "  worker CPU per first-time similar, ms", "{:,.2f}", "log", ""),
    ("healthz_cpu", "  worker CPU per /healthz, ms", "{:,.2f}", "const", ""),
    ("cpu_ratio", "  CPU similar / CPU healthz", "{:,.1f}x", "log", ""),
    ("similar_rps", "under writer: GET similar k=6, req/s", "{:,.0f}", "invlog", ""),
    ("healthz_rps", "under writer: GET /healthz, req/s", "{:,.0f}", "const", ""),
    ("throughput_ratio", "under writer: similar/s / healthz/s", "{:,.2f}", "invlog", ">= 0.5"),
    ("writes_rps", "writer: articles posted /s", "{:,.1f}", "", ""),
    ("copies_first", "planted copies listed first by duplicates", "{:,.0f}", "", ">= 195 of 200"),
    ("worker_hwm_max_read", "largest worker peak RSS before writes, MB", "{:,.0f}", "lin", ""),
    ("per_article_read", "  per article, bytes", "{:,.0f}", "lin/N", "<= 3 KB + model"),
    ("worker_rss_sum_read", "all workers' RSS before writes, MB", "{:,.0f}", "lin", ""),
    ("worker_hwm_max", "largest worker peak RSS after writes (model), MB", "{:,.0f}", "lin", ""),
    ("worker_rss_sum", "all workers' RSS after writes, MB", "{:,.0f}", "lin", ""),
    ("load_avg", "machine load after the first-time requests (1 min)", "{:,.1f}", "", ""),
]
IN_MS = {"similar_median", "similar_p99", "healthz_median", "similar_cpu", "healthz_cpu"}
IN_MB = {"ingest_rss", "rebuild_rss", "disk", "worker_hwm_max_read", "worker_rss_sum_read", "worker_hwm_max",
         "worker_rss_sum"}


def shown(key: str, value: Any) -> Any:
    if key in IN_MS:
        return value * 1000
    if key in IN_MB:
        return value / MB
    if key == "import_total_s":
        return value / 60
    return value


def projected(scaling: str, points: list[tuple[int, float]]) -> float | None:
    """A figure at TARGET articles from (size, value) measurements: with one, proportional to N (lin),
    to ln N (log) or to 1/ln N (invlog); with more, a line through the two largest sizes, in N (lin:
    a fixed part and a part per article) or in ln N (log; invlog fits 1/value, a throughput being the
    inverse of a time). const: the largest size's value."""
    if not points or not scaling:
        return None
    points = sorted(points)[-2:]
    (n1, v1), (n2, v2) = points[0], points[-1]
    if scaling == "const":
        return v2
    x = (lambda n: n) if scaling == "lin" else math.log  # noqa: E731
    if len(points) == 1:
        return v2 * (x(TARGET) / x(n2) if scaling != "invlog" else x(n2) / x(TARGET))
    y1, y2 = (1 / v1, 1 / v2) if scaling == "invlog" else (v1, v2)
    guess = y2 + (y2 - y1) / (x(n2) - x(n1)) * (x(TARGET) - x(n2))
    return 1 / guess if scaling == "invlog" else guess


def table(results: dict[tuple[str, int], dict[str, Any]], project: list[tuple[str, int]]) -> str:
    """The figures, a column per (version, size), and their projection to TARGET from the `project` columns."""
    for figures in results.values():
        if "worker_hwm_max_read" in figures:
            figures["per_article_read"] = figures["worker_hwm_max_read"] / figures["articles"]
    columns = [f"{label} {size:,}" for label, size in results]
    if project:
        sizes = sorted(size for _, size in project)[-2:]
        columns.append(f"10M (from {' and '.join(f'{n:,}' for n in sizes)})")
    widths = [max(11, len(c) + 2) for c in columns]
    lines = [f"{'':48s}" + "".join(f"{c:>{w}s}" for c, w in zip(columns, widths)) + "  projection  goal"]
    for key, label, fmt, scaling, goal in ROWS:
        cells = []
        for figures in results.values():
            value = figures.get(key)
            cells.append(fmt.format(shown(key, value)) if isinstance(value, (int, float))
                         else value if isinstance(value, str) else "-")
        if project:
            if key == "articles":
                guess = float(TARGET)
            elif key == "per_article_read":  # the projected worker over the projected articles
                memory, articles = (projected("lin", [(n, results[(v, n)][k]) for v, n in project
                                                      if k in results[(v, n)]])
                                    for k in ("worker_hwm_max_read", "articles"))
                guess = memory / articles if memory is not None and articles else None
            else:
                guess = projected(scaling, [(n, shown(key, results[(v, n)][key])) for v, n in project
                                            if isinstance(results[(v, n)].get(key), (int, float))])
            cells.append(fmt.format(guess) if guess is not None else "-")
        row = "".join(f"{c:>{w}s}" for c, w in zip(cells, widths))
        lines.append(f"{label:48s}{row}  {scaling or '-':10s}  {goal}")
    for (label, size), figures in results.items():
        if figures.get("copies_missed"):
            missed = "; ".join(figures["copies_missed"])
            lines.append(f"{label} {size:,}: copies not listed first (copy: top 3): {missed}")
        if figures.get("read_errors") or figures.get("write_errors"):
            lines.append(f"{label} {size:,}: errors under the writer: {figures.get('read_errors')} reads, "
                         f"{figures.get('write_errors')} writes")
        if "error" in figures:
            lines.append(f"{label} {size:,}: FAILED: {figures['error']}")
    return "\n".join(lines)


# -- the run ---------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--before", default=BEFORE, help="the version to compare with (a commit)")
    parser.add_argument("--before-size", type=int, default=20_000, help="its archive size (its rebuild is slow)")
    parser.add_argument("--no-before", action="store_true")
    parser.add_argument("--copies", type=int, default=200)
    parser.add_argument("--requests", type=int, default=300, help="first-time GET similar (and /healthz) requests")
    parser.add_argument("--seconds", type=float, default=30, help="each phase under the writer")
    parser.add_argument("--writes", type=int, default=1_000, help="at most this many posts a phase")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=None,
                        help="folder for archives and data (default: a new one in /tmp); an archive there is reused")
    parser.add_argument("--keep", action="store_true", help="keep the data folders and archives")
    parser.add_argument("--reuse", action="store_true",
                        help="with --work: serve the data folders a --keep run left (serving figures only)")
    parser.add_argument("--cache-keyed", action="store_true",
                        help="the current code imports the cache-keyed file too (not the id-keyed npz)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    parser.add_argument("--table-from", type=Path, default=None, help="print the table of a --json file and stop")
    args = parser.parse_args()
    if args.table_from:
        saved = json.loads(args.table_from.read_text())
        results = {(r["version"], r["size"]): r["figures"] for r in saved["results"]}
        print(table(results, [tuple(k) for k in saved["project"]]))
        return

    work = args.work or Path(tempfile.mkdtemp(prefix="archive-bench-", dir="/tmp"))
    work.mkdir(parents=True, exist_ok=True)
    sizes = sorted(set(args.sizes) | (set() if args.no_before else {args.before_size}))
    print(f"archive bench in {work}: sizes {sizes}; before: "
          f"{'none' if args.no_before else f'{args.before} at {args.before_size:,}'}", flush=True)
    results: dict[tuple[str, int], dict[str, Any]] = {}
    worktree = None
    try:
        if not args.no_before:
            worktree = Path(tempfile.mkdtemp(prefix="before-", dir="/tmp"))
            worktree.rmdir()
            subprocess.run(["git", "worktree", "add", "--detach", str(worktree), args.before], cwd=ROOT, check=True,
                           stdout=subprocess.DEVNULL)
        for size in sizes:
            archive = prepare_archive(work / f"archive-{size}", size, args.seed, args.copies)
            if worktree and size == args.before_size:
                results[(f"before {args.before}", size)] = measure(
                    "before", worktree, archive, cache_keyed(archive, worktree), work, args)
            vectors = cache_keyed(archive, ROOT) if args.cache_keyed else archive.npz
            results[("now", size)] = measure("now", ROOT, archive, vectors, work, args)
            print(table(results, []), flush=True)
    finally:
        if worktree:
            subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=ROOT, check=False)
        if not args.keep and args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    measured = sorted(key for key in results if key[0] == "now" and "error" not in results[key])
    print()
    print(f"issue #23 archive bench, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs, "
          f"{os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') / 2**30:.0f} GB; "
          f"{args.requests} first-time requests, {args.seconds:g} s a phase under the writer")
    print(table(results, measured[-2:]))
    if args.json:
        rows = [{"version": v, "size": n, "figures": f} for (v, n), f in results.items()]
        args.json.write_text(json.dumps({"results": rows, "project": measured[-2:]}, indent=1))
    print("projection to 10M of the current code: lin = in N (from two sizes a fixed part plus a part per article, "
          "from one proportional); log = in ln N, for a search (an HNSW-like index; exact search grows linearly); "
          "invlog = 1/throughput in ln N; const = as measured at the largest size")


if __name__ == "__main__":
    main()
