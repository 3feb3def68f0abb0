//! Field selectors: apimachinery's `fields.ParseSelector` syntax (the `fieldSelector` query
//! parameter), the field labels each kind accepts (the scheme's field label conversion
//! functions) and the field values each kind exposes (the registry's `GetAttrs`).
//!
//! Kinds are core/v1, batch/v1 and certificates.k8s.io/v1 kinds by name; `Event` means the
//! core/v1 shape. Where apiserver 1.33 is inconsistent, this module copies it:
//! - `status.podIPs` is an accepted Pod label that no Pod exposes, so it reads as empty;
//! - ReplicaSet's `status.replicas` is exposed but apps/v1 registers no conversion, so it is
//!   rejected like any unknown label (kubernetes/kubernetes#135136);
//! - Node, Namespace and CertificateSigningRequest reject `metadata.namespace`;
//! - Pod's legacy `spec.host` is accepted as `spec.nodeName`.
//!
//! Must not: parse label selectors, default or validate objects, or read anything but the
//! object it is handed.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde_json::Value;

use super::SelectorError;

/// The field values an object exposes to field selectors; absent fields read as `""`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet(BTreeMap<String, String>);

impl FieldSet {
    /// An empty set, in which every field reads as `""`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets one field's value.
    pub fn insert(&mut self, field: impl Into<String>, value: impl Into<String>) {
        self.0.insert(field.into(), value.into());
    }

    /// The field's value, `""` when the object does not expose it (as `fields.Set.Get`).
    pub fn get(&self, field: &str) -> &str {
        self.0.get(field).map_or("", String::as_str)
    }

    /// The exposed fields and their values, by field name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for FieldSet {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

/// How a field requirement compares (`=` and `==` are the same operator).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FieldOperator {
    /// `field=value` or `field==value`.
    Equals,
    /// `field!=value`.
    NotEquals,
}

/// One `field<op>value` term, with the value unescaped.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FieldRequirement {
    /// The field label, e.g. `spec.nodeName`.
    pub field: String,
    /// The comparison.
    pub operator: FieldOperator,
    /// The literal value compared against.
    pub value: String,
}

impl FieldRequirement {
    /// Whether the object's fields satisfy this term.
    pub fn matches(&self, fields: &FieldSet) -> bool {
        let actual = fields.get(&self.field);
        match self.operator {
            FieldOperator::Equals => actual == self.value,
            FieldOperator::NotEquals => actual != self.value,
        }
    }
}

/// A parsed `fieldSelector`: the AND of its requirements; no requirements selects everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    requirements: Vec<FieldRequirement>,
}

impl FieldSelector {
    /// The requirements, in apimachinery's order (sorted by their raw text).
    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.requirements
    }

    /// Whether this selector restricts nothing.
    pub fn selects_all(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether an object exposing `fields` is selected.
    pub fn matches(&self, fields: &FieldSet) -> bool {
        self.requirements.iter().all(|r| r.matches(fields))
    }

    /// The value an `=` term demands of `field`, if any (apimachinery's `RequiresExactMatch`).
    pub fn requires_exact_match(&self, field: &str) -> Option<&str> {
        self.requirements
            .iter()
            .find(|r| r.operator == FieldOperator::Equals && r.field == field)
            .map(|r| r.value.as_str())
    }
}

impl FromIterator<FieldRequirement> for FieldSelector {
    fn from_iter<I: IntoIterator<Item = FieldRequirement>>(iter: I) -> Self {
        Self {
            requirements: iter.into_iter().collect(),
        }
    }
}

impl FromStr for FieldSelector {
    type Err = SelectorError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        parse_field_selector(input)
    }
}

impl fmt::Display for FieldSelector {
    /// Renders apimachinery's form: `field=value` or `field!=value`, values escaped, joined by `,`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, requirement) in self.requirements.iter().enumerate() {
            if index > 0 {
                f.write_str(",")?;
            }
            let operator = match requirement.operator {
                FieldOperator::Equals => "=",
                FieldOperator::NotEquals => "!=",
            };
            write!(
                f,
                "{}{operator}{}",
                requirement.field,
                escape_field_value(&requirement.value)
            )?;
        }
        Ok(())
    }
}

