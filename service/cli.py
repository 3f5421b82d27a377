"""Commands: `python -m service ingest FILE | embed [FILE] | rebuild | calibrate JUDGED | follow URL... |
backfill-site SITEMAP_URL | serve` (also `flask --app service ...`). Longer than 300 lines: one short function
a command, with its options."""
from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from index.calibrate import DEFAULT_FEATURES
from index.embedding.cache import IdVectors, is_id_keyed, read_id_vectors
from index.engine import Engine
from index.errors import EngineError, InvalidInput
from index.prepared import Prepared, parse_line, prepared_lines
from index.records.article import Article, validate_article
from index.relatedness.model import FEATURES

from .feeds.background import follow_in_background
from .progress import StageProgress, progress
from .security import warn_about_writes
from .site_commands import backfill_site_command, follow_command

BATCH = 64
MAX_REPORTED = 50
# A file of more articles than this is a bulk import (see `--links`): stories linked by the rebuild.
BULK_ARTICLES = 10_000
BULK_CHUNK = 2_000  # articles a transaction in a bulk import
# Processes doing a bulk import's text work (normalising, shingles, words: about 0.6 ms of CPU an
# article, three times what storing it costs this one), one a core of this 2-core machine.
BULK_WORKERS = 2


def engine() -> Engine:
    return current_app.extensions["engine"]


def numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, line) of each non-blank line of a JSON Lines file (.gz allowed)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, start=1):
            if line.strip():
                yield number, line


def read_jsonl(path: Path) -> Iterator[tuple[int, Article | None, str | None]]:
    """(line number, article, error) for each non-blank line of a JSON Lines file (.gz allowed)."""
    for number, line in numbered_lines(path):
        parsed = parse_line(line)
        yield (number, None, parsed) if isinstance(parsed, str) else (number, parsed, None)


def read_valid(path: Path) -> tuple[list[Article], list[tuple[int, str]]]:
    """The valid articles of a JSON Lines file, and (line number, error) for the others."""
    lines = list(read_jsonl(path))
    return [a for _, a, _ in lines if a is not None], [(n, err) for n, _, err in lines if err]


def report_bad_lines(path: Path, bad: list[tuple[int, str]]) -> None:
    for number, error in bad[:MAX_REPORTED]:
        click.echo(f"{path}:{number}: skipped: {error}", err=True)
    if len(bad) > MAX_REPORTED:
        click.echo(f"{path}: ... and {len(bad) - MAX_REPORTED} more bad lines", err=True)


def id_without_vector(line: str, position: dict[str, int]) -> str | None:
    """The id of the article on a line when it is valid and has no vector (the vector of most lines
    is found from their id alone: a line is validated only when it is not)."""
    try:
        row = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if isinstance(row, dict) and isinstance(row.get("id"), str) and row["id"] in position:
        return None
    try:
        article = validate_article(row)
    except InvalidInput:
        return None
    return article.id if article.id not in position else None


def checked_id_vectors(vectors: Path, path: Path) -> IdVectors:
    """The id-keyed vectors of `vectors`, checked against the model and against the articles of
    `path` (each must have one); a ClickException says what is wrong before anything is stored."""
    try:
        found = read_id_vectors(vectors, engine().model, engine().embedder.dim)
    except (OSError, ValueError, KeyError) as exc:
        raise click.ClickException(f"{vectors}: {exc}; nothing stored")
    missing = [i for i in (id_without_vector(line, found.position) for _, line in numbered_lines(path)) if i]
    if missing:
        raise click.ClickException(f"{vectors}: no vector for {len(missing)} article(s) of {path} "
                                   f"(first: {', '.join(missing[:5])}); nothing stored")
    return found


@click.command("ingest")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--vectors", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="the model's vectors of these articles, made elsewhere (.npz), so that none is embedded here. "
                   "Keyed by article id: arrays ids (n strings), vectors (n x d, float16 or float32; scaled "
                   "to unit length on import) and model (its name, which must be this service's model); every "
                   "article of FILE must have one, or nothing is stored. Or keyed by cache key (the sample's "
                   ".vectors.npz): seeds the embedding cache, and only texts it lacks are embedded")
@click.option("--links", type=click.Choice(["auto", "now", "rebuild"]), default="auto", show_default=True,
              help="link each article to its duplicates' stories as it is stored (now), or leave that to the "
                   f"next `rebuild`, which regroups every story (rebuild); auto: rebuild above {BULK_ARTICLES} "
                   "articles")
