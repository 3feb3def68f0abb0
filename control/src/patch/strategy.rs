//! Strategic-merge-patch metadata of the built-in kinds this server serves:
//! which fields merge (and by which key), which retain keys, and which type
//! each field holds, so `kind + JSON path -> strategy` can be answered.
//!
//! The data is transcribed from the `patchStrategy` / `patchMergeKey` Go
//! struct tags of kubernetes/api v0.33.0 (Kubernetes 1.33, matching
//! k8s-openapi's `v1_33`) and kubernetes/apimachinery v0.33.0 (for
//! `ObjectMeta`). Only fields that carry a tag, or lead to a type that does,
//! appear here: every other field has the default behaviour (maps merge
//! recursively, lists are replaced), exactly as an untagged Go field.
//!
//! This module holds data and lookups only; it must not apply patches.

/// The non-`retainKeys` part of a `patchStrategy` tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PatchStrategy {
    /// `merge`: lists merge element-wise (by merge key for objects, as a set
    /// for primitives).
    Merge,
    /// `replace`: the patch value replaces the field, even for maps.
    Replace,
}

/// How a strategic merge patch treats one field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FieldStrategy {
    /// `merge` or `replace`; `None` when the tag is only `retainKeys`.
    pub strategy: Option<PatchStrategy>,
    /// The tag contains `retainKeys`: clients send `$retainKeys` for it.
    pub retain_keys: bool,
    /// `patchMergeKey`: the field identifying list elements.
    pub merge_key: Option<&'static str>,
}

impl FieldStrategy {
    /// `patchStrategy:"merge"` on a list of primitives.
    pub const fn merge() -> FieldStrategy {
        FieldStrategy {
            strategy: Some(PatchStrategy::Merge),
            retain_keys: false,
            merge_key: None,
        }
    }

    /// `patchStrategy:"merge" patchMergeKey:"<key>"`.
    pub const fn merge_by(key: &'static str) -> FieldStrategy {
        FieldStrategy {
            strategy: Some(PatchStrategy::Merge),
            retain_keys: false,
            merge_key: Some(key),
        }
    }

    /// `patchStrategy:"merge,retainKeys" patchMergeKey:"<key>"`.
    pub const fn merge_retain_keys_by(key: &'static str) -> FieldStrategy {
        FieldStrategy {
            strategy: Some(PatchStrategy::Merge),
            retain_keys: true,
            merge_key: Some(key),
        }
    }

    /// `patchStrategy:"retainKeys"`.
    pub const fn retain_keys() -> FieldStrategy {
        FieldStrategy {
            strategy: None,
            retain_keys: true,
            merge_key: None,
        }
    }

    /// `patchStrategy:"replace"`.
    pub const fn replace() -> FieldStrategy {
        FieldStrategy {
            strategy: Some(PatchStrategy::Replace),
            retain_keys: false,
            merge_key: None,
        }
    }

    /// The tag text, as published in OpenAPI `x-kubernetes-patch-strategy`.
    pub fn tag(&self) -> &'static str {
        match (self.strategy, self.retain_keys) {
            (Some(PatchStrategy::Merge), false) => "merge",
            (Some(PatchStrategy::Merge), true) => "merge,retainKeys",
            (Some(PatchStrategy::Replace), false) => "replace",
            (Some(PatchStrategy::Replace), true) => "replace,retainKeys",
            (None, true) => "retainKeys",
            (None, false) => "",
        }
    }

    /// Whether lists under this field merge rather than being replaced.
    pub fn merges(&self) -> bool {
        self.strategy == Some(PatchStrategy::Merge)
    }
}

/// One struct type of the API, reduced to its patch-relevant fields.
#[derive(Debug)]
pub struct TypeDef {
    /// OpenAPI definition name, e.g. `io.k8s.api.core.v1.PodSpec`.
    pub name: &'static str,
    /// Fields with a patch strategy or leading to a type that has one.
    pub fields: &'static [FieldDef],
}

/// One field of a [`TypeDef`].
#[derive(Debug)]
pub struct FieldDef {
    /// The JSON field name.
    pub name: &'static str,
    /// The field's tag, if it has one.
    pub strategy: Option<FieldStrategy>,
    /// The struct type the field holds (the element type for lists), when
    /// that type has patch-relevant fields of its own.
    pub ty: Option<&'static TypeDef>,
}

