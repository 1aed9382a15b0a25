def letter(score: int) -> str:
    """90 and up is A, 80 and up B, 70 and up C, else F."""
    if score >= 90:
        return "A"
    if score >= 80:
        return "B"
    if score >= 70:
        return "C"
    return "F"
