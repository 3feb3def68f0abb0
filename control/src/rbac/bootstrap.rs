//! The default ClusterRoles and ClusterRoleBindings a cluster has from its first start,
//! modelled on kube-apiserver's `bootstrappolicy`, cut down to the resources strait serves.
//!
//! Holds object construction only. It must not write the objects to the store or decide
//! when to reconcile them; the `rbac.authorization.kubernetes.io/autoupdate` annotation
//! tells that reconciler (as in kube) whether it may overwrite a user's edits.

use std::collections::BTreeMap;

use k8s_openapi::api::rbac::v1::{
    AggregationRule, ClusterRole, ClusterRoleBinding, PolicyRule, RoleRef, Subject,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use super::aggregation::aggregate_cluster_roles;

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";
const CORE: &str = "";
const APPS: &str = "apps";
const AUTHENTICATION: &str = "authentication.k8s.io";
const AUTHORIZATION: &str = "authorization.k8s.io";
const COORDINATION: &str = "coordination.k8s.io";
const DISCOVERY: &str = "discovery.k8s.io";
const EVENTS: &str = "events.k8s.io";
const NETWORKING: &str = "networking.k8s.io";

const READ: &[&str] = &["get", "list", "watch"];
const WRITE: &[&str] = &["create", "update", "patch", "delete", "deletecollection"];
const READ_WRITE: &[&str] = &[
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
];

const AGGREGATE_TO_ADMIN: &str = "rbac.authorization.k8s.io/aggregate-to-admin";
const AGGREGATE_TO_EDIT: &str = "rbac.authorization.k8s.io/aggregate-to-edit";
const AGGREGATE_TO_VIEW: &str = "rbac.authorization.k8s.io/aggregate-to-view";

/// Group every authenticated user is in.
const AUTHENTICATED: &str = "system:authenticated";
/// Group of anonymous requests.
const UNAUTHENTICATED: &str = "system:unauthenticated";

/// The bootstrap ClusterRoles (aggregated roles already carrying their aggregated rules,
/// as the aggregation controller would have written them) and their ClusterRoleBindings.
pub fn bootstrap_policy() -> (Vec<ClusterRole>, Vec<ClusterRoleBinding>) {
    let roles = vec![
        cluster_role(
            "cluster-admin",
            &[],
            vec![rule(&["*"], &["*"], &["*"]), url_rule(&["*"], &["*"])],
        ),
        cluster_role(
            "system:discovery",
            &[],
            vec![url_rule(
                &["get"],
                &[
                    "/livez",
                    "/readyz",
                    "/healthz",
                    "/version",
                    "/version/",
                    "/openapi",
                    "/openapi/*",
                    "/api",
                    "/api/*",
                    "/apis",
                    "/apis/*",
                ],
            )],
        ),
        cluster_role(
            "system:basic-user",
            &[],
            vec![
                rule(
                    &["create"],
                    &[AUTHORIZATION],
                    &["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                ),
                // `kubectl auth whoami`.
                rule(&["create"], &[AUTHENTICATION], &["selfsubjectreviews"]),
            ],
        ),
        cluster_role(
            "system:public-info-viewer",
            &[],
            vec![url_rule(
                &["get"],
                &["/livez", "/readyz", "/healthz", "/version", "/version/"],
            )],
        ),
        aggregating(cluster_role("admin", &[], vec![]), AGGREGATE_TO_ADMIN),
        aggregating(
            cluster_role("edit", &[AGGREGATE_TO_ADMIN], vec![]),
            AGGREGATE_TO_EDIT,
        ),
        aggregating(
            cluster_role("view", &[AGGREGATE_TO_EDIT], vec![]),
            AGGREGATE_TO_VIEW,
        ),
        cluster_role(
            "system:aggregate-to-admin",
            &[AGGREGATE_TO_ADMIN],
            vec![
                rule(
                    &["create"],
                    &[AUTHORIZATION],
                    &["localsubjectaccessreviews"],
                ),
                rule(READ_WRITE, &[RBAC_GROUP], &["roles", "rolebindings"]),
            ],
        ),
        cluster_role(
            "system:aggregate-to-edit",
            &[AGGREGATE_TO_EDIT],
            vec![
                // Read on resources that escalate (secrets hold tokens, exec runs code).
                rule(
                    READ,
                    &[CORE],
                    &[
                        "pods/attach",
                        "pods/proxy",
                        "pods/exec",
                        "pods/portforward",
                        "secrets",
                        "services/proxy",
                    ],
                ),
                rule(&["impersonate"], &[CORE], &["serviceaccounts"]),
                rule(
                    WRITE,
                    &[CORE],
                    &[
                        "pods",
                        "pods/attach",
                        "pods/proxy",
                        "pods/exec",
                        "pods/portforward",
                    ],
                ),
                rule(&["create"], &[CORE], &["pods/eviction"]),
                // No endpoints: writing them redirects a Service anywhere (CVE-2021-25740).
                rule(
                    WRITE,
                    &[CORE],
                    &[
                        "serviceaccounts",
                        "services",
                        "services/proxy",
                        "configmaps",
                        "secrets",
                    ],
                ),
                rule(&["create"], &[CORE], &["serviceaccounts/token"]),
                rule(
                    WRITE,
                    &[APPS],
                    &[
                        "deployments",
                        "deployments/scale",
                        "replicasets",
                        "replicasets/scale",
                    ],
                ),
                rule(WRITE, &[NETWORKING], &["networkpolicies", "ingresses"]),
                rule(WRITE, &[COORDINATION], &["leases"]),
            ],
        ),
        cluster_role(
            "system:aggregate-to-view",
            &[AGGREGATE_TO_VIEW],
            vec![
                rule(
                    READ,
                    &[CORE],
                    &[
                        "pods",
                        "pods/status",
                        "pods/log",
                        "serviceaccounts",
                        "services",
                        "services/status",
                        "endpoints",
                        "configmaps",
                        "events",
                        "namespaces/status",
                    ],
                ),
                // Reading namespaces at namespace scope reads *this* namespace, which tells
                // users which namespaces they can use.
                rule(READ, &[CORE], &["namespaces"]),
                rule(READ, &[DISCOVERY], &["endpointslices"]),
                rule(
                    READ,
                    &[APPS],
                    &[
                        "deployments",
                        "deployments/status",
                        "deployments/scale",
                        "replicasets",
                        "replicasets/status",
                        "replicasets/scale",
                    ],
                ),
                rule(
                    READ,
                    &[NETWORKING],
                    &["networkpolicies", "ingresses", "ingresses/status"],
                ),
                rule(READ, &[COORDINATION], &["leases"]),
            ],
        ),
        cluster_role(
            "system:node",
            &[],
            vec![
                rule(
                    READ,
                    &[CORE],
                    &[
                        "services",
                        "endpoints",
                        "nodes",
                        "pods",
                        "configmaps",
                        "secrets",
                    ],
                ),
                rule(READ, &[DISCOVERY], &["endpointslices"]),
                // Nodes register and update themselves.
                rule(&["create", "update", "patch"], &[CORE], &["nodes"]),
                rule(&["update", "patch"], &[CORE], &["nodes/status"]),
                rule(&["update", "patch"], &[CORE], &["pods/status"]),
                rule(&["create", "update", "patch"], &[CORE, EVENTS], &["events"]),
                // Node heartbeats in kube-node-lease; a ClusterRole cannot name the
                // namespace, so like kube this is cluster-wide.
                rule(
                    &["get", "create", "update", "patch", "delete"],
                    &[COORDINATION],
                    &["leases"],
                ),
            ],
        ),
    ];
    let (roles, _errors) = aggregate_cluster_roles(roles);

    let bindings = vec![
        cluster_role_binding("cluster-admin", &["system:masters"]),
        cluster_role_binding("system:discovery", &[AUTHENTICATED]),
        cluster_role_binding("system:basic-user", &[AUTHENTICATED]),
        cluster_role_binding(
            "system:public-info-viewer",
            &[AUTHENTICATED, UNAUTHENTICATED],
        ),
        cluster_role_binding("system:node", &["system:nodes"]),
    ];
    (roles, bindings)
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn rule(verbs: &[&str], groups: &[&str], resources: &[&str]) -> PolicyRule {
    PolicyRule {
        verbs: strings(verbs),
        api_groups: Some(strings(groups)),
        resources: Some(strings(resources)),
        resource_names: None,
        non_resource_urls: None,
    }
}

fn url_rule(verbs: &[&str], urls: &[&str]) -> PolicyRule {
    PolicyRule {
        verbs: strings(verbs),
        non_resource_urls: Some(strings(urls)),
        api_groups: None,
        resources: None,
        resource_names: None,
    }
}

/// kube's `addDefaultMetadata`: the bootstrapping label and the autoupdate annotation.
fn metadata(name: &str, aggregate_labels: &[&str]) -> ObjectMeta {
    let mut labels: BTreeMap<String, String> = aggregate_labels
        .iter()
        .map(|l| (l.to_string(), "true".to_string()))
        .collect();
    labels.insert(
        "kubernetes.io/bootstrapping".to_string(),
        "rbac-defaults".to_string(),
    );
    ObjectMeta {
        name: Some(name.to_string()),
        labels: Some(labels),
        annotations: Some(BTreeMap::from([(
            "rbac.authorization.kubernetes.io/autoupdate".to_string(),
            "true".to_string(),
        )])),
        ..Default::default()
    }
}

fn cluster_role(name: &str, aggregate_labels: &[&str], rules: Vec<PolicyRule>) -> ClusterRole {
    ClusterRole {
        metadata: metadata(name, aggregate_labels),
        rules: Some(rules),
        aggregation_rule: None,
    }
}

fn aggregating(mut role: ClusterRole, label: &str) -> ClusterRole {
    role.aggregation_rule = Some(AggregationRule {
        cluster_role_selectors: Some(vec![LabelSelector {
            match_labels: Some(BTreeMap::from([(label.to_string(), "true".to_string())])),
            match_expressions: None,
        }]),
    });
    role
}

/// A binding of the ClusterRole of the same name to `groups`.
fn cluster_role_binding(name: &str, groups: &[&str]) -> ClusterRoleBinding {
    ClusterRoleBinding {
        metadata: metadata(name, &[]),
        role_ref: RoleRef {
            api_group: RBAC_GROUP.to_string(),
            kind: "ClusterRole".to_string(),
            name: name.to_string(),
        },
        subjects: Some(
            groups
                .iter()
                .map(|g| Subject {
                    api_group: Some(RBAC_GROUP.to_string()),
                    kind: "Group".to_string(),
                    name: g.to_string(),
                    namespace: None,
                })
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rbac::{Attributes, Policy, UserInfo, authorize};

    fn find<'a>(roles: &'a [ClusterRole], name: &str) -> &'a ClusterRole {
        roles
            .iter()
            .find(|r| r.metadata.name.as_deref() == Some(name))
            .expect("bootstrap role")
    }

    #[test]
    fn every_object_is_marked_and_every_binding_resolves() {
        let (roles, bindings) = bootstrap_policy();
        let marked = |m: &ObjectMeta| {
            m.labels
                .as_ref()
                .and_then(|l| l.get("kubernetes.io/bootstrapping"))
                == Some(&"rbac-defaults".to_string())
                && m.annotations
                    .as_ref()
                    .and_then(|a| a.get("rbac.authorization.kubernetes.io/autoupdate"))
                    == Some(&"true".to_string())
        };
        for role in &roles {
            assert!(marked(&role.metadata), "{:?}", role.metadata.name);
        }
        for binding in &bindings {
            assert!(marked(&binding.metadata), "{:?}", binding.metadata.name);
            assert_eq!(binding.role_ref.kind, "ClusterRole");
            find(&roles, &binding.role_ref.name);
        }
        let mut names: Vec<_> = roles.iter().map(|r| r.metadata.name.clone()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), roles.len(), "unique role names");
    }

    #[test]
    fn aggregated_roles_are_prefilled_and_stable() {
        let (roles, _) = bootstrap_policy();
        let view = find(&roles, "view").rules.clone().unwrap_or_default();
        let edit = find(&roles, "edit").rules.clone().unwrap_or_default();
        let admin = find(&roles, "admin").rules.clone().unwrap_or_default();
        assert!(!view.is_empty());
        assert!(view.iter().all(|r| edit.contains(r)), "edit includes view");
        assert!(
            edit.iter().all(|r| admin.contains(r)),
            "admin includes edit"
        );
        assert!(edit.len() > view.len() && admin.len() > edit.len());
        // Re-aggregating what was stored changes nothing (the controller would be idle).
        let (again, errors) = aggregate_cluster_roles(roles.clone());
        assert!(errors.is_empty());
        assert_eq!(again, roles);
    }

    #[test]
    fn role_grants() {
        let (roles, bindings) = bootstrap_policy();
        let policy = Policy::new(vec![], roles, vec![], bindings);
        let res = |verb: &str, group: &str, resource: &str, sub: Option<&str>, ns: Option<&str>| {
            Attributes::Resource {
                verb: verb.into(),
                api_group: group.into(),
                resource: resource.into(),
                subresource: sub.map(Into::into),
                namespace: ns.map(Into::into),
                name: Some("x".into()),
            }
        };
        let can = |role: &str, attrs: &Attributes| {
            // Bind the role cluster-wide to a user in no group, so this checks the role
            // itself rather than the bootstrap bindings.
            let subject = Subject {
                kind: "User".into(),
                name: "u".into(),
                namespace: None,
                api_group: None,
            };
            let binding = ClusterRoleBinding {
                metadata: ObjectMeta {
                    name: Some("b".into()),
                    ..Default::default()
                },
                role_ref: RoleRef {
                    api_group: RBAC_GROUP.into(),
                    kind: "ClusterRole".into(),
                    name: role.into(),
                },
                subjects: Some(vec![subject]),
            };
            let p = Policy::new(
                vec![],
                policy.cluster_roles().cloned().collect(),
                vec![],
                vec![binding],
            );
            authorize(
                &p,
                &UserInfo {
                    name: "u".into(),
                    groups: vec![],
                },
                attrs,
            )
            .is_allowed()
        };
        let ns = Some("ns");
        let cases: Vec<(&str, Attributes, bool)> = vec![
            ("view", res("list", "", "pods", None, ns), true),
            ("view", res("get", "", "pods", Some("log"), ns), true),
            ("view", res("get", "", "secrets", None, ns), false),
            ("view", res("get", "", "namespaces", None, ns), true),
            ("view", res("delete", "", "namespaces", None, ns), false),
            (
                "view",
                res("watch", "discovery.k8s.io", "endpointslices", None, ns),
                true,
            ),
            (
                "view",
                res("get", "apps", "deployments", Some("scale"), ns),
                true,
            ),
            (
                "view",
                res("update", "apps", "deployments", Some("scale"), ns),
                false,
            ),
            (
                "view",
                res("list", "coordination.k8s.io", "leases", None, ns),
                true,
            ),
            ("view", res("create", "", "pods", Some("exec"), ns), false),
            ("edit", res("get", "", "secrets", None, ns), true),
            ("edit", res("create", "", "pods", Some("exec"), ns), true),
            (
                "edit",
                res("patch", "apps", "deployments", Some("scale"), ns),
                true,
            ),
            (
                "edit",
                res("create", "networking.k8s.io", "ingresses", None, ns),
                true,
            ),
            ("edit", res("update", "", "endpoints", None, ns), false),
            (
                "edit",
                res(
                    "create",
                    "rbac.authorization.k8s.io",
                    "rolebindings",
                    None,
                    ns,
                ),
                false,
            ),
            ("edit", res("delete", "", "namespaces", None, ns), false),
            (
                "admin",
                res(
                    "create",
                    "rbac.authorization.k8s.io",
                    "rolebindings",
                    None,
                    ns,
                ),
                true,
            ),
            (
                "admin",
                res("delete", "apps", "replicasets", None, ns),
                true,
            ),
            (
                "admin",
                res("update", "", "pods", Some("status"), ns),
                false,
            ),
            ("system:node", res("list", "", "services", None, None), true),
            ("system:node", res("get", "", "secrets", None, ns), true),
            (
                "system:node",
                res("update", "", "pods", Some("status"), ns),
                true,
            ),
            (
                "system:node",
                res("create", "events.k8s.io", "events", None, ns),
                true,
            ),
            ("system:node", res("create", "", "nodes", None, None), true),
            ("system:node", res("delete", "", "pods", None, ns), false),
            ("system:node", res("create", "", "pods", None, ns), false),
            ("system:node", res("update", "", "secrets", None, ns), false),
            (
                "system:basic-user",
                res(
                    "create",
                    "authorization.k8s.io",
                    "selfsubjectrulesreviews",
                    None,
                    None,
                ),
                true,
            ),
            (
                "system:basic-user",
                res(
                    "create",
                    "authentication.k8s.io",
                    "selfsubjectreviews",
                    None,
                    None,
                ),
                true,
            ),
            ("system:basic-user", res("get", "", "pods", None, ns), false),
        ];
        for (role, attrs, want) in cases {
            assert_eq!(can(role, &attrs), want, "{role}: {attrs:?}");
        }
    }

    #[test]
    fn discovery_urls() {
        let (roles, bindings) = bootstrap_policy();
        let policy = Policy::new(vec![], roles, vec![], bindings);
        let authenticated = UserInfo {
            name: "u".into(),
            groups: vec![AUTHENTICATED.into()],
        };
        let anonymous = UserInfo {
            name: "system:anonymous".into(),
            groups: vec![UNAUTHENTICATED.into()],
        };
        let get = |path: &str| Attributes::NonResource {
            verb: "get".into(),
            path: path.into(),
        };
        let cases: Vec<(&UserInfo, &str, bool)> = vec![
            (&authenticated, "/api", true),
            (&authenticated, "/api/v1", true),
            (&authenticated, "/apis/apps/v1", true),
            (&authenticated, "/openapi/v2", true),
            (&authenticated, "/openapi/v3/apis/apps/v1", true),
            (&authenticated, "/version", true),
            (&authenticated, "/healthz", true),
            (&authenticated, "/readyz", true),
            (&authenticated, "/metrics", false),
            (&authenticated, "/healthz/etcd", false),
            (&anonymous, "/healthz", true),
            (&anonymous, "/version", true),
            (&anonymous, "/api", false),
            (&anonymous, "/openapi/v2", false),
        ];
        for (user, path, want) in cases {
            assert_eq!(
                authorize(&policy, user, &get(path)).is_allowed(),
                want,
                "{} {path}",
                user.name
            );
        }
        let post = Attributes::NonResource {
            verb: "post".into(),
            path: "/api".into(),
        };
        assert!(!authorize(&policy, &authenticated, &post).is_allowed());
    }
}
