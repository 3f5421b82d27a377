"""The word index at archive size: the lexical candidate search, the words of 45 candidates, and the
version's document frequencies, over a synthetic archive of N articles, on SQLite (FTS5) and on a
private PostgreSQL server (GIN), the code before this change beside the code now, in one run.

The archive is made of real Arabic words: the vocabulary and word frequencies of the bundled sample
and ANT v1.1 (../shared/data, through `lexical.words_of`), the common words drawn by their real
frequencies, plus a long tail of rarer made-up words (recombined real words) that cluster by topic
(about 40 articles a topic), so a query's rarest words are held by its topic's articles; the vocabulary
grows with N as Heaps' law has it (about 160k words at 100k articles, 650k at 1M). Queries are
new articles of existing topics.

    python -m bench.word_index [--articles 100000] [--queries 300] [--no-postgres]
"""
from __future__ import annotations

import argparse
import gc
import gzip
import json
import math
import resource
import statistics
import tempfile
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import psycopg

from bench.corpora import SHARED
from index.sqlite import MARKS, connect, rows_in
from index.store import pg_store, postgres, word_index
from index.text import lexical
from tests.postgres_server import PostgresServer

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample" / "ant_2017_feb_mar.jsonl.gz"
ANT = SHARED / "ant_v1.1" / "ant_v1.1_jawharafm.jsonl.gz"
TOPIC_SIZE = 40  # articles a topic
TOPIC_WORDS = 24  # the rarer words a topic's articles share
TOPIC_SHARE = 0.3  # of an article's words, drawn from its topic's
HAPAX = 0.5  # words an article holds that no other does, on average
DEPTH = 31  # what the query path asks for (LEXICAL_DEPTH + 1)
CANDIDATES = 45  # candidates whose words an answer reads


# The code before this change, the baseline (index/lexical.py and index/pg_store.py at 06b638e).

def old_search(conn, query: lexical.LexicalQuery, depth: int) -> list[tuple[int, float]]:
    held: Counter[int] = Counter()
    for word in query.searched:
        for (key,) in conn.execute("SELECT rowid FROM lexical WHERE lexical MATCH ?", (f'"{word}"',)):
            held[key] += query.idf[word]
    return sorted(held.items(), key=lambda hit: (-hit[1], hit[0]))[:depth]


def one_statement_search(conn, query: lexical.LexicalQuery, depth: int) -> list[tuple[int, float]]:
    """`word_index.search` before it read a word at a time (#23): one statement summed and sorted."""
    count = len(query.searched)
    if not count:
        return []
    matches = " UNION ALL ".join(f"SELECT rowid AS key, {1 << i} AS bit FROM lexical WHERE lexical MATCH ?{i + 1}"
                                 for i in range(count))
    weight = " + ".join(f"((mask >> {i}) & 1) * ?{count + i + 1}" for i in range(count))
    sql = (f"SELECT key, {weight} AS weight FROM (SELECT key, sum(bit) AS mask FROM ({matches}) GROUP BY key) "
           f"ORDER BY weight DESC, key LIMIT ?{2 * count + 1}")
    values = [f'"{word}"' for word in query.searched] + [query.idf[word] for word in query.searched]
    return [(key, weight) for key, weight in conn.execute(sql, [*values, depth])]


def old_words_by_key(conn, keys: list[int]) -> dict[int, frozenset[str]]:
    rows = rows_in(conn, f"SELECT rowid, terms FROM lexical WHERE rowid IN ({MARKS})", keys)
    return {row[0]: frozenset(row[1].split()) for row in rows}


OLD_PG_SEARCH = """
SELECT l.key, sum(q.idf) AS weight FROM unnest(%(words)s::text[], %(idf)s::float8[]) AS q(word, idf)
JOIN lexical l ON l.terms @> ARRAY[q.word] GROUP BY l.key ORDER BY weight DESC, l.key LIMIT %(depth)s
"""


