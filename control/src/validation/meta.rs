//! `metadata` checks shared by every kind, plus labels, annotations and label selectors.
//!
//! Mirrors `apimachinery/pkg/api/validation/objectmeta.go`, the label and
//! selector checks of `apimachinery/pkg/apis/meta/v1/validation`, and the
//! finalizer rule `pkg/apis/core/validation` adds. Selector matching lives
//! here too because workloads compare selectors with template labels.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, LabelSelectorRequirement, ObjectMeta, OwnerReference, Time,
};

use super::names::{self, NameFn};
use super::{BadValue, FieldCause, Path, go_quote, opt_str, opt_vec};

/// The limit on the summed length of all annotation keys and values.
pub const TOTAL_ANNOTATION_SIZE_LIMIT_B: usize = 256 * 1024;
/// The detail for changes to immutable fields.
pub const FIELD_IMMUTABLE: &str = "field is immutable";
/// The detail for negative counters.
pub const IS_NEGATIVE: &str = "must be greater than or equal to 0";

const STANDARD_FINALIZERS: &[&str] = &["kubernetes", "orphan", "foregroundDeletion"];

/// `ValidateLabelName`: a label key must be a qualified name.
pub fn validate_label_name(key: &str, path: &Path) -> Vec<FieldCause> {
    names::is_qualified_name(key)
        .iter()
        .map(|msg| FieldCause::invalid(path, key, msg))
        .collect()
}

/// `ValidateLabels`: keys are qualified names, values are label values.
pub fn validate_labels(labels: Option<&BTreeMap<String, String>>, path: &Path) -> Vec<FieldCause> {
    let mut errs = Vec::new();
    for (k, v) in labels.into_iter().flatten() {
        errs.extend(validate_label_name(k, path));
        for msg in names::is_valid_label_value(v) {
            errs.push(FieldCause::invalid(path, v, &msg));
        }
    }
    errs
}

/// `ValidateAnnotations`: keys are case-insensitive qualified names; total size ≤ 256 KiB.
pub fn validate_annotations(
    annotations: Option<&BTreeMap<String, String>>,
    path: &Path,
) -> Vec<FieldCause> {
    let mut errs = Vec::new();
    let mut total = 0usize;
    for (k, v) in annotations.into_iter().flatten() {
        for msg in names::is_qualified_name(&k.to_lowercase()) {
            errs.push(FieldCause::invalid(path, k, &msg));
        }
        total = total.saturating_add(k.len()).saturating_add(v.len());
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT_B {
        errs.push(FieldCause::too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT_B));
    }
    errs
}

/// `ValidateNonnegativeField`.
pub fn validate_nonnegative(value: i64, path: &Path) -> Vec<FieldCause> {
    if value < 0 {
        vec![FieldCause::invalid(path, value, IS_NEGATIVE)]
    } else {
        Vec::new()
    }
}

/// `ValidateImmutableField` for values that print as Go strings.
pub fn validate_immutable_str(new: &str, old: &str, path: &Path) -> Vec<FieldCause> {
    if new == old {
        Vec::new()
    } else {
        vec![FieldCause::invalid(path, new, FIELD_IMMUTABLE)]
    }
}

/// `ValidateImmutableField` for any comparable value with a pre-rendered bad value.
pub fn validate_immutable<T: PartialEq>(
    new: &T,
    old: &T,
    rendered_new: impl FnOnce() -> BadValue,
    path: &Path,
) -> Vec<FieldCause> {
    if new == old {
        Vec::new()
    } else {
        vec![FieldCause::invalid(path, rendered_new(), FIELD_IMMUTABLE)]
    }
}

/// Go's `metav1.Time.String()`, e.g. `2024-01-02 03:04:05 +0000 UTC`.
pub fn go_time(t: Option<&Time>) -> BadValue {
    match t {
        // A nil *metav1.Time prints as null.
        None => BadValue::Null,
        Some(t) => BadValue::GoSyntax(t.0.strftime("%Y-%m-%d %H:%M:%S%.f +0000 UTC").to_string()),
    }
}

fn validate_finalizer_name(name: &str, path: &Path) -> Vec<FieldCause> {
    let mut errs: Vec<FieldCause> = names::is_qualified_name(name)
        .iter()
        .map(|msg| FieldCause::invalid(path, name, msg))
        .collect();
    if !name.contains('/') && !STANDARD_FINALIZERS.contains(&name) {
        errs.push(FieldCause::invalid(
            path,
            name,
            "name is neither a standard finalizer name nor is it fully qualified",
        ));
    }
    errs
}

