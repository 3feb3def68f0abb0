//! The controllers that run in the API server's process, only while this
//! replica holds the controllers' Lease ([`crate::leader`]). Today: the
//! EndpointSlice and Endpoints controller, which turns Services and Pods
//! into EndpointSlices (and legacy Endpoints) with the pure
//! [`crate::endpointslice`] reconcile, one Service at a time: the Services
//! a change touches, found through [`crate::endpointslice::index`]; the
//! garbage collector, which acts on ownerReferences and the Foreground and
//! Orphan propagation finalizers with the pure [`crate::owners`] graph. Also
//! the claims repair
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
    endpointslice::{
        self,
        index::{Index, Kind, ServiceKey, Summary},
    },
    leader::{self, Timing},
    objects::Objects,
    owners::{self, Action, Graph, Propagation},
    resources::{self, ResourceInfo},
    status::ApiError,
    store::{EventKind, ListOptions, Record, Store, Watch, WatchItem},
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
        let collector = tokio::spawn(garbage_collector(objects.clone(), term.clone()));
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
        let _ = collector.await;
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

/// Where the objects the EndpointSlice controller follows live in the store.
struct Followed {
    prefixes: Vec<(Kind, String)>,
}

impl Followed {
    fn new() -> Result<Followed, ApiError> {
        Ok(Followed {
            prefixes: vec![
                (Kind::Service, resource("", "services")?.key_prefix()),
                (Kind::Pod, resource("", "pods")?.key_prefix()),
                (
                    Kind::Slice,
                    resource("discovery.k8s.io", "endpointslices")?.key_prefix(),
                ),
            ],
        })
    }

    /// Adds a stored object to the index.
    fn feed(&self, index: &mut Index, record: &Record) {
        if let Some((kind, ns, name)) = self.classify(&record.key) {
            index.observe(kind, ns, name, Summary::decode(&record.value).as_ref());
        }
    }

    /// The prefixes of the followed resources.
    fn prefixes(&self) -> Vec<String> {
        self.prefixes.iter().map(|(_, p)| p.clone()).collect()
    }

    /// The kind, namespace and name a store key names, when followed.
    fn classify<'k>(&self, key: &'k str) -> Option<(Kind, &'k str, &'k str)> {
        self.prefixes.iter().find_map(|(kind, prefix)| {
            let (ns, name) = key.strip_prefix(prefix.as_str())?.split_once('/')?;
            Some((*kind, ns, name))
        })
    }
}

/// The EndpointSlice controller, until `stop`: builds the [`Index`] from a
/// snapshot of the store, reconciles every Service, then reconciles only
/// the Services each change touches. A broken watch starts it over.
async fn endpoint_slices<S: Store>(objects: Objects<S>, stop: CancellationToken) {
    let followed = match Followed::new() {
        Ok(followed) => followed,
        Err(e) => {
            tracing::error!(error = %e.message, "endpointslices: not started");
            return;
        }
    };
    let prefixes = followed.prefixes();
    loop {
        let feed = |index: &mut Index, record: &Record| followed.feed(index, record);
        let Some((mut index, mut watch)) =
            snapshot_then_watch(&objects, &prefixes, &stop, Index::new, feed).await
        else {
            return;
        };
        let mut dirty = index.services();
        let mut gone = BTreeSet::new();
        loop {
            for service in std::mem::take(&mut dirty) {
                let deleted = gone.remove(&service);
                if let Err(e) = reconcile_service(&objects, &index, &service, deleted).await {
                    let (ns, name) = &service;
                    tracing::warn!(service = %format!("{ns}/{name}"), error = %e.message,
                        "endpointslices: reconcile failed");
                }
            }
            let batch = next_batch(&mut watch, &stop, |item| {
                note(item, &followed, &mut index, &mut dirty, &mut gone)
            });
            let Some(restart) = batch.await else { return };
            if restart {
                // The rebuild reconciles every Service, these included.
                break;
            }
        }
    }
}

