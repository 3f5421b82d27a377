import numpy as np
import pytest

from index.errors import InvalidInput
from index.records.options import SimilarOptions, options_from
from index.search.ranking import days_between, mmr, recency_factor
from index.text.terms import match_key, shared_terms


def test_recency_factor_halves_every_half_life():
    assert recency_factor(0, 30) == 1.0
    assert recency_factor(30, 30) == pytest.approx(0.5)
    assert recency_factor(60, 30) == pytest.approx(0.25)
    assert recency_factor(1000, 0) == 1.0  # off
    assert recency_factor(None, 30) == 1.0  # unknown date: no decay
    assert days_between("2017-02-01T00:00:00Z", "2017-02-11T12:00:00Z") == pytest.approx(10.5)


def test_mmr_trades_relevance_for_novelty():
    # Items 0 and 1 are near copies; item 2 is different and a little less relevant.
    vectors = np.array([[1.0, 0.0], [0.999, 0.045], [0.0, 1.0]])
    relevance = np.array([0.95, 0.94, 0.90])
    assert mmr(relevance, vectors, 2, diversity=0.0) == [0, 1]
    assert mmr(relevance, vectors, 2, diversity=0.5) == [0, 2]
    assert mmr(relevance, vectors, 5, diversity=0.5) == [0, 2, 1]
    assert mmr(np.array([]), np.zeros((0, 2)), 3, 0.5) == []


def test_shared_terms_find_names_across_spellings_and_clitics():
    a = "الكرملين يدعو إلى التهدئة في إقليم ناجورنو كاراباخ"
    b = "قال المتحدث باسم الكرملين إن الوضع في إقلیم ناجورنو کاراباخ خطير، والكرملين على اتصال بالطرفين"
    # The page's two spellings of the region match; names come as pairs, shown as written in `a`.
    assert shared_terms(a, b) == ["إقليم ناجورنو", "الكرملين", "كاراباخ"]
    assert shared_terms("The Kremlin calls for calm", "Kremlin urges calm in the region") == ["Kremlin", "calm"]
    assert match_key("والكرملين") == match_key("الكرملين") == "كرملين"


def test_shared_terms_keep_vowelled_words_whole():
    """Harakat are combining marks, not word breaks: كَتَبَ is one word, matched as كتب."""
    assert shared_terms("كَتَبَ الرئيسُ رسالةً مُطَوَّلَةً", "كتب الرئيس رسالة مطولة") == ["كَتَبَ الرئيسُ", "رسالةً مُطَوَّلَةً"]



def test_shared_terms_pair_only_words_adjacent_in_both_texts_and_show_each_word_once():
    # "مجلس الأمن" is a pair in both; "الأمن الدولي" only in `a` (apart in `b`); words repeat in both.
    a = "مجلس الأمن الدولي يدعو مجلس الأمن إلى جلسة طارئة حول غزة"
    b = "دعا الأمن العام إلى اجتماع، وقال مجلس الأمن إن جلسة طارئة عن غزة تعقد اليوم، والدولي"
    assert shared_terms(a, b) == ["مجلس الأمن", "جلسة طارئة", "الدولي", "غزة"]
    assert shared_terms(a, b, limit=2) == ["مجلس الأمن", "جلسة طارئة"]
    assert shared_terms(a, "نص لا يشترك في شيء") == []


def test_shared_terms_stay_aligned_when_a_word_splits_or_vanishes():
    """A hashtag is two words, a tatweel dash none: each term still shows as written, not its neighbour."""
    assert shared_terms("#رؤية_السعودية ـــ الرياض تستضيف القمة", "السعودية تستضيف القمة") == ["تستضيف القمة", "السعودية"]


@pytest.mark.parametrize(
    "params, field",
    [
        ({"k": "0"}, "k"),
        ({"k": "2.5"}, "k"),
        ({"recency_half_life_days": "-1"}, "recency_half_life_days"),
        ({"diversity": "1.5"}, "diversity"),
        ({"diversity": "nan"}, "diversity"),
        ({"since": "last week"}, "since"),
        ({"until": "2017-13-01"}, "until"),
        ({"max_age_days": "-3"}, "max_age_days"),
        ({"min_score": "2"}, "min_score"),
        ({"duplicates": "hide"}, "duplicates"),
        ({"profile": "nope"}, "profile"),
        ({"section": ""}, "section"),
        ({"exclude": [1, 2]}, "exclude"),
    ],
)
def test_bad_parameters_are_named(params, field):
    with pytest.raises(InvalidInput) as err:
        options_from(params, SimilarOptions(), {"widget": {"k": 6}})
    assert err.value.field == field


def test_request_over_profile_over_defaults():
    base = SimilarOptions(recency_half_life_days=7)
    profiles = {"widget": {"k": 6, "recency_half_life_days": 30}}
    assert options_from({}, base, profiles).recency_half_life_days == 7
    widget = options_from({"profile": "widget"}, base, profiles)
    assert (widget.k, widget.recency_half_life_days) == (6, 30)
    mixed = options_from({"profile": "widget", "k": "3", "exclude": "a,b", "since": "2017-02-01"}, base, profiles)
    assert (mixed.k, mixed.exclude, mixed.since) == (3, frozenset({"a", "b"}), "2017-02-01T00:00:00Z")
