"""Rebuild the bundled sample corpus from the ANT corpus (../shared/data/ant_v1.1).

Takes every article of February and March 2017 (the densest period: many follow-ups of the same
events) that has both a title and a text, and writes them in the service's article format.

    python sample/make_sample.py ../shared/data/ant_v1.1/ant_v1.1_jawharafm.jsonl.gz
"""
from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

OUT = Path(__file__).with_name("ant_2017_feb_mar.jsonl.gz")


def to_article(row: dict) -> dict:
    """Map one ANT record to the service's article JSON."""
    return {
        "id": row["docno"],
        "headline": row["title"].strip(),
        "body": row["text"].strip(),
        "url": row["url"],
        "source": row["src"],
        "published_at": row["time"],
        "language": "ar",
        "section": row["cat"],
        "tags": [],
    }


def main(src: str) -> None:
    with gzip.open(src, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    picked = [
        to_article(r)
        for r in rows
        if (r["time"] or "").startswith(("2017-02", "2017-03")) and r["title"] and r["text"]
    ]
    picked.sort(key=lambda a: (a["published_at"], a["id"]))
    # mtime=0 keeps the file byte-identical from one run to the next.
    with gzip.GzipFile(OUT, "wb", mtime=0) as f:
        for article in picked:
            f.write((json.dumps(article, ensure_ascii=False) + "\n").encode("utf-8"))
    print(f"{len(picked)} articles -> {OUT}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/ant_v1.1/ant_v1.1_jawharafm.jsonl.gz")
