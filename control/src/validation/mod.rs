//! Kube-apiserver-compatible validation of the objects strait-control serves.
//!
//! Every check mirrors `k8s.io/kubernetes/pkg/apis/*/validation` (v1.33) and
//! reports [`FieldCause`]s that carry the same reason, field path and message
//! text as apimachinery's `field.Error`, so `kubectl` shows what it would show
//! against kube-apiserver. Validation runs on objects that already went
//! through [`crate::defaults::apply_defaults`], exactly as kube-apiserver
//! validates after defaulting: a Service without `sessionAffinity` is invalid
//! here just as it would be if defaulting had been skipped there.
//!
//! This module must stay pure: objects in, causes out. It never allocates
//! cluster IPs or node ports, never reads a store and never mutates its input.

pub mod apps;
pub mod coordination;
pub mod core;
pub mod discovery;
pub mod ip;
pub mod meta;
pub mod names;
pub mod networking;
pub mod pod;
pub mod quantity;
pub mod rbac;

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, Status, StatusCause, StatusDetails,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::de::DeserializeOwned;

/// Why a field was rejected; the strings are metav1.CauseType values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CauseType {
    /// `FieldValueNotFound`: a referenced value does not exist.
    NotFound,
    /// `FieldValueRequired`: a required value is missing.
    Required,
    /// `FieldValueDuplicate`: a value that must be unique is repeated.
    Duplicate,
    /// `FieldValueInvalid`: a value is malformed or out of range.
    Invalid,
    /// `FieldValueNotSupported`: a value outside an enumeration.
    NotSupported,
    /// `FieldValueForbidden`: a valid value that is not allowed here.
    Forbidden,
    /// `FieldValueTooLong`: a value longer than allowed.
    TooLong,
    /// `FieldValueTooMany`: a list with more items than allowed.
    TooMany,
    /// `InternalError`: a failure not caused by the input.
    Internal,
    /// `FieldValueTypeInvalid`: a value of the wrong type.
    TypeInvalid,
}

impl CauseType {
    /// The metav1.CauseType string, e.g. `FieldValueInvalid`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotFound => "FieldValueNotFound",
            Self::Required => "FieldValueRequired",
            Self::Duplicate => "FieldValueDuplicate",
            Self::Invalid => "FieldValueInvalid",
            Self::NotSupported => "FieldValueNotSupported",
            Self::Forbidden => "FieldValueForbidden",
            Self::TooLong => "FieldValueTooLong",
            Self::TooMany => "FieldValueTooMany",
            Self::Internal => "InternalError",
            Self::TypeInvalid => "FieldValueTypeInvalid",
        }
    }

    /// The human label apimachinery starts a message with, e.g. `Invalid value`.
    pub fn label(self) -> &'static str {
        match self {
            Self::NotFound => "Not found",
            Self::Required => "Required value",
            Self::Duplicate => "Duplicate value",
            Self::Invalid | Self::TypeInvalid => "Invalid value",
            Self::NotSupported => "Unsupported value",
            Self::Forbidden => "Forbidden",
            Self::TooLong => "Too long",
            Self::TooMany => "Too many",
            Self::Internal => "Internal error",
        }
    }
}

impl fmt::Display for CauseType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for CauseType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The offending value, rendered the way Go's `field.Error` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadValue {
    /// A string, printed with Go's `%q`.
    Str(String),
    /// An integer, printed plainly.
    Int(i64),
    /// A boolean, printed plainly.
    Bool(bool),
    /// A nil pointer, printed as `null`.
    Null,
    /// No value at all: only the label is printed.
    Omit,
    /// A value already rendered in Go syntax (`%#v`), e.g. a map or struct.
    GoSyntax(String),
}

impl BadValue {
    fn render(&self) -> Option<String> {
        match self {
            Self::Str(s) => Some(go_quote(s)),
            Self::Int(i) => Some(i.to_string()),
            Self::Bool(b) => Some(b.to_string()),
            Self::Null => Some("null".to_owned()),
            Self::Omit => None,
            Self::GoSyntax(s) => Some(s.clone()),
        }
    }
}

