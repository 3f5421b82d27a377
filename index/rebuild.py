"""The rebuild: every stored article embedded (through the cache) into a new index version, checked,
its boilerplate learnt and its stories regrouped, then made live. One at a time per data folder."""
from __future__ import annotations

import fcntl
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import crash_points
from .ann.base import VectorSearch
from .ann.factory import vector_index
from .ann.faiss_index import new_index
from .embedding.cached import CachedEmbedder, Embedded
from .embedding.models import Progress
from .errors import EngineError, RebuildBusy
from .records.stored import StoredArticle
from .relatedness.stories import connected_groups
from .relatedness.story_links import CopyFinder, CorpusShingles
from .search.article_words import ARTICLE_WORDS, read_article_words
from .store import snapshots
from .store.base import Store
from .text.lexical import FREQUENCIES
from .text.overlap import Fingerprint, fingerprint, to_blob

log = logging.getLogger(__name__)

# A rebuild reports each stage it enters, with its size, and gets back what to call as work is done.
Stages = Callable[[str, int], Progress]
SELF_CHECK_SAMPLE = 20
STORY_CANDIDATES = 20
SCAN_BATCH = 2_000  # articles read (with their bodies) at a time
LINK_BATCH = 50_000  # articles whose neighbours one search finds
# Above this many articles in an exact index, every article's neighbours (n searches of n vectors)
# are found with an approximate index built for the purpose: n² grows past the rest of the rebuild.
EXACT_LINKS_MAX = 50_000
# A shingle found in this many articles is boilerplate (footers, stock phrases), not evidence of reuse.
# A wire story republished by every one of SaudiNewsNet's 14 outlets stays below it.
COMMON_SHINGLE_ARTICLES = 20


@dataclass(frozen=True)
class RebuildSummary:
    articles: int
    embedded: int
    cached: int
    seconds: float
    version: str
    index_type: str

    def line(self) -> str:
        return (f"rebuilt index {self.version}: {self.articles} articles, {self.embedded} embedded, "
                f"{self.cached} from cache, {self.index_type}, {self.seconds:.1f}s")


def no_stages(name: str, size: int) -> Progress:
    return lambda done: None


class Rebuilder:
    """Builds and switches index versions under `root` from `store`, keeping `keep_versions`."""

    def __init__(self, root: Path, store: Store, embedder: CachedEmbedder, keep_versions: int) -> None:
        self.root, self.store, self.embedder, self.keep_versions = root, store, embedder, keep_versions

    def rebuild(self, stages: Stages = no_stages) -> RebuildSummary:
        """Build a new version and make it live, recording how it went (for /metrics)."""
        started = time.monotonic()
        try:
            summary = self._locked(started, stages)
        except RebuildBusy:
            raise  # the running one records its own outcome
        except Exception:
            self._record(started, ok=False)
            raise
        self._record(started, ok=True)
        return summary

    def last(self) -> dict | None:
        """{"seconds", "ok", "at"} of the last rebuild of this data folder, by any process."""
        raw = self.store.get_meta("last_rebuild")
        return json.loads(raw) if raw else None

    def _record(self, started: float, ok: bool) -> None:
        record = {"seconds": round(time.monotonic() - started, 3), "ok": ok, "at": time.time()}
        self.store.set_meta("last_rebuild", json.dumps(record).encode())

    def _locked(self, started: float, stages: Stages) -> RebuildSummary:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".rebuild.lock", "w") as lock_file:
            try:
                fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RebuildBusy("another rebuild is running on this data folder")
            for name in snapshots.remove_dead_temporaries(self.root):
                log.warning("removed %s, left in %s by a write that did not finish", name, self.root)
            if self.store.versions is None:
                return self._build(started, stages)
            with self.store.versions.rebuilding() as alone:
                if not alone:
                    raise RebuildBusy("another rebuild is running on this database")
                return self._build(started, stages)

    def _build(self, started: float, stages: Stages) -> RebuildSummary:
        seq, count, batches = self.store.scan(SCAN_BATCH)
        dim = self.embedder.embedder.dim
        corpus = Corpus(count, dim)
        embedded, progress = 0, stages("embed", count)
        headlines: list[tuple[int, str]] = []  # for the version's article words
        for batch in batches:  # bodies are read a batch at a time, never all at once
            headlines += [(s.key, s.article.headline) for s in batch]
            done = self.embedder.embed([self.embedder.text_of(s.article.headline, s.article.body) for s in batch],
                                       progress)
            embedded += done.embedded
            corpus.add(batch, done)
        crash_points.reached("rebuild:embedded")
        matrix = corpus.matrix
        index = vector_index(dim, matrix)
        index.upsert(corpus.keys, matrix)
        self_check(index, corpus.keys, corpus.ids, matrix)
        self.store.set_embed_keys(corpus.new_embed_keys)
        self.store.set_fingerprints(corpus.new_fingerprints)
        common, story_ids = stories(index, corpus, stages("link", len(corpus.keys)))
        self.store.set_meta("common_shingles", to_blob(common))
        self.store.set_stories([(int(key), story) for key, before, story in zip(corpus.keys, corpus.story_ids, story_ids)
                                if before != story])
        self.store.words.compact()  # one segment: each searched word is read once (bench/word_index.py)
        frequencies = self.store.words.frequencies()
        words = read_article_words(self.store.words, headlines, frequencies)
        meta = snapshots.write_snapshot(self.root, index, self.embedder.model, seq,
                                        {FREQUENCIES: frequencies.to_blob(), ARTICLE_WORDS: words.to_bytes()})
        if self.store.versions is not None:  # replicas on other machines copy it from there
            self.store.versions.publish(self.root, meta.version, self.keep_versions)
        crash_points.reached("rebuild:switched")
        snapshots.prune(self.root, self.keep_versions)
        kept = [snapshots.read_meta(self.root, v) for v in snapshots.versions(self.root)]
        seqs = [m.seq for m in kept if m is not None] + (self.store.versions.kept_seqs() if self.store.versions else [])
        self.store.forget_changes_before(min(seqs))
        return RebuildSummary(articles=len(corpus.keys), embedded=embedded, cached=len(corpus.keys) - embedded,
                              seconds=time.monotonic() - started, version=meta.version, index_type=index.kind)


