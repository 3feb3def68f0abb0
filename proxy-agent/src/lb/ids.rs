//! Backend ids and reverse-NAT indexes: which (address, port, protocol) has
//! which number, kept stable from one desired state to the next.
//!
//! Holds the allocation rule and its recovery from maps read back on
//! restart; must not decide what is referenced (that is `desired`'s job).

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt,
    net::Ipv4Addr,
};

use strait_proxy_maps::lb::{
    BackendKey, BackendValue, NO_BACKEND, NO_REV_NAT, SERVICE_SLOT, ServiceKey, ServiceValue,
    host_addr, host_port, proto,
};

/// The transport protocols the load balancer serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl Protocol {
    /// The IP protocol number stored in the maps.
    pub const fn number(self) -> u8 {
        match self {
            Protocol::Tcp => proto::TCP,
            Protocol::Udp => proto::UDP,
        }
    }

    /// The protocol with this IP protocol number, if served.
    pub const fn from_number(number: u8) -> Option<Protocol> {
        match number {
            proto::TCP => Some(Protocol::Tcp),
            proto::UDP => Some(Protocol::Udp),
            _ => None,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
        })
    }
}

/// An (address, port, protocol) triple: a backend's or a frontend's identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct L4Addr {
    /// The address.
    pub addr: Ipv4Addr,
    /// The port, host byte order.
    pub port: u16,
    /// The protocol.
    pub protocol: Protocol,
}

impl L4Addr {
    /// The triple of `addr:port/protocol`.
    pub const fn new(addr: Ipv4Addr, port: u16, protocol: Protocol) -> L4Addr {
        L4Addr {
            addr,
            port,
            protocol,
        }
    }
}

impl fmt::Display for L4Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}/{}", self.addr, self.port, self.protocol)
    }
}

/// The numbers handed out so far: pass the previous one to
/// [`super::desired`] so that an update keeps every surviving backend's id
/// and every surviving frontend's reverse-NAT index.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Allocation {
    /// Backend id (`1..=BACKENDS_MAX_ENTRIES`) of each referenced backend.
    pub backends: BTreeMap<L4Addr, u32>,
    /// Reverse-NAT index (`1..=REV_NAT_MAX_ENTRIES`) of each frontend.
    pub rev_nat: BTreeMap<L4Addr, u32>,
}

impl Allocation {
    /// The allocation that maps read back from bpffs were written with, so a
    /// restarted agent renumbers nothing: backend ids from the backends map,
    /// reverse-NAT indexes from the service entries (slot 0) that use them.
    /// Entries with an unknown protocol or a reserved number are skipped.
    pub fn recover(
        services: &BTreeMap<ServiceKey, ServiceValue>,
        backends: &BTreeMap<BackendKey, BackendValue>,
    ) -> Allocation {
        let backends = backends
            .iter()
            .filter(|(key, _)| key.id != NO_BACKEND)
            .filter_map(|(key, value)| {
                let protocol = Protocol::from_number(value.proto)?;
                let addr = L4Addr::new(host_addr(value.addr), host_port(value.port), protocol);
                Some((addr, key.id))
            })
            .collect();
        let rev_nat = services
            .iter()
            .filter(|(key, value)| key.slot == SERVICE_SLOT && value.rev_nat != NO_REV_NAT)
            .filter_map(|(key, value)| {
                let protocol = Protocol::from_number(key.proto)?;
                let addr = L4Addr::new(key.address(), key.host_port(), protocol);
                Some((addr, value.rev_nat))
            })
            .collect();
        Allocation { backends, rev_nat }
    }
}

/// Numbers that can be handed out from 1 up to a limit.
pub(crate) trait Id: Copy + Ord {
    /// The first number handed out.
    const FIRST: Self;
    /// The number after this one, or `None` past the type's range.
    fn next(self) -> Option<Self>;
}

impl Id for u32 {
    const FIRST: u32 = 1;
    fn next(self) -> Option<u32> {
        self.checked_add(1)
    }
}

