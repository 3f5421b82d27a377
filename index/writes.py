"""Writes: articles stored (the store is the source of truth), then linked to the stories of their
duplicates; deletes; a CMS export reconciled; an editor's pins."""
from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Sequence

from . import crash_points
from .article import Article, valid_id
from .backends import Store
from .embedders import Progress
from .embedding import CachedEmbedder
from .errors import InvalidInput, NotFound
from .query import SimilarSearch
from .relations import DUPLICATES, fingerprint
from .stories import first_published
from .text import detect_language

log = logging.getLogger(__name__)

MAX_PINS = 20
STORY_CANDIDATES = 20  # nearest neighbours checked for text reuse when an article is stored


class Writer:
    """Every change to the articles of one data folder goes through here."""

    def __init__(self, store: Store, embedder: CachedEmbedder, search: SimilarSearch) -> None:
        self.store, self.embedder, self.search = store, embedder, search

    def upsert(self, articles: Sequence[Article], progress: Progress | None = None) -> list[str]:
        """Store and index articles (insert or replace by id); returns the ids, each once."""
        unique = [with_language(a) for a in {a.id: a for a in articles}.values()]
        embedded = self.embedder.embed([self.embedder.text_of(a.headline, a.body) for a in unique], progress)
        with self.store.writing():
            self.store.upsert(unique, embedded.keys, [fingerprint(a.headline, a.body) for a in unique])
            crash_points.reached("ingest:stored")
            self.search.live.sync()
            self.link_stories([a.id for a in unique])
        self.repair_links()  # a dead writer's articles, if no other writer is at work now
        return [a.id for a in unique]

    def link_stories(self, article_ids: Sequence[str]) -> None:
        for article_id in article_ids:
            self._link_story(article_id)
        self.store.mark_linked(article_ids)

    def repair_links(self) -> int:
        """Link the articles a writer stored but died before linking; returns how many there were.

        Only while no writer is at work (their unlinked articles are their own to link): then every
        unlinked article is a dead writer's.
        """
        with self.store.writing(exclusive=True) as alone:
            pending = self.store.unlinked_ids() if alone else []
            if pending:
                log.warning("linking %d articles stored by a writer that stopped before linking them", len(pending))
                self.search.live.sync()
                self.link_stories(pending)
        return len(pending)

    def _link_story(self, article_id: str) -> None:
        """Join an article to the stories of its duplicates and near-duplicates (merging them)."""
        stored = self.store.get(article_id)
        if stored is None:  # deleted meanwhile by another writer
            return
        vector = self.search.vector_of(stored)
        matches = [n for n in self.search.neighbours(stored.fingerprint, vector, STORY_CANDIDATES, stored.key)
                   if n.relation.relation in DUPLICATES]
        if not matches:
            return
        members = {m.key: m for m in self.store.story_members([n.story_id for n in matches])}
        members[stored.key] = stored
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
            self.search.live.sync()
        return {"upserted": len(changed), "unchanged": len(latest) - len(changed), "removed": removed}

    def delete(self, article_id: str) -> None:
        if not self.store.delete(article_id):
            raise NotFound(f"no article with id {article_id!r}", "id")
        self.search.live.sync()

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


def with_language(article: Article) -> Article:
    """The article with its language detected from headline and lead when the CMS gave none."""
    if article.language:
        return article
    return replace(article, language=detect_language(f"{article.headline} {article.body[:1000]}"))
