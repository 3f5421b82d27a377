"""A synthetic news archive of any size: real Arabic words in topic structure, with vectors made elsewhere.

Texts: the words of the bundled sample (sample/ant_2017_feb_mar.jsonl.gz) shuffled into new
headlines and bodies. Each article has a topic and a subtopic: most of its words come from the
sample's running text (common words at their real frequency), the rest from its topic's own words,
so that articles of a topic share rare words as related stories do.

Vectors: an id-keyed vectors file (`ids`, `vectors` float16, `model`), as `python -m service ingest
FILE --vectors VEC` imports it. Their cosines are spread like e5's (compressed upwards): about 0.70
between unrelated articles, 0.80 within a topic, 0.88 within a subtopic, 0.97 for a planted copy.

Planted copies: COPY_SHARE of the articles repeat an earlier article's body, either word for word
(a republished wire story) or reworded (REWORDED_SHARE of its words replaced), under a new headline;
`copies.jsonl` lists them as {"copy": id, "original": id}.

    python -m bench.synthetic_archive FOLDER --count 20000 [--seed 0]
"""
from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample" / "ant_2017_feb_mar.jsonl.gz"
MODEL = "e5-small-q4"
DIM = 384

ARTICLES_PER_SUBTOPIC = 40
SUBTOPICS_PER_TOPIC = 8
TOPIC_WORDS = 300  # a topic's own words (drawn from the sample's less common ones)
TOPIC_SHARE = 0.3  # of an article's words
COPY_SHARE = 0.01
REWORDED_SHARE = 0.05
# Squared weights of the shared direction, topic, subtopic and the article's own noise (sum 1):
# the expected cosine of two articles is the sum of the weights they share.
WEIGHTS = (0.70, 0.10, 0.08, 0.12)
COPY_NOISE = 0.03  # squared weight of the fresh noise a planted copy's vector gets
SECTIONS = ("politics", "economy", "sport", "culture", "world", "local", "health", "technology")
SOURCES = ("Al Watan", "Al Sabah", "Al Chourouk", "Jawhara FM", "Mosaique FM", "Assabah News", "Al Maghreb",
           "Echaab", "Al Fajr", "Nessma")
START = datetime(2012, 1, 1, tzinfo=UTC)
SPAN_SECONDS = 12 * 365 * 86400


