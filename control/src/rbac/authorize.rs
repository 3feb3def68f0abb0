//! The authorization decision: walk the grants that apply to a user and stop at the first
//! rule that allows the request, as kube's `RBACAuthorizer.Authorize`.
//!
//! Holds the decision and its reason texts. It must not resolve bindings itself (that is
//! [`Policy`]'s job) nor build the `Forbidden` response.

use k8s_openapi::api::rbac::v1::Subject;

use super::policy::{Policy, Source};
use super::rules::rule_allows;
use super::{Attributes, Decision, ResolveError, UserInfo};

/// Decides whether `user` may do what `attrs` describes under `policy`.
///
/// ClusterRoleBindings apply everywhere; RoleBindings only to resource requests in their
/// namespace. A binding whose role cannot be resolved contributes nothing and is reported
/// in the `Deny` reason, since rules are purely additive.
pub fn authorize(policy: &Policy, user: &UserInfo, attrs: &Attributes) -> Decision {
    let namespace = match attrs {
        Attributes::Resource { namespace, .. } => namespace.as_deref(),
        Attributes::NonResource { .. } => None,
    };
    let mut errors: Vec<ResolveError> = Vec::new();
    for grant in policy.grants(user, namespace) {
        match grant.rules {
            Ok(rules) => {
                if rules.iter().any(|rule| rule_allows(attrs, rule)) {
                    return Decision::Allow {
                        reason: format!("RBAC: allowed by {}", describe(&grant.source)),
                    };
                }
            }
            Err(e) => errors.push(e),
        }
    }
    Decision::Deny {
        reason: deny_reason(&errors),
    }
}

/// kube's binding describers: `ClusterRoleBinding "n" of ClusterRole "r" to Group "g"` and
/// `RoleBinding "n/ns" of Role "r" to ServiceAccount "sa/ns"` (name before namespace).
fn describe(source: &Source<'_>) -> String {
    match source {
        Source::ClusterRoleBinding { binding, subject } => format!(
            "ClusterRoleBinding {:?} of {} {:?} to {}",
            binding.metadata.name.as_deref().unwrap_or_default(),
            binding.role_ref.kind,
            binding.role_ref.name,
            describe_subject(subject, ""),
        ),
        Source::RoleBinding { binding, subject } => {
            let name = binding.metadata.name.as_deref().unwrap_or_default();
            let ns = binding.metadata.namespace.as_deref().unwrap_or_default();
            format!(
                "RoleBinding {:?} of {} {:?} to {}",
                format!("{name}/{ns}"),
                binding.role_ref.kind,
                binding.role_ref.name,
                describe_subject(subject, ns),
            )
        }
    }
}

fn describe_subject(subject: &Subject, binding_namespace: &str) -> String {
    match subject.kind.as_str() {
        "ServiceAccount" => {
            let ns = subject
                .namespace
                .as_deref()
                .filter(|ns| !ns.is_empty())
                .unwrap_or(binding_namespace);
            format!("{} {:?}", subject.kind, format!("{}/{ns}", subject.name))
        }
        _ => format!("{} {:?}", subject.kind, subject.name),
    }
}

