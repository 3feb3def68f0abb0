//! Layouts of the IPv4 service load-balancer maps: services (frontends and
//! their backend slots), backends, reverse NAT, and Maglev lookup tables.
//!
//! Only types, constants and byte-order conversions live here; computing
//! what the maps should hold is the agent's job. Nothing here may allocate
//! or need `std`: the kernel programs use these types too.
//!
//! Byte order: addresses and ports are stored in network byte order, exactly
//! as the programs read them from packet headers and from `bpf_sock_addr`
//! (`user_ip4`, and the low 16 bits of `user_port`), so a program copies them
//! into keys and packets without swapping. "Network byte order" for a `u32`
//! or `u16` field means its in-memory bytes are the wire bytes: `10.0.0.1` is
//! stored as the bytes `0a 00 00 01`. Use [`net_addr`]/[`host_addr`] and
//! [`net_port`]/[`host_port`] to convert. Every other number (slots, counts,
//! ids, indexes, flags, timeouts) is in host byte order.
//!
//! How a program uses the maps:
//! 1. Look up [`ServiceKey`] `{addr, port, proto, scope: EXTERNAL, slot: 0}`.
//!    NodePort traffic to a node address without an entry of its own (a
//!    loopback address, an address the agent does not know) retries with
//!    `addr = 0.0.0.0`, the NodePort wildcard frontend.
//! 2. If the entry has [`service_flags::TWO_SCOPES`] and the client is inside
//!    the cluster (every socket-level lookup), look up the same key with
//!    `scope: INTERNAL` and use that entry instead.
//! 3. `count == 0`: refuse (TCP reset / ICMP unreachable), never drop
//!    silently. Otherwise pick slot `1..=count` at random, or from the Maglev
//!    table when [`service_flags::MAGLEV`] is set, or the affinity entry's
//!    backend when [`service_flags::AFFINITY`] is set and it is still active.
//! 4. Look up the slot's [`BackendKey`] to get the backend's address.
//! 5. Replies are translated back with the [`RevNatValue`] at the service
//!    entry's `rev_nat` index.
//!
//! Slots `count+1..=count+terminating` hold backends that take no new
//! connections but still serve existing ones (graceful termination). A
//! connection tracked to a backend id stays valid while that id is in the
//! backends map, whatever its state.

use core::net::Ipv4Addr;

/// Names of the load-balancer maps the programs declare (each at most 15
/// bytes, the kernel's limit for map names).
pub mod names {
    /// Hash map [`super::ServiceKey`] -> [`super::ServiceValue`].
    pub const LB4_SERVICES: &str = "LB4_SERVICES";
    /// Hash map [`super::BackendKey`] -> [`super::BackendValue`].
    pub const LB4_BACKENDS: &str = "LB4_BACKENDS";
    /// Hash map [`super::RevNatKey`] -> [`super::RevNatValue`].
    pub const LB4_REV_NAT: &str = "LB4_REV_NAT";
    /// Hash of maps [`super::MaglevKey`] -> inner array map of one
    /// [`super::MaglevTable`] at index [`super::MAGLEV_INNER_INDEX`].
    pub const LB4_MAGLEV: &str = "LB4_MAGLEV";
    /// LRU hash [`super::SockRevNatKey`] -> [`super::SockRevNatValue`]: what
    /// a socket's translated peer was, for `recvmsg`/`getpeername`.
    pub const LB4_SOCK_REVNAT: &str = "LB4_SOCK_REVNAT";
    /// LRU hash [`super::AffinityKey`] -> [`super::AffinityValue`]:
    /// sessionAffinity ClientIP choices of in-cluster clients.
    pub const LB4_AFFINITY: &str = "LB4_AFFINITY";
    /// Per-CPU hash reverse-NAT index (u32) -> u64: sockets the hooks
    /// translated to the frontend (connections, and UDP messages sent
    /// without a connection), for `/metrics`.
    pub const LB4_SOCK_COUNT: &str = "LB4_SOCK_COUNT";
}

/// Capacity of [`names::LB4_SOCK_REVNAT`] (LRU: old sockets' entries go).
pub const SOCK_REVNAT_MAX_ENTRIES: u32 = 1 << 18;

/// Capacity of [`names::LB4_AFFINITY`] (LRU).
pub const AFFINITY_MAX_ENTRIES: u32 = 1 << 16;

