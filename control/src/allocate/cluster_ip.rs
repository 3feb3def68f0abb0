//! Service cluster IP allocation over one service CIDR (`--service-cluster-ip-range`).
//!
//! Holds which addresses of the CIDR are taken; it must not decide which
//! Services get an IP (headless, ExternalName, dual-stack policy): callers do.
//!
//! Layout, as in kube-apiserver: the network address is never allocatable, nor
//! is the broadcast address of an IPv4 CIDR. The first usable address is the
//! `kubernetes` Service's and the tenth address is the cluster DNS Service's;
//! dynamic allocation never hands either out, but an explicit request for them
//! succeeds while they are free. Dynamic allocation prefers addresses above
//! the static band of `min(max(16, size/16), 256)` addresses (KEP-3070,
//! `ServiceIPStaticSubrange`, GA in 1.26) and falls back to the band when the
//! upper part is full.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use super::{AllocError, Bitmap, Conflict, RangeError, Slots};

/// Most host bits a service CIDR may have (kube-apiserver's `maxCIDRBits`).
const MAX_HOST_BITS: u8 = 20;
/// Fewest host bits that leave room for the tenth address.
const MIN_HOST_BITS: u8 = 4;
/// Offset of the `kubernetes` Service IP (the first usable address).
const KUBERNETES_OFFSET: u32 = 0;
/// Offset of the cluster DNS IP: the tenth address is network + 10, and
/// offset 0 is network + 1.
const DNS_OFFSET: u32 = 9;
/// Static band bounds, `min(max(MIN, size / STEP), MAX)`, from KEP-3070.
const STATIC_BAND_MIN: u32 = 16;
const STATIC_BAND_MAX: u32 = 256;
const STATIC_BAND_STEP: u32 = 16;

/// The first usable address of the CIDR, as an integer of its family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Base {
    V4(u32),
    V6(u128),
}

/// Allocates Service cluster IPs from one service CIDR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterIpAllocator {
    range: IpNet,
    base: Base,
    bitmap: Bitmap,
}

impl ClusterIpAllocator {
    /// An empty allocator over `range` (host bits are ignored).
    pub fn new(range: IpNet) -> Result<Self, RangeError> {
        let range = range.trunc();
        let bits = range.max_prefix_len();
        let host_bits = bits - range.prefix_len();
        if host_bits > MAX_HOST_BITS {
            return Err(RangeError::ServiceCidrTooLarge {
                cidr: range,
                bits,
                min_prefix_len: bits - MAX_HOST_BITS,
            });
        }
        if host_bits < MIN_HOST_BITS {
            return Err(RangeError::ServiceCidrTooSmall {
                cidr: range,
                max_prefix_len: bits - MIN_HOST_BITS,
            });
        }
        let size = 1u32 << host_bits;
        let (base, len) = match range {
            // IPv4 loses the network and the broadcast address.
            IpNet::V4(net) => (Base::V4(u32::from(net.network()) + 1), size - 2),
            // IPv6 has no broadcast address, only the network address is lost.
            IpNet::V6(net) => (Base::V6(u128::from(net.network()) + 1), size - 1),
        };
        let static_band = if size <= STATIC_BAND_MIN {
            0
        } else {
            (size / STATIC_BAND_STEP).clamp(STATIC_BAND_MIN, STATIC_BAND_MAX)
        };
        Ok(Self {
            range,
            base,
            bitmap: Bitmap::new(len, static_band, vec![KUBERNETES_OFFSET, DNS_OFFSET]),
        })
    }

    /// An allocator over `range` holding every `(owner, ip)` claim from the
    /// store, plus the claims it refused (duplicates and out-of-range IPs).
    ///
    /// The first claim of an IP wins; a repeated claim by the same owner is
    /// ignored, so `K` must identify the Service.
    pub fn from_allocated<K: Clone + Eq>(
        range: IpNet,
        claims: impl IntoIterator<Item = (K, IpAddr)>,
    ) -> Result<(Self, Vec<Conflict<K, IpAddr>>), RangeError> {
        let mut allocator = Self::new(range)?;
        let conflicts = allocator.rebuild(claims);
        Ok((allocator, conflicts))
    }

    /// The service CIDR, without host bits.
    pub fn range(&self) -> IpNet {
        self.range
    }

    /// The first usable address, reserved for the `kubernetes` Service.
    pub fn kubernetes_service_ip(&self) -> IpAddr {
        self.ip_at(KUBERNETES_OFFSET)
    }

