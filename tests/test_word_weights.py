"""Word sets as id arrays: the same shares as the plain set arithmetic of `lexical.LexicalQuery`."""
from __future__ import annotations

import random

import numpy as np
import pytest

from index.text.lexical import LexicalQuery
from index.text.word_weights import WeightedWords, held_shares, shares_held_of, stable_ids, word_ids

WORDS = ["كرملين", "ناجورنو", "كاراباخ", "بيسكوف", "ارمينيا", "اذربيجان", "موسكو", "club", "match", "x" * 80]


def test_stable_ids_are_fixed_for_ever_since_versions_keep_them():
    # A version written by one process is read by others, and by later releases: the ids must never change.
    assert stable_ids(["كرملين"])[0] == -2460865666025051694
    assert list(stable_ids(["a", "b", "a"])) == [stable_ids(["a"])[0], stable_ids(["b"])[0], stable_ids(["a"])[0]]
    assert len(set(stable_ids(WORDS).tolist())) == len(WORDS)
    assert np.array_equal(word_ids(WORDS + WORDS[:3]), np.sort(stable_ids(WORDS)))


@pytest.mark.parametrize("seed", range(5))
def test_shares_of_many_sets_equal_the_plain_set_arithmetic(seed):
    rng = random.Random(seed)
    idf = {w: rng.uniform(0.5, 8.0) for w in rng.sample(WORDS, 6)}
    query = LexicalQuery(idf, sum(idf.values()))
    sets = [frozenset(rng.sample(WORDS, rng.randint(0, len(WORDS)))) for _ in range(12)] + [frozenset()]
    weighted = WeightedWords.of(query.idf, query.weight)
    assert np.allclose(held_shares(weighted, [word_ids(s) for s in sets]), [query.shared(s) for s in sets])
    held = frozenset(rng.sample(WORDS, 4))
    headlines = [LexicalQuery(d, sum(d.values())) for d in ({w: idf.get(w, 1.0) for w in s} for s in sets)]
    expected = [h.shared(held) for h in headlines]
    assert np.allclose(shares_held_of([WeightedWords.of(h.idf, h.weight) for h in headlines], word_ids(held)), expected)
    assert held_shares(WeightedWords.of({}, 0.0), [word_ids(s) for s in sets]).tolist() == [0.0] * len(sets)
