"""Issue #26, "Hardening, round two": what a hostile client broke in the HTTP layer (metrics labels,
slow bodies, headers, options, keys). Each test here failed before its fix.

Where the point is the production server (metrics from several workers, slow bodies), the server is gunicorn
started by the very commands `make serve-prod` runs, on a free port of 127.0.0.1.
"""
from __future__ import annotations

import http.client
import json
import logging
import re
import select
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from index.records.options import SimilarOptions, options_from
from service import create_app
from service.security import warn_about_writes
from service.widget import csp_hash, css_between_markers, read_script

from .conftest import ROOT, SAMPLE_VECTORS, clean_environ, stop_process
from .test_concurrency import cli, request, service_env, write_jsonl
from .test_hardening import ingest
from .test_server import free_port

BODY_TIMEOUT = 6  # seconds the production server under test gives a request body


# -- the production server, as `make serve-prod` starts it --------------------------------------------------


def serve_prod_recipe(port: int, data_dir: Path) -> list[str]:
    """The shell lines `make serve-prod` runs (without installing anything), for this port and folder."""
    # --no-print-directory: under `make test` this make is a sub-make, which would print "Leaving directory".
    shown = subprocess.run(["make", "--no-print-directory", "-n", "serve-prod", f"PORT={port}", f"DATA_DIR={data_dir}"],
                           cwd=ROOT, env=clean_environ(), capture_output=True, text=True, timeout=30, check=True)
    lines = shown.stdout.splitlines()
    recipe = lines[next(i for i, line in enumerate(lines) if line.startswith("rm -rf")):]
    assert "gunicorn" in recipe[-1] and f"127.0.0.1:{port}" in recipe[-1], recipe
    return recipe


@contextmanager
def serving_prod(data_dir: Path, log_path: Path, **settings: str) -> Iterator[int]:
    """gunicorn on a free port of 127.0.0.1, started by `make serve-prod`'s recipe; yields the port once
    /readyz answers 200."""
    port = free_port()
    recipe = serve_prod_recipe(port, data_dir)
    # exec env (the recipe starts with VAR=value): terminate() then reaches gunicorn itself.
    script = " && ".join(recipe[:-1] + ["exec env " + recipe[-1]])
    with open(log_path, "w") as log:
        server = subprocess.Popen(["bash", "-c", script], cwd=ROOT, env=service_env(data_dir, **settings),
                                  stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while request(port, "GET", "/readyz")[0] != 200:
            assert server.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, "gunicorn not ready after 120 s"
            time.sleep(0.2)
        yield port
    finally:
        stop_process(server)


@pytest.fixture(scope="module")
def prod(tmp_path_factory, sample_rows) -> Iterator[dict]:
    """A data folder of 30 sample articles (their vectors ship with the sample) served by `make serve-prod`."""
    tmp = tmp_path_factory.mktemp("serve-prod")
    data_dir = tmp / "data"
    env = service_env(data_dir)
    for args in (("ingest", str(write_jsonl(tmp / "rows.jsonl", sample_rows[:30])), "--vectors", str(SAMPLE_VECTORS)),
                 ("rebuild",)):
        done = cli(env, *args)
        assert done.returncode == 0, done.stderr[-3000:]
    with serving_prod(data_dir, tmp / "gunicorn.log", BODY_TIMEOUT=str(BODY_TIMEOUT), RATE_LIMIT="") as port:
        yield {"port": port, "metrics": data_dir / ".metrics", "rows": sample_rows[:30]}


# -- 1. /metrics series from made-up methods and paths --------------------------------------------------------


def series(metrics: str, name: str) -> set[str]:
    """The label sets of one metric's samples."""
    return set(re.findall(rf"^{name}\{{([^}}]*)\}}", metrics, re.MULTILINE))


def test_made_up_methods_and_paths_add_no_metrics_series(prod, app):
    port = prod["port"]
    made_up = [f"M{uuid.uuid4().hex[:12].upper()}" for _ in range(20)]  # tokens gunicorn lets through
    paths = [f"/no-such-page-{uuid.uuid4().hex}" for _ in range(20)]
    for method in made_up:
        assert request(port, method, "/healthz")[0] == 405
    for path in paths:
        assert request(port, "GET", path)[0] == 404
    status, metrics = request(port, "GET", "/metrics")
    assert status == 200 and not any(token in metrics for token in made_up + paths)
    labels = series(metrics, "http_requests_total") | series(metrics, "http_request_duration_seconds_count")
    methods = {re.search(r'method="([^"]*)"', label).group(1) for label in labels}
    assert methods <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"}, methods
    routes = {re.search(r'route="([^"]*)"', label).group(1) for label in labels}
    assert routes <= {"unmatched"} | {rule.rule for rule in app.url_map.iter_rules()}, routes
    count = re.search(r'^http_requests_total\{method="other",route="unmatched",status="405"\} (\S+)$', metrics, re.MULTILINE)
    assert count and float(count.group(1)) >= len(made_up)


# -- 2. slow bodies do not stall the production server ------------------------------------------------------


class SlowBody:
    """A raw connection that sends a POST's headers at once, then its body a byte every `every` seconds,
    until the server answers (or `close`)."""

    def __init__(self, port: int, path: str = "/v1/similar", length: int = 2000, every: float = 0.5) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                          f"Content-Length: {length}\r\n\r\n{{".encode())
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._trickle, args=(every,), daemon=True)
        self.thread.start()

    def _trickle(self, every: float) -> None:
        while not self.stop.is_set():
            readable, _, _ = select.select([self.sock], [], [], every)
            if readable:  # the server answered (or closed): stop sending
                return
            try:
                self.sock.send(b" ")
            except OSError:
                return

    def response(self, timeout: float) -> tuple[int, dict]:
        """The server's answer: (status, JSON body)."""
        self.sock.settimeout(timeout)
        answer = http.client.HTTPResponse(self.sock)
        answer.begin()
        return answer.status, json.loads(answer.read())

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        self.sock.close()


