"""The commands, through Flask's CLI runner on the real engine."""
import io
import json
import re

from index.embedding.cache import read_vectors_file
from index.engine import Engine
from index.records.options import options_from
from service import create_app
from service.progress import ProgressLines

from .conftest import SAMPLE_VECTORS, make_engine
from .test_answers import fresh


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


def test_ingest_with_the_sample_vectors_seeds_the_cache_and_reports_progress(tmp_path, e5, sample_rows):
    engine = Engine(tmp_path / "data", embedder=e5, embedding_cache=tmp_path / "empty-cache.sqlite")
    runner = create_app({"TESTING": True, "RATE_LIMIT": ""}, engine=engine).test_cli_runner()
    embedded: list[int] = []
    engine.observe(on_embed=lambda texts, seconds: embedded.append(texts))
    source = tmp_path / "in.jsonl"
    write_jsonl(source, sample_rows[:30])
    result = runner.invoke(args=["ingest", str(source), "--vectors", str(SAMPLE_VECTORS)])
    assert result.exit_code == 0, result.output
    assert f"seeded the embedding cache with {len(read_vectors_file(SAMPLE_VECTORS)[1])} vectors" in result.output
    assert embedded == []  # every sample text came from the file
    # Not a terminal: progress comes as lines (done/total, rate, time), the last at 100%.
    assert re.search(r"^ingest: 30/30 \(100%\), [0-9.]+/s, \S+ elapsed$", result.output, re.MULTILINE), result.output
    assert "ingested 30 articles" in result.output


def test_ingest_rejects_a_file_that_is_not_a_vectors_file(runner, tmp_path, few):
    source, bogus = tmp_path / "in.jsonl", tmp_path / "bogus.npz"
    write_jsonl(source, few[:1])
    bogus.write_bytes(b"not a zip")
    result = runner.invoke(args=["ingest", str(source), "--vectors", str(bogus)])
    assert result.exit_code != 0 and "not a vectors file" in result.output


def test_progress_lines_give_done_total_rate_and_time_left():
    out = io.StringIO()
    with ProgressLines(200, "rebuild", every=0, out=out) as lines:
        lines.update(50)
        lines.update(150)
    first, last = out.getvalue().splitlines()  # one line an update here (every=0), none more at the end
    assert re.fullmatch(r"rebuild: 50/200 \(25%\), [0-9.]+/s, \S+ left, \S+ elapsed", first), first
    assert re.fullmatch(r"rebuild: 200/200 \(100%\), [0-9.]+/s, \S+ elapsed", last), last


def test_rebuild_prints_a_summary_line(runner, engine, few, tmp_path):
    source = tmp_path / "in.jsonl"
    write_jsonl(source, few[:4])
    runner.invoke(args=["ingest", str(source)])
    result = runner.invoke(args=["rebuild"])
    assert result.exit_code == 0, result.output
    assert "4 articles, 0 embedded, 4 from cache" in result.output
    assert engine.health()["index_version"] in result.output
    # then every article's answer as pages ask (defaults, a widget block with neither k nor profile,
    # the "widget" profile), shared by all workers; the k=5 block is the first items of the k=10 one
    assert "warmed the similar stories of 4 articles x 3 option sets: 8 computed" in result.output
    assert runner.invoke(args=["rebuild", "--no-warm"]).output.count("warmed") == 0
    assert engine.answers.shared_count() == 0  # a new version: the old answers went


def test_answers_warmed_by_the_command_serve_every_worker(app, runner, engine, e5, few, tmp_path):
    source = tmp_path / "in.jsonl"
    write_jsonl(source, few[:6])
    runner.invoke(args=["ingest", str(source)])
    assert runner.invoke(args=["rebuild"]).exit_code == 0
    assert engine.answers.shared_count() == 6 * 2  # the k=5 block is sliced from the k=10 answer
    worker = make_engine(engine.data_dir, e5)  # another server process, its memory empty
    other = create_app({"TESTING": True, "DATA_DIR": str(engine.data_dir), "RATE_LIMIT": ""}, engine=worker)
    served = []
    worker.observe(on_answer=served.append)
    answer = other.test_client().get(f"/v1/articles/{few[0]['id']}/similar?profile=widget").get_json()
    assert served == ["shared"]
    options = options_from({"profile": "widget"}, app.extensions["similar_defaults"], app.config["PROFILES"])
    assert answer == fresh(worker, few[0]["id"], options)
