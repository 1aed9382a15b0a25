from slug import slugify


def test_punctuation_and_case():
    assert slugify("Hello, World!") == "hello-world"


def test_digits_kept():
    assert slugify("top 10 bugs") == "top-10-bugs"
