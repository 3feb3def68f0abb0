//! Node pod CIDR allocation: one cluster CIDR (`--cluster-cidr`) carved into
//! equal node CIDRs (`--node-cidr-mask-size`), as kube-controller-manager's
//! node IPAM does.
//!
//! Holds which node CIDRs are taken; it must not decide which Nodes get one,
//! nor pair IPv4 with IPv6 for dual-stack Nodes (one allocator per family):
//! callers do. Node CIDRs have no reserved members and no static band: dynamic
//! allocation takes the next free one after the last it handed out, wrapping.

use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::{AllocError, Bitmap, Conflict, RangeError, Slots};

/// Most bits the node mask may add to the cluster mask: 2^16 node CIDRs, the
/// limit kube-controller-manager's CIDR set applies.
const MAX_SUBNET_BITS: u8 = 16;

/// Allocates node pod CIDRs from one cluster CIDR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodCidrAllocator {
    range: IpNet,
    node_prefix_len: u8,
    bitmap: Bitmap,
}

impl PodCidrAllocator {
    /// An empty allocator carving `range` (host bits are ignored) into
    /// `/node_prefix_len` node CIDRs.
    pub fn new(range: IpNet, node_prefix_len: u8) -> Result<Self, RangeError> {
        let range = range.trunc();
        if node_prefix_len < range.prefix_len() || node_prefix_len > range.max_prefix_len() {
            return Err(RangeError::InvalidNodeCidrSize {
                cidr: range,
                node_prefix_len,
            });
        }
        let subnet_bits = node_prefix_len - range.prefix_len();
        if subnet_bits > MAX_SUBNET_BITS {
            return Err(RangeError::NodeCidrSizeTooBig {
                cidr: range,
                node_prefix_len,
            });
        }
        Ok(Self {
            range,
            node_prefix_len,
            bitmap: Bitmap::new(1 << subnet_bits, 0, Vec::new()),
        })
    }

    /// An allocator over `range` holding every `(owner, cidr)` claim from the
    /// store, plus the claims it refused (duplicates, CIDRs outside the range or
    /// not of the node size).
    ///
    /// The first claim of a CIDR wins; a repeated claim by the same owner is
    /// ignored, so `K` must identify the Node.
    pub fn from_allocated<K: Clone + Eq>(
        range: IpNet,
        node_prefix_len: u8,
        claims: impl IntoIterator<Item = (K, IpNet)>,
    ) -> Result<(Self, Vec<Conflict<K, IpNet>>), RangeError> {
        let mut allocator = Self::new(range, node_prefix_len)?;
        let conflicts = allocator.rebuild(claims);
        Ok((allocator, conflicts))
    }

    /// The cluster CIDR, without host bits.
    pub fn range(&self) -> IpNet {
        self.range
    }

    /// The prefix length of every node CIDR.
    pub fn node_prefix_len(&self) -> u8 {
        self.node_prefix_len
    }

    /// Takes the next free node CIDR.
    pub fn allocate_next(&mut self) -> Result<IpNet, AllocError> {
        self.bitmap
            .take_next()
            .and_then(|index| self.cidr_at(index))
            .ok_or(AllocError::CidrRangeFull { range: self.range })
    }

    /// Takes `cidr` for a Node that already has it.
    pub fn allocate(&mut self, cidr: IpNet) -> Result<(), AllocError> {
        self.claim(cidr)
    }

    /// Frees `cidr`; freeing a free CIDR or one that is not a node CIDR of
    /// this range does nothing.
    pub fn release(&mut self, cidr: IpNet) {
        self.unclaim(cidr);
    }

    /// Whether `cidr` is one of this range's node CIDRs.
    pub fn contains(&self, cidr: IpNet) -> bool {
        self.offset_of(cidr).is_ok()
    }

    /// Whether `cidr` is currently taken.
    pub fn is_allocated(&self, cidr: IpNet) -> bool {
        self.claimed(cidr)
    }

    /// Number of node CIDRs taken.
    pub fn used(&self) -> usize {
        self.bitmap.used() as usize
    }

    /// Number of node CIDRs in the range.
    pub fn capacity(&self) -> usize {
        self.bitmap.len() as usize
    }

