"""Production concerns: keys for writes, limits, metrics, logs, readiness, the OpenAPI contract."""
import json
import logging
import os
import re
import subprocess
import sys
import uuid

import pytest

from service import create_app
from service.config import DEFAULTS
from service.observability import JsonFormatter
from service.openapi import SPEC, spec_for
from service.rate_limit import RateLimiter, parse_rate
from service.security import warn_about_writes

from .conftest import ROOT


def post(client, url, doc, **kwargs):
    return client.post(url, data=json.dumps(doc), content_type="application/json", **kwargs)


@pytest.fixture
def keyed(engine):
    app = create_app({"TESTING": True, "API_KEYS": "key-one, key-two", "RATE_LIMIT": ""}, engine=engine)
    return app.test_client()


def test_writes_need_a_valid_key_reads_do_not(keyed, few):
    response = post(keyed, "/v1/articles", few[0])
    assert response.status_code == 401 and response.get_json()["error"]["field"] == "Authorization"
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert post(keyed, "/v1/articles", few[0], headers={"Authorization": "Bearer key-three"}).status_code == 401
    assert post(keyed, "/v1/articles", few[0], headers={"Authorization": "key-one"}).status_code == 401
    assert post(keyed, "/v1/articles", few[0], headers={"Authorization": "Bearer key-two"}).status_code == 200
    assert keyed.get(f"/v1/articles/{few[0]['id']}").status_code == 200
    assert keyed.delete(f"/v1/articles/{few[0]['id']}").status_code == 401
    assert keyed.get(f"/v1/articles/{few[0]['id']}").status_code == 200  # nothing lost


def test_keys_from_a_file(engine, tmp_path, few):
    keys = tmp_path / "keys"
    keys.write_text("# editors\nfile-key\n")
    client = create_app({"TESTING": True, "API_KEYS_FILE": str(keys)}, engine=engine).test_client()
    assert post(client, "/v1/articles", few[0], headers={"Authorization": "Bearer file-key"}).status_code == 200


def test_without_keys_writes_are_refused_unless_local_writes_are_allowed(engine, few):
    closed = create_app({"TESTING": True, "RATE_LIMIT": ""}, engine=engine).test_client()
    response = post(closed, "/v1/articles", few[0])  # even from 127.0.0.1
    assert response.status_code == 403 and "API_KEYS" in response.get_json()["error"]["message"]
    assert closed.delete(f"/v1/articles/{few[0]['id']}").status_code == 403
    assert post(closed, "/v1/similar", {"headline": few[0]["headline"]}).status_code == 200  # not a write


def test_local_writes_are_from_this_machine_only_never_through_a_proxy(client, few):
    remote = {"REMOTE_ADDR": "203.0.113.9"}
    response = post(client, "/v1/articles", few[0], environ_base=remote)
    assert response.status_code == 403 and response.get_json()["error"]["field"] == "Authorization"
    # A proxy on this machine forwarding a request from elsewhere: the address is local, the client is not.
    proxied = post(client, "/v1/articles", few[0], headers={"X-Forwarded-For": "203.0.113.9"})
    assert proxied.status_code == 403
    assert post(client, "/v1/articles", few[0]).status_code == 200  # the test client is 127.0.0.1
    assert client.get(f"/v1/articles/{few[0]['id']}", environ_base=remote).status_code == 200


def test_start_up_says_whether_writes_are_refused(engine, caplog):
    with caplog.at_level(logging.WARNING):
        warn_about_writes(create_app({"TESTING": True}, engine=engine))
        warn_about_writes(create_app({"TESTING": True, "ALLOW_LOCAL_WRITES": 1}, engine=engine))
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.endswith("writes over HTTP are refused") for m in messages)
    assert any("accepted from this machine only" in m for m in messages)


def test_model_endpoints_are_rate_limited_per_client(engine, few):
    client = create_app({"TESTING": True, "RATE_LIMIT": "2/minute"}, engine=engine).test_client()
    draft = {"headline": few[0]["headline"]}
    assert [post(client, "/v1/duplicates", draft).status_code for _ in range(2)] == [200, 200]
    limited = post(client, "/v1/similar", draft)
    assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 30
    other = post(client, "/v1/similar", draft, environ_base={"REMOTE_ADDR": "127.0.0.2"})
    assert other.status_code == 200  # another client has its own bucket


