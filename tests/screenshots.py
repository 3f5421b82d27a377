"""Regenerate the README's pictures of the widget, docs/widget-ar-desktop.png and docs/widget-en-phone.png:

    .venv/bin/python -m tests.screenshots [OUT_DIR]

A real `python -m service serve` on 127.0.0.1 holding twelve Arabic sport articles of the bundled sample and
three English ones, a host page on another port that embeds both blocks, and Debian's headless Chromium.
The dates in the blocks are relative, so every run writes new files: the tests never write there (they
reuse the helpers of this module).
"""
from __future__ import annotations

import functools
import gzip
import http.server
import json
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from index.embedding.cache import EmbeddingCache
from index.embedding.models import DEFAULT_MODEL

from .conftest import ROOT, SAMPLE, SAMPLE_VECTORS, TEST_CACHE
from .test_server import call, running_server
from .test_widget import ENGLISH

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DOCS = ROOT / "docs"
# file name, block, viewport width and height
SHOTS = (("widget-ar-desktop.png", "#ar", 1280, 900), ("widget-en-phone.png", "#en", 360, 780))
# A third English story for the picture (ENGLISH[2] is the hostile one of the tests).
RAIL = {"id": "en/storm/3", "headline": "Trains cancelled as Storm Ciara sweeps across England",
        "body": "Rail operators cancelled hundreds of trains across England as Storm Ciara brought gale-force "
                "winds and flooding, and passengers were told not to travel while crews cleared fallen trees.",
        "url": "https://news.example/en/storm/3", "source": "Morning Herald", "published_at": "2020-02-09T12:15:00Z",
        "language": "en", "section": "weather"}


def host_page(title: str, blocks: str, script: str, lang: str = "en") -> str:
    """A news page of a CMS with the two embed lines (`blocks` and the widget's script tag)."""
    return f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body{{margin:0;font:17px/1.6 Georgia,serif;color:#222;background:#fafaf7}}
header{{background:#111;color:#fff;padding:10px 16px;font:700 18px system-ui}}
main{{max-width:760px;margin:0 auto;padding:8px 16px 40px}} h1{{font-size:1.7em;line-height:1.2}}</style></head>
<body><header>The Example Times</header><main>
<h1 id="story">{title}</h1>
<p id="host-text">The host page's own article text stays as it is, whatever the widget does.</p>
{blocks}
<p id="after">More of the host page after the blocks.</p>
</main>{script}</body></html>"""


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        pass


@contextmanager
def static_site(pages: dict[str, str]) -> Iterator[str]:
    """Serve `pages` (file name: HTML) on a free port of 127.0.0.1, another origin than the service's."""
    with tempfile.TemporaryDirectory(prefix="widget-host-") as root:
        for name, html in pages.items():
            (Path(root) / name).write_text(html, encoding="utf-8")
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=root))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's headless Chromium driven by Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def take_screenshots(browser: Any, page_url: str, out: Path) -> list[Path]:
    """The Arabic block (#ar) at 1280 px and the English one (#en) at 360 px of `page_url`, as PNGs in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, selector, width, height in SHOTS:
        context = browser.new_context(viewport={"width": width, "height": height})
        try:
            page = context.new_page()
            page.goto(page_url)
            page.wait_for_selector(f"{selector}[data-sa-state=ready]", timeout=30_000)
            page.locator(selector).screenshot(path=str(out / name))
        finally:
            context.close()
        paths.append(out / name)
    return paths


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else DOCS
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing (apt-get install chromium)", file=sys.stderr)
        return 1
    cache = EmbeddingCache(TEST_CACHE)  # the sample's shipped vectors: nothing of it is embedded
    try:
        cache.seed(SAMPLE_VECTORS, DEFAULT_MODEL)
    finally:
        cache.close()
    with gzip.open(SAMPLE, "rt", encoding="utf-8") as f:
        arabic = [row for row in map(json.loads, f) if row["section"] == "sport"][:12]
    english = ENGLISH[:2] + [RAIL]
    with tempfile.TemporaryDirectory(prefix="widget-screenshots-") as tmp, \
            running_server(Path(tmp) / "data", arabic + english, RATE_LIMIT="", WIDGET_ORIGINS="") as base:
        for article_id in (arabic[0]["id"], english[0]["id"]):  # the widget gives up after 4 s
            call(f"{base}/v1/articles/{article_id}/similar?k=5")
        blocks = (f'<div data-similar-articles data-article-id="{arabic[0]["id"]}" id="ar"></div>\n'
                  f'<div data-similar-articles data-article-id="{english[0]["id"]}" id="en"></div>')
        page = host_page("Similar articles", blocks, f'<script src="{base}/widget.js" async></script>')
        with static_site({"index.html": page}) as site, chromium() as browser:
            for path in take_screenshots(browser, site + "/index.html", out):
                print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
