//! How the served kinds merge under server-side apply, read from the
//! strategic-merge-patch key table ([`crate::patch::strategy`]): a list with
//! `patchStrategy:"merge"` and a merge key is a list-map on that key, one
//! without a key is a set, everything else is atomic. Where kube-apiserver's
//! OpenAPI (`x-kubernetes-list-type`, `x-kubernetes-list-map-keys`,
//! `x-kubernetes-map-type`) says otherwise, a short override table here wins:
//! ports keyed by port *and* protocol, topology spread constraints by key
//! and `whenUnsatisfiable`, Node addresses atomic, and the label selectors
//! and node selectors that are replaced whole.
//!
//! Data and lookups only; it must not merge anything.

use serde_json::Value;

use super::{ListType, Schema};
use crate::patch::strategy::{self, TypeDef};

/// The list semantics of one kind.
#[derive(Clone, Copy, Debug)]
pub struct KindSchema {
    root: Option<&'static TypeDef>,
}

/// Lists whose server-side-apply type differs from what their strategic
/// merge tag implies (kubernetes/api v0.33.0 `+listType` / `+listMapKey`).
const LIST_OVERRIDES: &[(&str, &str, &[&str])] = &[
    (
        "io.k8s.api.core.v1.Container",
        "ports",
        &["containerPort", "protocol"],
    ),
    (
        "io.k8s.api.core.v1.EphemeralContainer",
        "ports",
        &["containerPort", "protocol"],
    ),
    (
        "io.k8s.api.core.v1.ServiceSpec",
        "ports",
        &["port", "protocol"],
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "topologySpreadConstraints",
        &["topologyKey", "whenUnsatisfiable"],
    ),
    // `+listType=atomic`: a dual-stack node reports two InternalIPs.
    ("io.k8s.api.core.v1.NodeStatus", "addresses", &[]),
];

/// Key fields that may be omitted, and the value they then have (the
/// OpenAPI `default` of `protocol` in container and service ports).
const KEY_DEFAULTS: &[(&str, &str, &str, &str)] = &[
    ("io.k8s.api.core.v1.Container", "ports", "protocol", "TCP"),
    (
        "io.k8s.api.core.v1.EphemeralContainer",
        "ports",
        "protocol",
        "TCP",
    ),
    ("io.k8s.api.core.v1.ServiceSpec", "ports", "protocol", "TCP"),
];

/// Objects replaced and owned whole: `LabelSelector` is
/// `+structType=atomic`, Service and Pod selectors `+mapType=atomic`.
const ATOMIC_MAPS: &[(&str, &str)] = &[
    ("io.k8s.api.apps.v1.DeploymentSpec", "selector"),
    ("io.k8s.api.apps.v1.ReplicaSetSpec", "selector"),
    ("io.k8s.api.core.v1.ServiceSpec", "selector"),
    ("io.k8s.api.core.v1.PodSpec", "nodeSelector"),
];

impl KindSchema {
    /// The schema of `kind` (`"Deployment"`); a kind without a table gets
    /// atomic lists but for `metadata.finalizers` and `ownerReferences`.
    pub fn of(kind: &str) -> KindSchema {
        KindSchema {
            root: strategy::kind_type(kind),
        }
    }

    /// The type holding the last field of `path`, and that field's name.
    fn locate<'p>(&self, path: &[&'p str]) -> Option<(&'static TypeDef, &'p str)> {
        let (last, parents) = path.split_last()?;
        let mut ty = self.root?;
        for name in parents {
            ty = ty.field(name)?.ty?;
        }
        Some((ty, last))
    }
}

impl Schema for KindSchema {
    fn list_type(&self, path: &[&str]) -> ListType {
        let Some((parent, field)) = self.locate(path) else {
            return match path {
                ["metadata", "finalizers"] => ListType::Set,
                ["metadata", "ownerReferences"] => ListType::Map(vec!["uid"]),
                _ => ListType::Atomic,
            };
        };
        if let Some((_, _, keys)) = LIST_OVERRIDES
            .iter()
            .find(|(ty, name, _)| *ty == parent.name && *name == field)
        {
            return if keys.is_empty() {
                ListType::Atomic
            } else {
                ListType::Map(keys.to_vec())
            };
        }
        match parent.field(field).and_then(|f| f.strategy) {
            Some(s) if s.merges() => match s.merge_key {
                Some(key) => ListType::Map(vec![key]),
                None => ListType::Set,
            },
            _ => ListType::Atomic,
        }
    }

