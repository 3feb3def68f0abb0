//! Pod facts that both endpoint controllers read: whether a Service selects a
//! pod, whether the pod may be listed at all, its readiness, its addresses per
//! IP family, the container port a Service port targets, and its DNS hostname.
//!
//! Only reads objects; it must not decide how endpoints are grouped into
//! EndpointSlices or Endpoints subsets.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use k8s_openapi::api::core::v1::{Pod, Service, ServicePort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// Protocol the API server defaults a Service or container port to.
const DEFAULT_PROTOCOL: &str = "TCP";

/// An IP family, which is also an EndpointSlice addressType.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AddressType {
    /// `IPv4`
    IPv4,
    /// `IPv6`
    IPv6,
}

impl AddressType {
    /// The addressType string stored in an EndpointSlice.
    pub fn as_str(self) -> &'static str {
        match self {
            AddressType::IPv4 => "IPv4",
            AddressType::IPv6 => "IPv6",
        }
    }

    /// Reads an addressType or ipFamily string; `FQDN` and unknown values give `None`.
    pub fn parse(s: &str) -> Option<AddressType> {
        match s {
            "IPv4" => Some(AddressType::IPv4),
            "IPv6" => Some(AddressType::IPv6),
            _ => None,
        }
    }

    /// The family of a parsed address.
    pub fn of(ip: IpAddr) -> AddressType {
        match ip {
            IpAddr::V4(_) => AddressType::IPv4,
            IpAddr::V6(_) => AddressType::IPv6,
        }
    }
}

/// The Service's selector when the controllers manage its endpoints.
///
/// `None` for a missing selector and for an empty one: the API server drops an
/// empty map when it stores the object, so kube-controller-manager never sees
/// `{}` as a select-everything selector.
pub fn managed_selector(service: &Service) -> Option<&BTreeMap<String, String>> {
    service
        .spec
        .as_ref()?
        .selector
        .as_ref()
        .filter(|selector| !selector.is_empty())
}

/// Whether the Service is `type: ExternalName` (a DNS alias without endpoints).
pub fn is_external_name(service: &Service) -> bool {
    service.spec.as_ref().and_then(|spec| spec.type_.as_deref()) == Some("ExternalName")
}

/// Whether the Service has a cluster IP (neither empty nor `None`).
pub fn is_service_ip_set(service: &Service) -> bool {
    !matches!(cluster_ip(service), "" | "None")
}

/// The Service's `spec.clusterIP`, empty when unset.
pub fn cluster_ip(service: &Service) -> &str {
    service
        .spec
        .as_ref()
        .and_then(|spec| spec.cluster_ip.as_deref())
        .unwrap_or_default()
}

/// The Service's ports, empty when unset.
pub fn service_ports(service: &Service) -> &[ServicePort] {
    service
        .spec
        .as_ref()
        .and_then(|spec| spec.ports.as_deref())
        .unwrap_or_default()
}

/// Whether the Service publishes addresses of pods that are not ready.
pub fn publishes_not_ready(service: &Service) -> bool {
    service
        .spec
        .as_ref()
        .and_then(|spec| spec.publish_not_ready_addresses)
        .unwrap_or(false)
}

/// The namespace a pod lives in; a pod without one is taken to be in the Service's.
pub fn pod_namespace<'a>(pod: &'a Pod, service: &'a Service) -> &'a str {
    pod.metadata
        .namespace
        .as_deref()
        .or(service.metadata.namespace.as_deref())
        .unwrap_or_default()
}

/// Whether `selector` picks `pod`: same namespace and every selector label present with its value.
pub fn selects(service: &Service, selector: &BTreeMap<String, String>, pod: &Pod) -> bool {
    let service_namespace = service.metadata.namespace.as_deref().unwrap_or_default();
    if pod_namespace(pod, service) != service_namespace {
        return false;
    }
    let labels = pod.metadata.labels.as_ref();
    selector
        .iter()
        .all(|(key, value)| labels.and_then(|labels| labels.get(key)) == Some(value))
}

/// Whether the pod has finished for good (phase Succeeded or Failed).
pub fn is_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status
            .as_ref()
            .and_then(|status| status.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

/// Whether the pod is being deleted (has a deletionTimestamp).
pub fn is_terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

/// Whether the pod's first `Ready` condition has status `True`.
pub fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|status| status.conditions.as_ref())
        .and_then(|conditions| conditions.iter().find(|c| c.type_ == "Ready"))
        .is_some_and(|ready| ready.status == "True")
}