def sample_words() -> np.ndarray:
    """Every word of the sample's headlines and bodies, in running order."""
    words: list[str] = []
    with gzip.open(SAMPLE, "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            words.extend(row["headline"].split())
            words.extend(row["body"].split())
    return np.array(words, dtype=object)


def unit_rows(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


class Archive:
    """The generator's state: the words, topics and their directions, drawn from one seed."""

    def __init__(self, count: int, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.running = sample_words()
        values, counts = np.unique(self.running, return_counts=True)
        rare = values[counts <= 20]  # content words, not function words
        self.subtopics = max(1, count // ARTICLES_PER_SUBTOPIC)
        self.topics = max(1, self.subtopics // SUBTOPICS_PER_TOPIC)
        self.topic_words = [rare[self.rng.choice(len(rare), TOPIC_WORDS, replace=False)] for _ in range(self.topics)]
        self.common = unit_rows(self.rng.standard_normal((1, DIM)))[0]
        self.topic_dirs = unit_rows(self.rng.standard_normal((self.topics, DIM)))
        self.subtopic_dirs = unit_rows(self.rng.standard_normal((self.subtopics, DIM)))

    def topic_of(self, subtopic: int) -> int:
        return subtopic % self.topics

    def words(self, subtopic: int, count: int) -> list[str]:
        start = int(self.rng.integers(0, len(self.running) - count))
        out = self.running[start : start + count].copy()
        mine = self.rng.random(count) < TOPIC_SHARE
        own = self.topic_words[self.topic_of(subtopic)]
        out[mine] = own[self.rng.integers(0, len(own), int(mine.sum()))]
        return list(out)

    def reworded(self, text: str, subtopic: int) -> str:
        words = text.split()
        changed = self.rng.random(len(words)) < REWORDED_SHARE
        replacements = self.words(subtopic, int(changed.sum()) + 1)
        for n, i in enumerate(np.flatnonzero(changed)):
            words[i] = replacements[n]
        return " ".join(words)

    def vectors(self, subtopics: np.ndarray) -> np.ndarray:
        """Unit vectors of articles of these subtopics (float32)."""
        w = np.sqrt(np.asarray(WEIGHTS, dtype=np.float32))
        noise = unit_rows(self.rng.standard_normal((len(subtopics), DIM), dtype=np.float32))
        topics = np.array([self.topic_of(int(s)) for s in subtopics])
        mixed = (w[0] * self.common + w[1] * self.topic_dirs[topics] + w[2] * self.subtopic_dirs[subtopics]
                 + w[3] * noise)
        return unit_rows(mixed).astype(np.float32)

    def copy_vector(self, original: np.ndarray) -> np.ndarray:
        noise = unit_rows(self.rng.standard_normal((1, DIM)))[0]
        mixed = np.sqrt(1 - COPY_NOISE) * original + np.sqrt(COPY_NOISE) * noise
        return (mixed / np.linalg.norm(mixed)).astype(np.float32)


def write_archive(folder: Path, count: int, seed: int = 0) -> tuple[Path, Path]:
    """Write `count` articles (articles.jsonl), their id-keyed vectors (vectors.npz) and the list of
    planted copies (copies.jsonl) into `folder`; returns the paths of the first two.

    The same count and seed give the same archive.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    archive = Archive(count, seed)
    rng = archive.rng
    ids = np.array([f"syn-{i:08d}" for i in range(count)])
    vectors = np.empty((count, DIM), dtype=np.float16)
    subtopics = rng.integers(0, archive.subtopics, count)
    is_copy = rng.random(count) < COPY_SHARE
    is_copy[: min(count, 100)] = False  # copies have an earlier original
    offsets = np.sort(rng.integers(0, SPAN_SECONDS, count))
    chunk = 20_000
    bodies: dict[int, str] = {}  # of the articles copied later (originals are drawn when the copy is written)
    jsonl, npz, copies = folder / "articles.jsonl", folder / "vectors.npz", folder / "copies.jsonl"
    with open(jsonl, "w", encoding="utf-8") as out, open(copies, "w", encoding="utf-8") as planted:
        for start in range(0, count, chunk):
            stop = min(count, start + chunk)
            vectors[start:stop] = archive.vectors(subtopics[start:stop])
            for i in range(start, stop):
                subtopic = int(subtopics[i])
                headline = " ".join(archive.words(subtopic, int(rng.integers(6, 13))))
                if is_copy[i]:
                    original = int(rng.integers(max(0, i - 5_000), i))
                    subtopics[i] = subtopics[original]
                    subtopic = int(subtopics[i])
                    body = bodies[original]
                    if rng.random() < 0.5:
                        body = archive.reworded(body, subtopic)
                    vectors[i] = archive.copy_vector(vectors[original].astype(np.float32))
                    planted.write(json.dumps({"copy": str(ids[i]), "original": str(ids[original])}) + "\n")
                else:
                    body = body_of(archive, subtopic, rng)
                bodies[i] = body
                bodies.pop(i - 5_000, None)
                published = START + timedelta(seconds=int(offsets[i]))
                row = {"id": str(ids[i]), "headline": headline, "body": body,
                       "url": f"https://news.example/{ids[i]}",
                       "source": SOURCES[int(rng.integers(0, len(SOURCES)))],
                       "published_at": published.strftime("%Y-%m-%dT%H:%M:%SZ"), "language": "ar",
                       "section": SECTIONS[archive.topic_of(subtopic) % len(SECTIONS)], "tags": []}
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
    with open(npz, "wb") as f:  # np.savez would add ".npz" to a name that lacks it; noise does not compress
        np.savez(f, ids=ids, vectors=vectors, model=np.array(MODEL))
    return jsonl, npz


def body_of(archive: Archive, subtopic: int, rng: np.random.Generator) -> str:
    """A body of 40 to 240 words in two to four paragraphs."""
    words = archive.words(subtopic, int(rng.integers(40, 241)))
    cuts = sorted(rng.choice(np.arange(10, len(words) - 5), int(rng.integers(1, 4)), replace=False))
    parts = np.split(np.array(words, dtype=object), cuts)
    return "\n".join(" ".join(p) for p in parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    jsonl, npz = write_archive(args.folder, args.count, args.seed)
    print(f"wrote {args.count} articles to {jsonl} ({jsonl.stat().st_size / 1e6:.0f} MB) and their vectors to "
          f"{npz} ({npz.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - started:.1f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
