//! The RBAC authorizer of the API server (kube-apiserver's `--authorization-mode=RBAC`).
//!
//! Holds the request attributes and decisions, the indexed [`Policy`] built from Roles,
//! ClusterRoles, RoleBindings and ClusterRoleBindings, rule matching, ClusterRole
//! aggregation and the bootstrap ClusterRoles a cluster starts with.
//!
//! Everything here is pure: objects in, decisions out. This module must not read the
//! store, watch objects, log or build HTTP responses; the caller resolves the request into
//! [`Attributes`] (including kube's quirks: `get namespaces/foo` carries namespace `foo`,
//! and `list`/`watch` with a `metadata.name=` field selector carries that name) and turns a
//! [`Decision::Deny`] into a `Forbidden` status.

mod aggregation;
mod authorize;
mod bootstrap;
mod policy;
mod rules;

pub use crate::selector::SelectorError;
pub use aggregation::{AggregationError, aggregate_cluster_roles};
pub use authorize::authorize;
pub use bootstrap::bootstrap_policy;
pub use policy::Policy;
pub use rules::rule_allows;

/// The authenticated user a request is evaluated for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserInfo {
    /// User name; service accounts are `system:serviceaccount:<namespace>:<name>`.
    pub name: String,
    /// Groups, already including `system:authenticated` where it applies.
    pub groups: Vec<String>,
}

/// What a request wants to do, as kube-apiserver's `authorizer.Attributes`.
///
/// `None` and `Some("")` mean the same thing, as the empty string does in kube.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attributes {
    /// A request for an API resource (`/api/...`, `/apis/...`).
    Resource {
        /// Lower-case verb: `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, ...
        verb: String,
        /// API group; `""` for the core group.
        api_group: String,
        /// Plural resource name, e.g. `pods`.
        resource: String,
        /// Subresource, e.g. `log` or `scale`.
        subresource: Option<String>,
        /// Namespace of the request; `None` for cluster-scoped requests.
        namespace: Option<String>,
        /// Object name, when the request names one.
        name: Option<String>,
    },
    /// A request for any other path (`/healthz`, `/version`, `/api`, ...).
    NonResource {
        /// Lower-case HTTP verb, e.g. `get`.
        verb: String,
        /// Request path, e.g. `/healthz`.
        path: String,
    },
}

/// The outcome of [`authorize`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// A rule allows the request; `reason` names the binding, role and subject.
    Allow {
        /// e.g. `RBAC: allowed by ClusterRoleBinding "cluster-admin" of ClusterRole "cluster-admin" to Group "system:masters"`.
        reason: String,
    },
    /// No rule allows the request (kube's `DecisionNoOpinion`, final for an RBAC-only server).
    Deny {
        /// Empty unless a binding could not be resolved, then `RBAC: <errors>` as kube sends
        /// it after the forbidden message.
        reason: String,
    },
}

impl Decision {
    /// Whether the request is allowed.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow { .. })
    }

    /// The reason text, for either outcome.
    pub fn reason(&self) -> &str {
        match self {
            Decision::Allow { reason } | Decision::Deny { reason } => reason,
        }
    }
}

/// Why a binding applying to the user could not contribute rules.
///
/// The texts are kube-apiserver's, since they reach users in `Forbidden` messages.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// The binding references a Role that does not exist in its namespace.
    #[error("role.rbac.authorization.k8s.io {name:?} not found")]
    RoleNotFound {
        /// Namespace the Role was looked up in (empty for a ClusterRoleBinding).
        namespace: String,
        /// Referenced Role name.
        name: String,
    },
    /// The binding references a ClusterRole that does not exist.
    #[error("clusterrole.rbac.authorization.k8s.io {name:?} not found")]
    ClusterRoleNotFound {
        /// Referenced ClusterRole name.
        name: String,
    },
    /// The binding's `roleRef.kind` is neither `Role` nor `ClusterRole`.
    #[error("unsupported role reference kind: {kind:?}")]
    UnsupportedRoleRefKind {
        /// The offending kind.
        kind: String,
    },
}