/// The pod's IP strings: `status.podIPs`, or `status.podIP` when the list is empty.
///
/// kube-controller-manager reads only `podIPs`; the API server keeps
/// `podIPs[0] == podIP`, so the fallback only matters for a status writer
/// that fills in `podIP` alone, and then keeps that pod listed.
pub fn pod_ip_strings(pod: &Pod) -> Vec<&str> {
    let Some(status) = pod.status.as_ref() else {
        return Vec::new();
    };
    let listed: Vec<&str> = status
        .pod_ips
        .iter()
        .flatten()
        .map(|pod_ip| pod_ip.ip.as_str())
        .filter(|ip| !ip.is_empty())
        .collect();
    if !listed.is_empty() {
        return listed;
    }
    status
        .pod_ip
        .as_deref()
        .filter(|ip| !ip.is_empty())
        .into_iter()
        .collect()
}

/// Whether the pod may appear in endpoints at all: not terminal, has an IP,
/// and is not being deleted unless terminating pods are wanted.
pub fn should_be_in_endpoints(pod: &Pod, include_terminating: bool) -> bool {
    if is_terminal(pod) || pod_ip_strings(pod).is_empty() {
        return false;
    }
    include_terminating || !is_terminating(pod)
}

/// Parses an IP the way Go's `ParseIPSloppy` does: IPv4 octets may carry
/// leading zeros (read as decimal), and an IPv4-mapped IPv6 address is IPv4.
pub fn parse_ip_sloppy(text: &str) -> Option<IpAddr> {
    let parsed = match text.parse::<IpAddr>() {
        Ok(ip) => ip,
        Err(_) => IpAddr::V4(parse_ipv4_leading_zeros(text)?),
    };
    Some(parsed.to_canonical())
}

