"""A real server process on 127.0.0.1, started the way operations start it."""
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from .conftest import ROOT, TEST_CACHE, clean_environ
from .postgres_server import free_port


def call(url: str, doc=None, method=None):
    data = json.dumps(doc).encode() if doc is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@contextmanager
def running_server(data_dir: Path, rows: list[dict], **env_overrides: str) -> Iterator[str]:
    """`python -m service ingest` the rows, then `serve` on a free port of 127.0.0.1; yields its base URL."""
    port = free_port()
    env = {**clean_environ(), "DATA_DIR": str(data_dir), "EMBEDDING_CACHE": str(TEST_CACHE), "PORT": str(port),
           "ALLOW_LOCAL_WRITES": "1", **env_overrides}
    data_dir.mkdir(parents=True, exist_ok=True)
    source = data_dir.parent / "articles.jsonl"
    source.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    subprocess.run([sys.executable, "-m", "service", "ingest", str(source)], env=env, cwd=ROOT, check=True,
                   capture_output=True)
    with serving(env) as base:
        yield base


@contextmanager
def serving(env: dict[str, str]) -> Iterator[str]:
    """`python -m service serve` with this environment (its PORT set); yields its base URL once it answers."""
    process = subprocess.Popen([sys.executable, "-m", "service", "serve"], env=env, cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{env['PORT']}"
    try:
        for _ in range(600):
            try:
                call(base + "/healthz")
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def server(tmp_path, few):
    with running_server(tmp_path / "data", few) as base:
        yield base


def test_real_server_answers_the_api(server, few):
    status, health = call(server + "/healthz")
    assert status == 200 and health["indexed"] == len(few)
    status, answer = call(f"{server}/v1/articles/{few[0]['id']}/similar?k=3&min_relatedness=0")
    assert status == 200 and len(answer["items"]) == 3
    status, error = call(f"{server}/v1/articles/{few[0]['id']}/similar?k=1000")
    assert status == 400 and error["error"]["field"] == "k"
    new = {**few[2], "id": "fresh-copy"}
    assert call(server + "/v1/articles", new)[0] == 200
    status, answer = call(f"{server}/v1/articles/{few[2]['id']}/similar?k=1&duplicates=include")
    assert answer["items"][0]["id"] == "fresh-copy"
    assert call(server + "/v1/articles/fresh-copy", method="DELETE")[0] == 200
    status, answer = call(server + "/v1/similar", {"headline": few[2]["headline"], "body": few[2]["body"], "k": 1,
                                                   "duplicates": "include"})
    assert status == 200 and answer["items"][0]["id"] == few[2]["id"]
