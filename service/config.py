"""Configuration: defaults, overridden by environment variables, overridden by the caller (tests)."""
from __future__ import annotations

import json
import os
from typing import Any

from index.embedding.models import DEFAULT_MODEL
from index.text.prepare import DEFAULT_LEAD_WORDS

DEFAULTS: dict[str, Any] = {
    "DATA_DIR": "./data",
    "EMBEDDING_MODEL": DEFAULT_MODEL,
    "EMBEDDING_CACHE": None,  # default: <DATA_DIR>/embeddings.sqlite, or DATABASE_URL's
    # postgresql://...: the store, embedding cache and index versions shared by several machines
    "DATABASE_URL": None,
    "LEAD_WORDS": DEFAULT_LEAD_WORDS,
    "KEEP_VERSIONS": 3,
    "WARM_ARTICLES": 50_000,  # newest articles whose similar stories `rebuild` computes ahead of requests
    "MAX_BULK": 1000,
    "MAX_CONTENT_LENGTH": 32 * 1024 * 1024,
    "BODY_TIMEOUT": 30,  # seconds a client has to send a request's whole body (408 beyond; 0: no limit)
    "RELATED_FLOOR": None,  # cosine floor of `related`; default: measured for the model (0.86 for e5)
    "RECENCY_HALF_LIFE_DAYS": 0,  # service-wide default; 0 = no recency decay
    # Named defaults a request selects with profile=NAME (JSON object of objects in the environment).
    "PROFILES": {"widget": {"k": 6, "recency_half_life_days": 30, "duplicates": "collapse"}},
    "API_KEYS": "",  # comma-separated keys that may write; none: writes are refused (but see the next)
    "API_KEYS_FILE": None,  # or a file of keys, one a line
    "ALLOW_LOCAL_WRITES": 0,  # 1: without keys, writes sent from this machine (not through a proxy) are accepted
    "TRUSTED_PROXIES": 0,  # how many reverse proxies in front set X-Forwarded-For/-Proto/-Host (0: none)
    "RATE_LIMIT": "60/minute",  # per client, shared by all workers, on the endpoints that run the model; "off"
    "MAX_QUERY_STRING": 4096,  # bytes
    "JSON_LOGS": 1,  # one JSON object a log line (0: plain text)
    # Origins (comma-separated) whose pages may call the API and embed the widget; "" = any origin.
    "WIDGET_ORIGINS": "",
    "HOST": "127.0.0.1",
    "PORT": 8080,
}


def from_environ(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """The settings named in DEFAULTS that the environment sets, converted to the default's type."""
    environ = os.environ if environ is None else environ
    found: dict[str, Any] = {}
    for name, default in DEFAULTS.items():
        raw = environ.get(name)
        if raw is None or (raw == "" and name != "RATE_LIMIT"):  # RATE_LIMIT="" turns the limit off
            continue
        if name == "RELATED_FLOOR":
            found[name] = float(raw)
        elif isinstance(default, dict):
            try:
                found[name] = json.loads(raw)
            except ValueError:
                raise ValueError(f"environment variable {name} must be a JSON object")
            if not isinstance(found[name], dict) or not all(isinstance(v, dict) for v in found[name].values()):
                raise ValueError(f"environment variable {name} must be a JSON object of objects")
        elif isinstance(default, int):
            try:
                found[name] = int(raw)
            except ValueError:
                raise ValueError(f"environment variable {name} must be an integer, got {raw!r}")
        else:
            found[name] = raw
    return found
