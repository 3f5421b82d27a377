"""What a similar-stories request may ask for, checked: filters, recency, diversity, profile.

`OPTIONS` declares each option once: `options_from` checks requests with it, and /openapi.json
describes the options from it (`option_parameters`, `option_properties`).
"""
from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from typing import Any

from ..errors import InvalidInput
from .article import format_timestamp, parse_timestamp

MAX_K = 100
MAX_TEXT = 200  # a filter's value (language, section, source)
MAX_EXCLUDE = 1000  # ids in `exclude`
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
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT:
        raise InvalidInput(f"'{name}' must be a non-empty string of at most {MAX_TEXT} characters", name)
    return value


def _choice(value: Any, name: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise InvalidInput(f"'{name}' must be one of {', '.join(allowed)}", name)
    return value


def _ids(value: Any, name: str) -> frozenset[str]:
    """Ids from a JSON list, or comma-separated in a query string, where empty items (`exclude=,,,`,
    a trailing comma) are ignored."""
    items = [i for i in value.split(",") if i.strip()] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or len(items) > MAX_EXCLUDE or not all(isinstance(i, str) and i for i in items):
        raise InvalidInput(f"'{name}' must be a list of ids (comma-separated in a query string)", name)
    return frozenset(i.strip() for i in items)


def _moment(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"'{name}' must be an ISO 8601 date", name)
    return format_timestamp(parse_timestamp(value, name))


@dataclass(frozen=True)
class Option:
    """One request option: how `options_from` checks it and what /openapi.json says of it. Its default
    is the field's in SimilarOptions (the service's defaults, or a profile's, may differ)."""

    name: str
    kind: str  # "integer" or "number" in [low, high]; "choice"; "text"; "ids"; "moment"; "profile"
    description: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()

    def parse(self, value: Any, where: str) -> Any:
        """The checked value; InvalidInput naming `where` otherwise."""
        if self.kind in ("integer", "number"):
            return number(value, where, self.low, self.high, integer=self.kind == "integer")
        if self.kind == "choice":
            return _choice(value, where, self.choices)
        return {"text": _text, "ids": _ids, "moment": _moment}[self.kind](value, where)

    def schema(self, profiles: Iterable[str] = (), default: Any = None, body: bool = False) -> dict[str, Any]:
        """Its JSON Schema, as a query parameter or (`body`) in a JSON document."""
        if self.kind in ("integer", "number"):
            schema: dict[str, Any] = {"type": self.kind, "minimum": self.low}
            if self.high is not None:
                schema["maximum"] = self.high
        elif self.kind in ("choice", "profile"):
            schema = {"type": "string", "enum": list(self.choices if self.kind == "choice" else profiles)}
        elif self.kind == "text":
            schema = {"type": "string", "minLength": 1, "maxLength": MAX_TEXT}
        elif self.kind == "moment":
            schema = {"type": "string", "format": "date-time"}
        elif body:  # ids: a list, or a string of comma-separated ids
            return {"anyOf": [{"type": "array", "maxItems": MAX_EXCLUDE, "items": {"type": "string", "minLength": 1}},
                              {"type": "string"}]}
        else:
            schema = {"type": "string"}
        if default is not None and not isinstance(default, frozenset):
            schema["default"] = default
        return schema

    def parameter(self, profiles: Iterable[str] = (), default: Any = None) -> dict[str, Any]:
        """It as an OpenAPI query parameter."""
        return {"name": self.name, "in": "query", "required": False, "description": self.description,
                "schema": self.schema(profiles, default)}


OPTIONS = (
    Option("k", "integer", "how many items, at most", 1, MAX_K),
    Option("profile", "profile", "a named set of these options from the service's PROFILES; "
                                 "options given with it win over it"),
    Option("duplicates", "choice", "collapse: the article's own duplicates are left out and near-duplicates "
                                   "among the results collapse into one item with `also`; include: every "
                                   "item, with its relation", choices=DUPLICATE_MODES),
    Option("language", "text", "only items of this language (its primary subtag: ar finds ar and ar-TN)"),
    Option("section", "text", "only items of this section"),
    Option("source", "text", "only items of this source"),
    Option("exclude_source", "text", "no items of this source"),
    Option("exclude", "ids", "ids to leave out (comma-separated in a query string; empty items are ignored)"),
    Option("since", "moment", "only items published at or after this moment (ISO 8601)"),
    Option("until", "moment", "only items published at or before this moment (ISO 8601)"),
    Option("max_age_days", "number", "only items published at most this many days before or after the "
                                     "article (a draft: now)", 0),
    Option("min_score", "number", "least cosine similarity", -1, 1),
    Option("min_relatedness", "number", "least relatedness shown (default: the model's calibrated floor)", 0, 1),
    Option("recency_half_life_days", "number", "rank newer items first: an item's weight halves every this "
                                               "many days from the article (0: off)", 0),
    Option("diversity", "number", "trade similarity for variety among the items (MMR; 0: off)", 0, 1),
    Option("fill", "choice", "top up a block fewer than k related items reach: with the newest of the "
                             "article's section (relation more_from_section) or of all (relation latest); "
                             "none: an honest block, maybe short", choices=FILL_MODES),
)


def option_parameters(profiles: Iterable[str], base: SimilarOptions = SimilarOptions(),
                      names: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """The options (all, or those `names`) as OpenAPI query parameters, defaults from `base`."""
    return [o.parameter(profiles, getattr(base, o.name, None)) for o in OPTIONS if names is None or o.name in names]


def option_properties(profiles: Iterable[str], base: SimilarOptions = SimilarOptions()) -> dict[str, Any]:
    """The options as JSON Schema properties of a JSON body, where each may also be null (= not given)."""
    properties = {}
    for o in OPTIONS:
        schema = o.schema(profiles, getattr(base, o.name, None), body=True)
        properties[o.name] = {"description": o.description,
                              "anyOf": [*schema.get("anyOf", [schema]), {"type": "null"}]}
    return properties


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
    for option in OPTIONS:
        name = option.name
        if option.kind != "profile" and name in params and params[name] is not None:
            changes[name] = option.parse(params[name], prefix + name)
    return replace(options, **changes)


@lru_cache(maxsize=1024)
def options_key(options: SimilarOptions) -> str:
    """The options as canonical JSON: equal options give equal keys (cached answers are filed by it).

    Cached: a site asks with a handful of option sets, and asdict() costs more than a cached answer.
    """
    fields = {name: float(value) if type(value) is int and name != "k" else value  # 30 == 30.0
              for name, value in asdict(options).items()}
    return json.dumps({**fields, "exclude": sorted(options.exclude)}, sort_keys=True, ensure_ascii=False)