def old_pg_search(conn, query: lexical.LexicalQuery, depth: int) -> list[tuple[int, float]]:
    if not query.searched:
        return []
    rows = conn.execute(OLD_PG_SEARCH, {"words": list(query.searched), "depth": depth,
                                        "idf": [query.idf[w] for w in query.searched]})
    return [(r["key"], float(r["weight"])) for r in rows]


def old_frequencies_blob(docs: dict[str, int], total: int) -> bytes:
    import zlib
    return zlib.compress(json.dumps({"docs": docs, "total": total}, ensure_ascii=False).encode())


def old_frequencies_load(blob: bytes) -> tuple[dict[str, int], int]:
    import zlib
    doc = json.loads(zlib.decompress(blob))
    return doc["docs"], doc["total"]


# The synthetic archive

def real_vocabulary() -> tuple[list[str], np.ndarray]:
    """The words of the sample and ANT v1.1, most used first, with how often they are used."""
    counts: Counter[str] = Counter()
    for path, headline, body in ((SAMPLE, "headline", "body"), (ANT, "title", "text")):
        if not path.exists():
            continue
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                counts.update(lexical.words_of(row.get(headline) or "", row.get(body) or ""))
    words = [w for w, _ in counts.most_common()]
    return words, np.array([counts[w] for w in words], dtype=np.float64)


