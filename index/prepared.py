"""An article's text work, done once before it is stored: its language (when the CMS gave none), its
fingerprint, its indexed words and the text that is embedded for it.

Pure functions of the article, so that a large import runs them in worker processes
(`prepared_lines`) while the writer stores what they return.
"""
from __future__ import annotations

import json
import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace

from .errors import InvalidInput
from .records.article import Article, validate_article
from .text.lexical import words_of
from .text.overlap import Fingerprint, fingerprint
from .text.prepare import detect_language, embedding_text


@dataclass(frozen=True)
class Prepared:
    """An article with what storing it needs: fingerprint, indexed words (space-separated, in
    order) and the text embedded for it."""

    article: Article
    fingerprint: Fingerprint
    terms: str
    embed_text: str


def with_language(article: Article) -> Article:
    """The article with its language detected from headline and lead when the CMS gave none."""
    if article.language:
        return article
    return replace(article, language=detect_language(f"{article.headline} {article.body[:1000]}"))


def prepare(article: Article, lead_words: int) -> Prepared:
    article = with_language(article)
    return Prepared(article, fingerprint(article.headline, article.body),
                    " ".join(words_of(article.headline, article.body)),
                    embedding_text(article.headline, article.body, lead_words))


def parse_line(line: str) -> Article | str:
    """The article on a JSON Lines line, or why it is not a valid one."""
    try:
        return validate_article(json.loads(line))
    except (ValueError, RecursionError) as exc:
        return f"not valid JSON ({str(exc)[:80]})"
    except InvalidInput as exc:
        return exc.message


def prepare_line(line: str, lead_words: int) -> Prepared | str:
    """A JSON Lines line prepared, or the reason it is not a valid article."""
    parsed = parse_line(line)
    return parsed if isinstance(parsed, str) else prepare(parsed, lead_words)


def _prepare_chunk(args: tuple[list[tuple[int, str]], int]) -> list[tuple[int, Prepared | str]]:
    lines, lead_words = args
    return [(number, prepare_line(line, lead_words)) for number, line in lines]


def prepared_lines(lines: Iterable[tuple[int, str]], lead_words: int, chunk: int,
                   workers: int = 0) -> Iterator[list[tuple[int, Prepared | str]]]:
    """(line number, prepared article or error) of numbered lines, in their order, `chunk` lines at
    a time; in `workers` processes (0: in this one)."""
    chunks = ((part, lead_words) for part in _chunks(lines, chunk))
    if workers <= 0:
        yield from map(_prepare_chunk, chunks)
        return
    # spawn: the parent holds database connections and threads, which a fork would copy
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        pending: deque = deque()  # a few chunks ahead only (Pool.imap would read the whole file in)
        for args in chunks:
            pending.append(pool.apply_async(_prepare_chunk, (args,)))
            if len(pending) > 2 * workers:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def _chunks(items: Iterable[tuple[int, str]], size: int) -> Iterator[list[tuple[int, str]]]:
    part: list[tuple[int, str]] = []
    for item in items:
        part.append(item)
        if len(part) >= size:
            yield part
            part = []
    if part:
        yield part


def unique_by_id(prepared: Sequence[Prepared]) -> list[Prepared]:
    """One per article id, the last one given (an id repeated in one write is written once)."""
    return list({p.article.id: p for p in prepared}.values())
