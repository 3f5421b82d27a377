import pytest

from index.text import detect_language, embedding_text, lead


def test_lead_takes_the_first_words():
    assert lead("a  b\nc d e", 3) == "a b c"
    assert lead("a b", 10) == "a b"
    assert lead("a b", 0) == ""


def test_embedding_text_is_headline_then_lead():
    assert embedding_text(" Title  here ", "one two three four", 2) == "Title here\none two"
    assert embedding_text("Title", "", 100) == "Title"


@pytest.mark.parametrize(
    "text, language",
    [
        ("الكرملين يدعو إلى ضبط النفس في إقليم ناجورنو كاراباخ", "ar"),
        ("کرملین خواستار خویشتنداری در قره باغ کوهستانی شد و گفتگو", "fa"),
        ("The Kremlin said on Monday that the situation was tense", "en"),
        ("Le Kremlin a appelé les parties à la retenue dans la région", "fr"),
        ("Кремль призвал стороны к сдержанности", "ru"),
        ("12345 !!!", None),
    ],
)
def test_detect_language(text, language):
    assert detect_language(text) == language