    /// Every taken node CIDR, in ascending order.
    pub fn allocated(&self) -> impl Iterator<Item = IpNet> + '_ {
        self.bitmap.iter().filter_map(|index| self.cidr_at(index))
    }

    /// Host bits of a node CIDR: the shift between an index and its address.
    fn node_host_bits(&self) -> u32 {
        u32::from(self.range.max_prefix_len() - self.node_prefix_len)
    }

    /// The node CIDR at `index`; `None` only for an index the bitmap never holds.
    fn cidr_at(&self, index: u32) -> Option<IpNet> {
        let step = u128::from(index)
            .checked_shl(self.node_host_bits())
            .unwrap_or(0);
        match self.range {
            IpNet::V4(range) => {
                let start = u32::from(range.network()).checked_add(u32::try_from(step).ok()?)?;
                Ipv4Net::new(Ipv4Addr::from(start), self.node_prefix_len)
                    .ok()
                    .map(IpNet::V4)
            }
            IpNet::V6(range) => {
                let start = u128::from(range.network()).checked_add(step)?;
                Ipv6Net::new(Ipv6Addr::from(start), self.node_prefix_len)
                    .ok()
                    .map(IpNet::V6)
            }
        }
    }
}

impl Slots for PodCidrAllocator {
    type Value = IpNet;

    fn bitmap(&self) -> &Bitmap {
        &self.bitmap
    }

    fn bitmap_mut(&mut self) -> &mut Bitmap {
        &mut self.bitmap
    }

    fn offset_of(&self, cidr: IpNet) -> Result<u32, AllocError> {
        let not_in_range = || AllocError::CidrNotInRange {
            cidr,
            range: self.range,
        };
        let (start, range_start) = match (cidr, self.range) {
            (IpNet::V4(cidr), IpNet::V4(range)) => (
                u128::from(u32::from(cidr.addr())),
                u128::from(u32::from(range.network())),
            ),
            (IpNet::V6(cidr), IpNet::V6(range)) => {
                (u128::from(cidr.addr()), u128::from(range.network()))
            }
            _ => return Err(not_in_range()),
        };
        // Inside the cluster CIDR means: no shorter prefix, and the same
        // leading `range.prefix_len()` bits.
        let range_host_bits = u32::from(self.range.max_prefix_len() - self.range.prefix_len());
        let same_network = start.checked_shr(range_host_bits).unwrap_or(0)
            == range_start.checked_shr(range_host_bits).unwrap_or(0);
        if cidr.prefix_len() < self.range.prefix_len() || !same_network {
            return Err(not_in_range());
        }
        if cidr.prefix_len() != self.node_prefix_len || cidr.addr() != cidr.network() {
            return Err(AllocError::CidrNotNodeSized {
                cidr,
                range: self.range,
                node_prefix_len: self.node_prefix_len,
            });
        }
        let index = start
            .checked_sub(range_start)
            .ok_or_else(not_in_range)?
            .checked_shr(self.node_host_bits())
            .unwrap_or(0);
        u32::try_from(index)
            .ok()
            .filter(|&index| index < self.bitmap.len())
            .ok_or_else(not_in_range)
    }

    fn taken(cidr: IpNet) -> AllocError {
        AllocError::CidrAllocated { cidr }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use proptest::prelude::*;

    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().expect("test CIDR")
    }

    fn alloc(s: &str, node: u8) -> PodCidrAllocator {
        PodCidrAllocator::new(net(s), node).expect("valid range")
    }