/// Feeds every record under `prefixes`, read at one revision in pages, to
/// a fresh `T`, then opens a watch on `/registry/` from that revision, so
/// nothing is missed between the two. Retries each second on failure;
/// `None` once `stop` fires.
async fn snapshot_then_watch<S: Store, T>(
    objects: &Objects<S>,
    prefixes: &[String],
    stop: &CancellationToken,
    new: impl Fn() -> T,
    feed: impl Fn(&mut T, &Record),
) -> Option<(T, Watch)> {
    let backend = |e: crate::store::StoreError| ApiError::internal(e.to_string());
    loop {
        let attempt = async {
            let at = objects.store().revision().await.map_err(backend)?;
            let mut state = new();
            for prefix in prefixes {
                let mut start_after = None;
                loop {
                    let options = ListOptions {
                        start_after: start_after.take(),
                        limit: Some(SNAPSHOT_PAGE),
                        at: Some(at),
                    };
                    let page = objects
                        .store()
                        .list(prefix, options)
                        .await
                        .map_err(backend)?;
                    for record in &page.records {
                        feed(&mut state, record);
                    }
                    if !page.more {
                        break;
                    }
                    start_after = page.records.last().map(|r| r.key.clone());
                }
            }
            let watch = objects
                .store()
                .watch("/registry/", at)
                .await
                .map_err(backend)?;
            Ok::<_, ApiError>((state, watch))
        };
        match attempt.await {
            Ok(started) => return Some(started),
            Err(e) => {
                tracing::warn!(error = %e.message, "controller start failed; retrying");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    () = stop.cancelled() => return None,
                }
            }
        }
    }
}

/// How many records one page of a snapshot decodes at a time.
const SNAPSHOT_PAGE: usize = 500;

/// Waits for the next watch item, then takes whatever else arrives within
/// 20 ms, feeding each to `note` (true: the watch broke). Returns whether
/// the watch must be started over; `None` once `stop` fires.
async fn next_batch(
    watch: &mut Watch,
    stop: &CancellationToken,
    mut note: impl FnMut(Option<Result<WatchItem, crate::store::StoreError>>) -> bool,
) -> Option<bool> {
    let first = tokio::select! {
        item = watch.next() => item,
        () = stop.cancelled() => return None,
    };
    let mut restart = note(first);
    let window = tokio::time::sleep(Duration::from_millis(20));
    tokio::pin!(window);
    while !restart {
        tokio::select! {
            item = watch.next() => restart = note(item),
            () = &mut window => break,
        }
    }
    Some(restart)
}

/// Feeds a watch item to the index, collecting the Services it touches
/// (and those deleted); true when the watch ended and must start over.
fn note(
    item: Option<Result<WatchItem, crate::store::StoreError>>,
    followed: &Followed,
    index: &mut Index,
    dirty: &mut BTreeSet<ServiceKey>,
    gone: &mut BTreeSet<ServiceKey>,
) -> bool {
    match item {
        Some(Ok(WatchItem::Event(event))) => {
            if let Some((kind, ns, name)) = followed.classify(&event.record.key) {
                let deleted = event.kind == EventKind::Deleted;
                let summary = if deleted {
                    None
                } else {
                    Summary::decode(&event.record.value)
                };
                if kind == Kind::Service && deleted {
                    gone.insert((ns.to_owned(), name.to_owned()));
                }
                dirty.extend(index.observe(kind, ns, name, summary.as_ref()));
            }
            false
        }
        Some(Ok(WatchItem::Progress(_))) => false,
        Some(Err(_)) | None => true,
    }
}

/// The object `name` decoded as `T`; `None` when it does not exist (or
/// does not decode, which validation on write rules out).
async fn get_typed<S: Store, T: serde::de::DeserializeOwned>(
    objects: &Objects<S>,
    resource: &'static ResourceInfo,
    namespace: &str,
    name: &str,
) -> Result<Option<T>, ApiError> {
    match objects.get(resource, Some(namespace), name).await {
        Ok(value) => Ok(serde_json::from_value(value).ok()),
        Err(e) if e.code == 404 => Ok(None),
        Err(e) => Err(e),
    }
}

/// Brings one Service's EndpointSlices and Endpoints to what its Pods say,
/// reading only that Service, the Pods it selects and its slices. A Service
/// that is gone loses its managed slices, and its Endpoints when `deleted`
/// says the deletion was seen (as kube-controller-manager does).
async fn reconcile_service<S: Store>(
    objects: &Objects<S>,
    index: &Index,
    (namespace, name): &ServiceKey,
    deleted: bool,
) -> Result<(), ApiError> {
    let (services_r, pods_r) = (resource("", "services")?, resource("", "pods")?);
    let (slices_r, endpoints_r) = (
        resource("discovery.k8s.io", "endpointslices")?,
        resource("", "endpoints")?,
    );
    let ns = Some(namespace.as_str());
    let mut own: Vec<EndpointSlice> = Vec::new();
    for slice in index.slices_of(namespace, name) {
        own.extend(get_typed(objects, slices_r, namespace, &slice).await?);
    }
    let Some(service) = get_typed::<S, Service>(objects, services_r, namespace, name).await? else {
        for slice in &own {
            let managed = slice
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(endpointslice::LABEL_MANAGED_BY))
                .is_some_and(|m| m == endpointslice::CONTROLLER_NAME);
            if managed && let Some(slice_name) = slice.metadata.name.as_deref() {
                ignore_missing(objects.delete(slices_r, ns, slice_name, None).await)?;
            }
        }
        if deleted {
            ignore_missing(objects.delete(endpoints_r, ns, name, None).await)?;
        }
        return Ok(());
    };
    let mut pods: Vec<Pod> = Vec::new();
    for pod in index.pods_of(namespace, name) {
        pods.extend(get_typed(objects, pods_r, namespace, &pod).await?);
    }

    let plan = endpointslice::reconcile(&service, &pods, &own);
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
    if let Some(endpoints) = endpointslice::legacy_endpoints(&service, &pods) {
        write_endpoints(objects, endpoints_r, namespace, name, &endpoints).await?;
    }
    Ok(())
}

