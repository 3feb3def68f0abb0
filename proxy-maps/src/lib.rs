//! The BPF map layouts shared by the kernel programs (`proxy-ebpf`) and the
//! userspace loader (`proxy-agent`).
//!
//! Every type here is `#[repr(C)]`, `Copy`, and free of padding the verifier
//! or the kernel could see as uninitialised. Nothing here may allocate or
//! depend on `std`: this crate is compiled for `bpfel-unknown-none` too.
#![no_std]

pub mod lb;
pub mod route;

/// Names of the maps the programs declare, so both sides agree on them.
pub mod names {
    /// Per-CPU packet and byte counters of the TC ingress counter program.
    pub const PACKET_COUNTS: &str = "PACKET_COUNTS";
    /// The devices host routing may send packets to: ifindex to
    /// a [`crate::route::target`] kind.
    pub const ROUTE_TARGETS: &str = "ROUTE_TARGETS";
    /// The node's VXLAN tunnel: one [`crate::route::OverlayTunnel`].
    pub const OVERLAY: &str = "OVERLAY";
    /// Per-CPU counters of host routing, by [`crate::route::event`] index.
    pub const ROUTE_EVENTS: &str = "ROUTE_EVENTS";
    /// Peer VTEP MAC ([`crate::route::PeerKey`]) to the peer's node IP
    /// (network byte order).
    pub const OVERLAY_PEERS: &str = "OVERLAY_PEERS";
}

/// Names of the programs in the object `proxy-ebpf` builds.
pub mod programs {
    /// TC ingress program that counts packets and bytes, then passes them on.
    pub const COUNT_INGRESS: &str = "count_ingress";
    /// TC ingress program on pod veths and the overlay device that forwards
    /// pod traffic by a FIB lookup and a redirect, past the node's stack.
    pub const ROUTE_INGRESS: &str = "route_ingress";
    /// TC ingress program on the node's uplink that decapsulates VXLAN
    /// packets for local pods and delivers them straight into the pod.
    pub const UPLINK_INGRESS: &str = "uplink_ingress";
}

/// Packets and bytes seen by one CPU. Userspace sums the per-CPU values.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PacketCount {
    /// Packets seen.
    pub packets: u64,
    /// Bytes seen, counted as the skb's length (the L2 frame).
    pub bytes: u64,
}

impl PacketCount {
    /// Adds another CPU's counts to these, saturating instead of wrapping.
    pub fn merge(self, other: PacketCount) -> PacketCount {
        PacketCount {
            packets: self.packets.saturating_add(other.packets),
            bytes: self.bytes.saturating_add(other.bytes),
        }
    }
}

// SAFETY: PacketCount is #[repr(C)], Copy, and made only of u64 fields, so it
// has no padding and every bit pattern is a valid value.
#[cfg(feature = "user")]
unsafe impl aya::Pod for PacketCount {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_adds_and_saturates() {
        let a = PacketCount {
            packets: 2,
            bytes: 100,
        };
        let b = PacketCount {
            packets: 3,
            bytes: u64::MAX,
        };
        assert_eq!(
            a.merge(b),
            PacketCount {
                packets: 5,
                bytes: u64::MAX
            }
        );
    }

    #[test]
    fn layout_is_two_u64s() {
        assert_eq!(core::mem::size_of::<PacketCount>(), 16);
        assert_eq!(core::mem::align_of::<PacketCount>(), 8);
    }
}
