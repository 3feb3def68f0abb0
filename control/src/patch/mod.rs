//! PATCH semantics of kube-apiserver as pure functions over JSON: the patch
//! type named by a request's Content-Type, and the object that results from
//! applying a JSON patch (RFC 6902), a JSON merge patch (RFC 7386) or a
//! strategic merge patch to the current object, with the errors and status
//! texts kube-apiserver would give.
//!
//! It must not decode into typed objects, validate, default, or touch
//! storage: the caller does those with the returned JSON. Server-side apply
//! lives in [`crate::apply`]; [`apply_patch`] refuses it, which is what the
//! scale subresource (the one place without apply) answers.

pub mod json;
pub mod merge;
pub mod strategic;
pub mod strategy;

use serde_json::Value;

pub use strategy::{FieldStrategy, PatchStrategy, field_strategy, list_strategies};

/// The media types kube-apiserver accepts for PATCH of a built-in resource.
pub const ACCEPTED_PATCH_TYPES: &[&str] = &[
    PatchType::Json.media_type(),
    PatchType::Merge.media_type(),
    PatchType::Strategic.media_type(),
    PatchType::Apply.media_type(),
];

/// The media types kube-apiserver accepts for PATCH of a resource without
/// strategic-merge-patch metadata (custom resources).
pub const ACCEPTED_PATCH_TYPES_WITHOUT_STRATEGIC: &[&str] = &[
    PatchType::Json.media_type(),
    PatchType::Merge.media_type(),
    PatchType::Apply.media_type(),
];

/// What [`apply_patch`] implements: everything kube-apiserver accepts but
/// apply, which [`crate::apply`] handles for the main resource and status.
const IMPLEMENTED_PATCH_TYPES: &[&str] = &[
    PatchType::Json.media_type(),
    PatchType::Merge.media_type(),
    PatchType::Strategic.media_type(),
];

/// The Status message kube-apiserver gives for its 422 patch failures, whose
/// detail it does not pass on.
pub const INVALID_PATCH_MESSAGE: &str =
    "the server rejected our request due to an error in our request";

/// The maximum number of operations kube-apiserver accepts in a JSON patch.
pub const MAX_JSON_PATCH_OPERATIONS: usize = 10_000;

/// A PATCH body format, from the request's Content-Type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PatchType {
    /// `application/json-patch+json` (RFC 6902).
    Json,
    /// `application/merge-patch+json` (RFC 7386).
    Merge,
    /// `application/strategic-merge-patch+json`.
    Strategic,
    /// `application/apply-patch+yaml` (server-side apply).
    Apply,
}

impl PatchType {
    /// The media type naming this patch type.
    pub const fn media_type(self) -> &'static str {
        match self {
            PatchType::Json => "application/json-patch+json",
            PatchType::Merge => "application/merge-patch+json",
            PatchType::Strategic => "application/strategic-merge-patch+json",
            PatchType::Apply => "application/apply-patch+yaml",
        }
    }

    /// Parses a Content-Type header value; parameters (`; charset=utf-8`)
    /// are ignored, and the media type must match exactly, as in
    /// kube-apiserver.
    pub fn from_content_type(content_type: &str) -> Result<PatchType, PatchError> {
        let trimmed = content_type.trim();
        // kube-apiserver cuts at the first ';' only when it is not the first
        // character, so ";x" stays unrecognised.
        let media_type = match trimmed.find(';') {
            Some(idx) if idx > 0 => trimmed.get(..idx).unwrap_or(trimmed),
            _ => trimmed,
        };
        [
            PatchType::Json,
            PatchType::Merge,
            PatchType::Strategic,
            PatchType::Apply,
        ]
        .into_iter()
        .find(|t| t.media_type() == media_type)
        .ok_or_else(|| PatchError::UnsupportedMediaType {
            content_type: content_type.to_owned(),
            accepted: ACCEPTED_PATCH_TYPES,
        })
    }
}

impl std::fmt::Display for PatchType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.media_type())
    }
}