/// Entries in each Maglev lookup table: a prime, as Maglev needs, large
/// enough to stay even for hundreds of backends (Cilium's default too).
pub const MAGLEV_TABLE_SIZE: usize = 16381;

/// The only key of a Maglev inner array map: the whole table is one value,
/// so a lookup is one map access plus an index.
pub const MAGLEV_INNER_INDEX: u32 = 0;

/// Capacity of [`names::LB4_SERVICES`]: frontends x (1 + backend slots);
/// 10,000 Services x 10 endpoints with a ClusterIP and two NodePort
/// frontends each is 330,000. The hash maps are created without
/// preallocation (`BPF_F_NO_PREALLOC`), so capacity costs nothing until used.
pub const SERVICES_MAX_ENTRIES: u32 = 1 << 20;

/// Capacity of [`names::LB4_BACKENDS`]; backend ids run `1..=` this.
pub const BACKENDS_MAX_ENTRIES: u32 = 1 << 18;

/// Capacity of [`names::LB4_REV_NAT`]; indexes run `1..=` this: one per
/// frontend, so 100,000 Services with a NodePort each fit.
pub const REV_NAT_MAX_ENTRIES: u32 = 1 << 18;

/// Capacity of [`names::LB4_MAGLEV`] (outer map). Each inner map holds
/// `4 * MAGLEV_TABLE_SIZE` bytes (64 KiB), so its fill level, not this
/// limit, is what costs memory.
pub const MAGLEV_MAX_ENTRIES: u32 = 1 << 16;

/// The slot of a service's own entry (its "slot 0"); backend slots start at 1.
pub const SERVICE_SLOT: u16 = 0;

/// A backend id that refers to no backend (ids start at 1).
pub const NO_BACKEND: u32 = 0;

/// A reverse-NAT index that refers to no entry (indexes start at 1).
pub const NO_REV_NAT: u32 = 0;

/// IP protocol numbers used in keys and values.
pub mod proto {
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
}

/// Lookup scopes of [`super::ServiceKey::scope`].
pub mod scope {
    /// The entry every lookup starts with; for a ClusterIP frontend, the
    /// only one.
    pub const EXTERNAL: u8 = 0;
    /// The entry in-cluster clients use when the external entry has
    /// [`super::service_flags::TWO_SCOPES`].
    pub const INTERNAL: u8 = 1;
}

/// Bits of [`ServiceValue::flags`].
pub mod service_flags {
    /// The frontend is a ClusterIP.
    pub const CLUSTER_IP: u16 = 1 << 0;
    /// The frontend is a NodePort on a node address (or the wildcard).
    pub const NODE_PORT: u16 = 1 << 1;
    /// The frontend is one of `spec.externalIPs`.
    pub const EXTERNAL_IP: u16 = 1 << 2;
    /// The frontend is a `status.loadBalancer.ingress` IP.
    pub const LOAD_BALANCER: u16 = 1 << 3;
    /// externalTrafficPolicy Local: this external-scope entry lists only
    /// node-local backends, and the client's address must be kept (no SNAT).
    pub const EXT_LOCAL: u16 = 1 << 4;
    /// internalTrafficPolicy Local: this ClusterIP entry lists only
    /// node-local backends.
    pub const INT_LOCAL: u16 = 1 << 5;
    /// In-cluster clients use the [`super::scope::INTERNAL`] entry instead.
    pub const TWO_SCOPES: u16 = 1 << 6;
    /// sessionAffinity ClientIP; `affinity_timeout` holds its seconds.
    pub const AFFINITY: u16 = 1 << 7;
    /// Choose through the Maglev table at `(rev_nat, scope)`, not at random.
    pub const MAGLEV: u16 = 1 << 8;
    /// No endpoint is ready: the selectable slots hold serving-but-terminating
    /// endpoints (kube-proxy's fallback), so affinity to a terminating
    /// backend may be honoured.
    pub const TERMINATING_FALLBACK: u16 = 1 << 9;
    /// `count` is 0 only because of a Local policy: endpoints exist on other
    /// nodes. kube-proxy drops here (so an external load balancer's health
    /// check moves traffic away) rather than rejecting.
    pub const ENDPOINTS_ELSEWHERE: u16 = 1 << 10;
}

/// Values of [`BackendValue::state`].
pub mod backend_state {
    /// At least one service entry on this node may send new connections here.
    pub const ACTIVE: u8 = 0;
    /// Kept only for the connections it already has (terminating endpoint).
    pub const TERMINATING: u8 = 1;
}

