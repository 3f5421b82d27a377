"""The article record and the rules a submitted article must follow."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from ..errors import InvalidInput

MAX_ID = 128
MAX_HEADLINE = 1_000
MAX_BODY = 200_000
MAX_URL = 2_048
MAX_NAME = 200  # source, section
MAX_TAGS = 100
MAX_TAG = 100
MAX_LANGUAGE = 35
MAX_TIMESTAMP = 64  # published_at, before it is parsed
FIELDS = ("id", "headline", "body", "url", "source", "published_at", "language", "section", "tags")

# Text shown on pages, cleared of the bidi controls below.
DISPLAYED = ("headline", "body", "source", "section")
# Bidi embedding, override and isolate controls: they would reorder the text around a value on a page.
# (The marks U+200E, U+200F and U+061C stay: they only help ordering.)
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
_URL = re.compile(r"^https?://[^\x00-\x20\x7f]+$", re.IGNORECASE)


@dataclass(frozen=True)
class Article:
    """One news article as the CMS knows it; `id` is the CMS's own key."""

    id: str
    headline: str
    body: str = ""
    url: str | None = None
    source: str | None = None
    published_at: str | None = None
    language: str | None = None
    section: str | None = None
    tags: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _visible(text: str) -> bool:
    """Whether a text shows something: a character that is not white space, a control character or a
    format character (zero-width spaces and joiners, bidi controls, the byte-order mark)."""
    return any(not ch.isspace() and unicodedata.category(ch) not in ("Cc", "Cf") for ch in text)


