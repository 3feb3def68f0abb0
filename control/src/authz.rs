//! Authorization: the RBAC policy the server enforces, kept current from
//! the stored Roles, ClusterRoles and bindings, and the RBAC attributes of
//! each request. The rule itself is [`crate::rbac::authorize`].

use std::{
    sync::{Arc, RwLock},
    time::Duration,
};

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use tokio_util::sync::CancellationToken;

use crate::{
    authn::User,
    objects::Objects,
    rbac::{Attributes, Policy, UserInfo},
    request::ResourceRequest,
    resources,
    status::ApiError,
    store::Store,
};

/// Where RBAC objects are stored.
const RBAC_PREFIX: &str = "/registry/rbac.authorization.k8s.io/";

/// The policy in force; readers take a snapshot and never block a reload.
#[derive(Debug, Default)]
pub struct PolicyCache {
    current: RwLock<Arc<Policy>>,
}

impl PolicyCache {
    /// The policy as of the last reload.
    pub fn get(&self) -> Arc<Policy> {
        self.current
            .read()
            .map(|p| p.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    fn set(&self, policy: Policy) {
        match self.current.write() {
            Ok(mut current) => *current = Arc::new(policy),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(policy),
        }
    }
}

async fn typed<S: Store, T: serde::de::DeserializeOwned>(
    objects: &Objects<S>,
    plural: &str,
) -> Result<Vec<T>, ApiError> {
    let resource = resources::find("rbac.authorization.k8s.io", "v1", plural)
        .ok_or_else(|| ApiError::internal(format!("{plural} are not served")))?;
    objects.list_typed(resource, None).await
}

/// Builds the policy from every stored RBAC object (in key order, so which
/// binding an Allow names is stable).
pub async fn load<S: Store>(objects: &Objects<S>) -> Result<Policy, ApiError> {
    Ok(Policy::new(
        typed::<S, Role>(objects, "roles").await?,
        typed::<S, ClusterRole>(objects, "clusterroles").await?,
        typed::<S, RoleBinding>(objects, "rolebindings").await?,
        typed::<S, ClusterRoleBinding>(objects, "clusterrolebindings").await?,
    ))
}

/// Loads the policy into `cache`, then reloads it after every change to an
/// RBAC object until `shutdown`.
pub async fn follow<S: Store>(
    objects: Objects<S>,
    cache: Arc<PolicyCache>,
    shutdown: CancellationToken,
) {
    loop {
        let from = match objects.store().revision().await {
            Ok(revision) => revision,
            Err(e) => {
                tracing::warn!(error = %e, "RBAC: reading the revision failed");
                0
            }
        };
        match load(&objects).await {
            Ok(policy) => cache.set(policy),
            Err(e) => tracing::warn!(error = %e.message, "RBAC: loading the policy failed"),
        }
        let mut watch = match objects.store().watch(RBAC_PREFIX, from).await {
            Ok(watch) => watch,
            Err(e) => {
                tracing::warn!(error = %e, "RBAC: watching the policy failed; retrying");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    () = shutdown.cancelled() => return,
                }
            }
        };
        loop {
            let item = tokio::select! {
                item = watch.next() => item,
                () = shutdown.cancelled() => return,
            };
            match item {
                Some(Ok(crate::store::WatchItem::Event(_))) => {
                    // Let a burst of policy writes settle, then reload once.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    match load(&objects).await {
                        Ok(policy) => cache.set(policy),
                        Err(e) => tracing::warn!(error = %e.message, "RBAC: reloading failed"),
                    }
                }
                Some(Ok(crate::store::WatchItem::Progress(_))) => {}
                // History gone or the store stopped: start over from a load.
                Some(Err(_)) | None => break,
            }
        }
    }
}

/// The caller as RBAC sees it.
pub fn user_info(user: &User) -> UserInfo {
    UserInfo {
        name: user.name.clone(),
        groups: user.groups.clone(),
    }
}

/// The attributes of a resource request, as kube-apiserver derives them
/// (a namespace's own name is its namespace).
pub fn resource_attributes(request: &ResourceRequest) -> Attributes {
    let is_namespace = request.resource.group.is_empty() && request.resource.kind == "Namespace";
    let namespace = if is_namespace {
        request.name.clone()
    } else {
        request.namespace.clone()
    };
    Attributes::Resource {
        verb: request.verb.as_str().to_owned(),
        api_group: request.resource.group.to_owned(),
        resource: request.resource.plural.to_owned(),
        subresource: request.subresource.map(|s| s.name().to_owned()),
        namespace,
        name: request.name.clone(),
    }
}

/// The attributes of a non-resource request.
pub fn path_attributes(path: &str) -> Attributes {
    Attributes::NonResource {
        verb: "get".to_owned(),
        path: path.to_owned(),
    }
}
