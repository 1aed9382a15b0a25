from merge import deep_merge


def test_nested_keys_kept():
    base = {"db": {"host": "localhost", "port": 5432}, "debug": False}
    assert deep_merge(base, {"db": {"port": 6543}}) == {"db": {"host": "localhost", "port": 6543}, "debug": False}


def test_base_untouched():
    base = {"a": {"b": 1}}
    deep_merge(base, {"a": {"c": 2}})
    assert base == {"a": {"b": 1}}
