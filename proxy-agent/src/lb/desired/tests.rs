//! Table-driven tests of each Service semantic, and properties of the
//! allocation and of determinism.

use std::{collections::BTreeSet, net::Ipv4Addr};

use k8s_openapi::{
    api::core::v1::{Node, NodeAddress, NodeStatus},
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};
use proptest::prelude::*;
use strait_proxy_maps::lb::{
    BackendKey, MAGLEV_TABLE_SIZE, MaglevKey, ServiceKey, ServiceValue, backend_flags,
    backend_state, host_addr, host_port, proto, scope, service_flags as f,
};

use super::*;
use crate::lb::fixtures::{Cond, NODE, NODE_IP, node, slice, svc, world};

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

/// Slot 0 of a frontend's entry in a scope.
fn entry(d: &Desired, addr: &str, port: u16, protocol: u8, scope: u8) -> Option<ServiceValue> {
    d.services
        .get(&ServiceKey::new(ip(addr), port, protocol, scope, 0))
        .copied()
}

/// The backends in an entry's slots, as `addr:port` (active first, then
/// draining), and the entry's (count, terminating).
fn slots(d: &Desired, addr: &str, port: u16, protocol: u8, scope: u8) -> (Vec<String>, u16, u16) {
    let key = ServiceKey::new(ip(addr), port, protocol, scope, 0);
    let head = d.services[&key];
    let list = (1..=head.count + head.terminating)
        .map(|slot| {
            let value = d.services[&key.with_slot(slot)];
            assert_eq!(value.rev_nat, head.rev_nat, "slot {slot} rev_nat");
            let backend = d.backends[&BackendKey {
                id: value.backend_id,
            }];
            format!("{}:{}", host_addr(backend.addr), host_port(backend.port))
        })
        .collect();
    (list, head.count, head.terminating)
}

fn backend_state_of(d: &Desired, addr: &str, port: u16) -> Option<u8> {
    d.backends
        .values()
        .find(|b| b.address() == ip(addr) && b.host_port() == port)
        .map(|b| b.state)
}

fn frontends(d: &Desired) -> BTreeSet<String> {
    d.services
        .keys()
        .filter(|k| k.slot == 0)
        .map(|k| format!("{}:{}/{}/{}", k.address(), k.host_port(), k.proto, k.scope))
        .collect()
}

fn run(services: &[Service], slices: &[EndpointSlice]) -> Desired {
    desired(services, slices, &node(), &Allocation::default())
}

const TCP: u8 = proto::TCP;
const UDP: u8 = proto::UDP;
const EXT: u8 = scope::EXTERNAL;
const INT: u8 = scope::INTERNAL;

#[test]
fn cluster_ip_per_port_and_protocol_and_sctp_is_reported() {
    let s = svc("default/dns", "10.96.0.10")
        .port("dns", 53, "UDP")
        .port("dns-tcp", 53, "TCP")
        .port("sctp", 9, "SCTP")
        .build();
    let sl = slice("default/dns-1", "dns")
        .port("dns", 5353, "UDP")
        .port("dns-tcp", 5353, "TCP")
        .ep("10.244.0.2", NODE, Cond::Ready)
        .ep("10.244.1.2", "n2", Cond::Ready)
        .build();
    let d = run(&[s], &[sl]);
    assert_eq!(
        frontends(&d),
        BTreeSet::from([
            "10.96.0.10:53/6/0".to_owned(),
            "10.96.0.10:53/17/0".to_owned()
        ])
    );
    for protocol in [UDP, TCP] {
        let (list, count, terminating) = slots(&d, "10.96.0.10", 53, protocol, EXT);
        assert_eq!(list, ["10.244.0.2:5353", "10.244.1.2:5353"]);
        assert_eq!((count, terminating), (2, 0));
        let head = entry(&d, "10.96.0.10", 53, protocol, EXT).unwrap();
        assert_eq!(head.flags, f::CLUSTER_IP);
        assert_eq!(head.affinity_timeout, 0);
        assert_eq!(head.backend_id, 0);
        let rev = d.rev_nat[&RevNatKey {
            index: head.rev_nat,
        }];
        assert_eq!(rev, RevNatValue::new(ip("10.96.0.10"), 53));
    }
    // TCP and UDP backends are distinct, with the local flag where due.
    assert_eq!(d.backends.len(), 4);
    let local: Vec<_> = d
        .backends
        .values()
        .filter(|b| b.flags & backend_flags::LOCAL != 0)
        .map(|b| (b.address(), b.proto))
        .collect();
    assert_eq!(local, [(ip("10.244.0.2"), TCP), (ip("10.244.0.2"), UDP)]);
    assert_eq!(d.rev_nat.len(), 2);
    assert_eq!(
        d.problems,
        [Problem::UnsupportedProtocol {
            service: "default/dns".into(),
            port: "sctp".into(),
            protocol: "SCTP".into()
        }]
    );
}

