"""Named points where a test may kill this process, to check what a crash there leaves behind.

`RELATED_CRASH_AT=<name>` in the environment kills the process with SIGKILL when it reaches that
point (tests only: a real crash gives no warning either). Unset, a point costs one dictionary lookup.
"""
from __future__ import annotations

import os
import signal

ENVIRONMENT = "RELATED_CRASH_AT"
POINTS = (
    "ingest:stored",      # articles stored, their duplicate links not yet made
    "rebuild:embedded",   # every vector embedded and cached, nothing written
    "rebuild:written",    # the new version written to disk, the live pointer not yet switched
    "rebuild:switched",   # the pointer switched, older versions not yet pruned
    "rebuild:warming",    # some answers of the new version computed, not all
)


def reached(name: str) -> None:
    """Die here if the environment names this point."""
    assert name in POINTS, name
    if os.environ.get(ENVIRONMENT) == name:
        os.kill(os.getpid(), signal.SIGKILL)