/// Why a patch could not be applied, with what a `Status` needs.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The patch is undecodable or malformed: 400 BadRequest.
    #[error("{message}")]
    BadRequest {
        /// The Status message, as kube-apiserver words it.
        message: String,
    },
    /// The patch is well-formed but cannot be applied (a failing JSON patch
    /// operation, a list of lists): 422 Invalid. kube-apiserver replies with
    /// [`INVALID_PATCH_MESSAGE`] and drops `detail`, which is for logs.
    #[error("{detail}")]
    Invalid {
        /// What went wrong, for logs.
        detail: String,
    },
    /// A strategic merge patch apimachinery rejects with an error that
    /// kube-apiserver does not classify (a missing merge key, an unknown
    /// `$patch` directive...): 500 with an empty reason and this message,
    /// which kubectl prints as `Error from server: <message>`.
    #[error("{message}")]
    Rejected {
        /// The Status message, as apimachinery words it.
        message: String,
    },
    /// A JSON patch with more operations than kube-apiserver accepts: 413.
    #[error(
        "Request entity too large: The allowed maximum operations in a JSON patch is {max}, got {count}"
    )]
    TooManyOperations {
        /// The number of operations in the patch.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The Content-Type names no accepted patch format, or strategic merge
    /// patch was asked for a kind without its metadata: 415.
    #[error(
        "the body of the request was in an unknown format - accepted media types include: {}",
        accepted.join(", ")
    )]
    UnsupportedMediaType {
        /// The Content-Type as received.
        content_type: String,
        /// The media types that would have been accepted.
        accepted: &'static [&'static str],
    },
    /// A patch type kube-apiserver supports but this server does not
    /// implement here (server-side apply of a scale subresource): 415,
    /// listing what is implemented.
    #[error("{patch_type} (server-side apply) is not supported for this subresource")]
    Unsupported {
        /// The patch type asked for.
        patch_type: PatchType,
    },
}

impl PatchError {
    /// The HTTP status code kube-apiserver would send.
    pub fn code(&self) -> u16 {
        match self {
            PatchError::BadRequest { .. } => 400,
            PatchError::Invalid { .. } => 422,
            PatchError::Rejected { .. } => 500,
            PatchError::TooManyOperations { .. } => 413,
            PatchError::UnsupportedMediaType { .. } | PatchError::Unsupported { .. } => 415,
        }
    }

