"""The HTTP half of bench/archive.py: the production server (gunicorn, as `make serve-prod` runs it) over
a data folder, and what is measured through it: first-time GET similar against /healthz, throughput
under a steady writer, planted copies found by GET duplicates, and the server processes' memory.
"""
from __future__ import annotations

import http.client
import json
import os
import random
import shutil
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bench.serving import free_port

# What no page asks for, so that no answer was computed ahead or cached (as bench/http_latency.py).
UNCOMMON = "exclude_source=bench-no-such-source"
WARM_WRITES = 6


def request(port: int, method: str, path: str, body: Any = None, timeout: float = 120) -> tuple[int, float, bytes]:
    """(status, seconds, body) of one request over a fresh connection; status 0 when it could not be sent."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    data = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
    started = time.perf_counter()
    try:
        connection.request(method, path, data, {"Content-Type": "application/json"} if data else {})
        response = connection.getresponse()
        payload = response.read()
        status = response.status
    except OSError:
        status, payload = 0, b""
    finally:
        connection.close()
    return status, time.perf_counter() - started, payload


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def similar_path(article_id: str, k: int, extra: str = "") -> str:
    return f"/v1/articles/{quote(article_id, safe='')}/similar?k={k}" + (f"&{extra}" if extra else "")


# -- the server ------------------------------------------------------------------------------------


@dataclass
class Server:
    port: int
    process: subprocess.Popen
    ready_seconds: float
    log: Path

    def health(self) -> dict[str, Any]:
        status, _, payload = request(self.port, "GET", "/healthz")
        return json.loads(payload) if status == 200 else {}

    def workers(self) -> list[int]:
        """The gunicorn workers' pids (the master's children)."""
        try:
            text = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]

    def memory(self) -> dict[str, float]:
        """Resident and peak resident bytes of the largest worker, resident bytes summed over the workers,
        and the master's."""
        rows = {pid: proc_memory(pid) for pid in self.workers()}
        rows = {pid: m for pid, m in rows.items() if m}
        master = proc_memory(self.process.pid) or {"rss": 0, "hwm": 0}
        if not rows:
            return {}
        return {"worker_rss_max": max(m["rss"] for m in rows.values()),
                "worker_hwm_max": max(m["hwm"] for m in rows.values()),
                "worker_rss_sum": sum(m["rss"] for m in rows.values()),
                "master_rss": master["rss"], "workers": len(rows)}


def cpu_seconds(pids: Sequence[int]) -> float:
    """CPU time (user + system) these processes have used so far."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def proc_memory(pid: int) -> dict[str, int] | None:
    """VmRSS and VmHWM (peak) of a process in bytes, from /proc."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    kb = lambda name: int(fields.get(name, "0 kB").split()[0]) * 1024  # noqa: E731
    return {"rss": kb("VmRSS"), "hwm": kb("VmHWM")}


