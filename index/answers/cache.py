"""Answers of GET similar kept between requests: a small LRU in each process over a table every
process shares (whether one is still current is `search.staleness`'s rule)."""
from __future__ import annotations

import json
import zlib

from ..lru import LruCache
from ..search.staleness import Answer
from ..store.base import AnswerTable


class AnswerCache:
    """Answers by (version, article id, options): a small LRU in memory over a table that every
    process shares (`store.answer_file.AnswerFile`, or the database's: `store.pg_answers.PostgresAnswers`).
    Answers put with shared=False stay in memory (rare option sets: the table holds those of the
    option sets pages use, so it stays bounded)."""

    def __init__(self, table: AnswerTable, size: int) -> None:
        self._memory = LruCache(size)  # (version, article id, options) -> Answer
        self._table = table

    def get(self, version: str, article_id: str, options: str, shared: bool) -> tuple[Answer | None, str]:
        """The answer filed under the key, and where it was found: "memory", "shared" or "" (nowhere)."""
        key = (version, article_id, options)
        remembered = self._memory.get(key)
        if remembered is not None:
            return remembered, "memory"
        row = self._table.read(key) if shared else None
        if row is None:
            return None, ""
        query_key, threshold, seq, asked, body = row
        answer = Answer(json.loads(zlib.decompress(body)), query_key, threshold, seq, frozenset(asked.split()))
        self._memory.put(key, answer)
        return answer, "shared"

    def put(self, version: str, article_id: str, options: str, answer: Answer, shared: bool) -> None:
        key = (version, article_id, options)
        self._memory.put(key, answer)
        if shared:
            body = zlib.compress(json.dumps(answer.body, ensure_ascii=False, separators=(",", ":")).encode())
            self._table.write(key, (answer.key, answer.threshold, answer.seq, " ".join(sorted(answer.asked)), body))

    def keep_only(self, version: str) -> None:
        """Forget the answers of every other index version (only a clean-up: answers are filed by
        version, so one left behind is never served)."""
        self._memory.discard_if(lambda key: key[0] != version)
        self._table.keep_only(version)

    def count(self, version: str) -> int:
        """How many answers of `version` the shared table holds."""
        return self._table.count(version)