    /// The tenth address, reserved for the cluster DNS Service.
    pub fn dns_service_ip(&self) -> IpAddr {
        self.ip_at(DNS_OFFSET)
    }

    /// Takes the next free address for a Service that asked for none.
    pub fn allocate_next(&mut self) -> Result<IpAddr, AllocError> {
        self.bitmap
            .take_next()
            .map(|offset| self.ip_at(offset))
            .ok_or(AllocError::IpRangeFull { range: self.range })
    }

    /// Takes `ip` for a Service that asked for it explicitly.
    pub fn allocate(&mut self, ip: IpAddr) -> Result<(), AllocError> {
        self.claim(ip.to_canonical())
    }

    /// Frees `ip`; freeing a free or out-of-range address does nothing.
    pub fn release(&mut self, ip: IpAddr) {
        self.unclaim(ip);
    }

    /// Whether `ip` is one of the allocatable addresses of the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.slot(ip).is_some()
    }

    /// Whether `ip` is currently taken.
    pub fn is_allocated(&self, ip: IpAddr) -> bool {
        self.claimed(ip)
    }

    /// Number of addresses taken.
    pub fn used(&self) -> usize {
        self.bitmap.used() as usize
    }

    /// Number of allocatable addresses, including the two reserved ones.
    pub fn capacity(&self) -> usize {
        self.bitmap.len() as usize
    }

    /// Every taken address, in ascending order.
    pub fn allocated(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.bitmap.iter().map(|offset| self.ip_at(offset))
    }

    /// The bitmap offset of `ip`, if it is allocatable in this range.
    fn slot(&self, ip: IpAddr) -> Option<u32> {
        let distance = match (self.base, ip.to_canonical()) {
            (Base::V4(base), IpAddr::V4(ip)) => u128::from(u32::from(ip).checked_sub(base)?),
            (Base::V6(base), IpAddr::V6(ip)) => u128::from(ip).checked_sub(base)?,
            _ => return None,
        };
        u32::try_from(distance)
            .ok()
            .filter(|&offset| offset < self.bitmap.len())
    }

    /// The address at `offset`; only called with offsets below the bitmap length,
    /// which keeps the sum inside the CIDR.
    fn ip_at(&self, offset: u32) -> IpAddr {
        match self.base {
            Base::V4(base) => IpAddr::V4(Ipv4Addr::from(base.wrapping_add(offset))),
            Base::V6(base) => IpAddr::V6(Ipv6Addr::from(base.wrapping_add(u128::from(offset)))),
        }
    }
}

impl Slots for ClusterIpAllocator {
    type Value = IpAddr;

    fn bitmap(&self) -> &Bitmap {
        &self.bitmap
    }

    fn bitmap_mut(&mut self) -> &mut Bitmap {
        &mut self.bitmap
    }

    fn offset_of(&self, ip: IpAddr) -> Result<u32, AllocError> {
        self.slot(ip).ok_or(AllocError::IpNotInRange {
            ip,
            range: self.range,
        })
    }

    fn taken(ip: IpAddr) -> AllocError {
        AllocError::IpAllocated { ip }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use proptest::prelude::*;

    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().expect("test CIDR")
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test IP")
    }

    fn alloc(s: &str) -> ClusterIpAllocator {
        ClusterIpAllocator::new(net(s)).expect("valid range")
    }