impl From<&str> for BadValue {
    fn from(v: &str) -> Self {
        Self::Str(v.to_owned())
    }
}
impl From<String> for BadValue {
    fn from(v: String) -> Self {
        Self::Str(v)
    }
}
impl From<&String> for BadValue {
    fn from(v: &String) -> Self {
        Self::Str(v.clone())
    }
}
impl From<i32> for BadValue {
    fn from(v: i32) -> Self {
        Self::Int(i64::from(v))
    }
}
impl From<i64> for BadValue {
    fn from(v: i64) -> Self {
        Self::Int(v)
    }
}
impl From<usize> for BadValue {
    fn from(v: usize) -> Self {
        Self::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}
impl From<bool> for BadValue {
    fn from(v: bool) -> Self {
        Self::Bool(v)
    }
}
impl<T: Into<BadValue>> From<Option<T>> for BadValue {
    fn from(v: Option<T>) -> Self {
        v.map_or(Self::Null, Into::into)
    }
}

/// A field path such as `spec.ports[0].port`, built like apimachinery's `field.Path`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Path(String);

impl Path {
    /// A root path, e.g. `Path::new("spec")`; `Path::new("")` is the whole object.
    pub fn new(root: &str) -> Self {
        Self(root.to_owned())
    }

    /// The path of a named child field.
    pub fn child(&self, name: &str) -> Self {
        if self.0.is_empty() {
            Self(name.to_owned())
        } else {
            Self(format!("{}.{name}", self.0))
        }
    }

    /// The path of a list element.
    pub fn index(&self, i: usize) -> Self {
        Self(format!("{}[{i}]", self.0))
    }

    /// The path of a map entry.
    pub fn key(&self, k: &str) -> Self {
        Self(format!("{}[{k}]", self.0))
    }

    /// The rendered path.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One rejected field, shaped like metav1.StatusCause.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldCause {
    /// The machine-readable reason, e.g. `FieldValueInvalid`.
    pub reason: CauseType,
    /// The field path, e.g. `spec.ports[0].port`.
    pub field: String,
    /// The message without the field, e.g. `Invalid value: 0: must be between 1 and 65535, inclusive`.
    pub message: String,
}

impl FieldCause {
    fn build(reason: CauseType, path: &Path, value: Option<BadValue>, detail: &str) -> Self {
        let mut message = reason.label().to_owned();
        if let Some(rendered) = value.as_ref().and_then(BadValue::render) {
            message.push_str(": ");
            message.push_str(&rendered);
        }
        if !detail.is_empty() {
            message.push_str(": ");
            message.push_str(detail);
        }
        Self {
            reason,
            field: path.as_str().to_owned(),
            message,
        }
    }

    /// `field.Required`: the value is missing.
    pub fn required(path: &Path, detail: &str) -> Self {
        Self::build(CauseType::Required, path, None, detail)
    }

    /// `field.Invalid`: the value is malformed.
    pub fn invalid(path: &Path, value: impl Into<BadValue>, detail: &str) -> Self {
        Self::build(CauseType::Invalid, path, Some(value.into()), detail)
    }

    /// `field.Duplicate`: the value repeats an earlier one.
    pub fn duplicate(path: &Path, value: impl Into<BadValue>) -> Self {
        Self::build(CauseType::Duplicate, path, Some(value.into()), "")
    }

    /// `field.NotFound`: the referenced value does not exist.
    pub fn not_found(path: &Path, value: impl Into<BadValue>) -> Self {
        Self::build(CauseType::NotFound, path, Some(value.into()), "")
    }

    /// `field.NotSupported`: the value is not one of `supported`.
    pub fn not_supported(path: &Path, value: impl Into<BadValue>, supported: &[&str]) -> Self {
        let detail = if supported.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = supported.iter().map(|s| go_quote(s)).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        Self::build(CauseType::NotSupported, path, Some(value.into()), &detail)
    }

    /// `field.Forbidden`: the value is not allowed in this context.
    pub fn forbidden(path: &Path, detail: &str) -> Self {
        Self::build(CauseType::Forbidden, path, None, detail)
    }

    /// `field.TooLong`: the value exceeds `max` bytes.
    pub fn too_long(path: &Path, max: usize) -> Self {
        Self::build(
            CauseType::TooLong,
            path,
            None,
            &format!("may not be more than {max} bytes"),
        )
    }