@with_appcontext
def ingest_command(path: Path, vectors: Path | None, links: str) -> None:
    """Upsert the articles of a JSON Lines file (one article a line); bad lines are reported and skipped."""
    id_vectors = None
    if vectors is not None:
        try:
            id_keyed = is_id_keyed(vectors)
        except (OSError, ValueError, KeyError) as exc:
            raise click.ClickException(f"{vectors}: not a vectors file ({exc}); nothing stored")
        if id_keyed:
            id_vectors = checked_id_vectors(vectors, path)
        else:
            try:
                seeded = engine().seed_embeddings(vectors)
            except (OSError, ValueError, KeyError) as exc:
                raise click.ClickException(f"{vectors}: not a vectors file ({exc})")
            click.echo(f"seeded the embedding cache with {seeded} vectors from {vectors}"
                       if seeded else f"{vectors}: made with another model than {engine().model}; not used")
    engine().repair_links()
    total = sum(1 for _ in numbered_lines(path))
    bulk = total > BULK_ARTICLES
    link = links == "now" or (links == "auto" and not bulk)
    stored, bad = 0, []
    lines = numbered_lines(path)
    with progress(total, "ingest") as bar:
        for chunk in prepared_lines(lines, engine().embedding.lead_words, BULK_CHUNK if bulk else BATCH,
                                    BULK_WORKERS if bulk else 0):
            ready = [p for _, p in chunk if isinstance(p, Prepared)]
            bad += [(number, p) for number, p in chunk if not isinstance(p, Prepared)]
            if not ready:
                continue
            given = id_vectors.unit([p.article.id for p in ready]) if id_vectors is not None else None
            engine().writer.write(ready, progress=bar.update, link=link, vectors=given)
            stored += len(ready)
    report_bad_lines(path, bad)
    click.echo(f"ingested {stored} articles from {path}, skipped {len(bad)} bad lines")
    if not link and stored:
        click.echo("their stories are linked by the next rebuild: run `python -m service rebuild`")


RAY = click.option("--ray", "ray_address", default=None, metavar="ADDRESS",
                   help="embed on the Ray cluster this machine is a node of (auto, or its head's host:port) "
                        "instead of here")
WORKERS = click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True,
                       help="with --ray: embedding actors, one model and one CPU each")


def run_backfill(articles: list[Article] | None, ray_address: str | None, workers: int) -> None:
    """Embed what the cache lacks (every stored article when `articles` is None), with a progress bar."""
    total = len(articles) if articles is not None else engine().store.count()
    with progress(total, "embed") as bar:
        done = engine().backfill(articles, ray_address, workers, progress=bar.update)
    nodes = ", ".join(f"{node[:12]} {count}" for node, count in done.nodes.most_common())
    click.echo(f"embedded {done.embedded} texts, {done.cached} already cached" + (f"; by node: {nodes}" if nodes else ""))