    #[test]
    fn new_sizes_and_reserved_addresses() {
        struct Case {
            cidr: &'static str,
            capacity: usize,
            kubernetes: &'static str,
            dns: &'static str,
            first_dynamic: &'static str,
        }
        let cases = [
            Case {
                cidr: "10.96.0.0/12",
                capacity: (1 << 20) - 2,
                kubernetes: "10.96.0.1",
                dns: "10.96.0.10",
                // Static band of 256 addresses: offset 256 is 10.96.1.1.
                first_dynamic: "10.96.1.1",
            },
            Case {
                cidr: "10.0.0.0/24",
                capacity: 254,
                kubernetes: "10.0.0.1",
                dns: "10.0.0.10",
                first_dynamic: "10.0.0.17",
            },
            Case {
                // Host bits are dropped.
                cidr: "10.0.0.77/24",
                capacity: 254,
                kubernetes: "10.0.0.1",
                dns: "10.0.0.10",
                first_dynamic: "10.0.0.17",
            },
            Case {
                // 16 addresses: no static band, so only the reserved two are skipped.
                cidr: "192.168.0.16/28",
                capacity: 14,
                kubernetes: "192.168.0.17",
                dns: "192.168.0.26",
                first_dynamic: "192.168.0.18",
            },
            Case {
                cidr: "fd00:10:96::/108",
                capacity: (1 << 20) - 1,
                kubernetes: "fd00:10:96::1",
                dns: "fd00:10:96::a",
                first_dynamic: "fd00:10:96::101",
            },
            Case {
                cidr: "fd00::/124",
                capacity: 15,
                kubernetes: "fd00::1",
                dns: "fd00::a",
                first_dynamic: "fd00::2",
            },
        ];
        for case in cases {
            let mut a = alloc(case.cidr);
            assert_eq!(a.capacity(), case.capacity, "{}", case.cidr);
            assert_eq!(
                a.kubernetes_service_ip(),
                ip(case.kubernetes),
                "{}",
                case.cidr
            );
            assert_eq!(a.dns_service_ip(), ip(case.dns), "{}", case.cidr);
            assert_eq!(
                a.allocate_next(),
                Ok(ip(case.first_dynamic)),
                "{}",
                case.cidr
            );
            assert_eq!(a.used(), 1, "{}", case.cidr);
        }
    }

    #[test]
    fn new_rejects_bad_sizes() {
        let cases = [
            (
                "10.0.0.0/11",
                "specified service CIDR 10.0.0.0/11 is too large; for 32-bit addresses, the mask must be >= 12",
            ),
            (
                "fd00::/107",
                "specified service CIDR fd00::/107 is too large; for 128-bit addresses, the mask must be >= 108",
            ),
            (
                "10.0.0.0/29",
                "specified service CIDR 10.0.0.0/29 is too small; it must hold the kubernetes Service IP (first address) and the cluster DNS IP (tenth address), so the mask must be <= 28",
            ),
            (
                "fd00::/125",
                "specified service CIDR fd00::/125 is too small; it must hold the kubernetes Service IP (first address) and the cluster DNS IP (tenth address), so the mask must be <= 124",
            ),
            (
                "10.0.0.1/32",
                "specified service CIDR 10.0.0.1/32 is too small; it must hold the kubernetes Service IP (first address) and the cluster DNS IP (tenth address), so the mask must be <= 28",
            ),
        ];
        for (cidr, want) in cases {
            let err = ClusterIpAllocator::new(net(cidr)).expect_err(cidr);
            assert_eq!(err.to_string(), want, "{cidr}");
        }
    }

