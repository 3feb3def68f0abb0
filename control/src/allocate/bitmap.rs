//! The one slot bitmap behind every allocator in this module: which offsets of a
//! range are taken, and the deterministic search that hands out the next free one.
//!
//! It knows nothing about IPs, ports or CIDRs: callers translate their values to
//! offsets `0..len` first and must never pass an offset outside that range. It
//! must stay free of randomness, so the same calls always yield the same values.

/// Bits per bitmap word.
const WORD_BITS: u32 = u64::BITS;

/// A fixed-size set of offsets `0..len` with a cursor for dynamic allocation.
///
/// Dynamic allocation prefers the upper band `static_band..len` and only falls
/// back to the lower band `0..static_band` when the upper one is full, which is
/// how kube-apiserver keeps the low values free for explicit requests (KEP-3070).
/// Within a band it takes the first free offset after the last one it handed
/// out, wrapping at the band's end. Offsets in `skip` are never handed out
/// dynamically but can still be taken explicitly with [`Bitmap::insert`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Bitmap {
    words: Vec<u64>,
    len: u32,
    used: u32,
    static_band: u32,
    skip: Vec<u32>,
    last: Option<u32>,
}

impl Bitmap {
    /// An empty bitmap of `len` offsets; `static_band` is clamped to `len`.
    pub(super) fn new(len: u32, static_band: u32, skip: Vec<u32>) -> Self {
        let words = len.div_ceil(WORD_BITS) as usize;
        Self {
            words: vec![0; words],
            len,
            used: 0,
            static_band: static_band.min(len),
            skip,
            last: None,
        }
    }

    /// Number of offsets, taken or free.
    pub(super) fn len(&self) -> u32 {
        self.len
    }

    /// Number of offsets taken.
    pub(super) fn used(&self) -> u32 {
        self.used
    }

    /// Whether `offset` is taken; offsets outside the bitmap are never taken.
    pub(super) fn contains(&self, offset: u32) -> bool {
        offset < self.len
            && self
                .words
                .get((offset / WORD_BITS) as usize)
                .is_some_and(|word| word & bit(offset) != 0)
    }

    /// Takes `offset`; false if it was already taken or lies outside the bitmap.
    pub(super) fn insert(&mut self, offset: u32) -> bool {
        if offset >= self.len {
            return false;
        }
        let Some(word) = self.words.get_mut((offset / WORD_BITS) as usize) else {
            return false;
        };
        if *word & bit(offset) != 0 {
            return false;
        }
        *word |= bit(offset);
        self.used += 1;
        true
    }

    /// Frees `offset`; freeing a free or out-of-range offset does nothing.
    pub(super) fn remove(&mut self, offset: u32) {
        if offset >= self.len {
            return;
        }
        if let Some(word) = self.words.get_mut((offset / WORD_BITS) as usize)
            && *word & bit(offset) != 0
        {
            *word &= !bit(offset);
            self.used -= 1;
        }
    }

    /// Takes and returns the next free offset for dynamic allocation, if any.
    pub(super) fn take_next(&mut self) -> Option<u32> {
        let band = self.static_band;
        let len = self.len;
        // The cursor only steers the search inside the band it points into;
        // the other band is searched from its start.
        let (upper_from, lower_from) = match self.last {
            Some(last) if last >= band => (last + 1, 0),
            Some(last) => (band, last + 1),
            None => (band, 0),
        };
        let found = self
            .free_wrapping(band, len, upper_from)
            .or_else(|| self.free_wrapping(0, band, lower_from))?;
        self.insert(found);
        self.last = Some(found);
        Some(found)
    }

    /// Every taken offset, in ascending order.
    pub(super) fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.len).filter(|&offset| self.contains(offset))
    }

    /// First free, non-skipped offset in `lo..hi`, searching from `from` and
    /// wrapping to `lo`.
    fn free_wrapping(&self, lo: u32, hi: u32, from: u32) -> Option<u32> {
        let from = if (lo..hi).contains(&from) { from } else { lo };
        self.free_in(from, hi).or_else(|| self.free_in(lo, from))
    }

    /// First free, non-skipped offset in `lo..hi`.
    fn free_in(&self, lo: u32, hi: u32) -> Option<u32> {
        let mut start = lo;
        while start < hi {
            let candidate = self.first_zero(start, hi)?;
            if !self.skip.contains(&candidate) {
                return Some(candidate);
            }
            start = candidate + 1;
        }
        None
    }

    /// First clear bit in `lo..hi`, a word at a time.
    fn first_zero(&self, lo: u32, hi: u32) -> Option<u32> {
        let mut offset = lo;
        while offset < hi {
            let index = offset / WORD_BITS;
            let word = *self.words.get(index as usize)?;
            // Treat bits below `offset` as taken so the search starts there.
            let below = bit(offset) - 1;
            let free = !(word | below);
            if free != 0 {
                let found = index * WORD_BITS + free.trailing_zeros();
                return (found < hi).then_some(found);
            }
            offset = (index + 1) * WORD_BITS;
        }
        None
    }
}

