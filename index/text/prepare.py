"""Text preparation: what gets embedded for an article, and which language it is in."""
from __future__ import annotations

import functools
import re
from typing import Any

DEFAULT_LEAD_WORDS = 100  # words of the body embedded after the headline (LEAD_WORDS)

# Languages a detected language is one of: those news sites in the service's markets publish in.
LANGUAGES = ("ar", "fa", "ur", "en", "fr", "de", "es", "it", "pt", "nl", "tr", "id", "ru", "he", "ja", "ko", "zh")

_SPACES = re.compile(r"\s+")
# Control characters other than white space: a C engine stops reading at NUL, others mean nothing.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
_ARABIC = re.compile(r"[\u0600-\u06FF\u0750-\u077F\u08A0-\u08FF\uFB50-\uFDFF\uFE70-\uFEFF]")
_ARABIC_WORDS = re.compile(_ARABIC.pattern + "+")
_LETTER = re.compile(r"[^\W\d_]")  # a letter of any script (not a digit, Arabic-Indic ones included)


def collapse_spaces(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def lead(text: str, words: int) -> str:
    """The first `words` words of a text (the part of a body that gets embedded)."""
    if words <= 0 or not text:
        return ""
    return " ".join(text.split(maxsplit=words)[:words])


def embedding_text(headline: str, body: str, lead_words: int) -> str:
    """Headline plus the lead of the body, without control characters: what is given to the embedder
    (which may still cut it to its window, see `Embedder.fit`)."""
    parts = [collapse_spaces(_CONTROLS.sub(" ", headline)), lead(_CONTROLS.sub(" ", body), lead_words)]
    return "\n".join(p for p in parts if p)


@functools.cache
def _language_identifier() -> Any:
    """py3langid restricted to LANGUAGES (built once: about 0.8 s and 80 MB)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(LANGUAGES))
    return identifier


def detect_language(text: str) -> str | None:
    """The language (one of LANGUAGES) of a headline followed by its lead; None without letters.

    A text that starts in Arabic script is judged by its Arabic-script words alone, so an Arabic
    headline over a French lead is "ar": the block's direction follows the headline.
    Measured on 914 texts in 17 languages (bench/language_detection.py): 913 right.
    """
    sample = text[:2_000]
    first = _LETTER.search(sample)
    if first is None:
        return None
    if _ARABIC.match(first.group()):
        sample = " ".join(_ARABIC_WORDS.findall(sample))
    return str(_language_identifier().classify(sample)[0])


def primary_subtag(tag: str) -> str:
    """`ar-TN` -> `ar`: what a language filter compares."""
    return tag.split("-", 1)[0].lower()