@contextmanager
def production_server(tree: Path, data_dir: Path, gunicorn: Path, env: dict[str, str], workers: int = 2,
                      ready_timeout: float = 3600) -> Iterator[Server]:
    """gunicorn on a free port of 127.0.0.1 as `make serve-prod` starts it (`--workers 2 --threads 16`,
    PROMETHEUS_MULTIPROC_DIR), from `tree`; yields once /readyz answers 200."""
    port = free_port()
    metrics = data_dir / ".metrics"
    shutil.rmtree(metrics, ignore_errors=True)
    metrics.mkdir(parents=True)
    log = data_dir.parent / f"{data_dir.name}-gunicorn.log"
    settings = {**env, "DATA_DIR": str(data_dir), "PORT": str(port), "PROMETHEUS_MULTIPROC_DIR": str(metrics),
                "ALLOW_LOCAL_WRITES": "1"}
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(gunicorn), "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", "16",
             "--timeout", "600", "service.wsgi:app"], cwd=tree, env=settings, stdout=out, stderr=subprocess.STDOUT)
    started = time.monotonic()
    try:
        while request(port, "GET", "/readyz", timeout=10)[0] != 200:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with code {process.returncode}: {tail(log)}")
            if time.monotonic() - started > ready_timeout:
                raise RuntimeError(f"gunicorn not ready after {ready_timeout:.0f} s: {tail(log)}")
            time.sleep(0.5)
        # Each worker loads the index on its own: ready once every worker answers (a worker still
        # loading accepts nothing, so a few requests reach whichever is up).
        yield Server(port, process, time.monotonic() - started, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# -- what is measured ------------------------------------------------------------------------------


def first_time_latency(port: int, ids: Sequence[str], requests: int, k: int = 10) -> dict[str, float]:
    """First-time GET similar (k, an option no page asks for, each id once) interleaved with GET /healthz;
    seconds, median and p99, and the ratio of the medians. Raises on any answer but 200."""
    if len(ids) < requests + 20:
        raise ValueError(f"{len(ids)} ids for {requests} requests and 20 warm-up ones")
    paths = [similar_path(i, k, UNCOMMON) for i in ids[: requests + 20]]
    for path in paths[requests:]:  # warm-up (imports, first connections), on ids not measured
        checked(port, "GET", path)
    health, similar = [], []
    for path in paths[:requests]:
        health.append(checked(port, "GET", "/healthz"))
        similar.append(checked(port, "GET", path))
    return {"similar_median": statistics.median(similar), "similar_p99": percentile(similar, 0.99),
            "healthz_median": statistics.median(health), "healthz_p99": percentile(health, 0.99),
            "latency_ratio": statistics.median(similar) / statistics.median(health), "latency_requests": requests}


def cpu_per_request(server: Server, ids: Sequence[str], requests: int, k: int = 10) -> dict[str, float]:
    """The workers' CPU seconds per first-time GET similar (as above, ids not asked before) and per GET
    /healthz, each route alone: unlike wall time, unmoved by other processes sharing the cores."""
    workers = server.workers()
    started = cpu_seconds(workers)
    for _ in range(requests):
        checked(server.port, "GET", "/healthz")
    between = cpu_seconds(workers)
    for article_id in ids[:requests]:
        checked(server.port, "GET", similar_path(article_id, k, UNCOMMON))
    ended = cpu_seconds(workers)
    health, similar = (between - started) / requests, (ended - between) / requests
    return {"similar_cpu": similar, "healthz_cpu": health, "cpu_ratio": similar / max(health, 1e-9)}


def checked(port: int, method: str, path: str, body: Any = None) -> float:
    status, elapsed, payload = request(port, method, path, body)
    if status != 200:
        raise RuntimeError(f"{method} {path} answered {status}: {payload[:300].decode(errors='replace')}")
    return elapsed


def duplicates_found(port: int, copies: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """How many planted copies (copy id, original id) list their original first, and anywhere, in GET duplicates."""
    first = anywhere = 0
    misses: list[str] = []
    for copy, original in copies:
        status, _, payload = request(port, "GET", f"/v1/articles/{quote(copy, safe='')}/duplicates")
        if status != 200:
            raise RuntimeError(f"GET duplicates of {copy} answered {status}: {payload[:300].decode(errors='replace')}")
        found = [item["id"] for item in json.loads(payload)["items"]]
        first += bool(found) and found[0] == original
        anywhere += original in found
        if not found or found[0] != original:
            misses.append(f"{copy}: {found[:3]}")
    return {"copies": len(copies), "copies_first": first, "copies_anywhere": anywhere, "copies_missed": misses[:5]}


@dataclass
class Phase:
    """Requests of one kind sent during a phase: (status, seconds) each."""

    samples: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, status: int, seconds: float) -> None:
        with self.lock:
            self.samples.setdefault(kind, []).append((status, seconds))

    def rate(self, kind: str, seconds: float) -> float:
        return sum(1 for s, _ in self.samples.get(kind, []) if s == 200) / seconds

    def errors(self, kind: str) -> int:
        return sum(1 for s, _ in self.samples.get(kind, []) if s != 200)


def under_writer(port: int, read: Callable[[], str], write: Callable[[], dict], readers: int, seconds: float,
                 max_writes: int) -> tuple[Phase, float]:
    """`readers` threads GET read() paths while one thread POSTs write() articles, one a request, for
    `seconds` (the writer stops early after `max_writes`); returns the samples and the phase's length."""
    phase = Phase()
    deadline = time.monotonic() + seconds

    def reader() -> None:
        while time.monotonic() < deadline:
            status, elapsed, _ = request(port, "GET", read())
            phase.add("read", status, elapsed)

    def writer() -> None:
        for _ in range(max_writes):
            if time.monotonic() >= deadline:
                break
            status, elapsed, _ = request(port, "POST", "/v1/articles", write())
            phase.add("write", status, elapsed)

    threads = [threading.Thread(target=reader) for _ in range(readers)] + [threading.Thread(target=writer)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return phase, time.monotonic() - started


def throughput(port: int, ids: Sequence[str], republish: Sequence[dict], seconds: float, max_writes: int,
               readers: int = 6, k: int = 6) -> dict[str, float]:
    """GET similar?k (each id once, so first-time answers) against GET /healthz, each with `readers`
    threads beside one writer posting new articles (stored ones republished under new ids with a
    credit line, which the server embeds); req/s of each and their ratio."""
    ids_left = iter(ids)
    lock = threading.Lock()
    rng = random.Random(11)
    counter = iter(range(10**9))

    def next_similar() -> str:
        with lock:
            return similar_path(next(ids_left), k)

    def new_article() -> dict:
        with lock:
            n, source = next(counter), rng.choice(republish)
        body = f"نقلاً عن وكالة الأنباء ({n}): {source.get('body', '')}"
        return {"id": f"bench-writer-{n}", "headline": source["headline"], "source": "bench-writer",
                "language": source.get("language"), "body": body}

    for _ in range(WARM_WRITES):  # each worker loads the model at its first write: not part of the phases
        checked(port, "POST", "/v1/articles", new_article())
    health, health_seconds = under_writer(port, lambda: "/healthz", new_article, readers, seconds, max_writes)
    similar, similar_seconds = under_writer(port, next_similar, new_article, readers, seconds, max_writes)
    similar_times = [t for s, t in similar.samples.get("read", []) if s == 200]
    return {"healthz_rps": health.rate("read", health_seconds), "similar_rps": similar.rate("read", similar_seconds),
            "throughput_ratio": similar.rate("read", similar_seconds) / max(health.rate("read", health_seconds), 1e-9),
            "similar_busy_median": statistics.median(similar_times) if similar_times else float("nan"),
            "writes_rps": (health.rate("write", health_seconds) + similar.rate("write", similar_seconds)) / 2,
            "writes": len(health.samples.get("write", [])) + len(similar.samples.get("write", [])),
            "read_errors": health.errors("read") + similar.errors("read"),
            "write_errors": health.errors("write") + similar.errors("write")}
