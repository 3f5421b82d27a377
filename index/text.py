"""Text preparation: what gets embedded for an article, and which language it is in."""
from __future__ import annotations

import re

DEFAULT_LEAD_WORDS = 100  # words of the body embedded after the headline (LEAD_WORDS)

_SPACES = re.compile(r"\s+")
_ARABIC = re.compile(r"[\u0600-\u06FF\u0750-\u077F\u08A0-\u08FF\uFB50-\uFDFF\uFE70-\uFEFF]")
_PERSIAN_ONLY = re.compile(r"[پچژگ]")
_HEBREW = re.compile(r"[\u0590-\u05FF]")
_CYRILLIC = re.compile(r"[\u0400-\u04FF]")
_CJK = re.compile(r"[\u3040-\u30FF\u4E00-\u9FFF]")
_LATIN = re.compile(r"[A-Za-z\u00C0-\u024F]")
_WORD = re.compile(r"[a-zà-ÿ]+")

# A few very frequent words per Latin-script language: enough to tell them apart on a news text.
_STOPWORDS = {
    "en": {"the", "and", "of", "to", "in", "is", "for", "on", "that", "with", "was", "said", "by", "at"},
    "fr": {"le", "la", "les", "de", "des", "et", "du", "un", "une", "est", "pour", "dans", "sur", "qui"},
    "es": {"el", "la", "los", "las", "de", "del", "y", "en", "que", "por", "con", "una", "para", "es"},
    "de": {"der", "die", "das", "und", "ist", "nicht", "mit", "den", "von", "zu", "ein", "eine", "im", "auf"},
}


def collapse_spaces(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def lead(text: str, words: int) -> str:
    """The first `words` words of a text (the part of a body that gets embedded)."""
    if words <= 0 or not text:
        return ""
    return " ".join(text.split(maxsplit=words)[:words])


def embedding_text(headline: str, body: str, lead_words: int) -> str:
    """Headline plus the lead of the body: the exact string given to the embedder."""
    parts = [collapse_spaces(headline), lead(body, lead_words)]
    return "\n".join(p for p in parts if p)


def detect_language(text: str) -> str | None:
    """Guess an ISO 639-1 code from the script (and, for Latin script, frequent words).

    Returns None when the text holds no letters to judge by.
    """
    sample = text[:2_000]
    counts = {
        "ar": len(_ARABIC.findall(sample)),
        "he": len(_HEBREW.findall(sample)),
        "ru": len(_CYRILLIC.findall(sample)),
        "zh": len(_CJK.findall(sample)),
        "latin": len(_LATIN.findall(sample)),
    }
    script, hits = max(counts.items(), key=lambda kv: kv[1])
    if hits == 0:
        return None
    if script == "ar":
        return "fa" if _PERSIAN_ONLY.search(sample) and "ة" not in sample else "ar"
    if script != "latin":
        return script
    words = _WORD.findall(sample.lower())
    scores = {lang: sum(w in stop for w in words) for lang, stop in _STOPWORDS.items()}
    best = max(scores, key=scores.get)
    return best if scores[best] > 0 else "en"
