//! Services, EndpointSlices and this node's facts in, the desired contents
//! of every load-balancer map out: a pure function, the same on every call
//! for the same input, whatever the input order.
//!
//! Holds kube-proxy's service semantics (which frontends a Service has,
//! which endpoints take new connections, traffic policies, topology hints,
//! session affinity) expressed as map entries. Must not read the clock, the
//! maps or the API; diffing against what is written is `diff`'s job.
//!
//! Frontends of a Service port (each an (address, port, protocol) with its
//! own reverse-NAT index):
//! - every IPv4 ClusterIP, port `port`;
//! - NodePort (types NodePort and LoadBalancer, when `nodePort` is set): one
//!   frontend per node address in [`NodeContext::ips`], plus the wildcard
//!   `0.0.0.0:nodePort`, which the programs use for any other local address
//!   (loopback, an address added after the agent read the Node);
//! - every IPv4 `spec.externalIPs` entry, port `port`;
//! - type LoadBalancer: every IPv4 `status.loadBalancer.ingress[].ip`, port
//!   `port`, except those with `ipMode: Proxy` (the load balancer sends
//!   that traffic to the node address, as kube-proxy assumes).
//!
//! Two Services claiming the same frontend: ClusterIPs win over NodePorts,
//! NodePorts over load-balancer IPs, those over external IPs; then the
//! first by namespace, name and port order. The loser is reported.
//!
//! SCTP ports are reported and skipped: the programs parse TCP and UDP
//! only. IPv6 addresses are skipped silently (a dual-stack Service's IPv6
//! half belongs to a future IPv6 map set). Headless and ExternalName
//! Services have no frontends.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    net::Ipv4Addr,
    rc::Rc,
    sync::Arc,
};

use k8s_openapi::api::{
    core::v1::{Node, Service, ServicePort, ServiceSpec},
    discovery::v1::{Endpoint, EndpointSlice},
};
use strait_proxy_maps::lb::{
    BACKENDS_MAX_ENTRIES, BackendKey, BackendValue, MAGLEV_MAX_ENTRIES, MaglevKey, MaglevTable,
    NO_BACKEND, REV_NAT_MAX_ENTRIES, RevNatKey, RevNatValue, SERVICE_SLOT, SERVICES_MAX_ENTRIES,
    ServiceKey, ServiceValue, backend_flags, backend_state, names, scope, service_flags,
};

use super::{
    ids::{Allocation, L4Addr, Protocol, allocate},
    maglev,
};

/// sessionAffinityConfig.clientIP.timeoutSeconds when unset (3 hours).
pub const DEFAULT_AFFINITY_TIMEOUT: u32 = 10_800;

/// The label that ties an EndpointSlice to its Service.
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// The label that gives a Node's zone.
const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

/// How backends are chosen for new connections from outside the cluster.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LbOptions {
    /// Maglev tables for NodePort, external and load-balancer frontends
    /// (external scope), so every node picks the same backend for a flow.
    /// In-cluster clients are balanced per connection at the socket, where
    /// consistent hashing buys nothing, so ClusterIPs never get a table.
    pub maglev: bool,
}

/// What the desired state needs to know about the node it is computed for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeContext {
    /// This node's name, compared with endpoints' `nodeName`.
    pub name: String,
    /// This node's IPv4 addresses that NodePorts are served on.
    pub ips: Vec<Ipv4Addr>,
    /// This node's zone, for topology hints; `None` ignores hints.
    pub zone: Option<String>,
    /// Load-balancing options.
    pub options: LbOptions,
}

impl NodeContext {
    /// The context for this Node: its name, its IPv4 InternalIP and
    /// ExternalIP addresses, and its `topology.kubernetes.io/zone` label.
    /// `None` if the Node has no name.
    pub fn from_node(node: &Node, options: LbOptions) -> Option<NodeContext> {
        let name = node.metadata.name.clone()?;
        let mut ips: Vec<Ipv4Addr> = node
            .status
            .iter()
            .flat_map(|status| status.addresses.iter().flatten())
            .filter(|a| a.type_ == "InternalIP" || a.type_ == "ExternalIP")
            .filter_map(|a| a.address.parse().ok())
            .collect();
        ips.sort_unstable();
        ips.dedup();
        let zone = node
            .metadata
            .labels
            .as_ref()
            .and_then(|labels| labels.get(ZONE_LABEL))
            .filter(|zone| !zone.is_empty())
            .cloned();
        Some(NodeContext {
            name,
            ips,
            zone,
            options,
        })
    }
}

