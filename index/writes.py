"""Writes: articles stored (the store is the source of truth), then linked to the stories of their
duplicates (in batches: one index search for many articles), or left for the next rebuild to link
(a bulk import); deletes; a CMS export reconciled; an editor's pins."""
from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import crash_points
from .embedding.cached import CachedEmbedder
from .embedding.models import Progress
from .errors import InvalidInput, NotFound
from .prepared import Prepared, prepare, unique_by_id, with_language
from .records.article import Article, valid_id
from .records.stored import StoredArticle
from .relatedness.relations import DUPLICATES, relate
from .relatedness.stories import first_published
from .search.query import SimilarSearch
from .store.base import Store
from .text.overlap import without_common

log = logging.getLogger(__name__)

MAX_PINS = 20
STORY_CANDIDATES = 20  # nearest neighbours checked for text reuse when an article is stored
LINK_BATCH = 1_000  # articles linked with one index search


class Writer:
    """Every change to the articles of one data folder goes through here."""

    def __init__(self, store: Store, embedder: CachedEmbedder, search: SimilarSearch) -> None:
        self.store, self.embedder, self.search = store, embedder, search

    def upsert(self, articles: Sequence[Article], progress: Progress | None = None) -> list[str]:
        """Store and index articles (insert or replace by id); returns the ids, each once."""
        unique = {a.id: a for a in articles}.values()
        return self.write([prepare(a, self.embedder.lead_words) for a in unique], progress)

    def write(self, prepared: Sequence[Prepared], progress: Progress | None = None, link: bool = True,
              vectors: np.ndarray | None = None) -> list[str]:
        """Store prepared articles (see `prepared`) in one transaction, embedding those the cache
        lacks; then link them to their duplicates' stories, or (`link=False`, a bulk import) leave
        that to the next rebuild, which regroups every story: until then each is a story of its own.

        Args:
            vectors: the articles' unit vectors, one row each, made elsewhere: cached, none embedded.
        Returns the ids, each once.
        """
        if vectors is not None:
            latest = {p.article.id: i for i, p in enumerate(prepared)}
            rows = sorted(latest.values())
            unique = [prepared[i] for i in rows]
            keys = self.embedder.put([p.embed_text for p in unique], vectors[rows])
            if progress:
                progress(len(unique))
        else:
            unique = unique_by_id(prepared)
            keys = self.embedder.embed([p.embed_text for p in unique], progress).keys
        ids = [p.article.id for p in unique]
        with self.store.writing():
            self.store.upsert([p.article for p in unique], keys, [p.fingerprint for p in unique],
                              [p.terms for p in unique], linked=not link)
            crash_points.reached("ingest:stored")
            if link:
                self.search.live.catch_up()
                self.link_stories(ids)
        self.repair_links()  # a dead writer's articles, if no other writer is at work now
        return ids

    def link_stories(self, article_ids: Sequence[str]) -> None:
        """Join stored articles to the stories of their duplicates, LINK_BATCH articles a search."""
        for start in range(0, len(article_ids), LINK_BATCH):
            part = article_ids[start : start + LINK_BATCH]
            found = self.store.get_many(part)
            stored = [found[i] for i in part if i in found]  # one deleted meanwhile by another writer is not
            for article, matches in zip(stored, self._duplicates(stored)):
                if matches:
                    self._join(article, matches)
            self.store.mark_linked(part)

    def repair_links(self) -> int:
        """Link the articles a writer stored but died before linking; returns how many there were.

        Only while no writer is at work (their unlinked articles are their own to link): then every
        unlinked article is a dead writer's.
        """
        with self.store.writing(exclusive=True) as alone:
            pending = self.store.unlinked_ids() if alone else []
            if pending:
                log.warning("linking %d articles stored by a writer that stopped before linking them", len(pending))
                self.search.live.catch_up()
                self.link_stories(pending)
        return len(pending)

    def _duplicates(self, stored: list[StoredArticle]) -> list[list[int]]:
        """The keys of each article's duplicates and near-duplicates among its STORY_CANDIDATES
        nearest neighbours, found with one search for all of them."""
        if not stored:
            return []
        vectors = np.stack([self.search.vector_of(s) for s in stored])
        scores, keys = self.search.live.search_many(vectors, STORY_CANDIDATES + 1)
        hits = [[(int(k), float(score)) for k, score in zip(row_keys, row_scores) if k != -1 and k != s.key]
                [:STORY_CANDIDATES] for s, row_keys, row_scores in zip(stored, keys, scores)]
        # Only fingerprints are compared: no body is read.
        candidates = self.store.get_by_keys(list({key for row in hits for key, _ in row}), body_chars=0)
        common = self.search.live.version.common
        cleaned = {key: without_common(c.fingerprint, common) for key, c in candidates.items()
                   if c.fingerprint is not None}
        found = []
        for s, row in zip(stored, hits):
            query = without_common(s.fingerprint, common)
            found.append([key for key, score in row if key in cleaned and relate(
                query, cleaned[key], score, floor=self.search.related_floor).relation in DUPLICATES])
        return found

    def _join(self, stored: StoredArticle, matches: list[int]) -> None:
        """Join an article to the stories of its duplicates (merging them), as they are now: an
        earlier article of the batch may have merged some."""
        now = self.store.get_by_keys([stored.key, *matches], body_chars=0)
        if stored.key not in now:  # deleted meanwhile by another writer
            return
        members = {m.key: m for m in self.store.story_members([now[k].story_id for k in matches if k in now])}
        members[stored.key] = now[stored.key]
        name = first_published(list(members.values())).article.id
        self.store.set_stories([(key, name) for key, m in members.items() if m.story_id != name or key == stored.key])

    def reconcile(self, export: Sequence[Article], prune: bool = False, progress: Progress | None = None) -> dict[str, int]:
        """Make the store match a full export from the CMS: new and changed articles are upserted,
        unchanged ones left alone; articles missing from the export are removed only with `prune`."""
        latest = {a.id: with_language(a) for a in export}
        stored = self.store.get_many(list(latest))
        changed = [a for a in latest.values() if a.id not in stored or stored[a.id].article != a]
        for start in range(0, len(changed), 256):
            self.upsert(changed[start : start + 256], progress)
        removed = 0
        if prune:
            removed = sum(self.store.delete(i) for i in self.store.all_ids() if i not in latest)
            self.search.live.catch_up()
        return {"upserted": len(changed), "unchanged": len(latest) - len(changed), "removed": removed}

    def delete(self, article_id: str) -> None:
        if not self.store.delete(article_id):
            raise NotFound(f"no article with id {article_id!r}", "id")
        self.search.live.catch_up()

    def pins(self, article_id: str) -> list[str]:
        self.search.stored(article_id)
        return [s.article.id for s in self.store.pinned(article_id)]

    def set_pins(self, article_id: str, ids: Any) -> list[str]:
        """Pin stored articles (in this order) at the top of an article's similar stories."""
        self.search.stored(article_id)
        if not isinstance(ids, list) or len(ids) > MAX_PINS or not all(valid_id(i) for i in ids):
            raise InvalidInput(f"'ids' must be a list of at most {MAX_PINS} article ids", "ids")
        if article_id in ids:
            raise InvalidInput("an article cannot be pinned to itself", "ids")
        unique = list(dict.fromkeys(ids))
        known = self.store.get_many(unique)
        unknown = [i for i in unique if i not in known]
        if unknown:
            raise InvalidInput(f"'ids' holds unknown article ids: {', '.join(unknown[:5])}", "ids")
        self.store.set_pins(article_id, unique)
        return unique


__all__ = ["Writer"]
