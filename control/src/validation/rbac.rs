//! Validation of rbac.authorization.k8s.io/v1 Roles, ClusterRoles and their
//! bindings (`pkg/apis/rbac/validation`).
//!
//! RBAC names only need to be safe URL path segments. This does not check that
//! a referenced role exists or that the caller may grant it (escalation checks
//! are an authorizer's job, not validation's).

use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};

use super::meta::{self, Scope};
use super::names;
use super::{BadValue, FieldCause, Path, go_quote, go_string_slice, opt_str, opt_vec};

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

fn validate_policy_rule(rule: &PolicyRule, namespaced: bool, path: &Path) -> Vec<FieldCause> {
    let mut errs = Vec::new();
    if rule.verbs.is_empty() {
        errs.push(FieldCause::required(
            &path.child("verbs"),
            "verbs must contain at least one value",
        ));
    }
    let urls = opt_vec(&rule.non_resource_urls);
    if !urls.is_empty() {
        let value = || BadValue::GoSyntax(go_string_slice(Some(urls)));
        if namespaced {
            errs.push(FieldCause::invalid(
                &path.child("nonResourceURLs"),
                value(),
                "namespaced rules cannot apply to non-resource URLs",
            ));
        }
        if !opt_vec(&rule.api_groups).is_empty()
            || !opt_vec(&rule.resources).is_empty()
            || !opt_vec(&rule.resource_names).is_empty()
        {
            errs.push(FieldCause::invalid(
                &path.child("nonResourceURLs"),
                value(),
                "rules cannot apply to both regular resources and non-resource URLs",
            ));
        }
        return errs;
    }
    if opt_vec(&rule.api_groups).is_empty() {
        errs.push(FieldCause::required(
            &path.child("apiGroups"),
            "resource rules must supply at least one api group",
        ));
    }
    if opt_vec(&rule.resources).is_empty() {
        errs.push(FieldCause::required(
            &path.child("resources"),
            "resource rules must supply at least one resource",
        ));
    }
    errs
}

fn validate_rules(rules: &[PolicyRule], namespaced: bool) -> Vec<FieldCause> {
    rules
        .iter()
        .enumerate()
        .flat_map(|(i, r)| validate_policy_rule(r, namespaced, &Path::new("rules").index(i)))
        .collect()
}

/// Validates a Role: every rule needs verbs, API groups and resources.
pub fn validate_role(role: &Role, old: Option<&Role>) -> Vec<FieldCause> {
    let mut errs = meta::validate_meta(
        &role.metadata,
        None,
        Scope::Namespaced,
        names::name_is_path_segment,
    );
    errs.extend(validate_rules(opt_vec(&role.rules), true));
    if let Some(old) = old {
        errs.extend(meta::validate_object_meta_update(
            &role.metadata,
            &old.metadata,
            &Path::new("metadata"),
        ));
    }
    errs
}

/// Validates a ClusterRole, including its aggregation selectors.
pub fn validate_cluster_role(role: &ClusterRole, old: Option<&ClusterRole>) -> Vec<FieldCause> {
    let mut errs = meta::validate_meta(
        &role.metadata,
        None,
        Scope::Cluster,
        names::name_is_path_segment,
    );
    errs.extend(validate_rules(opt_vec(&role.rules), false));
    if let Some(agg) = &role.aggregation_rule {
        let p = Path::new("aggregationRule").child("clusterRoleSelectors");
        let selectors = opt_vec(&agg.cluster_role_selectors);
        if selectors.is_empty() {
            errs.push(FieldCause::required(
                &p,
                "at least one clusterRoleSelector required if aggregationRule is non-nil",
            ));
        }
        for (i, sel) in selectors.iter().enumerate() {
            errs.extend(meta::validate_label_selector(Some(sel), &p.index(i)));
        }
    }
    if let Some(old) = old {
        errs.extend(meta::validate_object_meta_update(
            &role.metadata,
            &old.metadata,
            &Path::new("metadata"),
        ));
    }
    errs
}

