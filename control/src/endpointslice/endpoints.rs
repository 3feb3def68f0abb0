//! The legacy core/v1 Endpoints object of a Service, as kube-controller-manager's
//! Endpoints controller computes it: one address per selected pod in the
//! Service's primary IP family, ready or not ready, grouped into subsets of
//! addresses that share a port set, capped at 1000 addresses.
//!
//! Builds the desired object only; comparing it with the stored one and
//! writing it belong to the caller.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, ObjectReference, Pod, Service,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::pods::{self, AddressType};
use super::{ANNOTATION_OVER_CAPACITY, LABEL_HEADLESS, MAX_ENDPOINTS_ADDRESSES};

/// Identity of an address within the object: its IP and the UID of its pod.
type AddressId = (String, Option<String>);

/// Identity of a port; `None` stands for "no ports" (headless Services without ports).
type PortId = Option<(Option<String>, i32, Option<String>, Option<String>)>;

/// One (port, address) pair before repacking.
struct Entry {
    port: PortId,
    address: EndpointAddress,
    ready: bool,
}

/// A subset while it is being built: plain vectors, converted to API options at the end.
struct Subset {
    ports: Vec<EndpointPort>,
    ready: Vec<EndpointAddress>,
    not_ready: Vec<EndpointAddress>,
}

/// The desired Endpoints object; see [`super::legacy_endpoints`].
pub fn desired(service: &Service, pods: &[Pod]) -> Option<Endpoints> {
    if pods::is_external_name(service) {
        return None;
    }
    let selector = pods::managed_selector(service)?;
    let publish_not_ready = pods::publishes_not_ready(service);
    let service_ports = pods::service_ports(service);
    let headless = pods::cluster_ip(service) == "None";

    let mut entries = Vec::new();
    for pod in pods
        .iter()
        .filter(|pod| pods::selects(service, selector, pod))
    {
        // Unlike slices, Endpoints never list terminating pods unless asked to publish everything.
        if !pods::should_be_in_endpoints(pod, publish_not_ready) {
            continue;
        }
        let Some(address) = address_for_service(service, pod) else {
            continue;
        };
        let ready = publish_not_ready || pods::is_ready(pod);
        if service_ports.is_empty() {
            if headless {
                entries.push(Entry {
                    port: None,
                    address,
                    ready,
                });
            }
            continue;
        }
        for service_port in service_ports {
            let Some(number) = pods::find_port(pod, service_port) else {
                continue;
            };
            let port = (
                service_port.name.clone().filter(|name| !name.is_empty()),
                number,
                Some(pods::port_protocol(service_port).to_owned()),
                service_port.app_protocol.clone(),
            );
            entries.push(Entry {
                port: Some(port),
                address: address.clone(),
                ready,
            });
        }
    }

    let mut subsets = repack(entries);
    let truncated = truncate(&mut subsets);
    // Truncation can empty a subset, which validation would reject.
    subsets.retain(|subset| !subset.ready.is_empty() || !subset.not_ready.is_empty());

    let mut labels = service.metadata.labels.clone().unwrap_or_default();
    if pods::is_service_ip_set(service) {
        labels.remove(LABEL_HEADLESS);
    } else {
        labels.insert(LABEL_HEADLESS.to_owned(), String::new());
    }
    let annotations = truncated
        .then(|| BTreeMap::from([(ANNOTATION_OVER_CAPACITY.to_owned(), "truncated".to_owned())]));

    Some(Endpoints {
        metadata: ObjectMeta {
            name: service.metadata.name.clone(),
            namespace: service.metadata.namespace.clone(),
            labels: Some(labels).filter(|labels| !labels.is_empty()),
            annotations,
            ..ObjectMeta::default()
        },
        subsets: Some(subsets.into_iter().map(into_api).collect::<Vec<_>>())
            .filter(|subsets| !subsets.is_empty()),
    })
}

