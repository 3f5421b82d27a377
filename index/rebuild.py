"""The rebuild: every stored article embedded (through the cache) into a new index version, checked,
its boilerplate learnt and its stories regrouped, then made live. One at a time per data folder."""
from __future__ import annotations

import fcntl
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np

from . import crash_points, snapshots
from .backends import Store, VectorSearch, vector_index
from .embedders import Progress
from .embedding import CachedEmbedder
from .errors import EngineError, RebuildBusy
from .article_words import ARTICLE_WORDS, read_article_words
from .lexical import FREQUENCIES
from .overlap import common_shingles, to_blob
from .relations import DUPLICATES, fingerprint, relate, without_common
from .store import StoredArticle
from .stories import connected_groups, first_published

# A rebuild reports each stage it enters, with its size, and gets back what to call as work is done.
Stages = Callable[[str, int], Progress]
SELF_CHECK_SAMPLE = 20
STORY_CANDIDATES = 20
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
            if self.store.versions is None:
                return self._build(started, stages)
            with self.store.versions.rebuilding() as alone:
                if not alone:
                    raise RebuildBusy("another rebuild is running on this database")
                return self._build(started, stages)

    def _build(self, started: float, stages: Stages) -> RebuildSummary:
        seq, rows = self.store.snapshot()
        embedded = self.embedder.embed([self.embedder.text_of(s.article.headline, s.article.body) for s in rows],
                                       stages("embed", len(rows)))
        crash_points.reached("rebuild:embedded")
        dim = self.embedder.embedder.dim
        matrix = embedded.matrix() if rows else np.empty((0, dim), dtype=np.float32)
        index = vector_index(dim, matrix)
        index.upsert([s.key for s in rows], matrix)
        self_check(index, rows, matrix)
        self.store.set_embed_keys([(s.key, k) for s, k in zip(rows, embedded.keys) if s.embed_key != k])
        rows = self._with_fingerprints(rows)
        common = common_shingles([np.union1d(s.fingerprint.body_shingles, s.fingerprint.headline_shingles)
                                  for s in rows], COMMON_SHINGLE_ARTICLES)
        self.store.set_meta("common_shingles", to_blob(common))
        story_ids = stories(index, rows, common, stages("link", len(rows)))
        self.store.set_stories([(s.key, story) for s, story in zip(rows, story_ids) if s.story_id != story])
        frequencies = self.store.words.frequencies()
        words = read_article_words(self.store.words, [(s.key, s.article.headline) for s in rows], frequencies)
        meta = snapshots.write_snapshot(self.root, index, self.embedder.model, seq,
                                        {FREQUENCIES: frequencies.to_blob(), ARTICLE_WORDS: words.to_bytes()})
        if self.store.versions is not None:  # replicas on other machines copy it from there
            self.store.versions.publish(self.root, meta.version, self.keep_versions)
        crash_points.reached("rebuild:switched")
        snapshots.prune(self.root, self.keep_versions)
        kept = [snapshots.read_meta(self.root, v) for v in snapshots.versions(self.root)]
        seqs = [m.seq for m in kept if m is not None] + (self.store.versions.kept_seqs() if self.store.versions else [])
        self.store.forget_changes_before(min(seqs))
        return RebuildSummary(articles=len(rows), embedded=embedded.embedded, cached=len(rows) - embedded.embedded,
                              seconds=time.monotonic() - started, version=meta.version, index_type=index.kind)

    def _with_fingerprints(self, rows: list[StoredArticle]) -> list[StoredArticle]:
        """Rows with a fingerprint each, computing and storing those missing (data from before them)."""
        missing = [(s.key, fingerprint(s.article.headline, s.article.body)) for s in rows if s.fingerprint is None]
        self.store.set_fingerprints(missing)
        computed = dict(missing)
        return [replace(s, fingerprint=computed[s.key]) if s.key in computed else s for s in rows]


def stories(index: VectorSearch, rows: list[StoredArticle], common: np.ndarray, progress: Progress) -> list[str]:
    """Story ids for all rows: groups of articles linked by text reuse among their nearest neighbours."""
    if not rows:
        return []
    position = {s.key: i for i, s in enumerate(rows)}
    cleaned = [without_common(s.fingerprint, common) for s in rows]
    scores, keys = index.search_many(np.stack([index.vector(s.key) for s in rows]), STORY_CANDIDATES + 1)
    links = []
    for i in range(len(rows)):
        for key, score in zip(keys[i], scores[i]):
            j = position.get(int(key))
            if j is not None and j != i and relate(cleaned[i], cleaned[j], float(score)).relation in DUPLICATES:
                links.append((i, j))
        progress(1)
    roots = connected_groups(len(rows), links)
    groups: dict[int, list[StoredArticle]] = {}
    for i, root in enumerate(roots):
        groups.setdefault(root, []).append(rows[i])
    name = {root: first_published(members).article.id for root, members in groups.items()}
    return [name[root] for root in roots]


def self_check(index: VectorSearch, rows: list[StoredArticle], vectors: np.ndarray) -> None:
    """A sample of articles, searched with their own vectors, must find themselves first (ties with
    exact copies allowed): an approximate index that misses them, or keys mixed up, fail here."""
    if len(index) != len(rows):
        raise EngineError(f"new index holds {len(index)} vectors for {len(rows)} articles")
    step = max(1, len(rows) // SELF_CHECK_SAMPLE)
    for i in range(0, len(rows), step):
        if not index.finds_itself(rows[i].key, vectors[i]):
            raise EngineError(f"self-check failed: article {rows[i].article.id!r} does not find itself first")
