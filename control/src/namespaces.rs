//! The namespace finalizer: a namespace marked for deletion (Terminating)
//! loses everything in it, then goes itself, as kube-controller-manager's
//! namespace controller does. It runs in the API server's process, fed the
//! names of namespaces as they are marked, and re-fed at start with every
//! namespace a previous run left Terminating.

use std::{sync::Arc, time::Duration};

use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::{
    objects::meta,
    request::Query,
    resources::{self, RESOURCES},
    server::Api,
    status::ApiError,
    store::Store,
};

/// How long a namespace's contents may stay held by their own finalizers
/// before the finalizer gives up on this pass (it is retried at the next
/// start or deletion request).
const PATIENCE: Duration = Duration::from_secs(120);

/// Finalizes namespaces sent on `requests` until `shutdown`.
pub async fn run<S: Store>(
    api: Arc<Api<S>>,
    mut requests: mpsc::UnboundedReceiver<String>,
    shutdown: CancellationToken,
) {
    loop {
        let name = tokio::select! {
            name = requests.recv() => match name {
                Some(name) => name,
                None => return,
            },
            () = shutdown.cancelled() => return,
        };
        if let Err(e) = finalize(&api, &name, &shutdown).await {
            tracing::warn!(namespace = %name, error = %e.message, "namespace finalization failed");
        }
    }
}

/// The names of namespaces marked for deletion.
pub async fn terminating<S: Store>(api: &Api<S>) -> Result<Vec<String>, ApiError> {
    let namespaces = namespaces()?;
    let list = api
        .objects()
        .list(namespaces, None, &Query::default(), |ns| {
            ns.pointer("/metadata/deletionTimestamp")
                .is_some_and(|t| !t.is_null())
        })
        .await?;
    Ok(list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|ns| meta::name(ns).map(str::to_owned))
        .collect())
}

fn namespaces() -> Result<&'static resources::ResourceInfo, ApiError> {
    resources::find("", "v1", "namespaces")
        .ok_or_else(|| ApiError::internal("namespaces are not served"))
}

/// Deletes everything in `namespace`, waiting for objects held by their
/// finalizers, then the namespace.
async fn finalize<S: Store>(
    api: &Api<S>,
    namespace: &str,
    shutdown: &CancellationToken,
) -> Result<(), ApiError> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let mut remaining = 0usize;
        for resource in RESOURCES.iter().filter(|r| r.namespaced) {
            let list = api
                .objects()
                .list(resource, Some(namespace), &Query::default(), |_| true)
                .await?;
            for item in list["items"].as_array().into_iter().flatten() {
                let Some(name) = meta::name(item) else {
                    continue;
                };
                match api
                    .delete_object(
                        resource,
                        Some(namespace),
                        name,
                        None,
                        crate::owners::Propagation::Background,
                    )
                    .await
                {
                    Ok(object) if is_marked(&object) => remaining += 1,
                    Ok(_) => {}
                    Err(e) if e.code == 404 => {}
                    Err(e) => return Err(e),
                }
            }
        }
        if remaining == 0 {
            match api.objects().remove(namespaces()?, None, namespace).await {
                Ok(_) | Err(ApiError { code: 404, .. }) => {
                    tracing::info!(%namespace, "namespace deleted");
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ApiError::internal(format!(
                "{remaining} objects in namespace {namespace} are still held by finalizers"
            )));
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
            () = shutdown.cancelled() => return Ok(()),
        }
    }
}

fn is_marked(object: &Value) -> bool {
    object
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null())
}