class Corpus:
    """What a rebuild keeps of every article, read a batch at a time: key, id, publication time,
    story, vector and fingerprint (as flat arrays), and what the store must be told of (new embedding
    keys, fingerprints of rows stored before they existed)."""

    def __init__(self, count: int, dim: int) -> None:
        self._matrix = np.empty((count, dim), dtype=np.float32)
        self._keys: list[int] = []
        self.ids: list[str] = []
        self.published: list[str | None] = []
        self.story_ids: list[str] = []
        self.shingles = CorpusShingles()
        self.new_embed_keys: list[tuple[int, str]] = []
        self.new_fingerprints: list[tuple[int, Fingerprint]] = []

    def add(self, rows: list[StoredArticle], embedded: Embedded) -> None:
        start = len(self._keys)
        if rows:
            self._matrix[start : start + len(rows)] = embedded.matrix()
        fingerprints = []
        for s, embed_key in zip(rows, embedded.keys):
            self._keys.append(s.key)
            self.ids.append(s.article.id)
            self.published.append(s.article.published_at)
            self.story_ids.append(s.story_id)
            if s.embed_key != embed_key:
                self.new_embed_keys.append((s.key, embed_key))
            fp = s.fingerprint
            if fp is None:  # stored before fingerprints existed
                fp = fingerprint(s.article.headline, s.article.body)
                self.new_fingerprints.append((s.key, fp))
            fingerprints.append(fp)
        self.shingles.add(fingerprints)

    @property
    def keys(self) -> np.ndarray:
        return np.asarray(self._keys, dtype=np.int64)

    @property
    def matrix(self) -> np.ndarray:
        return self._matrix[: len(self._keys)]


def stories(index: VectorSearch, corpus: Corpus, progress: Progress) -> tuple[np.ndarray, list[str]]:
    """The corpus's common shingles, and story ids for all its articles: groups of articles linked by
    text reuse among their nearest neighbours (STORY_CANDIDATES of them, each article's own search)."""
    keys = corpus.keys
    finder = CopyFinder(corpus.shingles, COMMON_SHINGLE_ARTICLES)
    if not len(keys):
        return finder.common, []
    if index.kind == "flat" and len(keys) > EXACT_LINKS_MAX:
        index = new_index(index.dim, corpus.matrix, force="hnsw")
        index.upsert(keys, corpus.matrix)
    order = np.argsort(keys, kind="stable")  # positions by key (the store reads them in key order)
    by_key = keys[order]
    links = []
    for start in range(0, len(keys), LINK_BATCH):
        _, found = index.search_many(corpus.matrix[start : start + LINK_BATCH], STORY_CANDIDATES + 1)
        first = np.repeat(np.arange(start, start + len(found)), found.shape[1])
        at = np.minimum(np.searchsorted(by_key, found.ravel()), len(keys) - 1)
        second = np.where(by_key[at] == found.ravel(), order[at], -1)  # -1: no key, or one not in this corpus
        keep = (second >= 0) & (second != first)
        first, second = first[keep], second[keep]
        copies = finder.copies(first, second)
        links.extend(zip(first[copies].tolist(), second[copies].tolist()))
        progress(len(found))
    roots = connected_groups(len(keys), links)
    name: dict[int, str] = {}
    for i in sorted(range(len(keys)), key=lambda i: (corpus.published[i] or "9999", keys[i])):  # as first_published
        name.setdefault(roots[i], corpus.ids[i])
    return finder.common, [name[root] for root in roots]


def self_check(index: VectorSearch, keys: np.ndarray, ids: list[str], vectors: np.ndarray) -> None:
    """A sample of articles, searched with their own vectors, must find themselves first (ties with
    exact copies allowed): an approximate index that misses them, or keys mixed up, fail here."""
    if len(index) != len(keys):
        raise EngineError(f"new index holds {len(index)} vectors for {len(keys)} articles")
    step = max(1, len(keys) // SELF_CHECK_SAMPLE)
    for i in range(0, len(keys), step):
        if not index.finds_itself(int(keys[i]), vectors[i]):
            raise EngineError(f"self-check failed: article {ids[i]!r} does not find itself first")
