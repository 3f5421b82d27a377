"""Words as the service matches them (function words, Arabic proclitics, each token's key, kept in
tables), and the main terms two articles share, for the one-line "why" an editor reads beside each item."""
from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from .normalize import normalize

# Frequent function words (normalised forms). Arabic and English at least; others pass through.
STOP_WORDS = frozenset(
    normalize(w)
    for w in """
    في من على الى إلى عن مع هذا هذه ذلك تلك التي الذي الذين اللذين ان أن إن كان كانت يكون تكون قد لقد
    لم لن لا ما ماذا متى اين أين كيف هل او أو ثم بل حتى بعد قبل عند عندما منذ خلال بين حول ضد دون غير
    كل بعض اي أي هو هي هم هن نحن انا أنا انت أنت انه أنه انها أنها إنه إنها كما لكن وقد وفي ومن وعلى
    واليوم اليوم أمس امس غدا غداً الآن يوم عام العام اي أيضا أيضاً ايضا وقال قال قالت وأضاف أضاف اضاف
    وأكد أكد اكد وأشار أشار اشار حيث الى فيما وهو وهي وذلك لها له لهم به بها فيه فيها منه منها عليه عليها
    اليه إليه كذلك اذا إذا التى الى يتم تم وكان وكانت ولا وما وان وأن وإن ومع وعن والتي والذي وقت
    the a an and or of to in on for with by at from as is are was were be been being it its this that
    these those he she they we you i his her their our not no but if then than so such into over after
    before about said says will would can could has have had do does did also more most new up out
    """.split()
)
# Words with their combining marks (\w alone would cut كَتَبَ at every haraka); "_" separates words
# (#رؤية_السعودية is two).
_TOKEN = re.compile(r"(?:[^\W_]|[\u0300-\u036F\u0610-\u061A\u064B-\u065F\u0670\u06D6-\u06ED])+")
_PROCLITICS = ("وال", "بال", "فال", "كال", "لل", "ال", "و", "ف", "ب", "ل")
MAX_TERMS = 4


@lru_cache(maxsize=1 << 16)
def match_key(normalized_word: str) -> str:
    """A word without its Arabic proclitics (و ف ب ل ك and the article ال), so والكرملين matches الكرملين.

    Cached: a news vocabulary is small, and every similar answer looks up some hundreds of words.
    """
    for prefix in _PROCLITICS:
        if normalized_word.startswith(prefix) and len(normalized_word) - len(prefix) >= 3:
            return normalized_word[len(prefix) :]
    return normalized_word


@lru_cache(maxsize=8192)
def content_words(text: str) -> tuple[tuple[str, str], ...]:
    """(match key, surface form) for each word that is not a stop word, a number or a single letter.

    Cached: the same headlines and leads come back in request after request.
    """
    surfaces = _TOKEN.findall(text)
    # One normalize() call for all words: \x01 survives every rule and keeps them apart, even when
    # a word folds to two (NFKC spells ﷻ as جل جلاله) or to nothing (a tatweel-only dash).
    normalized_words = normalize("\x01".join(surfaces)).split("\x01") if surfaces else []
    if len(normalized_words) != len(surfaces):  # a rule merged or split words: fall back to one by one
        normalized_words = [normalize(w) for w in surfaces]
    keys = (CONTENT_KEYS[normalized.strip()] for normalized in normalized_words)
    return tuple((key, surface) for key, surface in zip(keys, surfaces) if key)


@lru_cache(maxsize=8192)
def content_keys(text: str) -> tuple[str, ...]:
    """The match keys of `content_words(text)`, in order, without their surface forms: the text is
    normalised whole before it is cut into words (half the cost; what the other side of
    `shared_terms` needs).

    Cached: the items of similar blocks are the same popular stories again and again."""
    return tuple(key for key in map(CONTENT_KEYS.__getitem__, _TOKEN.findall(normalize(text))) if key)


def content_key(normalized: str) -> str:
    """The match key of a normalised token that `content_words` keeps (no function word, number or
    word under three letters), else ""."""
    if len(normalized) < 3 or normalized.isdigit() or normalized in STOP_WORDS:
        return ""
    key = match_key(normalized)
    return "" if key in STOP_WORDS else key


def indexed_key(normalized: str) -> str:
    """The word a normalised token is indexed as (see `lexical.words_of`), else "" (a function word
    or a single letter)."""
    if normalized in STOP_WORDS:
        return ""
    key = match_key(normalized)
    return key if len(key) > 1 and key not in STOP_WORDS else ""


class TokenKeys(dict):
    """What each normalised token becomes by `rule` ("": left out), computed when first met and kept
    for TOKEN_TABLE_SIZE tokens (a news vocabulary; an unbounded text cannot grow it): one dict lookup
    a token (`keys[token]`) instead of the rule's few calls."""

    def __init__(self, rule: Callable[[str], str]) -> None:
        super().__init__()
        self.rule = rule

    def __missing__(self, token: str) -> str:
        key = self.rule(token)
        if len(self) < TOKEN_TABLE_SIZE:
            self[token] = key
        return key


TOKEN_TABLE_SIZE = 1 << 17
CONTENT_KEYS = TokenKeys(content_key)
INDEXED_KEYS = TokenKeys(indexed_key)


def shared_terms(a: str, b: str, limit: int = MAX_TERMS) -> list[str]:
    """The main terms of text `a` also found in text `b`: two-word names first, then single words,
    in the order they appear in `a` (headline first), shown as written in `a`."""
    words_a, keys_a = content_words(a), _keys_of(a)
    words_b = content_keys(b)
    shared = keys_a.intersection(words_b)
    if not shared:
        return []
    # Two-word names both texts hold: pairs of adjacent words of `b` that are both shared.
    pairs_b = {(k1, k2) for k1, k2 in zip(words_b, words_b[1:]) if k1 in shared and k2 in shared}
    terms: list[str] = []
    used: set[str] = set()
    if pairs_b:
        for (k1, s1), (k2, s2) in zip(words_a, words_a[1:]):
            if (k1, k2) in pairs_b and k1 not in used and k2 not in used:
                terms.append(f"{s1} {s2}")
                used.update((k1, k2))
    for key, surface in words_a:
        if key in shared and key not in used:
            terms.append(surface)
            used.add(key)
    return terms[:limit]


@lru_cache(maxsize=8192)
def _keys_of(text: str) -> frozenset[str]:
    """The match keys of `content_words(text)`, as a set (the query's side, the same for every item)."""
    return frozenset(key for key, _ in content_words(text))
