"""Two API servers on one PostgreSQL, each with its own empty data folder (no file shared), and a
rebuild run by a third process: writes, deletes and new index versions reach both."""
import json
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .conftest import ROOT, SAMPLE_VECTORS, clean_environ
from .test_server import call, free_port, serving


def service(args: list[str], env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "service", *args], env=env, cwd=ROOT, check=True, capture_output=True)


def environment(data_dir: Path, database_url: str, **more: str) -> dict[str, str]:
    return {**clean_environ(), "DATA_DIR": str(data_dir), "DATABASE_URL": database_url, "ALLOW_LOCAL_WRITES": "1",
            "RATE_LIMIT": "3/minute", **more}


@contextmanager
def replica(data_dir: Path, database_url: str) -> Iterator[str]:
    """`serve` on a free port with an empty data folder; yields its base URL once it answers."""
    data_dir.mkdir(parents=True)
    with serving(environment(data_dir, database_url, PORT=str(free_port()))) as base:
        yield base


def similar_ids(base: str, article_id: str) -> list[str]:
    status, answer = call(f"{base}/v1/articles/{article_id}/similar?k=10&duplicates=include&min_relatedness=0")
    assert status == 200, answer
    return [i["id"] for i in answer["items"]] + [d["id"] for i in answer["items"] for d in i.get("also", [])]


def metrics(base: str) -> str:
    with urllib.request.urlopen(base + "/metrics", timeout=30) as response:
        return response.read().decode()


def wait_for(condition, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_two_replicas_without_a_shared_disk_see_each_others_writes_and_a_third_machines_rebuild(
        tmp_path, few, database_url):
    ops = environment(tmp_path / "ops", database_url)
    source = tmp_path / "articles.jsonl"
    source.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in few), encoding="utf-8")
    service(["ingest", str(source), "--vectors", str(SAMPLE_VECTORS)], ops)
    service(["rebuild", "--no-warm"], ops)
    with replica(tmp_path / "a", database_url) as a, replica(tmp_path / "b", database_url) as b:
        first = call(a + "/healthz")[1]["index_version"]
        assert first and call(b + "/healthz")[1]["index_version"] == first  # copied from the database
        assert not (tmp_path / "a" / "articles.sqlite").exists()

        copy = {**few[2], "id": "wire-copy", "source": "another outlet"}
        assert call(a + "/v1/articles", copy)[0] == 200
        assert "wire-copy" in similar_ids(b, few[2]["id"])  # at once: B replays the log on its next request
        assert call(b + "/v1/articles/wire-copy", method="DELETE")[0] == 200
        assert "wire-copy" not in similar_ids(a, few[2]["id"])
        assert call(a + "/v1/articles/wire-copy")[0] == 404

        service(["rebuild", "--no-warm"], ops)  # a third machine
        second = (tmp_path / "ops" / "index" / "CURRENT").read_text().strip()
        assert second != first
        assert wait_for(lambda: all(call(r + "/healthz")[1]["index_version"] == second for r in (a, b)))

        # An answer A computed is served by B from the database (no file is shared).
        assert call(f"{a}/v1/articles/{few[5]['id']}/similar")[0] == 200
        assert call(f"{b}/v1/articles/{few[5]['id']}/similar")[1] == call(f"{a}/v1/articles/{few[5]['id']}/similar")[1]
        assert 'similar_answers_total{source="shared"} 1.0' in metrics(b)

        # One rate limit for a client across both machines (3 a minute).
        pair = {"a": {"headline": few[0]["headline"]}, "b": {"headline": few[1]["headline"]}}
        assert [call(r + "/v1/compare", pair)[0] for r in (a, b, a, b)] == [200, 200, 200, 429]

        statuses, written = mixed_load(a, b, few)
        assert set(statuses) <= {200}, statuses
        for base in (a, b):
            assert all(call(f"{base}/v1/articles/{i}")[0] == 200 for i in written)
            assert call(base + "/healthz")[1]["articles"] == len(few) + len(written)


def mixed_load(a: str, b: str, few: list[dict], per_thread: int = 15) -> tuple[list[int], list[str]]:
    """Two threads, each writing to one replica and reading from both: a bounded load."""
    statuses: list[int] = []
    written: list[str] = []
    lock = threading.Lock()

    def work(n: int, writer: str, reader: str) -> None:
        for i in range(per_thread):
            row = few[(n * per_thread + i) % len(few)]
            new = {**row, "id": f"load-{n}-{i}", "headline": f"{row['headline']} ({n}-{i})"}
            status = call(writer + "/v1/articles", new)[0]
            seen = [call(f"{reader}/v1/articles/{new['id']}")[0],
                    call(f"{reader}/v1/articles/{row['id']}/similar?k=5")[0]]
            with lock:
                statuses.extend([status, *seen])
                written.append(new["id"])

    threads = [threading.Thread(target=work, args=(0, a, b)), threading.Thread(target=work, args=(1, b, a))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return statuses, written
