"""Commands: `python -m service ingest FILE | rebuild | serve` (also `flask --app service ...`)."""
from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from typing import Iterator

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from index.article import Article, validate_article
from index.engine import Engine
from index.errors import EngineError, InvalidInput

BATCH = 64
MAX_REPORTED = 50


def engine() -> Engine:
    return current_app.extensions["engine"]


def read_jsonl(path: Path) -> Iterator[tuple[int, Article | None, str | None]]:
    """(line number, article, error) for each non-blank line of a JSON Lines file (.gz allowed)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                yield number, validate_article(json.loads(line)), None
            except (ValueError, RecursionError) as exc:
                yield number, None, f"not valid JSON ({str(exc)[:80]})"
            except InvalidInput as exc:
                yield number, None, exc.message


def progress_bar(total: int | None, label: str):
    """A tqdm bar on a terminal, nothing otherwise (cron gets the one-line summary)."""
    from tqdm import tqdm

    return tqdm(total=total, desc=label, unit="art", disable=not sys.stderr.isatty())


@click.command("ingest")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def ingest_command(path: Path) -> None:
    """Upsert the articles of a JSON Lines file (one article a line); bad lines are reported and skipped."""
    lines = list(read_jsonl(path))
    bad = [(n, err) for n, _, err in lines if err]
    for number, error in bad[:MAX_REPORTED]:
        click.echo(f"{path}:{number}: skipped: {error}", err=True)
    if len(bad) > MAX_REPORTED:
        click.echo(f"{path}: ... and {len(bad) - MAX_REPORTED} more bad lines", err=True)
    articles = [a for _, a, _ in lines if a is not None]
    with progress_bar(len(articles), "ingest") as bar:
        for start in range(0, len(articles), BATCH):
            engine().upsert(articles[start : start + BATCH], progress=bar.update)
    click.echo(f"ingested {len(articles)} articles from {path}, skipped {len(bad)} bad lines")


@click.command("rebuild")
@with_appcontext
def rebuild_command() -> None:
    """Re-embed every stored article (cached vectors are reused) into a new index version."""
    with progress_bar(None, "rebuild") as bar:
        try:
            summary = engine().rebuild(progress=bar.update, total=lambda n: setattr(bar, "total", n))
        except EngineError as exc:
            raise click.ClickException(exc.message)
    click.echo(summary.line())


@click.command("serve")
@click.option("--host", default=None, help="default: HOST setting (127.0.0.1)")
@click.option("--port", default=None, type=int, help="default: PORT setting (8080)")
@with_appcontext
def serve_command(host: str | None, port: int | None) -> None:
    """Serve the API and the demo page in this process (threaded). Production: see `make serve-prod`."""
    from werkzeug.serving import make_server

    app = current_app._get_current_object()
    try:
        engine().load()
    except EngineError as exc:
        raise click.ClickException(exc.message)
    host = host or app.config["HOST"]
    port = port if port is not None else int(app.config["PORT"])
    server = make_server(host, port, app, threaded=True)
    health = engine().health()
    click.echo(f"serving {health['indexed']} indexed articles ({health['model']}) on http://{host}:{server.port}/")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


COMMANDS = (ingest_command, rebuild_command, serve_command)


def init_app(app: Flask) -> None:
    for command in COMMANDS:
        app.cli.add_command(command)
