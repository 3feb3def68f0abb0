//! The VXLAN overlay between nodes, the flannel scheme: one VXLAN device per
//! node whose address is the .0 of the node's podCIDR and whose MAC is
//! derived from the node IP; for every other node a route to its podCIDR
//! via its VTEP address (on-link), a permanent neighbour entry mapping that
//! address to its VTEP MAC, and an FDB entry sending that MAC to its node IP.
//!
//! This module is the pure core: nodes in, the desired entries out, and the
//! difference to what the kernel holds as a plan. [`apply`] does the I/O.

pub mod apply;

use std::{collections::BTreeSet, net::Ipv4Addr};

use ipnet::Ipv4Net;

/// How the overlay is set up on a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OverlayConfig {
    /// The VXLAN device's name.
    pub device: String,
    /// The VXLAN network identifier.
    pub vni: u32,
    /// The UDP port VXLAN uses (flannel's 8472 by default).
    pub port: u16,
    /// The underlay MTU; the device gets this minus [`VXLAN_OVERHEAD`].
    pub underlay_mtu: u32,
}

/// The overlay device's name unless configured otherwise.
pub const DEFAULT_DEVICE: &str = "strait-vxlan";

/// Bytes VXLAN over IPv4 adds to every packet (outer IP 20, UDP 8, VXLAN
/// 8, inner Ethernet 14).
pub const VXLAN_OVERHEAD: u32 = 50;

impl Default for OverlayConfig {
    fn default() -> Self {
        OverlayConfig {
            device: DEFAULT_DEVICE.into(),
            vni: 1,
            port: 8472,
            underlay_mtu: 1500,
        }
    }
}

/// What the overlay needs to know of a node.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct NodeInfo {
    /// The Node's name.
    pub name: String,
    /// Its underlay (InternalIP) address.
    pub ip: Ipv4Addr,
    /// Its pod CIDR.
    pub pod_cidr: Ipv4Net,
}

/// A node's VTEP MAC: locally administered, derived from its IP, so no
/// node needs to publish it (0a:58 + the four address bytes).
pub fn vtep_mac(node_ip: Ipv4Addr) -> [u8; 6] {
    let [a, b, c, d] = node_ip.octets();
    [0x0a, 0x58, a, b, c, d]
}

/// A node's VTEP address: the network address of its pod CIDR.
pub fn vtep_ip(pod_cidr: Ipv4Net) -> Ipv4Addr {
    pod_cidr.network()
}

/// A route to a peer's pods.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PeerRoute {
    /// The peer's pod CIDR.
    pub pod_cidr: Ipv4Net,
    /// Its VTEP address, the next hop.
    pub via: Ipv4Addr,
}

/// A permanent neighbour entry on the VXLAN device.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Neighbour {
    /// The peer's VTEP address.
    pub ip: Ipv4Addr,
    /// The peer's VTEP MAC.
    pub mac: [u8; 6],
}

/// An FDB entry on the VXLAN device.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Fdb {
    /// The peer's VTEP MAC.
    pub mac: [u8; 6],
    /// The peer's node IP, the outer destination.
    pub dst: Ipv4Addr,
}

/// Everything the overlay should hold on one node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Desired {
    /// The local VTEP (address and MAC), when this node has a pod CIDR.
    pub local: Option<(Ipv4Addr, [u8; 6])>,
    /// Routes to every peer's pods.
    pub routes: BTreeSet<PeerRoute>,
    /// Neighbour entries for every peer.
    pub neighbours: BTreeSet<Neighbour>,
    /// FDB entries for every peer.
    pub fdb: BTreeSet<Fdb>,
}

/// The desired overlay of node `local` among `nodes`. Nodes with the local
/// name or IP are the local node; a pod CIDR claimed twice goes to the node
/// whose name sorts first, so every node computes the same answer.
pub fn desired(local: &str, nodes: &[NodeInfo]) -> Desired {
    let mut nodes: Vec<&NodeInfo> = nodes.iter().collect();
    nodes.sort();
    let me = nodes.iter().find(|n| n.name == local).copied();
    let mut out = Desired {
        local: me.map(|n| (vtep_ip(n.pod_cidr), vtep_mac(n.ip))),
        ..Desired::default()
    };
    let mut cidrs_taken: Vec<Ipv4Net> = me.map(|n| n.pod_cidr).into_iter().collect();
    for node in nodes {
        let overlaps = cidrs_taken
            .iter()
            .any(|c| c.contains(&node.pod_cidr) || node.pod_cidr.contains(c));
        if node.name == local || me.is_some_and(|m| m.ip == node.ip) || overlaps {
            continue;
        }
        cidrs_taken.push(node.pod_cidr);
        let (ip, mac) = (vtep_ip(node.pod_cidr), vtep_mac(node.ip));
        out.routes.insert(PeerRoute {
            pod_cidr: node.pod_cidr,
            via: ip,
        });
        out.neighbours.insert(Neighbour { ip, mac });
        out.fdb.insert(Fdb { mac, dst: node.ip });
    }
    out
}

/// What the kernel holds on the VXLAN device now.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Current {
    /// Routes out of the device.
    pub routes: BTreeSet<PeerRoute>,
    /// Permanent neighbour entries on it.
    pub neighbours: BTreeSet<Neighbour>,
    /// Permanent FDB entries on it.
    pub fdb: BTreeSet<Fdb>,
}

