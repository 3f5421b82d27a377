"""A `python -m service serve` process on a free port of 127.0.0.1, for the HTTP benchmarks."""
from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed_request(port: int, method: str, path: str, doc: Any = None, timeout: float = 30) -> float:
    """Seconds for one request (a JSON body if `doc`) over a fresh connection; RuntimeError unless 200."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    body = json.dumps(doc, ensure_ascii=False).encode() if doc is not None else None
    started = time.perf_counter()
    connection.request(method, path, body, {"Content-Type": "application/json"} if body else {})
    response = connection.getresponse()
    response.read()
    elapsed = time.perf_counter() - started
    connection.close()
    if response.status != 200:
        raise RuntimeError(f"{method} {path} answered {response.status}")
    return elapsed


def timed_get(port: int, path: str) -> float:
    return timed_request(port, "GET", path)


SERVERS: dict[int, int] = {}  # port -> process id, of the servers `serving` started


def cpu_seconds(port: int) -> float:
    """CPU time (user + system) the server on `port` has used so far: unlike wall time, it does not
    grow when other processes share the cores."""
    fields = Path(f"/proc/{SERVERS[port]}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def serving(**settings: str) -> Iterator[int]:
    """Serve DATA_DIR (default ./data, filled by `make run`) with these settings; yields the port once healthy."""
    port = free_port()
    env = {**os.environ, "DATA_DIR": os.environ.get("DATA_DIR", str(ROOT / "data")), "PORT": str(port), **settings}
    server = subprocess.Popen([sys.executable, "-m", "service", "serve"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    SERVERS[port] = server.pid
    try:
        for _ in range(600):
            try:
                timed_get(port, "/healthz")
                break
            except (OSError, RuntimeError):
                time.sleep(0.1)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=10)
