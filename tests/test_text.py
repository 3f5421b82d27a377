import pytest

from index.text.prepare import detect_language, embedding_text, lead


def test_lead_takes_the_first_words():
    assert lead("a  b\nc d e", 3) == "a b c"
    assert lead("a b", 10) == "a b"
    assert lead("a b", 0) == ""


def test_embedding_text_is_headline_then_lead():
    assert embedding_text(" Title  here ", "one two three four", 2) == "Title here\none two"
    assert embedding_text("Title", "", 100) == "Title"


def test_embedding_text_has_no_control_characters():
    # The C engine reads a C string: a NUL would end the text there.
    assert embedding_text("\x00Title\x00 one", "\x01two\x7f three", 5) == "Title one\ntwo three"


@pytest.mark.parametrize(
    "text, language",
    [
        ("الكرملين يدعو إلى ضبط النفس في إقليم ناجورنو كاراباخ", "ar"),
        ("کرملین خواستار خویشتنداری در قره باغ کوهستانی شد و گفتگو", "fa"),
        ("The Kremlin said on Monday that the situation was tense", "en"),
        ("Le Kremlin a appelé les parties à la retenue dans la région", "fr"),
        ("Кремль призвал стороны к сдержанности", "ru"),
        ("12345 !!!", None),
        ("١٢٣٤ - 2024", None),
        # each of these was wrong with the hand-written rules before py3langid
        ("Türkiye ekonomisi ilk çeyrekte beklenenden hızlı büyüdü", "tr"),
        ("Il governo italiano ha approvato la nuova legge di bilancio", "it"),
        ("عمران خان نے کہا کہ حکومت عوام کے مسائل حل کرے گی", "ur"),
        ("東京で大きな地震があり、多くの建物が揺れました", "ja"),
        ("서울에서 주요 경제 회의가 열렸다", "ko"),
        ("الحكومة التونسية تعلن إجراءات جديدة Le gouvernement a annoncé des mesures pour les entreprises", "ar"),
    ],
)
def test_detect_language(text, language):
    assert detect_language(text) == language