#[test]
fn ports_match_slice_ports_by_name_and_protocol() {
    // targetPort "http" resolved per pod by the slice controller: the
    // slices carry numbers, the match is by the Service port's name.
    let s = svc("default/web", "10.96.0.20")
        .port("http", 80, "TCP")
        .port("metrics", 9090, "TCP")
        .build();
    let unnamed = svc("default/one", "10.96.0.21").port("", 80, "TCP").build();
    let slices = [
        slice("default/web-a", "web")
            .port("http", 8080, "TCP")
            .port("metrics", 9100, "TCP")
            .ep("10.244.0.3", NODE, Cond::Ready)
            .build(),
        // Another ReplicaSet's pods name the same port differently.
        slice("default/web-b", "web")
            .port("http", 8081, "TCP")
            .port("metrics", 9100, "UDP")
            .ep("10.244.0.4", NODE, Cond::Ready)
            .build(),
        slice("default/one-a", "one")
            .port("", 8000, "TCP")
            .ep("10.244.0.5", NODE, Cond::Ready)
            .build(),
    ];
    let d = run(&[s, unnamed], &slices);
    assert_eq!(
        slots(&d, "10.96.0.20", 80, TCP, EXT).0,
        ["10.244.0.3:8080", "10.244.0.4:8081"]
    );
    assert_eq!(
        slots(&d, "10.96.0.20", 9090, TCP, EXT).0,
        ["10.244.0.3:9100"]
    );
    assert_eq!(slots(&d, "10.96.0.21", 80, TCP, EXT).0, ["10.244.0.5:8000"]);
}

#[test]
fn node_port_on_every_node_address_and_the_wildcard() {
    let s = svc("default/web", "10.96.0.30")
        .type_("NodePort")
        .port("http", 80, "TCP")
        .node_port(30080)
        .build();
    let sl = slice("default/web-a", "web")
        .port("http", 8080, "TCP")
        .ep("10.244.1.3", "n2", Cond::Ready)
        .build();
    let mut ctx = node();
    ctx.ips = vec![ip("192.0.2.2"), NODE_IP, NODE_IP, Ipv4Addr::UNSPECIFIED];
    let d = desired(&[s], &[sl], &ctx, &Allocation::default());
    assert_eq!(
        frontends(&d),
        BTreeSet::from([
            "10.96.0.30:80/6/0".to_owned(),
            "192.0.2.1:30080/6/0".to_owned(),
            "192.0.2.2:30080/6/0".to_owned(),
            "0.0.0.0:30080/6/0".to_owned(),
        ])
    );
    for addr in ["192.0.2.1", "192.0.2.2", "0.0.0.0"] {
        let head = entry(&d, addr, 30080, TCP, EXT).unwrap();
        assert_eq!(head.flags, f::NODE_PORT, "{addr}");
        assert_eq!(slots(&d, addr, 30080, TCP, EXT).0, ["10.244.1.3:8080"]);
        let rev = d.rev_nat[&RevNatKey {
            index: head.rev_nat,
        }];
        assert_eq!(rev, RevNatValue::new(ip(addr), 30080));
    }
    // One backend, one id, whatever the number of frontends.
    assert_eq!(d.backends.len(), 1);
    assert_eq!(d.rev_nat.len(), 4);
    assert!(d.problems.is_empty(), "{:?}", d.problems);
}

#[test]
fn node_port_only_for_node_port_and_load_balancer_types() {
    let cluster = svc("default/a", "10.96.0.31")
        .port("http", 80, "TCP")
        .node_port(30081)
        .build();
    // allocateLoadBalancerNodePorts: false leaves nodePort unset.
    let lb_without = svc("default/b", "10.96.0.32")
        .type_("LoadBalancer")
        .port("http", 80, "TCP")
        .build();
    let lb = svc("default/c", "10.96.0.33")
        .type_("LoadBalancer")
        .port("http", 80, "TCP")
        .node_port(30083)
        .build();
    let d = run(&[cluster, lb_without, lb], &[]);
    assert_eq!(
        frontends(&d),
        BTreeSet::from([
            "10.96.0.31:80/6/0".to_owned(),
            "10.96.0.32:80/6/0".to_owned(),
            "10.96.0.33:80/6/0".to_owned(),
            "192.0.2.1:30083/6/0".to_owned(),
            "0.0.0.0:30083/6/0".to_owned(),
        ])
    );
}

#[test]
fn external_ips_and_load_balancer_ingress() {
    let s = svc("default/web", "10.96.0.40")
        .type_("LoadBalancer")
        .port("http", 80, "TCP")
        .node_port(30040)
        .external_ip("203.0.113.5")
        .external_ip("2001:db8::5")
        .lb_ingress("198.51.100.7", None)
        .lb_ingress("198.51.100.8", Some("VIP"))
        .lb_ingress("198.51.100.9", Some("Proxy"))
        .build();
    // Ingress IPs of a Service that is not (or no longer) a LoadBalancer
    // are stale status: ignored.
    let stale = svc("default/old", "10.96.0.41")
        .port("http", 80, "TCP")
        .lb_ingress("198.51.100.10", None)
        .build();
    let sl = slice("default/web-a", "web")
        .port("http", 8080, "TCP")
        .ep("10.244.0.6", NODE, Cond::Ready)
        .build();
    let d = run(&[s, stale], &[sl]);
    assert_eq!(
        frontends(&d),
        BTreeSet::from([
            "10.96.0.40:80/6/0".to_owned(),
            "10.96.0.41:80/6/0".to_owned(),
            "192.0.2.1:30040/6/0".to_owned(),
            "0.0.0.0:30040/6/0".to_owned(),
            "203.0.113.5:80/6/0".to_owned(),
            "198.51.100.7:80/6/0".to_owned(),
            "198.51.100.8:80/6/0".to_owned(),
        ])
    );
    assert_eq!(
        entry(&d, "203.0.113.5", 80, TCP, EXT).unwrap().flags,
        f::EXTERNAL_IP
    );
    assert_eq!(
        entry(&d, "198.51.100.7", 80, TCP, EXT).unwrap().flags,
        f::LOAD_BALANCER
    );
    assert_eq!(
        slots(&d, "198.51.100.8", 80, TCP, EXT).0,
        ["10.244.0.6:8080"]
    );
}

