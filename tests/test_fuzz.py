"""The API fuzzed from its own OpenAPI document (schemathesis): no 5xx, every answer fits the schema."""
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import allow_header_conformance

from index.article import validate_article
from index.embedders import E5Embedder
from service import create_app

from .conftest import make_engine

# schemathesis parametrizes at collection time, so the app exists before the fixtures do.
_DATA = tempfile.TemporaryDirectory(prefix="fuzz-")
ENGINE = make_engine(Path(_DATA.name) / "data", E5Embedder())
APP = create_app({"TESTING": True, "RATE_LIMIT": "", "MAX_BULK": 20, "API_KEYS": "fuzz-key"}, engine=ENGINE)
schema = schemathesis.openapi.from_wsgi("/openapi.json", APP)


@pytest.fixture(scope="module", autouse=True)
def stored(sample_rows):
    ENGINE.upsert([validate_article(r) for r in sample_rows[:20]])
    ENGINE.rebuild()
    yield
    _DATA.cleanup()


@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_error_and_answers_match_the_schema(case):
    before = ENGINE.store.count()
    # Flask answers OPTIONS and HEAD for every route itself; the Allow header then lists them too.
    case.call_and_validate(headers={"Authorization": "Bearer fuzz-key"}, excluded_checks=[allow_header_conformance])
    assert ENGINE.store.count() >= before - 1  # at most the one article a DELETE case names
