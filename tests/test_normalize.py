import pytest

from index.text import normalize as n


def test_the_two_spellings_of_our_source_page_match():
    assert n.normalize("إقليم ناجورنو كاراباخ") == n.normalize("إقلیم ناجورنو کاراباخ") == "اقليم ناجورنو كاراباخ"


@pytest.mark.parametrize(
    "rule, given, expected",
    [
        (n.nfkc, "\uFEFB", "\u0644\u0627"),  # lam-alef ligature
        (n.nfkc, "ＡＢ１", "AB1"),
        (n.remove_format_characters, "مر\u200cحبا\u202e\ufeff", "مرحبا"),
        (n.remove_diacritics, "مُحَمَّدٌ", "محمد"),
        (n.remove_diacritics, "هٰذا", "هذا"),
        (n.remove_tatweel, "مـــرحبا", "مرحبا"),
        (n.normalize_alef, "أحمد إلى آمال ٱلله", "احمد الى امال الله"),
        (n.normalize_persian_letters, "یک کتاب", "يك كتاب"),
        (n.normalize_persian_letters, "خانۀ ھم", "خانه هم"),
        (n.normalize_alef_maksura, "على مستشفى", "علي مستشفي"),
        (n.normalize_teh_marbuta, "مدينة", "مدينه"),
        (n.normalize_digits, "٢٠١٧ و۱۳۹۶", "2017 و1396"),
        (n.fold_punctuation, "نعم، لا؛ لماذا؟ «قال»", "نعم  لا  لماذا   قال "),
        (n.fold_spaces, "  a \n\t b ", "a b"),
    ],
)
def test_each_rule(rule, given, expected):
    assert rule(given) == expected


def test_latin_is_lower_cased_and_punctuation_folded():
    assert n.normalize("The KREMLIN, on Monday!") == "the kremlin on monday"


def test_normalize_is_idempotent():
    text = "قالَ الكرملين: «إقلیم ناجورنو کاراباخ» ـــ ٢٠٢٣"
    once = n.normalize(text)
    assert n.normalize(once) == once
    assert once == "قال الكرملين اقليم ناجورنو كاراباخ 2023"