/// `ValidateFinalizers` plus core's standard-name rule for each entry.
pub fn validate_finalizers(finalizers: &[String], path: &Path) -> Vec<FieldCause> {
    let mut errs = Vec::new();
    for f in finalizers {
        errs.extend(
            names::is_qualified_name(f)
                .iter()
                .map(|msg| FieldCause::invalid(path, f, msg)),
        );
    }
    let has = |n: &str| finalizers.iter().any(|f| f == n);
    if has("orphan") && has("foregroundDeletion") {
        errs.push(FieldCause::invalid(
            path,
            BadValue::GoSyntax(super::go_string_slice(Some(finalizers))),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
    for (i, f) in finalizers.iter().enumerate() {
        if !f.contains('/') && !STANDARD_FINALIZERS.contains(&f.as_str()) {
            errs.push(FieldCause::invalid(
                &path.index(i),
                f.as_str(),
                "name is neither a standard finalizer name nor is it fully qualified",
            ));
        }
    }
    errs
}

/// Spec-level finalizers (Namespace `spec.finalizers`) use the same two rules per entry.
pub fn validate_spec_finalizer(name: &str, path: &Path) -> Vec<FieldCause> {
    validate_finalizer_name(name, path)
}

fn validate_owner_references(refs: &[OwnerReference], path: &Path) -> Vec<FieldCause> {
    let mut errs = Vec::new();
    let mut first_controller: Option<String> = None;
    for r in refs {
        let version = r.api_version.rsplit('/').next().unwrap_or("");
        if version.is_empty() {
            errs.push(FieldCause::invalid(
                &path.child("apiVersion"),
                r.api_version.as_str(),
                "version must not be empty",
            ));
        }
        if r.kind.is_empty() {
            errs.push(FieldCause::invalid(
                &path.child("kind"),
                "",
                "kind must not be empty",
            ));
        }
        if r.name.is_empty() {
            errs.push(FieldCause::invalid(
                &path.child("name"),
                "",
                "name must not be empty",
            ));
        }
        if r.uid.is_empty() {
            errs.push(FieldCause::invalid(
                &path.child("uid"),
                "",
                "uid must not be empty",
            ));
        }
        if r.api_version == "v1" && r.kind == "Event" {
            errs.push(FieldCause::invalid(
                path,
                BadValue::GoSyntax(format!(
                    "v1.OwnerReference{{APIVersion:{}, Kind:{}, Name:{}, UID:{}}}",
                    go_quote(&r.api_version),
                    go_quote(&r.kind),
                    go_quote(&r.name),
                    go_quote(&r.uid)
                )),
                "/v1, Kind=Event is disallowed from being an owner",
            ));
        }
        if r.controller == Some(true) {
            let current = format!("{}/{}", r.kind, r.name);
            match &first_controller {
                Some(first) => errs.push(FieldCause::invalid(
                    path,
                    BadValue::Omit,
                    &format!(
                        "Only one reference can have Controller set to true. Found \"true\" in references for {first} and {current}"
                    ),
                )),
                None => first_controller = Some(current),
            }
        }
    }
    errs
}

/// Whether a kind's objects live in a namespace; decides the `metadata.namespace` rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The object must name a namespace.
    Namespaced,
    /// The object must not name a namespace.
    Cluster,
}

/// `ValidateObjectMeta`: checks `metadata` of an object being created.
///
/// An empty name passes when `generateName` is set (and valid as a prefix): the
/// caller must append the random suffix, as kube-apiserver does, before storing.
pub fn validate_object_meta(
    meta: &ObjectMeta,
    scope: Scope,
    name_fn: NameFn,
    path: &Path,
) -> Vec<FieldCause> {
    let mut errs = Vec::new();
    let generate_name = opt_str(&meta.generate_name);
    if !generate_name.is_empty() {
        for msg in name_fn(generate_name, true) {
            errs.push(FieldCause::invalid(
                &path.child("generateName"),
                generate_name,
                &msg,
            ));
        }
    }
    let name = opt_str(&meta.name);
    if name.is_empty() {
        // kube-apiserver fills the name from generateName before validating;
        // the caller does that (it needs randomness), so only a missing pair fails.
        if generate_name.is_empty() {
            errs.push(FieldCause::required(
                &path.child("name"),
                "name or generateName is required",
            ));
        }
    } else {
        for msg in name_fn(name, false) {
            errs.push(FieldCause::invalid(&path.child("name"), name, &msg));
        }
    }
    let namespace = opt_str(&meta.namespace);
    match scope {
        Scope::Namespaced => {
            if namespace.is_empty() {
                errs.push(FieldCause::required(&path.child("namespace"), ""));
            } else {
                for msg in names::name_is_dns_label(namespace, false) {
                    errs.push(FieldCause::invalid(
                        &path.child("namespace"),
                        namespace,
                        &msg,
                    ));
                }
            }
        }
        Scope::Cluster => {
            if !namespace.is_empty() {
                errs.push(FieldCause::forbidden(
                    &path.child("namespace"),
                    "not allowed on this type",
                ));
            }
        }
    }
    errs.extend(validate_nonnegative(
        meta.generation.unwrap_or(0),
        &path.child("generation"),
    ));
    errs.extend(validate_labels(meta.labels.as_ref(), &path.child("labels")));
    errs.extend(validate_annotations(
        meta.annotations.as_ref(),
        &path.child("annotations"),
    ));
    errs.extend(validate_owner_references(
        opt_vec(&meta.owner_references),
        &path.child("ownerReferences"),
    ));
    errs.extend(validate_finalizers(
        opt_vec(&meta.finalizers),
        &path.child("finalizers"),
    ));
    errs
}

/// `ValidateObjectMetaUpdate`: what may change in `metadata` on update.
///
/// `metadata.resourceVersion` must be set, as the generic registry requires
/// for conditional updates; for unconditional updates copy the stored
/// resourceVersion into `new` before validating, as kube-apiserver does.
pub fn validate_object_meta_update(
    new: &ObjectMeta,
    old: &ObjectMeta,
    path: &Path,
) -> Vec<FieldCause> {
    let mut errs = Vec::new();
    if old.deletion_timestamp.is_some() {
        let old_f = opt_vec(&old.finalizers);
        let mut extra: Vec<String> = opt_vec(&new.finalizers)
            .iter()
            .filter(|f| !old_f.contains(f))
            .cloned()
            .collect();
        extra.sort();
        extra.dedup();
        if !extra.is_empty() {
            errs.push(FieldCause::forbidden(
                &path.child("finalizers"),
                &format!(
                    "no new finalizers can be added if the object is being deleted, found new finalizers {}",
                    super::go_string_slice(Some(&extra))
                ),
            ));
        }
    }
    let rv = opt_str(&new.resource_version);
    if rv.is_empty() {
        errs.push(FieldCause::invalid(
            &path.child("resourceVersion"),
            rv,
            "must be specified for an update",
        ));
    }
    let (new_gen, old_gen) = (new.generation.unwrap_or(0), old.generation.unwrap_or(0));
    if new_gen < old_gen {
        errs.push(FieldCause::invalid(
            &path.child("generation"),
            new_gen,
            "must not be decremented",
        ));
    }
    errs.extend(validate_immutable_str(
        opt_str(&new.name),
        opt_str(&old.name),
        &path.child("name"),
    ));
    errs.extend(validate_immutable_str(
        opt_str(&new.namespace),
        opt_str(&old.namespace),
        &path.child("namespace"),
    ));
    errs.extend(validate_immutable_str(
        opt_str(&new.uid),
        opt_str(&old.uid),
        &path.child("uid"),
    ));
    errs.extend(validate_immutable(
        &new.creation_timestamp,
        &old.creation_timestamp,
        || go_time(new.creation_timestamp.as_ref()),
        &path.child("creationTimestamp"),
    ));
    errs.extend(validate_immutable(
        &new.deletion_timestamp,
        &old.deletion_timestamp,
        || go_time(new.deletion_timestamp.as_ref()),
        &path.child("deletionTimestamp"),
    ));
    errs.extend(validate_immutable(
        &new.deletion_grace_period_seconds,
        &old.deletion_grace_period_seconds,
        || BadValue::from(new.deletion_grace_period_seconds),
        &path.child("deletionGracePeriodSeconds"),
    ));
    errs.extend(validate_labels(new.labels.as_ref(), &path.child("labels")));
    errs.extend(validate_annotations(
        new.annotations.as_ref(),
        &path.child("annotations"),
    ));
    errs.extend(validate_owner_references(
        opt_vec(&new.owner_references),
        &path.child("ownerReferences"),
    ));
    for (i, f) in opt_vec(&new.finalizers).iter().enumerate() {
        if !f.contains('/') && !STANDARD_FINALIZERS.contains(&f.as_str()) {
            errs.push(FieldCause::invalid(
                &path.child("finalizers").index(i),
                f.as_str(),
                "name is neither a standard finalizer name nor is it fully qualified",
            ));
        }
    }
    errs
}

/// Creates validate the whole `metadata`; updates validate what may change.
pub fn validate_meta(
    new: &ObjectMeta,
    old: Option<&ObjectMeta>,
    scope: Scope,
    name_fn: NameFn,
) -> Vec<FieldCause> {
    let path = Path::new("metadata");
    match old {
        None => validate_object_meta(new, scope, name_fn, &path),
        Some(old) => validate_object_meta_update(new, old, &path),
    }
}

/// `ValidateLabelSelectorRequirement` (strict: label values must be valid).
pub fn validate_label_selector_requirement(
    r: &LabelSelectorRequirement,
    path: &Path,
) -> Vec<FieldCause> {
    let mut errs = Vec::new();
    let values = opt_vec(&r.values);
    match r.operator.as_str() {
        "In" | "NotIn" => {
            if values.is_empty() {
                errs.push(FieldCause::required(
                    &path.child("values"),
                    "must be specified when `operator` is 'In' or 'NotIn'",
                ));
            }
        }
        "Exists" | "DoesNotExist" => {
            if !values.is_empty() {
                errs.push(FieldCause::forbidden(
                    &path.child("values"),
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                ));
            }
        }
        other => errs.push(FieldCause::invalid(
            &path.child("operator"),
            other,
            "not a valid selector operator",
        )),
    }
    errs.extend(validate_label_name(&r.key, &path.child("key")));
    for (i, v) in values.iter().enumerate() {
        for msg in names::is_valid_label_value(v) {
            errs.push(FieldCause::invalid(&path.child("values").index(i), v, &msg));
        }
    }
    errs
}

/// `ValidateLabelSelector`.
pub fn validate_label_selector(sel: Option<&LabelSelector>, path: &Path) -> Vec<FieldCause> {
    let Some(sel) = sel else {
        return Vec::new();
    };
    let mut errs = validate_labels(sel.match_labels.as_ref(), &path.child("matchLabels"));
    for (i, r) in opt_vec(&sel.match_expressions).iter().enumerate() {
        errs.extend(validate_label_selector_requirement(
            r,
            &path.child("matchExpressions").index(i),
        ));
    }
    errs
}

/// A label selector converted the way `metav1.LabelSelectorAsSelector` does it.
#[derive(Debug, Clone, PartialEq)]
pub enum Selector {
    /// A nil selector: matches nothing.
    Nothing,
    /// An empty selector: matches everything.
    Everything,
    /// Requirements that must all hold.
    Requirements(Vec<LabelSelectorRequirement>),
}

impl Selector {
    /// Whether the selector selects nothing-or-everything without requirements (Go's `Empty()`).
    pub fn is_empty(&self) -> bool {
        matches!(self, Self::Everything)
    }

    /// Whether `labels` satisfy the selector.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match self {
            Self::Nothing => false,
            Self::Everything => true,
            Self::Requirements(reqs) => reqs.iter().all(|r| {
                let values = opt_vec(&r.values);
                let got = labels.get(&r.key);
                match r.operator.as_str() {
                    "In" => got.is_some_and(|v| values.contains(v)),
                    "NotIn" => got.is_none_or(|v| !values.contains(v)),
                    "Exists" => got.is_some(),
                    "DoesNotExist" => got.is_none(),
                    _ => false,
                }
            }),
        }
    }
}

