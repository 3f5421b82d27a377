"""What a site backfill remembers between runs (`DATA_DIR/site-backfill.sqlite`): each page URL's outcome,
and the articles extracted but not stored yet. A URL stored or skipped is not fetched again; a failed one
(timeouts, 5xx: what may pass) is tried again by the next run; the articles of a run stopped before its
batch was upserted are stored by the next run without fetching their pages again."""
from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from index.records.article import Article, validate_article

FILE_NAME = "site-backfill.sqlite"
DONE = ("stored", "skipped", "extracted")


class PageLog:
    """One row a page URL: status (extracted, stored, skipped, failed), why, the article while extracted."""

    def __init__(self, data_dir: Path) -> None:
        self.db = sqlite3.connect(data_dir / FILE_NAME, timeout=30)
        self.db.execute("CREATE TABLE IF NOT EXISTS pages (url TEXT PRIMARY KEY, status TEXT NOT NULL, "
                        "reason TEXT, detail TEXT, article TEXT, at REAL NOT NULL)")
        self.db.commit()

    def done(self, url: str) -> bool:
        """Whether an earlier run (or this one) finished with `url`: stored, skipped for good, or extracted."""
        row = self.db.execute("SELECT status FROM pages WHERE url = ?", (url,)).fetchone()
        return row is not None and row[0] in DONE

    def _set(self, url: str, status: str, reason: str | None = None, detail: str | None = None,
             article: str | None = None) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO pages VALUES (?, ?, ?, ?, ?, ?)",
                            (url, status, reason, detail, article, time.time()))

    def skipped(self, url: str, reason: str, detail: str, final: bool) -> None:
        self._set(url, "skipped" if final else "failed", reason, detail)

    def extracted(self, url: str, article: Article) -> None:
        """Keep an article until its batch is stored (a run stopped before that leaves it to the next)."""
        self._set(url, "extracted", article=json.dumps(article.to_dict(), ensure_ascii=False))

    def waiting(self) -> list[tuple[str, Article]]:
        """(URL, article) of the pages extracted and not stored yet, by an earlier run that stopped."""
        rows = self.db.execute("SELECT url, article FROM pages WHERE status = 'extracted' ORDER BY at").fetchall()
        return [(url, validate_article(json.loads(article))) for url, article in rows]

    def stored(self, urls: list[str]) -> None:
        with self.db:
            self.db.executemany("UPDATE pages SET status = 'stored', article = NULL, at = ? WHERE url = ?",
                                [(time.time(), url) for url in urls])

    def close(self) -> None:
        self.db.close()
