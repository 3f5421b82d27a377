"""The worst draft against a normal one: `POST /v1/similar` over HTTP on one `python -m service serve`.

The worst draft the API accepts is the longest body (200,000 characters) made of one "word": the lead
is cut by words, so before the model's window was enforced all of it went to the model (43.5 s).
The same body of U+FDFA (18 letters, 4 words, after NFKC: 3.6 million letters) was normalised,
fingerprinted and counted in tokens whole (issue #26): as a draft, and twice in one `/v1/compare`.
Also measures a normal draft sent while a worst one is being answered (it waits for the model).
Every figure is printed beside the normal draft's (median/normal).

    python -m bench.worst_draft [--repeat 5] [--chars 200000]   # over DATA_DIR (default ./data: `make run`)
"""
from __future__ import annotations

import argparse
import statistics
import threading
import time

from bench.serving import cpu_seconds, serving, timed_request

NORMAL = {"headline": "الكرملين يدعو إلى ضبط النفس في إقليم ناجورنو كاراباخ",
          "body": "دعا الكرملين اليوم الأطراف المتنازعة إلى ضبط النفس ووقف إطلاق النار فورا " * 8}
LONGEST_BODY = 200_000  # characters: the most the API accepts


def timed_post(port: int, doc: dict, path: str = "/v1/similar") -> float:
    return timed_request(port, "POST", path, doc, timeout=600)


def worst_draft(chars: int, tag: str) -> dict:
    return {"headline": f"مسودة {tag}", "body": "ب" * chars}


def ligature_draft(chars: int, tag: str) -> dict:
    """A body of U+FDFA, which NFKC spells as 18 letters."""
    return {"headline": f"مسودة {tag}", "body": "\ufdfa" * chars}


def behind_a_worst_draft(port: int, chars: int, tag: str) -> float:
    """How long a normal draft takes when it arrives 50 ms after a worst one."""
    worst = threading.Thread(target=timed_post, args=(port, worst_draft(chars, tag)))
    worst.start()
    time.sleep(0.05)
    elapsed = timed_post(port, {**NORMAL, "headline": NORMAL["headline"] + f" {time.time()}"})
    worst.join()
    return elapsed


def timed_with_cpu(port: int, doc: dict, path: str = "/v1/similar") -> tuple[float, float]:
    """(wall seconds, server CPU seconds) of one request: CPU time does not grow when other
    processes share the cores, so it is what a request costs the server."""
    cpu = cpu_seconds(port)
    wall = timed_post(port, doc, path)
    return wall, cpu_seconds(port) - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--chars", type=int, default=LONGEST_BODY, help="length of the one-word body")
    args = parser.parse_args()
    kinds: dict[str, list[tuple[float, float]]] = {}
    with serving(RATE_LIMIT="off") as port:
        timed_post(port, NORMAL)  # warm-up
        # A new text each time: drafts are embedded, and a process remembers the drafts it embedded.
        for i in range(args.repeat):
            tag = f"{i} {time.time()}"
            for name, doc, path in (
                ("normal draft", {**NORMAL, "headline": f"{NORMAL['headline']} {tag}"}, "/v1/similar"),
                ("worst draft", worst_draft(args.chars, tag), "/v1/similar"),
                ("U+FDFA draft", ligature_draft(args.chars, tag), "/v1/similar"),
                ("U+FDFA compare (2)", {"a": ligature_draft(args.chars, f"a{tag}"),
                                        "b": ligature_draft(args.chars, f"b{tag}")}, "/v1/compare"),
            ):
                kinds.setdefault(name, []).append(timed_with_cpu(port, doc, path))
        behind = [behind_a_worst_draft(port, args.chars, f"b{i} {time.time()}") for i in range(args.repeat)]
    base_wall = statistics.median(wall for wall, _ in kinds["normal draft"])
    base_cpu = statistics.median(cpu for _, cpu in kinds["normal draft"])
    for name, runs in kinds.items():
        wall, cpu = statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)
        print(f"{name:22s} median {wall * 1000:8.1f} ms ({wall / base_wall:5.2f}x normal)   "
              f"CPU {cpu * 1000:8.1f} ms ({cpu / base_cpu:5.2f}x normal)")
    print(f"{'normal behind a worst':22s} median {statistics.median(behind) * 1000:8.1f} ms "
          f"({statistics.median(behind) / base_wall:5.2f}x normal)")


if __name__ == "__main__":
    main()
