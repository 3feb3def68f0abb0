//! Validation of apps/v1 Deployments and ReplicaSets (`pkg/apis/apps/validation`
//! plus the selector-immutability rule of their registry strategies).
//!
//! k8s-openapi cannot tell an absent `spec.selector` from `{}`, so a selector
//! with neither `matchLabels` nor `matchExpressions` is treated as absent, the
//! common case (kube-apiserver then reports it as required).

use k8s_openapi::api::apps::v1::{Deployment, DeploymentStrategy, ReplicaSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::meta::{self, FIELD_IMMUTABLE, Scope, Selector};
use super::names;
use super::pod::validate_pod_template_spec;
use super::{
    BadValue, FieldCause, Path, go_int_or_string, go_label_selector, go_quote, go_string_map,
    opt_vec,
};

/// `spec.selector` as Go would see it: `None` when the field was absent.
fn selector_of(sel: &LabelSelector) -> Option<&LabelSelector> {
    if sel.match_labels.is_none() && sel.match_expressions.is_none() {
        None
    } else {
        Some(sel)
    }
}

fn selector_value(sel: Option<&LabelSelector>) -> BadValue {
    match sel {
        Some(s) => BadValue::GoSyntax(go_label_selector(s)),
        None => BadValue::Null,
    }
}

/// Selector checks shared by Deployments and ReplicaSets, then the template against it.
fn validate_selector_and_template(
    selector: Option<&LabelSelector>,
    template: &PodTemplateSpec,
    spec_path: &Path,
) -> Vec<FieldCause> {
    let mut errs = Vec::new();
    let sel_path = spec_path.child("selector");
    match selector {
        None => errs.push(FieldCause::required(&sel_path, "")),
        Some(sel) => {
            errs.extend(meta::validate_label_selector(Some(sel), &sel_path));
            let count = sel.match_labels.as_ref().map_or(0, |m| m.len())
                + opt_vec(&sel.match_expressions).len();
            if count == 0 {
                // The Go source shares this text between Deployments and ReplicaSets.
                errs.push(FieldCause::invalid(
                    &sel_path,
                    selector_value(Some(sel)),
                    "empty selector is invalid for deployment",
                ));
            }
        }
    }
    match meta::selector_from(selector) {
        Err(()) => errs.push(FieldCause::invalid(
            &sel_path,
            selector_value(selector),
            "invalid label selector",
        )),
        Ok(converted) => errs.extend(validate_template_for_replica_set(
            template,
            &converted,
            &spec_path.child("template"),
        )),
    }
    errs
}

/// `ValidatePodTemplateSpecForReplicaSet`.
fn validate_template_for_replica_set(
    template: &PodTemplateSpec,
    selector: &Selector,
    path: &Path,
) -> Vec<FieldCause> {
    let mut errs = Vec::new();
    let labels = template.metadata.as_ref().and_then(|m| m.labels.as_ref());
    if !selector.is_empty() && !selector.matches(labels.unwrap_or(&Default::default())) {
        errs.push(FieldCause::invalid(
            &path.child("metadata").child("labels"),
            BadValue::GoSyntax(go_string_map(labels)),
            "`selector` does not match template `labels`",
        ));
    }
    errs.extend(validate_pod_template_spec(template, path));
    let spec = template.spec.clone().unwrap_or_default();
    let restart = spec.restart_policy.as_deref().unwrap_or("");
    if restart != "Always" {
        errs.push(FieldCause::not_supported(
            &path.child("spec").child("restartPolicy"),
            restart,
            &["Always"],
        ));
    }
    if spec.active_deadline_seconds.is_some() {
        errs.push(FieldCause::forbidden(
            &path.child("spec").child("activeDeadlineSeconds"),
            "activeDeadlineSeconds in ReplicaSet is not Supported",
        ));
    }
    errs
}

/// The number an IntOrString stands for, `%` stripped (Go's `getIntOrPercentValue`).
fn int_or_percent_value(v: Option<&IntOrString>) -> i64 {
    match v {
        None => 0,
        Some(IntOrString::Int(i)) => i64::from(*i),
        Some(IntOrString::String(s)) => match s.strip_suffix('%') {
            Some(p) if names::is_valid_percent(s).is_empty() => p.parse().unwrap_or(0),
            _ => s.parse().unwrap_or(0),
        },
    }
}

fn validate_positive_int_or_percent(v: Option<&IntOrString>, path: &Path) -> Vec<FieldCause> {
    match v {
        Some(IntOrString::String(s)) => names::is_valid_percent(s)
            .iter()
            .map(|msg| FieldCause::invalid(path, BadValue::GoSyntax(go_int_or_string(v)), msg))
            .collect(),
        Some(IntOrString::Int(i)) => meta::validate_nonnegative(i64::from(*i), path),
        None => Vec::new(),
    }
}

fn is_over_100_percent(v: Option<&IntOrString>) -> bool {
    matches!(v, Some(IntOrString::String(s)) if names::is_valid_percent(s).is_empty() && int_or_percent_value(v) > 100)
}

fn go_strategy(s: &DeploymentStrategy) -> String {
    let ru = if s.rolling_update.is_some() {
        "(*apps.RollingUpdateDeployment)(0xc000000000)"
    } else {
        "(*apps.RollingUpdateDeployment)(nil)"
    };
    format!(
        "apps.DeploymentStrategy{{Type:{}, RollingUpdate:{ru}}}",
        go_quote(s.type_.as_deref().unwrap_or(""))
    )
}

fn validate_strategy(strategy: &DeploymentStrategy, path: &Path) -> Vec<FieldCause> {
    let mut errs = Vec::new();
    match strategy.type_.as_deref().unwrap_or("") {
        "Recreate" => {
            if strategy.rolling_update.is_some() {
                errs.push(FieldCause::forbidden(
                    &path.child("rollingUpdate"),
                    "may not be specified when strategy `type` is 'Recreate'",
                ));
            }
        }
        "RollingUpdate" => match &strategy.rolling_update {
            None => errs.push(FieldCause::required(
                &path.child("rollingUpdate"),
                "this should be defaulted and never be nil",
            )),
            Some(ru) => {
                let p = path.child("rollingUpdate");
                let (unavailable, surge) = (ru.max_unavailable.as_ref(), ru.max_surge.as_ref());
                errs.extend(validate_positive_int_or_percent(
                    unavailable,
                    &p.child("maxUnavailable"),
                ));
                errs.extend(validate_positive_int_or_percent(
                    surge,
                    &p.child("maxSurge"),
                ));
                if int_or_percent_value(unavailable) == 0 && int_or_percent_value(surge) == 0 {
                    errs.push(FieldCause::invalid(
                        &p.child("maxUnavailable"),
                        BadValue::GoSyntax(go_int_or_string(unavailable)),
                        "may not be 0 when `maxSurge` is 0",
                    ));
                }
                if is_over_100_percent(unavailable) {
                    errs.push(FieldCause::invalid(
                        &p.child("maxUnavailable"),
                        BadValue::GoSyntax(go_int_or_string(unavailable)),
                        "must not be greater than 100%",
                    ));
                }
            }
        },
        _ => errs.push(FieldCause::not_supported(
            path,
            BadValue::GoSyntax(go_strategy(strategy)),
            &["Recreate", "RollingUpdate"],
        )),
    }
    errs
}

fn validate_selector_unchanged(
    new: Option<&LabelSelector>,
    old: Option<&LabelSelector>,
) -> Vec<FieldCause> {
    let norm = |s: Option<&LabelSelector>| {
        s.map(|s| {
            (
                s.match_labels.clone().unwrap_or_default(),
                s.match_expressions.clone().unwrap_or_default(),
            )
        })
    };
    if norm(new) == norm(old) {
        Vec::new()
    } else {
        vec![FieldCause::invalid(
            &Path::new("spec").child("selector"),
            selector_value(new),
            FIELD_IMMUTABLE,
        )]
    }
}

/// Validates a Deployment; on update the selector is immutable (apps/v1).
pub fn validate_deployment(d: &Deployment, old: Option<&Deployment>) -> Vec<FieldCause> {
    let mut errs = match old {
        None => meta::validate_meta(
            &d.metadata,
            None,
            Scope::Namespaced,
            names::name_is_dns_subdomain,
        ),
        Some(o) => {
            meta::validate_object_meta_update(&d.metadata, &o.metadata, &Path::new("metadata"))
        }
    };
    let spec = d.spec.clone().unwrap_or_default();
    let p = Path::new("spec");
    errs.extend(meta::validate_nonnegative(
        i64::from(spec.replicas.unwrap_or(0)),
        &p.child("replicas"),
    ));
    let selector = selector_of(&spec.selector);
    errs.extend(validate_selector_and_template(selector, &spec.template, &p));
    errs.extend(validate_strategy(
        &spec.strategy.clone().unwrap_or_default(),
        &p.child("strategy"),
    ));
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    errs.extend(meta::validate_nonnegative(
        i64::from(min_ready),
        &p.child("minReadySeconds"),
    ));
    if let Some(limit) = spec.revision_history_limit {
        errs.extend(meta::validate_nonnegative(
            i64::from(limit),
            &p.child("revisionHistoryLimit"),
        ));
    }
    if let Some(deadline) = spec.progress_deadline_seconds {
        errs.extend(meta::validate_nonnegative(
            i64::from(deadline),
            &p.child("progressDeadlineSeconds"),
        ));
        if deadline <= min_ready {
            errs.push(FieldCause::invalid(
                &p.child("progressDeadlineSeconds"),
                deadline,
                "must be greater than minReadySeconds",
            ));
        }
    }
    if let Some(old) = old {
        let old_spec = old.spec.clone().unwrap_or_default();
        errs.extend(validate_selector_unchanged(
            selector,
            selector_of(&old_spec.selector),
        ));
    }
    errs
}

/// Validates a ReplicaSet; on update the selector is immutable (apps/v1).
pub fn validate_replica_set(rs: &ReplicaSet, old: Option<&ReplicaSet>) -> Vec<FieldCause> {
    let mut errs = match old {
        None => meta::validate_meta(
            &rs.metadata,
            None,
            Scope::Namespaced,
            names::name_is_dns_subdomain,
        ),
        Some(o) => {
            meta::validate_object_meta_update(&rs.metadata, &o.metadata, &Path::new("metadata"))
        }
    };
    let spec = rs.spec.clone().unwrap_or_default();
    let p = Path::new("spec");
    errs.extend(meta::validate_nonnegative(
        i64::from(spec.replicas.unwrap_or(0)),
        &p.child("replicas"),
    ));
    errs.extend(meta::validate_nonnegative(
        i64::from(spec.min_ready_seconds.unwrap_or(0)),
        &p.child("minReadySeconds"),
    ));
    let selector = selector_of(&spec.selector);
    errs.extend(validate_selector_and_template(
        selector,
        &spec.template.clone().unwrap_or_default(),
        &p,
    ));
    if let Some(old) = old {
        let old_spec = old.spec.clone().unwrap_or_default();
        errs.extend(validate_selector_unchanged(
            selector,
            selector_of(&old_spec.selector),
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use crate::validation::CauseType::*;
    use crate::validation::testutil::{Case, run, set, want};
    use serde_json::{Value, json};

    fn deploy() -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}})
    }

    #[test]
    fn deployment_rules() {
        let cases: Vec<Case> = vec![
            ("valid", deploy(), vec![]),
            (
                "selector missing",
                set(deploy(), "/spec/selector", json!({})),
                vec![
                    (Required, "spec.selector"),
                    (Invalid, "spec.template.metadata.labels"),
                ],
            ),
            (
                "empty matchLabels",
                set(deploy(), "/spec/selector", json!({"matchLabels": {}})),
                vec![(Invalid, "spec.selector")],
            ),
            (
                "mismatch",
                set(
                    deploy(),
                    "/spec/template/metadata/labels",
                    json!({"app": "api"}),
                ),
                vec![(Invalid, "spec.template.metadata.labels")],
            ),
            (
                "negative replicas",
                set(deploy(), "/spec/replicas", json!(-1)),
                vec![(Invalid, "spec.replicas")],
            ),
            (
                "both zero",
                set(
                    deploy(),
                    "/spec/strategy",
                    json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}),
                ),
                vec![(Invalid, "spec.strategy.rollingUpdate.maxUnavailable")],
            ),
            (
                "bad percent",
                set(
                    deploy(),
                    "/spec/strategy",
                    json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "x%", "maxUnavailable": 1}}),
                ),
                vec![(Invalid, "spec.strategy.rollingUpdate.maxSurge")],
            ),
            (
                "over 100%",
                set(
                    deploy(),
                    "/spec/strategy",
                    json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "150%"}}),
                ),
                vec![(Invalid, "spec.strategy.rollingUpdate.maxUnavailable")],
            ),
            (
                "recreate with rollingUpdate",
                set(
                    deploy(),
                    "/spec/strategy",
                    json!({"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}),
                ),
                vec![(Forbidden, "spec.strategy.rollingUpdate")],
            ),
            (
                "strategy type",
                set(deploy(), "/spec/strategy", json!({"type": "BlueGreen"})),
                vec![(NotSupported, "spec.strategy")],
            ),
            (
                "deadline equal to minReady",
                set(
                    set(deploy(), "/spec/minReadySeconds", json!(600)),
                    "/spec/progressDeadlineSeconds",
                    json!(600),
                ),
                vec![(Invalid, "spec.progressDeadlineSeconds")],
            ),
            (
                "deadline not above minReady",
                set(
                    set(deploy(), "/spec/minReadySeconds", json!(700)),
                    "/spec/progressDeadlineSeconds",
                    json!(600),
                ),
                vec![(Invalid, "spec.progressDeadlineSeconds")],
            ),
            (
                "restart policy",
                set(
                    deploy(),
                    "/spec/template/spec/restartPolicy",
                    json!("Never"),
                ),
                vec![(NotSupported, "spec.template.spec.restartPolicy")],
            ),
            (
                "template container name",
                set(
                    deploy(),
                    "/spec/template/spec/containers/0/name",
                    json!("Web"),
                ),
                vec![(Invalid, "spec.template.spec.containers[0].name")],
            ),
            (
                "name",
                set(deploy(), "/metadata/name", json!("Web")),
                vec![(Invalid, "metadata.name")],
            ),
        ];
        for (name, obj, w) in cases {
            assert_eq!(run("Deployment", obj, None), want(&w), "case {name}");
        }
        let mut d = deploy();
        crate::defaults::apply_defaults("Deployment", &mut d);
        let mut bad = set(
            d.clone(),
            "/spec/template/metadata/labels",
            json!({"app": "api"}),
        );
        crate::defaults::apply_defaults("Deployment", &mut bad);
        let errs = crate::validation::validate("Deployment", &bad, None).expect("decodes");
        assert_eq!(
            errs[0].message,
            "Invalid value: map[string]string{\"app\":\"api\"}: `selector` does not match template `labels`"
        );
        let zero = set(
            d,
            "/spec/strategy/rollingUpdate",
            json!({"maxSurge": 0, "maxUnavailable": 0}),
        );
        let errs = crate::validation::validate("Deployment", &zero, None).expect("decodes");
        assert_eq!(
            errs[0].message,
            "Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}: may not be 0 when `maxSurge` is 0"
        );
    }

    #[test]
    fn deployment_update_rules() {
        let old = set(deploy(), "/metadata/resourceVersion", json!("4"));
        assert_eq!(
            run(
                "Deployment",
                set(old.clone(), "/spec/replicas", json!(5)),
                Some(old.clone())
            ),
            vec![]
        );
        let moved = set(
            set(
                old.clone(),
                "/spec/selector/matchLabels",
                json!({"app": "web", "v": "2"}),
            ),
            "/spec/template/metadata/labels",
            json!({"app": "web", "v": "2"}),
        );
        assert_eq!(
            run("Deployment", moved, Some(old)),
            want(&[(Invalid, "spec.selector")])
        );
    }

    #[test]
    fn replica_set_rules() {
        let rs = json!({"metadata": {"name": "web-1", "namespace": "d"},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1"}]}}}});
        assert_eq!(run("ReplicaSet", rs.clone(), None), vec![]);
        assert_eq!(
            run(
                "ReplicaSet",
                set(rs.clone(), "/spec/replicas", json!(-2)),
                None
            ),
            want(&[(Invalid, "spec.replicas")])
        );
        assert_eq!(
            run(
                "ReplicaSet",
                set(
                    rs.clone(),
                    "/spec/template/metadata/labels",
                    json!({"app": "x"})
                ),
                None
            ),
            want(&[(Invalid, "spec.template.metadata.labels")])
        );
        let old = set(rs.clone(), "/metadata/resourceVersion", json!("1"));
        let moved = set(
            set(old.clone(), "/spec/selector/matchLabels/app", json!("x")),
            "/spec/template/metadata/labels/app",
            json!("x"),
        );
        assert_eq!(
            run("ReplicaSet", moved, Some(old)),
            want(&[(Invalid, "spec.selector")])
        );
    }
}
