from discount import apply_discount


def test_quarter_off():
    assert apply_discount(80.0, 25) == 60.0


def test_nothing_off():
    assert apply_discount(19.99, 0) == 19.99
