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


def test_the_letter_table_applies_each_rule_to_every_character_of_any_plane():
    # The table covers code points below TABLE_MAX; a text holding one above takes every rule, uncached.
    texts = ["".join(chr(c) for c in range(start, start + 512)) for start in range(0, 0x3200, 512)]
    texts += ["ك\u3001ت\uff0c\U0001d400\u06cc", "\u3000إقلیم\U0001f600"]
    for text in texts:
        assert n.letter_rules(text) == "".join(n._letter_rules(ch) for ch in text)
    assert len(n._ALL_LETTERS) <= n.TABLE_MAX  # characters above the table are never kept


def test_spaces_fold_as_the_white_space_class_does():
    import re

    text = "  a\u00a0\u00a0b\x1c\x1fc\u2028\u3000d \u200be  "
    assert n.fold_spaces(text) == re.sub(r"\s+", " ", text).strip() == "a b c d \u200be"
