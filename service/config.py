"""Every environment variable the service reads, in one table: `SETTINGS`.

Each `Setting` names a variable, its default, its type, the values it allows and what it does.
`from_environ()` reads them all at once, converts and checks them, and refuses a bad one with a
ValueError naming the variable and what it allows (the commands and gunicorn print it as one
"configuration error: ..." line). The app starts from `DEFAULTS`, then what the environment sets,
then a test's settings, all in `app.config`; no other module of `service/` or `index/` reads the
environment (tests/test_settings.py checks it).

Not a setting: `RELATED_CRASH_AT`, read by `index/crash_points.py`, is a test hook that kills the
process at a named point; it stays there, out of this table.
"""
from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from index.embedding.models import DEFAULT_MODEL
from index.text.prepare import DEFAULT_LEAD_WORDS


@dataclass(frozen=True)
class Setting:
    """One environment variable: `kind` is the type of its value (`None` allowed where `optional`);
    `minimum`/`maximum` bound a number, `choices` lists the only values allowed."""

    name: str
    default: Any
    kind: type
    description: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] | None = None
    optional: bool = False  # unset means None (the service then picks, see the description)

    @property
    def allowed(self) -> str:
        """What a value must be, in words: "an integer from 1 to 65535", "0 or 1"."""
        if self.choices is not None:
            return " or ".join(str(choice) for choice in self.choices)
        noun = {int: "an integer", float: "a number", dict: "a JSON object of objects"}.get(self.kind, "a string")
        if self.minimum is not None and self.maximum is not None:
            return f"{noun} from {self.minimum:g} to {self.maximum:g}"
        if self.minimum is not None:
            return f"{noun} >= {self.minimum:g}"
        if self.maximum is not None:
            return f"{noun} <= {self.maximum:g}"
        return noun


SETTINGS: tuple[Setting, ...] = (
    Setting("DATA_DIR", "./data", str, "store, embedding cache and index versions; must be writable"),
    Setting("EMBEDDING_MODEL", DEFAULT_MODEL, str,
            "e5-small-q4, or sentence-transformers:<name or folder>; recorded with every index version"),
    Setting("EMBEDDING_CACHE", None, str, "the embedding cache; default: <DATA_DIR>/embeddings.sqlite, "
            "or DATABASE_URL's", optional=True),
    Setting("DATABASE_URL", None, str, "postgresql://...: store, embedding cache and index versions shared "
            "by several machines", optional=True),
    Setting("LEAD_WORDS", DEFAULT_LEAD_WORDS, int, "words of the body embedded after the headline", minimum=1),
    Setting("KEEP_VERSIONS", 3, int, "index versions kept on disk by `rebuild`", minimum=1),
    Setting("WARM_ARTICLES", 50_000, int, "newest articles whose similar stories `rebuild` computes ahead of "
            "requests", minimum=0),
    Setting("MAX_BULK", 1000, int, "articles per POST /v1/articles", minimum=1),
    Setting("MAX_CONTENT_LENGTH", 32 * 1024 * 1024, int, "request body limit in bytes (413 beyond)", minimum=1),
    Setting("BODY_TIMEOUT", 30, int, "seconds a client has to send a request's whole body (408 beyond; 0: no "
            "limit)", minimum=0),
    Setting("RELATED_FLOOR", None, float, "cosine floor of `related`; default: measured for the model (0.86 "
            "for e5)", minimum=-1, maximum=1, optional=True),
    Setting("RECENCY_HALF_LIFE_DAYS", 0, int, "service-wide recency decay of similar items (0: off)", minimum=0),
    Setting("PROFILES", {"widget": {"k": 6, "recency_half_life_days": 30, "duplicates": "collapse"}}, dict,
            "named defaults a request selects with profile=NAME"),
    Setting("API_KEYS", "", str, "comma-separated keys that may write; none: writes are refused (but see "
            "ALLOW_LOCAL_WRITES)"),
    Setting("API_KEYS_FILE", None, str, "or a file of keys, one a line", optional=True),
    Setting("ALLOW_LOCAL_WRITES", 0, int, "1: without keys, writes sent from this machine (not through a proxy) "
            "are accepted", choices=(0, 1)),
    Setting("TRUSTED_PROXIES", 0, int, "how many reverse proxies in front set X-Forwarded-For/-Proto/-Host",
            minimum=0),
    Setting("RATE_LIMIT", "60/minute", str, "per client, shared by all workers, on the endpoints that run the "
            "model; \"off\" or \"\" (set and empty): no limit"),
    Setting("MAX_QUERY_STRING", 4096, int, "longest query string, in bytes", minimum=1),
    Setting("JSON_LOGS", 1, int, "1: one JSON object a log line (0: plain text; the commands write plain text "
            "on a terminal)", choices=(0, 1)),
    Setting("WIDGET_ORIGINS", "", str, "origins (comma-separated) whose pages may call the API and embed the "
            "widget; \"\": any origin"),
    Setting("FEEDS", "", str, "feed URLs (comma-separated: RSS, Atom, JSON Feed) the server follows, in one "
            "process of the data folder; `python -m service follow` with no URL follows them too"),
    Setting("FEED_EVERY", 300, int, "seconds between two polls of a feed at the most often (a feed's TTL may ask "
            "for fewer; each is polled at least hourly)", minimum=10, maximum=3600),
    Setting("HOST", "127.0.0.1", str, "where `serve` listens"),
    Setting("PORT", 8080, int, "where `serve` listens", minimum=1, maximum=65535),
    Setting("PROMETHEUS_MULTIPROC_DIR", None, str, "read, not chosen here: set for gunicorn (make serve-prod), "
            "workers share metrics through this folder and /metrics sums them", optional=True),
)

BY_NAME: dict[str, Setting] = {setting.name: setting for setting in SETTINGS}

# The values of an empty environment, the base of `app.config`.
DEFAULTS: dict[str, Any] = {setting.name: setting.default for setting in SETTINGS}


def convert(setting: Setting, raw: str) -> Any:
    """The value of `raw` for `setting`, or ValueError naming the variable and what it allows."""
    refused = ValueError(f"environment variable {setting.name} must be {setting.allowed}, got {raw!r}")
    if setting.kind is dict:
        try:
            value = json.loads(raw)
        except ValueError:
            raise refused from None
        if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
            raise refused
        return value
    if setting.kind is int:
        try:
            value = int(raw)
        except ValueError:
            raise refused from None
    elif setting.kind is float:
        try:
            value = float(raw)
        except ValueError:
            raise refused from None
        if not math.isfinite(value):
            raise refused
    else:
        return raw
    if setting.choices is not None and value not in setting.choices:
        raise refused
    if setting.minimum is not None and value < setting.minimum:
        raise refused
    if setting.maximum is not None and value > setting.maximum:
        raise refused
    return value


def _raw(name: str, environ: Mapping[str, str]) -> str | None:
    """The variable's text, or None when unset (empty counts as unset, but RATE_LIMIT="" turns the limit off)."""
    raw = environ.get(name)
    if raw is None or (raw == "" and name != "RATE_LIMIT"):
        return None
    return raw


def from_environ(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The settings that the environment sets, converted and checked (ValueError naming the first bad one)."""
    environ = os.environ if environ is None else environ
    found: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = _raw(setting.name, environ)
        if raw is not None:
            found[setting.name] = convert(setting, raw)
    return found


def value(name: str, environ: Mapping[str, str] | None = None) -> Any:
    """One setting, from the environment or its default: for what runs before the app exists (logging)."""
    setting = BY_NAME[name]
    raw = _raw(name, os.environ if environ is None else environ)
    return setting.default if raw is None else convert(setting, raw)
