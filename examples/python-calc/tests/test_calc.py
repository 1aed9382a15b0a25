from calc import add, average, clamp


def test_add():
    assert add(2, 3) == 5


def test_add_negative():
    assert add(-1, -1) == -2


def test_average():
    assert average([1, 2, 3, 4]) == 2.5


def test_average_of_nothing_is_zero():
    assert average([]) == 0.0


def test_clamp():
    assert clamp(5, 0, 3) == 3
    assert clamp(-1, 0, 3) == 0