/// `RBAC: <aggregate>` as apimachinery's error aggregate prints: one message bare, several
/// deduplicated in order inside `[a, b]`; empty when nothing failed.
fn deny_reason(errors: &[ResolveError]) -> String {
    let mut seen: Vec<String> = Vec::new();
    for message in errors.iter().map(ToString::to_string) {
        if !seen.contains(&message) {
            seen.push(message);
        }
    }
    match seen.as_slice() {
        [] => String::new(),
        [one] => format!("RBAC: {one}"),
        many => format!("RBAC: [{}]", many.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::rbac::v1::{
        AggregationRule, ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
    use proptest::prelude::*;

    use crate::rbac::bootstrap_policy;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn rule(verbs: &[&str], groups: &[&str], resources: &[&str]) -> PolicyRule {
        PolicyRule {
            verbs: strings(verbs),
            api_groups: Some(strings(groups)),
            resources: Some(strings(resources)),
            ..Default::default()
        }
    }

    fn named_rule(verbs: &[&str], resources: &[&str], names: &[&str]) -> PolicyRule {
        PolicyRule {
            resource_names: Some(strings(names)),
            ..rule(verbs, &[""], resources)
        }
    }

    fn url_rule(verbs: &[&str], urls: &[&str]) -> PolicyRule {
        PolicyRule {
            verbs: strings(verbs),
            non_resource_urls: Some(strings(urls)),
            ..Default::default()
        }
    }

    fn meta(namespace: Option<&str>, name: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.into()),
            namespace: namespace.map(Into::into),
            ..Default::default()
        }
    }

    fn role(ns: &str, name: &str, rules: Vec<PolicyRule>) -> Role {
        Role {
            metadata: meta(Some(ns), name),
            rules: Some(rules),
        }
    }

    fn cluster_role(name: &str, rules: Vec<PolicyRule>) -> ClusterRole {
        ClusterRole {
            metadata: meta(None, name),
            rules: Some(rules),
            aggregation_rule: None,
        }
    }

    fn subject(kind: &str, name: &str, ns: Option<&str>) -> Subject {
        Subject {
            kind: kind.into(),
            name: name.into(),
            namespace: ns.map(Into::into),
            api_group: (kind != "ServiceAccount").then(|| "rbac.authorization.k8s.io".into()),
        }
    }

    fn role_ref(kind: &str, name: &str) -> RoleRef {
        RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: kind.into(),
            name: name.into(),
        }
    }

    fn rb(ns: &str, name: &str, kind: &str, to: &str, subjects: Vec<Subject>) -> RoleBinding {
        RoleBinding {
            metadata: meta(Some(ns), name),
            role_ref: role_ref(kind, to),
            subjects: Some(subjects),
        }
    }

    fn crb(name: &str, kind: &str, to: &str, subjects: Vec<Subject>) -> ClusterRoleBinding {
        ClusterRoleBinding {
            metadata: meta(None, name),
            role_ref: role_ref(kind, to),
            subjects: Some(subjects),
        }
    }

    fn user(name: &str, groups: &[&str]) -> UserInfo {
        let mut groups = strings(groups);
        groups.push("system:authenticated".into());
        UserInfo {
            name: name.into(),
            groups,
        }
    }

    fn res(verb: &str, group: &str, resource: &str, ns: &str, name: &str) -> Attributes {
        let (resource, sub) = match resource.split_once('/') {
            Some((r, s)) => (r, Some(s.to_string())),
            None => (resource, None),
        };
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
        Attributes::Resource {
            verb: verb.into(),
            api_group: group.into(),
            resource: resource.into(),
            subresource: sub,
            namespace: opt(ns),
            name: opt(name),
        }
    }

    fn url(verb: &str, path: &str) -> Attributes {
        Attributes::NonResource {
            verb: verb.into(),
            path: path.into(),
        }
    }

    fn allow(reason: &str) -> Decision {
        Decision::Allow {
            reason: reason.into(),
        }
    }

    fn deny(reason: &str) -> Decision {
        Decision::Deny {
            reason: reason.into(),
        }
    }

    /// A cluster with the bootstrap policy plus a few tenants.
    fn fixture() -> Policy {
        let (mut cluster_roles, mut cluster_bindings) = bootstrap_policy();
        cluster_roles.extend([
            cluster_role(
                "pod-reader",
                vec![rule(&["get", "list", "watch"], &[""], &["pods"])],
            ),
            cluster_role(
                "scaler",
                vec![rule(&["get", "update", "patch"], &["apps"], &["*/scale"])],
            ),
            cluster_role(
                "log-reader",
                vec![
                    rule(&["get"], &[""], &["pods/log"]),
                    rule(&["get"], &[""], &["pods"]),
                ],
            ),
            cluster_role("star", vec![rule(&["*"], &["*"], &["*"])]),
            cluster_role(
                "metrics",
                vec![url_rule(&["get"], &["/metrics", "/logs/*"])],
            ),
            cluster_role("node-reader", vec![rule(&["get"], &[""], &["nodes"])]),
            ClusterRole {
                metadata: ObjectMeta {
                    name: Some("crd-viewer".into()),
                    labels: Some(
                        [(
                            "rbac.authorization.k8s.io/aggregate-to-view".to_string(),
                            "true".to_string(),
                        )]
                        .into(),
                    ),
                    ..Default::default()
                },
                rules: Some(vec![rule(&["get", "list"], &["example.com"], &["widgets"])]),
                aggregation_rule: None,
            },
            ClusterRole {
                metadata: meta(None, "monitoring"),
                rules: None,
                aggregation_rule: Some(AggregationRule {
                    cluster_role_selectors: Some(vec![LabelSelector {
                        match_labels: Some([("team".to_string(), "mon".to_string())].into()),
                        match_expressions: None,
                    }]),
                }),
            },
            ClusterRole {
                metadata: ObjectMeta {
                    name: Some("mon-urls".into()),
                    labels: Some([("team".to_string(), "mon".to_string())].into()),
                    ..Default::default()
                },
                rules: Some(vec![url_rule(&["get"], &["/metrics"])]),
                aggregation_rule: None,
            },
        ]);
        cluster_bindings.extend([
            crb(
                "ops-star",
                "ClusterRole",
                "star",
                vec![subject("Group", "ops", None)],
            ),
            crb(
                "metrics",
                "ClusterRole",
                "metrics",
                vec![subject("User", "prom", None)],
            ),
            crb(
                "monitoring",
                "ClusterRole",
                "monitoring",
                vec![subject("User", "grafana", None)],
            ),
            crb(
                "nodes",
                "ClusterRole",
                "node-reader",
                vec![
                    // No namespace in a ClusterRoleBinding: matches nobody.
                    subject("ServiceAccount", "ghost", None),
                    subject("ServiceAccount", "lister", Some("kube-system")),
                ],
            ),
            crb(
                "broken",
                "ClusterRole",
                "missing",
                vec![subject("User", "carol", None)],
            ),
            crb(
                "cluster-role-ref",
                "Role",
                "dev",
                vec![subject("User", "carol", None)],
            ),
            crb(
                "broken-again",
                "ClusterRole",
                "missing",
                vec![subject("Group", "devs", None)],
            ),
        ]);
        let roles = vec![
            role(
                "team-a",
                "dev",
                vec![rule(&["get", "list", "create"], &[""], &["configmaps"])],
            ),
            role(
                "team-a",
                "named",
                vec![named_rule(
                    &["get", "update", "list"],
                    &["secrets"],
                    &["token"],
                )],
            ),
            role(
                "team-b",
                "dev",
                vec![rule(&["delete"], &[""], &["configmaps"])],
            ),
        ];
        let role_bindings = vec![
            rb(
                "team-a",
                "alice-dev",
                "Role",
                "dev",
                vec![subject("User", "alice", None)],
            ),
            rb(
                "team-a",
                "alice-named",
                "Role",
                "named",
                vec![subject("User", "alice", None)],
            ),
            rb(
                "team-a",
                "bob-view",
                "ClusterRole",
                "view",
                vec![subject("User", "bob", None)],
            ),
            rb(
                "team-a",
                "bob-scale",
                "ClusterRole",
                "scaler",
                vec![subject("User", "bob", None)],
            ),
            rb(
                "team-a",
                "logs",
                "ClusterRole",
                "log-reader",
                vec![subject("Group", "support", None)],
            ),
            rb(
                "team-a",
                "ci",
                "ClusterRole",
                "edit",
                vec![
                    subject("User", "nobody", None),
                    subject("ServiceAccount", "ci", None),
                    subject("ServiceAccount", "deployer", Some("tools")),
                ],
            ),
            rb(
                "team-a",
                "dangling",
                "Role",
                "nope",
                vec![subject("User", "dave", None)],
            ),
            rb(
                "team-a",
                "weird",
                "Thing",
                "x",
                vec![subject("User", "dave", None)],
            ),
            rb(
                "team-a",
                "dave-view",
                "ClusterRole",
                "view",
                vec![subject("User", "dave", None)],
            ),
            rb(
                "team-b",
                "other-ns-role",
                "Role",
                "named",
                vec![subject("User", "erin", None)],
            ),
        ];
        Policy::new(roles, cluster_roles, role_bindings, cluster_bindings)
    }

    #[test]
    fn decisions() {
        let policy = fixture();
        let ci = "system:serviceaccount:team-a:ci";
        let deployer = "system:serviceaccount:tools:deployer";
        let lister = "system:serviceaccount:kube-system:lister";
        let cases: Vec<(&str, UserInfo, Attributes, Decision)> = vec![
            // cluster-admin via system:masters.
            (
                "masters may do anything",
                user("root", &["system:masters"]),
                res("delete", "", "namespaces", "", "kube-system"),
                allow(
                    r#"RBAC: allowed by ClusterRoleBinding "cluster-admin" of ClusterRole "cluster-admin" to Group "system:masters""#,
                ),
            ),
            (
                "masters get any url",
                user("root", &["system:masters"]),
                url("post", "/anything"),
                allow(
                    r#"RBAC: allowed by ClusterRoleBinding "cluster-admin" of ClusterRole "cluster-admin" to Group "system:masters""#,
                ),
            ),
            // RoleBinding to a Role: only in its namespace.
            (
                "role in its namespace",
                user("alice", &[]),
                res("create", "", "configmaps", "team-a", ""),
                allow(
                    r#"RBAC: allowed by RoleBinding "alice-dev/team-a" of Role "dev" to User "alice""#,
                ),
            ),
            (
                "role not in another namespace",
                user("alice", &[]),
                res("create", "", "configmaps", "team-b", ""),
                deny(""),
            ),
            (
                "role not cluster-wide",
                user("alice", &[]),
                res("list", "", "configmaps", "", ""),
                deny(""),
            ),
            (
                "same-named role elsewhere does not leak",
                user("alice", &[]),
                res("delete", "", "configmaps", "team-a", "c"),
                deny(""),
            ),
            // RoleBinding to a ClusterRole is namespace-scoped.
            (
                "clusterrole via rolebinding in namespace",
                user("bob", &[]),
                res("list", "apps", "deployments", "team-a", ""),
                allow(
                    r#"RBAC: allowed by RoleBinding "bob-view/team-a" of ClusterRole "view" to User "bob""#,
                ),
            ),
            (
                "clusterrole via rolebinding not elsewhere",
                user("bob", &[]),
                res("list", "apps", "deployments", "team-b", ""),
                deny(""),
            ),
            (
                "clusterrole via rolebinding not cluster-wide",
                user("bob", &[]),
                res("list", "apps", "deployments", "", ""),
                deny(""),
            ),
            (
                "view reads this namespace object",
                user("bob", &[]),
                res("get", "", "namespaces", "team-a", "team-a"),
                allow(
                    r#"RBAC: allowed by RoleBinding "bob-view/team-a" of ClusterRole "view" to User "bob""#,
                ),
            ),
            (
                "view has no secrets",
                user("bob", &[]),
                res("get", "", "secrets", "team-a", "s"),
                deny(""),
            ),
            (
                "view cannot write",
                user("bob", &[]),
                res("delete", "", "pods", "team-a", "p"),
                deny(""),
            ),
            // Aggregation: a ClusterRole labelled aggregate-to-view adds rules to view.
            (
                "aggregated into view",
                user("bob", &[]),
                res("list", "example.com", "widgets", "team-a", ""),
                allow(
                    r#"RBAC: allowed by RoleBinding "bob-view/team-a" of ClusterRole "view" to User "bob""#,
                ),
            ),
            (
                "aggregated into edit via view",
                user(ci, &[]),
                res("get", "example.com", "widgets", "team-a", "w"),
                allow(
                    r#"RBAC: allowed by RoleBinding "ci/team-a" of ClusterRole "edit" to ServiceAccount "ci/team-a""#,
                ),
            ),
            (
                "custom aggregation of urls",
                user("grafana", &[]),
                url("get", "/metrics"),
                allow(
                    r#"RBAC: allowed by ClusterRoleBinding "monitoring" of ClusterRole "monitoring" to User "grafana""#,
                ),
            ),
            // resourceNames.
            (
                "named get",
                user("alice", &[]),
                res("get", "", "secrets", "team-a", "token"),
                allow(
                    r#"RBAC: allowed by RoleBinding "alice-named/team-a" of Role "named" to User "alice""#,
                ),
            ),
            (
                "named get other",
                user("alice", &[]),
                res("get", "", "secrets", "team-a", "other"),
                deny(""),
            ),
            (
                "named list",
                user("alice", &[]),
                res("list", "", "secrets", "team-a", ""),
                deny(""),
            ),
            // Subresources.
            (
                "pods/log",
                user("sam", &["support"]),
                res("get", "", "pods/log", "team-a", "p"),
                allow(
                    r#"RBAC: allowed by RoleBinding "logs/team-a" of ClusterRole "log-reader" to Group "support""#,
                ),
            ),
            (
                "pods/log does not give pods/exec",
                user("sam", &["support"]),
                res("create", "", "pods/exec", "team-a", "p"),
                deny(""),
            ),
            (
                "*/scale on deployments",
                user("bob", &[]),
                res("update", "apps", "deployments/scale", "team-a", "d"),
                allow(
                    r#"RBAC: allowed by RoleBinding "bob-scale/team-a" of ClusterRole "scaler" to User "bob""#,
                ),
            ),
            (
                "*/scale is not the deployment",
                user("bob", &[]),
                res("update", "apps", "deployments", "team-a", "d"),
                deny(""),
            ),
            (
                "deployments/scale in edit",
                user(ci, &[]),
                res("patch", "apps", "deployments/scale", "team-a", "d"),
                allow(
                    r#"RBAC: allowed by RoleBinding "ci/team-a" of ClusterRole "edit" to ServiceAccount "ci/team-a""#,
                ),
            ),
            // Wildcards.
            (
                "wildcard everything",
                user("olga", &["ops"]),
                res("deletecollection", "example.com", "widgets/status", "x", ""),
                allow(
                    r#"RBAC: allowed by ClusterRoleBinding "ops-star" of ClusterRole "star" to Group "ops""#,
                ),
            ),
            (
                "resource wildcard is not a url wildcard",
                user("olga", &["ops"]),
                url("get", "/metrics"),
                deny(""),
            ),
            // nonResourceURLs.
            (
                "url exact",
                user("prom", &[]),
                url("get", "/metrics"),
                allow(
                    r#"RBAC: allowed by ClusterRoleBinding "metrics" of ClusterRole "metrics" to User "prom""#,
                ),
            ),
            (
                "url star prefix",
                user("prom", &[]),
                url("get", "/logs/kube-apiserver.log"),
                allow(
                    r#"RBAC: allowed by ClusterRoleBinding "metrics" of ClusterRole "metrics" to User "prom""#,
                ),
            ),
            (
                "url other",
                user("prom", &[]),
                url("get", "/metricsz"),
                deny(""),
            ),
            (
                "url wrong verb",
                user("prom", &[]),
                url("post", "/metrics"),
                deny(""),
            ),
            // ServiceAccount subjects.
            (
                "sa defaults to binding namespace",
                user(
                    ci,
                    &["system:serviceaccounts", "system:serviceaccounts:team-a"],
                ),
                res("create", "", "pods", "team-a", ""),
                allow(
                    r#"RBAC: allowed by RoleBinding "ci/team-a" of ClusterRole "edit" to ServiceAccount "ci/team-a""#,
                ),
            ),
            (
                "sa from another namespace",
                user(deployer, &[]),
                res("create", "apps", "deployments", "team-a", ""),
                allow(
                    r#"RBAC: allowed by RoleBinding "ci/team-a" of ClusterRole "edit" to ServiceAccount "deployer/tools""#,
                ),
            ),
            (
                "same sa name in other namespace",
                user("system:serviceaccount:team-b:ci", &[]),
                res("create", "", "pods", "team-a", ""),
                deny(""),
            ),
            (
                "sa in clusterrolebinding",
                user(lister, &[]),
                res("get", "", "nodes", "", "n1"),
                allow(
                    r#"RBAC: allowed by ClusterRoleBinding "nodes" of ClusterRole "node-reader" to ServiceAccount "lister/kube-system""#,
                ),
            ),
            (
                "sa without namespace in clusterrolebinding",
                user("system:serviceaccount:default:ghost", &[]),
                res("get", "", "nodes", "", "n1"),
                deny(""),
            ),
            // Deny reasons.
            (
                "nobody",
                user("mallory", &[]),
                res("get", "", "pods", "team-a", "p"),
                deny(""),
            ),
            (
                "missing clusterrole and role ref in clusterrolebinding",
                user("carol", &[]),
                res("get", "", "pods", "team-a", "p"),
                deny(
                    r#"RBAC: [clusterrole.rbac.authorization.k8s.io "missing" not found, role.rbac.authorization.k8s.io "dev" not found]"#,
                ),
            ),
            (
                "missing role and unsupported kind in rolebindings",
                user("dave", &[]),
                res("get", "", "secrets", "team-a", "s"),
                deny(
                    r#"RBAC: [role.rbac.authorization.k8s.io "nope" not found, unsupported role reference kind: "Thing"]"#,
                ),
            ),
            (
                "unresolvable bindings before a grant do not deny",
                user("dave", &[]),
                res("get", "", "pods", "team-a", "p"),
                allow(
                    r#"RBAC: allowed by RoleBinding "dave-view/team-a" of ClusterRole "view" to User "dave""#,
                ),
            ),
            (
                "rolebindings are ignored outside their namespace",
                user("dave", &[]),
                res("get", "", "pods", "team-b", "p"),
                deny(""),
            ),
            (
                "role looked up in the binding namespace",
                user("erin", &[]),
                res("get", "", "secrets", "team-b", "token"),
                deny(r#"RBAC: role.rbac.authorization.k8s.io "named" not found"#),
            ),
            (
                "same error reported once",
                user("carol", &["devs"]),
                url("get", "/nope"),
                deny(
                    r#"RBAC: [clusterrole.rbac.authorization.k8s.io "missing" not found, role.rbac.authorization.k8s.io "dev" not found]"#,
                ),
            ),
            (
                "errors do not matter once allowed",
                user("carol", &["system:masters"]),
                res("get", "", "pods", "team-a", "p"),
                allow(
                    r#"RBAC: allowed by ClusterRoleBinding "cluster-admin" of ClusterRole "cluster-admin" to Group "system:masters""#,
                ),
            ),
            // Bootstrap roles.
            (
                "node gets pods",
                user("system:node:n1", &["system:nodes"]),
                res("get", "", "pods", "team-a", "p"),
                allow(
                    r#"RBAC: allowed by ClusterRoleBinding "system:node" of ClusterRole "system:node" to Group "system:nodes""#,
                ),
            ),
            (
                "node watches endpointslices everywhere",
                user("system:node:n1", &["system:nodes"]),
                res("watch", "discovery.k8s.io", "endpointslices", "", ""),
                allow(
                    r#"RBAC: allowed by ClusterRoleBinding "system:node" of ClusterRole "system:node" to Group "system:nodes""#,
                ),
            ),
            (
                "node patches its status",
                user("system:node:n1", &["system:nodes"]),
                res("patch", "", "nodes/status", "", "n1"),
                allow(
                    r#"RBAC: allowed by ClusterRoleBinding "system:node" of ClusterRole "system:node" to Group "system:nodes""#,
                ),
            ),
            (
                "node renews its lease",
                user("system:node:n1", &["system:nodes"]),
                res(
                    "update",
                    "coordination.k8s.io",
                    "leases",
                    "kube-node-lease",
                    "n1",
                ),
                allow(
                    r#"RBAC: allowed by ClusterRoleBinding "system:node" of ClusterRole "system:node" to Group "system:nodes""#,
                ),
            ),
            (
                "node cannot delete namespaces",
                user("system:node:n1", &["system:nodes"]),
                res("delete", "", "namespaces", "", "team-a"),
                deny(""),
            ),
            (
                "node cannot create pods",
                user("system:node:n1", &["system:nodes"]),
                res("create", "", "pods", "team-a", ""),
                deny(""),
            ),
            (
                "basic-user creates selfsubjectaccessreviews",
                user("mallory", &[]),
                res(
                    "create",
                    "authorization.k8s.io",
                    "selfsubjectaccessreviews",
                    "",
                    "",
                ),
                allow(
                    r#"RBAC: allowed by ClusterRoleBinding "system:basic-user" of ClusterRole "system:basic-user" to Group "system:authenticated""#,
                ),
            ),
            (
                "basic-user cannot create subjectaccessreviews",
                user("mallory", &[]),
                res(
                    "create",
                    "authorization.k8s.io",
                    "subjectaccessreviews",
                    "",
                    "",
                ),
                deny(""),
            ),
            (
                "discovery for the authenticated",
                user("mallory", &[]),
                url("get", "/apis/apps/v1"),
                allow(
                    r#"RBAC: allowed by ClusterRoleBinding "system:discovery" of ClusterRole "system:discovery" to Group "system:authenticated""#,
                ),
            ),
            (
                "no discovery for the anonymous",
                UserInfo {
                    name: "system:anonymous".into(),
                    groups: strings(&["system:unauthenticated"]),
                },
                url("get", "/apis"),
                deny(""),
            ),
            (
                "healthz for the anonymous",
                UserInfo {
                    name: "system:anonymous".into(),
                    groups: strings(&["system:unauthenticated"]),
                },
                url("get", "/healthz"),
                allow(
                    r#"RBAC: allowed by ClusterRoleBinding "system:public-info-viewer" of ClusterRole "system:public-info-viewer" to Group "system:unauthenticated""#,
                ),
            ),
        ];
        for (what, u, attrs, want) in cases {
            assert_eq!(authorize(&policy, &u, &attrs), want, "{what}");
        }
    }

    #[test]
    fn empty_namespace_is_cluster_scope() {
        let policy = Policy::new(
            vec![role("", "r", vec![rule(&["*"], &["*"], &["*"])])],
            vec![],
            vec![rb("", "b", "Role", "r", vec![subject("User", "u", None)])],
            vec![],
        );
        let attrs = Attributes::Resource {
            verb: "get".into(),
            api_group: String::new(),
            resource: "pods".into(),
            subresource: Some(String::new()),
            namespace: Some(String::new()),
            name: Some(String::new()),
        };
        assert_eq!(authorize(&policy, &user("u", &[]), &attrs), deny(""));
    }

    #[test]
    fn first_matching_subject_is_named() {
        let policy = Policy::new(
            vec![],
            vec![cluster_role("r", vec![rule(&["get"], &[""], &["pods"])])],
            vec![],
            vec![crb(
                "b",
                "ClusterRole",
                "r",
                vec![
                    subject("Group", "g2", None),
                    subject("User", "u", None),
                    subject("Group", "g1", None),
                ],
            )],
        );
        assert_eq!(
            authorize(
                &policy,
                &user("u", &["g1", "g2"]),
                &res("get", "", "pods", "", "")
            ),
            allow(r#"RBAC: allowed by ClusterRoleBinding "b" of ClusterRole "r" to Group "g2""#)
        );
    }

    #[test]
    fn rules_for_lists_grants_and_errors() {
        let policy = fixture();
        let (rules, errors) = policy.rules_for(&user("alice", &[]), Some("team-a"));
        assert!(rules.contains(&named_rule(
            &["get", "update", "list"],
            &["secrets"],
            &["token"]
        )));
        assert!(rules.contains(&rule(&["get", "list", "create"], &[""], &["configmaps"])));
        assert!(errors.is_empty());
        let (rules, _) = policy.rules_for(&user("alice", &[]), None);
        assert!(!rules.contains(&rule(&["get", "list", "create"], &[""], &["configmaps"])));
        let (_, errors) = policy.rules_for(&user("carol", &[]), None);
        assert_eq!(errors.len(), 2);
    }

    // ---- property tests ----
    //
    // Small pools so that subjects, role references and rules collide often: most generated
    // requests have several applicable bindings, some resolvable and some not.

    const NAMES: &[&str] = &["a", "b", "missing"];
    const NAMESPACES: &[&str] = &["ns1", "ns2"];

    fn pick(pool: &'static [&'static str]) -> impl Strategy<Value = String> {
        prop::sample::select(pool).prop_map(str::to_string)
    }

    fn picks(pool: &'static [&'static str], max: usize) -> impl Strategy<Value = Vec<String>> {
        prop::collection::vec(pick(pool), 1..=max)
    }

    fn arb_rule() -> impl Strategy<Value = PolicyRule> {
        let resource_rule = (
            picks(&["get", "list", "*"], 2),
            picks(&["", "apps", "*"], 2),
            picks(&["pods", "pods/log", "deployments", "*", "*/scale"], 2),
            prop_oneof![3 => Just(None), 1 => picks(&["x", "y"], 1).prop_map(Some)],
        )
            .prop_map(
                |(verbs, api_groups, resources, resource_names)| PolicyRule {
                    verbs,
                    api_groups: Some(api_groups),
                    resources: Some(resources),
                    resource_names,
                    non_resource_urls: None,
                },
            );
        let url_rule = (
            picks(&["get", "*"], 1),
            picks(&["/api", "/api/*", "/healthz", "*"], 2),
        )
            .prop_map(|(verbs, urls)| PolicyRule {
                verbs,
                non_resource_urls: Some(urls),
                ..Default::default()
            });
        prop_oneof![3 => resource_rule, 1 => url_rule]
    }

    fn arb_subject() -> impl Strategy<Value = Subject> {
        prop_oneof![
            pick(&["alice", "system:serviceaccount:ns1:sa"])
                .prop_map(|n| subject("User", &n, None)),
            pick(&["g1", "system:authenticated"]).prop_map(|n| subject("Group", &n, None)),
            prop::option::of(pick(&["ns1", "ns2", ""])).prop_map(|ns| subject(
                "ServiceAccount",
                "sa",
                ns.as_deref()
            )),
            Just(subject("Robot", "alice", None)),
        ]
    }

    fn arb_role_ref() -> impl Strategy<Value = RoleRef> {
        (
            prop_oneof![4 => Just("Role"), 4 => Just("ClusterRole"), 1 => Just("Bogus")],
            pick(NAMES),
        )
            .prop_map(|(kind, name)| role_ref(kind, &name))
    }

    fn arb_role_binding() -> impl Strategy<Value = RoleBinding> {
        (
            pick(NAMES),
            pick(NAMESPACES),
            arb_role_ref(),
            prop::collection::vec(arb_subject(), 0..3),
        )
            .prop_map(|(name, ns, role_ref, subjects)| RoleBinding {
                metadata: meta(Some(&ns), &name),
                role_ref,
                subjects: Some(subjects),
            })
    }

    fn arb_cluster_role_binding() -> impl Strategy<Value = ClusterRoleBinding> {
        (
            pick(NAMES),
            arb_role_ref(),
            prop::collection::vec(arb_subject(), 0..3),
        )
            .prop_map(|(name, role_ref, subjects)| ClusterRoleBinding {
                metadata: meta(None, &name),
                role_ref,
                subjects: Some(subjects),
            })
    }

    #[derive(Clone, Debug)]
    struct World {
        roles: Vec<Role>,
        cluster_roles: Vec<ClusterRole>,
        role_bindings: Vec<RoleBinding>,
        cluster_role_bindings: Vec<ClusterRoleBinding>,
    }

    impl World {
        fn policy(&self) -> Policy {
            Policy::new(
                self.roles.clone(),
                self.cluster_roles.clone(),
                self.role_bindings.clone(),
                self.cluster_role_bindings.clone(),
            )
        }
    }

    fn arb_world() -> impl Strategy<Value = World> {
        let roles = prop::collection::vec(
            (
                pick(NAMESPACES),
                pick(&["a", "b"]),
                prop::collection::vec(arb_rule(), 0..3),
            ),
            0..5,
        )
        .prop_map(|v| {
            v.into_iter()
                .map(|(ns, n, rules)| role(&ns, &n, rules))
                .collect()
        });
        let cluster_roles = prop::collection::vec(
            (pick(&["a", "b"]), prop::collection::vec(arb_rule(), 0..3)),
            0..4,
        )
        .prop_map(|v| {
            v.into_iter()
                .map(|(n, rules)| cluster_role(&n, rules))
                .collect()
        });
        (
            roles,
            cluster_roles,
            prop::collection::vec(arb_role_binding(), 0..6),
            prop::collection::vec(arb_cluster_role_binding(), 0..4),
        )
            .prop_map(
                |(roles, cluster_roles, role_bindings, cluster_role_bindings)| World {
                    roles,
                    cluster_roles,
                    role_bindings,
                    cluster_role_bindings,
                },
            )
    }

    fn arb_user() -> impl Strategy<Value = UserInfo> {
        (
            pick(&[
                "alice",
                "sa",
                "system:serviceaccount:ns1:sa",
                "system:serviceaccount:ns2:sa",
            ]),
            prop::collection::vec(pick(&["g1", "alice", "system:authenticated"]), 0..=2),
        )
            .prop_map(|(name, groups)| UserInfo { name, groups })
    }

    fn arb_attrs() -> impl Strategy<Value = Attributes> {
        let resource = (
            pick(&["get", "list", "delete"]),
            pick(&["", "apps"]),
            pick(&["pods", "deployments"]),
            prop::option::of(pick(&["log", "scale"])),
            prop::option::of(pick(&["ns1", "ns2", ""])),
            prop::option::of(pick(&["x", "z"])),
        )
            .prop_map(
                |(verb, api_group, resource, subresource, namespace, name)| Attributes::Resource {
                    verb,
                    api_group,
                    resource,
                    subresource,
                    namespace,
                    name,
                },
            );
        let non_resource = (
            pick(&["get", "post"]),
            pick(&["/api", "/api/v1", "/healthz", "/x"]),
        )
            .prop_map(|(verb, path)| Attributes::NonResource { verb, path });
        prop_oneof![3 => resource, 1 => non_resource]
    }

    /// kube's resolver without any index: every ClusterRoleBinding, then every RoleBinding
    /// of the request namespace, in order.
    fn reference_authorize(world: &World, user: &UserInfo, attrs: &Attributes) -> bool {
        let namespace = match attrs {
            Attributes::Resource { namespace, .. } => namespace.clone().unwrap_or_default(),
            Attributes::NonResource { .. } => String::new(),
        };
        let cluster_rules = |name: &str| {
            world
                .cluster_roles
                .iter()
                .find(|r| r.metadata.name.as_deref() == Some(name))
                .map(|r| r.rules.clone().unwrap_or_default())
        };
        let role_rules = |ns: &str, name: &str| {
            world
                .roles
                .iter()
                .find(|r| {
                    r.metadata.namespace.as_deref() == Some(ns)
                        && r.metadata.name.as_deref() == Some(name)
                })
                .map(|r| r.rules.clone().unwrap_or_default())
        };
        let resolve = |r: &RoleRef, ns: &str| match r.kind.as_str() {
            "Role" if !ns.is_empty() => role_rules(ns, &r.name),
            "ClusterRole" => cluster_rules(&r.name),
            _ => None,
        };
        let applies = |s: &Subject, ns: &str| match s.kind.as_str() {
            "User" => s.name == user.name,
            "Group" => user.groups.contains(&s.name),
            "ServiceAccount" => {
                let sa_ns = s
                    .namespace
                    .clone()
                    .filter(|n| !n.is_empty())
                    .unwrap_or(ns.to_string());
                !sa_ns.is_empty()
                    && user.name == format!("system:serviceaccount:{sa_ns}:{}", s.name)
            }
            _ => false,
        };
        let grants = |role_ref: &RoleRef, subjects: &Option<Vec<Subject>>, ns: &str| {
            subjects.iter().flatten().any(|s| applies(s, ns))
                && resolve(role_ref, ns)
                    .is_some_and(|rules| rules.iter().any(|r| rule_allows(attrs, r)))
        };
        world
            .cluster_role_bindings
            .iter()
            .any(|b| grants(&b.role_ref, &b.subjects, ""))
            || (!namespace.is_empty()
                && world
                    .role_bindings
                    .iter()
                    .filter(|b| b.metadata.namespace.as_deref() == Some(namespace.as_str()))
                    .any(|b| grants(&b.role_ref, &b.subjects, &namespace)))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        /// Adding a binding never turns an Allow into a Deny: RBAC is purely additive.
        #[test]
        fn adding_a_binding_is_monotonic(
            world in arb_world(),
            user in arb_user(),
            attrs in arb_attrs(),
            extra_rb in arb_role_binding(),
            extra_crb in arb_cluster_role_binding(),
            cluster_wide in any::<bool>(),
            at_front in any::<bool>(),
        ) {
            let before = authorize(&world.policy(), &user, &attrs);
            let mut grown = world.clone();
            match (cluster_wide, at_front) {
                (true, true) => grown.cluster_role_bindings.insert(0, extra_crb),
                (true, false) => grown.cluster_role_bindings.push(extra_crb),
                (false, true) => grown.role_bindings.insert(0, extra_rb),
                (false, false) => grown.role_bindings.push(extra_rb),
            }
            let after = authorize(&grown.policy(), &user, &attrs);
            prop_assert!(!before.is_allowed() || after.is_allowed(), "{before:?} -> {after:?}");
        }

        /// The subject/namespace index changes nothing: decisions equal a plain scan.
        #[test]
        fn index_agrees_with_a_plain_scan(
            world in arb_world(),
            user in arb_user(),
            attrs in arb_attrs(),
        ) {
            let got = authorize(&world.policy(), &user, &attrs).is_allowed();
            prop_assert_eq!(got, reference_authorize(&world, &user, &attrs));
        }
    }
}
