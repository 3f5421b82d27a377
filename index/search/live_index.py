"""The live index of one process: the version on disk, caught up with the store's change log.

Writes reach every process through the store: each one replays the changes after its version's
position (`catch_up`). Searches run side by side; replaying reads the store and the cache without
any lock and holds the index exclusively only to apply what it read. A new version is loaded in the
background of one request while the others answer from the old one, then swapped in one assignment.

Longer than 300 lines on purpose: loading, swapping and replaying share one set of locks, and their
correctness is read in one place.
"""
from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..ann.base import VectorSearch
from ..ann.factory import vector_index
from ..embedding.cached import CachedEmbedder
from ..errors import IndexCorrupt, ModelMismatch
from ..records.stored import StoredArticle
from ..store import snapshots
from ..store.base import Store
from ..text.lexical import FREQUENCIES, Frequencies
from ..text.overlap import from_blob
from .article_words import ARTICLE_WORDS, ArticleWords
from .staleness import ChangeLog

log = logging.getLogger(__name__)

# What a version learnt of its corpus, read from its files: word frequencies and article words.
Learnt = tuple[Frequencies | None, ArticleWords | None]
MIRROR_EVERY = 1.0  # seconds between two looks at the version a shared store publishes
REFERENCE_SIZE = 256  # articles whose vectors stand for "any article" of a version (see `Version.reference`)


class ReadWriteLock:
    """Many readers at once, or one writer; a waiting writer goes before readers that come later."""

    def __init__(self) -> None:
        self._readers = 0
        self._writers = 0  # waiting or writing
        self._cond = threading.Condition()

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._writers)
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self._cond:
            self._writers += 1
            try:
                self._cond.wait_for(lambda: not self._readers)
                yield
            finally:
                self._writers -= 1
                self._cond.notify_all()


@dataclass(frozen=True)
class Version:
    """What a loaded version is: its metadata (None for an index built in memory), the changes
    replayed onto it, and what was learnt of its corpus: the boilerplate shingles, the words'
    document frequencies, and a reference sample of its vectors (what an unrelated article scores
    against a query in this corpus: relatedness reads a cosine against it)."""

    meta: snapshots.SnapshotMeta | None
    replayed: ChangeLog
    common: np.ndarray
    frequencies: Frequencies  # of the words, when it was built (see `lexical`)
    reference: np.ndarray | None = None  # REFERENCE_SIZE vectors drawn from the version at load (None: in memory)
    words: ArticleWords | None = None  # its articles' words as ids (None: in memory, or a version made before them)

    @property
    def name(self) -> str | None:
        return self.meta.version if self.meta else None


