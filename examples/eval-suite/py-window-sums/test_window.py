from window import window_sums


def test_every_window():
    assert window_sums([1, 2, 3, 4], 2) == [3, 5, 7]


def test_one_window():
    assert window_sums([5, 5], 2) == [10]
