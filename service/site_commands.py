"""The commands that bring a site's articles in: `follow URL...` (its feeds) and `backfill-site
SITEMAP_URL` (its archive), registered with the others by `cli`."""
from __future__ import annotations

from urllib.parse import urlsplit

import click
from flask import current_app
from flask.cli import with_appcontext

from index.errors import EngineError

from .config import BY_NAME
from .feeds.background import feed_urls


@click.command("follow")
@click.argument("urls", nargs=-1, metavar="[URL...]")
@click.option("--every", type=click.IntRange(int(BY_NAME["FEED_EVERY"].minimum), int(BY_NAME["FEED_EVERY"].maximum)),
              default=None,
              help="seconds between two polls of a feed at the most often (a feed's TTL may ask for fewer polls; "
                   "each is polled at least hourly); default: FEED_EVERY (300)")
@click.option("--once", is_flag=True, help="poll each feed once and exit (cron); exits 1 when a feed failed")
@with_appcontext
def follow_command(urls: tuple[str, ...], every: int | None, once: bool) -> None:
    """Follow the RSS, Atom or JSON feeds at URL... (none: those of FEEDS): upsert their new and changed
    entries, one line a feed a poll."""
    try:
        urls = tuple(feed_urls(",".join(urls))) if urls else tuple(feed_urls(current_app.config["FEEDS"]))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="URL")
    if not urls:
        raise click.UsageError("name the feeds: follow URL..., or set FEEDS")
    from .feeds.follower import Follower  # feedparser: loaded by this command only

    follower = Follower(current_app.extensions["engine"], every or int(current_app.config["FEED_EVERY"]))
    try:
        failed = follower.run(urls, once, click.echo)
    except KeyboardInterrupt:
        failed = 0
    finally:
        follower.close()
    if failed:
        click.get_current_context().exit(1)


@click.command("backfill-site")
@click.argument("sitemap_url", metavar="SITEMAP_URL")
@click.option("--rate", type=click.FloatRange(0.01, 100), default=1.0, show_default=True,
              help="pages a second at the most, per host (a longer robots.txt Crawl-delay is honoured)")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="fetch at most N pages this run (a rerun goes on from there)")
@with_appcontext
def backfill_site_command(sitemap_url: str, rate: float, limit: int | None) -> None:
    """Backfill the archive from the pages a site's sitemap (or sitemap index) lists: fetched politely, their
    articles extracted and upserted in batches; a rerun skips the pages done. Prints progress, then a summary."""
    from .sites.backfill import SiteBackfill  # trafilatura and lxml: loaded by this command only
    from .sites.pages import Fetcher

    parts = urlsplit(sitemap_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise click.BadParameter(f"not an http(s) URL: {sitemap_url}", param_hint="SITEMAP_URL")
    backfill = SiteBackfill(current_app.extensions["engine"], Fetcher(rate), limit, echo=click.echo)
    try:
        tally, sitemaps = backfill.run(sitemap_url)
    except EngineError as exc:
        raise click.ClickException(f"{exc.message}; the articles extracted and not stored are stored by the next run")
    finally:
        backfill.close()
    for line in tally.summary(sitemap_url, sitemaps):
        click.echo(line)
    if not sitemaps.done:
        click.get_current_context().exit(1)