/// Bits of [`BackendValue::flags`].
pub mod backend_flags {
    /// The endpoint runs on this node.
    pub const LOCAL: u8 = 1 << 0;
}

/// An IPv4 address as stored in the maps (network byte order).
pub const fn net_addr(addr: Ipv4Addr) -> u32 {
    u32::from_ne_bytes(addr.octets())
}

/// The address a map field in network byte order holds.
pub const fn host_addr(net: u32) -> Ipv4Addr {
    let [a, b, c, d] = net.to_ne_bytes();
    Ipv4Addr::new(a, b, c, d)
}

/// A port as stored in the maps (network byte order).
pub const fn net_port(port: u16) -> u16 {
    port.to_be()
}

/// The port a map field in network byte order holds.
pub const fn host_port(net: u16) -> u16 {
    u16::from_be(net)
}

/// Key of [`names::LB4_SERVICES`]: one frontend (address, port, protocol)
/// in one scope, and one of its slots.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceKey {
    /// Frontend address, network byte order; `0` is the NodePort wildcard.
    pub addr: u32,
    /// Frontend port, network byte order.
    pub port: u16,
    /// [`proto::TCP`] or [`proto::UDP`].
    pub proto: u8,
    /// [`scope::EXTERNAL`] or [`scope::INTERNAL`].
    pub scope: u8,
    /// [`SERVICE_SLOT`] for the service entry, `1..` for backend slots.
    pub slot: u16,
    /// Always zero (keys are hashed byte for byte).
    pub pad: u16,
}

impl ServiceKey {
    /// The key of a frontend's slot, from an address and a host-order port.
    pub const fn new(addr: Ipv4Addr, port: u16, proto: u8, scope: u8, slot: u16) -> ServiceKey {
        ServiceKey {
            addr: net_addr(addr),
            port: net_port(port),
            proto,
            scope,
            slot,
            pad: 0,
        }
    }

    /// The same frontend and scope at another slot.
    pub const fn with_slot(self, slot: u16) -> ServiceKey {
        ServiceKey { slot, ..self }
    }

    /// The same frontend at another scope.
    pub const fn with_scope(self, scope: u8) -> ServiceKey {
        ServiceKey { scope, ..self }
    }

    /// The frontend address.
    pub const fn address(&self) -> Ipv4Addr {
        host_addr(self.addr)
    }

    /// The frontend port in host byte order.
    pub const fn host_port(&self) -> u16 {
        host_port(self.port)
    }
}

/// Value of [`names::LB4_SERVICES`]. Slot 0 describes the service; slots
/// `1..` carry only `backend_id` and `rev_nat`, every other field zero.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ServiceValue {
    /// Slots `1..`: the backend's id. Slot 0: [`NO_BACKEND`].
    pub backend_id: u32,
    /// Slot 0: slots `1..=count` take new connections.
    pub count: u16,
    /// Slot 0: slots `count+1..=count+terminating` only keep existing ones.
    pub terminating: u16,
    /// The frontend's index in [`names::LB4_REV_NAT`] (on every slot).
    pub rev_nat: u32,
    /// Slot 0: [`service_flags`] bits.
    pub flags: u16,
    /// Always zero.
    pub pad: u16,
    /// Slot 0 with [`service_flags::AFFINITY`]: affinity timeout in seconds.
    pub affinity_timeout: u32,
}

/// Key of [`names::LB4_BACKENDS`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BackendKey {
    /// Backend id, `1..=BACKENDS_MAX_ENTRIES`, stable while the backend exists.
    pub id: u32,
}

/// Value of [`names::LB4_BACKENDS`]: where a backend is.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct BackendValue {
    /// Endpoint address, network byte order.
    pub addr: u32,
    /// Endpoint port (the resolved target port), network byte order.
    pub port: u16,
    /// [`proto::TCP`] or [`proto::UDP`].
    pub proto: u8,
    /// [`backend_state`] value.
    pub state: u8,
    /// [`backend_flags`] bits.
    pub flags: u8,
    /// Always zero.
    pub pad: [u8; 3],
}

impl BackendValue {
    /// A backend from an address and a host-order port.
    pub const fn new(addr: Ipv4Addr, port: u16, proto: u8, state: u8, flags: u8) -> BackendValue {
        BackendValue {
            addr: net_addr(addr),
            port: net_port(port),
            proto,
            state,
            flags,
            pad: [0; 3],
        }
    }

