"""Story groups: articles linked by duplicate or near-duplicate relations. Pure functions."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


def connected_groups(count: int, links: Iterable[tuple[int, int]]) -> list[int]:
    """Union-find over `count` items: the group root of each item, given pairwise links."""
    parent = list(range(count))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in links:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return [root(i) for i in range(count)]


def first_published(members: Sequence[Any]) -> Any:
    """The earliest published member (undated ones last, then by store key): it names the story."""
    return min(members, key=lambda m: (m.article.published_at or "9999", m.key))


def collapse(entries: Sequence[Any], own_source: str | None) -> list[tuple[Any, list[Any]]]:
    """One entry per story, in order of each story's best rank, with the story's other entries.

    The representative is the entry from `own_source` when the story has one, else the earliest
    published. `entries` carry `.story_id`, `.article.source` and `.article.published_at`.
    """
    stories: dict[str, list[Any]] = {}
    for entry in entries:
        stories.setdefault(entry.story_id, []).append(entry)
    collapsed = []
    for members in stories.values():
        own = [m for m in members if own_source and m.article.source == own_source]
        chosen = first_published(own or members)
        collapsed.append((chosen, [m for m in members if m is not chosen]))
    return collapsed
