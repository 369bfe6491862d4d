//! Check digits that tell identity and card numbers from arbitrary digit strings.

use super::digit_value;

/// GB 11643-1999 weights of the first 17 digits of a resident identity number.
const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check character for each value of the weighted sum modulo 11 ('X' stands for 10).
const ID_CHECK: [u32; 11] = [1, 0, 10, 9, 8, 7, 6, 5, 4, 3, 2];

/// An 18-character identity number: 17 digits, a valid ISO 7064 MOD 11-2 check character, and
/// a birth date (positions 7–14) that exists, 1900–2099.
pub(super) fn is_valid_id18(id: &str) -> bool {
    let values: Vec<u32> = id
        .chars()
        .map(|c| match c {
            'X' | 'x' | 'Ｘ' | 'ｘ' => Some(10),
            c => digit_value(c),
        })
        .collect::<Option<Vec<u32>>>()
        .unwrap_or_default();
    if values.len() != 18 || values[..17].contains(&10) {
        return false;
    }
    let sum: u32 = values[..17].iter().zip(ID_WEIGHTS).map(|(v, w)| v * w).sum();
    let year = number(&values[6..10]);
    ID_CHECK[(sum % 11) as usize] == values[17]
        && (1900..=2099).contains(&year)
        && is_real_date(year, number(&values[10..12]), number(&values[12..14]))
}

/// A legacy 15-digit identity number: a plausible birth date `yymmdd` at positions 7–12 (all
/// were issued to people born in the 1900s).
pub(super) fn is_plausible_id15(digits: &[u32]) -> bool {
    digits.len() == 15 && is_real_date(1900 + number(&digits[6..8]), number(&digits[8..10]), number(&digits[10..12]))
}

/// Luhn (mod 10) check of a bank card number.
pub(super) fn is_luhn_valid(digits: &[u32]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    !digits.is_empty() && sum.is_multiple_of(10)
}

fn number(digits: &[u32]) -> u32 {
    digits.iter().fold(0, |n, d| n * 10 + d)
}

fn is_real_date(year: u32, month: u32, day: u32) -> bool {
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id18_checksum_and_date() {
        // The GB 11643 sample number.
        assert!(is_valid_id18("11010519491231002X"));
        assert!(is_valid_id18("11010519491231002x"));
        assert!(!is_valid_id18("110105194912310021"), "wrong check digit");
        assert!(!is_valid_id18("110105194913310028"), "month 13");
        assert!(!is_valid_id18("1101051949123100"), "too short");
        assert!(!is_valid_id18("1101051949123100X2"), "X inside");
    }

    #[test]
    fn id15_date() {
        let digits = |s: &str| s.chars().filter_map(digit_value).collect::<Vec<_>>();
        assert!(is_plausible_id15(&digits("110105491231002")));
        assert!(!is_plausible_id15(&digits("110105491331002")));
    }

    #[test]
    fn luhn() {
        assert!(is_luhn_valid(&[4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]));
        assert!(!is_luhn_valid(&[4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2]));
        assert!(!is_luhn_valid(&[]));
    }

    #[test]
    fn leap_years() {
        assert!(is_real_date(2000, 2, 29));
        assert!(!is_real_date(1900, 2, 29));
        assert!(is_real_date(2024, 2, 29));
        assert!(!is_real_date(2023, 2, 29));
        assert!(!is_real_date(2023, 4, 31));
    }
}