/// The Service's primary IP family: its first ipFamily, else the family of
/// its cluster IP, else (headless, not yet defaulted) that of the pod's IP.
fn primary_family(service: &Service, pod: &Pod) -> AddressType {
    let first_family = service
        .spec
        .as_ref()
        .and_then(|spec| spec.ip_families.as_ref())
        .and_then(|families| families.first());
    if let Some(family) = first_family {
        return AddressType::parse(family).unwrap_or(AddressType::IPv4);
    }
    let deciding_ip = if pods::is_service_ip_set(service) {
        pods::cluster_ip(service)
    } else {
        pod.status
            .as_ref()
            .and_then(|status| status.pod_ip.as_deref())
            .unwrap_or_default()
    };
    pods::parse_ip_sloppy(deciding_ip)
        .map(AddressType::of)
        .unwrap_or(AddressType::IPv4)
}

/// The pod's address for the Service: its first IP of the primary family.
fn address_for_service(service: &Service, pod: &Pod) -> Option<EndpointAddress> {
    let family = primary_family(service, pod);
    let ip = pods::pod_ip_strings(pod).into_iter().find(|ip| {
        pods::parse_ip_sloppy(ip).is_some_and(|parsed| AddressType::of(parsed) == family)
    })?;
    let spec = pod.spec.as_ref();
    Some(EndpointAddress {
        ip: ip.to_owned(),
        hostname: pods::hostname_for(pod, service).map(str::to_owned),
        node_name: Some(spec.and_then(|s| s.node_name.clone()).unwrap_or_default()),
        target_ref: Some(ObjectReference {
            kind: Some("Pod".to_owned()),
            namespace: Some(pods::pod_namespace(pod, service).to_owned()),
            name: pod.metadata.name.clone(),
            uid: pod.metadata.uid.clone(),
            ..ObjectReference::default()
        }),
    })
}

/// Groups (port, address) pairs into the canonical subsets: each subset holds
/// the addresses that serve exactly the same ports with the same readiness.
/// An address that is not ready for a port stays not ready for it.
fn repack(entries: Vec<Entry>) -> Vec<Subset> {
    let mut addresses: BTreeMap<AddressId, EndpointAddress> = BTreeMap::new();
    let mut readiness_by_port: BTreeMap<PortId, BTreeMap<AddressId, bool>> = BTreeMap::new();
    for entry in entries {
        let id = (
            entry.address.ip.clone(),
            entry
                .address
                .target_ref
                .as_ref()
                .and_then(|t| t.uid.clone()),
        );
        addresses.entry(id.clone()).or_insert(entry.address);
        let readiness = readiness_by_port.entry(entry.port).or_default();
        let was_ready = readiness.get(&id).copied().unwrap_or(true);
        readiness.insert(id, was_ready && entry.ready);
    }

    let mut ports_by_readiness: BTreeMap<Vec<(AddressId, bool)>, Vec<PortId>> = BTreeMap::new();
    for (port, readiness) in readiness_by_port {
        ports_by_readiness
            .entry(readiness.into_iter().collect())
            .or_default()
            .push(port);
    }

    let mut subsets: Vec<Subset> = ports_by_readiness
        .into_iter()
        .map(|(readiness, ports)| {
            let mut subset = Subset {
                ports: ports.into_iter().flatten().map(into_port).collect(),
                ready: Vec::new(),
                not_ready: Vec::new(),
            };
            for (id, ready) in readiness {
                let Some(address) = addresses.get(&id).cloned() else {
                    continue;
                };
                if ready {
                    subset.ready.push(address);
                } else {
                    subset.not_ready.push(address);
                }
            }
            subset
        })
        .collect();
    subsets.sort_by(|a, b| {
        let key = |s: &Subset| {
            s.ports
                .iter()
                .map(|p| (p.name.clone(), p.port, p.protocol.clone()))
                .collect::<Vec<_>>()
        };
        key(a).cmp(&key(b))
    });
    subsets
}

fn into_port(port: (Option<String>, i32, Option<String>, Option<String>)) -> EndpointPort {
    let (name, port, protocol, app_protocol) = port;
    EndpointPort {
        name,
        port,
        protocol,
        app_protocol,
    }
}