/// Something in the input that the desired state leaves out, and why.
/// Worth a log line or an event; never fatal for the other Services.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// A Service port whose protocol the programs do not parse.
    #[error("service {service} port {port}: protocol {protocol} is not load-balanced")]
    UnsupportedProtocol {
        /// `namespace/name`.
        service: String,
        /// The port's name or number.
        port: String,
        /// The protocol as written.
        protocol: String,
    },
    /// A port number outside 1..=65535.
    #[error("service {service}: port {port} is out of range")]
    BadPort {
        /// `namespace/name`.
        service: String,
        /// The number as written.
        port: i32,
    },
    /// An address that is neither IPv4 nor IPv6.
    #[error("{object}: {field} {address:?} is not an IP address")]
    BadAddress {
        /// `namespace/name` of the Service or EndpointSlice.
        object: String,
        /// Where the address was found.
        field: &'static str,
        /// The address as written.
        address: String,
    },
    /// A frontend another Service port already serves.
    #[error("service {service}: {frontend} is already served for service {owner}")]
    FrontendConflict {
        /// `namespace/name` of the Service left out of this frontend.
        service: String,
        /// The contested frontend.
        frontend: L4Addr,
        /// `namespace/name` of the Service that keeps it.
        owner: String,
    },
    /// No reverse-NAT index was free for a frontend.
    #[error("service {service}: no reverse-NAT index left for {frontend}")]
    RevNatExhausted {
        /// `namespace/name`.
        service: String,
        /// The frontend left out.
        frontend: L4Addr,
    },
    /// No backend id was free for a backend.
    #[error("no backend id left for {backend}")]
    BackendIdsExhausted {
        /// The backend left out of every service.
        backend: L4Addr,
    },
    /// More backends than a service entry has slots for.
    #[error("{frontend}: {dropped} backends beyond the {max} slots a service entry holds left out")]
    TooManyBackends {
        /// The frontend.
        frontend: L4Addr,
        /// How many backends were left out.
        dropped: usize,
        /// Slots per service entry.
        max: usize,
    },
    /// A map would need more entries than it is created with.
    #[error("map {map} needs {entries} entries, more than its {capacity}")]
    MapFull {
        /// The map's name.
        map: &'static str,
        /// Entries the desired state holds.
        entries: usize,
        /// The map's capacity.
        capacity: u32,
    },
}

/// The desired contents of every load-balancer map, and the numbering they
/// were built with (pass it as `previous` to the next call).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Desired {
    /// [`names::LB4_SERVICES`].
    pub services: BTreeMap<ServiceKey, ServiceValue>,
    /// [`names::LB4_BACKENDS`].
    pub backends: BTreeMap<BackendKey, BackendValue>,
    /// [`names::LB4_REV_NAT`].
    pub rev_nat: BTreeMap<RevNatKey, RevNatValue>,
    /// [`names::LB4_MAGLEV`]: one table per key; keys whose backends are
    /// the same share one `Arc`, so a writer can share one inner map.
    pub maglev: BTreeMap<MaglevKey, Arc<MaglevTable>>,
    /// Backend ids and reverse-NAT indexes in use.
    pub ids: Allocation,
    /// What was left out, in a deterministic order.
    pub problems: Vec<Problem>,
}

/// The desired map contents for these Services and EndpointSlices on this
/// node. `previous` is the allocation of the state currently written (the
/// previous result's `ids`, or [`Allocation::recover`] after a restart):
/// surviving backends and frontends keep their numbers, new ones get the
/// lowest numbers `previous` does not hold.
pub fn desired(
    services: &[Service],
    slices: &[EndpointSlice],
    node: &NodeContext,
    previous: &Allocation,
) -> Desired {
    build(services, slices, node, previous, HashMap::new())
}