/// The changes that turn `current` into `desired`. Additions come before
/// removals in [`apply`], so a changed peer is never unreachable longer
/// than it must be.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// FDB entries to add.
    pub add_fdb: Vec<Fdb>,
    /// Neighbour entries to add.
    pub add_neighbours: Vec<Neighbour>,
    /// Routes to add.
    pub add_routes: Vec<PeerRoute>,
    /// Routes to remove.
    pub remove_routes: Vec<PeerRoute>,
    /// Neighbour entries to remove.
    pub remove_neighbours: Vec<Neighbour>,
    /// FDB entries to remove.
    pub remove_fdb: Vec<Fdb>,
}

impl Plan {
    /// Whether nothing needs to change.
    pub fn is_empty(&self) -> bool {
        *self == Plan::default()
    }
}

/// The difference between `current` and `desired`.
pub fn plan(desired: &Desired, current: &Current) -> Plan {
    fn diff<T: Ord + Clone>(want: &BTreeSet<T>, have: &BTreeSet<T>) -> (Vec<T>, Vec<T>) {
        (
            want.difference(have).cloned().collect(),
            have.difference(want).cloned().collect(),
        )
    }
    let (add_fdb, remove_fdb) = diff(&desired.fdb, &current.fdb);
    let (add_neighbours, remove_neighbours) = diff(&desired.neighbours, &current.neighbours);
    let (add_routes, remove_routes) = diff(&desired.routes, &current.routes);
    Plan {
        add_fdb,
        add_neighbours,
        add_routes,
        remove_routes,
        remove_neighbours,
        remove_fdb,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, ip: &str, cidr: &str) -> NodeInfo {
        NodeInfo {
            name: name.into(),
            ip: ip.parse().expect("ip"),
            pod_cidr: cidr.parse().expect("cidr"),
        }
    }

    fn three() -> Vec<NodeInfo> {
        vec![
            node("n1", "172.30.0.11", "10.244.1.0/24"),
            node("n2", "172.30.0.12", "10.244.2.0/24"),
            node("n3", "172.30.0.13", "10.244.3.0/24"),
        ]
    }

    #[test]
    fn every_other_node_gets_a_route_a_neighbour_and_an_fdb_entry() {
        let d = desired("n1", &three());
        assert_eq!(
            d.local,
            Some((
                "10.244.1.0".parse().expect("ip"),
                [0x0a, 0x58, 172, 30, 0, 11]
            ))
        );
        let routes: Vec<String> = d
            .routes
            .iter()
            .map(|r| format!("{} via {}", r.pod_cidr, r.via))
            .collect();
        assert_eq!(
            routes,
            [
                "10.244.2.0/24 via 10.244.2.0",
                "10.244.3.0/24 via 10.244.3.0"
            ]
        );
        assert!(d.neighbours.contains(&Neighbour {
            ip: "10.244.3.0".parse().expect("ip"),
            mac: [0x0a, 0x58, 172, 30, 0, 13],
        }));
        assert!(d.fdb.contains(&Fdb {
            mac: [0x0a, 0x58, 172, 30, 0, 12],
            dst: "172.30.0.12".parse().expect("ip"),
        }));
        assert_eq!(d.fdb.len(), 2);
    }

    #[test]
    fn unknown_local_node_still_reaches_peers_and_conflicts_resolve_the_same_everywhere() {
        let d = desired("n9", &three());
        assert_eq!(d.local, None);
        assert_eq!(d.routes.len(), 3);
        // n4 claims n2's CIDR: n2 (sorts first) keeps it on every node.
        let mut nodes = three();
        nodes.push(node("n4", "172.30.0.14", "10.244.2.0/24"));
        for local in ["n1", "n3"] {
            let d = desired(local, &nodes);
            assert!(
                d.fdb.iter().all(|f| f.dst.octets()[3] != 14),
                "{local}: {d:?}"
            );
        }
        // A node whose CIDR overlaps the local one is ignored.
        nodes.push(node("n5", "172.30.0.15", "10.244.1.0/23"));
        assert!(
            desired("n1", &nodes)
                .fdb
                .iter()
                .all(|f| f.dst.octets()[3] != 15)
        );
    }

    #[test]
    fn plan_adds_what_is_missing_and_removes_what_is_stale() {
        let want = desired("n1", &three());
        let mut have = Current {
            routes: want.routes.clone(),
            neighbours: want.neighbours.clone(),
            fdb: want.fdb.clone(),
        };
        assert!(plan(&want, &have).is_empty());
        // n3 deleted, n4 stale in the kernel from an earlier run.
        let stale = desired("n1", &[node("n4", "172.30.0.14", "10.244.4.0/24")]);
        have.routes.extend(stale.routes.clone());
        have.neighbours.extend(stale.neighbours.clone());
        have.fdb.extend(stale.fdb.clone());
        let without_n3 = desired("n1", &three()[..2]);
        let p = plan(&without_n3, &have);
        assert!(p.add_routes.is_empty() && p.add_fdb.is_empty() && p.add_neighbours.is_empty());
        assert_eq!(p.remove_routes.len(), 2, "{p:?}");
        assert_eq!(p.remove_neighbours.len(), 2);
        assert_eq!(p.remove_fdb.len(), 2);
        let back = plan(&want, &Current::default());
        assert_eq!(back.add_routes.len(), 2);
        assert_eq!(back.add_fdb.len(), 2);
    }
}