    /// `field.TooMany`: the list has `actual` items, more than `max`.
    pub fn too_many(path: &Path, actual: usize, max: usize) -> Self {
        Self::build(
            CauseType::TooMany,
            path,
            Some(BadValue::from(actual)),
            &format!("must have at most {max} items"),
        )
    }

    /// `field.InternalError`: something not caused by the input went wrong.
    pub fn internal(path: &Path, detail: &str) -> Self {
        Self::build(CauseType::Internal, path, None, detail)
    }

    /// Replaces the detail-free label of a `Duplicate` with a detail, as some callers do.
    fn with_detail(mut self, detail: &str) -> Self {
        self.message.push_str(": ");
        self.message.push_str(detail);
        self
    }

    /// The whole error as Go's `field.Error.Error()` prints it: `field: message`.
    pub fn error_string(&self) -> String {
        format!("{}: {}", self.field, self.message)
    }

    /// The cause as a metav1.StatusCause for a Status body.
    pub fn to_status_cause(&self) -> StatusCause {
        StatusCause {
            field: Some(self.field.clone()),
            message: Some(self.message.clone()),
            reason: Some(self.reason.as_str().to_owned()),
        }
    }
}

/// The Status message kube-apiserver sends for rejected objects, e.g.
/// `Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0`.
pub fn invalid_message(group: &str, kind: &str, name: &str, causes: &[FieldCause]) -> String {
    let qualified = if group.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}.{group}")
    };
    let mut seen: Vec<String> = Vec::new();
    for cause in causes {
        let msg = cause.error_string();
        if !seen.contains(&msg) {
            seen.push(msg);
        }
    }
    match seen.as_slice() {
        [] => format!("{qualified} {} is invalid", go_quote(name)),
        [one] => format!("{qualified} {} is invalid: {one}", go_quote(name)),
        many => format!(
            "{qualified} {} is invalid: [{}]",
            go_quote(name),
            many.join(", ")
        ),
    }
}

/// The full 422 `Invalid` Status kube-apiserver returns for `causes`.
pub fn invalid_status(group: &str, kind: &str, name: &str, causes: &[FieldCause]) -> Status {
    Status {
        code: Some(422),
        details: Some(StatusDetails {
            causes: Some(causes.iter().map(FieldCause::to_status_cause).collect()),
            group: Some(group.to_owned()),
            kind: Some(kind.to_owned()),
            name: Some(name.to_owned()),
            retry_after_seconds: None,
            uid: None,
        }),
        message: Some(invalid_message(group, kind, name, causes)),
        metadata: Default::default(),
        reason: Some("Invalid".to_owned()),
        status: Some("Failure".to_owned()),
    }
}

/// Why [`validate`] could not run its checks at all.
#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    /// The kind has no validation here; the caller decides whether that is fine.
    #[error("no validation is defined for kind {kind:?}")]
    UnsupportedKind {
        /// The kind that was asked for.
        kind: String,
    },
    /// The object does not decode into the kind's type (a 400, not a 422).
    #[error("cannot decode {which} {kind} object: {source}")]
    Decode {
        /// The kind being decoded.
        kind: String,
        /// `"new"` or `"old"`.
        which: &'static str,
        /// The decoder's complaint.
        #[source]
        source: serde_json::Error,
    },
}

/// Kinds [`validate`] knows, with their API group as kube-apiserver names them.
pub const SUPPORTED_KINDS: &[(&str, &str)] = &[
    ("Namespace", ""),
    ("Service", ""),
    ("Pod", ""),
    ("ConfigMap", ""),
    ("Secret", ""),
    ("Endpoints", ""),
    ("Node", ""),
    ("Event", ""),
    ("ServiceAccount", ""),
    ("Deployment", "apps"),
    ("ReplicaSet", "apps"),
    ("EndpointSlice", "discovery.k8s.io"),
    ("Ingress", "networking.k8s.io"),
    ("IngressClass", "networking.k8s.io"),
    ("NetworkPolicy", "networking.k8s.io"),
    ("Lease", "coordination.k8s.io"),
    ("Role", "rbac.authorization.k8s.io"),
    ("ClusterRole", "rbac.authorization.k8s.io"),
    ("RoleBinding", "rbac.authorization.k8s.io"),
    ("ClusterRoleBinding", "rbac.authorization.k8s.io"),
];

