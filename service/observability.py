"""Request ids, one structured JSON log line per request, Prometheus metrics, readiness."""
from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

bp = Blueprint("observability", __name__)
access_log = logging.getLogger("service.access")

# Label values a client cannot choose: a made-up method is "other", a path no route matches "unmatched"
# (each new label value is a series in every worker's file, kept until the server restarts).
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
REQUESTS = Counter("http_requests_total", "HTTP requests", ["route", "method", "status"])
LATENCY = Histogram("http_request_duration_seconds", "HTTP request latency", ["route", "method"],
                    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
EMBEDDING = Histogram("embedding_duration_seconds", "Time to embed texts the cache lacked", ["texts"],
                      buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 120, 600))
ANSWERS = Counter("similar_answers_total", "GET similar answers by where they came from", ["source"])
INDEX_SIZE = Gauge("index_articles", "Articles in the live index", multiprocess_mode="livemax")
INDEX_VERSION = Gauge("index_version_info", "Live index version (value 1)", ["version"], multiprocess_mode="livemax")
REBUILD_SECONDS = Gauge("rebuild_duration_seconds", "Duration of the last rebuild", multiprocess_mode="livemax")
REBUILD_OK = Gauge("rebuild_success", "1 if the last rebuild succeeded, 0 if it failed", multiprocess_mode="livemax")
REBUILD_AT = Gauge("rebuild_timestamp_seconds", "When the last rebuild ended", multiprocess_mode="livemax")


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message and any `extra` fields."""

    STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in self.STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(json_logs: bool) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if json_logs else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # our access log replaces werkzeug's


def record_embedding(count: int, seconds: float) -> None:
    EMBEDDING.labels(texts="1" if count == 1 else "many").observe(seconds)


def record_answer(source: str) -> None:
    """memory (this worker's cache), shared (the answer file) or computed."""
    ANSWERS.labels(source=source).inc()


def _before() -> None:
    given = request.headers.get("X-Request-ID", "")
    g.request_id = given if 0 < len(given) <= 64 and given.isprintable() else uuid.uuid4().hex
    g.started = time.perf_counter()


def _after(response: Response) -> Response:
    elapsed = time.perf_counter() - g.get("started", time.perf_counter())
    route = request.url_rule.rule if request.url_rule else "unmatched"
    method = request.method if request.method in KNOWN_METHODS else "other"
    REQUESTS.labels(route=route, method=method, status=str(response.status_code)).inc()
    LATENCY.labels(route=route, method=method).observe(elapsed)
    response.headers["X-Request-ID"] = g.get("request_id", "")
    access_log.info(
        "%s %s %s", request.method, route, response.status_code,
        extra={"request_id": g.get("request_id"), "path": request.path[:200], "status": response.status_code,
               "duration_ms": round(elapsed * 1000, 2), "remote": request.remote_addr},
    )
    return response


@bp.get("/metrics")
def metrics() -> Response:
    engine = current_app.extensions["engine"]
    health = engine.health()
    INDEX_SIZE.set(health["indexed"])
    INDEX_VERSION.clear()
    if health["index_version"]:
        INDEX_VERSION.labels(version=health["index_version"]).set(1)
    last = engine.last_rebuild()
    if last:
        REBUILD_SECONDS.set(last["seconds"])
        REBUILD_OK.set(1 if last["ok"] else 0)
        REBUILD_AT.set(last["at"])
    shared = current_app.config.get("PROMETHEUS_MULTIPROC_DIR")  # gunicorn: sum every worker's samples
    if shared:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=shared)
        return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
    return Response(generate_latest(), content_type=CONTENT_TYPE_LATEST)


@bp.get("/readyz")
def readyz():
    engine = current_app.extensions["engine"]
    reason = engine.not_ready_because()
    if reason is not None:
        return {"ready": False, "reason": reason}, 503
    return {"ready": True, "index_version": engine.health()["index_version"]}


def init_app(app: Flask) -> None:
    app.before_request(_before)
    app.after_request(_after)
    app.register_blueprint(bp)
