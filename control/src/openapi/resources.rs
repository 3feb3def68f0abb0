//! The table of resources the API server serves, derived from k8s-openapi's type metadata.
//!
//! Holds only facts about each served kind (group, version, kind, plural, scope, verbs and its
//! schema generator); it must not build any document itself.

use k8s_openapi::api::{apps, coordination, core, discovery, networking, rbac};
use k8s_openapi::{ClusterResourceScope, ListableResource, NamespaceResourceScope, Resource};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use std::borrow::Cow;

/// One REST verb of a collection or item endpoint, as kube-apiserver names it in discovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verb {
    /// `GET` on the collection.
    List,
    /// `POST` on the collection.
    Create,
    /// `DELETE` on the collection.
    DeleteCollection,
    /// `GET` on an item.
    Get,
    /// `PUT` on an item.
    Update,
    /// `PATCH` on an item.
    Patch,
    /// `DELETE` on an item.
    Delete,
}

/// Every verb; kube-apiserver serves all of them for the served kinds except where noted.
pub const ALL_VERBS: &[Verb] = &[
    Verb::List,
    Verb::Create,
    Verb::DeleteCollection,
    Verb::Get,
    Verb::Update,
    Verb::Patch,
    Verb::Delete,
];

/// kube-apiserver's namespaces registry has no `deletecollection`.
const VERBS_WITHOUT_DELETECOLLECTION: &[Verb] = &[
    Verb::List,
    Verb::Create,
    Verb::Get,
    Verb::Update,
    Verb::Patch,
    Verb::Delete,
];

/// A served kind and what the documents need to know about it.
#[derive(Clone, Copy)]
pub struct ServedResource {
    /// API group, empty for the core group.
    pub group: &'static str,
    /// API version, e.g. `v1`.
    pub version: &'static str,
    /// Kind, e.g. `Deployment`.
    pub kind: &'static str,
    /// Kind of the list type, e.g. `DeploymentList`.
    pub list_kind: &'static str,
    /// Plural resource name used in URLs, e.g. `deployments`.
    pub plural: &'static str,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// The verbs served for this resource.
    pub verbs: &'static [Verb],
    /// Registers the kind's schema (and everything it references) and returns a `$ref` to it.
    pub subschema: fn(&mut SchemaGenerator) -> Schema,
    /// The kind's schema name, e.g. `io.k8s.api.apps.v1.Deployment`.
    pub schema_name: fn() -> Cow<'static, str>,
}

impl std::fmt::Debug for ServedResource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServedResource")
            .field("group", &self.group)
            .field("version", &self.version)
            .field("kind", &self.kind)
            .field("plural", &self.plural)
            .field("namespaced", &self.namespaced)
            .finish_non_exhaustive()
    }
}

impl ServedResource {
    /// The OpenAPI v3 index key of the group-version: `api/v1` or `apis/<group>/<version>`.
    pub fn group_version_path(&self) -> String {
        group_version_path(self.group, self.version)
    }

    /// The URL prefix of the group-version: `/api/v1` or `/apis/<group>/<version>`.
    pub fn url_prefix(&self) -> String {
        format!("/{}", self.group_version_path())
    }

    /// The schema name of the list kind, in the kind's package.
    pub fn list_schema_name(&self) -> String {
        let name = (self.schema_name)();
        match name.rsplit_once('.') {
            Some((package, _)) => format!("{package}.{}", self.list_kind),
            None => self.list_kind.to_owned(),
        }
    }

    /// Whether the verb is served.
    pub fn serves(&self, verb: Verb) -> bool {
        self.verbs.contains(&verb)
    }
}

/// The v3 index key for a group-version.
pub fn group_version_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// Maps k8s-openapi's scope marker types to a flag at compile time.
trait ScopeFlag {
    const NAMESPACED: bool;
}

impl ScopeFlag for NamespaceResourceScope {
    const NAMESPACED: bool = true;
}

impl ScopeFlag for ClusterResourceScope {
    const NAMESPACED: bool = false;
}

fn subschema<K: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<K>()
}

