//! rbac.authorization.k8s.io/v1 Role, ClusterRole, RoleBinding and
//! ClusterRoleBinding.

use k8s_pb::api::rbac::v1::{
    AggregationRule, ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef,
    Subject,
};

use super::convert::{Conv, Obj, Object};
use super::meta::{label_selector, object_meta};

pub(super) fn role(mut m: Role) -> Conv<Object> {
    Obj::new()
        .msg("metadata", &mut m.metadata, object_meta)?
        .msgs("rules", &mut m.rules, policy_rule)?
        .end(&m)
}

pub(super) fn cluster_role(mut m: ClusterRole) -> Conv<Object> {
    Obj::new()
        .msg("metadata", &mut m.metadata, object_meta)?
        .msgs("rules", &mut m.rules, policy_rule)?
        .msg("aggregationRule", &mut m.aggregation_rule, aggregation_rule)?
        .end(&m)
}

pub(super) fn role_binding(mut m: RoleBinding) -> Conv<Object> {
    Obj::new()
        .msg("metadata", &mut m.metadata, object_meta)?
        .msgs("subjects", &mut m.subjects, subject)?
        .msg("roleRef", &mut m.role_ref, role_ref)?
        .end(&m)
}

pub(super) fn cluster_role_binding(mut m: ClusterRoleBinding) -> Conv<Object> {
    Obj::new()
        .msg("metadata", &mut m.metadata, object_meta)?
        .msgs("subjects", &mut m.subjects, subject)?
        .msg("roleRef", &mut m.role_ref, role_ref)?
        .end(&m)
}

fn policy_rule(mut m: PolicyRule) -> Conv<Object> {
    Obj::new()
        .list("verbs", &mut m.verbs)
        .list("apiGroups", &mut m.api_groups)
        .list("resources", &mut m.resources)
        .list("resourceNames", &mut m.resource_names)
        .list("nonResourceURLs", &mut m.non_resource_ur_ls)
        .end(&m)
}

fn aggregation_rule(mut m: AggregationRule) -> Conv<Object> {
    Obj::new()
        .msgs(
            "clusterRoleSelectors",
            &mut m.cluster_role_selectors,
            label_selector,
        )?
        .end(&m)
}

fn subject(mut m: Subject) -> Conv<Object> {
    Obj::new()
        .opt("kind", &mut m.kind)
        .nz("apiGroup", &mut m.api_group)
        .opt("name", &mut m.name)
        .nz("namespace", &mut m.namespace)
        .end(&m)
}

fn role_ref(mut m: RoleRef) -> Conv<Object> {
    Obj::new()
        .opt("apiGroup", &mut m.api_group)
        .opt("kind", &mut m.kind)
        .opt("name", &mut m.name)
        .end(&m)
}
