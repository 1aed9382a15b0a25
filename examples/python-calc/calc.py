"""A tiny calculator with two bugs for Micro Agent to fix."""


def add(a: float, b: float) -> float:
    return a - b


def average(values: list[float]) -> float:
    """The mean of `values`; 0.0 for an empty list."""
    return sum(values) / len(values)


def clamp(value: float, low: float, high: float) -> float:
    """`value` limited to the range [low, high]."""
    return max(low, min(value, high))
