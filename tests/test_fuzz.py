"""The API fuzzed from its own OpenAPI document (schemathesis): no 5xx, every answer fits the schema.

Collection reads the document itself (`spec_for`, the function the app serves it with), so collecting
this module builds no app and loads no model; the app is a fixture on the session's one e5 model.
Examples are derandomised, so a run embeds the same texts as the last one.
"""
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import allow_header_conformance

from index.records.article import validate_article
from service import create_app
from service.openapi import spec_for

from .conftest import make_engine

FUZZ_KEY = "fuzz-key"
FUZZ_BULK = 20
DEFAULT_PROFILES = ["widget"]  # the app below runs with the default PROFILES


@pytest.fixture(scope="module")
def fuzzed_engine(tmp_path_factory, e5, sample_rows):
    engine = make_engine(tmp_path_factory.mktemp("fuzz") / "data", e5)
    engine.upsert([validate_article(r) for r in sample_rows[:20]])
    engine.rebuild()
    return engine


class LaterApp:
    """A WSGI app that serves through the app a fixture sets after collection."""

    app = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


LATER = LaterApp()
schema = schemathesis.openapi.from_dict(spec_for(DEFAULT_PROFILES, FUZZ_BULK))
schema.app = LATER


@pytest.fixture(scope="module", autouse=True)
def fuzzed_app(fuzzed_engine):
    app = create_app({"TESTING": True, "RATE_LIMIT": "", "MAX_BULK": FUZZ_BULK, "API_KEYS": FUZZ_KEY}, engine=fuzzed_engine)
    assert sorted(app.config["PROFILES"]) == DEFAULT_PROFILES
    LATER.app = app
    yield app
    LATER.app = None


@pytest.mark.slow  # embeds the texts it makes up
@schema.parametrize()
@settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_server_error_and_answers_match_the_schema(case, fuzzed_engine):
    before = fuzzed_engine.store.count()
    # Flask answers OPTIONS and HEAD for every route itself; the Allow header then lists them too.
    case.call_and_validate(headers={"Authorization": f"Bearer {FUZZ_KEY}"},
                           excluded_checks=[allow_header_conformance])
    assert fuzzed_engine.store.count() >= before - 1  # at most the one article a DELETE case names