class Archive:
    """Articles' indexed words, drawn as described above; the same seed gives the same archive."""

    def __init__(self, n: int, seed: int = 23) -> None:
        self.n, self.rng = n, np.random.default_rng(seed)
        self.real, counts = real_vocabulary()
        self.cdf_real = np.cumsum(counts / counts.sum())
        known = set(self.real)
        tail_size = max(1000, int(46_500 * (n / 12_600) ** 0.6) - len(self.real))  # Heaps' law, fit on ANT
        tail: list[str] = []
        letters = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"
        while len(tail) < tail_size:
            a, b = self.rng.integers(0, len(self.real), 2)
            x, y = self.real[a], self.real[b]
            word = x[: max(2, len(x) // 2 + 1)] + y[len(y) // 2:]
            if word in known:
                word += letters[len(tail) % len(letters)]
            if word not in known:
                known.add(word)
                tail.append(word)
        self.words = self.real + tail
        ranks = np.arange(tail_size, dtype=np.float64)
        self.p_tail = 1.0 / (ranks + 20.0) ** 0.8
        self.p_tail /= self.p_tail.sum()
        topics = max(1, n // TOPIC_SIZE)
        self.topics = len(self.real) + self.rng.choice(tail_size, size=(topics, TOPIC_WORDS), p=self.p_tail)
        within = 1.0 / np.arange(1, TOPIC_WORDS + 1)
        self.cdf_within = np.cumsum(within / within.sum())
        self.letters = letters

    def article(self, key: int, rng: np.random.Generator) -> list[str]:
        """The words of an article, in order (as `lexical.words_of` gives them). Its topic is drawn from its
        key: a topic's articles are spread over the archive, as stories that recur over the years."""
        length = int(np.clip(rng.lognormal(math.log(75), 0.5), 8, 260))
        on_topic = int(round(TOPIC_SHARE * length))
        topic = self.topics[(key * 2654435761) % (1 << 32) % len(self.topics)]
        common = np.minimum(np.searchsorted(self.cdf_real, rng.random(length - on_topic)), len(self.real) - 1)
        rare = topic[np.minimum(np.searchsorted(self.cdf_within, rng.random(on_topic)), TOPIC_WORDS - 1)]
        ids = np.concatenate([common, rare])
        rng.shuffle(ids)
        words = [self.words[i] for i in ids]
        for _ in range(rng.poisson(HAPAX)):
            words.append(self.real[int(rng.integers(0, 2000))] + self._code(int(rng.integers(0, 1 << 40))))
        return words

    def _code(self, number: int) -> str:
        out = []
        while number:
            number, digit = divmod(number, len(self.letters))
            out.append(self.letters[digit])
        return "".join(out)

    def chunks(self, size: int = 10_000) -> Iterator[list[tuple[int, list[str]]]]:
        """(key, words) of every article, keys 1..n, `size` at a time."""
        for start in range(1, self.n + 1, size):
            yield [(key, self.article(key, self.rng)) for key in range(start, min(self.n + 1, start + size))]


# Building the two stores

def build_sqlite(path: Path, archive: Archive) -> float:
    """The word index of the archive in a new SQLite file (the store's schema); seconds taken."""
    conn = connect(path)
    conn.executescript(word_index.SCHEMA)
    started, spent = time.perf_counter(), 0.0
    for chunk in archive.chunks():
        t = time.perf_counter()
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO lexical (rowid, terms) VALUES (?, ?)", [(k, " ".join(w)) for k, w in chunk])
        conn.execute("COMMIT")
        spent += time.perf_counter() - t
    conn.close()
    print(f"  sqlite: {archive.n:,} articles indexed in {spent:.0f} s ({spent / archive.n * 1e6:.0f} us an article; "
          f"{time.perf_counter() - started:.0f} s with generation), {path.stat().st_size / 1e6:.0f} MB")
    return spent


def build_postgres(url: str, archive: Archive) -> None:
    """The word index of the archive in PostgreSQL, in the store's own tables (`postgres.create_schema`),
    loaded by COPY with the GIN index built after, as a bulk load would."""
    import psycopg

    pool = postgres.connect_pool(url, 1)
    postgres.create_schema(pool)
    pool.close()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP INDEX lexical_terms")
        started = time.perf_counter()
        for chunk in archive.chunks():
            with conn.cursor().copy("COPY lexical (key, terms) FROM STDIN") as copy:
                for key, words in chunk:
                    copy.write_row((key, sorted(set(words))))
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute("CREATE INDEX lexical_terms ON lexical USING gin (terms)")
        conn.execute("VACUUM ANALYZE lexical")
        size = conn.execute("SELECT pg_relation_size('lexical'), pg_table_size('lexical'), "
                            "pg_relation_size('lexical_terms')").fetchone()
        print(f"  postgres: {archive.n:,} articles loaded and indexed in {time.perf_counter() - started:.0f} s; "
              f"heap {size[0] / 1e6:.0f} MB, with TOAST {size[1] / 1e6:.0f} MB, GIN {size[2] / 1e6:.0f} MB")


class BenchServer(PostgresServer):
    """The tests' private server, restartable with other settings (`restart`)."""

    extra = ""

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} -c max_connections=200 {self.extra}"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.folder / "log"), "-w", "start")

    def restart(self, extra: str) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        self.extra = extra
        self.start()


# Timing

def timed(call: Callable[[object], object], items: list) -> tuple[float, float]:
    """Median and p99 of a call over the items, in ms (after one warm pass over a few)."""
    for item in items[:20]:
        call(item)
    times = []
    for item in items:
        started = time.perf_counter()
        call(item)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(0.99 * len(times)))]


def row(label: str, before: tuple[float, float], after: tuple[float, float]) -> None:
    print(f"  {label:<34} {before[0]:8.3f} {before[1]:8.3f} {after[0]:8.3f} {after[1]:8.3f} {before[0] / after[0]:7.1f}x")


def header(title: str) -> None:
    print(f"\n{title}\n  {'':<34} {'before':>8} {'p99':>8} {'after':>8} {'p99':>8} {'ratio':>8}")


def queries(archive: Archive, frequencies: lexical.Frequencies, count: int) -> list[lexical.LexicalQuery]:
    """New articles of existing topics, as the query path asks for their words."""
    rng = np.random.default_rng(7)
    keys = rng.integers(1, archive.n + 1, count)
    return [lexical.lexical_query(archive.article(int(k), rng), frequencies) for k in keys]


