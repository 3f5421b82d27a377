"""Text normalisation for matching (never for embedding): small pure rules, one per function.

Arabic is written with many interchangeable forms: hamza on or under alef, alef maksura for yeh,
teh marbuta for heh, Persian yeh and keheh on pages typed with a Persian keyboard, tatweel to
stretch words, optional diacritics, and three sets of digits. Two spellings of one headline must
normalise to the same string, e.g. `إقليم ناجورنو كاراباخ` and `إقلیم ناجورنو کاراباخ`.
"""
from __future__ import annotations

import re
import unicodedata

# Harakat, shadda, sukun, superscript alef, Quranic annotation marks.
_DIACRITICS = re.compile(r"[\u0610-\u061A\u064B-\u065F\u0670\u06D6-\u06DC\u06DF-\u06E8\u06EA-\u06ED]")
_TATWEEL = re.compile("\u0640")
_ALEF = re.compile("[\u0623\u0625\u0622\u0671\u0672\u0673]")  # أ إ آ ٱ ٲ ٳ
_PERSIAN = (
    ("\u06CC", "\u064A"),  # ی Farsi yeh
    ("\u06D0", "\u064A"),  # ې
    ("\u06D2", "\u064A"),  # ے yeh barree
    ("\u06D3", "\u064A"),  # ۓ
    ("\u06A9", "\u0643"),  # ک keheh
    ("\u06AA", "\u0643"),  # ڪ swash kaf
    ("\u06C0", "\u0647"),  # ۀ heh with yeh above
    ("\u06C1", "\u0647"),  # ہ heh goal
    ("\u06C2", "\u0647"),  # ۂ
    ("\u06C3", "\u0629"),  # ۃ teh marbuta goal
    ("\u06BE", "\u0647"),  # ھ heh doachashmee
    ("\u06D5", "\u0647"),  # ە ae
)
_DIGITS = re.compile("[\u0660-\u0669\u06F0-\u06F9]")

# The most characters of a text normalised: the longest body the API accepts (`article.MAX_BODY`), so
# that what NFKC expands past it (U+FDFA is 18 letters: a 200,000-character body was 3.6 million)
# costs no more to match than the longest plain body. Every text the API accepts as written is
# normalised whole, as before.
MAX_NORMALIZED_CHARS = 200_000
MAX_NFKC_EXPANSION = 18  # characters NFKC makes of one at most (U+FDFA)
CUT_MARGIN = 32  # characters at the end of a prefix's NFKC that the next ones could change (stream-safe: 30 marks)


# Candidates for folding: anything that is neither a word character nor a space (and "_").
# Checking the category only for these keeps marks of other scripts (Devanagari vowel signs...) intact.
_NOT_WORD = re.compile(r"[^\w\s]|_")


def _fold_if_punctuation(match: re.Match[str]) -> str:
    char = match.group()
    return " " if unicodedata.category(char)[0] in "PS" else char


def _remove_if_format(match: re.Match[str]) -> str:
    char = match.group()
    return "" if unicodedata.category(char) == "Cf" else char


def nfkc(text: str) -> str:
    """Unicode NFKC: presentation forms and ligatures to base letters, full-width to ASCII."""
    return unicodedata.normalize("NFKC", text)


def nfkc_at_most(text: str, limit: int = MAX_NORMALIZED_CHARS) -> str:
    """NFKC of `text`, cut to `limit` characters, normalising no more of the text than that takes:
    prefixes that double in length, the first one short enough for its NFKC to be at most about
    `limit` even if every character expands as much as one can. A prefix's last characters may
    compose with the next ones: its last CUT_MARGIN characters are never kept."""
    size = limit // MAX_NFKC_EXPANSION + 1
    while True:
        normalized = nfkc(text[:size])
        if size >= len(text) or len(normalized) >= limit + CUT_MARGIN:
            return normalized[:limit]
        size *= 2


def remove_format_characters(text: str) -> str:
    """Zero-width joiners, bidi controls, BOM and other invisible format characters (category Cf)."""
    return _NOT_WORD.sub(_remove_if_format, text)


def remove_diacritics(text: str) -> str:
    return _DIACRITICS.sub("", text)


def remove_tatweel(text: str) -> str:
    return _TATWEEL.sub("", text)


def normalize_alef(text: str) -> str:
    """أ إ آ ٱ to ا."""
    return _ALEF.sub("\u0627", text)


def normalize_persian_letters(text: str) -> str:
    """Persian and Urdu letters to their Arabic counterparts (ی to ي, ک to ك, ۀ to ه ...)."""
    for persian, arabic in _PERSIAN:
        if persian in text:
            text = text.replace(persian, arabic)
    return text


def normalize_alef_maksura(text: str) -> str:
    """ى to ي."""
    return text.replace("\u0649", "\u064A")


def normalize_teh_marbuta(text: str) -> str:
    """ة to ه (for matching only: it loses a distinction readers make)."""
    return text.replace("\u0629", "\u0647")


def normalize_digits(text: str) -> str:
    """Arabic-Indic and Persian digits to ASCII."""
    return _DIGITS.sub(lambda m: str(ord(m.group()) & 0xF), text)


def fold_punctuation(text: str) -> str:
    """Every punctuation mark and symbol (Arabic ، ؛ ؟ « » included) becomes a space."""
    return _NOT_WORD.sub(_fold_if_punctuation, text)


def fold_spaces(text: str) -> str:
    """Runs of white space (`\\s`, `str.isspace`: the same characters) to one space, none at the ends."""
    return " ".join(text.split())


def _letter_rules(text: str) -> str:
    """The rules that act on each character alone, in an order where each one sees the output of
    those it depends on."""
    text = remove_format_characters(text)
    text = remove_diacritics(text)
    text = remove_tatweel(text)
    text = normalize_persian_letters(text)  # before teh marbuta: ۃ becomes ة first
    text = normalize_alef(text)
    text = normalize_alef_maksura(text)
    text = normalize_teh_marbuta(text)
    text = normalize_digits(text)
    return fold_punctuation(text)


# `_letter_rules` of every character below TABLE_MAX (the scripts of news), as a list for
# `str.translate`: one pass over a text instead of one a rule, a list lookup a character (three times
# faster than a dict's). A text holding a character above them takes the rules' table of all code points.
TABLE_MAX = 0x3000
_LETTERS = [_letter_rules(chr(code)) for code in range(TABLE_MAX)]
_ABOVE_TABLE = re.compile(f"[{chr(TABLE_MAX)}-\U0010FFFF]")


class _AllLetters(dict):
    """`_letter_rules` of any character, computed when first met; kept below TABLE_MAX only, so that
    text of rarer characters cannot grow it."""

    def __missing__(self, code: int) -> str:
        if code < TABLE_MAX:
            self[code] = _LETTERS[code]
            return _LETTERS[code]
        return _letter_rules(chr(code))


_ALL_LETTERS = _AllLetters()


def letter_rules(text: str) -> str:
    """`_letter_rules` of each character of `text`."""
    return text.translate(_ALL_LETTERS if _ABOVE_TABLE.search(text) else _LETTERS)


def normalize(text: str) -> str:
    """All rules: NFKC (of at most MAX_NORMALIZED_CHARS), then the letters' rules (`_letter_rules`, as
    one table), then case and spaces."""
    return fold_spaces(letter_rules(nfkc_at_most(text)).casefold())