/// [`desired`] with `previous.ids`, reusing `previous`'s Maglev tables
/// whose backends did not change: the result is equal, but a table costs
/// about 0.3 ms to build, so rebuilding thousands on every change would
/// dominate. `previous` must be an earlier result of this function or of
/// [`desired`]: its tables are trusted. After a restart, maps read back may
/// stem from a plan cut short, so the first call there is [`desired`] with
/// [`Allocation::recover`].
pub fn desired_from(
    services: &[Service],
    slices: &[EndpointSlice],
    node: &NodeContext,
    previous: &Desired,
) -> Desired {
    build(
        services,
        slices,
        node,
        &previous.ids,
        reusable_tables(previous),
    )
}

/// `previous`'s Maglev tables by the backend ids of the entry they belong
/// to (slots `1..=count`, in order). Backend ids keep their identity from
/// one state to the next, so equal id lists mean equal tables.
fn reusable_tables(previous: &Desired) -> HashMap<Vec<u32>, Arc<MaglevTable>> {
    let mut out = HashMap::new();
    for (key, head) in previous
        .services
        .iter()
        .filter(|(k, _)| k.slot == SERVICE_SLOT)
    {
        let Some(table) = previous
            .maglev
            .get(&MaglevKey::new(head.rev_nat, key.scope))
        else {
            continue;
        };
        let ids: Option<Vec<u32>> = (1..=head.count)
            .map(|slot| {
                previous
                    .services
                    .get(&key.with_slot(slot))
                    .map(|v| v.backend_id)
            })
            .collect();
        if let Some(ids) = ids {
            out.entry(ids).or_insert_with(|| Arc::clone(table));
        }
    }
    out
}

