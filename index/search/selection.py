"""Which candidates a request keeps and in what order: its filters, the rank score, one item per
story. Pure functions over the query path's neighbours (see `query`)."""
from __future__ import annotations

from ..records.options import SimilarOptions
from ..relatedness.relations import DUPLICATES
from ..relatedness.stories import collapse
from ..text.prepare import primary_subtag
from .neighbours import Neighbour, Query
from .ranking import days_apart, recency_factor


def filters_candidates(o: SimilarOptions) -> bool:
    """Whether the request leaves out candidates by more than relatedness and score."""
    return bool(o.language or o.section or o.source or o.exclude_source or o.since or o.until
                or o.max_age_days is not None or o.exclude)


def grouped(ranked: list[Neighbour], options: SimilarOptions, query: Query) -> list[tuple[Neighbour, list[Neighbour]]]:
    """Every item alone (`duplicates=include`), or one per story without the query's own story,
    ordered by the item shown for each story (not by its best member)."""
    if options.duplicates == "include":
        return [(n, []) for n in ranked]
    others = [n for n in ranked if n.relation.relation not in DUPLICATES
              and not (query.story_id and n.story_id == query.story_id)]
    return sorted(collapse(others, query.source), key=lambda g: -rank_score(g[0], options, query))


def passes(n: Neighbour, o: SimilarOptions, query: Query, min_relatedness: float | None = None) -> bool:
    """Whether a neighbour passes the request's filters (the related floor, or the least relatedness
    when calibrated, always applies)."""
    a = n.article
    if n.relation.relation == "unrelated" or (o.min_score is not None and n.score < o.min_score):
        return False
    if (min_relatedness is not None and n.relatedness is not None and n.relatedness < min_relatedness
            and n.relation.relation not in DUPLICATES):  # a copy is related whatever the evidence says
        return False
    if o.language and not language_matches(a.language, o.language):
        return False
    if o.section and a.section != o.section:
        return False
    if (o.source and a.source != o.source) or (o.exclude_source and a.source == o.exclude_source):
        return False
    if o.since and not (a.published_at and a.published_at >= o.since):
        return False
    if o.until and not (a.published_at and a.published_at <= o.until):
        return False
    if o.max_age_days is not None:
        apart = days_apart(query.published, n.published)
        if apart is None or apart > o.max_age_days:
            return False
    return True


def language_matches(language: str | None, wanted: str) -> bool:
    """`ar` matches `ar`, `ar-TN`, `AR-tn`; `ar-TN` matches only `ar-TN` (in any case)."""
    if not language:
        return False
    if "-" in wanted:
        return language.lower() == wanted.lower()
    return primary_subtag(language) == wanted.lower()


def rank_score(n: Neighbour, o: SimilarOptions, query: Query) -> float:
    """Relatedness (cosine when uncalibrated), decayed by time apart when the request asks so."""
    base = n.score if n.relatedness is None else n.relatedness
    if not o.recency_half_life_days:
        return base
    return base * recency_factor(days_apart(query.published, n.published), o.recency_half_life_days)