    #[test]
    fn new_sizes() {
        // (cluster, node prefix, capacity, first two dynamic, last)
        let cases = [
            (
                "10.244.0.0/16",
                24,
                256,
                "10.244.0.0/24",
                "10.244.1.0/24",
                "10.244.255.0/24",
            ),
            (
                "10.244.7.9/16",
                24,
                256,
                "10.244.0.0/24",
                "10.244.1.0/24",
                "10.244.255.0/24",
            ),
            (
                "10.0.0.0/8",
                24,
                65536,
                "10.0.0.0/24",
                "10.0.1.0/24",
                "10.255.255.0/24",
            ),
            ("10.0.0.0/24", 24, 1, "10.0.0.0/24", "", "10.0.0.0/24"),
            (
                "10.0.0.0/30",
                32,
                4,
                "10.0.0.0/32",
                "10.0.0.1/32",
                "10.0.0.3/32",
            ),
            (
                "fd00:10:244::/48",
                64,
                65536,
                "fd00:10:244::/64",
                "fd00:10:244:1::/64",
                "fd00:10:244:ffff::/64",
            ),
            (
                "fd00::/56",
                64,
                256,
                "fd00::/64",
                "fd00:0:0:1::/64",
                "fd00:0:0:ff::/64",
            ),
            (
                "fd00::/120",
                128,
                256,
                "fd00::/128",
                "fd00::1/128",
                "fd00::ff/128",
            ),
            ("0.0.0.0/0", 0, 1, "0.0.0.0/0", "", "0.0.0.0/0"),
            ("::/0", 0, 1, "::/0", "", "::/0"),
        ];
        for (cluster, node, capacity, first, second, last) in cases {
            let mut a = alloc(cluster, node);
            assert_eq!(a.capacity(), capacity, "{cluster}");
            assert!(a.contains(net(last)), "{cluster}: {last}");
            assert_eq!(a.allocate_next(), Ok(net(first)), "{cluster}");
            if second.is_empty() {
                assert!(a.allocate_next().expect_err(cluster).is_full(), "{cluster}");
            } else {
                assert_eq!(a.allocate_next(), Ok(net(second)), "{cluster}");
            }
        }
    }

    #[test]
    fn new_rejects_bad_sizes() {
        let cases = [
            (
                "10.244.0.0/16",
                15,
                "invalid node CIDR mask size /15 for cluster CIDR 10.244.0.0/16: it must be between /16 and /32",
            ),
            (
                "10.244.0.0/16",
                33,
                "invalid node CIDR mask size /33 for cluster CIDR 10.244.0.0/16: it must be between /16 and /32",
            ),
            (
                "fd00::/48",
                129,
                "invalid node CIDR mask size /129 for cluster CIDR fd00::/48: it must be between /48 and /128",
            ),
            (
                "10.0.0.0/8",
                25,
                "node CIDR mask size /25 is too big for cluster CIDR 10.0.0.0/8: at most 65536 node CIDRs are supported, so the mask must be <= /24",
            ),
            (
                "fd00::/48",
                80,
                "node CIDR mask size /80 is too big for cluster CIDR fd00::/48: at most 65536 node CIDRs are supported, so the mask must be <= /64",
            ),
        ];
        for (cluster, node, want) in cases {
            let err = PodCidrAllocator::new(net(cluster), node).expect_err(cluster);
            assert_eq!(err.to_string(), want, "{cluster} /{node}");
        }
    }

