//! strait control against kube-rs clients inside a virtual node: writes
//! acknowledged with a 2xx survive SIGKILL of the server, a kube-runtime
//! watcher that falls behind compacted history re-lists after its 410 Gone
//! and carries on, and server-side apply tracks owners and conflicts.

use std::{
    collections::BTreeMap,
    future::Future,
    path::Path,
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use futures::StreamExt as _;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::{
    Api, Client, Config,
    api::{ListParams, ObjectMeta, Patch, PatchParams, PostParams},
    config::{KubeConfigOptions, Kubeconfig},
    runtime::{WatchStreamExt as _, watcher},
};
use strait_tests::{Cluster, ClusterSpec, Node, Process, privileged};

fn start_control(node: &Node, data_dir: &Path, extra: &[&str]) -> Process {
    strait_tests::control::start(node, data_dir, extra).expect("API server ready")
}

type Work<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A kube client for the admin kubeconfig.
async fn client(kubeconfig: &Path) -> Client {
    let kubeconfig = Kubeconfig::read_from(kubeconfig).expect("kubeconfig");
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("client config");
    Client::try_from(config).expect("client")
}

/// A multi-threaded runtime whose sockets live in `node`'s network namespace
/// (its worker threads are spawned from, and so inherit, the netns thread).
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Runs `work` with a kube client inside the node's network namespace.
fn with_client<T: Send>(
    node: &Node,
    kubeconfig: &Path,
    work: impl FnOnce(Client) -> Work<T> + Send,
) -> T {
    node.netns()
        .run(|| runtime().block_on(async { work(client(kubeconfig).await).await }))
        .expect("entered the node netns")
}

fn config_map(name: &str, value: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([("value".into(), value.into())])),
        ..ConfigMap::default()
    }
}

#[test]
fn writes_acknowledged_over_http_survive_sigkill() {
    if !privileged("writes_acknowledged_over_http_survive_sigkill") {
        return;
    }
    let cluster = Cluster::start(ClusterSpec::new(1)).expect("cluster");
    let node = cluster.node(1).expect("node");
    let data_dir = node.state_dir().join("control");
    let kubeconfig = data_dir.join("admin.kubeconfig");
    let acked: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
    let mut last_list_revision = 0u64;

    for round in 0..4u64 {
        let control = start_control(node, &data_dir, &[]);
        let pid = control.pid();
        // Writers hammer the API; the server dies under them.
        let acked_in_round = acked.clone();
        with_client(node, &kubeconfig, move |client| {
            Box::pin(async move {
                let api: Api<ConfigMap> = Api::namespaced(client, "default");
                let stop = Arc::new(AtomicBool::new(false));
                let mut writers = Vec::new();
                for w in 0..4 {
                    let (api, acked, stop) = (api.clone(), acked_in_round.clone(), stop.clone());
                    writers.push(tokio::spawn(async move {
                        for i in 0.. {
                            if stop.load(Ordering::Relaxed) {
                                break;
                            }
                            let name = format!("crash-{round}-{w}-{i}");
                            let cm = config_map(&name, "v");
                            match api.create(&PostParams::default(), &cm).await {
                                Ok(created) => {
                                    let rv = created
                                        .metadata
                                        .resource_version
                                        .and_then(|r| r.parse().ok())
                                        .expect("numeric resourceVersion");
                                    acked.lock().expect("lock").insert(name, rv);
                                }
                                Err(_) => break, // the server is gone
                            }
                        }
                    }));
                }
                tokio::time::sleep(Duration::from_millis(300 + 150 * round)).await;
                nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                )
                .expect("SIGKILL");
                stop.store(true, Ordering::Relaxed);
                for writer in writers {
                    let _ = writer.await;
                }
            })
        });
        drop(control);

        // After a restart every acknowledged write is there, unchanged.
        let _control = start_control(node, &data_dir, &[]);
        let expected = acked.lock().expect("lock").clone();
        let (stored, list_revision) = with_client(node, &kubeconfig, |client| {
            Box::pin(async move {
                let api: Api<ConfigMap> = Api::namespaced(client, "default");
                let list = api.list(&ListParams::default()).await.expect("list");
                let revision: u64 = list
                    .metadata
                    .resource_version
                    .and_then(|r| r.parse().ok())
                    .expect("list revision");
                let stored: BTreeMap<String, u64> = list
                    .items
                    .into_iter()
                    .filter_map(|cm| {
                        Some((
                            cm.metadata.name?,
                            cm.metadata.resource_version?.parse().ok()?,
                        ))
                    })
                    .collect();
                (stored, revision)
            })
        });
        for (name, rv) in &expected {
            assert_eq!(
                stored.get(name),
                Some(rv),
                "round {round}: acknowledged {name} lost or changed"
            );
        }
        assert!(
            list_revision >= last_list_revision,
            "resourceVersion went backwards"
        );
        last_list_revision = list_revision;
    }
    let total = acked.lock().expect("lock").len();
    assert!(
        total > 40,
        "the writers made real progress ({total} acknowledged writes)"
    );
}

