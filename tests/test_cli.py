"""The commands, through Flask's CLI runner on the real engine."""
import json


def write_jsonl(path, rows, extra_lines=()):
    lines = [json.dumps(r, ensure_ascii=False) for r in rows] + list(extra_lines)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_ingest_reports_bad_lines_and_keeps_the_rest(runner, engine, few, tmp_path):
    source = tmp_path / "in.jsonl"
    write_jsonl(source, few[:3], ["{broken", json.dumps({"id": "no-headline"}), ""])
    result = runner.invoke(args=["ingest", str(source)])
    assert result.exit_code == 0, result.output
    assert f"{source}:4: skipped: not valid JSON" in result.output
    assert f"{source}:5: skipped: 'headline' is required" in result.output
    assert "ingested 3 articles" in result.output and "skipped 2 bad lines" in result.output
    assert engine.store.count() == 3


def test_rebuild_prints_a_summary_line(runner, engine, few, tmp_path):
    source = tmp_path / "in.jsonl"
    write_jsonl(source, few[:4])
    runner.invoke(args=["ingest", str(source)])
    result = runner.invoke(args=["rebuild"])
    assert result.exit_code == 0, result.output
    assert "4 articles, 0 embedded, 4 from cache" in result.output
    assert engine.health()["index_version"] in result.output