@click.command("embed")
@click.argument("path", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@RAY
@WORKERS
@with_appcontext
def embed_command(path: Path | None, ray_address: str | None, workers: int) -> None:
    """Embed into the cache the texts it lacks, of a JSON Lines file before its import, or of every
    stored article (a backfill, or a change of model before `rebuild`)."""
    articles = None
    if path is not None:
        articles, bad = read_valid(path)
        report_bad_lines(path, bad)
    try:
        run_backfill(articles, ray_address, workers)
    except EngineError as exc:
        raise click.ClickException(exc.message)


@click.command("rebuild")
@click.option("--from", "export", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="a full export from the CMS (JSON Lines) to reconcile the store with first")
@click.option("--prune", is_flag=True, help="with --from: remove stored articles missing from the export")
@click.option("--warm/--no-warm", default=True, show_default=True,
              help="then compute the similar stories of the newest WARM_ARTICLES articles, as pages ask for them")
@RAY
@WORKERS
@with_appcontext
def rebuild_command(export: Path | None, prune: bool, warm: bool, ray_address: str | None, workers: int) -> None:
    """Re-embed every stored article (cached vectors are reused) into a new index version and switch to it.

    Shows a progress bar on a terminal, else a progress line every few seconds, then a summary line;
    exits non-zero on failure.
    """
    if prune and export is None:
        raise click.UsageError("--prune needs --from FILE")
    try:
        engine().repair_links()
        if export is not None:
            articles, bad = read_valid(export)
            if bad:
                raise click.ClickException(f"{export}: {len(bad)} bad lines (first at line {bad[0][0]}: {bad[0][1]}); nothing changed")
            if ray_address:  # the export's new and changed texts too, before the reconcile stores them
                run_backfill(articles, ray_address, workers)
            with progress(len(articles), "reconcile") as bar:
                counts = engine().reconcile(articles, prune=prune, progress=bar.update)
            click.echo(f"reconciled with {export}: {counts['upserted']} upserted, {counts['unchanged']} unchanged, "
                       f"{counts['removed']} removed")
        if ray_address:
            run_backfill(None, ray_address, workers)
        with StageProgress("rebuild") as stages:
            summary = engine().rebuild(stages)
    except EngineError as exc:
        raise click.ClickException(exc.message)
    click.echo(summary.line())
    if warm:
        started = time.monotonic()
        option_sets = current_app.extensions["page_options"]
        newest = min(summary.articles, int(current_app.config["WARM_ARTICLES"]))
        with progress(newest, "warm") as bar:
            computed = engine().warm(option_sets, newest, progress=bar.update)
        click.echo(f"warmed the similar stories of {newest} articles x {len(option_sets)} option sets: "
                   f"{computed} computed, {time.monotonic() - started:.1f}s")


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
        engine().repair_links()
        warn_about_writes(current_app)
    except EngineError as exc:
        raise click.ClickException(exc.message)
    host = host or app.config["HOST"]
    port = port if port is not None else int(app.config["PORT"])
    server = make_server(host, port, app, threaded=True)
    follow_in_background(app)
    health = engine().health()
    if not health["relatedness"]["calibrated"]:
        click.echo(f"warning: {health['model']} has no calibration: blocks are ranked by cosine and carry no "
                   "relatedness; fit one with `python -m service calibrate JUDGED.jsonl`", err=True)
    click.echo(f"serving {health['indexed']} indexed articles ({health['model']}) on http://{host}:{server.port}/")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


def read_judged(path: Path) -> tuple[list[tuple[str, str, int]], list[tuple[int, str]]]:
    """(query id, candidate id, label) of each good line of a judged-pairs file, and (line, error) of the others."""
    rows, bad = [], []
    with path.open(encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except (ValueError, RecursionError) as exc:
                bad.append((number, f"not valid JSON ({str(exc)[:80]})"))
                continue
            if not isinstance(row, dict) or not all(isinstance(row.get(k), str) and row[k] for k in ("query", "candidate")):
                bad.append((number, "'query' and 'candidate' must be stored article ids"))
            elif row.get("label") not in (0, 1, 2) or isinstance(row.get("label"), bool):
                bad.append((number, "'label' must be 0 (unrelated), 1 (related) or 2 (same story)"))
            elif row["query"] == row["candidate"]:
                bad.append((number, "'query' and 'candidate' are the same article"))
            else:
                rows.append((number, row["query"], row["candidate"], row["label"]))
    stored = engine().store.get_many(list({i for _, q, c, _ in rows for i in (q, c)}))
    pairs = []
    for number, query, candidate, label in rows:
        missing = next((i for i in (query, candidate) if i not in stored), None)
        if missing is None:
            pairs.append((query, candidate, label))
        else:
            bad.append((number, f"no stored article {missing!r}"))
    return pairs, sorted(bad)


@click.command("calibrate")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--target", type=click.FloatRange(0.5, 0.99), default=0.85, show_default=True,
              help="the precision of shown items the floor is chosen for")
@click.option("--features", default=None, metavar="A,B,...",
              help=f"evidence to fit, from: {', '.join(FEATURES)} (default: {','.join(DEFAULT_FEATURES)})")
@with_appcontext
def calibrate_command(path: Path, target: float, features: str | None) -> None:
    """Fit the configured model's relatedness on judged pairs of stored articles (JSON Lines:
    {"query": ID, "candidate": ID, "label": 0|1|2}) and write its calibration into the data folder.

    The evidence is read over this index (run `rebuild` first); the floor is chosen on queries held
    out of the fit. Servers read the calibration when they start.
    """
    chosen = tuple(f.strip() for f in features.split(",") if f.strip()) if features else None
    unknown = [f for f in chosen or () if f not in FEATURES]
    if unknown:
        raise click.BadParameter(f"unknown feature(s) {', '.join(unknown)}; known: {', '.join(FEATURES)}",
                                 param_hint="--features")
    pairs, bad = read_judged(path)
    report_bad_lines(path, bad)
    try:
        calibration, written = engine().calibrate(pairs, target, chosen, source=f"{len(pairs)} judged pairs of {path.name}")
    except ValueError as exc:
        raise click.ClickException(str(exc))
    f = calibration.figures
    click.echo(f"calibrated {engine().model} on {f['pairs']} pairs of {f['queries']} queries ({f['related_pairs']} related); "
               f"skipped {len(bad)} bad lines")
    click.echo(f"held-out queries: AUC {f['auc']:.3f}; at floor {calibration.floor:.2f}: precision {f['precision']:.3f}, "
               f"{f['related_per_block']:.2f} related a 5-item block ({f['share_of_ceiling']:.0%} of what was judged "
               f"related), {f['empty_blocks']:.0%} empty blocks")
    click.echo(f"wrote {written}; restart the servers to use it")


COMMANDS = (ingest_command, embed_command, rebuild_command, serve_command, calibrate_command, follow_command,
            backfill_site_command)


def init_app(app: Flask) -> None:
    for command in COMMANDS:
        app.cli.add_command(command)
