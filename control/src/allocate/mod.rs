//! In-memory allocators for the values the API server hands out: Service
//! cluster IPs, Service node ports, and Node pod CIDRs.
//!
//! Each allocator is pure state over one range: no I/O, no clock, no randomness,
//! so the same calls always yield the same values. The durable store is the
//! source of truth; at start the server rebuilds every allocator with
//! `from_allocated` from the values its stored objects hold, and gets back the
//! conflicting claims instead of a panic. This module must not know about
//! Service or Node objects, field paths or HTTP: callers map [`AllocError`] to a
//! Kubernetes `Status` once, at the edge.
//!
//! All three share one bitmap (`bitmap.rs`), so the search order lives in one
//! place: dynamic allocation takes the next free value after the last one it
//! handed out, wrapping, and (for cluster IPs and node ports, as kube-apiserver
//! does since KEP-3070 and KEP-3668) prefers the upper part of the range so the
//! lower band stays free for explicit requests.

mod bitmap;
mod cluster_ip;
mod node_port;
mod pod_cidr;

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;

use bitmap::Bitmap;
pub use cluster_ip::ClusterIpAllocator;
pub use node_port::NodePortAllocator;
pub use pod_cidr::PodCidrAllocator;

/// Why a value could not be allocated.
///
/// The `*NotInRange` and `*Allocated` variants answer an explicit request and
/// map to a 422 `Invalid` cause (`FieldValueInvalid`) on the requesting field,
/// with the variant's value and this `Display` text as the message, e.g.
/// `spec.ports[0].nodePort: Invalid value: 8080: provided port is not in the
/// valid range. The range of valid ports is 30000-32767`. kube-apiserver
/// prefixes cluster IP messages with `failed to allocate IP <ip>: `. The
/// `*Full` variants answer a dynamic request and map to a 500 `InternalError`
/// (`failed to allocate a serviceIP: range is full`); see [`AllocError::is_full`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocError {
    /// The requested cluster IP is held by another Service.
    #[error("provided IP is already allocated")]
    IpAllocated {
        /// The requested IP.
        ip: IpAddr,
    },
    /// The requested cluster IP lies outside the service CIDR's usable addresses.
    #[error("the provided IP ({ip}) is not in the valid range. The range of valid IPs is {range}")]
    IpNotInRange {
        /// The requested IP.
        ip: IpAddr,
        /// The service CIDR.
        range: IpNet,
    },
    /// No cluster IP is left for dynamic allocation.
    #[error("range is full")]
    IpRangeFull {
        /// The service CIDR.
        range: IpNet,
    },
    /// The requested node port is held by another Service.
    #[error("provided port is already allocated")]
    PortAllocated {
        /// The requested port.
        port: u16,
    },
    /// The requested node port lies outside the node port range.
    #[error("provided port is not in the valid range. The range of valid ports is {first}-{last}")]
    PortNotInRange {
        /// The requested port.
        port: u16,
        /// First port of the range.
        first: u16,
        /// Last port of the range (inclusive).
        last: u16,
    },
    /// No node port is left for dynamic allocation.
    #[error("range is full")]
    PortRangeFull {
        /// First port of the range.
        first: u16,
        /// Last port of the range (inclusive).
        last: u16,
    },
    /// The requested pod CIDR is held by another Node.
    #[error("provided CIDR is already allocated")]
    CidrAllocated {
        /// The requested CIDR.
        cidr: IpNet,
    },
    /// The requested pod CIDR lies outside the cluster CIDR.
    #[error("cidr {cidr} is out the range of cluster cidr {range}")]
    CidrNotInRange {
        /// The requested CIDR.
        cidr: IpNet,
        /// The cluster CIDR.
        range: IpNet,
    },
    /// The requested pod CIDR is inside the cluster CIDR but not one of its node
    /// subnets: wrong prefix length, or host bits set.
    #[error(
        "cidr {cidr} is not a node CIDR of cluster cidr {range}: it must be a /{node_prefix_len} with no host bits set"
    )]
    CidrNotNodeSized {
        /// The requested CIDR.
        cidr: IpNet,
        /// The cluster CIDR.
        range: IpNet,
        /// The node CIDR prefix length (`--node-cidr-mask-size`).
        node_prefix_len: u8,
    },
    /// No pod CIDR is left for dynamic allocation.
    #[error(
        "CIDR allocation failed; there are no remaining CIDRs left to allocate in the accepted range"
    )]
    CidrRangeFull {
        /// The cluster CIDR.
        range: IpNet,
    },
}

impl AllocError {
    /// Whether this is a dynamic allocation running out of values (a server-side
    /// 500), rather than a rejected explicit request (a 422 field error).
    pub fn is_full(&self) -> bool {
        matches!(
            self,
            Self::IpRangeFull { .. } | Self::PortRangeFull { .. } | Self::CidrRangeFull { .. }
        )
    }
}

