"""Integer keys to row numbers, looked up many at a time without a Python loop per key.

An index keeps its vectors in rows appended in order; a key's row changes when its vector is replaced.
The map is a sorted base (as built) and a small sorted overlay of what changed since, merged into the
base once it grows past a fraction of it: a lookup is two `searchsorted` calls on arrays.
"""
from __future__ import annotations

import numpy as np

ABSENT = -1
# The overlay is merged into the base past this share of it (and past MERGE_MIN): merging costs a sort
# of the whole map, so it happens about once every base/8 changes.
MERGE_SHARE = 8
MERGE_MIN = 4096


def _last_of_each(keys: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique keys with the row given last for each (later entries win)."""
    order = np.argsort(keys, kind="stable")
    keys, rows = keys[order], rows[order]
    last = np.ones(len(keys), dtype=bool)
    last[:-1] = keys[1:] != keys[:-1]
    return keys[last], rows[last]


def _find(sorted_keys: np.ndarray, values: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(found mask, value) of each key in a sorted table."""
    at = np.minimum(np.searchsorted(sorted_keys, keys), max(len(sorted_keys) - 1, 0))
    found = sorted_keys[at] == keys if len(sorted_keys) else np.zeros(len(keys), dtype=bool)
    return found, values[at] if len(sorted_keys) else np.full(len(keys), ABSENT, dtype=np.int64)


class KeyRows:
    """The row of each key, ABSENT for a key with no row (never stored, or removed)."""

    def __init__(self, keys: np.ndarray | None = None, rows: np.ndarray | None = None) -> None:
        keys = np.empty(0, dtype=np.int64) if keys is None else np.asarray(keys, dtype=np.int64)
        rows = np.empty(0, dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
        self._keys, self._rows = _last_of_each(keys, rows)
        self._new_keys = np.empty(0, dtype=np.int64)
        self._new_rows = np.empty(0, dtype=np.int64)

    def rows(self, keys: np.ndarray) -> np.ndarray:
        """The row of each key (ABSENT where none)."""
        keys = np.asarray(keys, dtype=np.int64).reshape(-1)
        found, rows = _find(self._keys, self._rows, keys)
        rows = np.where(found, rows, ABSENT)
        if len(self._new_keys):
            changed, new_rows = _find(self._new_keys, self._new_rows, keys)
            rows = np.where(changed, new_rows, rows)
        return rows

    def set(self, keys: np.ndarray, rows: np.ndarray) -> None:
        """Point `keys` at `rows` (ABSENT forgets a key); a key given twice keeps its last row."""
        keys, rows = _last_of_each(np.concatenate([self._new_keys, np.asarray(keys, dtype=np.int64)]),
                                   np.concatenate([self._new_rows, np.asarray(rows, dtype=np.int64)]))
        self._new_keys, self._new_rows = keys, rows
        if len(keys) > max(MERGE_MIN, len(self._keys) // MERGE_SHARE):
            self._merge()

    def _merge(self) -> None:
        keys, rows = _last_of_each(np.concatenate([self._keys, self._new_keys]),
                                   np.concatenate([self._rows, self._new_rows]))
        stored = rows != ABSENT
        self._keys, self._rows = keys[stored], rows[stored]
        self._new_keys = np.empty(0, dtype=np.int64)
        self._new_rows = np.empty(0, dtype=np.int64)
