//! Test inputs: builders for Services, EndpointSlices and node contexts,
//! and proptest strategies for whole random clusters. Test-only.

use std::{collections::BTreeMap, net::Ipv4Addr};

use k8s_openapi::{
    api::{
        core::v1::{
            ClientIPConfig, LoadBalancerIngress, LoadBalancerStatus, Service, ServicePort,
            ServiceSpec, ServiceStatus, SessionAffinityConfig,
        },
        discovery::v1::{
            Endpoint, EndpointConditions, EndpointHints, EndpointPort, EndpointSlice, ForZone,
        },
    },
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};
use proptest::prelude::*;

use super::desired::{LbOptions, NodeContext};

/// The node the tests compute for.
pub(crate) const NODE: &str = "n1";
/// Its address.
pub(crate) const NODE_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

/// The context of [`NODE`].
pub(crate) fn node() -> NodeContext {
    NodeContext {
        name: NODE.to_owned(),
        ips: vec![NODE_IP],
        zone: None,
        options: LbOptions::default(),
    }
}

fn meta(ns_name: &str) -> ObjectMeta {
    let (namespace, name) = ns_name.split_once('/').unwrap_or(("default", ns_name));
    ObjectMeta {
        namespace: Some(namespace.to_owned()),
        name: Some(name.to_owned()),
        ..ObjectMeta::default()
    }
}

/// A Service under construction.
pub(crate) struct Svc(pub(crate) Service);

/// A ClusterIP Service `namespace/name` with this ClusterIP and no ports.
pub(crate) fn svc(ns_name: &str, cluster_ip: &str) -> Svc {
    Svc(Service {
        metadata: meta(ns_name),
        spec: Some(ServiceSpec {
            cluster_ip: Some(cluster_ip.to_owned()),
            cluster_ips: Some(vec![cluster_ip.to_owned()]),
            type_: Some("ClusterIP".to_owned()),
            ..ServiceSpec::default()
        }),
        status: None,
    })
}

impl Svc {
    fn spec(&mut self) -> &mut ServiceSpec {
        self.0.spec.get_or_insert_with(ServiceSpec::default)
    }

    /// Adds a port (`name` empty for an unnamed one).
    pub(crate) fn port(mut self, name: &str, port: i32, protocol: &str) -> Svc {
        self.spec()
            .ports
            .get_or_insert_with(Vec::new)
            .push(ServicePort {
                name: (!name.is_empty()).then(|| name.to_owned()),
                port,
                protocol: Some(protocol.to_owned()),
                ..ServicePort::default()
            });
        self
    }

    /// Sets the last port's nodePort.
    pub(crate) fn node_port(mut self, node_port: i32) -> Svc {
        if let Some(port) = self.spec().ports.as_mut().and_then(|p| p.last_mut()) {
            port.node_port = Some(node_port);
        }
        self
    }

    /// Sets `spec.type`.
    pub(crate) fn type_(mut self, type_: &str) -> Svc {
        self.spec().type_ = Some(type_.to_owned());
        self
    }

    /// Sets `spec.clusterIPs` (and `clusterIP` to the first).
    pub(crate) fn cluster_ips(mut self, ips: &[&str]) -> Svc {
        let spec = self.spec();
        spec.cluster_ip = ips.first().map(|ip| (*ip).to_owned());
        spec.cluster_ips = Some(ips.iter().map(|ip| (*ip).to_owned()).collect());
        self
    }

    /// externalTrafficPolicy Local.
    pub(crate) fn external_local(mut self) -> Svc {
        self.spec().external_traffic_policy = Some("Local".to_owned());
        self
    }

    /// internalTrafficPolicy Local.
    pub(crate) fn internal_local(mut self) -> Svc {
        self.spec().internal_traffic_policy = Some("Local".to_owned());
        self
    }

    /// sessionAffinity ClientIP, with an explicit timeout or the default.
    pub(crate) fn affinity(mut self, timeout: Option<i32>) -> Svc {
        let spec = self.spec();
        spec.session_affinity = Some("ClientIP".to_owned());
        spec.session_affinity_config = timeout.map(|t| SessionAffinityConfig {
            client_ip: Some(ClientIPConfig {
                timeout_seconds: Some(t),
            }),
        });
        self
    }

    /// Adds an external IP.
    pub(crate) fn external_ip(mut self, ip: &str) -> Svc {
        self.spec()
            .external_ips
            .get_or_insert_with(Vec::new)
            .push(ip.to_owned());
        self
    }

    /// Adds a load-balancer ingress IP, with an `ipMode` if given.
    pub(crate) fn lb_ingress(mut self, ip: &str, ip_mode: Option<&str>) -> Svc {
        let status = self.0.status.get_or_insert_with(ServiceStatus::default);
        let lb = status
            .load_balancer
            .get_or_insert_with(LoadBalancerStatus::default);
        lb.ingress
            .get_or_insert_with(Vec::new)
            .push(LoadBalancerIngress {
                ip: Some(ip.to_owned()),
                ip_mode: ip_mode.map(str::to_owned),
                ..LoadBalancerIngress::default()
            });
        self
    }

