"""Domain errors. The HTTP layer maps them to status codes; the engine never does."""
from __future__ import annotations


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""

    code = "engine_error"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(EngineError):
    """A value given by the caller breaks a rule; `field` names it."""

    code = "invalid"


class NotFound(EngineError):
    """An id that the store does not hold."""

    code = "not_found"


class ModelMismatch(EngineError):
    """The index on disk was built with another embedding model than the one configured."""

    code = "model_mismatch"


class IndexCorrupt(EngineError):
    """An index file that cannot be read back (truncated, damaged, or from another format)."""

    code = "index_corrupt"


class RebuildBusy(EngineError):
    """Another rebuild of the same data folder is running."""

    code = "rebuild_busy"
