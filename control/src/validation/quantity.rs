//! Just enough of `resource.Quantity` to compare and sign-check quantities.
//!
//! k8s-openapi keeps quantities as strings; kube-apiserver parses them while
//! decoding. This parses the same grammar into nano-units so requests can be
//! compared with limits. It does not canonicalise: messages echo the input.

/// The message Go's decoder gives for a malformed quantity.
pub const QUANTITY_SYNTAX: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

/// A parsed quantity in nano-units (1 = 10^-9 of the base unit), rounded toward zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Nanos(pub i128);

fn pow10(exp: u32) -> Option<i128> {
    10i128.checked_pow(exp)
}

/// Parses a quantity string; `None` when it does not follow the grammar or overflows.
pub fn parse(s: &str) -> Option<Nanos> {
    let s = s.trim();
    let (negative, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, s.get(1..)?),
        Some(b'+') => (false, s.get(1..)?),
        _ => (false, s),
    };
    let num_end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(num_end);
    if number.is_empty() || number == "." || number.matches('.').count() > 1 {
        return None;
    }
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    let digits = format!("{whole}{frac}");
    let mantissa: i128 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    let frac_len = i32::try_from(frac.len()).ok()?;

    // (power of ten, power of two) the suffix multiplies by.
    let (ten, two): (i32, u32) = match suffix {
        "" => (0, 0),
        "n" => (-9, 0),
        "u" => (-6, 0),
        "m" => (-3, 0),
        "k" => (3, 0),
        "M" => (6, 0),
        "G" => (9, 0),
        "T" => (12, 0),
        "P" => (15, 0),
        "E" => (18, 0),
        "Ki" => (0, 10),
        "Mi" => (0, 20),
        "Gi" => (0, 30),
        "Ti" => (0, 40),
        "Pi" => (0, 50),
        "Ei" => (0, 60),
        other => {
            let exp = other.strip_prefix(['e', 'E'])?;
            let body = exp.strip_prefix(['+', '-']).unwrap_or(exp);
            if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            (exp.parse::<i32>().ok()?, 0)
        }
    };
    // value = mantissa * 10^(ten - frac_len) * 2^two, expressed in 10^-9 units.
    let scale = ten.checked_sub(frac_len)?.checked_add(9)?;
    let mut value = mantissa.checked_mul(1i128.checked_shl(two)?)?;
    if scale >= 0 {
        value = value.checked_mul(pow10(u32::try_from(scale).ok()?)?)?;
    } else {
        value /= pow10(u32::try_from(-scale).ok()?)?;
    }
    Some(Nanos(if negative { -value } else { value }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_suffixes() {
        for (input, nanos) in [
            ("1", 1_000_000_000i128),
            ("500m", 500_000_000),
            ("0.5", 500_000_000),
            ("1Ki", 1024 * 1_000_000_000),
            ("1.5Gi", 1_610_612_736 * 1_000_000_000),
            ("2k", 2_000 * 1_000_000_000),
            ("1e3", 1_000 * 1_000_000_000),
            ("-1", -1_000_000_000),
            ("+2", 2_000_000_000),
            ("100n", 100),
        ] {
            assert_eq!(parse(input), Some(Nanos(nanos)), "{input}");
        }
        for bad in ["", "abc", "1x", "1..2", "Ki", "1e", "--1"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
        assert!(parse("500m") < parse("1"));
    }
}