/// The desired state; `tables` holds Maglev tables already built, by the
/// backend ids (in slot order) they were built for.
fn build(
    services: &[Service],
    slices: &[EndpointSlice],
    node: &NodeContext,
    previous: &Allocation,
    mut tables: HashMap<Vec<u32>, Arc<MaglevTable>>,
) -> Desired {
    let slices_by_service = index_slices(slices);
    let mut sorted: Vec<&Service> = services.iter().collect();
    sorted.sort_by(|a, b| service_ref(a).cmp(&service_ref(b)));

    let mut gathered = Gathered::default();
    for service in sorted {
        let (name, spec) = match (service_ref(service), service.spec.as_ref()) {
            ((_, ""), _) | (_, None) => continue,
            ((namespace, name), Some(spec)) => (format!("{namespace}/{name}"), spec),
        };
        let service_slices = slices_by_service
            .get(&service_ref(service))
            .map(Vec::as_slice)
            .unwrap_or_default();
        service_frontends(service, &name, spec, service_slices, node, &mut gathered);
    }
    let Gathered {
        mut candidates,
        backend_local,
        mut problems,
    } = gathered;

    // Claim frontends in priority order; the first claim wins.
    candidates.sort_by(|a, b| a.priority.cmp(&b.priority));
    let mut owners: BTreeMap<L4Addr, String> = BTreeMap::new();
    let mut winners = Vec::with_capacity(candidates.len());
    for candidate in candidates {
        match owners.get(&candidate.frontend) {
            Some(owner) => problems.push(Problem::FrontendConflict {
                service: candidate.service.clone(),
                frontend: candidate.frontend,
                owner: owner.clone(),
            }),
            None => {
                owners.insert(candidate.frontend, candidate.service.clone());
                winners.push(candidate);
            }
        }
    }

    let wanted_frontends: BTreeSet<L4Addr> = winners.iter().map(|c| c.frontend).collect();
    let max_rev_nat = REV_NAT_MAX_ENTRIES;
    let (rev_nat_ids, lost) = allocate(&previous.rev_nat, &wanted_frontends, max_rev_nat);
    let lost: BTreeSet<L4Addr> = lost.into_iter().collect();
    winners.retain(|c| {
        let keep = !lost.contains(&c.frontend);
        if !keep {
            problems.push(Problem::RevNatExhausted {
                service: c.service.clone(),
                frontend: c.frontend,
            });
        }
        keep
    });

    let mut wanted_backends = BTreeSet::new();
    let mut active_backends = BTreeSet::new();
    for candidate in &winners {
        for entry in &candidate.scopes {
            wanted_backends.extend(entry.selection.active.iter().copied());
            wanted_backends.extend(entry.selection.terminating.iter().copied());
            active_backends.extend(entry.selection.active.iter().copied());
        }
    }
    let (backend_ids, lost) = allocate(&previous.backends, &wanted_backends, BACKENDS_MAX_ENTRIES);
    problems.extend(
        lost.into_iter()
            .map(|backend| Problem::BackendIdsExhausted { backend }),
    );

    let mut out = Desired::default();
    for (backend, &id) in &backend_ids {
        let state = if active_backends.contains(backend) {
            backend_state::ACTIVE
        } else {
            backend_state::TERMINATING
        };
        let local = backend_local.get(backend).copied().unwrap_or(false);
        let flags = if local { backend_flags::LOCAL } else { 0 };
        out.backends.insert(
            BackendKey { id },
            BackendValue::new(
                backend.addr,
                backend.port,
                backend.protocol.number(),
                state,
                flags,
            ),
        );
    }

    for candidate in &winners {
        let Some(&rev_nat) = rev_nat_ids.get(&candidate.frontend) else {
            continue;
        };
        let frontend = candidate.frontend;
        out.rev_nat.insert(
            RevNatKey { index: rev_nat },
            RevNatValue::new(frontend.addr, frontend.port),
        );
        for entry in &candidate.scopes {
            let ids = |list: &[L4Addr]| -> Vec<(L4Addr, u32)> {
                list.iter()
                    .filter_map(|b| backend_ids.get(b).map(|&id| (*b, id)))
                    .collect()
            };
            let mut active = ids(&entry.selection.active);
            let mut terminating = ids(&entry.selection.terminating);
            let max = usize::from(u16::MAX);
            let dropped = (active.len() + terminating.len()).saturating_sub(max);
            if dropped > 0 {
                active.truncate(max);
                terminating.truncate(max - active.len());
                problems.push(Problem::TooManyBackends {
                    frontend,
                    dropped,
                    max,
                });
            }
            let key = ServiceKey::new(
                frontend.addr,
                frontend.port,
                frontend.protocol.number(),
                entry.scope,
                SERVICE_SLOT,
            );
            let mut flags = entry.flags;
            if entry.selection.fallback {
                flags |= service_flags::TERMINATING_FALLBACK;
            }
            if entry.selection.elsewhere {
                flags |= service_flags::ENDPOINTS_ELSEWHERE;
            }
            out.services.insert(
                key,
                ServiceValue {
                    backend_id: NO_BACKEND,
                    count: u16::try_from(active.len()).unwrap_or(u16::MAX),
                    terminating: u16::try_from(terminating.len()).unwrap_or(u16::MAX),
                    rev_nat,
                    flags,
                    pad: 0,
                    affinity_timeout: candidate.affinity_timeout,
                },
            );
            for (slot, (_, id)) in (1..=u16::MAX).zip(active.iter().chain(terminating.iter())) {
                out.services.insert(
                    key.with_slot(slot),
                    ServiceValue {
                        backend_id: *id,
                        rev_nat,
                        ..ServiceValue::default()
                    },
                );
            }
            if flags & service_flags::MAGLEV != 0 && !active.is_empty() {
                let ids: Vec<u32> = active.iter().map(|(_, id)| *id).collect();
                let table = tables
                    .entry(ids)
                    .or_insert_with(|| Arc::new(maglev::table(&active)))
                    .clone();
                out.maglev
                    .insert(MaglevKey::new(rev_nat, entry.scope), table);
            }
        }
    }

    for (map, entries, capacity) in [
        (
            names::LB4_SERVICES,
            out.services.len(),
            SERVICES_MAX_ENTRIES,
        ),
        (
            names::LB4_BACKENDS,
            out.backends.len(),
            BACKENDS_MAX_ENTRIES,
        ),
        (names::LB4_REV_NAT, out.rev_nat.len(), REV_NAT_MAX_ENTRIES),
        (names::LB4_MAGLEV, out.maglev.len(), MAGLEV_MAX_ENTRIES),
    ] {
        if u32::try_from(entries).map_or(true, |n| n > capacity) {
            problems.push(Problem::MapFull {
                map,
                entries,
                capacity,
            });
        }
    }

    out.ids = Allocation {
        backends: backend_ids,
        rev_nat: rev_nat_ids,
    };
    out.problems = problems;
    out
}