/// The garbage collector, until `stop`: builds the ownership
/// [`Graph`] from a snapshot of every stored object, examines each, then
/// examines what each change touches and applies the [`Action`]s.
async fn garbage_collector<S: Store>(objects: Objects<S>, stop: CancellationToken) {
    let prefixes = ["/registry/".to_owned()];
    loop {
        let new = || Graph::new(stored_kind);
        let feed = |graph: &mut Graph, record: &Record| {
            graph.observe(&record.key, owners::Summary::decode(&record.value).as_ref());
        };
        let Some((mut graph, mut watch)) =
            snapshot_then_watch(&objects, &prefixes, &stop, new, feed).await
        else {
            return;
        };
        let mut dirty = graph.keys();
        loop {
            for key in std::mem::take(&mut dirty) {
                for action in graph.examine(&key) {
                    if let Err(e) = collect(&objects, &action).await {
                        tracing::warn!(%key, error = %e.message, "garbage collector: write failed");
                    }
                }
            }
            let batch = next_batch(&mut watch, &stop, |item| {
                observe(item, &mut graph, &mut dirty)
            });
            let Some(restart) = batch.await else { return };
            if restart {
                break;
            }
        }
    }
}

/// Whether owners of this kind are stored here, so their absence means
/// they are gone.
fn stored_kind(api_version: &str, kind: &str) -> bool {
    resources::by_kind(api_version, kind).is_some_and(|r| r.stored)
}

/// Feeds a watch item to the graph; true when the watch ended.
fn observe(
    item: Option<Result<WatchItem, crate::store::StoreError>>,
    graph: &mut Graph,
    dirty: &mut BTreeSet<String>,
) -> bool {
    match item {
        Some(Ok(WatchItem::Event(event))) => {
            let summary = match event.kind {
                EventKind::Deleted => None,
                _ => owners::Summary::decode(&event.record.value),
            };
            dirty.extend(graph.observe(&event.record.key, summary.as_ref()));
            false
        }
        Some(Ok(WatchItem::Progress(_))) => false,
        Some(Err(_)) | None => true,
    }
}

/// The resource, namespace and name a store key names.
fn locate(key: &str) -> Option<(&'static ResourceInfo, Option<&str>, &str)> {
    resources::RESOURCES
        .iter()
        .filter(|r| r.stored)
        .find_map(|r| {
            let rest = key.strip_prefix(r.key_prefix().as_str())?;
            if r.namespaced {
                let (ns, name) = rest.split_once('/')?;
                Some((r, Some(ns), name))
            } else {
                Some((r, None, rest))
            }
        })
}