/// Parses a `fieldSelector` query parameter; the empty string selects everything.
///
/// Nothing is trimmed: `a = b` compares field `a ` with value ` b`, as in apiserver.
pub fn parse_field_selector(input: &str) -> Result<FieldSelector, SelectorError> {
    let mut terms = split_terms(input);
    // apimachinery sorts the raw terms, which decides which bad term is reported first.
    terms.sort_unstable();
    let mut requirements = Vec::with_capacity(terms.len());
    for term in terms.iter().filter(|term| !term.is_empty()) {
        let (field, operator, raw_value) =
            split_term(term).ok_or_else(|| SelectorError::FieldTerm {
                selector: input.to_owned(),
                term: term.clone(),
            })?;
        let value = unescape_value(raw_value)?;
        // apimachinery's parse runs an identity transform, which turns a term with an empty
        // field and an empty value (`=`, `!=`) into "everything".
        if field.is_empty() && value.is_empty() {
            continue;
        }
        requirements.push(FieldRequirement {
            field: field.to_owned(),
            operator,
            value,
        });
    }
    Ok(FieldSelector { requirements })
}

/// Escapes `\`, `,` and `=` so any string can be a field selector value.
pub fn escape_field_value(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | ',' | '=') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// Splits at commas not escaped by a backslash, keeping the escapes in the terms.
fn split_terms(input: &str) -> Vec<String> {
    if input.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut current = String::new();
    let mut escaped = false;
    for c in input.chars() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ',' {
            terms.push(std::mem::take(&mut current));
            continue;
        }
        current.push(c);
    }
    terms.push(current);
    terms
}

/// Splits a term at the first operator; the field part cannot escape anything.
fn split_term(term: &str) -> Option<(&str, FieldOperator, &str)> {
    const OPERATORS: [(&str, FieldOperator); 3] = [
        ("!=", FieldOperator::NotEquals),
        ("==", FieldOperator::Equals),
        ("=", FieldOperator::Equals),
    ];
    term.char_indices().find_map(|(index, _)| {
        let (field, rest) = term.split_at_checked(index)?;
        OPERATORS.iter().find_map(|(spelling, operator)| {
            rest.strip_prefix(spelling)
                .map(|value| (field, *operator, value))
        })
    })
}

/// Undoes `escape_field_value`, rejecting unknown escapes and bare `,`/`=`.
fn unescape_value(raw: &str) -> Result<String, SelectorError> {
    let mut value = String::with_capacity(raw.len());
    let mut escaped = false;
    for c in raw.chars() {
        if escaped {
            if !matches!(c, '\\' | ',' | '=') {
                return Err(SelectorError::FieldEscape(format!("\\{c}")));
            }
            value.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            ',' | '=' => return Err(SelectorError::FieldUnescaped(c)),
            c => value.push(c),
        }
    }
    if escaped {
        return Err(SelectorError::FieldEscape("\\".to_owned()));
    }
    Ok(value)
}

/// Which field labels a kind accepts, and how it words a refusal.
enum FieldLabels {
    /// A registered conversion function: `field label not supported: <label>`.
    Registered(&'static [&'static str]),
    /// batch/v1 Job's conversion, with its own wording.
    Job(&'static [&'static str]),
    /// No registered conversion: apimachinery's default, object metadata only.
    MetadataOnly,
}

const METADATA_FIELDS: &[&str] = &["metadata.name", "metadata.namespace"];

fn field_labels(kind: &str) -> FieldLabels {
    match kind {
        "Pod" => FieldLabels::Registered(&[
            "metadata.name",
            "metadata.namespace",
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.podIPs",
            "status.nominatedNodeName",
            "spec.host",
        ]),
        "Node" => FieldLabels::Registered(&["metadata.name", "spec.unschedulable"]),
        "ReplicationController" => {
            FieldLabels::Registered(&["metadata.name", "metadata.namespace", "status.replicas"])
        }
        "Event" => FieldLabels::Registered(&[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
            "metadata.namespace",
            "metadata.name",
        ]),
        "Namespace" => FieldLabels::Registered(&["status.phase", "metadata.name"]),
        "Secret" => FieldLabels::Registered(&["type", "metadata.namespace", "metadata.name"]),
        "Service" => FieldLabels::Registered(&[
            "metadata.namespace",
            "metadata.name",
            "spec.clusterIP",
            "spec.type",
        ]),
        "CertificateSigningRequest" => {
            FieldLabels::Registered(&["metadata.name", "spec.signerName"])
        }
        "Job" => FieldLabels::Job(&["metadata.name", "metadata.namespace", "status.successful"]),
        _ => FieldLabels::MetadataOnly,
    }
}

