def window_sums(values, size):
    """The sum of every run of `size` consecutive values, left to right."""
    return [sum(values[i:i + size]) for i in range(len(values) - size)]