class LiveIndex:
    """Search over the articles of one data folder, as of the last `sync`."""

    def __init__(self, root: Path, store: Store, embedder: CachedEmbedder) -> None:
        self.root, self.store, self.embedder = root, store, embedder
        self._index: VectorSearch | None = None
        self._seq = 0
        self.version = Version(None, ChangeLog(0), from_blob(store.get_meta("common_shingles")), Frequencies({}, 0))
        self._stamp: tuple[int, int] | None = None
        self.loaded = False
        self.changed: frozenset[int] = frozenset()  # articles changed since the version was built (replaced, never mutated)
        self._rw = ReadWriteLock()
        self._load_lock = threading.Lock()
        self._catch_up_lock = threading.Lock()
        self._mirror_lock, self._mirrored_at = threading.Lock(), -math.inf
        # Told which article keys a catch-up changed (None: everything, a new version came in).
        self.listeners: list[Callable[[set[int] | None], None]] = []

    # -- reading -----------------------------------------------------------------------------

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        with self._rw.reading():
            return self._index.search(vector, k) if self._index is not None else []

    def search_many(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, keys) of the `k` nearest to each row of `vectors` (-1: no key), in one search."""
        with self._rw.reading():
            if self._index is None:
                return np.zeros((len(vectors), 0), dtype=np.float32), np.zeros((len(vectors), 0), dtype=np.int64)
            return self._index.search_many(vectors, k)

    def vector(self, key: int) -> np.ndarray | None:
        with self._rw.reading():
            return self._index.vector(key) if self._index is not None else None

    def vectors(self, keys: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """The vectors of these keys (one row each, in order) and which of them are stored."""
        with self._rw.reading():
            if self._index is None:
                return np.zeros((len(keys), 0), dtype=np.float32), np.zeros(len(keys), dtype=bool)
            return self._index.vectors(keys)

    def article_words(self) -> tuple[ArticleWords | None, frozenset[int]]:
        """The version's article words, and the articles changed since it was built (theirs are stale)."""
        with self._rw.reading():
            return self.version.words, self.changed

    def __len__(self) -> int:
        with self._rw.reading():
            return len(self._index) if self._index is not None else 0

    @property
    def seq(self) -> int:
        """The change-log position the index holds every change up to."""
        return self._seq

    @property
    def kind(self) -> str | None:
        with self._rw.reading():
            return self._index.kind if self._index is not None else None

    # -- following the store and the versions on disk ---------------------------------------------

    def catch_up(self) -> None:
        """Catch up: copy the version the store publishes into this folder (a replica, at most every
        MIRROR_EVERY seconds), load a newer version on disk, then replay every change the store held
        when this was called.

        While one thread loads a new version the others answer from the current one. A thread that
        finds another catching up waits for it (for its reading only: searches go on meanwhile), since
        that one may have read the change log before the write this request must see.
        """
        self._copy_published_version(wait=False)
        if not self.loaded or self._stamp_now() != self._stamp:
            if self._load_lock.acquire(blocking=not self.loaded):
                try:
                    if not self.loaded or self._stamp_now() != self._stamp:
                        self._load()
                finally:
                    self._load_lock.release()
        last = self.store.last_change()
        if self._seq < last:
            with self._catch_up_lock:
                if self._seq < last:
                    self._replay_changes()

    def load(self) -> None:
        """Load the live version now (a server does before taking traffic)."""
        self._copy_published_version(wait=True)
        with self._load_lock:
            self._load()

    def _copy_published_version(self, wait: bool) -> None:
        """Copy the live version the store publishes (other machines' rebuilds) into this folder, at
        most every MIRROR_EVERY seconds; one thread at a time, the others go on."""
        shared = self.store.versions
        if shared is None or not self._mirror_lock.acquire(blocking=wait):
            return
        try:
            if wait or time.monotonic() - self._mirrored_at >= MIRROR_EVERY:
                shared.mirror(self.root)
                self._mirrored_at = time.monotonic()
        finally:
            self._mirror_lock.release()

    def _load(self) -> None:
        """Load the live version, catch it up with the store, then swap it in. A damaged version
        falls back to an older one, or to an index built from the store."""
        stamp = self._stamp_now()
        meta, index, seq, (frequencies, words) = self._read_version()
        # Drawn from the version as it is on disk, before any replay: every process draws the same. An
        # index built in memory (no rebuild yet) has none: its nulls are the calibration's prior, so its
        # answers do not depend on the order writes came in.
        reference = index.sample(REFERENCE_SIZE) if index is not None and meta is not None else None
        replayed = ChangeLog(seq)
        index, seq, touched = self._caught_up(index, seq, replayed, ReadWriteLock())
        # Frequencies none learnt (an index built in memory, a version made before them): counted now.
        version = Version(meta, replayed, from_blob(self.store.get_meta("common_shingles")),
                          frequencies or self.store.words.frequencies(), reference, words)
        with self._catch_up_lock:
            # What the old index took in meanwhile goes into the new one before anyone can see it.
            index, seq, more = self._caught_up(index, seq, replayed, ReadWriteLock())
            with self._rw.writing():
                self._index, self._seq, self.version, self._stamp, self.loaded = index, seq, version, stamp, True
                self.changed = frozenset(touched | more)
        self._tell(None)

    def _learnt(self, meta: snapshots.SnapshotMeta) -> Learnt:
        """What was learnt with a version (None for a file it was made without); IndexCorrupt naming
        the file when one cannot be read, so that an older version is loaded instead."""
        where = f"index version {meta.version}"
        read = {FREQUENCIES: lambda: Frequencies.from_blob(snapshots.read_extra(self.root, meta.version, FREQUENCIES)),
                ARTICLE_WORDS: lambda: ArticleWords.read(self.root / meta.version / ARTICLE_WORDS, where)}
        learnt = []
        for name, parse in read.items():
            try:
                learnt.append(parse())
            except Exception as exc:  # zlib, json, zip and numpy each raise their own on damaged bytes
                raise IndexCorrupt(f"{where} is damaged: {name} cannot be read ({type(exc).__name__}: {exc})") from exc
        return learnt[0], learnt[1]

    def _read_version(self) -> tuple[snapshots.SnapshotMeta | None, VectorSearch | None, int, Learnt]:
        try:
            loaded = snapshots.load_live_with(self.root, self._learnt)
        except IndexCorrupt as exc:
            log.error("%s; building the index in memory from the store instead", exc.message)
            seq, rows = self.store.snapshot()
            return None, self.index_of(rows), seq, (None, None)
        if loaded is None:
            return None, None, 0, (None, None)
        meta, index, learnt = loaded
        if meta.model != self.embedder.model:
            raise ModelMismatch(
                f"the index was built with model {meta.model!r} but the service is configured with "
                f"{self.embedder.model!r}; run `python -m service rebuild` to re-embed with {self.embedder.model!r}")
        return meta, index, meta.seq, learnt

    def _replay_changes(self) -> None:
        self._index, self._seq, touched = self._caught_up(self._index, self._seq, self.version.replayed, self._rw)
        self.changed = self.changed | touched  # before anyone is told: a row read now must not trust the version
        # An index built in memory (no version: its answers stay in this process) counts its words
        # again once the store has grown a tenth since: every word would look rare in a store that
        # was empty when it loaded.
        if self.version.meta is None and len(self) > 1.1 * self.version.frequencies.total + 10:
            self.version = replace(self.version, frequencies=self.store.words.frequencies())
            touched = None
        self._tell(touched)

    def _tell(self, keys: set[int] | None) -> None:
        for listener in self.listeners:
            listener(keys)

    def _caught_up(self, index: VectorSearch | None, since: int, replayed: ChangeLog,
                   rw: ReadWriteLock) -> tuple[VectorSearch | None, int, set[int]]:
        """Apply the store's changes after `since` to `index` (holding `rw` only to apply them) and
        record them in `replayed`: every vector a changed article had, which decides the answers
        they make stale. Returns the index (created if needed), the new position and the keys of
        the articles that changed (their vector, story or pins)."""
        changes = self.store.changes_since(since)
        present = {key: ek for key, ek in changes.current.items() if ek is not None}
        vectors = self.vectors_for(present)
        # Every vector an article had in between counts too: an answer may have been made with any.
        wanted = {ek for _, ek in changes.stored_with}
        between = self.embedder.cached(list(wanted))
        if len(between) < len(wanted):  # the cache lost one: trust no older answer
            replayed.forget_before(changes.seq)
        with rw.writing():
            old = [(key, index.vector(key) if index is not None else None) for key in changes.current]
            if vectors is not None:
                index = index if index is not None else vector_index(vectors.shape[1])
                index.upsert(list(present), vectors)
            if index is not None:
                index.remove([key for key, ek in changes.current.items() if ek is None])
            shown = [(key, index.vector(key) if index is not None else None) for key in changes.display_only]
        rows = old + [(key, between.get(ek)) for key, ek in changes.stored_with] + shown
        replayed.add(changes.seq, [key for key, _ in rows], [vector for _, vector in rows],
                     [changes.words.get(key, frozenset()) for key, _ in rows])
        return index, changes.seq, set(changes.current) | changes.display_only

    def index_of(self, rows: list[StoredArticle]) -> VectorSearch | None:
        """An index of stored articles, from cached vectors (re-embedding any the cache lost)."""
        vectors = self.vectors_for({s.key: s.embed_key for s in rows})
        if vectors is None:
            return None
        index = vector_index(vectors.shape[1], vectors)
        index.upsert([s.key for s in rows], vectors)
        return index

    def vectors_for(self, embed_keys: dict[int, str]) -> np.ndarray | None:
        """Vectors of stored articles (by key) from the cache, re-embedding any the cache has lost."""
        if not embed_keys:
            return None
        cached = self.embedder.cached(list(embed_keys.values()))
        lost = [key for key, ek in embed_keys.items() if ek not in cached]
        if lost:
            stored = list(self.store.get_by_keys(lost).values())
            embedded = self.embedder.embed([self.embedder.text_of(s.article.headline, s.article.body) for s in stored])
            for s, fresh in zip(stored, embedded.keys):
                cached[embed_keys[s.key]] = embedded.vectors[fresh]
        return np.stack([cached[ek] for ek in embed_keys.values()])

    def _stamp_now(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.root / snapshots.POINTER)
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_mtime_ns
