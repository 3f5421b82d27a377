"""How far a request travels through the code: the functions and modules of `index/` and `service/` one
`GET similar` (first time, computed), one write (`POST /v1/articles`) and one rebuild visit, and how
often the path calls back into a module it had left for another (an up-call: module A calls B, and B,
or something B called, calls A again while A's frame is still below it).

In-process over a copy of DATA_DIR (default ./data, filled by `make run`), with the real model and
stores; each operation traced once with `sys.setprofile`, after one untraced warm-up of the same kind.

    python -m bench.request_path [--json FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("index", "service")


def module_of(filename: str) -> str | None:
    """The dotted module of a file of index/ or service/ (None for anything else)."""
    path = Path(filename)
    try:
        relative = path.resolve().relative_to(ROOT)
    except ValueError:
        return None
    if relative.parts[0] not in PACKAGES or path.suffix != ".py":
        return None
    return ".".join(relative.with_suffix("").parts).removesuffix(".__init__")


def traced(operation: Callable[[], Any]) -> dict[str, Any]:
    """Functions and modules of the project that `operation` calls, and its up-calls."""
    functions: set[str] = set()
    modules: list[str] = []
    stack: list[str | None] = []
    upcalls: dict[str, int] = {}

    def profile(frame: Any, event: str, _: Any) -> None:
        if event == "call":
            module = module_of(frame.f_code.co_filename)
            if module is not None:
                if not frame.f_code.co_name.startswith("<"):  # comprehensions and lambdas are part of theirs
                    functions.add(f"{module}.{frame.f_code.co_qualname}")
                if module not in modules:
                    modules.append(module)
                caller = next((m for m in reversed(stack) if m is not None), None)
                if caller is not None and module != caller and module in stack:
                    pair = f"{caller} -> {module}.{frame.f_code.co_qualname}"
                    upcalls[pair] = upcalls.get(pair, 0) + 1
            stack.append(module)
        elif event == "return" and stack:
            stack.pop()

    sys.setprofile(profile)
    try:
        operation()
    finally:
        sys.setprofile(None)
    return {"functions": len(functions), "modules": len(modules), "upcalls": sum(upcalls.values()),
            "upcall_pairs": upcalls, "module_order": modules}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    source = Path(os.environ.get("DATA_DIR", ROOT / "data"))
    if not (source / "articles.sqlite").exists():
        raise SystemExit(f"no data folder at {source}: run `make run` first (or set DATA_DIR)")
    work = Path(tempfile.mkdtemp(prefix="request-path-"))
    try:
        data = work / "data"
        shutil.copytree(source, data, ignore=shutil.ignore_patterns("*.lock", ".metrics"))
        from service import create_app

        app = create_app({"DATA_DIR": str(data), "API_KEYS": "k" * 32, "RATE_LIMIT": "off"})
        client = app.test_client()
        engine = app.extensions["engine"]
        ids = engine.store.newest_ids(3)
        auth = {"Authorization": "Bearer " + "k" * 32}

        def similar(article_id: str, option: str) -> None:
            assert client.get(f"/v1/articles/{article_id}/similar?k=7&exclude_source={option}").status_code == 200

        def write(n: int) -> None:
            article = {"id": f"request-path-{n}", "headline": "الكرملين يدعو إلى التهدئة في إقليم ناجورنو كاراباخ",
                       "body": "دعا الكرملين اليوم الأطراف إلى وقف إطلاق النار والعودة إلى المفاوضات. " * 5,
                       "language": "ar", "source": "bench", "published_at": "2026-12-07T00:00:00Z"}
            assert client.post("/v1/articles", json=article, headers=auth).status_code in (200, 201)

        similar(ids[0], "warm-up")
        write(0)
        found = {"GET similar (computed)": traced(lambda: similar(ids[1], "traced")),
                 "POST /v1/articles": traced(lambda: write(1))}
        engine.rebuild()
        found["rebuild"] = traced(engine.rebuild)
        print(f"{'operation':24s} {'functions':>9s} {'modules':>7s} {'up-calls':>8s}")
        for name, figures in found.items():
            print(f"{name:24s} {figures['functions']:9d} {figures['modules']:7d} {figures['upcalls']:8d}")
        for name, figures in found.items():
            for pair, count in sorted(figures["upcall_pairs"].items()):
                print(f"  up-call in {name}: {pair} x{count}")
        print("\nmodules of GET similar, in the order first visited:")
        print("  " + " -> ".join(found["GET similar (computed)"]["module_order"]))
        if args.json:
            args.json.write_text(json.dumps(found, indent=1))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