def test_token_bucket_refills(bucket_store):
    limiter = RateLimiter(*parse_rate("2/second"), bucket_store)
    assert [limiter.take("a", now=0.0), limiter.take("a", now=0.0)] == [0.0, 0.0]
    assert limiter.take("a", now=0.0) == pytest.approx(0.5)
    assert limiter.take("a", now=0.6) == 0.0
    with pytest.raises(ValueError):
        parse_rate("lots")


def test_long_query_strings_are_refused(client, few):
    response = client.get("/v1/articles?q=" + "x" * 5000)
    assert response.status_code == 400 and "query string" in response.get_json()["error"]["message"]


def answers_by_source(metrics: str) -> dict[str, float]:
    return {m[0]: float(m[1]) for m in re.findall(r'similar_answers_total\{source="(\w+)"\} (\S+)', metrics)}


def test_metrics_in_prometheus_format(client, engine, few):
    post(client, "/v1/articles", {"articles": few[:3]})
    engine.rebuild()
    before = answers_by_source(client.get("/metrics").get_data(as_text=True))
    client.get(f"/v1/articles/{few[0]['id']}/similar")
    client.get(f"/v1/articles/{few[0]['id']}/similar")
    post(client, "/v1/similar", {"headline": f"مسودة لم تكتب من قبل {uuid.uuid4().hex}"})  # not in the cache
    text = client.get("/metrics").get_data(as_text=True)
    after = answers_by_source(text)
    assert after["computed"] - before.get("computed", 0) == 1 and after["memory"] - before.get("memory", 0) == 1
    assert re.search(r'http_requests_total\{method="GET",route="/v1/articles/<path:article_id>/similar",status="200"\} \d', text)
    assert 'http_request_duration_seconds_bucket{' in text
    assert "index_articles 3.0" in text and "index_version_info{version=" in text
    assert "rebuild_success 1.0" in text and "rebuild_duration_seconds " in text
    assert "embedding_duration_seconds_count" in text


def test_json_logs_carry_the_request_id(client, caplog):
    with caplog.at_level(logging.INFO, logger="service.access"):
        response = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert response.headers["X-Request-ID"] == "abc-123"
    record = [r for r in caplog.records if r.name == "service.access"][-1]
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "abc-123" and line["status"] == 200 and line["path"] == "/healthz"
    assert line["level"] == "info" and "duration_ms" in line and "Authorization" not in json.dumps(line)
    assert client.get("/healthz").headers["X-Request-ID"]  # generated when absent


def test_readyz_is_false_until_the_index_is_loaded(app, engine):
    client = app.test_client()
    assert client.get("/readyz").status_code == 503
    engine.load()
    assert client.get("/readyz").get_json()["ready"] is True


def test_openapi_documents_exactly_the_routes(app):
    spec = app.test_client().get("/openapi.json").get_json()
    assert spec == spec_for(["widget"], 1000) and spec["openapi"] == SPEC["openapi"]
    documented = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops}
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint in ("static", "demo.index"):
            continue
        path = re.sub(r"<(?:path:)?(\w+)>", lambda m: "{id}" if "id" in m.group(1) else "{" + m.group(1) + "}", rule.rule)
        served |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert documented == served


def test_the_shell_environment_does_not_change_test_results():
    """A shell with API_KEYS, PROFILES or RATE_LIMIT set runs the same tests the same way."""
    assert not set(DEFAULTS) & set(os.environ)
    shell = {**os.environ, "API_KEYS": "from-the-shell", "RATE_LIMIT": "1/hour", "PROFILES": '{"x": {"k": 3}}'}
    tests = ["tests/test_api.py::test_delete", "tests/test_api.py::test_draft_similar",
             "tests/test_production.py::test_openapi_documents_exactly_the_routes"]
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests], cwd=ROOT,
                          env=shell, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:]