    #[test]
    fn explicit_requests() {
        struct Case {
            name: &'static str,
            cidr: &'static str,
            preset: &'static [&'static str],
            request: &'static str,
            want: Result<(), &'static str>,
        }
        let cases = [
            Case {
                name: "kubernetes IP is allocatable explicitly",
                cidr: "10.96.0.0/12",
                preset: &[],
                request: "10.96.0.1",
                want: Ok(()),
            },
            Case {
                name: "DNS IP is allocatable explicitly",
                cidr: "10.96.0.0/12",
                preset: &[],
                request: "10.96.0.10",
                want: Ok(()),
            },
            Case {
                name: "last usable IPv4 address",
                cidr: "10.96.0.0/12",
                preset: &[],
                request: "10.111.255.254",
                want: Ok(()),
            },
            Case {
                name: "IPv4 broadcast address",
                cidr: "10.96.0.0/12",
                preset: &[],
                request: "10.111.255.255",
                want: Err(
                    "the provided IP (10.111.255.255) is not in the valid range. The range of valid IPs is 10.96.0.0/12",
                ),
            },
            Case {
                name: "network address",
                cidr: "10.96.0.0/12",
                preset: &[],
                request: "10.96.0.0",
                want: Err(
                    "the provided IP (10.96.0.0) is not in the valid range. The range of valid IPs is 10.96.0.0/12",
                ),
            },
            Case {
                name: "outside the CIDR",
                cidr: "10.96.0.0/12",
                preset: &[],
                request: "1.1.1.1",
                want: Err(
                    "the provided IP (1.1.1.1) is not in the valid range. The range of valid IPs is 10.96.0.0/12",
                ),
            },
            Case {
                name: "wrong family",
                cidr: "10.96.0.0/12",
                preset: &[],
                request: "fd00::1",
                want: Err(
                    "the provided IP (fd00::1) is not in the valid range. The range of valid IPs is 10.96.0.0/12",
                ),
            },
            Case {
                name: "IPv4-mapped IPv6 is the IPv4 address",
                cidr: "10.96.0.0/12",
                preset: &["10.96.0.5"],
                request: "::ffff:10.96.0.5",
                want: Err("provided IP is already allocated"),
            },
            Case {
                name: "IPv4-mapped IPv6 is reported as IPv4",
                cidr: "10.96.0.0/12",
                preset: &[],
                request: "::ffff:1.1.1.1",
                want: Err(
                    "the provided IP (1.1.1.1) is not in the valid range. The range of valid IPs is 10.96.0.0/12",
                ),
            },
            Case {
                name: "already allocated",
                cidr: "10.96.0.0/12",
                preset: &["10.100.0.7"],
                request: "10.100.0.7",
                want: Err("provided IP is already allocated"),
            },
            Case {
                name: "IPv6 last address is usable",
                cidr: "fd00::/124",
                preset: &[],
                request: "fd00::f",
                want: Ok(()),
            },
            Case {
                name: "IPv6 network address",
                cidr: "fd00::/124",
                preset: &[],
                request: "fd00::",
                want: Err(
                    "the provided IP (fd00::) is not in the valid range. The range of valid IPs is fd00::/124",
                ),
            },
            Case {
                name: "IPv6 just past the CIDR",
                cidr: "fd00::/124",
                preset: &[],
                request: "fd00::10",
                want: Err(
                    "the provided IP (fd00::10) is not in the valid range. The range of valid IPs is fd00::/124",
                ),
            },
        ];
        for case in cases {
            let mut a = alloc(case.cidr);
            for preset in case.preset {
                a.allocate(ip(preset)).expect(case.name);
            }
            let before = a.used();
            let got = a.allocate(ip(case.request)).map_err(|e| e.to_string());
            assert_eq!(
                got.as_ref().map_err(String::as_str).copied(),
                case.want,
                "{}",
                case.name
            );
            let grew = usize::from(case.want.is_ok());
            assert_eq!(a.used(), before + grew, "{}", case.name);
            assert_eq!(
                a.is_allocated(ip(case.request)),
                case.want.is_ok() || !case.preset.is_empty(),
                "{}",
                case.name
            );
        }
    }

    #[test]
    fn errors_carry_values() {
        let mut a = alloc("10.96.0.0/12");
        assert_eq!(
            a.allocate(ip("1.1.1.1")),
            Err(AllocError::IpNotInRange {
                ip: ip("1.1.1.1"),
                range: net("10.96.0.0/12")
            })
        );
        a.allocate(ip("10.96.0.3")).expect("free");
        let err = a.allocate(ip("10.96.0.3")).expect_err("taken");
        assert_eq!(
            err,
            AllocError::IpAllocated {
                ip: ip("10.96.0.3")
            }
        );
        assert!(!err.is_full());
    }

    #[test]
    fn dynamic_skips_reserved_and_fills_range() {
        // /28: 14 usable, no static band; dynamic gets the 12 non-reserved ones.
        let mut a = alloc("10.0.0.0/28");
        let got: Vec<IpAddr> = std::iter::from_fn(|| a.allocate_next().ok()).collect();
        let want: Vec<IpAddr> = (2..=15)
            .filter(|host| *host != 10 && *host != 15)
            .map(|host| IpAddr::V4(Ipv4Addr::new(10, 0, 0, host)))
            .collect();
        assert_eq!(got, want);
        let err = a.allocate_next().expect_err("full");
        assert_eq!(err.to_string(), "range is full");
        assert!(err.is_full());
        assert_eq!(a.used(), 12);
        // The reserved two still go to explicit requests, then the range is full.
        a.allocate(a.kubernetes_service_ip())
            .expect("kubernetes IP free");
        a.allocate(a.dns_service_ip()).expect("DNS IP free");
        assert_eq!(a.used(), a.capacity());
        assert_eq!(
            a.allocate_next(),
            Err(AllocError::IpRangeFull {
                range: net("10.0.0.0/28")
            })
        );
    }

    #[test]
    fn dynamic_prefers_upper_band_then_wraps_into_lower() {
        // /24: static band of 16 (offsets 0..16 = .1 ..= .16), upper .17 ..= .254.
        let mut a = alloc("10.0.0.0/24");
        let upper: Vec<IpAddr> = (0..238)
            .map(|_| a.allocate_next().expect("upper"))
            .collect();
        assert_eq!(upper.first(), Some(&ip("10.0.0.17")));
        assert_eq!(upper.last(), Some(&ip("10.0.0.254")));
        // Upper band full: the lower band, minus .1 and .10.
        let lower: Vec<IpAddr> = std::iter::from_fn(|| a.allocate_next().ok()).collect();
        let want: Vec<IpAddr> = (2..=16)
            .filter(|host| *host != 10)
            .map(|host| IpAddr::V4(Ipv4Addr::new(10, 0, 0, host)))
            .collect();
        assert_eq!(lower, want);
        assert_eq!(a.used(), 252);
    }

    #[test]
    fn release_then_reuse_after_wrap() {
        let mut a = alloc("10.0.0.0/24");
        let first = a.allocate_next().expect("first");
        let second = a.allocate_next().expect("second");
        assert_eq!((first, second), (ip("10.0.0.17"), ip("10.0.0.18")));
        a.release(first);
        a.release(first);
        a.release(ip("192.0.2.1"));
        assert_eq!(a.used(), 1);
        assert!(!a.is_allocated(first));
        // The cursor moves on instead of handing `first` straight back.
        assert_eq!(a.allocate_next(), Ok(ip("10.0.0.19")));
        for _ in 20..=254 {
            a.allocate_next().expect("rest of upper band");
        }
        // Wrapped inside the upper band: the released address comes back.
        assert_eq!(a.allocate_next(), Ok(first));
    }

    #[test]
    fn contains_matches_allocatable_addresses() {
        let a = alloc("10.0.0.0/28");
        let cases = [
            ("10.0.0.0", false),
            ("10.0.0.1", true),
            ("10.0.0.14", true),
            ("10.0.0.15", false),
            ("10.0.0.16", false),
            ("fd00::1", false),
        ];
        for (addr, want) in cases {
            assert_eq!(a.contains(ip(addr)), want, "{addr}");
        }
    }

    #[test]
    fn from_allocated_reports_conflicts() {
        let claims = vec![
            ("default/kubernetes", ip("10.96.0.1")),
            ("kube-system/kube-dns", ip("10.96.0.10")),
            ("default/a", ip("10.100.0.1")),
            ("default/b", ip("10.100.0.1")),
            ("default/c", ip("192.168.0.1")),
            // The same Service listed twice is not a conflict.
            ("default/a", ip("10.100.0.1")),
        ];
        let (mut a, conflicts) =
            ClusterIpAllocator::from_allocated(net("10.96.0.0/12"), claims).expect("valid range");
        assert_eq!(
            conflicts,
            vec![
                Conflict {
                    value: ip("10.100.0.1"),
                    claimant: "default/b",
                    holder: Some("default/a"),
                    error: AllocError::IpAllocated {
                        ip: ip("10.100.0.1")
                    },
                },
                Conflict {
                    value: ip("192.168.0.1"),
                    claimant: "default/c",
                    holder: None,
                    error: AllocError::IpNotInRange {
                        ip: ip("192.168.0.1"),
                        range: net("10.96.0.0/12")
                    },
                },
            ]
        );
        assert_eq!(a.used(), 3);
        assert_eq!(
            a.allocated().collect::<Vec<_>>(),
            vec![ip("10.96.0.1"), ip("10.96.0.10"), ip("10.100.0.1")]
        );
        assert_eq!(
            a.allocate(ip("10.96.0.10")),
            Err(AllocError::IpAllocated {
                ip: ip("10.96.0.10")
            })
        );
        // Rebuilding does not move the cursor: dynamic allocation starts fresh.
        assert_eq!(a.allocate_next(), Ok(ip("10.96.1.1")));
    }

    #[test]
    fn from_allocated_rejects_bad_range() {
        let claims: Vec<(&str, IpAddr)> = vec![];
        assert!(matches!(
            ClusterIpAllocator::from_allocated(net("10.0.0.0/8"), claims),
            Err(RangeError::ServiceCidrTooLarge { .. })
        ));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Next,
        Allocate(u32),
        Release(u32),
    }

    fn ops(span: u32) -> impl Strategy<Value = Vec<Op>> {
        let op = prop_oneof![
            3 => Just(Op::Next),
            1 => (0..span).prop_map(Op::Allocate),
            2 => (0..span).prop_map(Op::Release),
        ];
        proptest::collection::vec(op, 0..400)
    }

    fn nth(range: IpNet, n: u32) -> IpAddr {
        match range {
            IpNet::V4(net) => IpAddr::V4(Ipv4Addr::from(u32::from(net.network()) + n)),
            IpNet::V6(net) => IpAddr::V6(Ipv6Addr::from(u128::from(net.network()) + u128::from(n))),
        }
    }

    fn run_model(cidr: &str, ops: Vec<Op>) -> Result<(), TestCaseError> {
        let range = net(cidr);
        let mut a = ClusterIpAllocator::new(range).expect("valid range");
        let mut live: HashSet<IpAddr> = HashSet::new();
        let mut forbidden = vec![nth(range, 0), a.kubernetes_service_ip(), a.dns_service_ip()];
        if range.addr().is_ipv4() {
            forbidden.push(range.broadcast());
        }
        for op in ops {
            match op {
                Op::Next => match a.allocate_next() {
                    Ok(got) => {
                        prop_assert!(!forbidden.contains(&got), "handed out {got}");
                        prop_assert!(range.contains(&got));
                        prop_assert!(live.insert(got), "handed out live {got}");
                    }
                    Err(e) => {
                        prop_assert!(e.is_full());
                        // Full means every non-reserved address is live.
                        let reserved_live = [a.kubernetes_service_ip(), a.dns_service_ip()]
                            .iter()
                            .filter(|ip| live.contains(ip))
                            .count();
                        prop_assert_eq!(live.len() + 2 - reserved_live, a.capacity());
                    }
                },
                Op::Allocate(n) => {
                    let want = nth(range, n);
                    match a.allocate(want) {
                        Ok(()) => prop_assert!(live.insert(want)),
                        Err(AllocError::IpAllocated { ip }) => {
                            prop_assert_eq!(ip, want);
                            prop_assert!(live.contains(&want));
                        }
                        Err(AllocError::IpNotInRange { .. }) => {
                            prop_assert!(!a.contains(want));
                        }
                        Err(other) => prop_assert!(false, "unexpected {other}"),
                    }
                }
                Op::Release(n) => {
                    let gone = nth(range, n);
                    a.release(gone);
                    live.remove(&gone);
                }
            }
            prop_assert_eq!(a.used(), live.len());
        }
        let mut listed: Vec<IpAddr> = a.allocated().collect();
        let mut want: Vec<IpAddr> = live.into_iter().collect();
        listed.sort();
        want.sort();
        prop_assert_eq!(listed, want);
        Ok(())
    }

    proptest! {
        #[test]
        fn model_ipv4_small(ops in ops(40)) {
            run_model("10.0.0.32/27", ops)?;
        }

        #[test]
        fn model_ipv4_banded(ops in ops(80)) {
            run_model("10.1.0.0/26", ops)?;
        }

        #[test]
        fn model_ipv6(ops in ops(20)) {
            run_model("fd00:1::/124", ops)?;
        }

        #[test]
        fn rebuild_counts_distinct(claims in proptest::collection::vec((0u8..6, 0u32..40), 0..60)) {
            let range = net("10.0.0.0/27");
            let claims: Vec<(u8, IpAddr)> =
                claims.into_iter().map(|(owner, n)| (owner, nth(range, n))).collect();
            let (a, conflicts) = ClusterIpAllocator::from_allocated(range, claims.clone())
                .expect("valid range");
            let distinct: HashSet<IpAddr> =
                claims.iter().map(|(_, ip)| *ip).filter(|ip| a.contains(*ip)).collect();
            prop_assert_eq!(a.used(), distinct.len());
            for ip in &distinct {
                prop_assert!(a.is_allocated(*ip));
            }
            // Model: the first in-range claim of an address wins; a later claim
            // by the winner is silent, any other claim is a conflict.
            let mut holders: std::collections::HashMap<IpAddr, u8> = Default::default();
            let mut want_conflicts = 0;
            for (owner, ip) in &claims {
                if !a.contains(*ip) {
                    want_conflicts += 1;
                    continue;
                }
                match holders.get(ip) {
                    Some(holder) if holder == owner => {}
                    Some(_) => want_conflicts += 1,
                    None => {
                        holders.insert(*ip, *owner);
                    }
                }
            }
            prop_assert_eq!(conflicts.len(), want_conflicts);
            for conflict in conflicts {
                prop_assert_ne!(Some(conflict.claimant), conflict.holder);
                if let Some(holder) = conflict.holder {
                    prop_assert_eq!(holders.get(&conflict.value), Some(&holder));
                }
            }
        }
    }
}