    fn key_default(&self, list: &[&str], field: &str) -> Option<Value> {
        let (parent, name) = self.locate(list)?;
        KEY_DEFAULTS
            .iter()
            .find(|(ty, l, key, _)| *ty == parent.name && *l == name && *key == field)
            .map(|(_, _, _, value)| Value::String((*value).to_owned()))
    }

    fn map_is_atomic(&self, path: &[&str]) -> bool {
        self.locate(path).is_some_and(|(parent, field)| {
            ATOMIC_MAPS
                .iter()
                .any(|(ty, name)| *ty == parent.name && *name == field)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources;
    use serde_json::json;

    fn map(keys: &[&'static str]) -> ListType {
        ListType::Map(keys.to_vec())
    }

    #[test]
    fn list_types_follow_the_key_table_and_the_overrides() {
        let template = ["spec", "template", "spec"];
        let under = |rest: &[&'static str]| -> Vec<&'static str> {
            template.iter().chain(rest).copied().collect()
        };
        let cases: Vec<(&str, Vec<&str>, ListType)> = vec![
            ("Pod", vec!["spec", "containers"], map(&["name"])),
            ("Pod", vec!["spec", "initContainers"], map(&["name"])),
            ("Pod", vec!["spec", "volumes"], map(&["name"])),
            (
                "Pod",
                vec!["spec", "containers", "ports"],
                map(&["containerPort", "protocol"]),
            ),
            ("Pod", vec!["spec", "containers", "env"], map(&["name"])),
            (
                "Pod",
                vec!["spec", "containers", "volumeMounts"],
                map(&["mountPath"]),
            ),
            ("Pod", vec!["spec", "containers", "args"], ListType::Atomic),
            ("Pod", vec!["spec", "tolerations"], ListType::Atomic),
            (
                "Pod",
                vec!["spec", "topologySpreadConstraints"],
                map(&["topologyKey", "whenUnsatisfiable"]),
            ),
            ("Pod", vec!["status", "conditions"], map(&["type"])),
            ("Deployment", under(&["containers"]), map(&["name"])),
            (
                "Deployment",
                under(&["containers", "ports"]),
                map(&["containerPort", "protocol"]),
            ),
            ("Deployment", under(&["containers", "env"]), map(&["name"])),
            ("ReplicaSet", under(&["volumes"]), map(&["name"])),
            ("Deployment", vec!["metadata", "finalizers"], ListType::Set),
            (
                "Deployment",
                vec!["spec", "template", "metadata", "finalizers"],
                ListType::Set,
            ),
            (
                "ConfigMap",
                vec!["metadata", "ownerReferences"],
                map(&["uid"]),
            ),
            ("Service", vec!["spec", "ports"], map(&["port", "protocol"])),
            ("Service", vec!["spec", "ipFamilies"], ListType::Atomic),
            ("Node", vec!["spec", "podCIDRs"], ListType::Set),
            ("Node", vec!["status", "addresses"], ListType::Atomic),
            ("Namespace", vec!["spec", "finalizers"], ListType::Atomic),
            ("ServiceAccount", vec!["secrets"], map(&["name"])),
            ("ClusterRole", vec!["rules"], ListType::Atomic),
            ("EndpointSlice", vec!["endpoints"], ListType::Atomic),
            ("NoSuchKind", vec!["metadata", "finalizers"], ListType::Set),
            ("NoSuchKind", vec!["spec", "items"], ListType::Atomic),
            ("Pod", vec![], ListType::Atomic),
        ];
        for (kind, path, want) in cases {
            assert_eq!(
                KindSchema::of(kind).list_type(&path),
                want,
                "{kind} {path:?}"
            );
        }
    }

    #[test]
    fn protocol_is_the_only_defaulted_key() {
        let cases: &[(&str, &[&str], &str, Option<Value>)] = &[
            (
                "Service",
                &["spec", "ports"],
                "protocol",
                Some(json!("TCP")),
            ),
            ("Service", &["spec", "ports"], "port", None),
            (
                "Deployment",
                &["spec", "template", "spec", "containers", "ports"],
                "protocol",
                Some(json!("TCP")),
            ),
            ("Pod", &["spec", "containers"], "name", None),
            ("Pod", &["spec", "containers", "env"], "protocol", None),
        ];
        for (kind, list, field, want) in cases {
            assert_eq!(
                KindSchema::of(kind).key_default(list, field),
                *want,
                "{kind} {list:?} {field}"
            );
        }
    }

    #[test]
    fn selectors_are_atomic_maps() {
        let cases: &[(&str, &[&str], bool)] = &[
            ("Deployment", &["spec", "selector"], true),
            ("ReplicaSet", &["spec", "selector"], true),
            ("Service", &["spec", "selector"], true),
            ("Pod", &["spec", "nodeSelector"], true),
            (
                "Deployment",
                &["spec", "template", "spec", "nodeSelector"],
                true,
            ),
            ("Deployment", &["spec", "template"], false),
            ("Deployment", &["metadata", "labels"], false),
            ("Service", &["spec"], false),
            ("ConfigMap", &["data"], false),
        ];
        for (kind, path, want) in cases {
            assert_eq!(
                KindSchema::of(kind).map_is_atomic(path),
                *want,
                "{kind} {path:?}"
            );
        }
    }

    #[test]
    fn applies_through_the_kind_schema_like_kube() {
        let deploy = KindSchema::of("Deployment");
        let config = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"spec": {"containers": [
                    {"name": "web", "image": "nginx", "ports": [{"containerPort": 80}]},
                ]}},
            },
        });
        let t = "2024-05-01T10:00:00Z";
        let created = crate::apply::apply(None, &config, "kubectl", false, &deploy, "apps/v1", t)
            .expect("applies");
        let fields = &created["metadata"]["managedFields"][0]["fieldsV1"];
        let container =
            &fields["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"web\"}"];
        assert_eq!(
            container["f:ports"]["k:{\"containerPort\":80,\"protocol\":\"TCP\"}"],
            json!({".": {}, "f:containerPort": {}})
        );
        assert_eq!(fields["f:spec"]["f:selector"], json!({}), "owned whole");

        // Defaulting fills in the protocol; re-applying matches it by key.
        let mut live = created.clone();
        live["spec"]["template"]["spec"]["containers"][0]["ports"][0]["protocol"] = json!("TCP");
        let again = crate::apply::apply(
            Some(&live),
            &config,
            "kubectl",
            false,
            &deploy,
            "apps/v1",
            "2024-05-01T11:00:00Z",
        )
        .expect("re-applies");
        assert_eq!(again, live, "nothing changes, not even the entry's time");

        // Another applier's selector replaces the whole atomic selector and
        // so conflicts on it as one field.
        let other = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {"selector": {"matchLabels": {"app": "web", "tier": "x"}}},
        });
        let err = crate::apply::apply(Some(&live), &other, "other", false, &deploy, "apps/v1", t)
            .expect_err("conflict");
        assert_eq!(
            err.to_string(),
            "Apply failed with 1 conflict: conflict with \"kubectl\": .spec.selector"
        );
    }

    #[test]
    fn every_stored_kind_has_a_table() {
        for resource in resources::RESOURCES.iter().filter(|r| r.stored) {
            assert!(
                KindSchema::of(resource.kind).root.is_some(),
                "{} has no strategic-merge table",
                resource.kind
            );
        }
    }

    #[test]
    fn every_override_names_a_type_of_the_table() {
        let types: Vec<&str> = strategy::types().map(|t| t.name).collect();
        let named = LIST_OVERRIDES
            .iter()
            .map(|(t, _, _)| *t)
            .chain(KEY_DEFAULTS.iter().map(|(t, _, _, _)| *t))
            .chain(ATOMIC_MAPS.iter().map(|(t, _)| *t));
        for ty in named {
            assert!(types.contains(&ty), "{ty} is not in the strategy table");
        }
    }
}