#[test]
fn a_kube_runtime_watcher_relists_after_410_and_catches_up() {
    if !privileged("a_kube_runtime_watcher_relists_after_410_and_catches_up") {
        return;
    }
    let cluster = Cluster::start(ClusterSpec::new(1)).expect("cluster");
    let node = cluster.node(1).expect("node");
    let data_dir = node.state_dir().join("control");
    let kubeconfig = data_dir.join("admin.kubeconfig");
    // Tiny history, compacted every second: a watcher that misses a few
    // writes can only resume through a re-list.
    let tight = ["--watch-history", "3", "--compaction-interval", "1"];
    let control = Mutex::new(Some(start_control(node, &data_dir, &tight)));
    let restart = |node: &Node| {
        let old = control.lock().expect("lock").take();
        if let Some(old) = old {
            let _ = old.stop(Duration::from_secs(5));
        }
        *control.lock().expect("lock") = Some(start_control(node, &data_dir, &tight));
    };

    node.netns()
        .run(|| {
            runtime().block_on(async {
                let api: Api<ConfigMap> = Api::namespaced(client(&kubeconfig).await, "default");
                api.create(&PostParams::default(), &config_map("first", "1"))
                    .await
                    .expect("create");

                let mut events = watcher(api.clone(), watcher::Config::default())
                    .default_backoff()
                    .boxed();
                // The initial list delivers "first".
                let mut saw_first = false;
                let deadline = Instant::now() + Duration::from_secs(20);
                loop {
                    assert!(Instant::now() < deadline, "no initial list within 20 s");
                    match tokio::time::timeout(Duration::from_secs(5), events.next()).await {
                        Ok(Some(Ok(watcher::Event::InitApply(cm)))) => {
                            saw_first |= cm.metadata.name.as_deref() == Some("first");
                        }
                        Ok(Some(Ok(watcher::Event::InitDone))) => break,
                        _ => {}
                    }
                }
                assert!(saw_first, "the initial list holds the object");

                // The stream is lazy: while it is not polled it cannot
                // reconnect. The server restarts, many writes land, and
                // compaction runs past the watcher's resourceVersion.
                tokio::task::block_in_place(|| restart(node));
                for i in 0..20 {
                    api.create(
                        &PostParams::default(),
                        &config_map(&format!("later-{i}"), "x"),
                    )
                    .await
                    .expect("create while the watcher is away");
                }
                tokio::time::sleep(Duration::from_millis(2500)).await;

                // Its resume gets 410 Gone; it re-lists and the re-list holds
                // what it missed.
                let mut relisted = Vec::new();
                let deadline = Instant::now() + Duration::from_secs(30);
                while Instant::now() < deadline {
                    match tokio::time::timeout(Duration::from_secs(5), events.next()).await {
                        Ok(Some(Ok(watcher::Event::Init))) => relisted.clear(),
                        Ok(Some(Ok(watcher::Event::InitApply(cm)))) => {
                            relisted.extend(cm.metadata.name);
                        }
                        Ok(Some(Ok(watcher::Event::InitDone))) => break,
                        _ => {}
                    }
                }
                assert!(
                    relisted.iter().any(|n| n == "later-19")
                        && relisted.iter().any(|n| n == "first"),
                    "the re-list after 410 holds every object: {relisted:?}"
                );
            });
        })
        .expect("entered the node netns");
}

