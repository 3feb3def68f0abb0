//! Go's string formatting, as kube-apiserver's messages render values
//! (`strconv.Quote`, i.e. `%q`), so strait's errors read exactly the same.
//! Pure.

/// Go's `%q` (strconv.Quote), which apiserver uses for bad values in its messages.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if is_go_printable(c) => out.push(c),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if u32::from(c) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", u32::from(c)));
            }
            c if u32::from(c) < 0x1_0000 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push_str(&format!("\\U{:08x}", u32::from(c))),
        }
    }
    out.push('"');
    out
}

/// Approximates Go's `strconv.IsPrint`: Rust has no Unicode category table, so controls,
/// non-ASCII spaces, the common format characters and private-use planes are escaped, and
/// unassigned code points print literally where Go would escape them.
fn is_go_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    !matches!(
        u32::from(c),
        0xad | 0x600..=0x605
            | 0x61c
            | 0x6dd
            | 0x70f
            | 0x180e
            | 0x200b..=0x200f
            | 0x202a..=0x202e
            | 0x2060..=0x206f
            | 0xe000..=0xf8ff
            | 0xfeff
            | 0xfff9..=0xfffb
            | 0xfffe..=0xffff
            | 0xe0001..=0xe007f
            | 0xf0000..
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_quote_matches_strconv_quote() {
        for (input, want) in [
            ("", r#""""#),
            ("plain", r#""plain""#),
            (r#"a"b"#, r#""a\"b""#),
            (r"a\b", r#""a\\b""#),
            ("tab\there", r#""tab\there""#),
            ("nl\ncr\r", r#""nl\ncr\r""#),
            ("\u{7}\u{8}\u{c}\u{b}", r#""\a\b\f\v""#),
            ("\u{1}\u{1f}\u{7f}", r#""\x01\x1f\x7f""#),
            ("é ü 日本", r#""é ü 日本""#),
            ("\u{a0}", r#""\u00a0""#),
            ("\u{200b}", r#""\u200b""#),
            ("\u{85}", r#""\u0085""#),
            ("\u{feff}", r#""\ufeff""#),
            ("\u{f0000}", r#""\U000f0000""#),
            ("🙂", r#""🙂""#),
        ] {
            assert_eq!(quote(input), want, "input {input:?}");
        }
    }
}