def frequencies_figures(docs: dict[str, int], total: int) -> None:
    """Load time and memory of the version's document frequencies, the old form and the new."""
    print(f"\ndocument frequencies: {len(docs):,} words held by 2 articles or more")
    old_blob = old_frequencies_blob(docs, total)
    new_blob = lexical.Frequencies(docs, total).to_blob()
    for label, load, blob in (("before (json dict)", lambda b: old_frequencies_load(b), old_blob),
                              ("after", lambda b: lexical.Frequencies.from_blob(b), new_blob)):
        gc.collect()
        started = time.perf_counter()
        loaded = load(blob)
        seconds = time.perf_counter() - started
        del loaded
        gc.collect()
        tracemalloc.start()
        loaded = load(blob)
        kept, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"  {label:<20} file {len(blob) / 1e6:6.1f} MB, load {seconds:6.2f} s, "
              f"kept {kept / 1e6:6.1f} MB ({kept / total:5.0f} B an article), peak {peak / 1e6:6.1f} MB")
        del loaded


def segments(conn) -> int:
    return conn.execute("SELECT count(DISTINCT segid) FROM lexical_idx").fetchone()[0]


def bench_sqlite(path: Path, archive: Archive, count: int) -> lexical.Frequencies:
    conn = connect(path)
    started = time.perf_counter()
    frequencies = word_index.document_frequencies(conn)
    counted = time.perf_counter() - started
    print(f"\nsqlite, {archive.n:,} articles: document_frequencies {counted:.1f} s")
    asked = queries(archive, frequencies, count)
    searched = [sum(frequencies.docs.get(w, 1) for w in q.searched) for q in asked]
    print(f"  queries: {statistics.mean(len(q.searched) for q in asked):.1f} searched words, "
          f"{statistics.median(searched):.0f} postings (median), {max(searched)} (max)")
    mismatched = sum(old_search(conn, q, DEPTH) != word_index.search(conn, q, DEPTH) for q in asked)
    header(f"  (ms; results differ from the old search's for {mismatched} of {len(asked)} queries)")
    row(f"search, as written ({segments(conn)} segments)", timed(lambda q: old_search(conn, q, DEPTH), asked),
        timed(lambda q: word_index.search(conn, q, DEPTH), asked))
    rng = np.random.default_rng(11)
    key_lists = [[int(k) for k in rng.integers(1, archive.n + 1, CANDIDATES)] for _ in range(count)]
    row(f"words of {CANDIDATES} keys", timed(lambda ks: old_words_by_key(conn, ks), key_lists),
        timed(lambda ks: word_index.words_by_key(conn, ks), key_lists))
    started = time.perf_counter()
    steps = word_index.compact(conn, threading.RLock())
    seconds = time.perf_counter() - started
    print(f"  compacted into {segments(conn)} segment in {seconds:.1f} s, {steps} write transactions of "
          f"{seconds / steps * 1000:.0f} ms on average (a rebuild's work)")
    mismatched = sum(old_search(conn, q, DEPTH) != word_index.search(conn, q, DEPTH) for q in asked)
    row(f"search, compacted ({mismatched} differ)", timed(lambda q: old_search(conn, q, DEPTH), asked),
        timed(lambda q: word_index.search(conn, q, DEPTH), asked))
    mismatched = sum(one_statement_search(conn, q, DEPTH) != word_index.search(conn, q, DEPTH) for q in asked)
    row(f"one statement, compacted ({mismatched} differ)", timed(lambda q: one_statement_search(conn, q, DEPTH), asked),
        timed(lambda q: word_index.search(conn, q, DEPTH), asked))
    started = time.perf_counter()
    word_index.document_frequencies(conn)
    print(f"  document_frequencies once compacted: {time.perf_counter() - started:.1f} s")
    conn.close()
    return frequencies