/// Applies one collector decision. An object that changed meanwhile (other
/// uid, newer version) is left for the next event to decide again.
async fn collect<S: Store>(objects: &Objects<S>, action: &Action) -> Result<(), ApiError> {
    let (key, uid) = match action {
        Action::Delete { key, uid, .. }
        | Action::DropOwners { key, uid, .. }
        | Action::Finish { key, uid, .. } => (key, uid),
    };
    let Some((resource, ns, name)) = locate(key) else {
        return Ok(());
    };
    let mut object = match objects.get(resource, ns, name).await {
        Ok(object) => object,
        Err(e) if e.code == 404 => return Ok(()),
        Err(e) => return Err(e),
    };
    if object.pointer("/metadata/uid").and_then(Value::as_str) != Some(uid.as_str()) {
        return Ok(());
    }
    let result = match action {
        Action::Delete { foreground, .. } => {
            let propagation = if *foreground {
                Propagation::Foreground
            } else {
                Propagation::Background
            };
            let precondition = crate::objects::meta::resource_version(&object)?;
            tracing::info!(%key, ?propagation, "garbage collector: deleting a dependent");
            objects
                .delete_with(resource, ns, name, precondition, propagation)
                .await
                .map(drop)
        }
        Action::DropOwners { owners: gone, .. } => {
            if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
                let kept: Vec<Value> = meta
                    .get("ownerReferences")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter(|r| {
                        !r.get("uid")
                            .and_then(Value::as_str)
                            .is_some_and(|u| gone.iter().any(|g| g == u))
                    })
                    .cloned()
                    .collect();
                if kept.is_empty() {
                    meta.remove("ownerReferences");
                } else {
                    meta.insert("ownerReferences".into(), Value::Array(kept));
                }
            }
            objects
                .update(resource, ns, name, object, false, |_, _| Ok(()))
                .await
                .map(drop)
        }
        Action::Finish { finalizer, .. } => {
            if let Some(list) = object
                .pointer_mut("/metadata/finalizers")
                .and_then(Value::as_array_mut)
            {
                list.retain(|f| f != finalizer);
            }
            objects
                .update(resource, ns, name, object, false, |_, _| Ok(()))
                .await
                .map(drop)
        }
    };
    match result {
        Err(e) if e.code == 404 || e.code == 409 => Ok(()),
        other => other,
    }
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

    use crate::{endpointslice::LABEL_SERVICE_NAME, request::Query};

    #[test]
    fn keys_name_their_kind_namespace_and_name() {
        let followed = Followed::new().expect("served");
        assert_eq!(
            followed.classify("/registry/core/pods/prod/web-1"),
            Some((Kind::Pod, "prod", "web-1"))
        );
        assert_eq!(
            followed.classify("/registry/discovery.k8s.io/endpointslices/prod/web-x"),
            Some((Kind::Slice, "prod", "web-x"))
        );
        assert_eq!(followed.classify("/registry/core/secrets/prod/x"), None);
        assert_eq!(followed.classify("/registry/core/services/prod"), None);
    }

    /// What a fresh start of the controller does: index, then every Service.
    async fn pass(objects: &Objects<SqliteStore>) {
        let followed = Followed::new().expect("served");
        let prefixes = followed.prefixes();
        let feed = |index: &mut Index, record: &Record| followed.feed(index, record);
        let stop = CancellationToken::new();
        let (index, _) = snapshot_then_watch(objects, &prefixes, &stop, Index::new, feed)
            .await
            .expect("index");
        for service in index.services() {
            reconcile_service(objects, &index, &service, false)
                .await
                .expect("reconcile");
        }
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

        pass(&objects).await;
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
        pass(&objects).await;
        assert_eq!(
            objects.store().revision().await.expect("rev"),
            before,
            "idempotent"
        );
        objects
            .delete(svc_r, Some("default"), "web", None)
            .await
            .expect("delete service");
        pass(&objects).await;
        let slices = objects
            .list(slices_r, Some("default"), &Query::default(), |_| true)
            .await
            .expect("list");
        assert_eq!(slices["items"].as_array().map(Vec::len), Some(0));
    }

    /// Waits (up to 5 s) for `check` to hold on the store.
    async fn eventually<F: std::future::Future<Output = bool>>(mut check: impl FnMut() -> F) {
        for _ in 0..250 {
            if check().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("condition not reached in 5 s");
    }

    #[tokio::test]
    async fn the_running_controller_follows_pods_and_services() {
        let dir = tempfile::TempDir::new().expect("tempdir");
        let objects = Objects::new(SqliteStore::open(&dir.path().join("db")).expect("store"));
        let (svc_r, pod_r, ep_r) = (
            resource("", "services").expect("svc"),
            resource("", "pods").expect("pods"),
            resource("", "endpoints").expect("ep"),
        );
        let slices_r = resource("discovery.k8s.io", "endpointslices").expect("slices");
        let pod = |name: &str, app: &str, ip: &str| {
            json!({"metadata": {"name": name, "labels": {"app": app}},
                "spec": {"containers": [{"name": "c", "image": "x"}]},
                "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                           "conditions": [{"type": "Ready", "status": "True"}]}})
        };
        // A pod that exists before the controller starts, and one after.
        objects
            .create(
                pod_r,
                Some("default"),
                pod("a", "web", "10.244.1.5"),
                |_| Ok(()),
            )
            .await
            .expect("pod a");
        let stop = CancellationToken::new();
        let worker = tokio::spawn(endpoint_slices(objects.clone(), stop.clone()));
        let service = json!({"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"},
            "clusterIP": "10.96.1.1", "ports": [{"port": 80, "protocol": "TCP"}]}});
        objects
            .create(svc_r, Some("default"), service, |_| Ok(()))
            .await
            .expect("service");
        objects
            .create(
                pod_r,
                Some("default"),
                pod("b", "web", "10.244.1.6"),
                |_| Ok(()),
            )
            .await
            .expect("pod b");
        let addresses = || async {
            let list = objects
                .list(slices_r, Some("default"), &Query::default(), |_| true)
                .await
                .expect("list");
            let mut found: Vec<String> = list["items"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|s| s["endpoints"].as_array().cloned().unwrap_or_default())
                .filter_map(|e| e["addresses"][0].as_str().map(str::to_owned))
                .collect();
            found.sort();
            found
        };
        eventually(|| async { addresses().await == ["10.244.1.5", "10.244.1.6"] }).await;

        // Relabelled away, the pod leaves the slice.
        let mut b = objects.get(pod_r, Some("default"), "b").await.expect("b");
        b["metadata"]["labels"]["app"] = json!("db");
        objects
            .update(pod_r, Some("default"), "b", b, false, |_, _| Ok(()))
            .await
            .expect("relabel");
        eventually(|| async { addresses().await == ["10.244.1.5"] }).await;

        // The Service goes: so do its slice and its Endpoints.
        objects
            .delete(svc_r, Some("default"), "web", None)
            .await
            .expect("delete");
        eventually(|| async {
            addresses().await.is_empty() && objects.get(ep_r, Some("default"), "web").await.is_err()
        })
        .await;
        stop.cancel();
        worker.await.expect("worker ends");
    }

    #[tokio::test]
    async fn the_garbage_collector_follows_each_propagation_policy() {
        let dir = tempfile::TempDir::new().expect("tempdir");
        let objects = Objects::new(SqliteStore::open(&dir.path().join("db")).expect("store"));
        let cm = resource("", "configmaps").expect("configmaps");
        let stop = CancellationToken::new();
        let worker = tokio::spawn(garbage_collector(objects.clone(), stop.clone()));
        let ns = Some("default");
        let create = |name: &'static str, owner: Option<&Value>| {
            let mut object = json!({"metadata": {"name": name}});
            if let Some(owner) = owner {
                object["metadata"]["ownerReferences"] = json!([{
                    "apiVersion": "v1", "kind": "ConfigMap", "name": owner["metadata"]["name"],
                    "uid": owner["metadata"]["uid"], "blockOwnerDeletion": true}]);
            }
            let objects = objects.clone();
            async move {
                objects
                    .create(cm, ns, object, |_| Ok(()))
                    .await
                    .expect("created")
            }
        };
        let exists = |name: &'static str| {
            let objects = objects.clone();
            async move { objects.get(cm, ns, name).await.ok() }
        };

        // Background: the owner goes at once, the dependent after it.
        let owner = create("bg-owner", None).await;
        create("bg-dep", Some(&owner)).await;
        create("bystander", None).await;
        objects
            .delete_with(cm, ns, "bg-owner", None, Propagation::Background)
            .await
            .expect("delete");
        eventually(|| async { exists("bg-dep").await.is_none() }).await;
        assert!(exists("bystander").await.is_some());

        // Foreground: the owner waits, marked, until its dependent is gone.
        let owner = create("fg-owner", None).await;
        create("fg-dep", Some(&owner)).await;
        let marked = objects
            .delete_with(cm, ns, "fg-owner", None, Propagation::Foreground)
            .await
            .expect("delete");
        assert!(marked.pointer("/metadata/deletionTimestamp").is_some());
        eventually(|| async {
            exists("fg-dep").await.is_none() && exists("fg-owner").await.is_none()
        })
        .await;

        // Orphan: the dependent stays, without its reference.
        let owner = create("or-owner", None).await;
        create("or-dep", Some(&owner)).await;
        objects
            .delete_with(cm, ns, "or-owner", None, Propagation::Orphan)
            .await
            .expect("delete");
        eventually(|| async { exists("or-owner").await.is_none() }).await;
        let dependent = exists("or-dep").await.expect("the dependent stays");
        assert!(dependent.pointer("/metadata/ownerReferences").is_none());

        // A dependent of an owner that never existed is collected too.
        create(
            "ghost-dep",
            Some(&json!({"metadata": {"name": "ghost", "uid": "no-such-uid"}})),
        )
        .await;
        eventually(|| async { exists("ghost-dep").await.is_none() }).await;
        stop.cancel();
        worker.await.expect("worker ends");
    }
}
