import numpy as np

from index.text.overlap import (
    common_shingles,
    containment,
    containments,
    from_blob,
    shingles,
    text_shingles,
    to_blob,
    without,
)

WIRE = ("أعلنت وزارة الداخلية اليوم عن القبض على خلية إرهابية تتكون من ستة عناصر في مدينة الرياض "
        "وضبط أسلحة وذخائر كانت بحوزتهم وقالت الوزارة إن التحقيقات ما زالت جارية لكشف بقية المتورطين")


def test_shingles_are_sorted_unique_word_ngrams():
    hashes = shingles("a b c d e f a b c d e", size=5)
    assert len(hashes) == 6 and list(hashes) == sorted(hashes)  # "a b c d e" appears twice, counted once
    assert len(shingles("short text", size=5)) == 1
    assert len(shingles("", size=5)) == 0


def test_trimmed_and_extended_copies_are_mostly_contained():
    original = text_shingles(WIRE)
    trimmed = text_shingles(" ".join(WIRE.split()[:20]))
    extended = text_shingles(WIRE + " وأضافت أن الأجهزة الأمنية تواصل عملها على مدار الساعة لحماية المواطنين")
    assert containment(trimmed, original) == 1.0
    assert containment(extended, original) == 1.0
    unrelated = text_shingles("فاز فريق الهلال على النصر بهدفين مقابل هدف في مباراة مثيرة على ملعب الملك فهد")
    assert containment(unrelated, original) == 0.0


def test_normalisation_makes_spelling_variants_match():
    persian_keyboard = WIRE.replace("ي", "ی").replace("ك", "ک")
    assert containment(text_shingles(persian_keyboard), text_shingles(WIRE)) == 1.0


def test_common_shingles_are_ignored():
    footer = " للمزيد من الأخبار أرسل كلمة أخبار إلى الرقم 88548 مجانا"
    a = text_shingles("الفريق الأول يفوز في المباراة النهائية للبطولة" + footer)
    b = text_shingles("الحكومة تقر ميزانية جديدة لدعم قطاع التعليم العام" + footer)
    assert containment(a, b) > 0.4  # the footer alone makes them look alike
    common = common_shingles([a, b], min_documents=2)
    assert containment(a, b, common) == 0.0
    assert len(without(a, common)) == len(a) - len(common)


def test_blob_round_trip():
    hashes = text_shingles(WIRE)
    assert np.array_equal(from_blob(to_blob(hashes)), hashes)
    assert len(from_blob(None)) == 0


def test_containments_of_many_sets_equal_each_pair_alone():
    rng = np.random.default_rng(1338)
    common = np.unique(rng.integers(0, 200, 40).astype(np.uint64))
    a = without(np.unique(rng.integers(0, 200, 60).astype(np.uint64)), common)
    others = [np.unique(rng.integers(0, 200, n).astype(np.uint64)) for n in (0, 1, 5, 30, 120)] + [common, a]
    expected = [containment(a, b, common) for b in others]
    assert np.allclose(containments(a, others, common), expected)
    assert containments(a, others, common)[-1] == 1.0 and containments(a, others, common)[-2] == 0.0
    assert np.allclose(containments(without(a, common), others), [containment(a, b) for b in others])


def test_many_fingerprints_lose_their_common_shingles_as_each_alone_does():
    from index.text.overlap import fingerprint, many_without_common, without_common

    fps = [fingerprint("كاريكاتير", "نص المقال الأول عن الانتخابات في المدينة الكبيرة اليوم"),
           fingerprint("كاريكاتير", ""), fingerprint("", ""),
           fingerprint("عنوان آخر تماما عن الرياضة", "نص المقال الأول عن الانتخابات في المدينة الصغيرة")]
    common = np.unique(np.concatenate([fps[0].headline_shingles, fps[0].body_shingles[:2], fps[3].body_shingles[-1:]]))
    cleaned = many_without_common(fps, common)
    assert 0 < sum(len(fp.body_shingles) + len(fp.headline_shingles) for fp in cleaned) < sum(
        len(fp.body_shingles) + len(fp.headline_shingles) for fp in fps)
    # Each result owns its arrays: a row kept in a cache must not keep the whole batch's shingles alive.
    assert all(fp.body_shingles.base is None and fp.headline_shingles.base is None for fp in cleaned)
    for one, many in zip([without_common(fp, common) for fp in fps], cleaned):
        assert np.array_equal(one.body_shingles, many.body_shingles)
        assert np.array_equal(one.headline_shingles, many.headline_shingles)
        assert (one.body_hash, one.headline_hash) == (many.body_hash, many.headline_hash)
