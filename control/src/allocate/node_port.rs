//! Service node port allocation over one inclusive port range
//! (`--service-node-port-range`, default 30000-32767).
//!
//! Holds which ports of the range are taken; it must not decide which Service
//! ports need a node port, nor share one port between a Service's TCP and UDP
//! ports: callers do.
//!
//! As in kube-apiserver (KEP-3668, GA in 1.29), dynamic allocation prefers the
//! ports above a static band of `min(max(16, size/32), 128)` ports at the
//! bottom of the range (ranges of 16 ports or fewer have no band), and only
//! falls back to the band when the upper part is full. Explicit requests may
//! take any port in the range, so users who pick ports by hand should pick them
//! from the band to avoid colliding with dynamic ones. For 30000-32767 the
//! band is 30000-30085.

use std::ops::RangeInclusive;

use super::{AllocError, Bitmap, Conflict, RangeError, Slots};

/// Static band bounds, `min(max(MIN, size / STEP), MAX)`, from KEP-3668.
const STATIC_BAND_MIN: u32 = 16;
const STATIC_BAND_MAX: u32 = 128;
const STATIC_BAND_STEP: u32 = 32;

/// Allocates Service node ports from one port range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodePortAllocator {
    first: u16,
    last: u16,
    bitmap: Bitmap,
}

impl NodePortAllocator {
    /// kube-apiserver's default `--service-node-port-range`.
    pub const DEFAULT_RANGE: RangeInclusive<u16> = 30000..=32767;

    /// An empty allocator over `range`; it must be non-empty and exclude port 0.
    pub fn new(range: RangeInclusive<u16>) -> Result<Self, RangeError> {
        let (first, last) = range.into_inner();
        if first == 0 || first > last {
            return Err(RangeError::InvalidPortRange { first, last });
        }
        let size = u32::from(last - first) + 1;
        let static_band = if size <= STATIC_BAND_MIN {
            0
        } else {
            (size / STATIC_BAND_STEP).clamp(STATIC_BAND_MIN, STATIC_BAND_MAX)
        };
        Ok(Self {
            first,
            last,
            bitmap: Bitmap::new(size, static_band, Vec::new()),
        })
    }

    /// An allocator over `range` holding every `(owner, port)` claim from the
    /// store, plus the claims it refused (duplicates and out-of-range ports).
    ///
    /// The first claim of a port wins; a repeated claim by the same owner is
    /// ignored (one Service may use a node port for both TCP and UDP), so `K`
    /// must identify the Service.
    pub fn from_allocated<K: Clone + Eq>(
        range: RangeInclusive<u16>,
        claims: impl IntoIterator<Item = (K, u16)>,
    ) -> Result<(Self, Vec<Conflict<K, u16>>), RangeError> {
        let mut allocator = Self::new(range)?;
        let conflicts = allocator.rebuild(claims);
        Ok((allocator, conflicts))
    }

    /// The port range, inclusive.
    pub fn range(&self) -> RangeInclusive<u16> {
        self.first..=self.last
    }

    /// Takes the next free port for a Service port that asked for none.
    pub fn allocate_next(&mut self) -> Result<u16, AllocError> {
        self.bitmap
            .take_next()
            .map(|offset| self.port_at(offset))
            .ok_or(AllocError::PortRangeFull {
                first: self.first,
                last: self.last,
            })
    }

    /// Takes `port` for a Service port that asked for it explicitly.
    pub fn allocate(&mut self, port: u16) -> Result<(), AllocError> {
        self.claim(port)
    }

    /// Frees `port`; freeing a free or out-of-range port does nothing.
    pub fn release(&mut self, port: u16) {
        self.unclaim(port);
    }

    /// Whether `port` lies in the range.
    pub fn contains(&self, port: u16) -> bool {
        (self.first..=self.last).contains(&port)
    }

    /// Whether `port` is currently taken.
    pub fn is_allocated(&self, port: u16) -> bool {
        self.claimed(port)
    }

    /// Number of ports taken.
    pub fn used(&self) -> usize {
        self.bitmap.used() as usize
    }

    /// Number of ports in the range.
    pub fn capacity(&self) -> usize {
        self.bitmap.len() as usize
    }

    /// Every taken port, in ascending order.
    pub fn allocated(&self) -> impl Iterator<Item = u16> + '_ {
        self.bitmap.iter().map(|offset| self.port_at(offset))
    }

    /// The port at `offset`; only called with offsets below the bitmap length,
    /// which keeps the sum at or below `last`.
    fn port_at(&self, offset: u32) -> u16 {
        let offset = u16::try_from(offset).unwrap_or(u16::MAX);
        self.first.saturating_add(offset)
    }
}

