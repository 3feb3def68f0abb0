//! The controllers that run in the API server's process, only while this
//! replica holds the controllers' Lease ([`crate::leader`]). Today: the
//! EndpointSlice and Endpoints controller, which turns Services and Pods
//! into EndpointSlices (and legacy Endpoints) with the pure
//! [`crate::endpointslice`] reconcile, namespace by namespace, whenever a
//! Service or Pod in that namespace changes. Also the claims repair
//! ([`crate::claims::repair`]).

use std::{collections::BTreeSet, time::Duration};

use k8s_openapi::api::{
    core::v1::{Endpoints, Pod, Service},
    discovery::v1::EndpointSlice,
};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::{
    claims,
    endpointslice::{self, LABEL_SERVICE_NAME},
    leader::{self, Timing},
    objects::{Objects, meta},
    request::Query,
    resources::{self, ResourceInfo},
    status::ApiError,
    store::{Store, WatchItem},
};

/// How often the leader looks for claims no object holds.
const CLAIMS_REPAIR_EVERY: Duration = Duration::from_secs(60);

/// Runs the controllers whenever this process leads, until `shutdown`.
pub async fn run<S: Store>(objects: Objects<S>, identity: String, shutdown: CancellationToken) {
    let (leading_tx, mut leading) = watch::channel(false);
    let election = tokio::spawn(leader::hold(
        objects.clone(),
        identity,
        Timing::default(),
        leading_tx,
        shutdown.clone(),
    ));
    loop {
        // Wait to lead.
        while !*leading.borrow_and_update() {
            tokio::select! {
                changed = leading.changed() => if changed.is_err() { return },
                () = shutdown.cancelled() => { let _ = election.await; return; }
            }
        }
        let term = shutdown.child_token();
        let worker = tokio::spawn(endpoint_slices(objects.clone(), term.clone()));
        let repair = tokio::spawn(claims::repair(
            objects.clone(),
            CLAIMS_REPAIR_EVERY,
            term.clone(),
        ));
        // Lead until leadership or the process ends.
        while *leading.borrow_and_update() {
            tokio::select! {
                changed = leading.changed() => if changed.is_err() { break },
                () = shutdown.cancelled() => break,
            }
        }
        term.cancel();
        let _ = worker.await;
        let _ = repair.await;
        if shutdown.is_cancelled() {
            let _ = election.await;
            return;
        }
    }
}

fn resource(group: &str, plural: &str) -> Result<&'static ResourceInfo, ApiError> {
    resources::find(group, "v1", plural)
        .ok_or_else(|| ApiError::internal(format!("{plural} are not served")))
}

fn to_value(object: &impl Serialize) -> Result<Value, ApiError> {
    serde_json::to_value(object).map_err(|e| ApiError::internal(format!("encoding: {e}")))
}

/// The namespace of a store key under `/registry/core/<plural>/<ns>/<name>`.
fn namespace_of(key: &str, prefixes: &[String]) -> Option<String> {
    prefixes.iter().find_map(|prefix| {
        let rest = key.strip_prefix(prefix.as_str())?;
        rest.split_once('/').map(|(ns, _)| ns.to_owned())
    })
}

/// The EndpointSlice controller: a full pass, then a pass per namespace
/// whose Services or Pods changed, until `stop`.
async fn endpoint_slices<S: Store>(objects: Objects<S>, stop: CancellationToken) {
    let prefixes: Vec<String> = ["services", "pods"]
        .iter()
        .filter_map(|p| resources::find("", "v1", p).map(|r| r.key_prefix()))
        .collect();
    loop {
        let from = objects.store().revision().await.unwrap_or(0);
        if let Err(e) = reconcile_all(&objects).await {
            tracing::warn!(error = %e.message, "endpointslices: full pass failed");
        }
        let mut watch = match objects.store().watch("/registry/core/", from).await {
            Ok(watch) => watch,
            Err(e) => {
                tracing::warn!(error = %e, "endpointslices: watch failed; retrying");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    () = stop.cancelled() => return,
                }
            }
        };
        loop {
            let first = tokio::select! {
                item = watch.next() => item,
                () = stop.cancelled() => return,
            };
            let mut dirty = BTreeSet::new();
            let mut restart = note(first, &prefixes, &mut dirty);
            // Collect what else arrives within a short window, then act once.
            let window = tokio::time::sleep(Duration::from_millis(20));
            tokio::pin!(window);
            while !restart {
                tokio::select! {
                    item = watch.next() => restart = note(item, &prefixes, &mut dirty),
                    () = &mut window => break,
                }
            }
            for ns in &dirty {
                if let Err(e) = reconcile_namespace(&objects, ns).await {
                    tracing::warn!(namespace = %ns, error = %e.message, "endpointslices: pass failed");
                }
            }
            if restart {
                break;
            }
        }
    }
}