fn decode<T: DeserializeOwned>(
    kind: &str,
    which: &'static str,
    v: &serde_json::Value,
) -> Result<T, ValidateError> {
    serde_json::from_value(v.clone()).map_err(|source| ValidateError::Decode {
        kind: kind.to_owned(),
        which,
        source,
    })
}

fn run<T: DeserializeOwned>(
    kind: &str,
    new: &serde_json::Value,
    old: Option<&serde_json::Value>,
    check: fn(&T, Option<&T>) -> Vec<FieldCause>,
) -> Result<Vec<FieldCause>, ValidateError> {
    let new_obj: T = decode(kind, "new", new)?;
    let old_obj: Option<T> = old.map(|o| decode(kind, "old", o)).transpose()?;
    Ok(check(&new_obj, old_obj.as_ref()))
}

/// Validates `new` (and, on update, the transition from `old`) for `kind`.
///
/// Returns the causes kube-apiserver would report; an empty list means valid.
/// Objects must already be defaulted (see [`crate::defaults::apply_defaults`]).
pub fn validate(
    kind: &str,
    new: &serde_json::Value,
    old: Option<&serde_json::Value>,
) -> Result<Vec<FieldCause>, ValidateError> {
    match kind {
        "Namespace" => run(kind, new, old, core::validate_namespace),
        "Service" => run(kind, new, old, core::validate_service),
        "Pod" => run(kind, new, old, pod::validate_pod),
        "ConfigMap" => run(kind, new, old, core::validate_config_map),
        "Secret" => run(kind, new, old, core::validate_secret),
        "Endpoints" => run(kind, new, old, core::validate_endpoints),
        "Node" => run(kind, new, old, core::validate_node),
        "Event" => run(kind, new, old, core::validate_event),
        "ServiceAccount" => run(kind, new, old, core::validate_service_account),
        "Deployment" => run(kind, new, old, apps::validate_deployment),
        "ReplicaSet" => run(kind, new, old, apps::validate_replica_set),
        "EndpointSlice" => run(kind, new, old, discovery::validate_endpoint_slice),
        "Ingress" => run(kind, new, old, networking::validate_ingress),
        "IngressClass" => run(kind, new, old, networking::validate_ingress_class),
        "NetworkPolicy" => run(kind, new, old, networking::validate_network_policy),
        "Lease" => run(kind, new, old, coordination::validate_lease),
        "Role" => run(kind, new, old, rbac::validate_role),
        "ClusterRole" => run(kind, new, old, rbac::validate_cluster_role),
        "RoleBinding" => run(kind, new, old, rbac::validate_role_binding),
        "ClusterRoleBinding" => run(kind, new, old, rbac::validate_cluster_role_binding),
        other => Err(ValidateError::UnsupportedKind {
            kind: other.to_owned(),
        }),
    }
}

// ---- small accessors shared by the per-group files ----

/// The string an optional Go string field holds (`""` when absent).
pub(crate) fn opt_str(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("")
}

/// The items of an optional list (empty when absent).
pub(crate) fn opt_vec<T>(v: &Option<Vec<T>>) -> &[T] {
    v.as_deref().unwrap_or(&[])
}

/// The entries of an optional map (empty when absent).
pub(crate) fn opt_map(v: &Option<BTreeMap<String, String>>) -> &BTreeMap<String, String> {
    static EMPTY: BTreeMap<String, String> = BTreeMap::new();
    v.as_ref().unwrap_or(&EMPTY)
}

// ---- Go value rendering ----

/// Quotes like Go's `strconv.Quote`.
pub use crate::go_fmt::quote as go_quote;

/// Go's `%#v` of a `map[string]string` (keys sorted, as fmt prints them).
pub fn go_string_map(m: Option<&BTreeMap<String, String>>) -> String {
    match m {
        None => "map[string]string(nil)".to_owned(),
        Some(m) => {
            let items: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{}:{}", go_quote(k), go_quote(v)))
                .collect();
            format!("map[string]string{{{}}}", items.join(", "))
        }
    }
}

/// Go's `%#v` of a `[]string`.
pub fn go_string_slice(s: Option<&[String]>) -> String {
    match s {
        None => "[]string(nil)".to_owned(),
        Some(s) => {
            let items: Vec<String> = s.iter().map(|v| go_quote(v)).collect();
            format!("[]string{{{}}}", items.join(", "))
        }
    }
}