#[test]
fn headless_external_name_and_ipv6_only_services_have_no_frontends() {
    let headless = svc("default/h", "None").port("http", 80, "TCP").build();
    let external_name = svc("default/e", "")
        .type_("ExternalName")
        .port("http", 80, "TCP")
        .build();
    let v6 = svc("default/v6", "fd00::10")
        .type_("NodePort")
        .port("http", 80, "TCP")
        .node_port(30090)
        .build();
    let dual = svc("default/dual", "fd00::11")
        .cluster_ips(&["fd00::11", "10.96.0.50"])
        .port("http", 80, "TCP")
        .build();
    let sl = slice("default/h-a", "h")
        .port("http", 8080, "TCP")
        .ep("10.244.0.7", NODE, Cond::Ready)
        .build();
    let d = run(&[headless, external_name, v6, dual], &[sl]);
    assert_eq!(
        frontends(&d),
        BTreeSet::from(["10.96.0.50:80/6/0".to_owned()])
    );
    assert!(d.backends.is_empty());
    assert!(d.problems.is_empty(), "{:?}", d.problems);
}

#[test]
fn a_service_without_usable_endpoints_keeps_its_entry_with_count_zero() {
    let cases = [
        ("no slices (selectorless, nothing published)", vec![]),
        (
            "only unusable endpoints",
            vec![
                slice("default/web-a", "web")
                    .port("http", 8080, "TCP")
                    .ep("10.244.0.8", NODE, Cond::NotReady)
                    .ep("10.244.0.9", NODE, Cond::Terminating)
                    .build(),
            ],
        ),
        (
            "a slice for another port name",
            vec![
                slice("default/web-a", "web")
                    .port("other", 8080, "TCP")
                    .ep("10.244.0.8", NODE, Cond::Ready)
                    .build(),
            ],
        ),
        (
            "an IPv6 slice",
            vec![
                slice("default/web-a", "web")
                    .address_type("IPv6")
                    .port("http", 8080, "TCP")
                    .ep("fd00::8", NODE, Cond::Ready)
                    .build(),
            ],
        ),
        (
            "a slice in another namespace",
            vec![
                slice("other/web-a", "web")
                    .port("http", 8080, "TCP")
                    .ep("10.244.0.8", NODE, Cond::Ready)
                    .build(),
            ],
        ),
    ];
    for (case, slices) in cases {
        let s = svc("default/web", "10.96.0.60")
            .port("http", 80, "TCP")
            .build();
        let d = run(&[s], &slices);
        assert_eq!(
            entry(&d, "10.96.0.60", 80, TCP, EXT),
            Some(ServiceValue {
                backend_id: 0,
                count: 0,
                terminating: 0,
                rev_nat: 1,
                flags: f::CLUSTER_IP,
                pad: 0,
                affinity_timeout: 0,
            }),
            "{case}"
        );
        assert_eq!(d.services.len(), 1, "{case}");
        assert!(d.backends.is_empty(), "{case}");
        assert_eq!(d.rev_nat.len(), 1, "{case}");
    }
}

