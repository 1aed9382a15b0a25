def apply_discount(price: float, percent: float) -> float:
    """The price after taking `percent` off, rounded to cents."""
    return round(price * (1 - percent / 100), 2)