impl TypeDef {
    /// The field with this JSON name, if it is patch-relevant.
    pub fn field(&self, name: &str) -> Option<&'static FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }
}

const fn tagged(name: &'static str, strategy: FieldStrategy) -> FieldDef {
    FieldDef {
        name,
        strategy: Some(strategy),
        ty: None,
    }
}

const fn tagged_holding(
    name: &'static str,
    strategy: FieldStrategy,
    ty: &'static TypeDef,
) -> FieldDef {
    FieldDef {
        name,
        strategy: Some(strategy),
        ty: Some(ty),
    }
}

const fn holding(name: &'static str, ty: &'static TypeDef) -> FieldDef {
    FieldDef {
        name,
        strategy: None,
        ty: Some(ty),
    }
}

const METADATA: FieldDef = holding("metadata", &OBJECT_META);

// ---- meta/v1 ---------------------------------------------------------------

// kubernetes/apimachinery v0.33.0 pkg/apis/meta/v1/types.go: type ObjectMeta
static OBJECT_META: TypeDef = TypeDef {
    name: "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
    fields: &[
        tagged("ownerReferences", FieldStrategy::merge_by("uid")),
        tagged("finalizers", FieldStrategy::merge()),
    ],
};

// ---- core/v1: pods and templates --------------------------------------------

// kubernetes/api v0.33.0 core/v1/types.go: type PodTemplateSpec
static POD_TEMPLATE_SPEC: TypeDef = TypeDef {
    name: "io.k8s.api.core.v1.PodTemplateSpec",
    fields: &[METADATA, holding("spec", &POD_SPEC)],
};

// kubernetes/api v0.33.0 core/v1/types.go: type PodSpec
static POD_SPEC: TypeDef = TypeDef {
    name: "io.k8s.api.core.v1.PodSpec",
    fields: &[
        tagged_holding(
            "volumes",
            FieldStrategy::merge_retain_keys_by("name"),
            &VOLUME,
        ),
        tagged_holding(
            "initContainers",
            FieldStrategy::merge_by("name"),
            &CONTAINER,
        ),
        tagged_holding("containers", FieldStrategy::merge_by("name"), &CONTAINER),
        tagged_holding(
            "ephemeralContainers",
            FieldStrategy::merge_by("name"),
            &EPHEMERAL_CONTAINER,
        ),
        tagged("imagePullSecrets", FieldStrategy::merge_by("name")),
        tagged("hostAliases", FieldStrategy::merge_by("ip")),
        tagged(
            "topologySpreadConstraints",
            FieldStrategy::merge_by("topologyKey"),
        ),
        tagged("schedulingGates", FieldStrategy::merge_by("name")),
        tagged(
            "resourceClaims",
            FieldStrategy::merge_retain_keys_by("name"),
        ),
    ],
};

// kubernetes/api v0.33.0 core/v1/types.go: type Container
static CONTAINER: TypeDef = TypeDef {
    name: "io.k8s.api.core.v1.Container",
    fields: &[
        tagged("ports", FieldStrategy::merge_by("containerPort")),
        tagged("env", FieldStrategy::merge_by("name")),
        tagged("volumeMounts", FieldStrategy::merge_by("mountPath")),
        tagged("volumeDevices", FieldStrategy::merge_by("devicePath")),
    ],
};

// kubernetes/api v0.33.0 core/v1/types.go: type EphemeralContainer, whose
// fields come from the inlined type EphemeralContainerCommon.
static EPHEMERAL_CONTAINER: TypeDef = TypeDef {
    name: "io.k8s.api.core.v1.EphemeralContainer",
    fields: &[
        tagged("ports", FieldStrategy::merge_by("containerPort")),
        tagged("env", FieldStrategy::merge_by("name")),
        tagged("volumeMounts", FieldStrategy::merge_by("mountPath")),
        tagged("volumeDevices", FieldStrategy::merge_by("devicePath")),
    ],
};