#[test]
fn endpoint_conditions_decide_new_connections_and_draining() {
    // (endpoints, active, draining, fallback flag)
    type Case = (
        &'static str,
        Vec<(&'static str, Cond)>,
        Vec<&'static str>,
        Vec<&'static str>,
        bool,
    );
    let cases: Vec<Case> = vec![
        (
            "ready take new connections; serving-terminating drain; others are gone",
            vec![
                ("10.244.0.1", Cond::Ready),
                ("10.244.0.2", Cond::ServingTerminating),
                ("10.244.0.3", Cond::Terminating),
                ("10.244.0.4", Cond::NotReady),
            ],
            vec!["10.244.0.1:8080"],
            vec!["10.244.0.2:8080"],
            false,
        ),
        (
            "unset conditions mean ready; publishNotReadyAddresses means ready",
            vec![
                ("10.244.0.1", Cond::Unset),
                ("10.244.0.2", Cond::PublishNotReady),
            ],
            vec!["10.244.0.1:8080", "10.244.0.2:8080"],
            vec![],
            false,
        ),
        (
            "none ready: serving-terminating take new connections",
            vec![
                ("10.244.0.2", Cond::ServingTerminating),
                ("10.244.0.5", Cond::ServingTerminating),
                ("10.244.0.3", Cond::Terminating),
                ("10.244.0.4", Cond::NotReady),
            ],
            vec!["10.244.0.2:8080", "10.244.0.5:8080"],
            vec![],
            true,
        ),
    ];
    for (case, endpoints, active, draining, fallback) in cases {
        let s = svc("default/web", "10.96.0.70")
            .port("http", 80, "TCP")
            .build();
        let mut sl = slice("default/web-a", "web").port("http", 8080, "TCP");
        for (addr, cond) in &endpoints {
            sl = sl.ep(addr, "n2", *cond);
        }
        let d = run(&[s], &[sl.build()]);
        let (list, count, terminating) = slots(&d, "10.96.0.70", 80, TCP, EXT);
        let expected: Vec<&str> = active.iter().chain(draining.iter()).copied().collect();
        assert_eq!(list, expected, "{case}");
        assert_eq!(usize::from(count), active.len(), "{case}");
        assert_eq!(usize::from(terminating), draining.len(), "{case}");
        let head = entry(&d, "10.96.0.70", 80, TCP, EXT).unwrap();
        assert_eq!(
            head.flags & f::TERMINATING_FALLBACK != 0,
            fallback,
            "{case}"
        );
        for a in &active {
            let (addr, port) = a.split_once(':').unwrap();
            let state = backend_state_of(&d, addr, port.parse().unwrap());
            assert_eq!(state, Some(backend_state::ACTIVE), "{case} {a}");
        }
        for a in &draining {
            let (addr, port) = a.split_once(':').unwrap();
            let state = backend_state_of(&d, addr, port.parse().unwrap());
            assert_eq!(state, Some(backend_state::TERMINATING), "{case} {a}");
        }
        assert_eq!(d.backends.len(), active.len() + draining.len(), "{case}");
    }
}

#[test]
fn internal_traffic_policy_local() {
    // (endpoints as (addr, on this node, cond), active, draining, flags)
    type Case = (
        &'static str,
        Vec<(&'static str, bool, Cond)>,
        Vec<&'static str>,
        Vec<&'static str>,
        u16,
    );
    let cases: Vec<Case> = vec![
        (
            "only this node's ready endpoints",
            vec![
                ("10.244.0.1", true, Cond::Ready),
                ("10.244.1.1", false, Cond::Ready),
                ("10.244.0.2", true, Cond::ServingTerminating),
                ("10.244.1.2", false, Cond::ServingTerminating),
            ],
            vec!["10.244.0.1:8080"],
            vec!["10.244.0.2:8080"],
            0,
        ),
        (
            "no local endpoint while others exist: count 0, endpoints elsewhere",
            vec![("10.244.1.1", false, Cond::Ready)],
            vec![],
            vec![],
            f::ENDPOINTS_ELSEWHERE,
        ),
        (
            "no local ready: local serving-terminating, even with remote ready",
            vec![
                ("10.244.0.2", true, Cond::ServingTerminating),
                ("10.244.1.1", false, Cond::Ready),
            ],
            vec!["10.244.0.2:8080"],
            vec![],
            f::TERMINATING_FALLBACK,
        ),
        (
            "no endpoints at all: plain refusal",
            vec![],
            vec![],
            vec![],
            0,
        ),
    ];
    for (case, endpoints, active, draining, extra) in cases {
        let s = svc("default/web", "10.96.0.80")
            .port("http", 80, "TCP")
            .internal_local()
            .build();
        let mut sl = slice("default/web-a", "web").port("http", 8080, "TCP");
        for (addr, local, cond) in &endpoints {
            sl = sl.ep(addr, if *local { NODE } else { "n2" }, *cond);
        }
        let d = run(&[s], &[sl.build()]);
        let (list, count, terminating) = slots(&d, "10.96.0.80", 80, TCP, EXT);
        let expected: Vec<&str> = active.iter().chain(draining.iter()).copied().collect();
        assert_eq!(list, expected, "{case}");
        assert_eq!(
            (usize::from(count), usize::from(terminating)),
            (active.len(), draining.len()),
            "{case}"
        );
        let head = entry(&d, "10.96.0.80", 80, TCP, EXT).unwrap();
        assert_eq!(head.flags, f::CLUSTER_IP | f::INT_LOCAL | extra, "{case}");
        // A ClusterIP has a single scope.
        assert_eq!(entry(&d, "10.96.0.80", 80, TCP, INT), None, "{case}");
    }
}

#[test]
fn external_traffic_policy_local() {
    let s = svc("default/web", "10.96.0.90")
        .type_("LoadBalancer")
        .port("http", 80, "TCP")
        .node_port(30090)
        .lb_ingress("198.51.100.20", None)
        .external_ip("203.0.113.20")
        .external_local()
        .internal_local()
        .build();
    let sl = slice("default/web-a", "web")
        .port("http", 8080, "TCP")
        .ep("10.244.0.1", NODE, Cond::Ready)
        .ep("10.244.1.1", "n2", Cond::Ready)
        .build();
    let d = run(&[s], &[sl]);
    for (addr, port, kind) in [
        ("192.0.2.1", 30090, f::NODE_PORT),
        ("0.0.0.0", 30090, f::NODE_PORT),
        ("198.51.100.20", 80, f::LOAD_BALANCER),
        ("203.0.113.20", 80, f::EXTERNAL_IP),
    ] {
        // From outside: this node's endpoints only, client address kept.
        let outside = entry(&d, addr, port, TCP, EXT).unwrap();
        assert_eq!(outside.flags, kind | f::EXT_LOCAL | f::TWO_SCOPES, "{addr}");
        assert_eq!(
            slots(&d, addr, port, TCP, EXT).0,
            ["10.244.0.1:8080"],
            "{addr}"
        );
        // From inside the cluster: neither policy applies (kube-proxy).
        let inside = entry(&d, addr, port, TCP, INT).unwrap();
        assert_eq!(inside.flags, kind, "{addr}");
        assert_eq!(inside.rev_nat, outside.rev_nat, "{addr}");
        assert_eq!(
            slots(&d, addr, port, TCP, INT).0,
            ["10.244.0.1:8080", "10.244.1.1:8080"],
            "{addr}"
        );
    }
    // The ClusterIP follows internalTrafficPolicy alone.
    let cluster = entry(&d, "10.96.0.90", 80, TCP, EXT).unwrap();
    assert_eq!(cluster.flags, f::CLUSTER_IP | f::INT_LOCAL);
    assert_eq!(slots(&d, "10.96.0.90", 80, TCP, EXT).0, ["10.244.0.1:8080"]);

    // No local endpoint: outside clients meet count 0 marked "elsewhere";
    // inside clients still reach the remote one.
    let s = svc("default/web", "10.96.0.90")
        .type_("NodePort")
        .port("http", 80, "TCP")
        .node_port(30090)
        .external_local()
        .build();
    let sl = slice("default/web-a", "web")
        .port("http", 8080, "TCP")
        .ep("10.244.1.1", "n2", Cond::Ready)
        .build();
    let d = run(&[s], &[sl]);
    let outside = entry(&d, "192.0.2.1", 30090, TCP, EXT).unwrap();
    assert_eq!(outside.count, 0);
    assert_eq!(
        outside.flags,
        f::NODE_PORT | f::EXT_LOCAL | f::TWO_SCOPES | f::ENDPOINTS_ELSEWHERE
    );
    assert_eq!(entry(&d, "192.0.2.1", 30090, TCP, INT).unwrap().count, 1);

    // externalTrafficPolicy is a NodePort/LoadBalancer field: a ClusterIP
    // Service's external IPs ignore it.
    let s = svc("default/plain", "10.96.0.91")
        .port("http", 80, "TCP")
        .external_ip("203.0.113.21")
        .external_local()
        .build();
    let d = run(&[s], &[]);
    assert_eq!(
        entry(&d, "203.0.113.21", 80, TCP, EXT).unwrap().flags,
        f::EXTERNAL_IP
    );
    assert_eq!(entry(&d, "203.0.113.21", 80, TCP, INT), None);
}

#[test]
fn session_affinity_client_ip() {
    let cases = [
        ("default timeout", Some(None), DEFAULT_AFFINITY_TIMEOUT),
        ("explicit timeout", Some(Some(60)), 60),
        (
            "nonsense timeout falls back to the default",
            Some(Some(-5)),
            DEFAULT_AFFINITY_TIMEOUT,
        ),
        ("no affinity", None, 0),
    ];
    for (case, affinity, timeout) in cases {
        let mut b = svc("default/web", "10.96.0.100")
            .type_("NodePort")
            .port("http", 80, "TCP")
            .node_port(30100)
            .external_local();
        if let Some(t) = affinity {
            b = b.affinity(t);
        }
        let sl = slice("default/web-a", "web")
            .port("http", 8080, "TCP")
            .ep("10.244.0.1", NODE, Cond::Ready)
            .build();
        let d = run(&[b.build()], &[sl]);
        let flag = if timeout > 0 { f::AFFINITY } else { 0 };
        for (addr, port, s) in [
            ("10.96.0.100", 80, EXT),
            ("192.0.2.1", 30100, EXT),
            ("192.0.2.1", 30100, INT),
        ] {
            let head = entry(&d, addr, port, TCP, s).unwrap();
            assert_eq!(head.affinity_timeout, timeout, "{case} {addr} {s}");
            assert_eq!(head.flags & f::AFFINITY, flag, "{case} {addr} {s}");
        }
        // Backend slots carry only the backend and the reverse NAT.
        for (key, value) in d.services.iter().filter(|(k, _)| k.slot > 0) {
            assert_eq!(
                (value.flags, value.affinity_timeout, value.count),
                (0, 0, 0),
                "{key:?}"
            );
        }
    }
}

#[test]
fn endpoints_listed_in_several_slices_count_once() {
    let s = svc("default/web", "10.96.0.110")
        .port("http", 80, "TCP")
        .build();
    let slices = [
        // A stale slice still says not ready; the fresh one says ready.
        slice("default/web-a", "web")
            .port("http", 8080, "TCP")
            .ep("10.244.0.1", NODE, Cond::NotReady)
            .ep("10.244.1.1", "n2", Cond::Ready)
            .build(),
        slice("default/web-b", "web")
            .port("http", 8080, "TCP")
            .ep("10.244.0.1", NODE, Cond::Ready)
            .ep("10.244.1.1", "n2", Cond::Ready)
            .build(),
    ];
    let d = run(&[s], &slices);
    assert_eq!(
        slots(&d, "10.96.0.110", 80, TCP, EXT),
        (
            vec!["10.244.0.1:8080".to_owned(), "10.244.1.1:8080".to_owned()],
            2,
            0
        )
    );
    assert_eq!(d.backends.len(), 2);
}

#[test]
fn topology_hints_narrow_cluster_endpoints_to_this_zone() {
    // (node zone, endpoints with hints, expected active)
    type Case = (
        &'static str,
        Option<&'static str>,
        Vec<(&'static str, &'static [&'static str])>,
        Vec<&'static str>,
    );
    let cases: Vec<Case> = vec![
        (
            "all hinted, some for this zone",
            Some("a"),
            vec![("10.244.0.1", &["a"]), ("10.244.1.1", &["b"])],
            vec!["10.244.0.1:8080"],
        ),
        (
            "one ready endpoint without hints: hints ignored",
            Some("a"),
            vec![("10.244.0.1", &["a"]), ("10.244.1.1", &[])],
            vec!["10.244.0.1:8080", "10.244.1.1:8080"],
        ),
        (
            "no endpoint for this zone: hints ignored",
            Some("c"),
            vec![("10.244.0.1", &["a"]), ("10.244.1.1", &["b"])],
            vec!["10.244.0.1:8080", "10.244.1.1:8080"],
        ),
        (
            "node without a zone: hints ignored",
            None,
            vec![("10.244.0.1", &["a"]), ("10.244.1.1", &["b"])],
            vec!["10.244.0.1:8080", "10.244.1.1:8080"],
        ),
    ];
    for (case, zone, endpoints, active) in cases {
        let s = svc("default/web", "10.96.0.120")
            .port("http", 80, "TCP")
            .build();
        let mut sl = slice("default/web-a", "web").port("http", 8080, "TCP");
        for (addr, zones) in &endpoints {
            sl = sl.ep_zones(addr, "n2", Cond::Ready, zones);
        }
        let mut ctx = node();
        ctx.zone = zone.map(str::to_owned);
        let d = desired(&[s], &[sl.build()], &ctx, &Allocation::default());
        assert_eq!(slots(&d, "10.96.0.120", 80, TCP, EXT).0, active, "{case}");
    }
}

#[test]
fn a_backend_shared_by_services_has_one_id_and_is_active_if_any_uses_it() {
    // The same pod port behind two Services; one of them, with a Local
    // policy on another node's view, only keeps it draining.
    let a = svc("default/a", "10.96.0.130")
        .port("http", 80, "TCP")
        .build();
    let b = svc("default/b", "10.96.0.131")
        .port("http", 80, "TCP")
        .build();
    let slices = [
        slice("default/a-1", "a")
            .port("http", 8080, "TCP")
            .ep("10.244.0.1", NODE, Cond::Ready)
            .build(),
        slice("default/b-1", "b")
            .port("http", 8080, "TCP")
            .ep("10.244.0.1", NODE, Cond::ServingTerminating)
            .ep("10.244.0.2", NODE, Cond::Ready)
            .build(),
    ];
    let d = run(&[a, b], &slices);
    assert_eq!(d.backends.len(), 2);
    assert_eq!(
        backend_state_of(&d, "10.244.0.1", 8080),
        Some(backend_state::ACTIVE)
    );
    assert_eq!(
        slots(&d, "10.96.0.131", 80, TCP, EXT),
        (
            vec!["10.244.0.2:8080".to_owned(), "10.244.0.1:8080".to_owned()],
            1,
            1
        )
    );
}

#[test]
fn contested_frontends_go_to_the_higher_kind_then_the_first_service() {
    let a = svc("default/a", "10.96.0.140")
        .port("http", 80, "TCP")
        .external_ip("203.0.113.30")
        .build();
    let b = svc("default/b", "10.96.0.141")
        .port("http", 80, "TCP")
        .external_ip("203.0.113.30")
        // Someone set another Service's ClusterIP as an external IP.
        .external_ip("10.96.0.142")
        .build();
    let c = svc("default/c", "10.96.0.142")
        .port("http", 80, "TCP")
        .build();
    let d = run(&[c, b, a], &[]);
    let owner = |addr: &str| {
        let rev = entry(&d, addr, 80, TCP, EXT).unwrap().rev_nat;
        d.ids
            .rev_nat
            .iter()
            .find(|(_, i)| **i == rev)
            .map(|(f, _)| f.addr)
    };
    assert_eq!(owner("203.0.113.30"), Some(ip("203.0.113.30")));
    assert_eq!(
        entry(&d, "10.96.0.142", 80, TCP, EXT).unwrap().flags,
        f::CLUSTER_IP
    );
    assert_eq!(
        entry(&d, "203.0.113.30", 80, TCP, EXT).unwrap().flags,
        f::EXTERNAL_IP
    );
    assert_eq!(
        d.problems,
        [
            Problem::FrontendConflict {
                service: "default/b".into(),
                frontend: L4Addr::new(ip("10.96.0.142"), 80, Protocol::Tcp),
                owner: "default/c".into(),
            },
            Problem::FrontendConflict {
                service: "default/b".into(),
                frontend: L4Addr::new(ip("203.0.113.30"), 80, Protocol::Tcp),
                owner: "default/a".into(),
            },
        ]
    );
}

#[test]
fn maglev_tables_for_external_frontends_only() {
    let s = svc("default/web", "10.96.0.150")
        .type_("NodePort")
        .port("http", 80, "TCP")
        .node_port(30150)
        .external_local()
        .build();
    let empty = svc("default/none", "10.96.0.151")
        .type_("NodePort")
        .port("http", 80, "TCP")
        .node_port(30151)
        .build();
    let sl = slice("default/web-a", "web")
        .port("http", 8080, "TCP")
        .ep("10.244.0.1", NODE, Cond::Ready)
        .ep("10.244.0.2", NODE, Cond::Ready)
        .ep("10.244.1.1", "n2", Cond::Ready)
        .build();
    let mut ctx = node();
    ctx.options.maglev = true;
    let d = desired(&[s, empty], &[sl], &ctx, &Allocation::default());
    let cluster = entry(&d, "10.96.0.150", 80, TCP, EXT).unwrap();
    assert_eq!(cluster.flags & f::MAGLEV, 0);
    let outside = entry(&d, "192.0.2.1", 30150, TCP, EXT).unwrap();
    let wildcard = entry(&d, "0.0.0.0", 30150, TCP, EXT).unwrap();
    assert_ne!(outside.flags & f::MAGLEV, 0);
    assert_eq!(
        entry(&d, "192.0.2.1", 30150, TCP, INT).unwrap().flags & f::MAGLEV,
        0
    );
    // Two tables (node address, wildcard), one shared allocation, holding
    // exactly the external scope's (local) backends.
    assert_eq!(d.maglev.len(), 2);
    let t1 = &d.maglev[&MaglevKey::new(outside.rev_nat, EXT)];
    let t2 = &d.maglev[&MaglevKey::new(wildcard.rev_nat, EXT)];
    assert!(Arc::ptr_eq(t1, t2));
    let key = ServiceKey::new(NODE_IP, 30150, TCP, EXT, 0);
    let local_ids: BTreeSet<u32> = (1..=outside.count)
        .map(|s| d.services[&key.with_slot(s)].backend_id)
        .collect();
    let in_table: BTreeSet<u32> = t1.backend_ids.iter().copied().collect();
    assert_eq!(in_table, local_ids);
    assert_eq!(t1.backend_ids.len(), MAGLEV_TABLE_SIZE);
    // No backends: the flag stays, the table does not exist.
    let none = entry(&d, "192.0.2.1", 30151, TCP, EXT).unwrap();
    assert_eq!((none.count, none.flags & f::MAGLEV), (0, f::MAGLEV));
}

#[test]
fn unchanged_maglev_tables_are_reused_not_rebuilt() {
    let services = |eps: u8| {
        let web = svc("default/web", "10.96.0.155")
            .type_("NodePort")
            .port("http", 80, "TCP")
            .node_port(30155)
            .build();
        let api = svc("default/api", "10.96.0.156")
            .type_("NodePort")
            .port("http", 80, "TCP")
            .node_port(30156)
            .build();
        let mut web_slice = slice("default/web-a", "web").port("http", 8080, "TCP");
        for i in 1..=eps {
            web_slice = web_slice.ep(&format!("10.244.0.{i}"), NODE, Cond::Ready);
        }
        let api_slice = slice("default/api-a", "api")
            .port("http", 8080, "TCP")
            .ep("10.244.2.1", "n2", Cond::Ready)
            .build();
        (vec![web, api], vec![web_slice.build(), api_slice])
    };
    let mut ctx = node();
    ctx.options.maglev = true;
    let (s1, e1) = services(2);
    let d1 = desired(&s1, &e1, &ctx, &Allocation::default());
    let (s2, e2) = services(3);
    let d2 = desired_from(&s2, &e2, &ctx, &d1);
    assert_eq!(d2, desired(&s2, &e2, &ctx, &d1.ids));
    let table = |d: &Desired, port: u16| {
        let head = entry(d, "192.0.2.1", port, TCP, EXT).unwrap();
        Arc::clone(&d.maglev[&MaglevKey::new(head.rev_nat, EXT)])
    };
    // api's backends did not change: same table, not a copy.
    assert!(Arc::ptr_eq(&table(&d1, 30156), &table(&d2, 30156)));
    // web gained a backend: a new table.
    assert!(!Arc::ptr_eq(&table(&d1, 30155), &table(&d2, 30155)));
}

#[test]
fn ids_survive_updates_and_freed_ones_wait_a_round() {
    let s = |eps: &[&str]| {
        let mut sl = slice("default/web-a", "web").port("http", 8080, "TCP");
        for e in eps {
            sl = sl.ep(e, "n2", Cond::Ready);
        }
        (
            vec![
                svc("default/web", "10.96.0.160")
                    .port("http", 80, "TCP")
                    .build(),
            ],
            vec![sl.build()],
        )
    };
    let id = |d: &Desired, addr: &str| d.ids.backends[&L4Addr::new(ip(addr), 8080, Protocol::Tcp)];
    let (sv, sl) = s(&["10.244.0.1", "10.244.0.2", "10.244.0.3"]);
    let d1 = desired(&sv, &sl, &node(), &Allocation::default());
    assert_eq!(
        [
            id(&d1, "10.244.0.1"),
            id(&d1, "10.244.0.2"),
            id(&d1, "10.244.0.3")
        ],
        [1, 2, 3]
    );
    // .2 leaves and .4 arrives in the same update: .4 must not take id 2,
    // which old slots still name until the plan deletes it.
    let (sv, sl) = s(&["10.244.0.1", "10.244.0.3", "10.244.0.4"]);
    let d2 = desired(&sv, &sl, &node(), &d1.ids);
    assert_eq!(
        [
            id(&d2, "10.244.0.1"),
            id(&d2, "10.244.0.3"),
            id(&d2, "10.244.0.4")
        ],
        [1, 3, 4]
    );
    // A round later, 2 is the lowest free id again.
    let (sv, sl) = s(&["10.244.0.1", "10.244.0.3", "10.244.0.4", "10.244.0.5"]);
    let d3 = desired(&sv, &sl, &node(), &d2.ids);
    assert_eq!(id(&d3, "10.244.0.5"), 2);
    // The frontend kept its reverse-NAT index throughout.
    let rev = |d: &Desired| entry(d, "10.96.0.160", 80, TCP, EXT).unwrap().rev_nat;
    assert_eq!((rev(&d1), rev(&d2), rev(&d3)), (1, 1, 1));
    // What a restarted agent reads back from the maps gives the same ids.
    assert_eq!(Allocation::recover(&d3.services, &d3.backends), d3.ids);
}

#[test]
fn exhausted_reverse_nat_indexes_are_reported_not_fatal() {
    let full = Allocation {
        backends: Default::default(),
        rev_nat: (1..=REV_NAT_MAX_ENTRIES)
            .map(|i| {
                let [_, a, b, c] = i.to_be_bytes();
                (
                    L4Addr::new(Ipv4Addr::new(10, a, b, c), 80, Protocol::Tcp),
                    i,
                )
            })
            .collect(),
    };
    let s = svc("default/web", "10.96.0.170")
        .port("http", 80, "TCP")
        .build();
    let d = desired(&[s], &[], &node(), &full);
    assert!(d.services.is_empty());
    assert_eq!(
        d.problems,
        [Problem::RevNatExhausted {
            service: "default/web".into(),
            frontend: L4Addr::new(ip("10.96.0.170"), 80, Protocol::Tcp),
        }]
    );
}

#[test]
fn bad_input_is_reported_and_skipped() {
    let s = svc("default/web", "10.96.0.180")
        .port("http", 80, "TCP")
        .port("zero", 0, "TCP")
        .external_ip("not-an-ip")
        .external_ip("0.0.0.0")
        .build();
    let sl = slice("default/web-a", "web")
        .port("http", 8080, "TCP")
        .ep("10.244.0.300", NODE, Cond::Ready)
        .ep("10.244.0.1", NODE, Cond::Ready)
        .build();
    let d = run(&[s], &[sl]);
    assert_eq!(
        slots(&d, "10.96.0.180", 80, TCP, EXT).0,
        ["10.244.0.1:8080"]
    );
    assert_eq!(d.problems.len(), 4, "{:?}", d.problems);
    for p in &d.problems {
        assert!(!p.to_string().is_empty());
    }
}

#[test]
fn node_context_from_a_node() {
    let node = Node {
        metadata: node_meta("n1", Some("zone-a")),
        spec: None,
        status: Some(NodeStatus {
            addresses: Some(vec![
                NodeAddress {
                    type_: "Hostname".into(),
                    address: "n1".into(),
                },
                NodeAddress {
                    type_: "InternalIP".into(),
                    address: "172.30.0.11".into(),
                },
                NodeAddress {
                    type_: "InternalIP".into(),
                    address: "fd00::11".into(),
                },
                NodeAddress {
                    type_: "ExternalIP".into(),
                    address: "198.51.100.11".into(),
                },
            ]),
            ..NodeStatus::default()
        }),
    };
    let ctx = NodeContext::from_node(&node, LbOptions { maglev: true }).unwrap();
    assert_eq!(ctx.name, "n1");
    assert_eq!(ctx.ips, [ip("172.30.0.11"), ip("198.51.100.11")]);
    assert_eq!(ctx.zone.as_deref(), Some("zone-a"));
    assert!(ctx.options.maglev);
    assert_eq!(
        NodeContext::from_node(&Node::default(), LbOptions::default()),
        None
    );
}

fn node_meta(name: &str, zone: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        labels: zone.map(|z| BTreeMap::from([(ZONE_LABEL.to_owned(), z.to_owned())])),
        ..ObjectMeta::default()
    }
}

/// A permutation of `0..n` drawn from a seed (xorshift; tests only).
fn permutation(n: usize, mut seed: u64) -> Vec<usize> {
    let mut out: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let j = usize::try_from(seed % (i as u64 + 1)).unwrap();
        out.swap(i, j);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Input order never matters: same Desired from shuffled inputs.
    #[test]
    fn desired_is_deterministic_and_order_independent(w in world(), seed in 1u64..) {
        let (services, slices) = w.objects();
        let a = desired(&services, &slices, &w.node(), &Allocation::default());
        let shuffled_services: Vec<_> = permutation(services.len(), seed).into_iter().map(|i| services[i].clone()).collect();
        let shuffled_slices: Vec<_> = permutation(slices.len(), seed.rotate_left(7) | 1).into_iter().map(|i| slices[i].clone()).collect();
        let b = desired(&shuffled_services, &shuffled_slices, &w.node(), &Allocation::default());
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(a, desired(&services, &slices, &w.node(), &Allocation::default()));
    }

    /// Ids: survivors keep theirs, newcomers get the lowest ids the
    /// previous allocation does not hold, nothing is shared, and exactly
    /// the referenced backends and frontends are numbered.
    #[test]
    fn ids_are_stable_and_lowest_free(w1 in world(), w2 in world()) {
        let (s1, e1) = w1.objects();
        let (s2, e2) = w2.objects();
        let d1 = desired(&s1, &e1, &w1.node(), &Allocation::default());
        let d2 = desired(&s2, &e2, &w2.node(), &d1.ids);
        for (addr, id) in &d2.ids.backends {
            if let Some(old) = d1.ids.backends.get(addr) {
                prop_assert_eq!(old, id);
            }
        }
        for (addr, id) in &d2.ids.rev_nat {
            if let Some(old) = d1.ids.rev_nat.get(addr) {
                prop_assert_eq!(old, id);
            }
        }
        let held: BTreeSet<u32> = d1.ids.backends.values().copied().collect();
        let fresh: Vec<u32> = d2.ids.backends.iter().filter(|(a, _)| !d1.ids.backends.contains_key(*a)).map(|(_, id)| *id).collect();
        let lowest: Vec<u32> = (1u32..).filter(|id| !held.contains(id)).take(fresh.len()).collect();
        let mut fresh_sorted = fresh.clone();
        fresh_sorted.sort_unstable();
        prop_assert_eq!(fresh_sorted, lowest);
        let unique: BTreeSet<u32> = d2.ids.backends.values().copied().collect();
        prop_assert_eq!(unique.len(), d2.ids.backends.len());
        let unique: BTreeSet<u32> = d2.ids.rev_nat.values().copied().collect();
        prop_assert_eq!(unique.len(), d2.ids.rev_nat.len());
        // The backends map holds exactly the numbered backends, and every
        // slot names one of them.
        let in_map: BTreeSet<u32> = d2.backends.keys().map(|k| k.id).collect();
        prop_assert_eq!(&in_map, &d2.ids.backends.values().copied().collect::<BTreeSet<u32>>());
        let referenced: BTreeSet<u32> = d2.services.iter().filter(|(k, _)| k.slot > 0).map(|(_, v)| v.backend_id).collect();
        prop_assert_eq!(&referenced, &in_map);
        let rev: BTreeSet<u32> = d2.services.values().map(|v| v.rev_nat).collect();
        prop_assert_eq!(rev, d2.rev_nat.keys().map(|k| k.index).collect::<BTreeSet<u32>>());
        // And a restart recovers the same numbering from the maps alone.
        prop_assert_eq!(Allocation::recover(&d2.services, &d2.backends), d2.ids.clone());
    }
}