/// Gives every key in `wanted` a number: its previous one if it had one,
/// otherwise the lowest number up to `max` that `previous` does not hold.
/// Numbers freed now are never handed out in the same call: the entries that
/// still use them are deleted only at the end of the plan that goes from the
/// previous state to this one, so a reused number would briefly point old
/// references at a new target. Returns the new allocation and the keys that
/// found no free number, in order.
pub(crate) fn allocate<K: Ord + Clone, V: Id>(
    previous: &BTreeMap<K, V>,
    wanted: &BTreeSet<K>,
    max: V,
) -> (BTreeMap<K, V>, Vec<K>) {
    let held: BTreeSet<V> = previous.values().copied().collect();
    let mut out = BTreeMap::new();
    let mut fresh = Vec::new();
    for key in wanted {
        match previous.get(key) {
            Some(&id) => {
                out.insert(key.clone(), id);
            }
            None => fresh.push(key.clone()),
        }
    }
    let mut exhausted = Vec::new();
    let mut candidate = Some(V::FIRST);
    for key in fresh {
        while let Some(id) = candidate.filter(|id| held.contains(id)) {
            candidate = id.next();
        }
        match candidate.filter(|id| *id <= max) {
            Some(id) => {
                out.insert(key, id);
                candidate = id.next();
            }
            None => exhausted.push(key),
        }
    }
    (out, exhausted)
}

#[cfg(test)]
mod tests {
    use strait_proxy_maps::lb::{backend_state, scope};

    use super::*;

    fn set(keys: &[&'static str]) -> BTreeSet<&'static str> {
        keys.iter().copied().collect()
    }

    #[test]
    fn keeps_previous_numbers_and_fills_the_lowest_gaps() {
        let previous = BTreeMap::from([("a", 1u32), ("c", 3), ("d", 4)]);
        let (next, exhausted) = allocate(&previous, &set(&["a", "b", "d", "e", "f"]), 100);
        assert!(exhausted.is_empty());
        // c's 3 is freed but not reused in the same call.
        assert_eq!(
            next,
            BTreeMap::from([("a", 1), ("b", 2), ("d", 4), ("e", 5), ("f", 6)])
        );
        // One call later, 3 is free again.
        let (later, _) = allocate(&next, &set(&["a", "g"]), 100);
        assert_eq!(later, BTreeMap::from([("a", 1), ("g", 3)]));
    }

    #[test]
    fn reports_keys_past_the_limit() {
        let (next, exhausted) = allocate(&BTreeMap::new(), &set(&["a", "b", "c"]), 2u32);
        assert_eq!(next, BTreeMap::from([("a", 1), ("b", 2)]));
        assert_eq!(exhausted, vec!["c"]);
        let full = BTreeMap::from([("x", u32::MAX)]);
        let (next, exhausted) = allocate(&full, &set(&["x", "y"]), u32::MAX);
        assert_eq!(next, BTreeMap::from([("x", u32::MAX), ("y", 1)]));
        assert!(exhausted.is_empty());
    }

    #[test]
    fn recovers_the_allocation_from_maps() {
        let frontend = ServiceKey::new(Ipv4Addr::new(10, 96, 0, 10), 53, proto::UDP, 0, 0);
        let services = BTreeMap::from([
            (
                frontend,
                ServiceValue {
                    count: 1,
                    rev_nat: 7,
                    ..ServiceValue::default()
                },
            ),
            (
                frontend.with_scope(scope::INTERNAL),
                ServiceValue {
                    count: 1,
                    rev_nat: 7,
                    ..ServiceValue::default()
                },
            ),
            (
                frontend.with_slot(1),
                ServiceValue {
                    backend_id: 3,
                    rev_nat: 7,
                    ..ServiceValue::default()
                },
            ),
        ]);
        let backends = BTreeMap::from([(
            BackendKey { id: 3 },
            BackendValue::new(
                Ipv4Addr::new(10, 244, 0, 5),
                53,
                proto::UDP,
                backend_state::ACTIVE,
                0,
            ),
        )]);
        let recovered = Allocation::recover(&services, &backends);
        let dns = L4Addr::new(Ipv4Addr::new(10, 96, 0, 10), 53, Protocol::Udp);
        let pod = L4Addr::new(Ipv4Addr::new(10, 244, 0, 5), 53, Protocol::Udp);
        assert_eq!(recovered.rev_nat, BTreeMap::from([(dns, 7)]));
        assert_eq!(recovered.backends, BTreeMap::from([(pod, 3)]));
    }
}