fn validate_role_ref(role_ref: &RoleRef, kinds: &[&str]) -> Vec<FieldCause> {
    let mut errs = Vec::new();
    let p = Path::new("roleRef");
    if role_ref.api_group != RBAC_GROUP {
        errs.push(FieldCause::not_supported(
            &p.child("apiGroup"),
            role_ref.api_group.as_str(),
            &[RBAC_GROUP],
        ));
    }
    if !kinds.contains(&role_ref.kind.as_str()) {
        errs.push(FieldCause::not_supported(
            &p.child("kind"),
            role_ref.kind.as_str(),
            kinds,
        ));
    }
    if role_ref.name.is_empty() {
        errs.push(FieldCause::required(&p.child("name"), ""));
    } else {
        for msg in names::is_valid_path_segment_name(&role_ref.name) {
            errs.push(FieldCause::invalid(
                &p.child("name"),
                role_ref.name.as_str(),
                &msg,
            ));
        }
    }
    errs
}

fn validate_subject(subject: &Subject, namespaced: bool, path: &Path) -> Vec<FieldCause> {
    let mut errs = Vec::new();
    if subject.name.is_empty() {
        errs.push(FieldCause::required(&path.child("name"), ""));
    }
    let group = opt_str(&subject.api_group);
    match subject.kind.as_str() {
        "ServiceAccount" => {
            if !subject.name.is_empty() {
                for msg in names::name_is_dns_subdomain(&subject.name, false) {
                    errs.push(FieldCause::invalid(
                        &path.child("name"),
                        subject.name.as_str(),
                        &msg,
                    ));
                }
            }
            if !group.is_empty() {
                errs.push(FieldCause::not_supported(
                    &path.child("apiGroup"),
                    group,
                    &[""],
                ));
            }
            if !namespaced && opt_str(&subject.namespace).is_empty() {
                errs.push(FieldCause::required(&path.child("namespace"), ""));
            }
        }
        "User" | "Group" => {
            if group != RBAC_GROUP {
                errs.push(FieldCause::not_supported(
                    &path.child("apiGroup"),
                    group,
                    &[RBAC_GROUP],
                ));
            }
        }
        other => errs.push(FieldCause::not_supported(
            &path.child("kind"),
            other,
            &["ServiceAccount", "User", "Group"],
        )),
    }
    errs
}

fn validate_role_ref_unchanged(new: &RoleRef, old: &RoleRef) -> Vec<FieldCause> {
    if new == old {
        return Vec::new();
    }
    vec![FieldCause::invalid(
        &Path::new("roleRef"),
        BadValue::GoSyntax(format!(
            "rbac.RoleRef{{APIGroup:{}, Kind:{}, Name:{}}}",
            go_quote(&new.api_group),
            go_quote(&new.kind),
            go_quote(&new.name)
        )),
        "cannot change roleRef",
    )]
}

/// Validates a RoleBinding; `roleRef` is required and immutable.
pub fn validate_role_binding(rb: &RoleBinding, old: Option<&RoleBinding>) -> Vec<FieldCause> {
    let mut errs = meta::validate_meta(
        &rb.metadata,
        None,
        Scope::Namespaced,
        names::name_is_path_segment,
    );
    errs.extend(validate_role_ref(&rb.role_ref, &["Role", "ClusterRole"]));
    for (i, s) in opt_vec(&rb.subjects).iter().enumerate() {
        errs.extend(validate_subject(s, true, &Path::new("subjects").index(i)));
    }
    if let Some(old) = old {
        errs.extend(meta::validate_object_meta_update(
            &rb.metadata,
            &old.metadata,
            &Path::new("metadata"),
        ));
        errs.extend(validate_role_ref_unchanged(&rb.role_ref, &old.role_ref));
    }
    errs
}

