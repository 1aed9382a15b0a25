from grade import letter


def test_boundaries():
    assert [letter(s) for s in (90, 80, 70, 69)] == ["A", "B", "C", "F"]


def test_inside():
    assert letter(95) == "A" and letter(85) == "B"