/// Go's `%#v` of a metav1.LabelSelector value.
pub fn go_label_selector(sel: &LabelSelector) -> String {
    let exprs = match &sel.match_expressions {
        None => "[]v1.LabelSelectorRequirement(nil)".to_owned(),
        Some(list) => {
            let items: Vec<String> = list
                .iter()
                .map(|r| {
                    format!(
                        "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{}}}",
                        go_quote(&r.key),
                        go_quote(&r.operator),
                        go_string_slice(r.values.as_deref())
                    )
                })
                .collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", items.join(", "))
        }
    };
    format!(
        "v1.LabelSelector{{MatchLabels:{}, MatchExpressions:{exprs}}}",
        go_string_map(sel.match_labels.as_ref())
    )
}

/// Go's `%#v` of an `intstr.IntOrString` value (absent is the zero value).
pub fn go_int_or_string(v: Option<&IntOrString>) -> String {
    match v {
        None => "intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}".to_owned(),
        Some(IntOrString::Int(i)) => {
            format!("intstr.IntOrString{{Type:0, IntVal:{i}, StrVal:\"\"}}")
        }
        Some(IntOrString::String(s)) => {
            format!(
                "intstr.IntOrString{{Type:1, IntVal:0, StrVal:{}}}",
                go_quote(s)
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_follow_field_error_body() {
        let p = Path::new("spec").child("ports").index(0).child("port");
        let cases = [
            (
                FieldCause::invalid(&p, 0, "must be between 1 and 65535, inclusive"),
                "FieldValueInvalid",
                "Invalid value: 0: must be between 1 and 65535, inclusive",
            ),
            (
                FieldCause::invalid(&p, "Foo", "bad"),
                "FieldValueInvalid",
                "Invalid value: \"Foo\": bad",
            ),
            (
                FieldCause::required(&p, ""),
                "FieldValueRequired",
                "Required value",
            ),
            (
                FieldCause::required(&p, "name or generateName is required"),
                "FieldValueRequired",
                "Required value: name or generateName is required",
            ),
            (
                FieldCause::not_supported(&p, "FOO", &["SCTP", "TCP", "UDP"]),
                "FieldValueNotSupported",
                "Unsupported value: \"FOO\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
            ),
            (
                FieldCause::duplicate(&p, "http"),
                "FieldValueDuplicate",
                "Duplicate value: \"http\"",
            ),
            (
                FieldCause::forbidden(&p, "nope"),
                "FieldValueForbidden",
                "Forbidden: nope",
            ),
            (
                FieldCause::too_long(&p, 262144),
                "FieldValueTooLong",
                "Too long: may not be more than 262144 bytes",
            ),
            (
                FieldCause::too_many(&p, 1001, 1000),
                "FieldValueTooMany",
                "Too many: 1001: must have at most 1000 items",
            ),
            (
                FieldCause::invalid(&p, BadValue::Null, "x"),
                "FieldValueInvalid",
                "Invalid value: null: x",
            ),
        ];
        for (cause, reason, message) in cases {
            assert_eq!(cause.reason.as_str(), reason);
            assert_eq!(cause.field, "spec.ports[0].port");
            assert_eq!(cause.message, message);
        }
    }

    #[test]
    fn paths_render_like_field_path() {
        let p = Path::new("data").key("tls.crt");
        assert_eq!(p.as_str(), "data[tls.crt]");
        assert_eq!(Path::new("").child("x").as_str(), "x");
        assert_eq!(Path::new("a").index(3).child("b").as_str(), "a[3].b");
    }

    #[test]
    fn go_quote_escapes_like_strconv() {
        for (input, want) in [
            ("abc", "\"abc\""),
            ("a\"b", "\"a\\\"b\""),
            ("a\\b", "\"a\\\\b\""),
            ("a\nb", "\"a\\nb\""),
            ("\u{1}", "\"\\x01\""),
            ("é", "\"é\""),
        ] {
            assert_eq!(go_quote(input), want);
        }
    }

    #[test]
    fn go_syntax_of_composites() {
        let mut m = BTreeMap::new();
        m.insert("b".to_owned(), "2".to_owned());
        m.insert("a".to_owned(), "1".to_owned());
        assert_eq!(
            go_string_map(Some(&m)),
            "map[string]string{\"a\":\"1\", \"b\":\"2\"}"
        );
        assert_eq!(go_string_map(None), "map[string]string(nil)");
        assert_eq!(
            go_int_or_string(Some(&IntOrString::Int(0))),
            "intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}"
        );
        let sel = LabelSelector {
            match_labels: Some(m),
            match_expressions: None,
        };
        assert_eq!(
            go_label_selector(&sel),
            "v1.LabelSelector{MatchLabels:map[string]string{\"a\":\"1\", \"b\":\"2\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}"
        );
    }

    #[test]
    fn invalid_message_aggregates_and_dedups() {
        let p = Path::new("spec").child("replicas");
        let one = FieldCause::invalid(&p, -1, "must be greater than or equal to 0");
        assert_eq!(
            invalid_message("apps", "Deployment", "web", std::slice::from_ref(&one)),
            "Deployment.apps \"web\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0"
        );
        let two = FieldCause::required(&Path::new("spec").child("selector"), "");
        assert_eq!(
            invalid_message("", "Service", "s", &[one.clone(), one.clone(), two]),
            "Service \"s\" is invalid: [spec.replicas: Invalid value: -1: must be greater than or equal to 0, spec.selector: Required value]"
        );
        let status = invalid_status("", "Service", "s", &[one]);
        assert_eq!(status.code, Some(422));
        assert_eq!(status.reason.as_deref(), Some("Invalid"));
        let causes = status.details.and_then(|d| d.causes).unwrap_or_default();
        assert_eq!(causes.len(), 1);
        assert_eq!(causes[0].reason.as_deref(), Some("FieldValueInvalid"));
    }

    fn leaf() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            (-2i64..70000).prop_map(serde_json::Value::from),
            "[ -~]{0,12}".prop_map(serde_json::Value::from),
            Just(serde_json::json!({})),
            Just(serde_json::json!([])),
            Just(serde_json::json!([{}])),
        ]
    }

    proptest::proptest! {
        // Whatever a client puts into a field, defaulting and validation
        // return causes or a decode error; they never panic.
        #[test]
        fn arbitrary_fields_never_panic(
            case in 0usize..4,
            which in 0usize..8,
            value in leaf(),
        ) {
            use serde_json::json;
            let bases = [
                ("Pod", json!({"metadata": {"name": "p", "namespace": "d"}, "spec": {"containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 80}]}]}}),
                    ["/spec/containers/0/image", "/spec/containers/0/ports/0/containerPort", "/spec/volumes", "/spec/containers/0/env", "/spec/tolerations", "/spec/containers/0/resources", "/spec/dnsConfig", "/metadata/labels"]),
                ("Service", json!({"metadata": {"name": "s", "namespace": "d"}, "spec": {"ports": [{"port": 80}]}}),
                    ["/spec/ports/0/port", "/spec/ports/0/targetPort", "/spec/clusterIP", "/spec/clusterIPs", "/spec/type", "/spec/sessionAffinityConfig", "/spec/externalIPs", "/metadata/annotations"]),
                ("Deployment", json!({"metadata": {"name": "d", "namespace": "d"}, "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "a", "image": "x"}]}}}}),
                    ["/spec/selector", "/spec/selector/matchExpressions", "/spec/strategy", "/spec/replicas", "/spec/template/metadata/labels", "/spec/template/spec/containers/0/livenessProbe", "/spec/strategy/rollingUpdate", "/metadata/name"]),
                ("Ingress", json!({"metadata": {"name": "i", "namespace": "d"}, "spec": {"rules": [{"host": "a.b", "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "s", "port": {"number": 80}}}}]}}]}}),
                    ["/spec/rules/0/host", "/spec/rules/0/http/paths/0/path", "/spec/rules/0/http/paths/0/backend", "/spec/defaultBackend", "/spec/tls", "/spec/ingressClassName", "/spec/rules/0/http", "/metadata/namespace"]),
            ];
            let (kind, base, paths) = &bases[case];
            let mut obj = testutil::set(base.clone(), paths[which], value);
            crate::defaults::apply_defaults(kind, &mut obj);
            let first = validate(kind, &obj, None);
            if let Ok(causes) = &first {
                for c in causes {
                    proptest::prop_assert!(!c.message.is_empty());
                }
            }
            let _ = validate(kind, &obj, Some(base));
        }
    }

    #[test]
    fn kubectl_generated_objects_are_valid() {
        use serde_json::json;
        // Bodies as `kubectl create/run/expose --dry-run=client -o json` prints
        // them, with the namespace the server takes from the URL.
        let objects = [
            (
                "Deployment",
                json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"creationTimestamp": null, "labels": {"app": "web"}, "name": "web", "namespace": "default"},
                "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}}, "strategy": {},
                    "template": {"metadata": {"creationTimestamp": null, "labels": {"app": "web"}},
                        "spec": {"containers": [{"image": "nginx", "name": "nginx", "resources": {}}]}}},
                "status": {}}),
            ),
            (
                "Pod",
                json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"creationTimestamp": null, "labels": {"run": "nginx"}, "name": "nginx", "namespace": "default"},
                "spec": {"containers": [{"image": "nginx", "name": "nginx", "resources": {}}],
                    "dnsPolicy": "ClusterFirst", "restartPolicy": "Always"}, "status": {}}),
            ),
            (
                "Service",
                json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"creationTimestamp": null, "labels": {"app": "web"}, "name": "web", "namespace": "default"},
                "spec": {"ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}], "selector": {"app": "web"}},
                "status": {"loadBalancer": {}}}),
            ),
            (
                "Service",
                json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "np", "namespace": "default"},
                "spec": {"type": "NodePort", "ports": [{"name": "80-80", "port": 80, "protocol": "TCP", "targetPort": 80, "nodePort": 30080}],
                    "selector": {"app": "np"}, "clusterIP": "10.96.0.20"}}),
            ),
            (
                "ConfigMap",
                json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"creationTimestamp": null, "name": "cfg", "namespace": "default"}, "data": {"key": "value"}}),
            ),
            (
                "Secret",
                json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"creationTimestamp": null, "name": "s", "namespace": "default"}, "data": {"password": "czNjcjN0"}}),
            ),
            (
                "Namespace",
                json!({"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"creationTimestamp": null, "name": "team-a"}, "spec": {}, "status": {}}),
            ),
            (
                "ServiceAccount",
                json!({"apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": {"creationTimestamp": null, "name": "builder", "namespace": "default"}}),
            ),
            (
                "Ingress",
                json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                "metadata": {"creationTimestamp": null, "name": "web", "namespace": "default"},
                "spec": {"rules": [{"host": "foo.com", "http": {"paths": [{"backend": {"service": {"name": "svc1", "port": {"number": 8080}}},
                    "path": "/bar", "pathType": "Exact"}]}}]}, "status": {"loadBalancer": {}}}),
            ),
            (
                "Role",
                json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                "metadata": {"creationTimestamp": null, "name": "pod-reader", "namespace": "default"},
                "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "watch", "list"]}]}),
            ),
            (
                "RoleBinding",
                json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": {"creationTimestamp": null, "name": "read", "namespace": "default"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "jane"}]}),
            ),
            (
                "ClusterRoleBinding",
                json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                "metadata": {"name": "admins"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
                "subjects": [{"kind": "ServiceAccount", "name": "builder", "namespace": "default"}]}),
            ),
            (
                "Lease",
                json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": "node-1", "namespace": "kube-node-lease"},
                "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 40, "renewTime": "2024-01-02T03:04:05.000000Z"}}),
            ),
            (
                "Node",
                json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1", "labels": {"kubernetes.io/hostname": "node-1"}},
                "spec": {"podCIDR": "10.244.0.0/24", "podCIDRs": ["10.244.0.0/24"]},
                "status": {"addresses": [{"type": "InternalIP", "address": "192.168.1.10"}], "capacity": {"cpu": "2", "pods": "110"}}}),
            ),
            (
                "EndpointSlice",
                json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"name": "web-x1", "namespace": "default", "labels": {"kubernetes.io/service-name": "web"}},
                "addressType": "IPv4", "endpoints": [{"addresses": ["10.244.0.5"], "conditions": {"ready": true}, "nodeName": "node-1"}],
                "ports": [{"port": 80, "protocol": "TCP", "name": ""}]}),
            ),
        ];
        for (kind, obj) in objects {
            let mut obj = obj;
            crate::defaults::apply_defaults(kind, &mut obj);
            let errs = validate(kind, &obj, None).expect("decodes");
            assert_eq!(errs, vec![], "{kind}");
        }
    }

    #[test]
    fn dispatcher_reports_decode_and_unknown_kind() {
        let bad = serde_json::json!({"metadata": {"name": 5}});
        assert!(matches!(
            validate("ConfigMap", &bad, None),
            Err(ValidateError::Decode { which: "new", .. })
        ));
        assert!(matches!(
            validate("Widget", &serde_json::json!({}), None),
            Err(ValidateError::UnsupportedKind { .. })
        ));
        let ok = serde_json::json!({"metadata": {"name": "c", "namespace": "default"}});
        assert_eq!(validate("ConfigMap", &ok, None).expect("decodes"), vec![]);
    }
}