// kubernetes/api v0.33.0 core/v1/types.go: type Volume, whose `ephemeral`
// comes from the inlined type VolumeSource.
static VOLUME: TypeDef = TypeDef {
    name: "io.k8s.api.core.v1.Volume",
    fields: &[holding("ephemeral", &EPHEMERAL_VOLUME_SOURCE)],
};

// kubernetes/api v0.33.0 core/v1/types.go: type EphemeralVolumeSource
static EPHEMERAL_VOLUME_SOURCE: TypeDef = TypeDef {
    name: "io.k8s.api.core.v1.EphemeralVolumeSource",
    fields: &[holding(
        "volumeClaimTemplate",
        &PERSISTENT_VOLUME_CLAIM_TEMPLATE,
    )],
};

// kubernetes/api v0.33.0 core/v1/types.go: type PersistentVolumeClaimTemplate
static PERSISTENT_VOLUME_CLAIM_TEMPLATE: TypeDef = TypeDef {
    name: "io.k8s.api.core.v1.PersistentVolumeClaimTemplate",
    fields: &[METADATA],
};

// kubernetes/api v0.33.0 core/v1/types.go: type PodStatus
static POD_STATUS: TypeDef = TypeDef {
    name: "io.k8s.api.core.v1.PodStatus",
    fields: &[
        tagged("conditions", FieldStrategy::merge_by("type")),
        tagged("hostIPs", FieldStrategy::merge_by("ip")),
        tagged("podIPs", FieldStrategy::merge_by("ip")),
        holding("initContainerStatuses", &CONTAINER_STATUS),
        holding("containerStatuses", &CONTAINER_STATUS),
        holding("ephemeralContainerStatuses", &CONTAINER_STATUS),
        tagged(
            "resourceClaimStatuses",
            FieldStrategy::merge_retain_keys_by("name"),
        ),
    ],
};

// kubernetes/api v0.33.0 core/v1/types.go: type ContainerStatus
static CONTAINER_STATUS: TypeDef = TypeDef {
    name: "io.k8s.api.core.v1.ContainerStatus",
    fields: &[
        tagged("volumeMounts", FieldStrategy::merge_by("mountPath")),
        tagged("allocatedResourcesStatus", FieldStrategy::merge_by("name")),
    ],
};

// ---- core/v1: other kinds ---------------------------------------------------

// kubernetes/api v0.33.0 core/v1/types.go: type NamespaceStatus
static NAMESPACE_STATUS: TypeDef = TypeDef {
    name: "io.k8s.api.core.v1.NamespaceStatus",
    fields: &[tagged("conditions", FieldStrategy::merge_by("type"))],
};

// kubernetes/api v0.33.0 core/v1/types.go: type NodeSpec
static NODE_SPEC: TypeDef = TypeDef {
    name: "io.k8s.api.core.v1.NodeSpec",
    fields: &[tagged("podCIDRs", FieldStrategy::merge())],
};

// kubernetes/api v0.33.0 core/v1/types.go: type NodeStatus
static NODE_STATUS: TypeDef = TypeDef {
    name: "io.k8s.api.core.v1.NodeStatus",
    fields: &[
        tagged("conditions", FieldStrategy::merge_by("type")),
        tagged("addresses", FieldStrategy::merge_by("type")),
    ],
};

// kubernetes/api v0.33.0 core/v1/types.go: type ServiceSpec
static SERVICE_SPEC: TypeDef = TypeDef {
    name: "io.k8s.api.core.v1.ServiceSpec",
    fields: &[tagged("ports", FieldStrategy::merge_by("port"))],
};

// kubernetes/api v0.33.0 core/v1/types.go: type ServiceStatus
static SERVICE_STATUS: TypeDef = TypeDef {
    name: "io.k8s.api.core.v1.ServiceStatus",
    fields: &[tagged("conditions", FieldStrategy::merge_by("type"))],
};

// ---- apps/v1 ----------------------------------------------------------------

// kubernetes/api v0.33.0 apps/v1/types.go: type DeploymentSpec
static DEPLOYMENT_SPEC: TypeDef = TypeDef {
    name: "io.k8s.api.apps.v1.DeploymentSpec",
    fields: &[
        holding("template", &POD_TEMPLATE_SPEC),
        tagged("strategy", FieldStrategy::retain_keys()),
    ],
};

