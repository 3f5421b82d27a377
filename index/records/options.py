"""What a similar-stories request may ask for, checked: filters, recency, diversity, profile."""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from typing import Any, Mapping

from .article import format_timestamp, parse_timestamp
from ..errors import InvalidInput

MAX_K = 100
DUPLICATE_MODES = ("collapse", "include")
# What tops up a block that fewer than k related items reach: nothing (the default: an honest block),
# the newest of the query's section, or the newest of all. Fill items carry their own relation.
FILL_MODES = ("none", "section", "latest")


@dataclass(frozen=True)
class SimilarOptions:
    """One similar-stories request. Defaults come from the service, then a profile, then the request."""

    k: int = 10
    duplicates: str = "collapse"
    language: str | None = None
    section: str | None = None
    source: str | None = None
    exclude_source: str | None = None
    exclude: frozenset[str] = field(default_factory=frozenset)
    since: str | None = None
    until: str | None = None
    max_age_days: float | None = None
    min_score: float | None = None
    min_relatedness: float | None = None
    recency_half_life_days: float = 0.0
    diversity: float = 0.0
    fill: str = "none"


def number(value: Any, name: str, low: float, high: float | None = None, integer: bool = False) -> float:
    """A number (from JSON or a query string) within [low, high]; InvalidInput naming `name` otherwise."""
    if isinstance(value, bool):
        raise InvalidInput(f"'{name}' must be a number", name)
    try:
        parsed = float(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: a JSON integer of 400 digits
        raise InvalidInput(f"'{name}' must be a number", name)
    if not math.isfinite(parsed) or (integer and parsed != int(parsed)):  # NaN, ±inf, or a fraction
        raise InvalidInput(f"'{name}' must be {'an integer' if integer else 'a finite number'}", name)
    if parsed < low or (high is not None and parsed > high):
        raise InvalidInput(f"'{name}' must be between {low:g} and {high:g}" if high is not None
                           else f"'{name}' must be at least {low:g}", name)
    return int(parsed) if integer else parsed


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 200:
        raise InvalidInput(f"'{name}' must be a non-empty string of at most 200 characters", name)
    return value


def _choice(value: Any, name: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise InvalidInput(f"'{name}' must be one of {', '.join(allowed)}", name)
    return value


def _ids(value: Any, name: str) -> frozenset[str]:
    """Ids from a JSON list, or comma-separated in a query string, where empty items (`exclude=,,,`,
    a trailing comma) are ignored."""
    items = [i for i in value.split(",") if i.strip()] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or len(items) > 1000 or not all(isinstance(i, str) and i for i in items):
        raise InvalidInput(f"'{name}' must be a list of ids (comma-separated in a query string)", name)
    return frozenset(i.strip() for i in items)


def _moment(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"'{name}' must be an ISO 8601 date", name)
    return format_timestamp(parse_timestamp(value, name))


_PARSERS = {
    "k": lambda v, n: number(v, n, 1, MAX_K, integer=True),
    "duplicates": lambda v, n: _choice(v, n, DUPLICATE_MODES),
    "language": _text,
    "section": _text,
    "source": _text,
    "exclude_source": _text,
    "exclude": _ids,
    "since": _moment,
    "until": _moment,
    "max_age_days": lambda v, n: number(v, n, 0),
    "min_score": lambda v, n: number(v, n, -1, 1),
    "min_relatedness": lambda v, n: number(v, n, 0, 1),
    "recency_half_life_days": lambda v, n: number(v, n, 0),
    "diversity": lambda v, n: number(v, n, 0, 1),
    "fill": lambda v, n: _choice(v, n, FILL_MODES),
}


def options_from(params: Mapping[str, Any], base: SimilarOptions, profiles: Mapping[str, Mapping[str, Any]]) -> SimilarOptions:
    """Options from request parameters over a named profile (`profile=`) over `base` (the service's).

    Raises:
        InvalidInput: naming the parameter (an unknown profile, a negative half-life ...).
    """
    options = base
    if "profile" in params and params["profile"] is not None:
        name = params["profile"]
        if not isinstance(name, str) or name not in profiles:
            known = ", ".join(sorted(profiles)) or "none configured"
            raise InvalidInput(f"unknown profile {str(name)[:40]!r}; known: {known}", "profile")
        options = _apply(options, profiles[name], prefix=f"profiles.{name}.")
    return _apply(options, params)


def _apply(options: SimilarOptions, params: Mapping[str, Any], prefix: str = "") -> SimilarOptions:
    changes = {}
    for name, parse in _PARSERS.items():
        if name in params and params[name] is not None:
            changes[name] = parse(params[name], prefix + name if prefix else name)
    return replace(options, **changes)


@lru_cache(maxsize=1024)
def options_key(options: SimilarOptions) -> str:
    """The options as canonical JSON: equal options give equal keys (cached answers are filed by it).

    Cached: a site asks with a handful of option sets, and asdict() costs more than a cached answer.
    """
    fields = {name: float(value) if type(value) is int and name != "k" else value  # 30 == 30.0
              for name, value in asdict(options).items()}
    return json.dumps({**fields, "exclude": sorted(options.exclude)}, sort_keys=True, ensure_ascii=False)