def healthz_within(port: int, seconds: float) -> int:
    """/healthz's status over a fresh connection, 0 when it does not answer within `seconds`."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=seconds)
    try:
        connection.request("GET", "/healthz")
        return connection.getresponse().status
    except OSError:
        return 0
    finally:
        connection.close()


def test_eight_slow_bodies_leave_healthz_answering(prod):
    """8 clients trickling a `POST /v1/similar` body held every thread of `serve-prod` (2 workers x 4):
    /healthz went unanswered for as long as they cared to trickle."""
    slow = [SlowBody(prod["port"]) for _ in range(8)]
    try:
        time.sleep(1.0)  # every body is being read by now
        statuses = []
        for _ in range(4):  # fresh connections: either worker may take each
            statuses.append(healthz_within(prod["port"], 2.0))
            time.sleep(0.2)
        assert statuses == [200] * 4
    finally:
        for body in slow:
            body.close()


def test_a_body_slower_than_the_deadline_is_408_naming_the_body(prod):
    slow = SlowBody(prod["port"])
    try:
        status, answer = slow.response(timeout=BODY_TIMEOUT + 10)
    finally:
        slow.close()
    assert status == 408 and answer["error"]["field"] == "body", answer
    assert answer["error"]["code"] == "request_timeout" and f"{BODY_TIMEOUT} s" in answer["error"]["message"]
    # The worker that read it is free and the server well: a body sent in pieces within the deadline is read.
    connection = socket.create_connection(("127.0.0.1", prod["port"]), timeout=30)
    try:
        doc = json.dumps({"headline": prod["rows"][0]["headline"], "k": 2, "min_relatedness": 0}, ensure_ascii=False).encode()
        connection.sendall(f"POST /v1/similar HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           f"Content-Length: {len(doc)}\r\n\r\n".encode())
        for start in range(0, len(doc), len(doc) // 3 + 1):
            time.sleep(0.4)
            connection.sendall(doc[start:start + len(doc) // 3 + 1])
        answer = http.client.HTTPResponse(connection)
        answer.begin()
        assert answer.status == 200 and len(json.loads(answer.read())["items"]) == 2
    finally:
        connection.close()


def test_the_dockerfile_runs_as_many_threads_as_serve_prod():
    recipe = serve_prod_recipe(8080, Path("/data"))[-1]
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    threads = re.search(r"--threads (\d+)", recipe).group(1)
    assert re.search(rf'"--threads", "{threads}"', dockerfile), threads
    assert int(threads) >= 16  # 8 slow clients take at most half of one worker's threads


# -- 3. smaller ---------------------------------------------------------------------------------------------


def test_empty_items_of_a_comma_separated_exclude_are_ignored(client, few):
    ingest(client, few[:4])
    path = f"/v1/articles/{few[0]['id']}/similar?k=3&min_relatedness=0&duplicates=include"
    everything = [i["id"] for i in client.get(path).get_json()["items"]]
    for exclude in (",,,", "", " , "):
        response = client.get(f"{path}&exclude={exclude}")
        assert response.status_code == 200, response.get_json()
        assert [i["id"] for i in response.get_json()["items"]] == everything
    response = client.get(f"{path}&exclude=,{everything[0]},,")
    assert response.status_code == 200 and everything[0] not in {i["id"] for i in response.get_json()["items"]}
    assert options_from({"exclude": ",,,"}, SimilarOptions(), {}).exclude == frozenset()
    bad = client.get(f"/v1/articles/{few[0]['id']}/similar?exclude=" + ",".join(["x"] * 1001))
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "exclude"


def test_a_short_api_key_is_warned_about_at_start(engine, caplog):
    with caplog.at_level(logging.WARNING, logger="service.security"):
        warn_about_writes(create_app({"TESTING": True, "API_KEYS": "abcde, a-key-of-twenty-chars"}, engine=engine))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("1 API key is shorter than 16 characters" in m for m in warnings), warnings
    assert not any("abcde" in m for m in warnings)  # never the key itself
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="service.security"):
        warn_about_writes(create_app({"TESTING": True, "API_KEYS": "a-key-of-twenty-chars"}, engine=engine))
    assert not [r for r in caplog.records if "shorter" in r.getMessage()]


def test_every_response_has_nosniff_and_the_demo_page_a_policy(client, few):
    from service.headers import site_policy

    ingest(client, few[:3])
    demo = client.get("/")
    demo.close()  # a file response
    assert demo.status_code == 200 and demo.mimetype == "text/html"
    assert demo.headers["X-Frame-Options"] == "DENY" and demo.headers["Content-Security-Policy"] == site_policy()
    policy = dict(part.strip().split(" ", 1) for part in site_policy().split(";"))
    assert policy["default-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert policy["script-src"] == "'self'" and "'unsafe-inline'" not in site_policy()
    # widget.js adds the block's stylesheet to the page as a <style>: its hash is allowed, nothing else inline.
    assert csp_hash(css_between_markers(read_script())) in policy["style-src"].split()
    for path in ("/", "/static/demo.js", "/static/demo.css", "/widget.js", "/healthz", "/v1/articles", "/nope"):
        with client.get(path) as response:
            assert response.headers["X-Content-Type-Options"] == "nosniff", path
    script = client.get("/widget.js", headers={"Origin": "https://news.example"})
    assert script.mimetype == "text/javascript" and script.headers["Access-Control-Allow-Origin"] == "*"
    assert "X-Frame-Options" not in script.headers
    page = client.get(f"/widget/{few[0]['id']}")  # framed by other sites: its own policy, no X-Frame-Options
    assert "frame-ancestors *" in page.headers["Content-Security-Policy"] and "X-Frame-Options" not in page.headers