/// `(namespace, name)` of a Service, `default` namespace when unset.
fn service_ref(service: &Service) -> (&str, &str) {
    (
        service.metadata.namespace.as_deref().unwrap_or("default"),
        service.metadata.name.as_deref().unwrap_or(""),
    )
}

/// IPv4 EndpointSlices by the `(namespace, service name)` they belong to,
/// each list in slice-name order so that duplicate endpoints merge the same
/// way whatever the input order.
fn index_slices(slices: &[EndpointSlice]) -> BTreeMap<(&str, &str), Vec<&EndpointSlice>> {
    let mut out: BTreeMap<(&str, &str), Vec<&EndpointSlice>> = BTreeMap::new();
    for slice in slices.iter().filter(|s| s.address_type == "IPv4") {
        let Some(service) = slice
            .metadata
            .labels
            .as_ref()
            .and_then(|labels| labels.get(SERVICE_NAME_LABEL))
        else {
            continue;
        };
        let namespace = slice.metadata.namespace.as_deref().unwrap_or("default");
        out.entry((namespace, service.as_str()))
            .or_default()
            .push(slice);
    }
    for list in out.values_mut() {
        list.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    }
    out
}

/// The kinds of frontend, in claim priority order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    ClusterIp,
    NodePort,
    LoadBalancer,
    ExternalIp,
}

impl Kind {
    fn flag(self) -> u16 {
        match self {
            Kind::ClusterIp => service_flags::CLUSTER_IP,
            Kind::NodePort => service_flags::NODE_PORT,
            Kind::LoadBalancer => service_flags::LOAD_BALANCER,
            Kind::ExternalIp => service_flags::EXTERNAL_IP,
        }
    }
}

/// One frontend a Service port asks for, before conflicts are settled.
struct Candidate {
    /// Claim order: kind, then the Service, then its port, then address.
    priority: (Kind, String, usize, L4Addr),
    frontend: L4Addr,
    service: String,
    affinity_timeout: u32,
    /// The external-scope entry first, then the internal one if any.
    scopes: Vec<ScopeEntry>,
}

/// One service entry (slot 0 and its slots) of a frontend.
struct ScopeEntry {
    scope: u8,
    flags: u16,
    selection: Rc<Selection>,
}

/// The backends of one service entry.
#[derive(Debug, Default, PartialEq, Eq)]
struct Selection {
    /// Take new connections (slots `1..=count`), in address order.
    active: Vec<L4Addr>,
    /// Serving but terminating, kept for existing connections only.
    terminating: Vec<L4Addr>,
    /// `active` holds terminating endpoints because none was ready.
    fallback: bool,
    /// Nothing is active only because of a Local policy.
    elsewhere: bool,
}

/// An endpoint of a Service port, merged over the slices that list it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Ep {
    local: bool,
    ready: bool,
    serving: bool,
    terminating: bool,
    zones: Vec<String>,
}

impl Ep {
    /// Ready: takes new connections.
    fn is_ready(&self) -> bool {
        self.ready
    }

    /// Serving while terminating: the fallback when nothing is ready, and
    /// otherwise kept for the connections it has.
    fn is_draining(&self) -> bool {
        !self.ready && self.serving && self.terminating
    }

    /// Which of two records of the same endpoint wins: kube-proxy prefers a
    /// local one; then the readier one, so a stale slice cannot retire a
    /// ready endpoint.
    fn rank(&self) -> (bool, bool, bool) {
        (self.local, self.ready, self.serving)
    }
}

/// What the Services ask for, before conflicts and numbering.
#[derive(Default)]
struct Gathered {
    /// Every frontend asked for.
    candidates: Vec<Candidate>,
    /// Whether each endpoint runs on this node.
    backend_local: BTreeMap<L4Addr, bool>,
    /// What was left out so far.
    problems: Vec<Problem>,
}

