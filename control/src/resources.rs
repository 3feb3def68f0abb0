//! The registry of served resources: for each, its group, version, kind,
//! plural and singular names, scope, short names, categories and
//! subresources. Kinds, plurals and scopes come from k8s-openapi's
//! `Resource` constants, so they cannot drift from the real API.
//!
//! Pure data and lookups; nothing here reads a request or the store.

use k8s_openapi::{
    ClusterResourceScope, ListableResource, NamespaceResourceScope,
    api::{
        apps::v1::{Deployment, ReplicaSet},
        authorization::v1::SelfSubjectAccessReview,
        coordination::v1::Lease,
        core::v1::{
            ConfigMap, Endpoints, Event, Namespace, Node, Pod, Secret, Service, ServiceAccount,
        },
        discovery::v1::EndpointSlice,
        networking::v1::{Ingress, IngressClass, NetworkPolicy},
        rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding},
    },
};

/// A subresource served under `<plural>/<name>/<subresource>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subresource {
    /// `/status`: the object's status, written by controllers.
    Status,
    /// `/scale`: an `autoscaling/v1` Scale view of the replica count.
    Scale,
}

impl Subresource {
    /// The path segment.
    pub fn name(self) -> &'static str {
        match self {
            Subresource::Status => "status",
            Subresource::Scale => "scale",
        }
    }
}

/// One served resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResourceInfo {
    /// API group; empty for the core group.
    pub group: &'static str,
    /// API version within the group.
    pub version: &'static str,
    /// `apiVersion` as objects carry it (`v1`, `apps/v1`).
    pub api_version: &'static str,
    /// Kind (`Service`).
    pub kind: &'static str,
    /// Kind of its list (`ServiceList`).
    pub list_kind: &'static str,
    /// Plural resource name, the URL segment (`services`).
    pub plural: &'static str,
    /// Singular name (`service`).
    pub singular: &'static str,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// Short names kubectl accepts (`svc`).
    pub short_names: &'static [&'static str],
    /// Categories (`all`).
    pub categories: &'static [&'static str],
    /// Subresources served.
    pub subresources: &'static [Subresource],
    /// Whether objects are stored; a review (SelfSubjectAccessReview) is
    /// only created, answered and forgotten.
    pub stored: bool,
}

/// Maps k8s-openapi's scope marker types to a flag usable in consts.
pub trait Scope {
    /// Whether the scope is a namespace.
    const NAMESPACED: bool;
}

impl Scope for NamespaceResourceScope {
    const NAMESPACED: bool = true;
}

impl Scope for ClusterResourceScope {
    const NAMESPACED: bool = false;
}

const fn info<R>(
    singular: &'static str,
    short_names: &'static [&'static str],
    categories: &'static [&'static str],
    subresources: &'static [Subresource],
) -> ResourceInfo
where
    R: ListableResource,
    R::Scope: Scope,
{
    ResourceInfo {
        group: R::GROUP,
        version: R::VERSION,
        api_version: R::API_VERSION,
        kind: R::KIND,
        list_kind: R::LIST_KIND,
        plural: R::URL_PATH_SEGMENT,
        singular,
        namespaced: <R::Scope as Scope>::NAMESPACED,
        short_names,
        categories,
        subresources,
        stored: true,
    }
}

/// A create-only resource that is answered, not stored.
const fn review<R>(singular: &'static str) -> ResourceInfo
where
    R: k8s_openapi::Resource,
    R::Scope: Scope,
{
    ResourceInfo {
        group: R::GROUP,
        version: R::VERSION,
        api_version: R::API_VERSION,
        kind: R::KIND,
        list_kind: "",
        plural: R::URL_PATH_SEGMENT,
        singular,
        namespaced: <R::Scope as Scope>::NAMESPACED,
        short_names: &[],
        categories: &[],
        subresources: &[],
        stored: false,
    }
}

use Subresource::{Scale, Status};

/// Every served resource, core group first, then groups in discovery order.
pub static RESOURCES: &[ResourceInfo] = &[
    info::<Namespace>("namespace", &["ns"], &[], &[Status]),
    info::<Node>("node", &["no"], &[], &[Status]),
    info::<Pod>("pod", &["po"], &["all"], &[Status]),
    info::<Service>("service", &["svc"], &["all"], &[Status]),
    info::<Endpoints>("endpoints", &["ep"], &[], &[]),
    info::<Secret>("secret", &[], &[], &[]),
    info::<ConfigMap>("configmap", &["cm"], &[], &[]),
    info::<Event>("event", &["ev"], &[], &[]),
    info::<ServiceAccount>("serviceaccount", &["sa"], &[], &[]),
    info::<Deployment>("deployment", &["deploy"], &["all"], &[Status, Scale]),
    info::<ReplicaSet>("replicaset", &["rs"], &["all"], &[Status, Scale]),
    info::<EndpointSlice>("endpointslice", &[], &[], &[]),
    info::<Ingress>("ingress", &["ing"], &[], &[Status]),
    info::<IngressClass>("ingressclass", &[], &[], &[]),
    info::<NetworkPolicy>("networkpolicy", &["netpol"], &[], &[]),
    info::<Lease>("lease", &[], &[], &[]),
    info::<Role>("role", &[], &[], &[]),
    info::<ClusterRole>("clusterrole", &[], &[], &[]),
    info::<RoleBinding>("rolebinding", &[], &[], &[]),
    info::<ClusterRoleBinding>("clusterrolebinding", &[], &[], &[]),
    review::<SelfSubjectAccessReview>("selfsubjectaccessreview"),
];

/// The resource served at `group`/`version`/`plural`.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceInfo> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// The resource of objects with this `apiVersion` and `kind`.
pub fn by_kind(api_version: &str, kind: &str) -> Option<&'static ResourceInfo> {
    RESOURCES
        .iter()
        .find(|r| r.api_version == api_version && r.kind == kind)
}

