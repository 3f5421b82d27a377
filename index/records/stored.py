"""An article as the store holds it: with its index key, its embedding's key, its fingerprint and story."""
from __future__ import annotations

from dataclasses import dataclass

from ..text.overlap import Fingerprint
from .article import Article


@dataclass(frozen=True)
class StoredArticle:
    """An article as stored, with its index key and the key of its embedding."""

    key: int
    article: Article
    embed_key: str
    fingerprint: Fingerprint | None  # None only for rows stored before fingerprints existed
    story_id: str