    /// The Service.
    pub(crate) fn build(self) -> Service {
        self.0
    }
}

/// Endpoint conditions as the EndpointSlice controller writes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cond {
    /// ready, serving, not terminating.
    Ready,
    /// No conditions at all (ready by default).
    Unset,
    /// Not ready, not serving, not terminating (failing readiness).
    NotReady,
    /// Terminating but still serving.
    ServingTerminating,
    /// Terminating and no longer serving.
    Terminating,
    /// ready and terminating: publishNotReadyAddresses.
    PublishNotReady,
}

impl Cond {
    /// Every condition combination.
    pub(crate) const ALL: [Cond; 6] = [
        Cond::Ready,
        Cond::Unset,
        Cond::NotReady,
        Cond::ServingTerminating,
        Cond::Terminating,
        Cond::PublishNotReady,
    ];

    fn conditions(self) -> Option<EndpointConditions> {
        let (ready, serving, terminating) = match self {
            Cond::Unset => return None,
            Cond::Ready => (true, true, false),
            Cond::NotReady => (false, false, false),
            Cond::ServingTerminating => (false, true, true),
            Cond::Terminating => (false, false, true),
            Cond::PublishNotReady => (true, true, true),
        };
        Some(EndpointConditions {
            ready: Some(ready),
            serving: Some(serving),
            terminating: Some(terminating),
        })
    }
}

/// An EndpointSlice under construction.
pub(crate) struct Slice(pub(crate) EndpointSlice);

/// An IPv4 EndpointSlice `namespace/name` of Service `service`.
pub(crate) fn slice(ns_name: &str, service: &str) -> Slice {
    let mut metadata = meta(ns_name);
    metadata.labels = Some(BTreeMap::from([(
        "kubernetes.io/service-name".to_owned(),
        service.to_owned(),
    )]));
    Slice(EndpointSlice {
        address_type: "IPv4".to_owned(),
        endpoints: Vec::new(),
        metadata,
        ports: Some(Vec::new()),
    })
}

impl Slice {
    /// Adds a port (`name` empty for an unnamed one).
    pub(crate) fn port(mut self, name: &str, port: i32, protocol: &str) -> Slice {
        self.0
            .ports
            .get_or_insert_with(Vec::new)
            .push(EndpointPort {
                name: Some(name.to_owned()),
                port: Some(port),
                protocol: Some(protocol.to_owned()),
                app_protocol: None,
            });
        self
    }

    /// Adds an endpoint on `node`.
    pub(crate) fn ep(self, addr: &str, node: &str, cond: Cond) -> Slice {
        self.ep_zones(addr, node, cond, &[])
    }

    /// Adds an endpoint on `node` with zone hints.
    pub(crate) fn ep_zones(mut self, addr: &str, node: &str, cond: Cond, zones: &[&str]) -> Slice {
        self.0.endpoints.push(Endpoint {
            addresses: vec![addr.to_owned()],
            conditions: cond.conditions(),
            hints: (!zones.is_empty()).then(|| EndpointHints {
                for_zones: Some(
                    zones
                        .iter()
                        .map(|z| ForZone {
                            name: (*z).to_owned(),
                        })
                        .collect(),
                ),
                for_nodes: None,
            }),
            node_name: (!node.is_empty()).then(|| node.to_owned()),
            ..Endpoint::default()
        });
        self
    }

    /// Sets the address type.
    pub(crate) fn address_type(mut self, address_type: &str) -> Slice {
        self.0.address_type = address_type.to_owned();
        self
    }

    /// The EndpointSlice.
    pub(crate) fn build(self) -> EndpointSlice {
        self.0
    }
}

/// A random endpoint: address index, on this node or not, conditions,
/// which of two slices lists it, which of two target ports.
#[derive(Clone, Debug)]
pub(crate) struct EpSpec {
    addr: u8,
    local: bool,
    cond: Cond,
    slice: u8,
    target: u8,
}

/// A random Service with its endpoints.
#[derive(Clone, Debug)]
pub(crate) struct SvcSpec {
    type_: u8,
    ports: Vec<bool>,
    external_local: bool,
    internal_local: bool,
    affinity: bool,
    external_ip: Option<u8>,
    lb_ip: Option<u8>,
    endpoints: Vec<EpSpec>,
}

/// A random cluster: up to five Services, and whether Maglev is on.
#[derive(Clone, Debug)]
pub(crate) struct World {
    services: Vec<SvcSpec>,
    maglev: bool,
}