def _has_control_chars(text: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" for ch in text)


def _encodable(text: str) -> bool:
    """False for a string holding a lone surrogate (JSON can carry one; UTF-8 cannot)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# The last path segments of the API's sub-routes: an id ending in one would be shadowed by them.
SUB_ROUTES = ("similar", "pins", "duplicates")
ID_RULE = (f"1-{MAX_ID} characters without control characters or surrounding spaces; slashes may separate "
           "non-empty segments, none of them '.' or '..', and the last not 'similar', 'pins' or 'duplicates'")


def valid_id(value: object) -> bool:
    """Whether a CMS key can be an article id: one that every route of the API reaches, as itself.

    Ids are compared exactly (Unicode NFC and NFD spellings are two ids, as they are two keys to a CMS).
    """
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_ID or value != value.strip():
        return False
    if _has_control_chars(value) or not _encodable(value):
        return False
    segments = value.split("/")
    return all(seg not in ("", ".", "..") for seg in segments) and (len(segments) == 1 or segments[-1] not in SUB_ROUTES)


def _string(data: dict, name: str, prefix: str, *, max_len: int, required: bool = False) -> str | None:
    value = data.get(name)
    where = prefix + name
    if value is None:
        if required:
            raise InvalidInput(f"'{where}' is required", where)
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"'{where}' must be a string", where)
    if len(value) > max_len:
        raise InvalidInput(f"'{where}' is longer than {max_len} characters", where)
    if not _encodable(value):
        raise InvalidInput(f"'{where}' is not valid Unicode (lone surrogate)", where)
    return _BIDI_CONTROLS.sub("", value) if name in DISPLAYED else value


def _headline(data: dict, prefix: str) -> str:
    headline = _string(data, "headline", prefix, max_len=MAX_HEADLINE, required=True)
    if not _visible(headline):
        raise InvalidInput(f"'{prefix}headline' must hold visible text", prefix + "headline")
    return headline


def parse_timestamp(value: str, where: str) -> datetime:
    """Parse ISO 8601 (date or date-time); a time without zone is taken as UTC."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError:
        raise InvalidInput(f"'{where}' must be an ISO 8601 date or date-time, got {value[:40]!r}", where)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:30+12:00 is before year 1 in UTC
        raise InvalidInput(f"'{where}' is out of the range of dates, got {value[:40]!r}", where)


def format_timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with a four-digit year (strftime would write the year 535 as "535")."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def validate_article(data: Any, prefix: str = "") -> Article:
    """Check one submitted article and return it cleaned up.

    Args:
        data: the decoded JSON object.
        prefix: prepended to field names in errors, e.g. ``articles[3].``.
    Raises:
        InvalidInput: naming the first field that breaks a rule.
    """
    if not isinstance(data, dict):
        raise InvalidInput(f"'{prefix.rstrip('.') or 'article'}' must be a JSON object", prefix.rstrip(".") or None)
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise InvalidInput(f"unknown field '{prefix}{unknown[0]}'; allowed: {', '.join(FIELDS)}", prefix + unknown[0])

    article_id = _string(data, "id", prefix, max_len=MAX_ID, required=True)
    if not valid_id(article_id):
        raise InvalidInput(f"'{prefix}id' must be {ID_RULE}", prefix + "id")
    return Article(
        id=article_id,
        headline=_headline(data, prefix).strip(),
        body=(_string(data, "body", prefix, max_len=MAX_BODY) or "").strip(),
        url=_url(data, prefix),
        source=_string(data, "source", prefix, max_len=MAX_NAME) or None,  # nothing left once cleaned: none
        section=_string(data, "section", prefix, max_len=MAX_NAME) or None,  # (checked in this order)
        language=_language(data, prefix),
        published_at=_published(data, prefix),
        tags=_tags(data.get("tags"), prefix),
    )


def _language(data: dict, prefix: str) -> str | None:
    language = _string(data, "language", prefix, max_len=MAX_LANGUAGE)
    if language is not None and not _LANGUAGE.match(language):
        raise InvalidInput(f"'{prefix}language' must be a language tag such as 'ar' or 'en-GB'", prefix + "language")
    return language


def _published(data: dict, prefix: str) -> str | None:
    published = _string(data, "published_at", prefix, max_len=MAX_TIMESTAMP)
    return format_timestamp(parse_timestamp(published, prefix + "published_at")) if published is not None else None


def _url(data: dict, prefix: str) -> str | None:
    url = _string(data, "url", prefix, max_len=MAX_URL)
    if url is not None and not _URL.match(url):
        raise InvalidInput(f"'{prefix}url' must be an http(s) URL", prefix + "url")
    return url


def _tags(tags: Any, prefix: str) -> list[str]:
    if tags is None:
        return []
    if not isinstance(tags, list) or len(tags) > MAX_TAGS:
        raise InvalidInput(f"'{prefix}tags' must be a list of at most {MAX_TAGS} strings", prefix + "tags")
    cleaned = []
    for tag in tags:
        tag = _BIDI_CONTROLS.sub("", tag).strip() if isinstance(tag, str) else tag
        if not isinstance(tag, str) or not tag or len(tag) > MAX_TAG or not _encodable(tag):
            raise InvalidInput(f"'{prefix}tags' items must be non-empty strings of at most {MAX_TAG} characters", prefix + "tags")
        cleaned.append(tag)
    return cleaned


def _bmp(test: Any) -> str:
    """The characters of the Basic Multilingual Plane that pass `test`, as \\u escapes for a regex class."""
    return "".join(f"\\u{cp:04x}" for cp in range(0x10000) if test(chr(cp)))


@lru_cache(maxsize=1)
def article_schema() -> dict[str, Any]:
    """The rules of `validate_article` as a JSON Schema (for /openapi.json), from the same limits.

    Character classes are spelt out: JSON Schema regexes follow ECMA-262, whose \\s differs from Python's.
    """
    spaces = _bmp(str.isspace)
    control = "\\x00-\\x1f\\x7f-\\x9f"  # category Cc
    formats = _bmp(lambda ch: unicodedata.category(ch) == "Cf")  # zero-width, bidi controls, BOM
    visible = f"[^{spaces}{control}{formats}]"  # _visible
    has_text = f"[^{spaces}{_bmp(_BIDI_CONTROLS.match)}]"  # a tag, stripped of spaces and bidi controls
    # valid_id: no surrounding spaces; segments, none empty, "." or ".."; the last no sub-route.
    id_pattern = (f"^(?![{spaces}])(?!.*[{spaces}]$)(?!(?:.*/)?\\.\\.?(?:/|$))(?!.+/(?:{'|'.join(SUB_ROUTES)})$)"
                  f"[^/{control}]+(?:/[^/{control}]+)*$")
    optional = ["string", "null"]
    return {"type": "object", "required": ["id", "headline"], "additionalProperties": False, "properties": {
        "id": {"type": "string", "minLength": 1, "maxLength": MAX_ID, "pattern": id_pattern},
        "headline": {"type": "string", "minLength": 1, "maxLength": MAX_HEADLINE, "pattern": visible},
        "body": {"type": optional, "maxLength": MAX_BODY},
        "url": {"type": optional, "maxLength": MAX_URL, "pattern": _URL.pattern},
        "source": {"type": optional, "maxLength": MAX_NAME},
        "published_at": {"type": optional, "maxLength": MAX_TIMESTAMP, "format": "date-time"},
        "language": {"type": optional, "maxLength": MAX_LANGUAGE, "pattern": _LANGUAGE.pattern},
        "section": {"type": optional, "maxLength": MAX_NAME},
        "tags": {"type": ["array", "null"], "maxItems": MAX_TAGS,
                 "items": {"type": "string", "minLength": 1, "maxLength": MAX_TAG, "pattern": has_text}},
    }}


def validate_draft(data: Any, prefix: str = "") -> tuple[str, str]:
    """Check a text that is not stored (an editor's draft): `headline` required, `body` optional."""
    if not isinstance(data, dict):
        raise InvalidInput(f"'{prefix.rstrip('.') or 'body'}' must be a JSON object", prefix.rstrip(".") or None)
    headline = _headline(data, prefix)
    body = _string(data, "body", prefix, max_len=MAX_BODY) or ""
    return headline.strip(), body.strip()