/// Records the namespace a watch item touches; true when the watch ended
/// and must be restarted from a full pass.
fn note(
    item: Option<Result<WatchItem, crate::store::StoreError>>,
    prefixes: &[String],
    dirty: &mut BTreeSet<String>,
) -> bool {
    match item {
        Some(Ok(WatchItem::Event(event))) => {
            if let Some(ns) = namespace_of(&event.record.key, prefixes) {
                dirty.insert(ns);
            }
            false
        }
        Some(Ok(WatchItem::Progress(_))) => false,
        Some(Err(_)) | None => true,
    }
}

async fn reconcile_all<S: Store>(objects: &Objects<S>) -> Result<(), ApiError> {
    let namespaces = resource("", "namespaces")?;
    let list = objects
        .list(namespaces, None, &Query::default(), |_| true)
        .await?;
    for ns in list["items"].as_array().into_iter().flatten() {
        if let Some(name) = meta::name(ns) {
            reconcile_namespace(objects, name).await?;
        }
    }
    Ok(())
}

/// Brings every Service's EndpointSlices and Endpoints in `namespace` to
/// what its Pods say, and removes managed slices of Services that are gone.
async fn reconcile_namespace<S: Store>(
    objects: &Objects<S>,
    namespace: &str,
) -> Result<(), ApiError> {
    let (services_r, pods_r) = (resource("", "services")?, resource("", "pods")?);
    let (slices_r, endpoints_r) = (
        resource("discovery.k8s.io", "endpointslices")?,
        resource("", "endpoints")?,
    );
    let services: Vec<Service> = objects.list_typed(services_r, Some(namespace)).await?;
    let pods: Vec<Pod> = objects.list_typed(pods_r, Some(namespace)).await?;
    let slices: Vec<EndpointSlice> = objects.list_typed(slices_r, Some(namespace)).await?;
    let ns = Some(namespace);
    let service_name = |slice: &EndpointSlice| {
        slice
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(LABEL_SERVICE_NAME))
            .cloned()
    };

    for service in &services {
        let Some(name) = service.metadata.name.as_deref() else {
            continue;
        };
        let own: Vec<EndpointSlice> = slices
            .iter()
            .filter(|s| service_name(s).as_deref() == Some(name))
            .cloned()
            .collect();
        let plan = endpointslice::reconcile(service, &pods, &own);
        for slice in &plan.create {
            ignore_exists(
                objects
                    .create(slices_r, ns, to_value(slice)?, |_| Ok(()))
                    .await,
            )?;
        }
        for slice in &plan.update {
            let Some(slice_name) = slice.metadata.name.as_deref() else {
                continue;
            };
            objects
                .update(slices_r, ns, slice_name, to_value(slice)?, false, |_, _| {
                    Ok(())
                })
                .await?;
        }
        for slice_name in &plan.delete {
            ignore_missing(objects.delete(slices_r, ns, slice_name, None).await)?;
        }
        if let Some(endpoints) = endpointslice::legacy_endpoints(service, &pods) {
            write_endpoints(objects, endpoints_r, namespace, name, &endpoints).await?;
        }
    }

    // Managed slices whose Service is gone.
    let live: BTreeSet<&str> = services
        .iter()
        .filter_map(|s| s.metadata.name.as_deref())
        .collect();
    for slice in &slices {
        let managed = slice
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(endpointslice::LABEL_MANAGED_BY))
            .is_some_and(|m| m == endpointslice::CONTROLLER_NAME);
        if managed
            && let (Some(svc), Some(slice_name)) =
                (service_name(slice), slice.metadata.name.as_deref())
            && !live.contains(svc.as_str())
        {
            ignore_missing(objects.delete(slices_r, ns, slice_name, None).await)?;
        }
    }
    Ok(())
}

