"""What clients see: the last step of the query path turns its picks into JSON-ready answers, each
item with its score, its relation and one line saying why it is there.

The engine answers in these plain shapes (not HTTP), because the answer cache shares them between
processes as they are; `service/` only serialises them.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..records.stored import StoredArticle
from ..text.prepare import lead
from ..text.terms import shared_terms
from .neighbours import WHY_LEAD_WORDS, Neighbour, Query, Shown


def public_fields(stored: StoredArticle) -> dict[str, Any]:
    """What clients see of an article in lists and similar items."""
    article = stored.article
    return {"id": article.id, "headline": article.headline, "url": article.url, "source": article.source,
            "published_at": article.published_at, "section": article.section, "language": article.language,
            "story_id": stored.story_id}


def neighbour_fields(n: Neighbour) -> dict[str, Any]:
    """An article found near a query, with its relation (`relation`, `score`, `overlap`)."""
    return {**public_fields(n.stored), **n.relation.to_dict()}


def similar_fields(n: Neighbour) -> dict[str, Any]:
    """A similar item's fields: also its relatedness (null when uncalibrated, or pinned)."""
    return {**neighbour_fields(n), "relatedness": None if n.relatedness is None else round(n.relatedness, 4)}


def similar_answer(stored: StoredArticle, shown: list[Shown], query: Query) -> dict[str, Any]:
    """The GET similar answer of a stored article."""
    article = stored.article
    return {"article": {"id": article.id, "headline": article.headline, "story_id": stored.story_id,
                        "language": article.language}, "items": similar_items(query, shown)}


def draft_answer(headline: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """An answer about a text that is not stored (a draft): it has no id."""
    return {"article": {"id": None, "headline": headline}, "items": items}


def similar_items(query: Query, shown: list[Shown]) -> list[dict[str, Any]]:
    """Each pick with what it shares with the query and why it is there (`also`: its collapsed copies)."""
    items = []
    for pick in shown:
        article = pick.neighbour.article
        shared = shared_terms(query.text, f"{article.headline}\n{lead(article.body, WHY_LEAD_WORDS)}")
        item = {**similar_fields(pick.neighbour), "pinned": pick.pinned, "shared": shared,
                "why": explain(pick.neighbour, shared, pick.pinned)}
        if pick.also is not None:
            item["also"] = pick.also
        items.append(item)
    return items


def explain(n: Neighbour, shared: list[str], pinned: bool) -> str:
    """One line for an editor: why this item is in the list."""
    if n.relation.relation == "more_from_section":
        return f"more from {n.article.section}, not found related; score {n.score:.2f}"
    if n.relation.relation == "latest":
        return f"latest news, not found related; score {n.score:.2f}"
    arabic = any("\u0600" <= ch <= "\u06ff" for term in shared for ch in term)
    parts = ["pinned by an editor"] if pinned else []
    strength = f"relatedness {n.relatedness:.2f}, " if n.relatedness is not None else ""
    parts.append(f"{n.relation.relation.replace('_', '-')}, {strength}score {n.score:.2f}")
    if n.same_event and n.relation.relation == "related":
        parts.append("same event")
    if n.relation.overlap >= 0.1:
        parts.append(f"{n.relation.overlap:.0%} of the text shared")
    if shared:
        parts.append("shared: " + ("، " if arabic else ", ").join(shared))
    return "; ".join(parts)


def duplicate_items(found: Iterable[Neighbour]) -> list[dict[str, Any]]:
    """Duplicates first, then near-duplicates by overlap, then score (nothing else)."""
    order = {"duplicate": 0, "near_duplicate": 1}
    kept = [n for n in found if n.relation.relation in order]
    kept.sort(key=lambda n: (order[n.relation.relation], -n.relation.overlap, -n.relation.score))
    return [neighbour_fields(n) for n in kept]