    /// The endpoint address.
    pub const fn address(&self) -> Ipv4Addr {
        host_addr(self.addr)
    }

    /// The endpoint port in host byte order.
    pub const fn host_port(&self) -> u16 {
        host_port(self.port)
    }
}

/// Key of [`names::LB4_REV_NAT`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RevNatKey {
    /// Index `1..=REV_NAT_MAX_ENTRIES`, one per frontend (address, port,
    /// protocol), stable while the frontend exists.
    pub index: u32,
}

/// Value of [`names::LB4_REV_NAT`]: the frontend a reply must appear to
/// come from.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RevNatValue {
    /// Frontend address, network byte order; `0` for the NodePort wildcard,
    /// whose replies take the address the client used (kept in conntrack).
    pub addr: u32,
    /// Frontend port, network byte order.
    pub port: u16,
    /// Always zero.
    pub pad: u16,
}

impl RevNatValue {
    /// The reverse translation to an address and a host-order port.
    pub const fn new(addr: Ipv4Addr, port: u16) -> RevNatValue {
        RevNatValue {
            addr: net_addr(addr),
            port: net_port(port),
            pad: 0,
        }
    }
}

/// Key of [`names::LB4_MAGLEV`]: the service entry whose table it is.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MaglevKey {
    /// The service entry's `rev_nat` index.
    pub rev_nat: u32,
    /// The service entry's scope.
    pub scope: u8,
    /// Always zero.
    pub pad: [u8; 3],
}

impl MaglevKey {
    /// The table key of a frontend's entry in a scope.
    pub const fn new(rev_nat: u32, scope: u8) -> MaglevKey {
        MaglevKey {
            rev_nat,
            scope,
            pad: [0; 3],
        }
    }
}

/// The single value of a Maglev inner map: backend ids indexed by a flow
/// hash modulo [`MAGLEV_TABLE_SIZE`]. Every entry names an active backend
/// of the service entry it belongs to.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct MaglevTable {
    /// Backend ids; [`NO_BACKEND`] only in a table with no backends.
    pub backend_ids: [u32; MAGLEV_TABLE_SIZE],
}

impl MaglevTable {
    /// A table whose every entry is [`NO_BACKEND`].
    pub const EMPTY: MaglevTable = MaglevTable {
        backend_ids: [NO_BACKEND; MAGLEV_TABLE_SIZE],
    };
}

impl core::fmt::Debug for MaglevTable {
    // 16381 ids are useless in a log or an assertion message; the head is
    // enough to tell tables apart.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let head = self.backend_ids.get(..8).unwrap_or(&[]);
        f.debug_struct("MaglevTable")
            .field("len", &MAGLEV_TABLE_SIZE)
            .field("head", &head)
            .finish_non_exhaustive()
    }
}

/// Key of [`names::LB4_SOCK_REVNAT`]: a socket and the backend it was
/// sent to.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SockRevNatKey {
    /// The socket's cookie (`bpf_get_socket_cookie`).
    pub cookie: u64,
    /// Backend address, network byte order.
    pub addr: u32,
    /// Backend port, network byte order.
    pub port: u16,
    /// Always zero.
    pub pad: u16,
}

/// Value of [`names::LB4_SOCK_REVNAT`]: the frontend the application asked
/// for, which `recvmsg`/`getpeername` report instead of the backend.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SockRevNatValue {
    /// Frontend address, network byte order.
    pub addr: u32,
    /// Frontend port, network byte order.
    pub port: u16,
    /// Always zero.
    pub pad: u16,
    /// The frontend's reverse-NAT index.
    pub rev_nat: u32,
}

/// Key of [`names::LB4_AFFINITY`]: one client of one frontend. At the
/// socket the client is its network namespace (a pod), by cookie.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AffinityKey {
    /// The client's netns cookie (`bpf_get_netns_cookie`).
    pub client: u64,
    /// The frontend's reverse-NAT index.
    pub rev_nat: u32,
    /// Always zero.
    pub pad: u32,
}

/// Value of [`names::LB4_AFFINITY`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct AffinityValue {
    /// The backend chosen last.
    pub backend_id: u32,
    /// Always zero.
    pub pad: u32,
    /// When it was last used, seconds of `bpf_ktime_get_ns`.
    pub last_used: u64,
}