/// The served (group, version) pairs, core first, each once, in order.
pub fn group_versions() -> Vec<(&'static str, &'static str)> {
    let mut seen: Vec<(&'static str, &'static str)> = Vec::new();
    for r in RESOURCES {
        if !seen.contains(&(r.group, r.version)) {
            seen.push((r.group, r.version));
        }
    }
    seen
}

impl ResourceInfo {
    /// Whether `sub` is served for this resource.
    pub fn has(&self, sub: Subresource) -> bool {
        self.subresources.contains(&sub)
    }

    /// Store key prefix of every object of this resource (all namespaces).
    pub fn key_prefix(&self) -> String {
        let group = if self.group.is_empty() {
            "core"
        } else {
            self.group
        };
        format!("/registry/{group}/{}/", self.plural)
    }

    /// Store key prefix of the objects in `namespace` (or all, for `None`
    /// or a cluster-scoped resource).
    pub fn namespace_prefix(&self, namespace: Option<&str>) -> String {
        match namespace {
            Some(ns) if self.namespaced => format!("{}{ns}/", self.key_prefix()),
            _ => self.key_prefix(),
        }
    }

    /// Store key of one object. Names and namespaces are validated DNS
    /// names before they reach here, so they contain no `/`.
    pub fn key(&self, namespace: Option<&str>, name: &str) -> String {
        format!("{}{name}", self.namespace_prefix(namespace))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_k8s_openapi() {
        let svc = find("", "v1", "services").expect("services served");
        assert_eq!(
            (svc.kind, svc.list_kind, svc.api_version, svc.namespaced),
            ("Service", "ServiceList", "v1", true)
        );
        let deploy = find("apps", "v1", "deployments").expect("deployments served");
        assert_eq!(deploy.api_version, "apps/v1");
        assert!(deploy.has(Subresource::Scale));
        let node = by_kind("v1", "Node").expect("nodes served");
        assert!(!node.namespaced);
        assert_eq!(
            by_kind("networking.k8s.io/v1", "Ingress").map(|r| r.plural),
            Some("ingresses")
        );
        assert!(find("", "v1", "deployments").is_none(), "wrong group");
        assert!(
            find("apps", "v1beta1", "deployments").is_none(),
            "wrong version"
        );
    }

    #[test]
    fn every_resource_is_unique_and_well_named() {
        for (i, r) in RESOURCES.iter().enumerate() {
            assert!(
                r.plural.chars().all(|c| c.is_ascii_lowercase()),
                "{}",
                r.plural
            );
            assert_eq!(r.singular, r.kind.to_ascii_lowercase(), "{}", r.kind);
            for other in &RESOURCES[i + 1..] {
                assert!(
                    (r.group, r.plural) != (other.group, other.plural),
                    "{} twice",
                    r.plural
                );
                for short in r.short_names {
                    assert!(
                        !other.short_names.contains(short),
                        "short name {short} twice"
                    );
                }
            }
        }
    }

    #[test]
    fn group_versions_list_core_first_once_each() {
        let gvs = group_versions();
        assert_eq!(gvs.first(), Some(&("", "v1")));
        assert!(gvs.contains(&("discovery.k8s.io", "v1")));
        let mut unique = gvs.clone();
        unique.dedup();
        assert_eq!(unique.len(), gvs.len());
    }

    #[test]
    fn store_keys_separate_groups_namespaces_and_scopes() {
        let pods = find("", "v1", "pods").expect("pods");
        assert_eq!(
            pods.key(Some("default"), "web"),
            "/registry/core/pods/default/web"
        );
        assert_eq!(pods.namespace_prefix(None), "/registry/core/pods/");
        let nodes = find("", "v1", "nodes").expect("nodes");
        assert_eq!(nodes.key(Some("ignored"), "n1"), "/registry/core/nodes/n1");
        let deploys = find("apps", "v1", "deployments").expect("deployments");
        assert_eq!(deploys.key_prefix(), "/registry/apps/deployments/");
    }
}
