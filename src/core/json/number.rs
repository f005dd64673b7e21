//! Does a JSON number mean the same thing to every reader?
//!
//! RFC 8785 section 3.2.2.3 serializes numbers as IEEE-754 doubles, and most MCP peers
//! (JavaScript, Python's float) read them that way. A number that does not come back from
//! a double round trip (`2^53 + 1`, `0.1000000000000000000001`, `1e400`) would be
//! executed as one value and digested as another, so it is refused.

/// True when `text` (a JSON number, already grammar-checked) survives a double round trip:
/// the shortest decimal of its nearest double has the same value as `text`.
pub fn number_round_trips(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    // Every integer below 10^15 is exact in a double: the common case costs one scan.
    if digits.len() <= 15 && digits.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    if few_significant_digits(digits) {
        return true;
    }
    let Ok(double) = text.parse::<f64>() else {
        return false;
    };
    if !double.is_finite() {
        return false;
    }
    let mut buffer = ryu_js::Buffer::new();
    let shortest = buffer.format_finite(double);
    match (Decimal::of(text), Decimal::of(shortest)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// At most 15 significant digits and a modest exponent: such a decimal is the shortest
/// form of its double (15-digit decimals are further apart than doubles in the normal
/// range), so it round-trips. Checked without allocating; anything else takes the full
/// comparison.
fn few_significant_digits(digits: &str) -> bool {
    let (mantissa, exponent) = match digits.find(['e', 'E']) {
        Some(at) => (&digits[..at], &digits[at + 1..]),
        None => (digits, "0"),
    };
    let exponent = exponent.strip_prefix('+').unwrap_or(exponent);
    if exponent.len() > 4 {
        return false;
    }
    let Ok(exponent) = exponent.parse::<i32>() else {
        return false;
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all = || int.bytes().chain(frac.bytes());
    if !all().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let leading = all().take_while(|&b| b == b'0').count();
    let total = int.len() + frac.len();
    if leading == total {
        return true; // zero
    }
    let trailing = all().rev().take_while(|&b| b == b'0').count();
    let significant = total - leading - trailing;
    // The decimal exponent of the leading digit, to stay well inside the normal range.
    let magnitude = exponent + int.len() as i32 - leading as i32;
    significant <= 15 && (-290..=290).contains(&magnitude)
}

/// A decimal number in lowest terms: `±digits × 10^exponent`, zero with no sign.
#[derive(Debug, PartialEq, Eq)]
struct Decimal {
    negative: bool,
    digits: String,
    exponent: i64,
}

impl Decimal {
    fn of(text: &str) -> Option<Decimal> {
        let (negative, rest) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (mantissa, exponent) = match rest.find(['e', 'E']) {
            Some(at) => (&rest[..at], &rest[at + 1..]),
            None => (rest, "0"),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let all: String = int.chars().chain(frac.chars()).collect();
        let trimmed = all.trim_start_matches('0');
        // Zero is zero whatever its exponent says, even one too long for an i64.
        if trimmed.is_empty() {
            return Some(Decimal { negative: false, digits: String::new(), exponent: 0 });
        }
        let exponent = exponent.parse::<i64>().ok()?;
        let kept = trimmed.trim_end_matches('0');
        let exponent = exponent.checked_sub(frac.len() as i64)?.checked_add((trimmed.len() - kept.len()) as i64)?;
        Some(Decimal { negative, digits: kept.to_owned(), exponent })
    }
}

#[cfg(test)]
mod tests {
    use super::number_round_trips as ok;

    #[test]
    fn exact_numbers_pass() {
        for n in [
            "0",
            "-0",
            "1",
            "-1",
            "42",
            "0.5",
            "0.1",
            "1.0",
            "1e2",
            "1E+2",
            "100",
            "-1.25e-3",
            "9007199254740992",
            "123456789012345",
            "1e21",
            "5e-324",
            "1.7976931348623157e308",
            "0.000001",
            "10.50",
            "0e999999999999999999",
            // Zero with an exponent beyond i64 is still exactly zero.
            "0e99999999999999999999",
            "-0.000e-99999999999999999999999",
            "0E+123456789012345678901234567890",
            "-148368450326158.62",
            "-1.4836845032615862e14",
        ] {
            assert!(ok(n), "{n} should round-trip");
        }
    }

    /// The shortcut for few significant digits agrees with the full comparison.
    #[test]
    fn the_shortcut_agrees_with_the_full_check() {
        for n in [
            "0.5",
            "3.25",
            "-0.5e3",
            "1e21",
            "1.5E+2",
            "123456789012345e-20",
            "1234567890.12345",
            "0.000123456789012345",
            "9.99999999999999e290",
            "1e-290",
            "1e-300",
            "1e300",
            "0.1",
            "0.30000000000000004",
            "0e5",
            "100e-2",
        ] {
            let digits = n.strip_prefix('-').unwrap_or(n);
            if super::few_significant_digits(digits) {
                let double: f64 = n.parse().unwrap();
                let mut buffer = ryu_js::Buffer::new();
                let shortest = buffer.format_finite(double);
                assert_eq!(super::Decimal::of(n), super::Decimal::of(shortest), "{n}");
            }
        }
    }

    #[test]
    fn numbers_that_change_are_refused() {
        for n in [
            "9007199254740993",
            "12345678901234567890",
            "0.10000000000000000000001",
            "1e400",
            "-1e400",
            "1e-400",
            "3.141592653589793238462643383279",
            "1e99999999999999999999",
            "1e-99999999999999999999",
            // The double is exactly ...158.625: JCS (ECMAScript) writes the even ...158.62,
            // so ...158.63 (what Rust's shortest formatting picks) names another value.
            "-148368450326158.63",
        ] {
            assert!(!ok(n), "{n} should be refused");
        }
    }
}