// SAFETY: SockRevNatKey, SockRevNatValue, AffinityKey and AffinityValue are
// #[repr(C)] and Copy, made of integers laid out without implicit padding
// (explicit `pad` fields fill the gaps; see the layout tests), so every bit
// pattern is a valid value.
#[cfg(feature = "user")]
unsafe impl aya::Pod for SockRevNatKey {}
#[cfg(feature = "user")]
unsafe impl aya::Pod for SockRevNatValue {}
#[cfg(feature = "user")]
unsafe impl aya::Pod for AffinityKey {}
#[cfg(feature = "user")]
unsafe impl aya::Pod for AffinityValue {}

// SAFETY: ServiceKey is #[repr(C)] and Copy; its fields (u32, u16, u8, u8,
// u16, u16) leave no padding (see the layout tests) and any bit pattern is a
// valid value.
#[cfg(feature = "user")]
unsafe impl aya::Pod for ServiceKey {}

// SAFETY: ServiceValue is #[repr(C)] and Copy; u32, u16 x 2, u32, u16 x 2, u32 leave no
// padding and any bit pattern is a valid value.
#[cfg(feature = "user")]
unsafe impl aya::Pod for ServiceValue {}

// SAFETY: BackendKey is #[repr(C)], Copy, a single u32.
#[cfg(feature = "user")]
unsafe impl aya::Pod for BackendKey {}

// SAFETY: BackendValue is #[repr(C)] and Copy; u32, u16, u8 x 3 and [u8; 3]
// fill 12 bytes with no padding and any bit pattern is a valid value.
#[cfg(feature = "user")]
unsafe impl aya::Pod for BackendValue {}

// SAFETY: RevNatKey is #[repr(C)], Copy, a single u32.
#[cfg(feature = "user")]
unsafe impl aya::Pod for RevNatKey {}

// SAFETY: RevNatValue is #[repr(C)] and Copy; u32, u16, u16 leave no padding
// and any bit pattern is a valid value.
#[cfg(feature = "user")]
unsafe impl aya::Pod for RevNatValue {}

// SAFETY: MaglevKey is #[repr(C)] and Copy; u32, u8, [u8; 3] leave no padding and
// any bit pattern is a valid value.
#[cfg(feature = "user")]
unsafe impl aya::Pod for MaglevKey {}

// SAFETY: MaglevTable is #[repr(C)] and Copy, an array of u32 with no
// padding; any bit pattern is a valid value.
#[cfg(feature = "user")]
unsafe impl aya::Pod for MaglevTable {}

#[cfg(test)]
mod tests {
    use core::mem::{align_of, offset_of, size_of};

    use super::*;

    // The kernel programs and the agent must agree byte for byte; these pin
    // every offset so a layout change is a deliberate one.
    #[test]
    fn service_key_layout() {
        assert_eq!(size_of::<ServiceKey>(), 12);
        assert_eq!(align_of::<ServiceKey>(), 4);
        assert_eq!(offset_of!(ServiceKey, addr), 0);
        assert_eq!(offset_of!(ServiceKey, port), 4);
        assert_eq!(offset_of!(ServiceKey, proto), 6);
        assert_eq!(offset_of!(ServiceKey, scope), 7);
        assert_eq!(offset_of!(ServiceKey, slot), 8);
        assert_eq!(offset_of!(ServiceKey, pad), 10);
    }

    #[test]
    fn service_value_layout() {
        assert_eq!(size_of::<ServiceValue>(), 20);
        assert_eq!(align_of::<ServiceValue>(), 4);
        assert_eq!(offset_of!(ServiceValue, backend_id), 0);
        assert_eq!(offset_of!(ServiceValue, count), 4);
        assert_eq!(offset_of!(ServiceValue, terminating), 6);
        assert_eq!(offset_of!(ServiceValue, rev_nat), 8);
        assert_eq!(offset_of!(ServiceValue, flags), 12);
        assert_eq!(offset_of!(ServiceValue, pad), 14);
        assert_eq!(offset_of!(ServiceValue, affinity_timeout), 16);
    }