def bench_postgres(url: str, archive: Archive, frequencies: lexical.Frequencies, count: int, setting: str,
                   fresh: int = 0) -> None:
    """Before: the old statements on a pool as the old `postgres.connect_pool` made it; after: the
    store's words object on the store's pool now."""
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool

    old_pool = ConnectionPool(url, min_size=1, max_size=2, open=True, check=ConnectionPool.check_connection,
                              kwargs={"autocommit": True, "row_factory": dict_row})

    def old(q: lexical.LexicalQuery) -> list[tuple[int, float]]:
        with old_pool.connection() as conn:
            return old_pg_search(conn, q, DEPTH)

    def old_words(keys: list[int]) -> dict[int, frozenset[str]]:
        with old_pool.connection() as conn:
            return pg_store.words_by_key(conn, keys)

    pool = postgres.connect_pool(url, 2)
    words = pg_store.PostgresWords(pool)
    asked = queries(archive, frequencies, count)
    rng = np.random.default_rng(11)
    key_lists = [[int(k) for k in rng.integers(1, archive.n + 1, CANDIDATES)] for _ in range(count)]
    mismatched = sum([k for k, _ in old(q)] != [k for k, _ in words.search(q, DEPTH)] for q in asked)
    header(f"postgres, {archive.n:,} articles, {setting} (ms; keys differ from the old search's for {mismatched} "
           f"of {len(asked)} queries)")
    row("search (depth 31)", timed(old, asked), timed(lambda q: words.search(q, DEPTH), asked))
    row(f"words of {CANDIDATES} keys", timed(old_words, key_lists), timed(words.words, key_lists))
    if fresh:  # articles written since the load: in the GIN index's pending list, read by every search
        rng = np.random.default_rng(5)
        rows = [(archive.n + 1 + i, sorted(set(archive.article(i, rng)))) for i in range(fresh)]
        with pool.connection() as conn, conn.transaction():
            started = time.perf_counter()
            for key, held in rows:
                conn.execute("INSERT INTO lexical (key, terms) VALUES (%s, %s)", (key, held))
            print(f"  {fresh:,} articles written a statement each, one transaction: "
                  f"{(time.perf_counter() - started) / fresh * 1e6:.0f} us each (the word index's part of a write)")
        row(f"search, {fresh:,} fresh writes pending", timed(old, asked), timed(lambda q: words.search(q, DEPTH), asked))
        started = time.perf_counter()
        words.compact()
        print(f"  compact (gin_clean_pending_list): {time.perf_counter() - started:.2f} s")
        row("search, compacted", timed(old, asked), timed(lambda q: words.search(q, DEPTH), asked))
        with pool.connection() as conn:
            conn.execute("DELETE FROM lexical WHERE key > %s", (archive.n,))
    started = time.perf_counter()
    words.frequencies()
    print(f"  frequencies(): {time.perf_counter() - started:.1f} s")
    pool.close()
    old_pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--fresh", type=int, default=2000, help="PostgreSQL: articles written after the load")
    parser.add_argument("--shared-buffers", default="2GB", help="PostgreSQL's, for the second measurement")
    parser.add_argument("--folder", type=Path, help="keep the SQLite file here (reused when present)")
    args = parser.parse_args()
    archive = Archive(args.articles)
    print(f"archive: {args.articles:,} articles, vocabulary {len(archive.words):,} words "
          f"({len(archive.real):,} real), {len(archive.topics):,} topics")
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.folder or Path(tmp)
        path = folder / f"words-{args.articles}.sqlite"
        if not path.exists():
            build_sqlite(path, archive)
        frequencies = bench_sqlite(path, archive, args.queries)
        frequencies_figures(dict(frequencies.docs), frequencies.total)
        print(f"  process max RSS so far {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3:.0f} MB")
        if not args.no_postgres:
            with BenchServer(fsync=True) as server:
                url = server.new_database()
                build_postgres(url, Archive(args.articles))
                bench_postgres(url, archive, frequencies, args.queries, "shared_buffers 128MB (the default)", args.fresh)
                server.restart(f"-c shared_buffers={args.shared_buffers}")
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
                    conn.execute("SELECT pg_prewarm('lexical'), pg_prewarm('lexical_terms')")
                bench_postgres(url, archive, frequencies, args.queries,
                               f"shared_buffers {args.shared_buffers}, the word index read into them")

if __name__ == "__main__":
    main()
