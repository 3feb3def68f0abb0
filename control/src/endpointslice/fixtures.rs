//! Builders for Services, pods and slices shared by this module's tests, and a
//! stand-in for the API server that applies a [`SlicePlan`].
//!
//! Test-only; it must not be used by the controller code.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Container, ContainerPort, Pod, PodCondition, PodIP, PodSpec, PodStatus, Service, ServicePort,
    ServiceSpec,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::SlicePlan;

/// The namespace every fixture lives in.
pub const NAMESPACE: &str = "default";

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A ClusterIP IPv4 Service in `default` with the given selector and ports.
pub fn service(name: &str, selector: &[(&str, &str)], ports: Vec<ServicePort>) -> Service {
    Service {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(NAMESPACE.to_owned()),
            uid: Some(format!("uid-svc-{name}")),
            ..ObjectMeta::default()
        },
        spec: Some(ServiceSpec {
            selector: Some(labels(selector)),
            ports: Some(ports),
            cluster_ip: Some("10.96.0.10".to_owned()),
            ip_families: Some(vec!["IPv4".to_owned()]),
            type_: Some("ClusterIP".to_owned()),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

/// The `web` Service selecting `app=web` with one port `http` 80 -> `target`.
pub fn web_service(target: Option<IntOrString>) -> Service {
    service(
        "web",
        &[("app", "web")],
        vec![svc_port("http", 80, target, "TCP")],
    )
}

/// Changes a Service's spec in place and hands it back.
pub fn with_spec(mut service: Service, change: impl FnOnce(&mut ServiceSpec)) -> Service {
    change(service.spec.get_or_insert_with(ServiceSpec::default));
    service
}

/// A Service port.
pub fn svc_port(name: &str, port: i32, target: Option<IntOrString>, protocol: &str) -> ServicePort {
    ServicePort {
        name: Some(name.to_owned()),
        port,
        target_port: target,
        protocol: Some(protocol.to_owned()),
        ..ServicePort::default()
    }
}

/// A numeric targetPort.
pub fn int_target(port: i32) -> IntOrString {
    IntOrString::Int(port)
}

/// A named targetPort.
pub fn named_target(name: &str) -> IntOrString {
    IntOrString::String(name.to_owned())
}

/// A running pod `app=web` on `node-1` with one IP, Ready as given.
pub fn pod(name: &str, ip: &str, ready: bool) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(NAMESPACE.to_owned()),
            uid: Some(format!("uid-{name}")),
            labels: Some(labels(&[("app", "web")])),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            node_name: Some("node-1".to_owned()),
            containers: vec![Container {
                name: "main".to_owned(),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
        status: Some(PodStatus {
            phase: Some("Running".to_owned()),
            pod_ip: Some(ip.to_owned()),
            pod_ips: Some(vec![PodIP { ip: ip.to_owned() }]),
            conditions: Some(vec![PodCondition {
                type_: "Ready".to_owned(),
                status: if ready { "True" } else { "False" }.to_owned(),
                ..PodCondition::default()
            }]),
            ..PodStatus::default()
        }),
    }
}

/// The pod with these IPs (first is podIP).
pub fn with_ips(mut pod: Pod, ips: &[&str]) -> Pod {
    if let Some(status) = pod.status.as_mut() {
        status.pod_ip = ips.first().map(|ip| (*ip).to_owned());
        status.pod_ips = Some(
            ips.iter()
                .map(|ip| PodIP {
                    ip: (*ip).to_owned(),
                })
                .collect(),
        );
    }
    pod
}

/// The pod without any IP.
pub fn without_ip(pod: Pod) -> Pod {
    with_ips(pod, &[])
}

/// The pod with `podIP` set and `podIPs` empty.
pub fn only_pod_ip(mut pod: Pod) -> Pod {
    if let Some(status) = pod.status.as_mut() {
        status.pod_ips = None;
    }
    pod
}

/// The pod in another phase.
pub fn with_phase(mut pod: Pod, phase: &str) -> Pod {
    if let Some(status) = pod.status.as_mut() {
        status.phase = Some(phase.to_owned());
    }
    pod
}

/// The pod with a deletionTimestamp.
pub fn terminating(mut pod: Pod) -> Pod {
    pod.metadata.deletion_timestamp = Some(Time(Default::default()));
    pod
}

/// The pod with these labels instead of `app=web`.
pub fn with_labels(mut pod: Pod, pairs: &[(&str, &str)]) -> Pod {
    pod.metadata.labels = Some(labels(pairs));
    pod
}

/// The pod in another namespace.
pub fn in_namespace(mut pod: Pod, namespace: &str) -> Pod {
    pod.metadata.namespace = Some(namespace.to_owned());
    pod
}

/// The pod on another node.
pub fn on_node(mut pod: Pod, node: &str) -> Pod {
    if let Some(spec) = pod.spec.as_mut() {
        spec.node_name = Some(node.to_owned());
    }
    pod
}

/// The pod with `spec.hostname` and `spec.subdomain`.
pub fn with_hostname(mut pod: Pod, hostname: &str, subdomain: &str) -> Pod {
    if let Some(spec) = pod.spec.as_mut() {
        spec.hostname = Some(hostname.to_owned());
        spec.subdomain = Some(subdomain.to_owned());
    }
    pod
}

/// The pod whose main container exposes these named ports.
pub fn with_container_ports(mut pod: Pod, ports: &[(&str, i32, &str)]) -> Pod {
    if let Some(container) = pod.spec.as_mut().and_then(|s| s.containers.first_mut()) {
        container.ports = Some(
            ports
                .iter()
                .map(|(name, port, protocol)| ContainerPort {
                    name: Some((*name).to_owned()),
                    container_port: *port,
                    protocol: Some((*protocol).to_owned()),
                    ..ContainerPort::default()
                })
                .collect(),
        );
    }
    pod
}

/// The pod with an init container exposing a named port; a sidecar when `always`.
pub fn with_sidecar_port(mut pod: Pod, name: &str, port: i32, always: bool) -> Pod {
    if let Some(spec) = pod.spec.as_mut() {
        spec.init_containers = Some(vec![Container {
            name: "sidecar".to_owned(),
            restart_policy: always.then(|| "Always".to_owned()),
            ports: Some(vec![ContainerPort {
                name: Some(name.to_owned()),
                container_port: port,
                ..ContainerPort::default()
            }]),
            ..Container::default()
        }]);
    }
    pod
}

/// `count` ready pods `pod-000`.. with IPs 10.1.x.y.
pub fn many_pods(count: usize) -> Vec<Pod> {
    (0..count)
        .map(|i| {
            pod(
                &format!("pod-{i:03}"),
                &format!("10.1.{}.{}", i / 250, i % 250 + 1),
                true,
            )
        })
        .collect()
}

/// What the API server holds after applying `plan` over `existing`, sorted by name.
pub fn apply(existing: &[EndpointSlice], plan: &SlicePlan) -> Vec<EndpointSlice> {
    let mut by_name: BTreeMap<String, EndpointSlice> = existing
        .iter()
        .map(|s| {
            (
                s.metadata.name.clone().expect("stored slices have names"),
                s.clone(),
            )
        })
        .collect();
    for name in &plan.delete {
        assert!(
            by_name.remove(name).is_some(),
            "delete of unknown slice {name}"
        );
    }
    for slice in &plan.update {
        let name = slice.metadata.name.clone().expect("updates carry names");
        assert!(
            by_name.contains_key(&name),
            "update of unknown slice {name}"
        );
        by_name.insert(name, slice.clone());
    }
    for slice in &plan.create {
        let name = slice.metadata.name.clone().expect("creates carry names");
        assert!(
            !by_name.contains_key(&name),
            "create of existing slice {name}"
        );
        by_name.insert(name, slice.clone());
    }
    by_name.into_values().collect()
}
