//! List/watch selectors: the `labelSelector` and `fieldSelector` query parameters, parsed and
//! matched the way kube-apiserver 1.33 does it (k8s.io/apimachinery `labels.Parse`,
//! `fields.ParseSelector`, `metav1.LabelSelectorAsSelector`, and the per-kind field label
//! conversions of the core registry).
//!
//! Label selectors become kube-core's [`kube_core::Selector`] and are matched with
//! [`kube_core::SelectorExt::matches`]; field selectors become [`FieldSelector`] and are matched
//! against the [`FieldSet`] an object exposes ([`fields_of`]).
//!
//! A request handler uses it in apiserver's order: [`parse_label_selector`], then
//! [`parse_field_selector`], then [`check_supported`] for the requested kind; any error is a
//! 400 BadRequest whose Status message is the error's `Display`.
//!
//! Must not: perform I/O, know about HTTP or the store, default objects, or accept a selector
//! kube-apiserver would reject (the one exception, `>`/`<` label operators that kube-core
//! cannot represent, is rejected with its own message, see [`SelectorError`]).

mod field;
mod filter;
mod label;

pub use field::{
    FieldOperator, FieldRequirement, FieldSelector, FieldSet, check_supported, escape_field_value,
    fields_of, parse_field_selector,
};
pub use filter::{ObjectFilter, Seen};
pub use label::{
    BadValue, InvalidValue, InvalidValues, RequirementError, from_label_selector, from_map,
    parse_label_selector,
};

/// Why a selector was rejected; `Display` is the message of apiserver's 400 BadRequest Status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// `labelSelector` is malformed between requirements (before, after or between commas).
    #[error("found '{found}', expected: {expected}")]
    LabelSyntax {
        /// The token apimachinery's lexer produced (empty at end of string).
        found: String,
        /// What the parser wanted instead, in apimachinery's words.
        expected: &'static str,
    },
    /// One requirement of `labelSelector` is malformed or fails validation.
    #[error("unable to parse requirement: {0}")]
    LabelRequirement(RequirementError),
    /// `labelSelector` uses `>` or `<`: apiserver accepts these, kube-core's `Expression` cannot
    /// hold them, so this server rejects them (the only deliberate deviation).
    #[error(
        "unable to parse requirement: operator '{operator}' in '{requirement}' is not supported by this server"
    )]
    UnsupportedLabelOperator {
        /// The requirement as apimachinery renders it, e.g. `replicas>1`.
        requirement: String,
        /// `>` or `<`.
        operator: &'static str,
    },
    /// A typed `LabelSelector` requirement names an operator other than In/NotIn/Exists/DoesNotExist.
    #[error("{} is not a valid label selector operator", go_quote(.0))]
    InvalidLabelSelectorOperator(String),
    /// A typed `LabelSelector` holds an invalid key, value or value count.
    #[error("{0}")]
    InvalidLabelSelector(InvalidValues),
    /// A `fieldSelector` term has no `=`, `==` or `!=`.
    #[error("invalid selector: '{selector}'; can't understand '{term}'")]
    FieldTerm {
        /// The whole `fieldSelector` as received.
        selector: String,
        /// The offending comma-separated term, escapes intact.
        term: String,
    },
    /// A `fieldSelector` value holds a backslash not followed by `\`, `,` or `=`.
    #[error("invalid field selector: invalid escape sequence: {0}")]
    FieldEscape(String),
    /// A `fieldSelector` value holds an unescaped `=` (apimachinery prints the code point).
    #[error("invalid field selector: unescaped character in value: {}", u32::from(*.0))]
    FieldUnescaped(char),
    /// The kind registers field label conversions and this label is not among them.
    #[error("field label not supported: {0}")]
    FieldNotSupported(String),
    /// batch/v1 Job's conversion rejects the label with its own wording.
    #[error("field label {} not supported for batchv1.Job", go_quote(.0))]
    JobFieldNotSupported(String),
    /// The kind has no field label conversions, so only object metadata is selectable.
    #[error(
        "{} is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
        go_quote(.0)
    )]
    FieldNotKnown(String),
}

/// Go's `%q` (strconv.Quote), which apiserver uses for bad values in its messages.
fn go_quote(s: &str) -> String {
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
            assert_eq!(go_quote(input), want, "input {input:?}");
        }
    }

    #[test]
    fn error_messages_read_like_apiserver() {
        for (err, want) in [
            (
                SelectorError::LabelSyntax {
                    found: "=".into(),
                    expected: "!, identifier, or 'end of string'",
                },
                "found '=', expected: !, identifier, or 'end of string'",
            ),
            (
                SelectorError::InvalidLabelSelectorOperator("Gt".into()),
                r#""Gt" is not a valid label selector operator"#,
            ),
            (
                SelectorError::FieldTerm {
                    selector: "a=b,c".into(),
                    term: "c".into(),
                },
                "invalid selector: 'a=b,c'; can't understand 'c'",
            ),
            (
                SelectorError::FieldEscape(r"\n".into()),
                r"invalid field selector: invalid escape sequence: \n",
            ),
            (
                SelectorError::FieldUnescaped('='),
                "invalid field selector: unescaped character in value: 61",
            ),
            (
                SelectorError::FieldNotSupported("spec.foo".into()),
                "field label not supported: spec.foo",
            ),
            (
                SelectorError::JobFieldNotSupported("status.failed".into()),
                r#"field label "status.failed" not supported for batchv1.Job"#,
            ),
            (
                SelectorError::FieldNotKnown("spec.replicas".into()),
                r#""spec.replicas" is not a known field selector: only "metadata.name", "metadata.namespace""#,
            ),
            (
                SelectorError::UnsupportedLabelOperator {
                    requirement: "replicas>1".into(),
                    operator: ">",
                },
                "unable to parse requirement: operator '>' in 'replicas>1' is not supported by this server",
            ),
        ] {
            assert_eq!(err.to_string(), want);
        }
    }
}