/// Adds the frontends of one Service to `out`.
fn service_frontends(
    service: &Service,
    name: &str,
    spec: &ServiceSpec,
    slices: &[&EndpointSlice],
    node: &NodeContext,
    out: &mut Gathered,
) {
    let Gathered {
        candidates,
        backend_local,
        problems,
    } = out;
    let type_ = spec.type_.as_deref().unwrap_or("ClusterIP");
    if type_ == "ExternalName" {
        return;
    }
    let cluster_ips = ipv4_list(
        spec.cluster_ips
            .iter()
            .flatten()
            .chain(spec.cluster_ip.iter()),
        name,
        "spec.clusterIPs",
        problems,
    );
    // Headless ("None") and unallocated Services have no IPv4 ClusterIP;
    // an IPv6-only Service belongs to the IPv6 maps. Neither has frontends
    // here, not even NodePorts.
    if cluster_ips.is_empty() {
        return;
    }
    let is_lb = type_ == "LoadBalancer";
    let has_node_ports = is_lb || type_ == "NodePort";
    let external_local = has_node_ports && spec.external_traffic_policy.as_deref() == Some("Local");
    let internal_local = spec.internal_traffic_policy.as_deref() == Some("Local");
    let affinity_timeout = if spec.session_affinity.as_deref() == Some("ClientIP") {
        spec.session_affinity_config
            .as_ref()
            .and_then(|c| c.client_ip.as_ref())
            .and_then(|c| c.timeout_seconds)
            .and_then(|t| u32::try_from(t).ok())
            .filter(|t| *t > 0)
            .unwrap_or(DEFAULT_AFFINITY_TIMEOUT)
    } else {
        0
    };
    let affinity = if affinity_timeout > 0 {
        service_flags::AFFINITY
    } else {
        0
    };
    let external_ips = ipv4_list(
        spec.external_ips.iter().flatten(),
        name,
        "spec.externalIPs",
        problems,
    );
    let lb_ips = if is_lb {
        let ingress = service
            .status
            .iter()
            .flat_map(|s| s.load_balancer.iter())
            .flat_map(|lb| lb.ingress.iter().flatten())
            .filter(|i| i.ip_mode.as_deref() != Some("Proxy"))
            .filter_map(|i| i.ip.as_ref());
        ipv4_list(ingress, name, "status.loadBalancer.ingress.ip", problems)
    } else {
        Vec::new()
    };

    // Each node address once, then the wildcard.
    let mut node_port_addrs: Vec<Ipv4Addr> = node
        .ips
        .iter()
        .copied()
        .filter(|ip| !ip.is_unspecified())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    node_port_addrs.push(Ipv4Addr::UNSPECIFIED);

    for (index, port) in spec.ports.iter().flatten().enumerate() {
        let Some(protocol) = port_protocol(port, name, problems) else {
            continue;
        };
        let Some(number) = u16::try_from(port.port).ok().filter(|p| *p != 0) else {
            problems.push(Problem::BadPort {
                service: name.to_owned(),
                port: port.port,
            });
            continue;
        };
        let endpoints = port_endpoints(port, protocol, slices, node, name, problems);
        for (backend, ep) in &endpoints {
            *backend_local.entry(*backend).or_insert(false) |= ep.local;
        }
        let cluster = Rc::new(select_cluster(&endpoints, node.zone.as_deref()));
        let local = Rc::new(select_local(&endpoints));
        let maglev = if node.options.maglev {
            service_flags::MAGLEV
        } else {
            0
        };
        let mut push = |kind: Kind, addr: Ipv4Addr, port_number: u16, scopes: Vec<ScopeEntry>| {
            let frontend = L4Addr::new(addr, port_number, protocol);
            candidates.push(Candidate {
                priority: (kind, name.to_owned(), index, frontend),
                frontend,
                service: name.to_owned(),
                affinity_timeout,
                scopes,
            });
        };

        let cluster_ip_entry = || {
            let (flags, selection) = if internal_local {
                (service_flags::INT_LOCAL, &local)
            } else {
                (0, &cluster)
            };
            vec![ScopeEntry {
                scope: scope::EXTERNAL,
                flags: Kind::ClusterIp.flag() | flags | affinity,
                selection: Rc::clone(selection),
            }]
        };
        for &ip in &cluster_ips {
            push(Kind::ClusterIp, ip, number, cluster_ip_entry());
        }

        // External frontends: externalTrafficPolicy Local keeps outside
        // clients on node-local backends; in-cluster clients of the same
        // frontend are subject to neither policy (kube-proxy sends them to
        // every endpoint), hence the second scope.
        let external_entries = |kind: Kind| {
            if external_local {
                vec![
                    ScopeEntry {
                        scope: scope::EXTERNAL,
                        flags: kind.flag()
                            | service_flags::EXT_LOCAL
                            | service_flags::TWO_SCOPES
                            | affinity
                            | maglev,
                        selection: Rc::clone(&local),
                    },
                    ScopeEntry {
                        scope: scope::INTERNAL,
                        flags: kind.flag() | affinity,
                        selection: Rc::clone(&cluster),
                    },
                ]
            } else {
                vec![ScopeEntry {
                    scope: scope::EXTERNAL,
                    flags: kind.flag() | affinity | maglev,
                    selection: Rc::clone(&cluster),
                }]
            }
        };
        let node_port = port
            .node_port
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p != 0 && has_node_ports);
        if let Some(node_port) = node_port {
            for &ip in &node_port_addrs {
                push(
                    Kind::NodePort,
                    ip,
                    node_port,
                    external_entries(Kind::NodePort),
                );
            }
        }
        for &ip in &lb_ips {
            push(
                Kind::LoadBalancer,
                ip,
                number,
                external_entries(Kind::LoadBalancer),
            );
        }
        for &ip in &external_ips {
            push(
                Kind::ExternalIp,
                ip,
                number,
                external_entries(Kind::ExternalIp),
            );
        }
    }
}

