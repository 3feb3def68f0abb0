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

use crate::go_fmt::quote as go_quote;
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

#[cfg(test)]
mod tests {
    use super::*;

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