// kubernetes/api v0.33.0 apps/v1/types.go: type DeploymentStatus
static DEPLOYMENT_STATUS: TypeDef = TypeDef {
    name: "io.k8s.api.apps.v1.DeploymentStatus",
    fields: &[tagged("conditions", FieldStrategy::merge_by("type"))],
};

// kubernetes/api v0.33.0 apps/v1/types.go: type ReplicaSetSpec
static REPLICA_SET_SPEC: TypeDef = TypeDef {
    name: "io.k8s.api.apps.v1.ReplicaSetSpec",
    fields: &[holding("template", &POD_TEMPLATE_SPEC)],
};

// kubernetes/api v0.33.0 apps/v1/types.go: type ReplicaSetStatus
static REPLICA_SET_STATUS: TypeDef = TypeDef {
    name: "io.k8s.api.apps.v1.ReplicaSetStatus",
    fields: &[tagged("conditions", FieldStrategy::merge_by("type"))],
};

// ---- kinds ------------------------------------------------------------------

// kubernetes/api v0.33.0 core/v1/types.go: type Namespace (NamespaceSpec's
// `finalizers` has no tag, so it is replaced, unlike metadata.finalizers)
static NAMESPACE: TypeDef = TypeDef {
    name: "io.k8s.api.core.v1.Namespace",
    fields: &[METADATA, holding("status", &NAMESPACE_STATUS)],
};

// kubernetes/api v0.33.0 core/v1/types.go: type Node
static NODE: TypeDef = TypeDef {
    name: "io.k8s.api.core.v1.Node",
    fields: &[
        METADATA,
        holding("spec", &NODE_SPEC),
        holding("status", &NODE_STATUS),
    ],
};

// kubernetes/api v0.33.0 core/v1/types.go: type Pod
static POD: TypeDef = TypeDef {
    name: "io.k8s.api.core.v1.Pod",
    fields: &[
        METADATA,
        holding("spec", &POD_SPEC),
        holding("status", &POD_STATUS),
    ],
};

// kubernetes/api v0.33.0 core/v1/types.go: type Service
static SERVICE: TypeDef = TypeDef {
    name: "io.k8s.api.core.v1.Service",
    fields: &[
        METADATA,
        holding("spec", &SERVICE_SPEC),
        holding("status", &SERVICE_STATUS),
    ],
};

// kubernetes/api v0.33.0 core/v1/types.go: type Endpoints (no tagged fields
// below EndpointSubset)
static ENDPOINTS: TypeDef = TypeDef {
    name: "io.k8s.api.core.v1.Endpoints",
    fields: &[METADATA],
};

// kubernetes/api v0.33.0 core/v1/types.go: type Secret
static SECRET: TypeDef = TypeDef {
    name: "io.k8s.api.core.v1.Secret",
    fields: &[METADATA],
};

// kubernetes/api v0.33.0 core/v1/types.go: type ConfigMap
static CONFIG_MAP: TypeDef = TypeDef {
    name: "io.k8s.api.core.v1.ConfigMap",
    fields: &[METADATA],
};

// kubernetes/api v0.33.0 core/v1/types.go: type Event
static EVENT: TypeDef = TypeDef {
    name: "io.k8s.api.core.v1.Event",
    fields: &[METADATA],
};

// kubernetes/api v0.33.0 core/v1/types.go: type ServiceAccount
static SERVICE_ACCOUNT: TypeDef = TypeDef {
    name: "io.k8s.api.core.v1.ServiceAccount",
    fields: &[METADATA, tagged("secrets", FieldStrategy::merge_by("name"))],
};

// kubernetes/api v0.33.0 apps/v1/types.go: type Deployment
static DEPLOYMENT: TypeDef = TypeDef {
    name: "io.k8s.api.apps.v1.Deployment",
    fields: &[
        METADATA,
        holding("spec", &DEPLOYMENT_SPEC),
        holding("status", &DEPLOYMENT_STATUS),
    ],
};

// kubernetes/api v0.33.0 apps/v1/types.go: type ReplicaSet
static REPLICA_SET: TypeDef = TypeDef {
    name: "io.k8s.api.apps.v1.ReplicaSet",
    fields: &[
        METADATA,
        holding("spec", &REPLICA_SET_SPEC),
        holding("status", &REPLICA_SET_STATUS),
    ],
};

