from dataclasses import dataclass

from index.records.article import Article
from index.relatedness.stories import collapse, connected_groups, first_published


@dataclass
class Entry:
    key: int
    article: Article
    story_id: str


def entry(key, story, source, published):
    return Entry(key, Article(id=f"a{key}", headline="h", source=source, published_at=published), story)


def test_connected_groups_follow_chains():
    assert connected_groups(5, [(0, 1), (1, 2), (3, 4)]) == [0, 0, 0, 3, 3]
    assert connected_groups(3, []) == [0, 1, 2]


def test_first_published_names_the_story():
    members = [entry(1, "s", "x", "2015-07-22T10:00:00Z"), entry(2, "s", "y", "2015-07-21T09:00:00Z"), entry(3, "s", "z", None)]
    assert first_published(members).key == 2


def test_collapse_keeps_story_order_and_prefers_own_source():
    entries = [
        entry(1, "s1", "okaz", "2015-07-22T10:00:00Z"),
        entry(2, "s2", "sabq", "2015-07-22T11:00:00Z"),
        entry(3, "s1", "alriyadh", "2015-07-21T10:00:00Z"),
        entry(4, "s1", "was", "2015-07-20T10:00:00Z"),
    ]
    collapsed = collapse(entries, own_source="alriyadh")
    assert [(chosen.key, [e.key for e in rest]) for chosen, rest in collapsed] == [(3, [1, 4]), (2, [])]
    collapsed = collapse(entries, own_source=None)
    assert [(chosen.key, [e.key for e in rest]) for chosen, rest in collapsed] == [(4, [1, 3]), (2, [])]