/// Why an allocator could not be built over the given range (a startup
/// configuration error, never a client's fault).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// The service CIDR has more than 2^20 addresses.
    #[error(
        "specified service CIDR {cidr} is too large; for {bits}-bit addresses, the mask must be >= {min_prefix_len}"
    )]
    ServiceCidrTooLarge {
        /// The service CIDR.
        cidr: IpNet,
        /// Address width of its family (32 or 128).
        bits: u8,
        /// Shortest accepted prefix length.
        min_prefix_len: u8,
    },
    /// The service CIDR cannot hold the cluster DNS address (its tenth address).
    #[error(
        "specified service CIDR {cidr} is too small; it must hold the kubernetes Service IP (first address) and the cluster DNS IP (tenth address), so the mask must be <= {max_prefix_len}"
    )]
    ServiceCidrTooSmall {
        /// The service CIDR.
        cidr: IpNet,
        /// Longest accepted prefix length.
        max_prefix_len: u8,
    },
    /// The node port range is empty or includes port 0.
    #[error(
        "invalid node port range {first}-{last}: the first port must be between 1 and the last port"
    )]
    InvalidPortRange {
        /// First port of the range.
        first: u16,
        /// Last port of the range.
        last: u16,
    },
    /// The node CIDR prefix is shorter than the cluster CIDR's or longer than
    /// the family allows.
    #[error(
        "invalid node CIDR mask size /{node_prefix_len} for cluster CIDR {cidr}: it must be between /{} and /{}",
        cidr.prefix_len(),
        cidr.max_prefix_len()
    )]
    InvalidNodeCidrSize {
        /// The cluster CIDR.
        cidr: IpNet,
        /// The requested node prefix length.
        node_prefix_len: u8,
    },
    /// The cluster CIDR would split into more than 2^16 node CIDRs.
    #[error(
        "node CIDR mask size /{node_prefix_len} is too big for cluster CIDR {cidr}: at most 65536 node CIDRs are supported, so the mask must be <= /{}",
        cidr.prefix_len().saturating_add(16)
    )]
    NodeCidrSizeTooBig {
        /// The cluster CIDR.
        cidr: IpNet,
        /// The requested node prefix length.
        node_prefix_len: u8,
    },
}

/// A stored claim that `from_allocated` could not record.
///
/// `claimant` is the object whose claim was refused; `holder` is the object that
/// already held the value (for a duplicate), or `None` when the value itself was
/// refused (outside the range, or misshapen). `error` is what an explicit
/// request for the value would have returned now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict<K, T> {
    /// The refused value.
    pub value: T,
    /// The object that claimed it.
    pub claimant: K,
    /// The object that already held it, for a duplicate claim.
    pub holder: Option<K>,
    /// The error an explicit request for `value` returns.
    pub error: AllocError,
}

/// How an allocator maps its values onto its bitmap; the shared logic for
/// explicit requests and rebuilds lives here, once.
trait Slots {
    /// The value handed out: an IP, a port, a CIDR.
    type Value: Copy;

    /// The allocator's bitmap.
    fn bitmap(&self) -> &Bitmap;

    /// The allocator's bitmap, for taking and freeing.
    fn bitmap_mut(&mut self) -> &mut Bitmap;

    /// The offset of `value`, or why it is not a member of the range.
    fn offset_of(&self, value: Self::Value) -> Result<u32, AllocError>;

    /// The error for an explicit request of a taken `value`.
    fn taken(value: Self::Value) -> AllocError;

    /// Takes `value` for an explicit request.
    fn claim(&mut self, value: Self::Value) -> Result<(), AllocError> {
        let offset = self.offset_of(value)?;
        if self.bitmap_mut().insert(offset) {
            Ok(())
        } else {
            Err(Self::taken(value))
        }
    }

    /// Frees `value`; a free or non-member value is ignored.
    fn unclaim(&mut self, value: Self::Value) {
        if let Ok(offset) = self.offset_of(value) {
            self.bitmap_mut().remove(offset);
        }
    }

    /// Whether `value` is a member of the range and taken.
    fn claimed(&self, value: Self::Value) -> bool {
        self.offset_of(value)
            .is_ok_and(|offset| self.bitmap().contains(offset))
    }

    /// Records every claim, returning those it refused.
    ///
    /// A second claim of a value by the same `K` is not a conflict, because one
    /// Service may expose the same node port for several protocols; `K` must
    /// therefore identify the object (a UID or `namespace/name`), not be `()`.
    fn rebuild<K: Clone + Eq>(
        &mut self,
        claims: impl IntoIterator<Item = (K, Self::Value)>,
    ) -> Vec<Conflict<K, Self::Value>> {
        let mut holders: HashMap<u32, K> = HashMap::new();
        let mut conflicts = Vec::new();
        for (claimant, value) in claims {
            let offset = match self.offset_of(value) {
                Ok(offset) => offset,
                Err(error) => {
                    conflicts.push(Conflict {
                        value,
                        claimant,
                        holder: None,
                        error,
                    });
                    continue;
                }
            };
            match holders.get(&offset) {
                Some(holder) if *holder == claimant => {}
                Some(holder) => conflicts.push(Conflict {
                    value,
                    holder: Some(holder.clone()),
                    claimant,
                    error: Self::taken(value),
                }),
                None => {
                    self.bitmap_mut().insert(offset);
                    holders.insert(offset, claimant);
                }
            }
        }
        conflicts
    }
}
