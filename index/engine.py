"""The engine: one data folder's articles, searchable, through a small facade over its parts.

- `embedding.cached.CachedEmbedder`: texts to vectors, each embedded once per model (the cache);
- `search.live_index.LiveIndex`: the index version on disk caught up with the store's change log;
- `search.query.SimilarSearch`: the query path (candidates, relations, filters, ranking, stories);
- `answers.similar.SimilarAnswers`: GET similar answers kept while current, and warmed;
- `writes.Writer`: writes and story links; `rebuild.Rebuilder`: new index versions.

Writes go to the store first (the source of truth) and reach every process's index through the
store's change log. Each public read catches up with it once (`catch_up`), at its start.

Longer than 300 lines on purpose: it is the one entry point of `service/`, one short method per
operation the API and the commands offer, each delegating to a part; its length is that list.
"""
from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from .answers.cache import AnswerCache
from .answers.similar import SimilarAnswers
from .calibrate import Judged, fit_calibration, judged_pairs
from .embedding.backfill import Backfill, backfill
from .embedding.cached import CachedEmbedder
from .embedding.models import DEFAULT_MODEL, Embedder, Progress, related_floor_of
from .errors import DataDirUnusable, StoreUnavailable
from .rebuild import Rebuilder, RebuildSummary, Stages, no_stages
from .records.article import Article
from .records.options import SimilarOptions, options_from
from .records.stored import StoredArticle
from .relatedness.model import CALIBRATIONS, Calibration, load_calibration, save_calibration
from .relatedness.relations import relate
from .search.live_index import LiveIndex
from .search.present import draft_answer, duplicate_items, public_fields, similar_items
from .search.query import Neighbour, SimilarSearch
from .store.factory import Backend
from .text.overlap import fingerprint
from .text.prepare import DEFAULT_LEAD_WORDS
from .threads import one_blas_thread
from .writes import Writer

__all__ = ["Engine", "RebuildSummary", "public_fields"]

log = logging.getLogger(__name__)

ANSWER_CACHE_SIZE = 2048  # GET similar answers kept in memory per process (the shared file keeps more)
DUPLICATE_CANDIDATES = 50  # nearest neighbours checked for text reuse (never all pairs)


