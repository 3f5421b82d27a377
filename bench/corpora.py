"""Loaders for the evaluation data in ../shared/data (research use; never bundled)."""
from __future__ import annotations

import csv
import glob
import hashlib
import json
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(__import__("os").environ.get("SHARED_DATA", ROOT.parent / "shared" / "data"))


def saudinewsnet() -> list[dict]:
    """The 31k SaudiNewsNet articles (14 outlets, 2015) in the service's article format.

    Articles without a title are left out (the service requires a headline).
    """
    articles = []
    for path in sorted(glob.glob(str(SHARED / "saudinewsnet" / "*.zip"))):
        with zipfile.ZipFile(path) as zf:
            for name in zf.namelist():
                for row in json.load(zf.open(name)):
                    title = (row.get("title") or "").strip()
                    if not title:
                        continue
                    digest = hashlib.sha1(row["url"].encode()).hexdigest()[:16]
                    articles.append(
                        {
                            "id": f"{row['source']}-{digest}",
                            "headline": title[:1000],
                            "body": (row.get("content") or "").strip()[:200_000],
                            "url": row["url"] if row["url"].startswith("http") else None,
                            "source": row["source"],
                            "published_at": row["date_extracted"].replace(" ", "T"),
                            "language": "ar",
                        }
                    )
    return articles


def nsurl_q2q() -> list[tuple[str, str, int]]:
    """(question1, question2, label) with label 1 for same meaning."""
    path = SHARED / "nsurl2019_q2q" / "q2q_similarity_workshop_v2.1.tsv"
    with open(path, encoding="utf-8") as f:
        reader = csv.reader(f, delimiter="\t")
        next(reader)
        return [(q1, q2, int(label)) for q1, q2, label in reader]


def sts_benchmark(split: str = "test") -> list[tuple[str, str, float, str]]:
    """(sentence1, sentence2, score 0-5, genre file) of STS-B."""
    rows = []
    with open(SHARED / "stsbenchmark" / f"sts-{split}.csv", encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 7:
                rows.append((parts[5], parts[6], float(parts[4]), parts[1]))
    return rows