/// Caps the object at 1000 addresses, keeping ready addresses first and
/// sharing what is kept between subsets in proportion to their size.
/// Returns whether anything was dropped.
fn truncate(subsets: &mut [Subset]) -> bool {
    let total_ready: usize = subsets.iter().map(|s| s.ready.len()).sum();
    let total_not_ready: usize = subsets.iter().map(|s| s.not_ready.len()).sum();
    if total_ready + total_not_ready <= MAX_ENDPOINTS_ADDRESSES {
        return false;
    }
    let truncate_ready = total_ready > MAX_ENDPOINTS_ADDRESSES;
    let (budget, total) = if truncate_ready {
        (MAX_ENDPOINTS_ADDRESSES, total_ready)
    } else {
        (MAX_ENDPOINTS_ADDRESSES - total_ready, total_not_ready)
    };
    let mut left = budget;
    for subset in subsets {
        let cut = if truncate_ready {
            subset.not_ready.clear();
            &mut subset.ready
        } else {
            &mut subset.not_ready
        };
        // This subset's share of the budget, rounded up; the last ones get what is left.
        let share = (cut.len() * budget).div_ceil(total.max(1)).min(left);
        cut.truncate(share);
        left -= cut.len();
    }
    true
}

fn into_api(subset: Subset) -> EndpointSubset {
    let non_empty = |v: Vec<EndpointAddress>| Some(v).filter(|v| !v.is_empty());
    EndpointSubset {
        addresses: non_empty(subset.ready),
        not_ready_addresses: non_empty(subset.not_ready),
        ports: Some(subset.ports).filter(|ports| !ports.is_empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpointslice::fixtures::*;
    use crate::endpointslice::legacy_endpoints;

    /// Each subset as (ports, ready IPs, not-ready IPs).
    type Layout = Vec<(Vec<(String, i32)>, Vec<String>, Vec<String>)>;

    fn layout(endpoints: &Endpoints) -> Layout {
        let ips = |addresses: &Option<Vec<EndpointAddress>>| -> Vec<String> {
            addresses.iter().flatten().map(|a| a.ip.clone()).collect()
        };
        endpoints
            .subsets
            .iter()
            .flatten()
            .map(|subset| {
                let ports = subset
                    .ports
                    .iter()
                    .flatten()
                    .map(|p| (p.name.clone().unwrap_or_default(), p.port))
                    .collect();
                (
                    ports,
                    ips(&subset.addresses),
                    ips(&subset.not_ready_addresses),
                )
            })
            .collect()
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    fn http(port: i32) -> Vec<(String, i32)> {
        vec![("http".to_owned(), port)]
    }

    #[test]
    fn readiness_and_publishing() {
        struct Case {
            name: &'static str,
            publish_not_ready: bool,
            pods: Vec<Pod>,
            want: Layout,
        }
        let cases = [
            Case {
                name: "ready and not ready",
                publish_not_ready: false,
                pods: vec![pod("a", "10.0.0.2", true), pod("b", "10.0.0.1", false)],
                want: vec![(http(80), strings(&["10.0.0.2"]), strings(&["10.0.0.1"]))],
            },
            Case {
                name: "terminating pods are left out",
                publish_not_ready: false,
                pods: vec![
                    pod("a", "10.0.0.1", true),
                    terminating(pod("b", "10.0.0.2", true)),
                ],
                want: vec![(http(80), strings(&["10.0.0.1"]), vec![])],
            },
            Case {
                name: "publishNotReadyAddresses lists everything as ready",
                publish_not_ready: true,
                pods: vec![
                    pod("a", "10.0.0.1", true),
                    pod("b", "10.0.0.2", false),
                    terminating(pod("c", "10.0.0.3", false)),
                ],
                want: vec![(
                    http(80),
                    strings(&["10.0.0.1", "10.0.0.2", "10.0.0.3"]),
                    vec![],
                )],
            },
            Case {
                name: "terminal, unselected and ip-less pods are left out",
                publish_not_ready: true,
                pods: vec![
                    with_phase(pod("a", "10.0.0.1", true), "Failed"),
                    with_labels(pod("b", "10.0.0.2", true), &[("app", "db")]),
                    without_ip(pod("c", "10.0.0.3", true)),
                ],
                want: vec![],
            },
        ];
        for case in cases {
            let svc = with_spec(web_service(None), |s| {
                s.publish_not_ready_addresses = Some(case.publish_not_ready)
            });
            let endpoints = legacy_endpoints(&svc, &case.pods).expect("managed");
            assert_eq!(layout(&endpoints), case.want, "{}", case.name);
        }
    }

    #[test]
    fn subsets_group_addresses_by_ports() {
        let svc = web_service(Some(named_target("http")));
        let pods = vec![
            with_container_ports(pod("a", "10.0.0.1", true), &[("http", 8080, "TCP")]),
            with_container_ports(pod("b", "10.0.0.2", false), &[("http", 8080, "TCP")]),
            with_container_ports(pod("c", "10.0.0.3", true), &[("http", 9090, "TCP")]),
            pod("d", "10.0.0.4", true),
        ];
        let endpoints = legacy_endpoints(&svc, &pods).expect("managed");
        let want = vec![
            (http(8080), strings(&["10.0.0.1"]), strings(&["10.0.0.2"])),
            (http(9090), strings(&["10.0.0.3"]), vec![]),
        ];
        assert_eq!(layout(&endpoints), want);
    }

    #[test]
    fn ports_served_by_the_same_addresses_share_a_subset() {
        let svc = service(
            "web",
            &[("app", "web")],
            vec![
                svc_port("http", 80, Some(int_target(8080)), "TCP"),
                svc_port("admin", 81, Some(int_target(8081)), "TCP"),
                svc_port("metrics", 90, Some(named_target("metrics")), "TCP"),
            ],
        );
        let pods = vec![
            with_container_ports(pod("a", "10.0.0.1", true), &[("metrics", 9100, "TCP")]),
            pod("b", "10.0.0.2", true),
        ];
        let endpoints = legacy_endpoints(&svc, &pods).expect("managed");
        let want = vec![
            (
                vec![("admin".to_owned(), 8081), ("http".to_owned(), 8080)],
                strings(&["10.0.0.1", "10.0.0.2"]),
                vec![],
            ),
            (
                vec![("metrics".to_owned(), 9100)],
                strings(&["10.0.0.1"]),
                vec![],
            ),
        ];
        assert_eq!(layout(&endpoints), want);
    }

    #[test]
    fn address_fields() {
        let svc = web_service(None);
        let pods = vec![
            with_hostname(pod("a", "10.0.0.1", true), "web-0", "web"),
            with_hostname(pod("b", "10.0.0.2", true), "web-1", "elsewhere"),
        ];
        let endpoints = legacy_endpoints(&svc, &pods).expect("managed");
        let addresses = endpoints
            .subsets
            .expect("subsets")
            .remove(0)
            .addresses
            .expect("addresses");
        let want_a = EndpointAddress {
            ip: "10.0.0.1".to_owned(),
            hostname: Some("web-0".to_owned()),
            node_name: Some("node-1".to_owned()),
            target_ref: Some(ObjectReference {
                kind: Some("Pod".to_owned()),
                namespace: Some("default".to_owned()),
                name: Some("a".to_owned()),
                uid: Some("uid-a".to_owned()),
                ..ObjectReference::default()
            }),
        };
        assert_eq!(addresses.first(), Some(&want_a));
        assert_eq!(addresses.get(1).and_then(|a| a.hostname.clone()), None);
    }

    #[test]
    fn port_fields() {
        let mut port = svc_port("", 53, Some(int_target(5353)), "UDP");
        port.app_protocol = Some("dns".to_owned());
        let svc = service("dns", &[("app", "web")], vec![port]);
        let endpoints = legacy_endpoints(&svc, &[pod("a", "10.0.0.1", true)]).expect("managed");
        let ports = endpoints
            .subsets
            .expect("subsets")
            .remove(0)
            .ports
            .expect("ports");
        let want = EndpointPort {
            name: None,
            port: 5353,
            protocol: Some("UDP".to_owned()),
            app_protocol: Some("dns".to_owned()),
        };
        assert_eq!(ports, vec![want]);
    }

    #[test]
    fn services_without_ports() {
        let headless = with_spec(service("db", &[("app", "web")], vec![]), |s| {
            s.cluster_ip = Some("None".to_owned())
        });
        let endpoints =
            legacy_endpoints(&headless, &[pod("a", "10.0.0.1", true)]).expect("managed");
        assert_eq!(
            layout(&endpoints),
            vec![(vec![], strings(&["10.0.0.1"]), vec![])]
        );
        assert_eq!(
            endpoints
                .subsets
                .as_ref()
                .and_then(|s| s.first())
                .and_then(|s| s.ports.clone()),
            None
        );

        let clustered = service("db", &[("app", "web")], vec![]);
        let endpoints =
            legacy_endpoints(&clustered, &[pod("a", "10.0.0.1", true)]).expect("managed");
        assert_eq!(endpoints.subsets, None);
    }

    #[test]
    fn unmanaged_services() {
        let pods = [pod("a", "10.0.0.1", true)];
        let cases = [
            (
                "no selector",
                with_spec(web_service(None), |s| s.selector = None),
            ),
            (
                "empty selector",
                with_spec(web_service(None), |s| s.selector = Some(BTreeMap::new())),
            ),
            (
                "external name",
                with_spec(web_service(None), |s| {
                    s.type_ = Some("ExternalName".to_owned())
                }),
            ),
        ];
        for (name, svc) in cases {
            assert_eq!(legacy_endpoints(&svc, &pods), None, "{name}");
        }
    }

    #[test]
    fn object_metadata() {
        let mut svc = web_service(None);
        svc.metadata.labels = Some(BTreeMap::from([
            ("team".to_owned(), "payments".to_owned()),
            (LABEL_HEADLESS.to_owned(), "stale".to_owned()),
        ]));
        let endpoints = legacy_endpoints(&svc, &[]).expect("managed");
        assert_eq!(endpoints.metadata.name.as_deref(), Some("web"));
        assert_eq!(endpoints.metadata.namespace.as_deref(), Some("default"));
        assert_eq!(
            endpoints.metadata.labels,
            Some(BTreeMap::from([("team".to_owned(), "payments".to_owned())]))
        );
        assert_eq!(endpoints.metadata.annotations, None);
        assert_eq!(endpoints.metadata.owner_references, None);
        assert_eq!(endpoints.subsets, None);

        let headless = with_spec(svc, |s| s.cluster_ip = Some("None".to_owned()));
        let endpoints = legacy_endpoints(&headless, &[]).expect("managed");
        let labels = endpoints.metadata.labels.expect("labels");
        assert_eq!(labels.get(LABEL_HEADLESS).map(String::as_str), Some(""));
    }

    #[test]
    fn primary_family_only() {
        let dual_pod = with_ips(pod("a", "10.0.0.1", true), &["10.0.0.1", "fd00::1"]);
        let v6_pod = pod("b", "fd00::2", true);
        let cases = [
            (
                "ipv4 first",
                Some(vec!["IPv4", "IPv6"]),
                "10.96.0.10",
                vec!["10.0.0.1"],
            ),
            (
                "ipv6 first",
                Some(vec!["IPv6", "IPv4"]),
                "fd00::10",
                vec!["fd00::1", "fd00::2"],
            ),
            (
                "no families, ipv6 cluster ip",
                None,
                "fd00::10",
                vec!["fd00::1", "fd00::2"],
            ),
            (
                "no families, headless: the pod's podIP decides",
                None,
                "None",
                vec!["10.0.0.1", "fd00::2"],
            ),
        ];
        for (name, families, cluster_ip, want) in cases {
            let svc = with_spec(web_service(None), |s| {
                s.ip_families = families.map(|f| f.iter().map(|x| (*x).to_owned()).collect());
                s.cluster_ip = Some(cluster_ip.to_owned());
            });
            let endpoints =
                legacy_endpoints(&svc, &[dual_pod.clone(), v6_pod.clone()]).expect("managed");
            let got: Vec<String> = layout(&endpoints)
                .into_iter()
                .flat_map(|(_, ready, _)| ready)
                .collect();
            assert_eq!(got, strings(&want), "{name}");
        }
    }

    #[test]
    fn truncation_at_1000_addresses() {
        struct Case {
            name: &'static str,
            ready: usize,
            not_ready: usize,
            want: (usize, usize),
            truncated: bool,
        }
        let cases = [
            Case {
                name: "at capacity",
                ready: 600,
                not_ready: 400,
                want: (600, 400),
                truncated: false,
            },
            Case {
                name: "not ready cut first",
                ready: 900,
                not_ready: 300,
                want: (900, 100),
                truncated: true,
            },
            Case {
                name: "ready over capacity",
                ready: 1100,
                not_ready: 50,
                want: (1000, 0),
                truncated: true,
            },
        ];
        for case in cases {
            let pods: Vec<Pod> = (0..case.ready + case.not_ready)
                .map(|i| {
                    pod(
                        &format!("p{i}"),
                        &format!("10.{}.{}.{}", i / 62500, i / 250 % 250, i % 250 + 1),
                        i < case.ready,
                    )
                })
                .collect();
            let endpoints = legacy_endpoints(&web_service(None), &pods).expect("managed");
            let (ready, not_ready) = layout(&endpoints)
                .iter()
                .fold((0, 0), |(r, n), (_, ready, not_ready)| {
                    (r + ready.len(), n + not_ready.len())
                });
            assert_eq!((ready, not_ready), case.want, "{}", case.name);
            let annotation = endpoints
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(ANNOTATION_OVER_CAPACITY))
                .map(String::as_str);
            assert_eq!(
                annotation,
                case.truncated.then_some("truncated"),
                "{}",
                case.name
            );
        }
    }

    #[test]
    fn repack_keeps_an_address_not_ready_once_seen_not_ready() {
        let port = Some((Some("http".to_owned()), 80, Some("TCP".to_owned()), None));
        let address = EndpointAddress {
            ip: "10.0.0.1".to_owned(),
            ..EndpointAddress::default()
        };
        for order in [[true, false], [false, true]] {
            let entries = order
                .iter()
                .map(|&ready| Entry {
                    port: port.clone(),
                    address: address.clone(),
                    ready,
                })
                .collect();
            let subsets = repack(entries);
            let sizes: Vec<(usize, usize)> = subsets
                .iter()
                .map(|s| (s.ready.len(), s.not_ready.len()))
                .collect();
            assert_eq!(sizes, vec![(0, 1)], "{order:?}");
        }
    }

    #[test]
    fn truncation_shares_the_budget_between_subsets() {
        let ready = |n: usize| -> Vec<EndpointAddress> {
            (0..n)
                .map(|i| EndpointAddress {
                    ip: format!("10.0.{}.{}", i / 250, i % 250),
                    ..EndpointAddress::default()
                })
                .collect()
        };
        let mut subsets = vec![
            Subset {
                ports: vec![],
                ready: ready(1500),
                not_ready: ready(3),
            },
            Subset {
                ports: vec![],
                ready: ready(500),
                not_ready: vec![],
            },
            Subset {
                ports: vec![],
                ready: vec![],
                not_ready: ready(5),
            },
        ];
        assert!(truncate(&mut subsets));
        let sizes: Vec<(usize, usize)> = subsets
            .iter()
            .map(|s| (s.ready.len(), s.not_ready.len()))
            .collect();
        assert_eq!(sizes, vec![(750, 0), (250, 0), (0, 0)]);
    }

    #[test]
    fn output_is_sorted_and_stable() {
        let svc = web_service(None);
        let mut pods = many_pods(30);
        let forward = legacy_endpoints(&svc, &pods);
        pods.reverse();
        assert_eq!(legacy_endpoints(&svc, &pods), forward);
        let ips: Vec<String> = layout(&forward.expect("managed")).remove(0).1;
        let mut sorted = ips.clone();
        sorted.sort();
        assert_eq!(ips, sorted);
    }
}
