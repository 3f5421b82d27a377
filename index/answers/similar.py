"""GET similar answers: from the answer cache while a check says they are still current, else
computed and filed; a rebuild computes those pages will ask for ahead (`warm`)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from .. import crash_points
from ..embedding.models import Progress
from ..errors import NotFound
from ..records.options import SimilarOptions, options_key
from ..records.stored import StoredArticle
from ..search.neighbours import Reach
from ..search.present import similar_answer
from ..search.query import SimilarSearch
from ..search.staleness import Answer
from .cache import AnswerCache

# Part of the key of every cached answer: bump it when what an answer holds, or how it is ranked,
# changes, so that answers filed by the code before are not served by the code after.
ANSWERS_FORMAT = 4
WARM_SYNC_EVERY = 100  # articles warmed between two catch-ups with the change log
WARM_CRASH_AFTER = 10  # answers warmed before the crash point "rebuild:warming" (tests)


class SimilarAnswers:
    """Answers of one data folder's articles, shared with the other processes serving it."""

    def __init__(self, cache: AnswerCache, search: SimilarSearch) -> None:
        self.cache, self.search = cache, search
        # Option sets whose answers go to the file all processes share (the others stay in memory).
        self.shared_options: frozenset[SimilarOptions] = frozenset({SimilarOptions()})

    def version(self) -> str:
        """What answers are filed under: the index version, the floor and the answer format ("memory"
        for an index built in memory, whose answers this process keeps to itself)."""
        version = self.search.live.version
        if version.name is None:
            return "memory"
        calibration = self.search.calibration
        rule = f"{calibration.digest}/{version.frequencies.digest}" if calibration else f"{self.search.related_floor:g}"
        return f"{version.name}@{rule}#{ANSWERS_FORMAT}"

    def answer(self, article_id: str, options: SimilarOptions) -> tuple[dict[str, Any], str]:
        """The answer for a stored article, and where it came from: "memory" (this process's),
        "shared" (the file every process shares), "sliced" (the first items of a shared answer with a
        larger `k`) or "computed"."""
        live = self.search.live
        version, seq, replayed = self.version(), live.seq, live.version.replayed
        filed = options_key(options)
        shared = live.version.meta is not None and options in self.shared_options
        cached, source = self.cache.get(version, article_id, filed, shared)
        if cached is not None and replayed.confirm_current(cached, live.vector(cached.key)):
            return cached.body, source
        for larger in self.larger_shared(options):
            cached = self.cache.get(version, article_id, options_key(larger), True)[0]
            if cached is not None and replayed.confirm_current(cached, live.vector(cached.key)):
                return {**cached.body, "items": cached.body["items"][: options.k]}, "sliced"
        stored = self.search.stored(article_id)
        body, reach = self.compute(stored, options)
        if self.version() == version:  # no new version came in meanwhile: file it
            answer = Answer(body, stored.key, reach.threshold, seq, reach.asked)
            self.cache.put(version, article_id, filed, answer, shared)
        return body, "computed"

    def larger_shared(self, options: SimilarOptions) -> list[SimilarOptions]:
        """Shared option sets that differ from `options` only by a larger `k`, smallest first: the
        first items of their answers are this one's. Not with diversity: its picks depend on `k`."""
        if options.diversity or self.search.live.version.meta is None:
            return []
        return sorted((o for o in self.shared_options if o.k > options.k and replace(o, k=options.k) == options),
                      key=lambda o: o.k)

    def compute(self, stored: StoredArticle, options: SimilarOptions) -> tuple[dict[str, Any], Reach]:
        """The answer computed now, past every cache, and how far its candidates reached (see `search.staleness`)."""
        query = self.search.query_of(stored)
        shown, reach = self.search.items(query, options)
        return similar_answer(stored, shown, query), reach

    def warm(self, option_sets: Sequence[SimilarOptions], newest: int, progress: Progress | None = None) -> int:
        """Compute the answers of the `newest` articles (by publication) for each option set, skipping
        those still current, into the shared file, after forgetting other versions' answers.

        Returns how many answers were computed.
        """
        if self.search.live.version.meta is None:  # no version yet: nothing to share
            return 0
        self.shared_options |= frozenset(option_sets)
        self.forget_other_versions()
        computed = 0
        for done, article_id in enumerate(self.search.store.newest_ids(newest)):
            if done % WARM_SYNC_EVERY == 0:  # file answers at a recent position: they stay current longer
                self.search.live.catch_up()
            for options in option_sets:
                try:
                    computed += self.answer(article_id, options)[1] == "computed"
                except NotFound:  # deleted meanwhile
                    pass
            if computed >= WARM_CRASH_AFTER:
                crash_points.reached("rebuild:warming")
            if progress:
                progress(1)
        return computed

    def forget_other_versions(self) -> None:
        """Drop the answers filed under any version but the live one."""
        self.cache.keep_only(self.version())

    def shared_count(self) -> int:
        """How many answers of the live version the shared file holds."""
        return self.cache.count(self.version())
