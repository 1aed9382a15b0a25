//! Roman numerals: a small crate with two bugs for Micro Agent to fix.

const NUMERALS: [(u32, &str); 13] = [
    (1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"), (50, "L"),
    (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"),
];

/// `n` in Roman numerals; None for 0 and for numbers above 3999.
pub fn to_roman(n: u32) -> Option<String> {
    if n == 0 || n > 3999 {
        return None;
    }
    let mut rest = n;
    let mut out = String::new();
    for &(value, digits) in NUMERALS.iter() {
        if rest >= value {
            out.push_str(digits);
            rest -= value;
        }
    }
    Some(out)
}

/// The value of a Roman numeral written in capitals, or None when it is not one.
pub fn from_roman(numeral: &str) -> Option<u32> {
    let mut total = 0;
    let mut previous = 0;
    for c in numeral.chars().rev() {
        let value = digit_value(c)?;
        if value < previous {
            total += value;
        } else {
            total += value;
            previous = value;
        }
    }
    (total > 0).then_some(total)
}

fn digit_value(c: char) -> Option<u32> {
    let value = match c {
        'I' => 1,
        'V' => 5,
        'X' => 10,
        'L' => 50,
        'C' => 100,
        'D' => 500,
        'M' => 1000,
        _ => return None,
    };
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_have_values() {
        assert_eq!(digit_value('X'), Some(10));
        assert_eq!(digit_value('x'), None);
    }

    #[test]
    fn a_smaller_digit_before_a_larger_one_subtracts() {
        assert_eq!(from_roman("IV"), Some(4), "IV is 5 - 1");
    }
}