fn ep_spec() -> impl Strategy<Value = EpSpec> {
    (
        0u8..8,
        any::<bool>(),
        0usize..Cond::ALL.len(),
        0u8..2,
        0u8..2,
    )
        .prop_map(|(addr, local, cond, slice, target)| EpSpec {
            addr,
            local,
            cond: Cond::ALL[cond],
            slice,
            target,
        })
}

fn svc_spec() -> impl Strategy<Value = SvcSpec> {
    (
        0u8..3,
        prop::collection::vec(any::<bool>(), 1..3),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        prop::option::of(0u8..3),
        prop::option::of(0u8..3),
        prop::collection::vec(ep_spec(), 0..7),
    )
        .prop_map(
            |(
                type_,
                ports,
                external_local,
                internal_local,
                affinity,
                external_ip,
                lb_ip,
                endpoints,
            )| {
                SvcSpec {
                    type_,
                    ports,
                    external_local,
                    internal_local,
                    affinity,
                    external_ip,
                    lb_ip,
                    endpoints,
                }
            },
        )
}

/// Random clusters small enough to collide: shared endpoint addresses,
/// external IPs and load-balancer IPs.
pub(crate) fn world() -> impl Strategy<Value = World> {
    (prop::collection::vec(svc_spec(), 0..5), any::<bool>())
        .prop_map(|(services, maglev)| World { services, maglev })
}

impl World {
    /// The node context, with Maglev as drawn.
    pub(crate) fn node(&self) -> NodeContext {
        NodeContext {
            options: LbOptions {
                maglev: self.maglev,
            },
            ..node()
        }
    }

    /// The Services and EndpointSlices this world describes.
    pub(crate) fn objects(&self) -> (Vec<Service>, Vec<EndpointSlice>) {
        let mut services = Vec::new();
        let mut slices = Vec::new();
        for (i, spec) in self.services.iter().enumerate() {
            let name = format!("s{i}");
            let mut b = svc(&format!("default/{name}"), &format!("10.96.0.{}", i + 1))
                .type_(["ClusterIP", "NodePort", "LoadBalancer"][usize::from(spec.type_ % 3)]);
            for (p, udp) in spec.ports.iter().enumerate() {
                let protocol = if *udp { "UDP" } else { "TCP" };
                let port = i32::try_from(80 + p).unwrap_or(80);
                b = b.port(&format!("p{p}"), port, protocol);
                if spec.type_ > 0 {
                    let node_port = i32::try_from(30000 + i * 10 + p).unwrap_or(30000);
                    b = b.node_port(node_port);
                }
            }
            if spec.external_local && spec.type_ > 0 {
                b = b.external_local();
            }
            if spec.internal_local {
                b = b.internal_local();
            }
            if spec.affinity {
                b = b.affinity(None);
            }
            if let Some(ip) = spec.external_ip {
                b = b.external_ip(&format!("203.0.113.{}", ip + 1));
            }
            if let (Some(ip), 2) = (spec.lb_ip, spec.type_) {
                b = b.lb_ingress(&format!("198.51.100.{}", ip + 1), None);
            }
            services.push(b.build());
            for s in 0..2u8 {
                let mut sl = slice(&format!("default/{name}-{s}"), &name);
                for (p, udp) in spec.ports.iter().enumerate() {
                    let protocol = if *udp { "UDP" } else { "TCP" };
                    let target = 8080 + i32::try_from(p).unwrap_or(0);
                    sl = sl.port(&format!("p{p}"), target, protocol);
                }
                for ep in spec.endpoints.iter().filter(|e| e.slice == s) {
                    let node = if ep.local { NODE } else { "n2" };
                    let addr = format!("10.244.{}.{}", ep.target, ep.addr + 1);
                    sl = sl.ep(&addr, node, ep.cond);
                }
                slices.push(sl.build());
            }
        }
        (services, slices)
    }
}

/// `count` ClusterIP Services `default/s<i>` on 10.96.x.y port 80/TCP, each
/// with an EndpointSlice of `endpoints` ready endpoints on node n1 at
/// 10.244.x.y:8080: a bulk input for writer and scale tests.
pub(crate) fn cluster_ip_services(
    count: usize,
    endpoints: usize,
) -> (Vec<Service>, Vec<EndpointSlice>) {
    let mut services = Vec::with_capacity(count);
    let mut slices = Vec::with_capacity(count);
    for i in 0..count {
        let [_, _, a, b] = (i as u32 + 1).to_be_bytes();
        let name = format!("default/s{i}");
        services.push(
            svc(&name, &format!("10.96.{a}.{b}"))
                .port("p", 80, "TCP")
                .build(),
        );
        let mut s = slice(&format!("default/s{i}-1"), &format!("s{i}")).port("p", 8080, "TCP");
        for e in 0..endpoints {
            let [_, x, y, z] = ((i * endpoints + e) as u32 + 1).to_be_bytes();
            s = s.ep(&format!("10.{}.{y}.{z}", 128 + x), NODE, Cond::Ready);
        }
        slices.push(s.build());
    }
    (services, slices)
}