/// JSON editing and running helpers shared by the table tests.
#[cfg(test)]
pub(crate) mod testutil {
    use serde_json::Value;

    use super::{CauseType, FieldCause};

    /// One table row: a name, an object, and the (reason, field) pairs expected.
    pub type Case = (&'static str, Value, Vec<(CauseType, &'static str)>);

    fn tokens(pointer: &str) -> Vec<String> {
        pointer
            .split('/')
            .skip(1)
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect()
    }

    /// Sets the value at a JSON pointer, creating objects on the way and
    /// appending when the last token indexes one past the end of an array.
    pub fn set(mut v: Value, pointer: &str, value: Value) -> Value {
        let toks = tokens(pointer);
        let Some((last, parents)) = toks.split_last() else {
            return value;
        };
        let mut cur = &mut v;
        for t in parents {
            cur = match cur {
                Value::Array(items) => {
                    let i: usize = t.parse().expect("array index");
                    items.get_mut(i).expect("index in range")
                }
                other => {
                    if !other.is_object() {
                        *other = Value::Object(Default::default());
                    }
                    other
                        .as_object_mut()
                        .expect("object")
                        .entry(t.clone())
                        .or_insert(Value::Object(Default::default()))
                }
            };
        }
        match cur {
            Value::Array(items) => {
                let i: usize = last.parse().expect("array index");
                if i < items.len() {
                    items[i] = value;
                } else {
                    items.push(value);
                }
            }
            other => {
                if !other.is_object() {
                    *other = Value::Object(Default::default());
                }
                other
                    .as_object_mut()
                    .expect("object")
                    .insert(last.clone(), value);
            }
        }
        v
    }

    /// Removes the object key at a JSON pointer.
    pub fn remove(mut v: Value, pointer: &str) -> Value {
        let toks = tokens(pointer);
        if let Some((last, parents)) = toks.split_last() {
            let parent = format!(
                "/{}",
                parents
                    .iter()
                    .map(|t| t.replace('~', "~0").replace('/', "~1"))
                    .collect::<Vec<_>>()
                    .join("/")
            );
            let parent = if parents.is_empty() {
                ""
            } else {
                parent.as_str()
            };
            if let Some(obj) = v.pointer_mut(parent).and_then(Value::as_object_mut) {
                obj.remove(last);
            }
        }
        v
    }

    /// Defaults `new` (and `old`) like kube-apiserver, then validates.
    pub fn run_full(kind: &str, new: Value, old: Option<Value>) -> Vec<FieldCause> {
        let mut new = new;
        crate::defaults::apply_defaults(kind, &mut new);
        let old = old.map(|mut o| {
            crate::defaults::apply_defaults(kind, &mut o);
            o
        });
        super::validate(kind, &new, old.as_ref()).expect("objects decode")
    }

    /// Like [`run_full`], reduced to (reason, field) pairs.
    pub fn run(kind: &str, new: Value, old: Option<Value>) -> Vec<(CauseType, String)> {
        causes(&run_full(kind, new, old))
    }

    /// The (reason, field) pairs of `errs`.
    pub fn causes(errs: &[FieldCause]) -> Vec<(CauseType, String)> {
        errs.iter().map(|e| (e.reason, e.field.clone())).collect()
    }

    /// Owned expectations from a literal table row.
    pub fn want(list: &[(CauseType, &str)]) -> Vec<(CauseType, String)> {
        list.iter().map(|(c, f)| (*c, (*f).to_owned())).collect()
    }
}
