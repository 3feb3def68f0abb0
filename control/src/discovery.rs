//! Discovery documents (`/api`, `/apis`, `/apis/<group>`, and each
//! group-version's resource list), built from the [`resources`] registry as
//! k8s-openapi types. kubectl reads these to map `svc`, `deploy` or `all` to
//! resources. Pure: the HTTP layer serializes what this returns.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    APIGroup, APIGroupList, APIResource, APIResourceList, APIVersions, GroupVersionForDiscovery,
    ServerAddressByClientCIDR,
};

use crate::resources::{self, ResourceInfo, Subresource};

/// Verbs on a resource's collection and objects.
const RESOURCE_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// Verbs on a subresource.
const SUBRESOURCE_VERBS: &[&str] = &["get", "patch", "update"];

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// `/api`: the core group's versions, and where clients reach the server.
pub fn core_versions(server_address: &str) -> APIVersions {
    APIVersions {
        versions: vec!["v1".into()],
        server_address_by_client_cidrs: vec![ServerAddressByClientCIDR {
            client_cidr: "0.0.0.0/0".into(),
            server_address: server_address.into(),
        }],
    }
}

/// `/apis/<group>`, if the group is served (the core group is not a named group).
pub fn group(name: &str) -> Option<APIGroup> {
    let versions: Vec<GroupVersionForDiscovery> = resources::group_versions()
        .into_iter()
        .filter(|(g, _)| *g == name && !g.is_empty())
        .map(|(g, v)| GroupVersionForDiscovery {
            group_version: format!("{g}/{v}"),
            version: v.into(),
        })
        .collect();
    let preferred = versions.first()?.clone();
    Some(APIGroup {
        name: name.into(),
        versions,
        preferred_version: Some(preferred),
        server_address_by_client_cidrs: None,
    })
}

/// `/apis`: every named group, in registry order.
pub fn groups() -> APIGroupList {
    let mut names: Vec<&str> = Vec::new();
    for (g, _) in resources::group_versions() {
        if !g.is_empty() && !names.contains(&g) {
            names.push(g);
        }
    }
    APIGroupList {
        groups: names.into_iter().filter_map(group).collect(),
    }
}

/// `/api/v1` or `/apis/<group>/<version>`, if served.
pub fn resource_list(group: &str, version: &str) -> Option<APIResourceList> {
    let served: Vec<&ResourceInfo> = resources::RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .collect();
    let first = served.first()?;
    let mut list = Vec::new();
    for r in &served {
        list.push(APIResource {
            name: r.plural.into(),
            singular_name: r.singular.into(),
            namespaced: r.namespaced,
            kind: r.kind.into(),
            verbs: strings(if r.stored {
                RESOURCE_VERBS
            } else {
                &["create"]
            }),
            short_names: (!r.short_names.is_empty()).then(|| strings(r.short_names)),
            categories: (!r.categories.is_empty()).then(|| strings(r.categories)),
            ..APIResource::default()
        });
        for sub in r.subresources {
            let (kind, group, version) = match sub {
                Subresource::Status => (r.kind, None, None),
                Subresource::Scale => ("Scale", Some("autoscaling".into()), Some("v1".into())),
            };
            list.push(APIResource {
                name: format!("{}/{}", r.plural, sub.name()),
                singular_name: String::new(),
                namespaced: r.namespaced,
                kind: kind.into(),
                group,
                version,
                verbs: strings(SUBRESOURCE_VERBS),
                ..APIResource::default()
            });
        }
    }
    Some(APIResourceList {
        group_version: first.api_version.into(),
        resources: list,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_resources_carry_short_names_and_categories() {
        let core = resource_list("", "v1").expect("core served");
        assert_eq!(core.group_version, "v1");
        let svc = core
            .resources
            .iter()
            .find(|r| r.name == "services")
            .expect("services");
        assert_eq!(svc.short_names.as_deref(), Some(&["svc".to_owned()][..]));
        assert_eq!(svc.categories.as_deref(), Some(&["all".to_owned()][..]));
        assert!(svc.verbs.contains(&"watch".to_owned()));
        let status = core
            .resources
            .iter()
            .find(|r| r.name == "services/status")
            .expect("services/status");
        assert_eq!(status.verbs, ["get", "patch", "update"]);
        let ns = core
            .resources
            .iter()
            .find(|r| r.name == "namespaces")
            .expect("ns");
        assert!(!ns.namespaced);
    }

    #[test]
    fn scale_is_an_autoscaling_v1_subresource() {
        let apps = resource_list("apps", "v1").expect("apps served");
        assert_eq!(apps.group_version, "apps/v1");
        let scale = apps
            .resources
            .iter()
            .find(|r| r.name == "deployments/scale")
            .expect("deployments/scale");
        assert_eq!(
            (
                scale.kind.as_str(),
                scale.group.as_deref(),
                scale.version.as_deref()
            ),
            ("Scale", Some("autoscaling"), Some("v1"))
        );
    }

    #[test]
    fn groups_list_every_named_group_once() {
        let names: Vec<String> = groups().groups.into_iter().map(|g| g.name).collect();
        assert_eq!(
            names,
            [
                "apps",
                "discovery.k8s.io",
                "networking.k8s.io",
                "coordination.k8s.io",
                "rbac.authorization.k8s.io",
                "authorization.k8s.io"
            ]
        );
        let net = group("networking.k8s.io").expect("served");
        assert_eq!(
            net.preferred_version.map(|v| v.group_version),
            Some("networking.k8s.io/v1".into())
        );
        assert!(group("").is_none() && group("batch").is_none());
        assert!(resource_list("apps", "v1beta1").is_none());
        assert_eq!(core_versions("127.0.0.1:6443").versions, ["v1"]);
    }
}