/// `LabelSelectorAsSelector`: `Err(())` when the selector cannot be converted.
#[allow(clippy::result_unit_err)]
pub fn selector_from(sel: Option<&LabelSelector>) -> Result<Selector, ()> {
    let Some(sel) = sel else {
        return Ok(Selector::Nothing);
    };
    let labels = sel.match_labels.as_ref().filter(|m| !m.is_empty());
    let exprs = opt_vec(&sel.match_expressions);
    if labels.is_none() && exprs.is_empty() {
        return Ok(Selector::Everything);
    }
    let mut reqs = Vec::new();
    for (k, v) in labels.into_iter().flatten() {
        if !names::is_qualified_name(k).is_empty() || !names::is_valid_label_value(v).is_empty() {
            return Err(());
        }
        reqs.push(LabelSelectorRequirement {
            key: k.clone(),
            operator: "In".to_owned(),
            values: Some(vec![v.clone()]),
        });
    }
    for r in exprs {
        let values = opt_vec(&r.values);
        let count_ok = match r.operator.as_str() {
            "In" | "NotIn" => !values.is_empty(),
            "Exists" | "DoesNotExist" => values.is_empty(),
            _ => false,
        };
        if !count_ok
            || !names::is_qualified_name(&r.key).is_empty()
            || values
                .iter()
                .any(|v| !names::is_valid_label_value(v).is_empty())
        {
            return Err(());
        }
        reqs.push(r.clone());
    }
    Ok(Selector::Requirements(reqs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::CauseType;

    fn meta(v: serde_json::Value) -> ObjectMeta {
        serde_json::from_value(v).expect("valid ObjectMeta json")
    }

    fn check(errs: &[FieldCause], want: &[(CauseType, &str)]) {
        let got: Vec<(CauseType, &str)> =
            errs.iter().map(|e| (e.reason, e.field.as_str())).collect();
        assert_eq!(got, want, "{errs:#?}");
    }

    #[test]
    fn create_table() {
        use CauseType::*;
        let big = "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT_B);
        type Row = (serde_json::Value, Scope, Vec<(CauseType, &'static str)>);
        let cases: Vec<Row> = vec![
            (
                serde_json::json!({"name": "web", "namespace": "default"}),
                Scope::Namespaced,
                vec![],
            ),
            (
                serde_json::json!({"generateName": "web-", "namespace": "default"}),
                Scope::Namespaced,
                vec![],
            ),
            (
                serde_json::json!({"generateName": "Web-", "namespace": "default"}),
                Scope::Namespaced,
                vec![(Invalid, "metadata.generateName")],
            ),
            (
                serde_json::json!({"namespace": "default"}),
                Scope::Namespaced,
                vec![(Required, "metadata.name")],
            ),
            (
                serde_json::json!({"name": "Web", "namespace": "default"}),
                Scope::Namespaced,
                vec![(Invalid, "metadata.name")],
            ),
            (
                serde_json::json!({"name": "web"}),
                Scope::Namespaced,
                vec![(Required, "metadata.namespace")],
            ),
            (
                serde_json::json!({"name": "web", "namespace": "Bad_NS"}),
                Scope::Namespaced,
                vec![(Invalid, "metadata.namespace")],
            ),
            (
                serde_json::json!({"name": "web", "namespace": "default"}),
                Scope::Cluster,
                vec![(Forbidden, "metadata.namespace")],
            ),
            (serde_json::json!({"name": "web"}), Scope::Cluster, vec![]),
            (
                serde_json::json!({"name": "web", "namespace": "d", "labels": {"-bad": "x"}}),
                Scope::Namespaced,
                vec![(Invalid, "metadata.labels")],
            ),
            (
                serde_json::json!({"name": "web", "namespace": "d", "labels": {"app": "-x"}}),
                Scope::Namespaced,
                vec![(Invalid, "metadata.labels")],
            ),
            (
                serde_json::json!({"name": "web", "namespace": "d", "annotations": {"a/b/c": "x"}}),
                Scope::Namespaced,
                vec![(Invalid, "metadata.annotations")],
            ),
            (
                serde_json::json!({"name": "web", "namespace": "d", "annotations": {"Big": big}}),
                Scope::Namespaced,
                vec![(TooLong, "metadata.annotations")],
            ),
            (
                serde_json::json!({"name": "web", "namespace": "d", "finalizers": ["custom"]}),
                Scope::Namespaced,
                vec![(Invalid, "metadata.finalizers[0]")],
            ),
            (
                serde_json::json!({"name": "web", "namespace": "d", "finalizers": ["example.com/x", "kubernetes"]}),
                Scope::Namespaced,
                vec![],
            ),
            (
                serde_json::json!({"name": "web", "namespace": "d", "generation": -1}),
                Scope::Namespaced,
                vec![(Invalid, "metadata.generation")],
            ),
            (
                serde_json::json!({"name": "web", "namespace": "d", "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "", "uid": "u"}]}),
                Scope::Namespaced,
                vec![(Invalid, "metadata.ownerReferences.name")],
            ),
        ];
        for (m, scope, want) in cases {
            let errs = validate_object_meta(
                &meta(m.clone()),
                scope,
                names::name_is_dns_subdomain,
                &Path::new("metadata"),
            );
            check(&errs, &want);
        }
    }

    #[test]
    fn name_message_matches_apiserver() {
        let errs = validate_object_meta(
            &meta(serde_json::json!({"name": "Foo", "namespace": "d"})),
            Scope::Namespaced,
            names::name_is_dns_subdomain,
            &Path::new("metadata"),
        );
        assert_eq!(
            errs[0].message,
            "Invalid value: \"Foo\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
        );
    }

    #[test]
    fn update_table() {
        use CauseType::*;
        let old = serde_json::json!({"name": "web", "namespace": "d", "uid": "u1", "resourceVersion": "5",
            "creationTimestamp": "2024-01-02T03:04:05Z", "generation": 3});
        let with = |patch: serde_json::Value| {
            let mut v = old.clone();
            if let (Some(o), Some(p)) = (v.as_object_mut(), patch.as_object()) {
                for (k, val) in p {
                    o.insert(k.clone(), val.clone());
                }
            }
            v
        };
        let cases: Vec<(serde_json::Value, Vec<(CauseType, &str)>)> = vec![
            (old.clone(), vec![]),
            (
                with(serde_json::json!({"name": "other"})),
                vec![(Invalid, "metadata.name")],
            ),
            (
                with(serde_json::json!({"namespace": "other"})),
                vec![(Invalid, "metadata.namespace")],
            ),
            (
                with(serde_json::json!({"uid": "u2"})),
                vec![(Invalid, "metadata.uid")],
            ),
            (
                with(serde_json::json!({"creationTimestamp": "2025-01-02T03:04:05Z"})),
                vec![(Invalid, "metadata.creationTimestamp")],
            ),
            (
                with(serde_json::json!({"resourceVersion": ""})),
                vec![(Invalid, "metadata.resourceVersion")],
            ),
            (
                with(serde_json::json!({"generation": 2})),
                vec![(Invalid, "metadata.generation")],
            ),
            (with(serde_json::json!({"labels": {"ok": "yes"}})), vec![]),
        ];
        for (new, want) in cases {
            let errs =
                validate_object_meta_update(&meta(new), &meta(old.clone()), &Path::new("metadata"));
            check(&errs, &want);
        }
        let errs = validate_object_meta_update(
            &meta(with(
                serde_json::json!({"creationTimestamp": "2025-01-02T03:04:05Z"}),
            )),
            &meta(old.clone()),
            &Path::new("metadata"),
        );
        assert_eq!(
            errs[0].message,
            "Invalid value: 2025-01-02 03:04:05 +0000 UTC: field is immutable"
        );
    }

    #[test]
    fn selectors_convert_and_match() {
        let sel: LabelSelector = serde_json::from_value(serde_json::json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]
        }))
        .expect("selector json");
        let s = selector_from(Some(&sel)).expect("convertible");
        let labels = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        assert!(s.matches(&labels(&[("app", "web")])));
        assert!(s.matches(&labels(&[("app", "web"), ("tier", "fe")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("tier", "db")])));
        assert!(!s.matches(&labels(&[("app", "api")])));
        assert_eq!(selector_from(None), Ok(Selector::Nothing));
        assert_eq!(
            selector_from(Some(&LabelSelector::default())),
            Ok(Selector::Everything)
        );
        let bad: LabelSelector = serde_json::from_value(serde_json::json!({
            "matchExpressions": [{"key": "a", "operator": "Foo"}]
        }))
        .expect("selector json");
        assert_eq!(selector_from(Some(&bad)), Err(()));
        check(
            &validate_label_selector(Some(&bad), &Path::new("spec").child("selector")),
            &[(
                CauseType::Invalid,
                "spec.selector.matchExpressions[0].operator",
            )],
        );
    }
}