impl Slots for NodePortAllocator {
    type Value = u16;

    fn bitmap(&self) -> &Bitmap {
        &self.bitmap
    }

    fn bitmap_mut(&mut self) -> &mut Bitmap {
        &mut self.bitmap
    }

    fn offset_of(&self, port: u16) -> Result<u32, AllocError> {
        if self.contains(port) {
            Ok(u32::from(port - self.first))
        } else {
            Err(AllocError::PortNotInRange {
                port,
                first: self.first,
                last: self.last,
            })
        }
    }

    fn taken(port: u16) -> AllocError {
        AllocError::PortAllocated { port }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use proptest::prelude::*;

    use super::*;

    fn alloc(range: RangeInclusive<u16>) -> NodePortAllocator {
        NodePortAllocator::new(range).expect("valid range")
    }

    #[test]
    fn new_validates_range() {
        let cases: [(RangeInclusive<u16>, Option<&str>); 5] = [
            (30000..=32767, None),
            (1..=1, None),
            (1..=65535, None),
            (
                0..=10,
                Some(
                    "invalid node port range 0-10: the first port must be between 1 and the last port",
                ),
            ),
            (
                RangeInclusive::new(32767, 30000),
                Some(
                    "invalid node port range 32767-30000: the first port must be between 1 and the last port",
                ),
            ),
        ];
        for (range, want) in cases {
            let got = NodePortAllocator::new(range.clone())
                .err()
                .map(|e| e.to_string());
            assert_eq!(got.as_deref(), want, "{range:?}");
        }
    }

    #[test]
    fn static_band_sizes() {
        // (range, first dynamic port): the band is min(max(16, size/32), 128).
        let cases: [(RangeInclusive<u16>, u16); 6] = [
            (30000..=32767, 30086),
            (30000..=30015, 30000),
            (30000..=30016, 30016),
            (30000..=30999, 30031),
            (1..=65535, 129),
            (40000..=40000, 40000),
        ];
        for (range, want) in cases {
            let mut a = alloc(range.clone());
            assert_eq!(a.allocate_next(), Ok(want), "{range:?}");
        }
    }

    #[test]
    fn explicit_requests() {
        struct Case {
            name: &'static str,
            preset: &'static [u16],
            request: u16,
            want: Result<(), &'static str>,
        }
        let cases = [
            Case {
                name: "first port",
                preset: &[],
                request: 30000,
                want: Ok(()),
            },
            Case {
                name: "last port",
                preset: &[],
                request: 32767,
                want: Ok(()),
            },
            Case {
                name: "below the range",
                preset: &[],
                request: 29999,
                want: Err(
                    "provided port is not in the valid range. The range of valid ports is 30000-32767",
                ),
            },
            Case {
                name: "above the range",
                preset: &[],
                request: 32768,
                want: Err(
                    "provided port is not in the valid range. The range of valid ports is 30000-32767",
                ),
            },
            Case {
                name: "port 0",
                preset: &[],
                request: 0,
                want: Err(
                    "provided port is not in the valid range. The range of valid ports is 30000-32767",
                ),
            },
            Case {
                name: "taken",
                preset: &[31000],
                request: 31000,
                want: Err("provided port is already allocated"),
            },
        ];
        for case in cases {
            let mut a = alloc(NodePortAllocator::DEFAULT_RANGE);
            for port in case.preset {
                a.allocate(*port).expect(case.name);
            }
            let before = a.used();
            let got = a.allocate(case.request).map_err(|e| e.to_string());
            assert_eq!(
                got.as_ref().map_err(String::as_str).copied(),
                case.want,
                "{}",
                case.name
            );
            assert_eq!(
                a.used(),
                before + usize::from(case.want.is_ok()),
                "{}",
                case.name
            );
        }
    }

    #[test]
    fn errors_carry_values() {
        let mut a = alloc(30000..=32767);
        assert_eq!(
            a.allocate(80),
            Err(AllocError::PortNotInRange {
                port: 80,
                first: 30000,
                last: 32767
            })
        );
        a.allocate(30080).expect("free");
        assert_eq!(
            a.allocate(30080),
            Err(AllocError::PortAllocated { port: 30080 })
        );
    }

    #[test]
    fn fills_upper_then_band_then_full() {
        let mut a = alloc(30000..=30019); // 20 ports: band of 16, upper 30016-30019.
        let got: Vec<u16> = std::iter::from_fn(|| a.allocate_next().ok()).collect();
        let want: Vec<u16> = (30016..=30019).chain(30000..=30015).collect();
        assert_eq!(got, want);
        assert_eq!(a.used(), a.capacity());
        let err = a.allocate_next().expect_err("full");
        assert_eq!(err.to_string(), "range is full");
        assert!(err.is_full());
    }

    #[test]
    fn release_then_reuse_after_wrap() {
        let mut a = alloc(30000..=30019);
        assert_eq!(a.allocate_next(), Ok(30016));
        assert_eq!(a.allocate_next(), Ok(30017));
        a.release(30016);
        a.release(30016);
        a.release(1);
        assert!(!a.is_allocated(30016));
        assert_eq!(a.used(), 1);
        assert_eq!(a.allocate_next(), Ok(30018));
        assert_eq!(a.allocate_next(), Ok(30019));
        // Wraps inside the upper part before touching the band.
        assert_eq!(a.allocate_next(), Ok(30016));
        assert_eq!(a.allocate_next(), Ok(30000));
        // A static request in the band is skipped by the next dynamic one.
        a.allocate(30001).expect("free");
        assert_eq!(a.allocate_next(), Ok(30002));
    }

    #[test]
    fn from_allocated_reports_conflicts() {
        let claims = vec![
            ("default/dns", 30053),
            // Same Service, same port for UDP: not a conflict.
            ("default/dns", 30053),
            ("default/web", 30080),
            ("default/other", 30080),
            ("default/old", 8080),
        ];
        let (mut a, conflicts) =
            NodePortAllocator::from_allocated(30000..=32767, claims).expect("valid range");
        assert_eq!(
            conflicts,
            vec![
                Conflict {
                    value: 30080,
                    claimant: "default/other",
                    holder: Some("default/web"),
                    error: AllocError::PortAllocated { port: 30080 },
                },
                Conflict {
                    value: 8080,
                    claimant: "default/old",
                    holder: None,
                    error: AllocError::PortNotInRange {
                        port: 8080,
                        first: 30000,
                        last: 32767
                    },
                },
            ]
        );
        assert_eq!(a.used(), 2);
        assert_eq!(a.allocated().collect::<Vec<_>>(), vec![30053, 30080]);
        assert_eq!(
            a.allocate(30053),
            Err(AllocError::PortAllocated { port: 30053 })
        );
    }

    #[derive(Debug, Clone)]
    enum Op {
        Next,
        Allocate(u16),
        Release(u16),
    }

    proptest! {
        #[test]
        fn model(ops in proptest::collection::vec(prop_oneof![
            3 => Just(Op::Next),
            1 => (29990u16..30050).prop_map(Op::Allocate),
            2 => (29990u16..30050).prop_map(Op::Release),
        ], 0..400)) {
            let mut a = alloc(30000..=30039);
            let mut live: HashSet<u16> = HashSet::new();
            for op in ops {
                match op {
                    Op::Next => match a.allocate_next() {
                        Ok(port) => {
                            prop_assert!(a.contains(port));
                            prop_assert!(live.insert(port), "handed out live {port}");
                        }
                        Err(e) => {
                            prop_assert!(e.is_full());
                            prop_assert_eq!(live.len(), a.capacity());
                        }
                    },
                    Op::Allocate(port) => match a.allocate(port) {
                        Ok(()) => prop_assert!(live.insert(port)),
                        Err(AllocError::PortAllocated { .. }) => prop_assert!(live.contains(&port)),
                        Err(AllocError::PortNotInRange { .. }) => prop_assert!(!a.contains(port)),
                        Err(other) => prop_assert!(false, "unexpected {other}"),
                    },
                    Op::Release(port) => {
                        a.release(port);
                        live.remove(&port);
                    }
                }
                prop_assert_eq!(a.used(), live.len());
            }
            let mut want: Vec<u16> = live.into_iter().collect();
            want.sort_unstable();
            prop_assert_eq!(a.allocated().collect::<Vec<_>>(), want);
        }

        #[test]
        fn rebuild_counts_distinct(claims in proptest::collection::vec((0u8..6, 29995u16..30045), 0..80)) {
            let (a, conflicts) = NodePortAllocator::from_allocated(30000..=30039, claims.clone())
                .expect("valid range");
            let mut holders: HashMap<u16, u8> = HashMap::new();
            let mut want_conflicts = 0;
            for (owner, port) in &claims {
                if !a.contains(*port) {
                    want_conflicts += 1;
                    continue;
                }
                match holders.get(port) {
                    Some(holder) if holder == owner => {}
                    Some(_) => want_conflicts += 1,
                    None => {
                        holders.insert(*port, *owner);
                    }
                }
            }
            prop_assert_eq!(a.used(), holders.len());
            prop_assert_eq!(conflicts.len(), want_conflicts);
            for port in holders.keys() {
                prop_assert!(a.is_allocated(*port));
            }
        }
    }
}
