use roman::{from_roman, to_roman};

#[test]
fn repeats_digits() {
    assert_eq!(to_roman(3).as_deref(), Some("III"));
}

#[test]
fn writes_a_year() {
    assert_eq!(to_roman(1994).as_deref(), Some("MCMXCIV"));
}

#[test]
fn zero_has_no_numeral() {
    assert_eq!(to_roman(0), None);
}

#[test]
fn reads_what_it_writes() {
    for n in [1, 4, 9, 14, 40, 90, 400, 1994, 3999] {
        assert_eq!(from_roman(&to_roman(n).unwrap()), Some(n), "round trip of {n}");
    }
}

#[test]
fn rejects_what_is_not_a_numeral() {
    assert_eq!(from_roman("MMXQ"), None);
    assert_eq!(from_roman(""), None);
}