// kubernetes/api v0.33.0 discovery/v1/types.go: type EndpointSlice (the
// file has no patchStrategy tags at all)
static ENDPOINT_SLICE: TypeDef = TypeDef {
    name: "io.k8s.api.discovery.v1.EndpointSlice",
    fields: &[METADATA],
};

// kubernetes/api v0.33.0 networking/v1/types.go: type Ingress (its only tag
// is on ServiceCIDRStatus, not reachable from these kinds)
static INGRESS: TypeDef = TypeDef {
    name: "io.k8s.api.networking.v1.Ingress",
    fields: &[METADATA],
};

// kubernetes/api v0.33.0 networking/v1/types.go: type IngressClass
static INGRESS_CLASS: TypeDef = TypeDef {
    name: "io.k8s.api.networking.v1.IngressClass",
    fields: &[METADATA],
};

// kubernetes/api v0.33.0 networking/v1/types.go: type NetworkPolicy
static NETWORK_POLICY: TypeDef = TypeDef {
    name: "io.k8s.api.networking.v1.NetworkPolicy",
    fields: &[METADATA],
};

// kubernetes/api v0.33.0 coordination/v1/types.go: type Lease (no tags)
static LEASE: TypeDef = TypeDef {
    name: "io.k8s.api.coordination.v1.Lease",
    fields: &[METADATA],
};

// kubernetes/api v0.33.0 rbac/v1/types.go: type Role (the file has no tags)
static ROLE: TypeDef = TypeDef {
    name: "io.k8s.api.rbac.v1.Role",
    fields: &[METADATA],
};

// kubernetes/api v0.33.0 rbac/v1/types.go: type ClusterRole
static CLUSTER_ROLE: TypeDef = TypeDef {
    name: "io.k8s.api.rbac.v1.ClusterRole",
    fields: &[METADATA],
};

// kubernetes/api v0.33.0 rbac/v1/types.go: type RoleBinding
static ROLE_BINDING: TypeDef = TypeDef {
    name: "io.k8s.api.rbac.v1.RoleBinding",
    fields: &[METADATA],
};

// kubernetes/api v0.33.0 rbac/v1/types.go: type ClusterRoleBinding
static CLUSTER_ROLE_BINDING: TypeDef = TypeDef {
    name: "io.k8s.api.rbac.v1.ClusterRoleBinding",
    fields: &[METADATA],
};

/// Every kind with strategic-merge-patch metadata, by `kind`.
static KINDS: &[(&str, &TypeDef)] = &[
    ("Namespace", &NAMESPACE),
    ("Node", &NODE),
    ("Pod", &POD),
    ("Service", &SERVICE),
    ("Endpoints", &ENDPOINTS),
    ("Secret", &SECRET),
    ("ConfigMap", &CONFIG_MAP),
    ("Event", &EVENT),
    ("ServiceAccount", &SERVICE_ACCOUNT),
    ("Deployment", &DEPLOYMENT),
    ("ReplicaSet", &REPLICA_SET),
    ("EndpointSlice", &ENDPOINT_SLICE),
    ("Ingress", &INGRESS),
    ("IngressClass", &INGRESS_CLASS),
    ("NetworkPolicy", &NETWORK_POLICY),
    ("Lease", &LEASE),
    ("Role", &ROLE),
    ("ClusterRole", &CLUSTER_ROLE),
    ("RoleBinding", &ROLE_BINDING),
    ("ClusterRoleBinding", &CLUSTER_ROLE_BINDING),
];

