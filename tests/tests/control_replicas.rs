//! Two `strait control` replicas on one data dir (one store): a watch on
//! either sees writes made through the other, and Services created through
//! both at once never share a ClusterIP or a NodePort.

use std::{collections::BTreeSet, path::Path, time::Duration};

use futures::{StreamExt as _, future::join_all};
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServicePort, ServiceSpec};
use kube::{
    Api, Client, Config,
    api::{ObjectMeta, PostParams, WatchEvent, WatchParams},
    config::{KubeConfigOptions, Kubeconfig},
};
use strait_tests::{Cluster, ClusterSpec, control, privileged};

/// A kube client for the admin kubeconfig, talking to the replica at `server`.
async fn client(kubeconfig: &Path, server: &str) -> Client {
    let kubeconfig = Kubeconfig::read_from(kubeconfig).expect("kubeconfig");
    let mut config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("client config");
    config.cluster_url = server.parse().expect("server url");
    Client::try_from(config).expect("client")
}

fn service(name: &str, node_port: bool) -> Service {
    Service {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        spec: Some(ServiceSpec {
            type_: Some(if node_port { "NodePort" } else { "ClusterIP" }.into()),
            ports: Some(vec![ServicePort {
                port: 80,
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

#[test]
fn two_replicas_share_one_store_without_double_allocation() {
    if !privileged("two_replicas_share_one_store_without_double_allocation") {
        return;
    }
    let cluster = Cluster::start(ClusterSpec::new(1)).expect("cluster");
    let node = cluster.node(1).expect("node");
    let data_dir = node.state_dir().join("control");
    let kubeconfig = data_dir.join("admin.kubeconfig");
    let _a = control::start_on_port(node, &data_dir, 6443, &[]).expect("replica a");
    let _b = control::start_on_port(node, &data_dir, 6444, &[]).expect("replica b");
    let (server_a, server_b) = (
        format!("https://{}:6443", node.ip()),
        format!("https://{}:6444", node.ip()),
    );

    node.netns()
        .run(|| {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let (a, b) = (
                    client(&kubeconfig, &server_a).await,
                    client(&kubeconfig, &server_b).await,
                );

                // A watch on b sees what is written through a, in order.
                let on_b: Api<ConfigMap> = Api::namespaced(b.clone(), "default");
                let mut events = on_b
                    .watch(&WatchParams::default(), "0")
                    .await
                    .expect("watch on b")
                    .boxed();
                let via_a: Api<ConfigMap> = Api::namespaced(a.clone(), "default");
                for i in 0..20 {
                    let cm = ConfigMap {
                        metadata: ObjectMeta {
                            name: Some(format!("from-a-{i}")),
                            ..ObjectMeta::default()
                        },
                        ..ConfigMap::default()
                    };
                    via_a
                        .create(&PostParams::default(), &cm)
                        .await
                        .expect("create via a");
                }
                let mut seen = Vec::new();
                while seen.len() < 20 {
                    let event = tokio::time::timeout(Duration::from_secs(5), events.next())
                        .await
                        .expect("b delivers a's writes within 5 s")
                        .expect("watch open")
                        .expect("watch event");
                    if let WatchEvent::Added(cm) = event
                        && let Some(name) = cm.metadata.name.filter(|n| n.starts_with("from-a-"))
                    {
                        seen.push(name);
                    }
                }
                let expected: Vec<String> = (0..20).map(|i| format!("from-a-{i}")).collect();
                assert_eq!(seen, expected);

                // Services created through both replicas at once.
                let creates = (0..60).map(|i| {
                    let client = if i % 2 == 0 { a.clone() } else { b.clone() };
                    async move {
                        let api: Api<Service> = Api::namespaced(client, "default");
                        api.create(
                            &PostParams::default(),
                            &service(&format!("s{i}"), i % 3 == 0),
                        )
                        .await
                        .expect("service create")
                    }
                });
                let created = join_all(creates).await;
                let ips: BTreeSet<String> = created
                    .iter()
                    .filter_map(|s| s.spec.as_ref()?.cluster_ip.clone())
                    .collect();
                assert_eq!(ips.len(), 60, "60 distinct ClusterIPs: {ips:?}");
                let ports: BTreeSet<i32> = created
                    .iter()
                    .filter_map(|s| s.spec.as_ref()?.ports.as_ref()?.first()?.node_port)
                    .collect();
                assert_eq!(ports.len(), 20, "20 distinct NodePorts: {ports:?}");

                // A ClusterIP one replica gave out is refused by the other.
                let taken = created[0]
                    .spec
                    .as_ref()
                    .and_then(|s| s.cluster_ip.clone())
                    .expect("ip");
                let mut again = service("wants-taken-ip", false);
                if let Some(spec) = again.spec.as_mut() {
                    spec.cluster_ip = Some(taken.clone());
                }
                let refused = Api::<Service>::namespaced(b.clone(), "default")
                    .create(&PostParams::default(), &again)
                    .await;
                match refused {
                    Err(kube::Error::Api(status)) => {
                        assert_eq!(status.code, 422, "{status:?}");
                        assert!(status.message.contains("already allocated"), "{status:?}");
                    }
                    other => panic!("{taken} handed out twice: {other:?}"),
                }

                // Given back through one replica, usable through the other.
                Api::<Service>::namespaced(a.clone(), "default")
                    .delete(
                        created[0].metadata.name.as_deref().expect("name"),
                        &Default::default(),
                    )
                    .await
                    .expect("delete via a");
                let mut reuse = None;
                for _ in 0..50 {
                    match Api::<Service>::namespaced(b.clone(), "default")
                        .create(&PostParams::default(), &again)
                        .await
                    {
                        Ok(created) => {
                            reuse = Some(created);
                            break;
                        }
                        Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                    }
                }
                let reuse = reuse.expect("the freed ClusterIP is allocatable on b");
                assert_eq!(reuse.spec.and_then(|s| s.cluster_ip), Some(taken));
            });
        })
        .expect("entered the node netns");
}