    #[test]
    fn explicit_requests() {
        struct Case {
            name: &'static str,
            preset: &'static [&'static str],
            request: &'static str,
            want: Result<(), &'static str>,
        }
        let cases = [
            Case {
                name: "first",
                preset: &[],
                request: "10.244.0.0/24",
                want: Ok(()),
            },
            Case {
                name: "last",
                preset: &[],
                request: "10.244.255.0/24",
                want: Ok(()),
            },
            Case {
                name: "taken",
                preset: &["10.244.3.0/24"],
                request: "10.244.3.0/24",
                want: Err("provided CIDR is already allocated"),
            },
            Case {
                name: "outside",
                preset: &[],
                request: "10.245.0.0/24",
                want: Err("cidr 10.245.0.0/24 is out the range of cluster cidr 10.244.0.0/16"),
            },
            Case {
                name: "just below",
                preset: &[],
                request: "10.243.255.0/24",
                want: Err("cidr 10.243.255.0/24 is out the range of cluster cidr 10.244.0.0/16"),
            },
            Case {
                name: "larger than the cluster",
                preset: &[],
                request: "10.0.0.0/8",
                want: Err("cidr 10.0.0.0/8 is out the range of cluster cidr 10.244.0.0/16"),
            },
            Case {
                name: "supernet sharing the cluster's leading bits",
                preset: &[],
                request: "10.244.0.0/15",
                want: Err("cidr 10.244.0.0/15 is out the range of cluster cidr 10.244.0.0/16"),
            },
            Case {
                name: "other family",
                preset: &[],
                request: "fd00::/24",
                want: Err("cidr fd00::/24 is out the range of cluster cidr 10.244.0.0/16"),
            },
            Case {
                name: "too small",
                preset: &[],
                request: "10.244.1.0/25",
                want: Err(
                    "cidr 10.244.1.0/25 is not a node CIDR of cluster cidr 10.244.0.0/16: it must be a /24 with no host bits set",
                ),
            },
            Case {
                name: "too large",
                preset: &[],
                request: "10.244.0.0/23",
                want: Err(
                    "cidr 10.244.0.0/23 is not a node CIDR of cluster cidr 10.244.0.0/16: it must be a /24 with no host bits set",
                ),
            },
            Case {
                name: "misaligned",
                preset: &[],
                request: "10.244.1.128/24",
                want: Err(
                    "cidr 10.244.1.128/24 is not a node CIDR of cluster cidr 10.244.0.0/16: it must be a /24 with no host bits set",
                ),
            },
        ];
        for Case {
            name,
            preset,
            request,
            want,
        } in cases
        {
            let mut a = alloc("10.244.0.0/16", 24);
            for cidr in preset {
                a.allocate(net(cidr)).expect(name);
            }
            let before = a.used();
            let got = a.allocate(net(request)).map_err(|e| e.to_string());
            assert_eq!(
                got.as_ref().map_err(String::as_str).copied(),
                want,
                "{name}"
            );
            assert_eq!(a.used(), before + usize::from(want.is_ok()), "{name}");
            let node_cidr = want.is_ok() || want == Err("provided CIDR is already allocated");
            assert_eq!(a.contains(net(request)), node_cidr, "{name}");
        }
    }

    #[test]
    fn ipv6_explicit_and_errors_carry_values() {
        let mut a = alloc("fd00:10:244::/48", 64);
        a.allocate(net("fd00:10:244:abcd::/64")).expect("free");
        assert_eq!(
            a.allocate(net("fd00:10:244:abcd::/64")),
            Err(AllocError::CidrAllocated {
                cidr: net("fd00:10:244:abcd::/64")
            })
        );
        assert_eq!(
            a.allocate(net("fd00:10:245::/64")),
            Err(AllocError::CidrNotInRange {
                cidr: net("fd00:10:245::/64"),
                range: net("fd00:10:244::/48")
            })
        );
        assert_eq!(
            a.allocate(net("fd00:10:244:1::1/64")),
            Err(AllocError::CidrNotNodeSized {
                cidr: net("fd00:10:244:1::1/64"),
                range: net("fd00:10:244::/48"),
                node_prefix_len: 64
            })
        );
        assert!(a.is_allocated(net("fd00:10:244:abcd::/64")));
        assert_eq!(a.used(), 1);
    }

    #[test]
    fn fill_release_reuse_wrap() {
        let mut a = alloc("10.0.0.0/22", 24);
        let got: Vec<IpNet> = std::iter::from_fn(|| a.allocate_next().ok()).collect();
        assert_eq!(
            got,
            ["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24", "10.0.3.0/24"].map(net)
        );
        let err = a.allocate_next().expect_err("full");
        assert_eq!(
            err.to_string(),
            "CIDR allocation failed; there are no remaining CIDRs left to allocate in the accepted range"
        );
        assert!(err.is_full());
        a.release(net("10.0.1.0/24"));
        a.release(net("10.0.1.0/24"));
        a.release(net("10.0.1.5/24"));
        a.release(net("192.168.0.0/24"));
        assert_eq!(a.used(), 3);
        assert_eq!(a.allocate_next(), Ok(net("10.0.1.0/24")));
        a.release(net("10.0.0.0/24"));
        a.release(net("10.0.3.0/24"));
        // Cursor sits at index 1: the next is 3, then wrap to 0.
        assert_eq!(a.allocate_next(), Ok(net("10.0.3.0/24")));
        assert_eq!(a.allocate_next(), Ok(net("10.0.0.0/24")));
    }

    #[test]
    fn from_allocated_reports_conflicts() {
        let claims = vec![
            ("node-a", net("10.244.0.0/24")),
            ("node-b", net("10.244.0.0/24")),
            ("node-c", net("10.244.1.0/25")),
            ("node-d", net("10.9.0.0/24")),
            ("node-e", net("10.244.2.0/24")),
        ];
        let (mut a, conflicts) =
            PodCidrAllocator::from_allocated(net("10.244.0.0/16"), 24, claims).expect("valid");
        let summary: Vec<(&str, Option<&str>, IpNet)> = conflicts
            .iter()
            .map(|c| (c.claimant, c.holder, c.value))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("node-b", Some("node-a"), net("10.244.0.0/24")),
                ("node-c", None, net("10.244.1.0/25")),
                ("node-d", None, net("10.9.0.0/24")),
            ]
        );
        assert!(matches!(
            conflicts.get(1).map(|c| &c.error),
            Some(AllocError::CidrNotNodeSized { .. })
        ));
        assert_eq!(a.used(), 2);
        assert_eq!(
            a.allocated().collect::<Vec<_>>(),
            vec![net("10.244.0.0/24"), net("10.244.2.0/24")]
        );
        assert_eq!(a.allocate_next(), Ok(net("10.244.1.0/24")));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Next,
        Allocate(u32),
        Release(u32),
    }

    /// The n-th /28 from 10.0.0.0, spanning just past the cluster /24.
    fn nth(n: u32) -> IpNet {
        IpNet::V4(Ipv4Net::new(Ipv4Addr::from(0x0a00_0000 + (n << 4)), 28).expect("valid /28"))
    }

    proptest! {
        #[test]
        fn model(ops in proptest::collection::vec(prop_oneof![
            3 => Just(Op::Next),
            1 => (0u32..20).prop_map(Op::Allocate),
            2 => (0u32..20).prop_map(Op::Release),
        ], 0..300)) {
            let mut a = alloc("10.0.0.0/24", 28);
            let mut live: HashSet<IpNet> = HashSet::new();
            for op in ops {
                match op {
                    Op::Next => match a.allocate_next() {
                        Ok(cidr) => {
                            prop_assert!(a.contains(cidr));
                            prop_assert!(live.insert(cidr), "handed out live {cidr}");
                        }
                        Err(e) => {
                            prop_assert!(e.is_full());
                            prop_assert_eq!(live.len(), a.capacity());
                        }
                    },
                    Op::Allocate(n) => match a.allocate(nth(n)) {
                        Ok(()) => prop_assert!(live.insert(nth(n))),
                        Err(AllocError::CidrAllocated { .. }) => prop_assert!(live.contains(&nth(n))),
                        Err(AllocError::CidrNotInRange { .. }) => prop_assert!(n >= 16),
                        Err(other) => prop_assert!(false, "unexpected {other}"),
                    },
                    Op::Release(n) => {
                        a.release(nth(n));
                        live.remove(&nth(n));
                    }
                }
                prop_assert_eq!(a.used(), live.len());
            }
            let mut want: Vec<IpNet> = live.into_iter().collect();
            want.sort();
            prop_assert_eq!(a.allocated().collect::<Vec<_>>(), want);
        }

        #[test]
        fn rebuild_counts_distinct(claims in proptest::collection::vec((0u8..5, 0u32..20), 0..50)) {
            let claims: Vec<(u8, IpNet)> = claims.into_iter().map(|(o, n)| (o, nth(n))).collect();
            let (a, conflicts) = PodCidrAllocator::from_allocated(net("10.0.0.0/24"), 28, claims.clone())
                .expect("valid");
            let mut holders: HashMap<IpNet, u8> = HashMap::new();
            let mut want_conflicts = 0;
            for (owner, cidr) in &claims {
                if !a.contains(*cidr) {
                    want_conflicts += 1;
                    continue;
                }
                match holders.get(cidr) {
                    Some(holder) if holder == owner => {}
                    Some(_) => want_conflicts += 1,
                    None => {
                        holders.insert(*cidr, *owner);
                    }
                }
            }
            prop_assert_eq!(a.used(), holders.len());
            prop_assert_eq!(conflicts.len(), want_conflicts);
        }
    }
}