/// The IPv4 addresses among `values`, in order, without duplicates; IPv6
/// ones are skipped, unparsable ones reported. The unspecified address is
/// reported too: it is the NodePort wildcard.
fn ipv4_list<'a>(
    values: impl Iterator<Item = &'a String>,
    object: &str,
    field: &'static str,
    problems: &mut Vec<Problem>,
) -> Vec<Ipv4Addr> {
    let mut out = Vec::new();
    for value in values {
        if value == "None" || value.is_empty() {
            continue;
        }
        match value.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(ip)) if !ip.is_unspecified() => {
                if !out.contains(&ip) {
                    out.push(ip);
                }
            }
            Ok(std::net::IpAddr::V6(_)) => {}
            Ok(std::net::IpAddr::V4(_)) | Err(_) => problems.push(Problem::BadAddress {
                object: object.to_owned(),
                field,
                address: value.clone(),
            }),
        }
    }
    out
}

/// The protocol of a Service port, or `None` (reported) if not served.
fn port_protocol(
    port: &ServicePort,
    service: &str,
    problems: &mut Vec<Problem>,
) -> Option<Protocol> {
    match port.protocol.as_deref().unwrap_or("TCP") {
        "TCP" => Some(Protocol::Tcp),
        "UDP" => Some(Protocol::Udp),
        other => {
            problems.push(Problem::UnsupportedProtocol {
                service: service.to_owned(),
                port: port
                    .name
                    .clone()
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| port.port.to_string()),
                protocol: other.to_owned(),
            });
            None
        }
    }
}

/// The endpoints of one Service port: every slice port with the same name
/// and protocol (EndpointSlices carry the resolved target port, named or
/// not), each endpoint's first address, merged over slices by
/// (address, port).
fn port_endpoints(
    port: &ServicePort,
    protocol: Protocol,
    slices: &[&EndpointSlice],
    node: &NodeContext,
    service: &str,
    problems: &mut Vec<Problem>,
) -> BTreeMap<L4Addr, Ep> {
    let name = port.name.as_deref().unwrap_or("");
    let mut out: BTreeMap<L4Addr, Ep> = BTreeMap::new();
    for slice in slices {
        let target = slice
            .ports
            .iter()
            .flatten()
            .find(|p| {
                p.name.as_deref().unwrap_or("") == name
                    && p.protocol.as_deref().unwrap_or("TCP") == protocol.to_string()
            })
            .and_then(|p| p.port)
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p != 0);
        let Some(target) = target else {
            continue;
        };
        for endpoint in &slice.endpoints {
            let Some(address) = endpoint.addresses.first() else {
                continue;
            };
            let Ok(addr) = address.parse::<Ipv4Addr>() else {
                problems.push(Problem::BadAddress {
                    object: format!(
                        "{service} slice {}",
                        slice.metadata.name.as_deref().unwrap_or("")
                    ),
                    field: "endpoints.addresses",
                    address: address.clone(),
                });
                continue;
            };
            let ep = endpoint_state(endpoint, &node.name);
            let key = L4Addr::new(addr, target, protocol);
            match out.get_mut(&key) {
                Some(existing) if existing.rank() >= ep.rank() => {}
                Some(existing) => *existing = ep,
                None => {
                    out.insert(key, ep);
                }
            }
        }
    }
    out
}