    /// The `Status.reason` kube-apiserver would send (empty means Unknown).
    pub fn reason(&self) -> &'static str {
        match self {
            PatchError::BadRequest { .. } => "BadRequest",
            PatchError::Invalid { .. } => "Invalid",
            PatchError::Rejected { .. } => "",
            PatchError::TooManyOperations { .. } => "RequestEntityTooLarge",
            PatchError::UnsupportedMediaType { .. } | PatchError::Unsupported { .. } => {
                "UnsupportedMediaType"
            }
        }
    }

    /// The `Status.message` kube-apiserver would send.
    pub fn message(&self) -> String {
        match self {
            PatchError::Invalid { .. } => INVALID_PATCH_MESSAGE.to_owned(),
            PatchError::Unsupported { .. } => format!(
                "the body of the request was in an unknown format - accepted media types include: {}",
                IMPLEMENTED_PATCH_TYPES.join(", ")
            ),
            other => other.to_string(),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> PatchError {
        PatchError::BadRequest {
            message: message.into(),
        }
    }

    pub(crate) fn invalid(detail: impl Into<String>) -> PatchError {
        PatchError::Invalid {
            detail: detail.into(),
        }
    }

    pub(crate) fn rejected(message: impl Into<String>) -> PatchError {
        PatchError::Rejected {
            message: message.into(),
        }
    }
}

/// The JSON type name Go's encoding/json uses in its unmarshal errors.
pub(crate) fn go_json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Applies a PATCH body of `patch_type` to `original` (the current object of
/// `kind`, as JSON) and returns the patched object.
pub fn apply_patch(
    kind: &str,
    patch_type: PatchType,
    original: &Value,
    patch: &[u8],
) -> Result<Value, PatchError> {
    match patch_type {
        PatchType::Apply => return Err(PatchError::Unsupported { patch_type }),
        // kube-apiserver refuses the Content-Type before reading the body
        // when the resource has no strategic-merge-patch metadata.
        PatchType::Strategic if strategy::kind_type(kind).is_none() => {
            return Err(PatchError::UnsupportedMediaType {
                content_type: patch_type.media_type().to_owned(),
                accepted: ACCEPTED_PATCH_TYPES_WITHOUT_STRATEGIC,
            });
        }
        _ => {}
    }
    // kube-apiserver checks the body is JSON before anything else looks at
    // it (for the audit log), with this message.
    let patch: Value =
        serde_json::from_slice(patch).map_err(|_| PatchError::bad_request("invalid JSON patch"))?;
    match patch_type {
        PatchType::Json => json::apply_json_patch(original, &patch),
        PatchType::Merge => merge::apply_merge_patch(original, &patch),
        PatchType::Strategic => strategic::apply_strategic(kind, original, &patch),
        PatchType::Apply => Err(PatchError::Unsupported { patch_type }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn content_types_parse_like_kube_apiserver() {
        let cases: &[(&str, Option<PatchType>)] = &[
            ("application/json-patch+json", Some(PatchType::Json)),
            ("application/merge-patch+json", Some(PatchType::Merge)),
            (
                "application/strategic-merge-patch+json",
                Some(PatchType::Strategic),
            ),
            ("application/apply-patch+yaml", Some(PatchType::Apply)),
            (
                "application/merge-patch+json; charset=utf-8",
                Some(PatchType::Merge),
            ),
            (
                "application/apply-patch+yaml;charset=utf-8",
                Some(PatchType::Apply),
            ),
            ("  application/json-patch+json  ", Some(PatchType::Json)),
            ("application/json", None),
            ("application/apply-patch+cbor", None),
            ("APPLICATION/JSON-PATCH+JSON", None),
            ("application/merge-patch+json ; charset=utf-8", None),
            ("", None),
            (";application/json-patch+json", None),
        ];
        for (content_type, want) in cases {
            let got = PatchType::from_content_type(content_type).ok();
            assert_eq!(got, *want, "{content_type:?}");
        }
    }

    #[test]
    fn unknown_content_type_lists_the_accepted_ones() {
        let err = PatchType::from_content_type("application/json").expect_err("unknown type");
        assert_eq!(err.code(), 415);
        assert_eq!(err.reason(), "UnsupportedMediaType");
        assert_eq!(
            err.message(),
            "the body of the request was in an unknown format - accepted media types include: \
             application/json-patch+json, application/merge-patch+json, \
             application/strategic-merge-patch+json, application/apply-patch+yaml"
        );
    }

    #[test]
    fn each_patch_type_reaches_its_implementation() {
        let pod = json!({"metadata": {"name": "p", "labels": {"a": "1"}},
                         "spec": {"containers": [{"name": "c", "image": "old"}]}});
        let cases: &[(PatchType, &str, serde_json::Value)] = &[
            (
                PatchType::Json,
                r#"[{"op":"replace","path":"/metadata/labels/a","value":"2"}]"#,
                json!({"metadata": {"name": "p", "labels": {"a": "2"}},
                       "spec": {"containers": [{"name": "c", "image": "old"}]}}),
            ),
            (
                PatchType::Merge,
                r#"{"spec":{"containers":[{"name":"c","image":"new"}]}}"#,
                json!({"metadata": {"name": "p", "labels": {"a": "1"}},
                       "spec": {"containers": [{"name": "c", "image": "new"}]}}),
            ),
            (
                PatchType::Strategic,
                r#"{"spec":{"containers":[{"name":"d","image":"x"}]}}"#,
                json!({"metadata": {"name": "p", "labels": {"a": "1"}},
                       "spec": {"containers": [{"name": "d", "image": "x"},
                                               {"name": "c", "image": "old"}]}}),
            ),
        ];
        for (patch_type, body, want) in cases {
            let got = apply_patch("Pod", *patch_type, &pod, body.as_bytes());
            assert_eq!(got.as_ref(), Ok(want), "{patch_type}");
        }
    }

    #[test]
    fn request_level_errors_carry_kube_apiserver_statuses() {
        let pod = json!({"metadata": {"name": "p"}});
        let cases: &[(&str, PatchType, &str, u16, &str, &str)] = &[
            (
                "Pod",
                PatchType::Merge,
                "{not json",
                400,
                "BadRequest",
                "invalid JSON patch",
            ),
            (
                "Pod",
                PatchType::Json,
                "",
                400,
                "BadRequest",
                "invalid JSON patch",
            ),
            (
                "Pod",
                PatchType::Strategic,
                "[1]",
                400,
                "BadRequest",
                "json: cannot unmarshal array into Go value of type map[string]interface {}",
            ),
            (
                "Pod",
                PatchType::Apply,
                "{}",
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types include: \
                 application/json-patch+json, application/merge-patch+json, \
                 application/strategic-merge-patch+json",
            ),
            (
                "Widget",
                PatchType::Strategic,
                "{not json",
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types include: \
                 application/json-patch+json, application/merge-patch+json, \
                 application/apply-patch+yaml",
            ),
            (
                "Pod",
                PatchType::Json,
                r#"[{"op":"test","path":"/metadata/name","value":"q"}]"#,
                422,
                "Invalid",
                INVALID_PATCH_MESSAGE,
            ),
        ];
        for (kind, patch_type, body, code, reason, message) in cases {
            let err =
                apply_patch(kind, *patch_type, &pod, body.as_bytes()).expect_err("patch must fail");
            assert_eq!(
                (err.code(), err.reason(), err.message().as_str()),
                (*code, *reason, *message),
                "{kind} {patch_type} {body}"
            );
        }
    }

    #[test]
    fn merge_patches_work_for_kinds_without_strategic_metadata() {
        let widget = json!({"spec": {"size": 1}});
        let got = apply_patch(
            "Widget",
            PatchType::Merge,
            &widget,
            br#"{"spec":{"size":2}}"#,
        );
        assert_eq!(got, Ok(json!({"spec": {"size": 2}})));
    }
}
