"""The worst draft against a normal one: `POST /v1/similar` over HTTP on one `python -m service serve`.

The worst draft the API accepts is the longest body (200,000 characters) made of one "word": the lead
is cut by words, so before the model's window was enforced all of it went to the model (43.5 s).
Also measures a normal draft sent while a worst one is being answered (it waits for the model).

    python bench/worst_draft.py [--repeat 5] [--chars 200000]   # over DATA_DIR (default ./data: `make run`)
"""
from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.serving import serving, timed_request  # noqa: E402

NORMAL = {"headline": "الكرملين يدعو إلى ضبط النفس في إقليم ناجورنو كاراباخ",
          "body": "دعا الكرملين اليوم الأطراف المتنازعة إلى ضبط النفس ووقف إطلاق النار فورا " * 8}
LONGEST_BODY = 200_000  # characters: the most the API accepts


def timed_post(port: int, doc: dict) -> float:
    return timed_request(port, "POST", "/v1/similar", doc, timeout=600)


def worst_draft(chars: int, tag: str) -> dict:
    return {"headline": f"مسودة {tag}", "body": "ب" * chars}


def behind_a_worst_draft(port: int, chars: int, tag: str) -> float:
    """How long a normal draft takes when it arrives 50 ms after a worst one."""
    worst = threading.Thread(target=timed_post, args=(port, worst_draft(chars, tag)))
    worst.start()
    time.sleep(0.05)
    elapsed = timed_post(port, {**NORMAL, "headline": NORMAL["headline"] + f" {time.time()}"})
    worst.join()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--chars", type=int, default=LONGEST_BODY, help="length of the one-word body")
    args = parser.parse_args()
    with serving(RATE_LIMIT="off") as port:
        timed_post(port, NORMAL)  # warm-up
        # A new text each time: drafts are embedded, and an embedded text is cached.
        normal = [timed_post(port, {**NORMAL, "headline": NORMAL["headline"] + f" {i} {time.time()}"})
                  for i in range(args.repeat)]
        worst = [timed_post(port, worst_draft(args.chars, f"{i} {time.time()}")) for i in range(args.repeat)]
        behind = [behind_a_worst_draft(port, args.chars, f"b{i} {time.time()}") for i in range(args.repeat)]
    base = statistics.median(normal)
    for name, times in (("normal draft", normal), ("worst draft", worst), ("normal behind a worst", behind)):
        print(f"{name:22s} median {statistics.median(times) * 1000:8.1f} ms   max {max(times) * 1000:8.1f} ms   "
              f"median/normal {statistics.median(times) / base:6.2f}x")


if __name__ == "__main__":
    main()
