"""Fold judges' labels (/tmp/judge/labels-*.jsonl, by pair number) into judgements.jsonl, by ids.

    python -m bench.relatedness.collect
"""
from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
JUDGEMENTS = HERE / "judgements.jsonl"


def main() -> None:
    keys = {}
    for path in sorted(Path("/tmp/judge-keys").glob("keys-*.jsonl")):
        for line in path.open(encoding="utf-8"):
            row = json.loads(line)
            keys[row["pair"]] = (row["query"], row["candidate"])
    judged = {}
    if JUDGEMENTS.exists():
        for line in JUDGEMENTS.open(encoding="utf-8"):
            row = json.loads(line)
            judged[(row["query"], row["candidate"])] = row
    added = 0
    for path in sorted(Path("/tmp/judge").glob("**/labels-*.jsonl")):
        judge = path.stem.replace("labels-", "judge-")
        for line in path.open(encoding="utf-8"):
            if not line.strip():
                continue
            row = json.loads(line)
            if row["label"] not in (0, 1, 2):
                raise SystemExit(f"{path}: bad label {row}")
            query, candidate = keys[row["pair"]]
            if (query, candidate) not in judged:
                added += 1
            judged[(query, candidate)] = {"query": query, "candidate": candidate, "label": row["label"], "judge": judge}
    with JUDGEMENTS.open("w", encoding="utf-8") as f:
        for row in sorted(judged.values(), key=lambda r: (r["query"], r["candidate"])):
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(judged)} judgements ({added} new)")


if __name__ == "__main__":
    main()