/// Validates a ClusterRoleBinding; `roleRef` must name a ClusterRole and is immutable.
pub fn validate_cluster_role_binding(
    rb: &ClusterRoleBinding,
    old: Option<&ClusterRoleBinding>,
) -> Vec<FieldCause> {
    let mut errs = meta::validate_meta(
        &rb.metadata,
        None,
        Scope::Cluster,
        names::name_is_path_segment,
    );
    errs.extend(validate_role_ref(&rb.role_ref, &["ClusterRole"]));
    for (i, s) in opt_vec(&rb.subjects).iter().enumerate() {
        errs.extend(validate_subject(s, false, &Path::new("subjects").index(i)));
    }
    if let Some(old) = old {
        errs.extend(meta::validate_object_meta_update(
            &rb.metadata,
            &old.metadata,
            &Path::new("metadata"),
        ));
        errs.extend(validate_role_ref_unchanged(&rb.role_ref, &old.role_ref));
    }
    errs
}

#[cfg(test)]
mod tests {
    use crate::validation::CauseType::{self, *};
    use crate::validation::testutil::{run, want};
    use serde_json::{Value, json};

    #[test]
    fn role_rules() {
        let role = |rules: Value| json!({"metadata": {"name": "reader", "namespace": "d"}, "rules": rules});
        let cases: Vec<(Value, Vec<(CauseType, &str)>)> = vec![
            (
                role(json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}])),
                vec![],
            ),
            (
                role(json!([{"apiGroups": [""], "resources": ["pods"], "verbs": []}])),
                vec![(Required, "rules[0].verbs")],
            ),
            (
                role(json!([{"resources": ["pods"], "verbs": ["get"]}])),
                vec![(Required, "rules[0].apiGroups")],
            ),
            (
                role(json!([{"nonResourceURLs": ["/healthz"], "verbs": ["get"]}])),
                vec![(Invalid, "rules[0].nonResourceURLs")],
            ),
        ];
        for (obj, w) in cases {
            assert_eq!(run("Role", obj, None), want(&w));
        }
        let cr = json!({"metadata": {"name": "system:reader"}, "rules": [{"nonResourceURLs": ["/healthz"], "verbs": ["get"]}]});
        assert_eq!(run("ClusterRole", cr, None), vec![]);
        let cr = json!({"metadata": {"name": "a/b"}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": []}]});
        assert_eq!(
            run("ClusterRole", cr, None),
            want(&[(Invalid, "metadata.name"), (Required, "rules[0].verbs")])
        );
    }

    #[test]
    fn binding_rules() {
        let rb = json!({"metadata": {"name": "read", "namespace": "d", "resourceVersion": "1"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
            "subjects": [{"kind": "User", "name": "alice"}, {"kind": "ServiceAccount", "name": "builder"}]});
        assert_eq!(run("RoleBinding", rb.clone(), None), vec![]);
        let mut no_ref = rb.clone();
        no_ref["roleRef"] = json!({});
        assert_eq!(
            run("RoleBinding", no_ref, None),
            want(&[(NotSupported, "roleRef.kind"), (Required, "roleRef.name")])
        );
        let mut changed = rb.clone();
        changed["roleRef"]["name"] = json!("writer");
        assert_eq!(
            run("RoleBinding", changed, Some(rb.clone())),
            want(&[(Invalid, "roleRef")])
        );
        let mut bad_subject = rb.clone();
        bad_subject["subjects"][0]["kind"] = json!("Robot");
        assert_eq!(
            run("RoleBinding", bad_subject, None),
            want(&[(NotSupported, "subjects[0].kind")])
        );
        let crb = json!({"metadata": {"name": "read"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
            "subjects": [{"kind": "ServiceAccount", "name": "builder"}]});
        assert_eq!(
            run("ClusterRoleBinding", crb, None),
            want(&[
                (NotSupported, "roleRef.kind"),
                (Required, "subjects[0].namespace")
            ])
        );
    }
}