    #[test]
    fn backend_layout() {
        assert_eq!(size_of::<BackendKey>(), 4);
        assert_eq!(size_of::<BackendValue>(), 12);
        assert_eq!(align_of::<BackendValue>(), 4);
        assert_eq!(offset_of!(BackendValue, addr), 0);
        assert_eq!(offset_of!(BackendValue, port), 4);
        assert_eq!(offset_of!(BackendValue, proto), 6);
        assert_eq!(offset_of!(BackendValue, state), 7);
        assert_eq!(offset_of!(BackendValue, flags), 8);
        assert_eq!(offset_of!(BackendValue, pad), 9);
    }

    #[test]
    fn socket_map_layouts() {
        assert_eq!(size_of::<SockRevNatKey>(), 16);
        assert_eq!(offset_of!(SockRevNatKey, addr), 8);
        assert_eq!(offset_of!(SockRevNatKey, pad), 14);
        assert_eq!(size_of::<SockRevNatValue>(), 12);
        assert_eq!(offset_of!(SockRevNatValue, rev_nat), 8);
        assert_eq!(size_of::<AffinityKey>(), 16);
        assert_eq!(offset_of!(AffinityKey, rev_nat), 8);
        assert_eq!(size_of::<AffinityValue>(), 16);
        assert_eq!(offset_of!(AffinityValue, last_used), 8);
    }

    #[test]
    fn rev_nat_and_maglev_layout() {
        assert_eq!(size_of::<RevNatKey>(), 4);
        assert_eq!(size_of::<RevNatValue>(), 8);
        assert_eq!(offset_of!(RevNatValue, port), 4);
        assert_eq!(offset_of!(RevNatValue, pad), 6);
        assert_eq!(size_of::<MaglevKey>(), 8);
        assert_eq!(offset_of!(MaglevKey, scope), 4);
        assert_eq!(size_of::<MaglevTable>(), 4 * MAGLEV_TABLE_SIZE);
    }

    #[test]
    fn addresses_and_ports_are_stored_in_wire_order() {
        let key = ServiceKey::new(
            Ipv4Addr::new(10, 96, 0, 1),
            53,
            proto::UDP,
            scope::EXTERNAL,
            0,
        );
        assert_eq!(key.addr.to_ne_bytes(), [10, 96, 0, 1]);
        assert_eq!(key.port.to_ne_bytes(), [0, 53]);
        assert_eq!(key.address(), Ipv4Addr::new(10, 96, 0, 1));
        assert_eq!(key.host_port(), 53);
        let backend = BackendValue::new(Ipv4Addr::new(10, 244, 1, 7), 8080, proto::TCP, 0, 0);
        assert_eq!(backend.addr.to_ne_bytes(), [10, 244, 1, 7]);
        assert_eq!(backend.port.to_ne_bytes(), 8080u16.to_be_bytes());
        assert_eq!(backend.host_port(), 8080);
        let rev = RevNatValue::new(Ipv4Addr::new(192, 0, 2, 1), 30080);
        assert_eq!(rev.addr.to_ne_bytes(), [192, 0, 2, 1]);
        assert_eq!(host_port(rev.port), 30080);
    }

    #[test]
    fn map_names_fit_the_kernel_limit() {
        for name in [
            names::LB4_SERVICES,
            names::LB4_BACKENDS,
            names::LB4_REV_NAT,
            names::LB4_MAGLEV,
            names::LB4_SOCK_REVNAT,
            names::LB4_AFFINITY,
            names::LB4_SOCK_COUNT,
        ] {
            assert!(name.len() <= 15, "{name}");
        }
    }

    #[test]
    fn flags_are_distinct_bits() {
        let all = [
            service_flags::CLUSTER_IP,
            service_flags::NODE_PORT,
            service_flags::EXTERNAL_IP,
            service_flags::LOAD_BALANCER,
            service_flags::EXT_LOCAL,
            service_flags::INT_LOCAL,
            service_flags::TWO_SCOPES,
            service_flags::AFFINITY,
            service_flags::MAGLEV,
            service_flags::TERMINATING_FALLBACK,
            service_flags::ENDPOINTS_ELSEWHERE,
        ];
        let mut seen = 0u16;
        for flag in all {
            assert_eq!(flag.count_ones(), 1);
            assert_eq!(seen & flag, 0);
            seen |= flag;
        }
    }

    #[test]
    fn maglev_table_is_prime_sized() {
        let m = MAGLEV_TABLE_SIZE;
        assert!(
            (2..m)
                .take_while(|d| d * d <= m)
                .all(|d| !m.is_multiple_of(d))
        );
    }
}