/// An endpoint's conditions as the API defines their defaults: `ready` and
/// `serving` unset mean true, `terminating` unset means false.
fn endpoint_state(endpoint: &Endpoint, node_name: &str) -> Ep {
    let conditions = endpoint.conditions.as_ref();
    let ready = conditions.and_then(|c| c.ready).unwrap_or(true);
    let serving = conditions.and_then(|c| c.serving).unwrap_or(ready);
    let terminating = conditions.and_then(|c| c.terminating).unwrap_or(false);
    let zones = endpoint
        .hints
        .iter()
        .flat_map(|h| h.for_zones.iter().flatten())
        .map(|z| z.name.clone())
        .collect();
    Ep {
        local: !node_name.is_empty() && endpoint.node_name.as_deref() == Some(node_name),
        ready,
        serving,
        terminating,
        zones,
    }
}

/// Cluster-wide choice (kube-proxy's cluster endpoints): the ready
/// endpoints, narrowed to this zone's when every ready endpoint has zone
/// hints and one names this zone; if none is ready, the serving-terminating
/// ones. Serving-terminating endpoints not chosen are kept.
fn select_cluster(endpoints: &BTreeMap<L4Addr, Ep>, zone: Option<&str>) -> Selection {
    let ready: Vec<(&L4Addr, &Ep)> = endpoints.iter().filter(|(_, e)| e.is_ready()).collect();
    let zone = zone.filter(|zone| {
        ready.iter().all(|(_, e)| !e.zones.is_empty())
            && ready.iter().any(|(_, e)| e.zones.iter().any(|z| z == zone))
    });
    let active: Vec<L4Addr> = ready
        .iter()
        .filter(|(_, e)| zone.is_none_or(|zone| e.zones.iter().any(|z| z == zone)))
        .map(|(b, _)| **b)
        .collect();
    let draining = || {
        endpoints
            .iter()
            .filter(|(_, e)| e.is_draining())
            .map(|(b, _)| *b)
    };
    if active.is_empty() {
        let active: Vec<L4Addr> = draining().collect();
        Selection {
            fallback: !active.is_empty(),
            active,
            terminating: Vec::new(),
            elsewhere: false,
        }
    } else {
        Selection {
            active,
            terminating: draining().collect(),
            fallback: false,
            elsewhere: false,
        }
    }
}

/// Node-local choice (kube-proxy's local endpoints, for Local policies):
/// the local ready endpoints, or if there are none the local
/// serving-terminating ones. Topology hints do not apply.
fn select_local(endpoints: &BTreeMap<L4Addr, Ep>) -> Selection {
    let local = || endpoints.iter().filter(|(_, e)| e.local);
    let ready: Vec<L4Addr> = local()
        .filter(|(_, e)| e.is_ready())
        .map(|(b, _)| *b)
        .collect();
    let draining: Vec<L4Addr> = local()
        .filter(|(_, e)| e.is_draining())
        .map(|(b, _)| *b)
        .collect();
    let anywhere = endpoints.values().any(|e| e.is_ready() || e.is_draining());
    if ready.is_empty() {
        Selection {
            fallback: !draining.is_empty(),
            elsewhere: draining.is_empty() && anywhere,
            active: draining,
            terminating: Vec::new(),
        }
    } else {
        Selection {
            active: ready,
            terminating: draining,
            fallback: false,
            elsewhere: false,
        }
    }
}

#[cfg(test)]
mod tests;
