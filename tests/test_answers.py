"""Cached GET similar answers stay until a write could change them, and never past that.

The engine tests use the real model, FAISS and SQLite: after each kind of write, every cached answer
must equal one computed afresh, in the writing process and in a second process on the same folder.
"""
import numpy as np
import pytest

from index.engine import Engine
from index.records.article import validate_article
from index.records.options import SimilarOptions
from index.search import staleness
from index.search.staleness import Answer, ChangeLog

from .conftest import make_engine


def unit(*values: float) -> np.ndarray:
    v = np.array(values, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_a_change_far_from_the_answer_leaves_it_current():
    log = ChangeLog(since=10)
    answer = Answer({}, key=1, threshold=0.8, seq=10)
    log.add(11, [7], [unit(0, 1, 0)])  # scores 0 against the query
    assert log.confirm_current(answer, unit(1, 0, 0))
    assert answer.seq == 11  # checked once, not again at the next read


@pytest.mark.parametrize("key, vector, current", [
    (1, unit(0, 1, 0), False),  # the query article itself changed
    (7, unit(1, 0.2, 0), False),  # an article scoring above the threshold
    (7, None, True),  # no vector (deleted before it was indexed): it was nobody's candidate
])
def test_a_change_to_the_query_or_near_it_makes_the_answer_stale(key, vector, current):
    log = ChangeLog(since=10)
    log.add(11, [9], [unit(0, 0, 1)])
    log.add(12, [key], [vector])
    assert log.confirm_current(Answer({}, key=1, threshold=0.8, seq=10), unit(1, 0, 0)) is current


def test_only_changes_after_the_answer_count():
    log = ChangeLog(since=0)
    log.add(5, [1], [unit(1, 0, 0)])
    assert log.confirm_current(Answer({}, key=1, threshold=0.8, seq=5), unit(1, 0, 0))
    assert not log.confirm_current(Answer({}, key=1, threshold=0.8, seq=4), unit(1, 0, 0))


def test_answers_from_before_the_replayed_log_are_stale(monkeypatch):
    monkeypatch.setattr(staleness, "MAX_REPLAYED", 3)
    log = ChangeLog(since=10)
    fresh = Answer({}, key=1, threshold=0.99, seq=10)
    assert log.confirm_current(fresh, unit(1, 0, 0))
    log.add(11, [2, 3], [unit(0, 1, 0), unit(0, 0, 1)])
    log.add(12, [4, 5], [unit(0, 1, 0), unit(0, 0, 1)])  # past the bound: forget, and move the floor
    assert len(log) == 0 and log.floor == 12
    assert not log.confirm_current(Answer({}, key=1, threshold=0.99, seq=11), unit(1, 0, 0))
    assert log.confirm_current(Answer({}, key=1, threshold=0.99, seq=12), unit(1, 0, 0))


def test_an_answer_that_held_every_article_goes_stale_with_any_new_one():
    log = ChangeLog(since=0)
    log.add(1, [9], [unit(-1, 0, 0)])
    assert not log.confirm_current(Answer({}, key=1, threshold=-np.inf, seq=0), unit(1, 0, 0))


# -- the engine -------------------------------------------------------------------------------

OPTION_SETS = (SimilarOptions(k=5), SimilarOptions(k=6, recency_half_life_days=30))


def fresh(engine: Engine, article_id: str, options: SimilarOptions) -> dict:
    """The answer computed now, past every cache."""
    return engine.fresh_answer(article_id, options)


def check_all(engines: list[Engine], ids: list[str]) -> int:
    """Every engine's answer equals a fresh one, and one from a process started now (nothing kept in
    memory: no answer, no candidate row); returns how many answers were recomputed."""
    recomputed = 0
    started_now = make_engine(engines[0].data_dir, engines[0].embedder)
    for engine in engines:
        for article_id in ids:
            for options in OPTION_SETS:
                answer, source = engine.answer(article_id, options)
                assert answer == fresh(engine, article_id, options), (article_id, options)
                assert answer == fresh(started_now, article_id, options), (article_id, options)
                recomputed += source == "computed"
    return recomputed


@pytest.fixture
def sport(sample_rows) -> list[dict]:
    return [dict(r) for r in sample_rows if r["section"] == "sport"][:150]


def test_every_kind_of_write_refreshes_exactly_the_answers_it_changes(tmp_path, e5, sport, sample_rows):
    writer = make_engine(tmp_path / "data", e5)
    writer.upsert([validate_article(r) for r in sport])
    writer.rebuild()
    reader = make_engine(tmp_path / "data", e5)  # another server process on the same folder
    ids = [r["id"] for r in sport[:30]]  # the answers checked: 30 articles x 2 option sets x 2 processes
    check_all([writer, reader], ids)
    assert check_all([writer, reader], ids) == 0  # all answers now come from the cache

    def write(step) -> int:
        step()
        live = [i for i in ids if writer.store.get(i) is not None]
        return check_all([writer, reader], live)

    # A republished copy joins a story: the answers near it change (and, in this corpus, most others: below).
    copied = write(lambda: writer.upsert([validate_article({**sport[3], "id": "copy-of-3"})]))
    assert copied > 0
    # An article rewritten as another story, a deletion, pins, and a pinned article rewritten.
    write(lambda: writer.upsert([validate_article({**sport[7], "body": sport[20]["body"]})]))
    write(lambda: writer.delete(sport[10]["id"]))
    write(lambda: writer.upsert([validate_article(sport[10])]))  # back, under a new key
    write(lambda: writer.set_pins(sport[1]["id"], [sport[12]["id"]]))
    write(lambda: writer.upsert([validate_article({**sport[12], "headline": "عنوان جديد للمقال المثبت"})]))
    # An earlier copy of the pinned article renames its story: the pinning answer shows story ids.
    write(lambda: writer.upsert([validate_article({**sport[12], "id": "earlier-12", "published_at": "2017-01-01T00:00:00Z"})]))
    assert writer.get(sport[12]["id"]).story_id == "earlier-12"
    # Articles from other sections leave most sport answers as they were.
    others = [r for r in sample_rows if r["section"] == "economy"][:5]
    unrelated = write(lambda: writer.upsert([validate_article(r) for r in others]))
    # Lexical candidates widen what a write can reach: in a corpus of 150 sport articles almost every
    # word is rare, so most answers are recomputed (never one served stale: check_all).
    assert unrelated < 120


def test_warm_fills_the_shared_answers_once(tmp_path, e5, sport):
    engine = make_engine(tmp_path / "data", e5)
    engine.upsert([validate_article(r) for r in sport])
    engine.rebuild()
    assert engine.warm(OPTION_SETS, len(sport) + 1) == len(sport) * len(OPTION_SETS)
    assert engine.warm(OPTION_SETS, len(sport) + 1) == 0  # all still current
    other = make_engine(tmp_path / "data", e5)
    assert other.warm(OPTION_SETS, len(sport) + 1) == 0  # a second process finds them in the shared file
    engine.upsert([validate_article({**sport[2], "id": "copy-of-2"})])
    recomputed = other.warm(OPTION_SETS, len(sport) + 1)  # the copy's own answers, and those it may enter
    assert recomputed > len(OPTION_SETS)  # (most of them here: see the test above)
    assert other.similar(sport[2]["id"], OPTION_SETS[0]) == fresh(other, sport[2]["id"], OPTION_SETS[0])


def test_warm_takes_the_newest_articles(tmp_path, e5, sport):
    engine = make_engine(tmp_path / "data", e5)
    engine.upsert([validate_article(r) for r in sport[:12]])
    engine.rebuild()
    newest = sorted(sport[:12], key=lambda r: r["published_at"], reverse=True)[:3]
    assert engine.store.newest_ids(3) == [r["id"] for r in newest]
    assert engine.warm(OPTION_SETS[:1], 3) == 3
    assert engine.answers.shared_count() == 3


def test_a_process_started_later_sees_every_vector_an_article_had(tmp_path, e5, sport, sample_rows):
    """An answer made while K was near, then K moved away again: a process that starts after both
    changes (K far in its version, far now) must still find that answer stale."""
    writer = make_engine(tmp_path / "data", e5)
    far = [r for r in sample_rows if r["section"] == "economy"][0]
    writer.upsert([validate_article(r) for r in sport + [far]])
    writer.rebuild()
    query = sport[0]["id"]
    nearest = writer.similar(query, OPTION_SETS[0])["items"][0]["id"]
    near = next(r for r in sport if r["id"] == nearest)
    writer.upsert([validate_article({**near, "id": far["id"]})])  # K becomes a copy of the nearest item
    made = writer.similar(query, OPTION_SETS[0])
    assert far["id"] in str(made)  # the answer now names K
    writer.upsert([validate_article(far)])  # and K is what it was
    later = make_engine(tmp_path / "data", e5)
    assert later.similar(query, OPTION_SETS[0]) == fresh(later, query, OPTION_SETS[0])
    assert far["id"] not in str(later.similar(query, OPTION_SETS[0]))


def test_a_rebuild_that_fails_after_regrouping_stories_leaves_no_stale_answer(tmp_path, e5, sport, monkeypatch):
    writer = make_engine(tmp_path / "data", e5)
    writer.upsert([validate_article(r) for r in sport[:60]] + [validate_article({**sport[5], "id": "copy-of-5"})])
    writer.rebuild()
    assert writer.get("copy-of-5").story_id == sport[5]["id"]
    # Article 5 is rewritten: its copy keeps the story name until a rebuild regroups it.
    writer.upsert([validate_article({**sport[5], "body": sport[40]["body"]})])
    reader = make_engine(tmp_path / "data", e5)
    ids = [r["id"] for r in sport[:30]] + ["copy-of-5"]
    check_all([reader], ids)

    def disk_full(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr("index.store.snapshots.write_snapshot", disk_full)
    with pytest.raises(OSError):
        writer.rebuild()
    assert writer.get("copy-of-5").story_id == "copy-of-5"  # regrouped, but the version did not change
    check_all([reader], ids)


def test_a_damaged_answer_file_is_moved_aside_and_the_service_goes_on(tmp_path, e5, sport):
    data = tmp_path / "data"
    data.mkdir()
    (data / "answers.sqlite").write_bytes(b"not a database" * 100)
    engine = make_engine(data, e5)
    engine.upsert([validate_article(r) for r in sport[:5]])
    engine.rebuild()
    assert engine.similar(sport[0]["id"], OPTION_SETS[0]) == fresh(engine, sport[0]["id"], OPTION_SETS[0])
    assert [p.name.split("-")[0] for p in data.glob("answers.sqlite.damaged-*")] == ["answers.sqlite.damaged"]


def test_a_smaller_k_is_served_by_slicing_a_shared_answer(tmp_path, e5, sport):
    engine = make_engine(tmp_path / "data", e5)
    engine.upsert([validate_article(r) for r in sport])
    engine.rebuild()
    ten, five = SimilarOptions(k=10), SimilarOptions(k=5)
    engine.warm([ten], len(sport))
    query = sport[4]["id"]
    answer, source = engine.answer(query, five)
    assert source == "sliced"
    assert answer == {**engine.similar(query, ten), "items": engine.similar(query, ten)["items"][:5]}
    assert [i["id"] for i in answer["items"]] == [i["id"] for i in fresh(engine, query, five)["items"]]
    # Diversity picks depend on k, and other filters another answer: both are computed.
    assert engine.answer(query, SimilarOptions(k=5, diversity=0.3))[1] == "computed"
    assert engine.answer(query, SimilarOptions(k=5, section="economy"))[1] == "computed"
    # A copy of the query makes the shared answer stale: the smaller one is computed, with the change.
    engine.upsert([validate_article({**sport[4], "id": "copy-of-4"})])
    answer, source = engine.answer(query, five)
    assert source == "computed" and answer == fresh(engine, query, five)


class VectorsByHeadline:
    """A fake embedder (this test is about the cache rule, not the model): each headline's vector is
    set by the test, so cosines are exactly what the scenario needs."""

    name, dim = "e5-small-q4", 64

    def __init__(self) -> None:
        self.vectors: dict[str, np.ndarray] = {}

    def at(self, cosine: float, axis: int) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        v[0], v[axis] = cosine, np.sqrt(1 - cosine * cosine)
        return v

    def fit(self, text: str) -> str:
        return text

    def encode(self, texts, progress=None) -> np.ndarray:
        return np.stack([self.vectors[t.split("\n")[0]] for t in texts])


def test_a_write_holding_a_searched_word_makes_the_answer_stale_at_any_cosine(tmp_path):
    """A lexical candidate can enter (or push another out of) the word search's top matches whatever
    its cosine: a write holding one of the words an answer searched for makes it stale."""
    fake = VectorsByHeadline()

    def article(article_id: str, headline: str, body: str, cosine: float, axis: int):
        fake.vectors[headline] = fake.at(cosine, axis)
        return validate_article({"id": article_id, "headline": headline, "body": body})

    engine = Engine(tmp_path / "data", embedder=fake, embedding_cache=tmp_path / "cache.sqlite")
    rows = [article("Q", "zorblax quintar", "qbodyalpha", 1.0, 1)]
    rows += [article(f"F{i}", f"filler{i} headline", f"fillerbody{i}", 0.95, 2 + i % 20) for i in range(25)]
    rows.append(article("L", "zorblax quintar lstar", " ".join(f"lword{i}" for i in range(200)), 0.90, 30))
    rows += [article(f"D{j}", f"zorblax quintar decoy{j}", f"dbody{j}", 0.0, 40) for j in range(29)]
    rows += [article(f"P{i}", f"pad{i} text", f"padbody{i}", 0.1, 50) for i in range(650)]  # zorblax: rare
    engine.upsert(rows)
    engine.rebuild()
    options = SimilarOptions(k=5, min_relatedness=0)
    engine.answer("Q", options)
    engine.upsert([article("K", "zorblax zorblax quintar quintar", "kbody", 0.0, 41)])  # cosine 0 with Q
    served, source = engine.answer("Q", options)
    assert source == "computed" and served == engine.fresh_answer("Q", options)