fn parse_ipv4_leading_zeros(text: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = text.split('.');
    for octet in &mut octets {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *octet = part.parse().ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(Ipv4Addr::from(octets))
}

/// The pod's addresses of one family, re-printed in canonical form; unparseable entries are skipped.
pub fn addresses_of_family(pod: &Pod, family: AddressType) -> Vec<String> {
    pod_ip_strings(pod)
        .into_iter()
        .filter_map(parse_ip_sloppy)
        .filter(|ip| AddressType::of(*ip) == family)
        .map(|ip| ip.to_string())
        .collect()
}

/// The protocol of a Service port, defaulted like the API server does.
pub fn port_protocol(port: &ServicePort) -> &str {
    port.protocol.as_deref().unwrap_or(DEFAULT_PROTOCOL)
}

/// The container port a Service port sends to on this pod.
///
/// A numeric (or unset, which the API server defaults to `port`) targetPort is
/// used as is. A named one is looked up among the ports of the pod's
/// containers, then of its sidecars (init containers with `restartPolicy:
/// Always`), matching name and protocol; `None` when no port matches.
pub fn find_port(pod: &Pod, service_port: &ServicePort) -> Option<i32> {
    let name = match &service_port.target_port {
        None => return Some(service_port.port),
        Some(IntOrString::Int(number)) => return Some(*number),
        Some(IntOrString::String(name)) => name,
    };
    let protocol = port_protocol(service_port);
    let spec = pod.spec.as_ref()?;
    let sidecars = spec
        .init_containers
        .iter()
        .flatten()
        .filter(|init| init.restart_policy.as_deref() == Some("Always"));
    spec.containers
        .iter()
        .chain(sidecars)
        .flat_map(|container| container.ports.iter().flatten())
        .find(|port| {
            port.name.as_deref() == Some(name.as_str())
                && port.protocol.as_deref().unwrap_or(DEFAULT_PROTOCOL) == protocol
        })
        .map(|port| port.container_port)
}

/// The pod's DNS hostname for this Service: `spec.hostname`, when
/// `spec.subdomain` names the Service and both share a namespace.
pub fn hostname_for<'a>(pod: &'a Pod, service: &Service) -> Option<&'a str> {
    let spec = pod.spec.as_ref()?;
    let hostname = spec.hostname.as_deref().filter(|h| !h.is_empty())?;
    let same_namespace =
        pod.metadata.namespace.is_none() || pod.metadata.namespace == service.metadata.namespace;
    let subdomain = spec.subdomain.as_deref().unwrap_or_default();
    let service_name = service.metadata.name.as_deref().unwrap_or_default();
    (same_namespace && subdomain == service_name).then_some(hostname)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpointslice::fixtures::*;

    #[test]
    fn parse_ip_sloppy_cases() {
        let cases = [
            ("10.0.0.1", Some("10.0.0.1")),
            ("010.000.001.002", Some("10.0.1.2")),
            ("::ffff:10.0.0.1", Some("10.0.0.1")),
            ("2001:DB8::0001", Some("2001:db8::1")),
            ("10.0.0", None),
            ("10.0.0.1.2", None),
            ("1000.0.0.1", None),
            ("", None),
            ("pod", None),
        ];
        for (input, want) in cases {
            let got = parse_ip_sloppy(input).map(|ip| ip.to_string());
            assert_eq!(got.as_deref(), want, "{input}");
        }
    }

    #[test]
    fn should_be_in_endpoints_cases() {
        struct Case {
            name: &'static str,
            pod: Pod,
            include_terminating: bool,
            want: bool,
        }
        let cases = [
            Case {
                name: "running with ip",
                pod: pod("a", "10.0.0.1", true),
                include_terminating: false,
                want: true,
            },
            Case {
                name: "no ip",
                pod: without_ip(pod("a", "10.0.0.1", true)),
                include_terminating: true,
                want: false,
            },
            Case {
                name: "only podIP set",
                pod: only_pod_ip(pod("a", "10.0.0.1", true)),
                include_terminating: true,
                want: true,
            },
            Case {
                name: "succeeded",
                pod: with_phase(pod("a", "10.0.0.1", false), "Succeeded"),
                include_terminating: true,
                want: false,
            },
            Case {
                name: "failed",
                pod: with_phase(pod("a", "10.0.0.1", false), "Failed"),
                include_terminating: true,
                want: false,
            },
            Case {
                name: "terminating excluded",
                pod: terminating(pod("a", "10.0.0.1", true)),
                include_terminating: false,
                want: false,
            },
            Case {
                name: "terminating included",
                pod: terminating(pod("a", "10.0.0.1", true)),
                include_terminating: true,
                want: true,
            },
        ];
        for case in cases {
            assert_eq!(
                should_be_in_endpoints(&case.pod, case.include_terminating),
                case.want,
                "{}",
                case.name
            );
        }
    }

    #[test]
    fn find_port_cases() {
        let web = with_container_ports(
            pod("a", "10.0.0.1", true),
            &[("http", 8080, "TCP"), ("dns", 53, "UDP")],
        );
        let sidecar = with_sidecar_port(pod("b", "10.0.0.2", true), "metrics", 9090, true);
        let plain_init = with_sidecar_port(pod("c", "10.0.0.3", true), "metrics", 9090, false);
        let cases = [
            (
                "int",
                &web,
                svc_port("p", 80, Some(int_target(8081)), "TCP"),
                Some(8081),
            ),
            ("unset", &web, svc_port("p", 80, None, "TCP"), Some(80)),
            (
                "named",
                &web,
                svc_port("p", 80, Some(named_target("http")), "TCP"),
                Some(8080),
            ),
            (
                "named wrong protocol",
                &web,
                svc_port("p", 80, Some(named_target("http")), "UDP"),
                None,
            ),
            (
                "named udp",
                &web,
                svc_port("p", 53, Some(named_target("dns")), "UDP"),
                Some(53),
            ),
            (
                "named missing",
                &web,
                svc_port("p", 80, Some(named_target("grpc")), "TCP"),
                None,
            ),
            (
                "sidecar",
                &sidecar,
                svc_port("p", 80, Some(named_target("metrics")), "TCP"),
                Some(9090),
            ),
            (
                "plain init container",
                &plain_init,
                svc_port("p", 80, Some(named_target("metrics")), "TCP"),
                None,
            ),
        ];
        for (name, pod, port, want) in cases {
            assert_eq!(find_port(pod, &port), want, "{name}");
        }
    }

    #[test]
    fn hostname_cases() {
        let svc = service(
            "web",
            &[("app", "web")],
            vec![svc_port("http", 80, None, "TCP")],
        );
        let cases = [
            (
                "matching subdomain",
                with_hostname(pod("a", "10.0.0.1", true), "a-host", "web"),
                Some("a-host"),
            ),
            (
                "other subdomain",
                with_hostname(pod("a", "10.0.0.1", true), "a-host", "db"),
                None,
            ),
            (
                "no hostname",
                with_hostname(pod("a", "10.0.0.1", true), "", "web"),
                None,
            ),
            (
                "other namespace",
                in_namespace(
                    with_hostname(pod("a", "10.0.0.1", true), "a-host", "web"),
                    "other",
                ),
                None,
            ),
        ];
        for (name, pod, want) in cases {
            assert_eq!(hostname_for(&pod, &svc), want, "{name}");
        }
    }

    #[test]
    fn selects_cases() {
        let svc = service("web", &[("app", "web"), ("tier", "front")], vec![]);
        let selector = managed_selector(&svc).expect("selector");
        let both = with_labels(
            pod("a", "10.0.0.1", true),
            &[("app", "web"), ("tier", "front"), ("x", "y")],
        );
        let one = with_labels(pod("a", "10.0.0.1", true), &[("app", "web")]);
        let other_ns = in_namespace(both.clone(), "other");
        assert!(selects(&svc, selector, &both));
        assert!(!selects(&svc, selector, &one));
        assert!(!selects(&svc, selector, &other_ns));
    }

    #[test]
    fn empty_selector_is_unmanaged() {
        let svc = service("web", &[], vec![]);
        assert_eq!(managed_selector(&svc), None);
    }
}