def check_writable(folder: Path) -> None:
    """Create `folder` if needed and make (and remove) a file in it: a read-only data folder would
    otherwise fail later, on a lock or a write, with a traceback instead of a sentence."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(prefix=".write-check-", dir=folder)
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        raise DataDirUnusable(f"DATA_DIR {folder} is not writable: {exc.strerror or exc}; make it writable by the "
                              f"user the service runs as (uid {os.geteuid()}), or set DATA_DIR to a writable folder"
                              ) from None


class Engine:
    """Similar stories and duplicates over the articles of one data folder.

    Args:
        data_dir: folder holding the SQLite store and the index versions (see `database_url`).
        model: embedder name (see `create_embedder`); recorded with every index version.
        lead_words: how many words of the body are embedded after the headline.
        embedding_cache: path of the embedding cache (default: inside `data_dir`).
        keep_versions: how many index versions a rebuild keeps on disk.
        embedder: an already-built embedder (tests share one); must match `model`.
        related_floor: cosine below which an article is not related (default: measured for the model).
        database_url: a `postgresql://` URL: the store, the embedding cache, the shared answers and
            the index versions are there, shared with other machines; `data_dir` keeps this
            machine's copy of the live version.
    """

    def __init__(self, data_dir: Path | str, model: str = DEFAULT_MODEL, lead_words: int = DEFAULT_LEAD_WORDS,
                 embedding_cache: Path | str | None = None, keep_versions: int = 3, embedder: Embedder | None = None,
                 related_floor: float | None = None, database_url: str | None = None) -> None:
        one_blas_thread()
        self.data_dir = Path(data_dir)
        check_writable(self.data_dir)
        self.model, self.keep_versions = model, keep_versions
        self.related_floor = related_floor_of(model) if related_floor is None else related_floor
        self.index_root = self.data_dir / "index"
        self.backend = Backend(self.data_dir, database_url, Path(embedding_cache) if embedding_cache else None)
        self.store = self.backend.store
        self._agreement: tuple[tuple[str, int] | None, str | None] = (None, None)  # (version, seq) checked, outcome
        self._reported: str | None = None  # the store problem last logged
        self._counted: tuple[int, int] | None = None  # (change-log position, articles) of the last count
        self.cache = self.backend.embedding_cache
        self.embedding = CachedEmbedder(model, self.cache, lead_words, embedder)
        self.live = LiveIndex(self.index_root, self.store, self.embedding)
        self.calibration_dir = self.data_dir / "calibration"  # a publisher's own (`calibrate`), before the shipped
        self.search = SimilarSearch(self.live, self.store, self.related_floor,
                                    load_calibration(model, (self.calibration_dir, CALIBRATIONS)))
        if self.search.calibration is None:
            log.warning("model %r has no calibration: similar stories are ranked by cosine above its related floor "
                        "(%s) and carry no relatedness; fit one with `python -m service calibrate JUDGED.jsonl`",
                        model, "none" if self.related_floor <= -1 else f"{self.related_floor:g}")
        self.answers = SimilarAnswers(AnswerCache(self.backend.answers, ANSWER_CACHE_SIZE), self.search)
        self.writer = Writer(self.store, self.embedding, self.search)
        self.rebuilder = Rebuilder(self.index_root, self.store, self.embedding, keep_versions)
        self._on_answer: Callable[[str], None] | None = None

    def observe(self, on_embed: Callable[[int, float], None] | None = None,
                on_answer: Callable[[str], None] | None = None) -> None:
        """Hooks for metrics: (texts, seconds) of each embedding; where each similar answer came from."""
        self.embedding.on_embed, self._on_answer = on_embed, on_answer

    def share_answers(self, option_sets: Sequence[SimilarOptions]) -> None:
        """The option sets whose answers go to the file every process shares (pages ask for these)."""
        self.answers.shared_options = frozenset(option_sets)

    # -- embedding -------------------------------------------------------------------------------

    @property
    def embedder(self) -> Embedder:
        return self.embedding.embedder

    def text_of(self, headline: str, body: str) -> str:
        """What is embedded for an article, and cached under: headline and lead."""
        return self.embedding.text_of(headline, body)

    def backfill(self, articles: Sequence[Article] | None = None, ray_address: str | None = None, workers: int = 1,
                 progress: Progress | None = None) -> Backfill:
        """Embed into the cache what it lacks of these articles (None: every stored one), here or on
        the Ray cluster at `ray_address` (see `backfill`)."""
        if articles is None:
            articles = [s.article for s in self.store.snapshot()[1]]
        texts = [self.text_of(a.headline, a.body) for a in articles]
        return backfill(self.embedding, texts, ray_address, workers, progress)

    def seed_embeddings(self, path: Path) -> int:
        """Seed the embedding cache from a vectors file of this engine's model (0 if another made it)."""
        return self.embedding.seed(path)

    # -- the index ------------------------------------------------------------------------------

    def load(self) -> None:
        """Load the live index version and catch it up (a server does this before taking traffic)."""
        self.live.load()
        self.store_problem()  # logged now, at start, if there is one

    def catch_up(self) -> None:
        """Catch up with a newer version (copied from the store's when it publishes them) and the store's
        newer changes (see `LiveIndex.catch_up`)."""
        self.live.catch_up()

    @property
    def ready(self) -> bool:
        """True once an index (or the knowledge that there is none yet) is loaded, over a store that
        can be trusted (see `not_ready_because`)."""
        return self.not_ready_because() is None

    def not_ready_because(self) -> str | None:
        """Why this engine must not take traffic (a load balancer asks), or None."""
        if not self.live.loaded:
            return "the index is not loaded yet"
        return self.store_problem()

    def store_problem(self) -> str | None:
        """Why the store cannot be trusted, or None: its file removed or replaced under this process
        (writes would go to a file nobody reads again), or it holds fewer changes than the loaded index
        version was built from (a store removed and started afresh, or an older copy put back). Logged
        as an error the first time it is seen. Costs a `stat`, and a count once per change-log position."""
        problem = self.store.lost() or self._behind_index()
        if problem is not None and problem != self._reported:
            log.error("%s", problem)
        self._reported = problem
        return problem

    def _behind_index(self) -> str | None:
        meta, seq = self.live.version.meta, self.live.seq
        if meta is None:
            return None
        if self._agreement[0] != (meta.version, seq):
            # A version's seq is the store's change-log position it was built at; the log only grows
            # (deletes are changes too), so a store behind it, or empty at it, is not the one it was built from.
            behind = seq < meta.seq or (seq == meta.seq and meta.count > 0 and self._article_count() == 0)
            found = (f"the article store {self.backend.store_name} holds {self._article_count()} articles and changes up to "
                     f"{seq}, but index version {meta.version} was built from {meta.count} articles and changes up "
                     f"to {meta.seq}: the store was removed or replaced (an empty or older copy); put back the store "
                     "the index was built from, or run `python -m service rebuild` to index what the store holds"
                     ) if behind else None
            self._agreement = ((meta.version, seq), found)
        return self._agreement[1]

    def _usable_store(self) -> None:
        """Refuse to write to, or answer from, a store that cannot be trusted (see `store_problem`)."""
        problem = self.store_problem()
        if problem is not None:
            raise StoreUnavailable(problem)

    def rebuild(self, stages: Stages | None = None) -> RebuildSummary:
        """Re-embed (through the cache) every stored article into a new index version and make it live.
        `stages` hears of each stage (`embed`, then `link`) with its number of articles."""
        summary = self.rebuilder.rebuild(stages or no_stages)
        self.live.catch_up()
        self.answers.forget_other_versions()
        return summary

    def last_rebuild(self) -> dict[str, Any] | None:
        return self.rebuilder.last()

    def health(self) -> dict[str, Any]:
        self.live.catch_up()
        meta = self.live.version.meta
        calibration = self.search.calibration
        return {"articles": self._article_count(), "indexed": len(self.live), "model": self.model,
                "index_version": meta.version if meta else None, "index_built_at": meta.built_at if meta else None,
                "index_type": self.live.kind,
                "relatedness": {"calibrated": calibration is not None,
                                "floor": calibration.floor if calibration else None,
                                "source": calibration.source if calibration else None}}

    def _article_count(self) -> int:
        """The store's article count, counted again only when the store has changed (a count reads every
        row: 5 ms at a million articles, too much for what load balancers poll every few seconds)."""
        seq = self.live.seq
        counted = self._counted
        if counted is None or counted[0] != seq:
            counted = self._counted = (seq, self.store.count())
        return counted[1]

    # -- calibration -------------------------------------------------------------------------------

    def judged(self, pairs: Sequence[tuple[str, str, int]]) -> Judged:
        """Judged pairs (query id, candidate id, label 0-2) of stored articles with their evidence over
        this index (see `calibrate.judged_pairs`)."""
        self.live.catch_up()
        return judged_pairs(self.search, pairs)

    def calibrate(self, pairs: Sequence[tuple[str, str, int]], target: float = 0.85,
                  features: Sequence[str] | None = None, source: str = "") -> tuple[Calibration, Path]:
        """Fit this model's calibration on judged pairs of this index (see `calibrate.fit_calibration`),
        write it into the data folder and use it from now on; returns it and its path."""
        kwargs = {"features": tuple(features)} if features else {}
        calibration = fit_calibration(self.model, self.judged(pairs), target=target, source=source, **kwargs)
        path = save_calibration(calibration, self.calibration_dir)
        self.search.calibration = calibration
        return calibration, path

    # -- writes ----------------------------------------------------------------------------------

    def upsert(self, articles: Sequence[Article], progress: Progress | None = None) -> list[str]:
        """Store and index articles (insert or replace by id); returns the ids, each once."""
        self._usable_store()
        return self.writer.upsert(articles, progress)

    def reconcile(self, export: Sequence[Article], prune: bool = False, progress: Progress | None = None) -> dict[str, int]:
        self._usable_store()
        return self.writer.reconcile(export, prune, progress)

    def delete(self, article_id: str) -> None:
        self._usable_store()
        self.writer.delete(article_id)

    def repair_links(self) -> int:
        """Link the articles a writer stored but died before linking; returns how many there were."""
        return self.writer.repair_links()

    def pins(self, article_id: str) -> dict[str, Any]:
        return {"article_id": article_id, "ids": self.writer.pins(article_id)}

    def set_pins(self, article_id: str, ids: Any) -> dict[str, Any]:
        """Pin stored articles (in this order) at the top of an article's similar stories."""
        self._usable_store()
        return {"article_id": article_id, "ids": self.writer.set_pins(article_id, ids)}

    def clear_pins(self, article_id: str) -> None:
        self._usable_store()
        self.writer.set_pins(article_id, [])

    # -- reads -----------------------------------------------------------------------------------

    def get(self, article_id: str) -> StoredArticle:
        return self.search.stored(article_id)

    def similar(self, article_id: str, options: SimilarOptions | None = None, **overrides: Any) -> dict[str, Any]:
        """The stored articles most similar to a stored one, best first, never itself.

        By default the article's own duplicates are left out and near-duplicates among the results
        collapse into one item carrying `also`; `duplicates="include"` shows every item instead.
        Keyword overrides (k=5, section="sport" ...) are checked like request parameters.
        """
        return self.answer(article_id, options_from(overrides, options or SimilarOptions(), {}))[0]

    def answer(self, article_id: str, options: SimilarOptions) -> tuple[dict[str, Any], str]:
        """The similar answer and where it came from: "memory", "shared" (file), "sliced" or "computed"."""
        self.live.catch_up()
        self._usable_store()  # never an answer kept from a store that is gone
        body, source = self.answers.answer(article_id, options)
        if self._on_answer:  # requests only: answers a rebuild warms are not counted
            self._on_answer(source)
        return body, source

    def fresh_answer(self, article_id: str, options: SimilarOptions) -> dict[str, Any]:
        """The similar answer computed now, past every cache."""
        self.live.catch_up()
        return self.answers.compute(self.get(article_id), options)[0]

    def warm(self, option_sets: Sequence[SimilarOptions], newest: int, progress: Progress | None = None) -> int:
        """Compute the answers pages will ask for (see `SimilarAnswers.warm`); returns how many."""
        self.live.catch_up()
        return self.answers.warm(option_sets, newest, progress)

    def similar_to_text(self, headline: str, body: str = "", options: SimilarOptions | None = None,
                        **overrides: Any) -> dict[str, Any]:
        """The stored articles most similar to a text that is not stored (an editor's draft)."""
        options = options_from(overrides, options or SimilarOptions(), {})
        self.live.catch_up()
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        query = self.search.draft_query(headline, body, self.embedding.embed_article(headline, body), now)
        return draft_answer(headline, similar_items(query, self.search.items(query, options)[0]))

    def neighbours(self, article_id: str, depth: int) -> list[Neighbour]:
        """The `depth` nearest stored articles to a stored one, with their relation to it."""
        self.live.catch_up()
        stored = self.get(article_id)
        return self.search.neighbours(stored.fingerprint, self.search.vector_of(stored), depth, stored.key)

    def vector(self, article_id: str) -> np.ndarray:
        self.live.catch_up()
        return self.search.vector_of(self.get(article_id))

    def duplicates(self, article_id: str) -> dict[str, Any]:
        """Stored duplicates and near-duplicates of a stored article (its story and its neighbours)."""
        self.live.catch_up()
        stored = self.get(article_id)
        return {"article": {"id": stored.article.id, "headline": stored.article.headline, "story_id": stored.story_id},
                "items": duplicate_items(self.search.duplicates(stored, DUPLICATE_CANDIDATES))}

    def duplicates_of_text(self, headline: str, body: str = "") -> dict[str, Any]:
        """Has this draft already run? Its stored duplicates and near-duplicates."""
        self.live.catch_up()
        vector = self.embedding.embed_article(headline, body)
        found = self.search.neighbours(fingerprint(headline, body), vector, DUPLICATE_CANDIDATES, None)
        return draft_answer(headline, duplicate_items(found))

    def compare(self, a: tuple[str, str], b: tuple[str, str]) -> dict[str, Any]:
        """The relation of two texts, each (headline, body), with score and overlap."""
        vector_a, vector_b = self.embedding.embed_article(*a), self.embedding.embed_article(*b)
        result = relate(fingerprint(*a), fingerprint(*b), float(vector_a @ vector_b), self.live.version.common,
                        self.related_floor)
        return {**result.to_dict(), "compared": result.compared}

    def list_articles(self, text: str = "", limit: int = 20, offset: int = 0) -> dict[str, Any]:
        total, rows = self.store.search_headlines(text, limit, offset)
        return {"total": total, "items": [public_fields(s) for s in rows]}
