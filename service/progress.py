"""Progress of long commands: a bar on a terminal, a line every few seconds in logs and pipes."""
from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import IO, Any

LINE_EVERY_SECONDS = 3.0


def seconds_text(seconds: float) -> str:
    """`42s`, `3m05s`, `1h02m`."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class ProgressLines:
    """`label: done/total (pct), rate/s, time left` at most every `every` seconds, and once at the end.

    Usable where a tqdm bar is: `update(n)`, a settable `total`, and a context manager.
    """

    def __init__(self, total: int | None, label: str, every: float = LINE_EVERY_SECONDS,
                 out: IO[str] | None = None) -> None:
        self.total, self.label, self.every = total, label, every
        self.out = out or sys.stdout
        self.done = self.written = 0
        self.started = self.last = time.monotonic()

    def update(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            self.write(now)

    def line(self, now: float) -> str:
        elapsed = max(now - self.started, 1e-9)
        rate = self.done / elapsed
        text = f"{self.label}: {self.done}"
        if self.total:
            text += f"/{self.total} ({self.done / self.total:.0%})"
        text += f", {rate:.1f}/s"
        if self.total and rate > 0 and self.done < self.total:
            text += f", {seconds_text((self.total - self.done) / rate)} left"
        return text + f", {seconds_text(elapsed)} elapsed"

    def write(self, now: float) -> None:
        self.written = self.done
        print(self.line(now), file=self.out, flush=True)

    def close(self) -> None:
        if self.done != self.written:
            self.write(time.monotonic())

    def __enter__(self) -> ProgressLines:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def progress(total: int | None, label: str) -> Any:
    """A tqdm bar when stdout is a terminal, else `ProgressLines` (cron and `make run` logs)."""
    if sys.stdout.isatty():
        from tqdm import tqdm

        return tqdm(total=total, desc=label, unit="art", file=sys.stdout)
    return ProgressLines(total, label)


class StageProgress:
    """One progress display per stage of a command (`rebuild embed`, `rebuild link`), each closed when
    the next begins. Called as `stages(name, size)`, it returns the stage's `update`."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.current: Any = None

    def __call__(self, stage: str, total: int) -> Callable[[int], Any]:
        self.close()
        self.current = progress(total, f"{self.label} {stage}")
        return self.current.update

    def close(self) -> None:
        if self.current is not None:
            self.current.close()
            self.current = None

    def __enter__(self) -> StageProgress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