fn served<K>(verbs: &'static [Verb]) -> ServedResource
where
    K: Resource + ListableResource + JsonSchema,
    K::Scope: ScopeFlag,
{
    ServedResource {
        group: K::GROUP,
        version: K::VERSION,
        kind: K::KIND,
        list_kind: K::LIST_KIND,
        plural: K::URL_PATH_SEGMENT,
        namespaced: <K::Scope as ScopeFlag>::NAMESPACED,
        verbs,
        subschema: subschema::<K>,
        schema_name: K::schema_name,
    }
}

/// The served kinds, in the order kube-apiserver's discovery lists their groups.
pub fn served_resources() -> Vec<ServedResource> {
    vec![
        served::<core::v1::Namespace>(VERBS_WITHOUT_DELETECOLLECTION),
        served::<core::v1::Node>(ALL_VERBS),
        served::<core::v1::Pod>(ALL_VERBS),
        served::<core::v1::Service>(ALL_VERBS),
        served::<core::v1::Endpoints>(ALL_VERBS),
        served::<core::v1::Secret>(ALL_VERBS),
        served::<core::v1::ConfigMap>(ALL_VERBS),
        served::<core::v1::Event>(ALL_VERBS),
        served::<core::v1::ServiceAccount>(ALL_VERBS),
        served::<apps::v1::Deployment>(ALL_VERBS),
        served::<apps::v1::ReplicaSet>(ALL_VERBS),
        served::<discovery::v1::EndpointSlice>(ALL_VERBS),
        served::<networking::v1::Ingress>(ALL_VERBS),
        served::<networking::v1::IngressClass>(ALL_VERBS),
        served::<networking::v1::NetworkPolicy>(ALL_VERBS),
        served::<coordination::v1::Lease>(ALL_VERBS),
        served::<rbac::v1::Role>(ALL_VERBS),
        served::<rbac::v1::ClusterRole>(ALL_VERBS),
        served::<rbac::v1::RoleBinding>(ALL_VERBS),
        served::<rbac::v1::ClusterRoleBinding>(ALL_VERBS),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_and_plural_come_from_the_types() {
        let table = served_resources();
        let cases: &[(&str, &str, &str, bool)] = &[
            ("", "Namespace", "namespaces", false),
            ("", "Node", "nodes", false),
            ("", "Pod", "pods", true),
            ("", "Endpoints", "endpoints", true),
            ("apps", "Deployment", "deployments", true),
            ("discovery.k8s.io", "EndpointSlice", "endpointslices", true),
            ("networking.k8s.io", "IngressClass", "ingressclasses", false),
            ("coordination.k8s.io", "Lease", "leases", true),
            (
                "rbac.authorization.k8s.io",
                "ClusterRoleBinding",
                "clusterrolebindings",
                false,
            ),
        ];
        for (group, kind, plural, namespaced) in cases {
            let found = table
                .iter()
                .find(|r| r.group == *group && r.kind == *kind)
                .expect("kind is served");
            assert_eq!(found.plural, *plural, "{kind}");
            assert_eq!(found.namespaced, *namespaced, "{kind}");
        }
    }

    #[test]
    fn list_schema_name_sits_beside_the_kind() {
        let table = served_resources();
        let pod = table.iter().find(|r| r.kind == "Pod").expect("pods served");
        assert_eq!(pod.list_schema_name(), "io.k8s.api.core.v1.PodList");
        let role = table
            .iter()
            .find(|r| r.kind == "Role")
            .expect("roles served");
        assert_eq!(role.list_schema_name(), "io.k8s.api.rbac.v1.RoleList");
    }

    #[test]
    fn group_version_paths() {
        assert_eq!(group_version_path("", "v1"), "api/v1");
        assert_eq!(group_version_path("apps", "v1"), "apis/apps/v1");
    }

    #[test]
    fn namespaces_have_no_deletecollection() {
        let table = served_resources();
        let ns = table
            .iter()
            .find(|r| r.kind == "Namespace")
            .expect("served");
        assert!(!ns.serves(Verb::DeleteCollection));
        assert!(ns.serves(Verb::Patch));
        let pod = table.iter().find(|r| r.kind == "Pod").expect("served");
        assert!(pod.serves(Verb::DeleteCollection));
    }
}
