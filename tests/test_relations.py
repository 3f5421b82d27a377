from index.relatedness.relations import NEAR_DUPLICATE_OVERLAP, RELATED_FLOOR, relate
from index.text.overlap import fingerprint

BODY = ("قال الكرملين اليوم الاثنين إن الوضع في إقليم ناجورنو كاراباخ يثير القلق ودعا جميع الأطراف إلى "
        "ضبط النفس والعودة إلى طاولة المفاوضات وأضاف المتحدث باسم الرئاسة الروسية أن موسكو على اتصال دائم بالطرفين")


def test_same_body_under_another_headline_is_a_duplicate():
    a = fingerprint("الكرملين قلق من الوضع في كاراباخ", BODY)
    b = fingerprint("موسكو تدعو إلى ضبط النفس", "  " + BODY.replace("إقليم", "إقلیم") + " ")
    result = relate(a, b, score=0.99)
    assert (result.relation, result.overlap, result.compared) == ("duplicate", 1.0, "body")


def test_trimmed_copy_is_a_near_duplicate_with_its_overlap():
    trimmed = " ".join(BODY.split()[:25])
    result = relate(fingerprint("h1", BODY), fingerprint("h2", trimmed), score=0.95)
    assert result.relation == "near_duplicate" and result.overlap >= NEAR_DUPLICATE_OVERLAP


def test_related_needs_the_floor_and_no_reuse():
    a = fingerprint("h", BODY)
    b = fingerprint("h", "أعلنت أذربيجان وأرمينيا اتفاقا لوقف إطلاق النار برعاية روسية بعد أسابيع من المعارك العنيفة")
    assert relate(a, b, score=RELATED_FLOOR + 0.01).relation == "related"
    assert relate(a, b, score=RELATED_FLOOR - 0.01).relation == "unrelated"
    assert relate(a, b, score=0.99).overlap == 0.0


def test_headlines_are_compared_when_a_body_is_missing():
    a = fingerprint("إقليم ناجورنو كاراباخ: الكرملين يدعو للتهدئة", "")
    b = fingerprint("إقلیم ناجورنو کاراباخ: الکرملین يدعو للتهدئة", BODY)
    result = relate(a, b, score=0.9)
    assert result.compared == "headline" and result.relation == "duplicate"


def test_a_headline_many_articles_carry_is_a_label_not_a_duplicate():
    """SaudiNewsNet has 42 cartoons titled "كاريكاتير" with no body: they are not one story."""
    from index.text.overlap import common_shingles

    cartoon, other = fingerprint("كاريكاتير", ""), fingerprint("كاريكاتير", "")
    assert relate(cartoon, other, score=1.0).relation == "duplicate"  # before boilerplate is learnt
    common = common_shingles([cartoon.headline_shingles] * 20, 20)
    result = relate(cartoon, other, score=1.0, common=common)
    assert (result.relation, result.overlap) == ("related", 0.0)
    story = fingerprint("إقليم ناجورنو كاراباخ: الكرملين يدعو للتهدئة", "")
    assert relate(story, story, score=1.0, common=common).relation == "duplicate"


def test_the_floor_is_the_measured_one_for_the_default_model_only():
    from index.embedding.models import related_floor_of as default_floor

    assert default_floor("e5-small-q4") == RELATED_FLOOR
    assert default_floor("sentence-transformers:/models/mine") < 0  # not measured: no floor
    a, b = fingerprint("h", BODY), fingerprint("x", "نص آخر مختلف تماما عن الأول في موضوعه وكلماته")
    assert relate(a, b, score=0.2, floor=-1.0).relation == "related"