/// `(manager, operation)` of each managedFields entry.
fn owners(cm: &ConfigMap) -> Vec<(String, String)> {
    cm.metadata
        .managed_fields
        .iter()
        .flatten()
        .map(|e| {
            (
                e.manager.clone().unwrap_or_default(),
                e.operation.clone().unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn kube_rs_server_side_apply_tracks_owners_and_conflicts() {
    if !privileged("kube_rs_server_side_apply_tracks_owners_and_conflicts") {
        return;
    }
    let cluster = Cluster::start(ClusterSpec::new(1)).expect("cluster");
    let node = cluster.node(1).expect("node");
    let data_dir = node.state_dir().join("control");
    let kubeconfig = data_dir.join("admin.kubeconfig");
    let _control = start_control(node, &data_dir, &[]);
    with_client(node, &kubeconfig, |client| {
        Box::pin(async move {
            let pod_client = client.clone();
            let api: Api<ConfigMap> = Api::namespaced(client, "default");
            let config = |data: serde_json::Value| {
                serde_json::json!({
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "applied"},
                    "data": data,
                })
            };
            let first = config(serde_json::json!({"value": "1", "note": "first"}));
            let created = api
                .patch(
                    "applied",
                    &PatchParams::apply("first"),
                    &Patch::Apply(&first),
                )
                .await
                .expect("apply creates");
            let data = created.data.clone().unwrap_or_default();
            assert_eq!(data.get("value").map(String::as_str), Some("1"));
            assert_eq!(owners(&created), [("first".into(), "Apply".into())]);

            // Another applier changing an owned field: 409 until forced.
            let second = config(serde_json::json!({"value": "2"}));
            let refused = api
                .patch(
                    "applied",
                    &PatchParams::apply("second"),
                    &Patch::Apply(&second),
                )
                .await
                .expect_err("conflict");
            let kube::Error::Api(status) = refused else {
                panic!("not an API error: {refused}");
            };
            assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"));
            assert_eq!(
                status.message,
                "Apply failed with 1 conflict: conflict with \"first\": .data.value"
            );
            let causes = status.details.map(|d| d.causes).unwrap_or_default();
            assert_eq!(causes.len(), 1);
            assert_eq!(
                (causes[0].reason.as_str(), causes[0].field.as_str()),
                ("FieldManagerConflict", ".data.value")
            );
            let forced = api
                .patch(
                    "applied",
                    &PatchParams::apply("second").force(),
                    &Patch::Apply(&second),
                )
                .await
                .expect("forced apply");
            assert_eq!(
                forced
                    .data
                    .clone()
                    .unwrap_or_default()
                    .get("value")
                    .map(String::as_str),
                Some("2")
            );

            // The first applier drops `note`, which only it owned: it goes.
            let again = config(serde_json::json!({"value": "2"}));
            let pruned = api
                .patch(
                    "applied",
                    &PatchParams::apply("first"),
                    &Patch::Apply(&again),
                )
                .await
                .expect("re-apply");
            let data = pruned.data.clone().unwrap_or_default();
            assert!(!data.contains_key("note"), "{data:?}");

            // A merge patch is recorded as an Update by its field manager.
            let params = PatchParams {
                field_manager: Some("merger".into()),
                ..PatchParams::default()
            };
            let merged = api
                .patch(
                    "applied",
                    &params,
                    &Patch::Merge(serde_json::json!({"data": {"extra": "x"}})),
                )
                .await
                .expect("merge patch");
            let owners = owners(&merged);
            for owner in [
                ("first", "Apply"),
                ("second", "Apply"),
                ("merger", "Update"),
            ] {
                assert!(
                    owners.contains(&(owner.0.into(), owner.1.into())),
                    "{owner:?} in {owners:?}"
                );
            }

            // Status has its own appliers, recorded with the subresource.
            let pods: Api<Pod> = Api::namespaced(pod_client, "default");
            let pod = serde_json::json!({
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "applied"},
                "spec": {"containers": [{"name": "c", "image": "x"}]},
            });
            pods.patch(
                "applied",
                &PatchParams::apply("deployer"),
                &Patch::Apply(&pod),
            )
            .await
            .expect("pod applied");
            let status = serde_json::json!({
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "applied"},
                "status": {"phase": "Running"},
            });
            let running = pods
                .patch_status(
                    "applied",
                    &PatchParams::apply("node"),
                    &Patch::Apply(&status),
                )
                .await
                .expect("status applied");
            assert_eq!(
                running.status.and_then(|s| s.phase).as_deref(),
                Some("Running")
            );
            let entries: Vec<(String, String, String)> = running
                .metadata
                .managed_fields
                .iter()
                .flatten()
                .map(|e| {
                    (
                        e.manager.clone().unwrap_or_default(),
                        e.operation.clone().unwrap_or_default(),
                        e.subresource.clone().unwrap_or_default(),
                    )
                })
                .collect();
            assert!(
                entries.contains(&("deployer".into(), "Apply".into(), String::new()))
                    && entries.contains(&("node".into(), "Apply".into(), "status".into())),
                "{entries:?}"
            );
        })
    });
}

#[test]
fn yaml_bodies_are_objects_and_malformed_ones_are_400() {
    if !privileged("yaml_bodies_are_objects_and_malformed_ones_are_400") {
        return;
    }
    let cluster = Cluster::start(ClusterSpec::new(1)).expect("cluster");
    let node = cluster.node(1).expect("node");
    let data_dir = node.state_dir().join("control");
    let _control = start_control(node, &data_dir, &[]);
    let kubeconfig = data_dir.join("admin.kubeconfig");
    let post = |client: Client, body: &'static str| async move {
        let request = http::Request::post("/api/v1/namespaces/default/configmaps")
            .header("content-type", "application/yaml")
            .body(body.as_bytes().to_vec())
            .expect("request");
        client.request_text(request).await
    };
    with_client(node, &kubeconfig, |client| {
        Box::pin(async move {
            let created = post(
                client.clone(),
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  key: value\n",
            )
            .await
            .expect("a YAML body creates");
            assert!(created.contains("\"from-yaml\""), "{created}");
            let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
            let stored = api.get("from-yaml").await.expect("stored");
            assert_eq!(
                stored.data.and_then(|d| d.get("key").cloned()).as_deref(),
                Some("value")
            );
            match post(client.clone(), "metadata: [unclosed\n").await {
                Err(kube::Error::Api(status)) => assert_eq!(status.code, 400, "{status:?}"),
                other => panic!("malformed YAML must be a 400 Status: {other:?}"),
            }
            let count = api
                .list(&ListParams::default())
                .await
                .expect("list")
                .items
                .len();
            assert_eq!(count, 1, "nothing half-written");
        })
    });
}