/// The mask of `offset` within its word.
fn bit(offset: u32) -> u64 {
    1u64 << (offset % WORD_BITS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taken(bitmap: &mut Bitmap, n: usize) -> Vec<u32> {
        (0..n).filter_map(|_| bitmap.take_next()).collect()
    }

    #[test]
    fn take_next_orders() {
        struct Case {
            name: &'static str,
            len: u32,
            band: u32,
            skip: Vec<u32>,
            preset: Vec<u32>,
            takes: usize,
            want: Vec<u32>,
        }
        let cases = [
            Case {
                name: "no band counts up from zero",
                len: 4,
                band: 0,
                skip: vec![],
                preset: vec![],
                takes: 5,
                want: vec![0, 1, 2, 3],
            },
            Case {
                name: "upper band first, then lower",
                len: 6,
                band: 2,
                skip: vec![],
                preset: vec![],
                takes: 7,
                want: vec![2, 3, 4, 5, 0, 1],
            },
            Case {
                name: "skipped offsets are never handed out",
                len: 5,
                band: 0,
                skip: vec![0, 3],
                preset: vec![],
                takes: 5,
                want: vec![1, 2, 4],
            },
            Case {
                name: "taken offsets are jumped over",
                len: 5,
                band: 0,
                skip: vec![],
                preset: vec![1, 2],
                takes: 5,
                want: vec![0, 3, 4],
            },
            Case {
                name: "crosses word boundaries",
                len: 130,
                band: 0,
                skip: vec![],
                preset: (0..128).collect(),
                takes: 3,
                want: vec![128, 129],
            },
            Case {
                name: "band larger than len is clamped",
                len: 3,
                band: 10,
                skip: vec![],
                preset: vec![],
                takes: 4,
                want: vec![0, 1, 2],
            },
            Case {
                name: "empty bitmap has nothing",
                len: 0,
                band: 0,
                skip: vec![],
                preset: vec![],
                takes: 1,
                want: vec![],
            },
        ];
        for case in cases {
            let mut bitmap = Bitmap::new(case.len, case.band, case.skip);
            for offset in case.preset {
                assert!(bitmap.insert(offset), "{}: preset {offset}", case.name);
            }
            assert_eq!(taken(&mut bitmap, case.takes), case.want, "{}", case.name);
        }
    }

    #[test]
    fn take_next_resumes_after_last_and_wraps() {
        let mut bitmap = Bitmap::new(8, 2, vec![]);
        assert_eq!(taken(&mut bitmap, 3), vec![2, 3, 4]);
        bitmap.remove(2);
        bitmap.remove(3);
        // Resumes after 4 rather than refilling the freed 2 and 3 first.
        assert_eq!(taken(&mut bitmap, 3), vec![5, 6, 7]);
        assert_eq!(taken(&mut bitmap, 2), vec![2, 3]);
        // Upper band full: fall back to the lower band.
        assert_eq!(taken(&mut bitmap, 1), vec![0]);
        // A freed upper offset wins over the lower band again.
        bitmap.remove(6);
        assert_eq!(taken(&mut bitmap, 2), vec![6, 1]);
        assert_eq!(bitmap.take_next(), None);
        assert_eq!(bitmap.used(), 8);
    }

    #[test]
    fn take_next_resumes_inside_the_lower_band() {
        let mut bitmap = Bitmap::new(6, 3, vec![]);
        assert_eq!(taken(&mut bitmap, 5), vec![3, 4, 5, 0, 1]);
        bitmap.remove(0);
        // The cursor sits at 1 in the lower band: 2 comes before the freed 0.
        assert_eq!(taken(&mut bitmap, 3), vec![2, 0]);
    }

    #[test]
    fn insert_remove_count() {
        let mut bitmap = Bitmap::new(70, 0, vec![]);
        assert!(bitmap.insert(69));
        assert!(!bitmap.insert(69), "double insert");
        assert!(!bitmap.insert(70), "out of range");
        assert!(bitmap.contains(69));
        assert!(!bitmap.contains(70));
        assert_eq!(bitmap.used(), 1);
        bitmap.remove(69);
        bitmap.remove(69);
        bitmap.remove(1000);
        assert_eq!(bitmap.used(), 0);
        assert!(!bitmap.contains(69));
        assert_eq!(bitmap.len(), 70);
    }

    #[test]
    fn iter_lists_taken() {
        let mut bitmap = Bitmap::new(200, 0, vec![]);
        for offset in [199, 0, 64, 63] {
            bitmap.insert(offset);
        }
        assert_eq!(bitmap.iter().collect::<Vec<_>>(), vec![0, 63, 64, 199]);
    }
}