/// Creates or updates the Endpoints object `name` when its content differs.
async fn write_endpoints<S: Store>(
    objects: &Objects<S>,
    endpoints_r: &'static ResourceInfo,
    namespace: &str,
    name: &str,
    desired: &Endpoints,
) -> Result<(), ApiError> {
    let desired = to_value(desired)?;
    match objects.get(endpoints_r, Some(namespace), name).await {
        Ok(current) => {
            if current.get("subsets") == desired.get("subsets")
                && current.pointer("/metadata/labels") == desired.pointer("/metadata/labels")
            {
                return Ok(());
            }
            let mut next = current.clone();
            next["subsets"] = desired.get("subsets").cloned().unwrap_or(Value::Null);
            next["metadata"]["labels"] = desired
                .pointer("/metadata/labels")
                .cloned()
                .unwrap_or(Value::Null);
            objects
                .update(endpoints_r, Some(namespace), name, next, false, |_, _| {
                    Ok(())
                })
                .await
                .map(drop)
        }
        Err(e) if e.code == 404 => ignore_exists(
            objects
                .create(endpoints_r, Some(namespace), desired, |_| Ok(()))
                .await,
        ),
        Err(e) => Err(e),
    }
}

fn ignore_exists(result: Result<Value, ApiError>) -> Result<(), ApiError> {
    match result {
        Err(e) if e.reason != "AlreadyExists" => Err(e),
        _ => Ok(()),
    }
}

fn ignore_missing(result: Result<Value, ApiError>) -> Result<(), ApiError> {
    match result {
        Err(e) if e.code != 404 => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::SqliteStore;

    #[test]
    fn keys_name_their_namespace() {
        let prefixes = vec!["/registry/core/pods/".to_owned()];
        assert_eq!(
            namespace_of("/registry/core/pods/prod/web-1", &prefixes).as_deref(),
            Some("prod")
        );
        assert_eq!(
            namespace_of("/registry/core/secrets/prod/x", &prefixes),
            None
        );
    }

    #[tokio::test]
    async fn a_service_with_a_ready_pod_gets_a_slice_and_endpoints() {
        let dir = tempfile::TempDir::new().expect("tempdir");
        let objects = Objects::new(SqliteStore::open(&dir.path().join("db")).expect("store"));
        let (svc_r, pod_r) = (
            resource("", "services").expect("svc"),
            resource("", "pods").expect("pods"),
        );
        let service = json!({"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"},
            "clusterIP": "10.96.1.1", "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]}});
        objects
            .create(svc_r, Some("default"), service, |_| Ok(()))
            .await
            .expect("service");
        let pod = json!({"metadata": {"name": "web-1", "labels": {"app": "web"}},
            "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "x"}]},
            "status": {"phase": "Running", "podIP": "10.244.1.5", "podIPs": [{"ip": "10.244.1.5"}],
                       "conditions": [{"type": "Ready", "status": "True"}]}});
        objects
            .create(pod_r, Some("default"), pod, |_| Ok(()))
            .await
            .expect("pod");

        reconcile_namespace(&objects, "default")
            .await
            .expect("pass");
        let slices_r = resource("discovery.k8s.io", "endpointslices").expect("slices");
        let slices = objects
            .list(slices_r, Some("default"), &Query::default(), |_| true)
            .await
            .expect("list");
        let slice = &slices["items"][0];
        assert_eq!(slice["metadata"]["labels"][LABEL_SERVICE_NAME], "web");
        assert_eq!(slice["endpoints"][0]["addresses"][0], "10.244.1.5");
        assert_eq!(slice["endpoints"][0]["conditions"]["ready"], true);
        assert_eq!(slice["ports"][0]["port"], 8080);
        let endpoints = objects
            .get(
                resource("", "endpoints").expect("ep"),
                Some("default"),
                "web",
            )
            .await
            .expect("endpoints");
        assert_eq!(endpoints["subsets"][0]["addresses"][0]["ip"], "10.244.1.5");

        // A second pass writes nothing; deleting the Service removes its slice.
        let before = objects.store().revision().await.expect("rev");
        reconcile_namespace(&objects, "default")
            .await
            .expect("pass");
        assert_eq!(
            objects.store().revision().await.expect("rev"),
            before,
            "idempotent"
        );
        objects
            .delete(svc_r, Some("default"), "web", None)
            .await
            .expect("delete service");
        reconcile_namespace(&objects, "default")
            .await
            .expect("pass");
        let slices = objects
            .list(slices_r, Some("default"), &Query::default(), |_| true)
            .await
            .expect("list");
        assert_eq!(slices["items"].as_array().map(Vec::len), Some(0));
    }
}
