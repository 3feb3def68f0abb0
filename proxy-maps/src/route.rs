//! eBPF host routing: the one map the `route_ingress` program reads.
//!
//! The program asks the kernel's FIB where a packet goes; this map says
//! which of those devices it may hand the packet to directly, and how.
//! Devices not in it (the node's uplink, say) get the packet through the
//! node's ordinary stack, so masquerading and firewalling still apply.

/// How `route_ingress` delivers to a device found in `ROUTE_TARGETS`.
pub mod target {
    /// A pod's host-side veth: deliver straight into the pod's end
    /// (`bpf_redirect_peer`), skipping the veth's transmit and backlog.
    pub const POD: u32 = 1;
    /// The VXLAN overlay device: transmit on it (`bpf_redirect`), which
    /// encapsulates towards the other node.
    pub const OVERLAY: u32 = 2;
}

/// Indexes of the `ROUTE_EVENTS` per-CPU counters: what the programs did
/// with the packets they saw.
pub mod event {
    /// Forwarded into a local pod (`bpf_redirect_peer`).
    pub const TO_POD: u32 = 0;
    /// Encapsulated here and sent on the uplink.
    pub const ENCAPSULATED: u32 = 1;
    /// Handed to the VXLAN device (no tunnel settings or peer, or the
    /// underlay neighbour unresolved).
    pub const TO_OVERLAY_DEVICE: u32 = 2;
    /// Decapsulated here and delivered into a local pod.
    pub const DECAPSULATED: u32 = 3;
    /// A packet of this node's tunnel left to the VXLAN device: not for a
    /// local pod as far as the FIB says (or its neighbour unresolved).
    pub const DECAP_NOT_LOCAL: u32 = 4;
    /// A packet of this node's tunnel left to the VXLAN device because the
    /// kernel refused to remove the headers.
    pub const DECAP_REFUSED: u32 = 5;
    /// A packet of this node's tunnel left to the VXLAN device: its inner
    /// packet is not plain IPv4 (options, TTL out), or its headers are not
    /// all in the linear data.
    pub const DECAP_UNPARSED: u32 = 6;
    /// Dropped: a rewrite failed half way.
    pub const DROPPED: u32 = 7;
    /// Number of counters.
    pub const COUNT: u32 = 8;
}

/// Capacity of `ROUTE_TARGETS`: pods per node plus the overlay device.
pub const ROUTE_TARGETS_MAX_ENTRIES: u32 = 4096;

/// Capacity of `OVERLAY_PEERS`: other nodes of the cluster.
pub const OVERLAY_PEERS_MAX_ENTRIES: u32 = 16384;

/// The node's VXLAN tunnel as the programs encapsulate and decapsulate it
/// themselves: the one value of the `OVERLAY` array. An `ifindex` of 0
/// means "not known yet": the programs then leave tunnelling to the
/// kernel's VXLAN device.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OverlayTunnel {
    /// The VXLAN device's ifindex (inner packets are routed as if they
    /// arrived on it).
    pub ifindex: u32,
    /// The uplink's ifindex: where encapsulated packets leave and arrive.
    pub uplink_ifindex: u32,
    /// This node's underlay address, in network byte order.
    pub local_ip: [u8; 4],
    /// The VXLAN network identifier (24 bits).
    pub vni: u32,
    /// The UDP destination port, host byte order.
    pub port: u16,
    /// Zero.
    pub pad: u16,
}

/// Key of `OVERLAY_PEERS`: a peer's VTEP MAC (the next hop's MAC that a FIB
/// lookup through the VXLAN device returns), padded to 8 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct PeerKey {
    /// The MAC address.
    pub mac: [u8; 6],
    /// Zero.
    pub pad: [u8; 2],
}

impl PeerKey {
    /// The key for `mac`.
    pub const fn new(mac: [u8; 6]) -> PeerKey {
        PeerKey { mac, pad: [0; 2] }
    }
}

// SAFETY: both are #[repr(C)] and Copy, made of integers and byte arrays
// laid out without implicit padding (explicit `pad` fields fill the gaps),
// so every bit pattern is a valid value.
#[cfg(feature = "user")]
unsafe impl aya::Pod for OverlayTunnel {}
#[cfg(feature = "user")]
unsafe impl aya::Pod for PeerKey {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_have_no_hidden_padding() {
        assert_eq!(core::mem::size_of::<OverlayTunnel>(), 20);
        assert_eq!(core::mem::size_of::<PeerKey>(), 8);
    }
}