/// Rejects field labels that apiserver's conversion for `kind` does not accept.
pub fn check_supported(kind: &str, selector: &FieldSelector) -> Result<(), SelectorError> {
    let labels = field_labels(kind);
    // apimachinery converts terms in order and reports the first refusal.
    for requirement in &selector.requirements {
        let field = requirement.field.as_str();
        match &labels {
            FieldLabels::Registered(known) if !known.contains(&field) => {
                return Err(SelectorError::FieldNotSupported(field.to_owned()));
            }
            FieldLabels::Job(known) if !known.contains(&field) => {
                return Err(SelectorError::JobFieldNotSupported(field.to_owned()));
            }
            FieldLabels::MetadataOnly if !METADATA_FIELDS.contains(&field) => {
                return Err(SelectorError::FieldNotKnown(field.to_owned()));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The fields a `kind` object (its v1 JSON, already defaulted) exposes, like the registry's
/// `GetAttrs`: strings as they are, booleans as `true`/`false`, counts in decimal, and Go's
/// zero value (`""`, `false`, `0`) for anything absent.
pub fn fields_of(kind: &str, object: &Value) -> FieldSet {
    let text = |pointer: &str| -> String {
        object
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let first_text = |pointers: &[&str]| -> String {
        pointers
            .iter()
            .map(|pointer| text(pointer))
            .find(|value| !value.is_empty())
            .unwrap_or_default()
    };
    let flag = |pointer: &str| -> String {
        let value = object.pointer(pointer).and_then(Value::as_bool);
        value.unwrap_or(false).to_string()
    };
    let count = |pointer: &str| -> String {
        let value = object.pointer(pointer).and_then(Value::as_i64);
        value.unwrap_or(0).to_string()
    };

    let mut fields = FieldSet::new();
    fields.insert("metadata.name", text("/metadata/name"));
    fields.insert("metadata.namespace", text("/metadata/namespace"));
    match kind {
        "Pod" => {
            let node_name = text("/spec/nodeName");
            // apiserver renames the legacy `spec.host` label; exposing it under both names
            // gives the same result without rewriting the selector.
            fields.insert("spec.host", node_name.clone());
            fields.insert("spec.nodeName", node_name);
            fields.insert("spec.restartPolicy", text("/spec/restartPolicy"));
            fields.insert("spec.schedulerName", text("/spec/schedulerName"));
            // v1's deprecated `serviceAccount` fills in when `serviceAccountName` is empty.
            fields.insert(
                "spec.serviceAccountName",
                first_text(&["/spec/serviceAccountName", "/spec/serviceAccount"]),
            );
            fields.insert("spec.hostNetwork", flag("/spec/hostNetwork"));
            fields.insert("status.phase", text("/status/phase"));
            // v1's `podIP` wins over `podIPs[0]` when both are set, as in the v1 conversion.
            fields.insert(
                "status.podIP",
                first_text(&["/status/podIP", "/status/podIPs/0/ip"]),
            );
            fields.insert(
                "status.nominatedNodeName",
                text("/status/nominatedNodeName"),
            );
        }
        "Node" => fields.insert("spec.unschedulable", flag("/spec/unschedulable")),
        "ReplicaSet" | "ReplicationController" => {
            fields.insert("status.replicas", count("/status/replicas"));
        }
        "Event" => {
            for (label, pointer) in [
                ("involvedObject.kind", "/involvedObject/kind"),
                ("involvedObject.namespace", "/involvedObject/namespace"),
                ("involvedObject.name", "/involvedObject/name"),
                ("involvedObject.uid", "/involvedObject/uid"),
                ("involvedObject.apiVersion", "/involvedObject/apiVersion"),
                (
                    "involvedObject.resourceVersion",
                    "/involvedObject/resourceVersion",
                ),
                ("involvedObject.fieldPath", "/involvedObject/fieldPath"),
                ("reason", "/reason"),
                ("reportingComponent", "/reportingComponent"),
                ("type", "/type"),
            ] {
                fields.insert(label, text(pointer));
            }
            fields.insert(
                "source",
                first_text(&["/source/component", "/reportingComponent"]),
            );
        }
        "Namespace" => fields.insert("status.phase", text("/status/phase")),
        "Secret" => fields.insert("type", text("/type")),
        "Service" => {
            fields.insert("spec.clusterIP", text("/spec/clusterIP"));
            fields.insert("spec.type", text("/spec/type"));
        }
        "Job" => fields.insert("status.successful", count("/status/succeeded")),
        "CertificateSigningRequest" => {
            fields.insert("spec.signerName", text("/spec/signerName"));
        }
        _ => {}
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn eq(field: &str, value: &str) -> FieldRequirement {
        FieldRequirement {
            field: field.into(),
            operator: FieldOperator::Equals,
            value: value.into(),
        }
    }

    fn ne(field: &str, value: &str) -> FieldRequirement {
        FieldRequirement {
            field: field.into(),
            operator: FieldOperator::NotEquals,
            value: value.into(),
        }
    }

    #[test]
    fn parses_operators_and_escapes() {
        let cases: Vec<(&str, Vec<FieldRequirement>)> = vec![
            ("", vec![]),
            (",,", vec![]),
            ("a=b", vec![eq("a", "b")]),
            ("a==b", vec![eq("a", "b")]),
            ("a!=b", vec![ne("a", "b")]),
            ("a=", vec![eq("a", "")]),
            ("a!=", vec![ne("a", "")]),
            ("spec.nodeName=", vec![eq("spec.nodeName", "")]),
            ("=x", vec![eq("", "x")]),
            // An empty field with an empty value is dropped, as apimachinery's parse does.
            ("=", vec![]),
            ("!=,a=b", vec![eq("a", "b")]),
            // Terms come out sorted by their raw text; empty terms are skipped.
            ("b=2,,a=1,", vec![eq("a", "1"), eq("b", "2")]),
            ("a=x\\,y", vec![eq("a", "x,y")]),
            ("a=x\\=y", vec![eq("a", "x=y")]),
            ("a=x\\\\y", vec![eq("a", "x\\y")]),
            ("a=x\\\\,b=y", vec![eq("a", "x\\"), eq("b", "y")]),
            ("a!=\\,\\=\\\\", vec![ne("a", ",=\\")]),
            ("a=é\\,ü", vec![eq("a", "é,ü")]),
            // The first operator splits, `!=` before `==` before `=`.
            ("a==", vec![eq("a", "")]),
            ("a=!b", vec![eq("a", "!b")]),
            // Nothing is trimmed.
            ("a = b", vec![eq("a ", " b")]),
        ];
        for (input, expected) in cases {
            let parsed = parse_field_selector(input)
                .unwrap_or_else(|e| panic!("{input:?} should parse, got {e}"));
            assert_eq!(
                parsed.requirements(),
                expected.as_slice(),
                "input {input:?}"
            );
        }
    }

    #[test]
    fn rejects_like_apimachinery() {
        for (input, expected) in [
            ("a", "invalid selector: 'a'; can't understand 'a'"),
            ("x=1,b", "invalid selector: 'x=1,b'; can't understand 'b'"),
            (
                "a\\,b",
                "invalid selector: 'a\\,b'; can't understand 'a\\,b'",
            ),
            (
                "a=b=c",
                "invalid field selector: unescaped character in value: 61",
            ),
            (
                "a!==b",
                "invalid field selector: unescaped character in value: 61",
            ),
            (
                "a===",
                "invalid field selector: unescaped character in value: 61",
            ),
            (
                "a=x\\y",
                "invalid field selector: invalid escape sequence: \\y",
            ),
            (
                "a=x\\é",
                "invalid field selector: invalid escape sequence: \\é",
            ),
            (
                "a=x\\",
                "invalid field selector: invalid escape sequence: \\",
            ),
            // Sorted terms decide which error is seen first.
            (
                "z=\\q,a=b=c",
                "invalid field selector: unescaped character in value: 61",
            ),
        ] {
            match parse_field_selector(input) {
                Ok(parsed) => panic!("{input:?} should fail, parsed as {parsed}"),
                Err(error) => assert_eq!(error.to_string(), expected, "input {input:?}"),
            }
        }
    }

    #[test]
    fn renders_apimachinery_form() {
        for (input, rendered) in [
            ("", ""),
            ("a==b,c!=d", "a=b,c!=d"),
            ("a=x\\,y\\=z\\\\", "a=x\\,y\\=z\\\\"),
            ("b=,a!=", "a!=,b="),
        ] {
            let parsed: FieldSelector = input.parse().expect("valid selector");
            assert_eq!(parsed.to_string(), rendered, "input {input:?}");
        }
        assert_eq!(escape_field_value("a\\b,c=d"), "a\\\\b\\,c\\=d");
    }

    #[test]
    fn matches_field_sets() {
        let fields: FieldSet = [("metadata.name", "web"), ("spec.nodeName", "")]
            .into_iter()
            .collect();
        for (input, expected) in [
            ("", true),
            ("metadata.name=web", true),
            ("metadata.name==web", true),
            ("metadata.name=db", false),
            ("metadata.name!=db", true),
            ("metadata.name!=web", false),
            ("spec.nodeName=", true),
            ("spec.nodeName!=", false),
            // Fields the object does not expose read as empty.
            ("status.phase=", true),
            ("status.phase=Running", false),
            ("status.phase!=Running", true),
            ("metadata.name=web,spec.nodeName=", true),
            ("metadata.name=web,spec.nodeName=n1", false),
        ] {
            let selector = parse_field_selector(input).expect("valid selector");
            assert_eq!(selector.matches(&fields), expected, "input {input:?}");
        }
        assert_eq!(fields.get("absent"), "");
        assert_eq!(
            fields.iter().collect::<Vec<_>>(),
            [("metadata.name", "web"), ("spec.nodeName", "")]
        );
    }

    #[test]
    fn reports_exact_matches() {
        let selector = parse_field_selector("metadata.name!=a,metadata.name=b,spec.nodeName!=n")
            .expect("valid selector");
        assert_eq!(selector.requires_exact_match("metadata.name"), Some("b"));
        assert_eq!(selector.requires_exact_match("spec.nodeName"), None);
        assert_eq!(selector.requires_exact_match("status.phase"), None);
        assert!(!selector.selects_all());
        assert!(FieldSelector::default().selects_all());
    }

    #[test]
    fn checks_field_labels_per_kind() {
        let cases: &[(&str, &str, Result<(), &str>)] = &[
            ("Pod", "", Ok(())),
            ("Pod", "metadata.name=a,metadata.namespace=b", Ok(())),
            (
                "Pod",
                "spec.nodeName=n,spec.restartPolicy=Always,spec.schedulerName=s",
                Ok(()),
            ),
            (
                "Pod",
                "spec.serviceAccountName=sa,spec.hostNetwork=true",
                Ok(()),
            ),
            (
                "Pod",
                "status.phase=Running,status.podIP=10.0.0.1,status.podIPs=x",
                Ok(()),
            ),
            ("Pod", "status.nominatedNodeName=n,spec.host=n", Ok(())),
            ("Pod", "foo=bar", Err("field label not supported: foo")),
            (
                "Pod",
                "spec.containers=x",
                Err("field label not supported: spec.containers"),
            ),
            // The first refusal in sorted order is reported.
            ("Pod", "z=1,b=2", Err("field label not supported: b")),
            ("Node", "metadata.name=n,spec.unschedulable=true", Ok(())),
            (
                "Node",
                "metadata.namespace=",
                Err("field label not supported: metadata.namespace"),
            ),
            ("Namespace", "metadata.name=n,status.phase=Active", Ok(())),
            (
                "Namespace",
                "metadata.namespace=x",
                Err("field label not supported: metadata.namespace"),
            ),
            (
                "Event",
                "involvedObject.kind=Pod,involvedObject.namespace=a,involvedObject.name=b",
                Ok(()),
            ),
            (
                "Event",
                "involvedObject.uid=u,involvedObject.apiVersion=v1,involvedObject.resourceVersion=1",
                Ok(()),
            ),
            (
                "Event",
                "involvedObject.fieldPath=f,reason=r,reportingComponent=c,source=s,type=Normal",
                Ok(()),
            ),
            ("Event", "metadata.name=a,metadata.namespace=b", Ok(())),
            (
                "Event",
                "message=x",
                Err("field label not supported: message"),
            ),
            (
                "Secret",
                "type=Opaque,metadata.name=a,metadata.namespace=b",
                Ok(()),
            ),
            ("Secret", "data=x", Err("field label not supported: data")),
            (
                "Service",
                "spec.clusterIP=None,spec.type=ClusterIP,metadata.name=a,metadata.namespace=b",
                Ok(()),
            ),
            (
                "Service",
                "spec.ports=x",
                Err("field label not supported: spec.ports"),
            ),
            (
                "ReplicationController",
                "status.replicas=0,metadata.name=a,metadata.namespace=b",
                Ok(()),
            ),
            (
                "CertificateSigningRequest",
                "spec.signerName=s,metadata.name=a",
                Ok(()),
            ),
            (
                "CertificateSigningRequest",
                "metadata.namespace=a",
                Err("field label not supported: metadata.namespace"),
            ),
            (
                "Job",
                "status.successful=1,metadata.name=a,metadata.namespace=b",
                Ok(()),
            ),
            (
                "Job",
                "status.failed=1",
                Err(r#"field label "status.failed" not supported for batchv1.Job"#),
            ),
            // apps/v1 registers no conversion, so ReplicaSet is metadata-only (as in 1.33).
            (
                "ReplicaSet",
                "status.replicas=0",
                Err(
                    r#""status.replicas" is not a known field selector: only "metadata.name", "metadata.namespace""#,
                ),
            ),
            ("ConfigMap", "metadata.name=a,metadata.namespace=b", Ok(())),
            (
                "Deployment",
                "spec.replicas=1",
                Err(
                    r#""spec.replicas" is not a known field selector: only "metadata.name", "metadata.namespace""#,
                ),
            ),
            (
                "ConfigMap",
                "=x",
                Err(
                    r#""" is not a known field selector: only "metadata.name", "metadata.namespace""#,
                ),
            ),
        ];
        for (kind, input, expected) in cases {
            let selector = parse_field_selector(input).expect("valid selector");
            let result = check_supported(kind, &selector).map_err(|e| e.to_string());
            assert_eq!(result, expected.map_err(str::to_owned), "{kind} {input:?}");
        }
    }

    #[test]
    fn exposes_pod_fields() {
        let pod = json!({
            "metadata": {"name": "web-1", "namespace": "shop"},
            "spec": {
                "nodeName": "n1",
                "restartPolicy": "Always",
                "schedulerName": "default-scheduler",
                "serviceAccountName": "web",
                "serviceAccount": "legacy",
                "hostNetwork": true
            },
            "status": {
                "phase": "Running",
                "podIP": "10.0.0.7",
                "podIPs": [{"ip": "10.0.0.7"}, {"ip": "fd00::7"}],
                "nominatedNodeName": "n2"
            }
        });
        let expected: FieldSet = [
            ("metadata.name", "web-1"),
            ("metadata.namespace", "shop"),
            ("spec.host", "n1"),
            ("spec.nodeName", "n1"),
            ("spec.restartPolicy", "Always"),
            ("spec.schedulerName", "default-scheduler"),
            ("spec.serviceAccountName", "web"),
            ("spec.hostNetwork", "true"),
            ("status.phase", "Running"),
            ("status.podIP", "10.0.0.7"),
            ("status.nominatedNodeName", "n2"),
        ]
        .into_iter()
        .collect();
        assert_eq!(fields_of("Pod", &pod), expected);
    }

    #[test]
    fn pod_fields_default_like_go_zero_values() {
        let pending = json!({
            "metadata": {"name": "p", "namespace": "ns"},
            "spec": {"serviceAccount": "legacy"},
            "status": {"podIPs": [{"ip": "fd00::9"}]}
        });
        let fields = fields_of("Pod", &pending);
        assert_eq!(fields.get("spec.nodeName"), "");
        assert_eq!(fields.get("spec.hostNetwork"), "false");
        assert_eq!(fields.get("spec.serviceAccountName"), "legacy");
        assert_eq!(fields.get("status.podIP"), "fd00::9");
        let matches = |input: &str| {
            parse_field_selector(input)
                .expect("valid selector")
                .matches(&fields)
        };
        // `kubectl get pods --field-selector spec.nodeName=` lists unscheduled pods.
        assert!(matches("spec.nodeName="));
        assert!(matches("spec.host="));
        assert!(matches("spec.hostNetwork=false"));
        assert!(!matches("spec.nodeName!="));
        // `status.podIPs` is accepted but never exposed, so it always reads as empty.
        assert!(matches("status.podIPs="));
        assert!(!matches("status.podIPs=fd00::9"));
    }

    #[test]
    fn exposes_fields_of_other_kinds() {
        type Expected = Vec<(&'static str, &'static str)>;
        let cases: Vec<(&str, serde_json::Value, Expected)> = vec![
            (
                "Event",
                json!({
                    "metadata": {"name": "e", "namespace": "ns"},
                    "involvedObject": {
                        "kind": "Pod", "namespace": "ns", "name": "p", "uid": "u1",
                        "apiVersion": "v1", "resourceVersion": "42", "fieldPath": "spec.containers{c}"
                    },
                    "reason": "Scheduled",
                    "reportingComponent": "scheduler",
                    "source": {"component": "default-scheduler"},
                    "type": "Normal"
                }),
                vec![
                    ("involvedObject.kind", "Pod"),
                    ("involvedObject.namespace", "ns"),
                    ("involvedObject.name", "p"),
                    ("involvedObject.uid", "u1"),
                    ("involvedObject.apiVersion", "v1"),
                    ("involvedObject.resourceVersion", "42"),
                    ("involvedObject.fieldPath", "spec.containers{c}"),
                    ("reason", "Scheduled"),
                    ("reportingComponent", "scheduler"),
                    ("source", "default-scheduler"),
                    ("type", "Normal"),
                ],
            ),
            (
                "Event",
                json!({"reportingComponent": "kubelet", "source": {}}),
                vec![("source", "kubelet"), ("reason", "")],
            ),
            (
                "Node",
                json!({"metadata": {"name": "n1"}}),
                vec![("spec.unschedulable", "false"), ("metadata.namespace", "")],
            ),
            (
                "Node",
                json!({"spec": {"unschedulable": true}}),
                vec![("spec.unschedulable", "true")],
            ),
            (
                "Namespace",
                json!({"status": {"phase": "Terminating"}}),
                vec![("status.phase", "Terminating")],
            ),
            (
                "Secret",
                json!({"type": "kubernetes.io/tls"}),
                vec![("type", "kubernetes.io/tls")],
            ),
            (
                "Service",
                json!({"spec": {"clusterIP": "None", "type": "ClusterIP"}}),
                vec![("spec.clusterIP", "None"), ("spec.type", "ClusterIP")],
            ),
            (
                "ReplicaSet",
                json!({"status": {"replicas": 3}}),
                vec![("status.replicas", "3")],
            ),
            (
                "ReplicationController",
                json!({"status": {}}),
                vec![("status.replicas", "0")],
            ),
            (
                "Job",
                json!({"status": {"succeeded": 2}}),
                vec![("status.successful", "2")],
            ),
            ("Job", json!({}), vec![("status.successful", "0")]),
            (
                "CertificateSigningRequest",
                json!({"spec": {"signerName": "kubernetes.io/kubelet-serving"}}),
                vec![("spec.signerName", "kubernetes.io/kubelet-serving")],
            ),
            (
                "ConfigMap",
                json!({"metadata": {"name": "c", "namespace": "ns"}, "data": {"a": "b"}}),
                vec![
                    ("metadata.name", "c"),
                    ("metadata.namespace", "ns"),
                    ("data.a", ""),
                ],
            ),
        ];
        for (kind, object, expected) in cases {
            let fields = fields_of(kind, &object);
            for (field, value) in expected {
                assert_eq!(fields.get(field), value, "{kind} {field}");
            }
        }
    }

    fn field_name() -> impl Strategy<Value = String> {
        prop::sample::select(vec!["metadata.name", "spec.nodeName", "a", "x.y", "é"])
            .prop_map(str::to_owned)
    }

    fn requirement() -> impl Strategy<Value = FieldRequirement> {
        let operator = prop_oneof![Just(FieldOperator::Equals), Just(FieldOperator::NotEquals)];
        (field_name(), operator, "[a-z=,\\\\! é]{0,6}").prop_map(|(field, operator, value)| {
            FieldRequirement {
                field,
                operator,
                value,
            }
        })
    }

    proptest! {
        #[test]
        fn rendering_round_trips(requirements in prop::collection::vec(requirement(), 0..5)) {
            let selector: FieldSelector = requirements.iter().cloned().collect();
            let rendered = selector.to_string();
            let reparsed = parse_field_selector(&rendered)
                .map_err(|e| TestCaseError::fail(format!("{rendered:?}: {e}")))?;
            let mut expected = requirements;
            expected.sort();
            let mut actual = reparsed.requirements().to_vec();
            actual.sort();
            prop_assert_eq!(actual, expected);
        }

        #[test]
        fn arbitrary_input_never_panics(input in ".{0,40}", noise in "[a-z=!,\\\\ ]{0,24}") {
            let _ = parse_field_selector(&input);
            let _ = parse_field_selector(&noise);
        }
    }
}