/// Every type in the graph, each once (kinds first), for OpenAPI output.
static TYPES: &[&TypeDef] = &[
    &NAMESPACE,
    &NODE,
    &POD,
    &SERVICE,
    &ENDPOINTS,
    &SECRET,
    &CONFIG_MAP,
    &EVENT,
    &SERVICE_ACCOUNT,
    &DEPLOYMENT,
    &REPLICA_SET,
    &ENDPOINT_SLICE,
    &INGRESS,
    &INGRESS_CLASS,
    &NETWORK_POLICY,
    &LEASE,
    &ROLE,
    &CLUSTER_ROLE,
    &ROLE_BINDING,
    &CLUSTER_ROLE_BINDING,
    &OBJECT_META,
    &POD_TEMPLATE_SPEC,
    &POD_SPEC,
    &CONTAINER,
    &EPHEMERAL_CONTAINER,
    &VOLUME,
    &EPHEMERAL_VOLUME_SOURCE,
    &PERSISTENT_VOLUME_CLAIM_TEMPLATE,
    &POD_STATUS,
    &CONTAINER_STATUS,
    &NAMESPACE_STATUS,
    &NODE_SPEC,
    &NODE_STATUS,
    &SERVICE_SPEC,
    &SERVICE_STATUS,
    &DEPLOYMENT_SPEC,
    &DEPLOYMENT_STATUS,
    &REPLICA_SET_SPEC,
    &REPLICA_SET_STATUS,
];

/// The root type of a kind (`"Pod"`, `"Deployment"`, ...), if it is served.
pub fn kind_type(kind: &str) -> Option<&'static TypeDef> {
    KINDS.iter().find(|(k, _)| *k == kind).map(|(_, t)| *t)
}

/// The strategy of the field at `path` (JSON field names from the object
/// root, list indices omitted) in `kind`, if that field has a tag.
pub fn field_strategy(kind: &str, path: &[&str]) -> Option<FieldStrategy> {
    let (last, parents) = path.split_last()?;
    let mut ty = kind_type(kind)?;
    for name in parents {
        ty = ty.field(name)?.ty?;
    }
    ty.field(last)?.strategy
}

/// Every tagged field: (OpenAPI type name, JSON field name, strategy).
pub fn list_strategies() -> impl Iterator<Item = (&'static str, &'static str, FieldStrategy)> {
    TYPES.iter().flat_map(|ty| {
        ty.fields
            .iter()
            .filter_map(move |f| f.strategy.map(|s| (ty.name, f.name, s)))
    })
}

/// Every type of the graph, for consumers that need the full table.
pub fn types() -> impl Iterator<Item = &'static TypeDef> {
    TYPES.iter().copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn lookups_follow_the_type_graph() {
        let merge_by = FieldStrategy::merge_by;
        let cases: &[(&str, &[&str], Option<FieldStrategy>)] = &[
            ("Pod", &["spec", "containers"], Some(merge_by("name"))),
            ("Pod", &["spec", "initContainers"], Some(merge_by("name"))),
            (
                "Pod",
                &["spec", "containers", "ports"],
                Some(merge_by("containerPort")),
            ),
            (
                "Pod",
                &["spec", "containers", "env"],
                Some(merge_by("name")),
            ),
            (
                "Pod",
                &["spec", "containers", "volumeMounts"],
                Some(merge_by("mountPath")),
            ),
            (
                "Pod",
                &["spec", "ephemeralContainers", "env"],
                Some(merge_by("name")),
            ),
            (
                "Pod",
                &["spec", "volumes"],
                Some(FieldStrategy::merge_retain_keys_by("name")),
            ),
            (
                "Pod",
                &[
                    "spec",
                    "volumes",
                    "ephemeral",
                    "volumeClaimTemplate",
                    "metadata",
                    "finalizers",
                ],
                Some(FieldStrategy::merge()),
            ),
            ("Pod", &["status", "conditions"], Some(merge_by("type"))),
            (
                "Pod",
                &["status", "containerStatuses", "volumeMounts"],
                Some(merge_by("mountPath")),
            ),
            ("Pod", &["spec", "tolerations"], None),
            ("Pod", &["spec", "containers", "args"], None),
            (
                "Deployment",
                &["spec", "template", "spec", "containers"],
                Some(merge_by("name")),
            ),
            (
                "Deployment",
                &["spec", "template", "metadata", "ownerReferences"],
                Some(merge_by("uid")),
            ),
            (
                "Deployment",
                &["spec", "strategy"],
                Some(FieldStrategy::retain_keys()),
            ),
            (
                "ReplicaSet",
                &["spec", "template", "spec", "volumes"],
                Some(FieldStrategy::merge_retain_keys_by("name")),
            ),
            ("Service", &["spec", "ports"], Some(merge_by("port"))),
            ("Service", &["spec", "ipFamilies"], None),
            ("Node", &["status", "addresses"], Some(merge_by("type"))),
            ("Node", &["spec", "podCIDRs"], Some(FieldStrategy::merge())),
            ("Node", &["spec", "taints"], None),
            ("Namespace", &["spec", "finalizers"], None),
            (
                "Namespace",
                &["status", "conditions"],
                Some(merge_by("type")),
            ),
            ("ServiceAccount", &["secrets"], Some(merge_by("name"))),
            (
                "ConfigMap",
                &["metadata", "finalizers"],
                Some(FieldStrategy::merge()),
            ),
            (
                "Lease",
                &["metadata", "ownerReferences"],
                Some(merge_by("uid")),
            ),
            ("EndpointSlice", &["endpoints"], None),
            ("ClusterRole", &["rules"], None),
            ("NoSuchKind", &["metadata", "finalizers"], None),
            ("Pod", &[], None),
        ];
        for (kind, path, want) in cases {
            assert_eq!(field_strategy(kind, path), *want, "{kind} {path:?}");
        }
    }

    #[test]
    fn tags_render_as_in_go() {
        let cases = [
            (FieldStrategy::merge(), "merge"),
            (FieldStrategy::merge_by("name"), "merge"),
            (
                FieldStrategy::merge_retain_keys_by("name"),
                "merge,retainKeys",
            ),
            (FieldStrategy::retain_keys(), "retainKeys"),
            (FieldStrategy::replace(), "replace"),
        ];
        for (strategy, tag) in cases {
            assert_eq!(strategy.tag(), tag);
        }
    }

    fn reachable() -> BTreeSet<&'static str> {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<&TypeDef> = KINDS.iter().map(|(_, t)| *t).collect();
        while let Some(ty) = stack.pop() {
            if seen.insert(ty.name) {
                stack.extend(ty.fields.iter().filter_map(|f| f.ty));
            }
        }
        seen
    }

    #[test]
    fn type_list_is_exactly_the_reachable_graph() {
        let listed: BTreeSet<&str> = types().map(|t| t.name).collect();
        assert_eq!(listed.len(), TYPES.len(), "a type is listed twice");
        assert_eq!(listed, reachable());
    }

    #[test]
    fn every_listed_field_is_useful_and_unique() {
        for ty in types() {
            let names: BTreeSet<&str> = ty.fields.iter().map(|f| f.name).collect();
            assert_eq!(names.len(), ty.fields.len(), "{} repeats a field", ty.name);
            for f in ty.fields {
                assert!(
                    f.strategy.is_some() || f.ty.is_some(),
                    "{}.{} carries nothing",
                    ty.name,
                    f.name
                );
                if let Some(s) = f.strategy {
                    assert!(
                        !s.tag().is_empty(),
                        "{}.{} has an empty tag",
                        ty.name,
                        f.name
                    );
                }
            }
        }
    }

    #[test]
    fn list_strategies_matches_the_go_tags() {
        // One row per `patchStrategy` tag in the v0.33.0 sources reachable
        // from the served kinds (EphemeralContainerCommon's four appear
        // under EphemeralContainer, which inlines it).
        let rows: BTreeSet<(&str, &str, &str, Option<&str>)> = list_strategies()
            .map(|(t, f, s)| (t, f, s.tag(), s.merge_key))
            .collect();
        assert_eq!(rows.len(), list_strategies().count());
        assert_eq!(rows.len(), 35);
        for row in [
            (
                "io.k8s.api.core.v1.PodSpec",
                "containers",
                "merge",
                Some("name"),
            ),
            (
                "io.k8s.api.core.v1.PodSpec",
                "volumes",
                "merge,retainKeys",
                Some("name"),
            ),
            (
                "io.k8s.api.core.v1.Container",
                "volumeMounts",
                "merge",
                Some("mountPath"),
            ),
            (
                "io.k8s.api.core.v1.ServiceSpec",
                "ports",
                "merge",
                Some("port"),
            ),
            (
                "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
                "finalizers",
                "merge",
                None,
            ),
            (
                "io.k8s.api.apps.v1.DeploymentSpec",
                "strategy",
                "retainKeys",
                None,
            ),
        ] {
            assert!(rows.contains(&row), "missing {row:?}");
        }
    }
}
