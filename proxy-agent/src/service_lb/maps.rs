//! The load-balancer maps as the writer sees them: apply one [`Op`], read
//! everything back. [`crate::sock_lb::SocketLb`] implements it over the
//! pinned BPF maps; [`Fake`] over `BTreeMap`s, for tests.

use std::collections::BTreeMap;

use aya::maps::HashMap as BpfHashMap;
use strait_proxy_maps::lb::{
    BackendKey, BackendValue, RevNatKey, RevNatValue, ServiceKey, ServiceValue, names,
};

use crate::{lb::Op, sock_lb::SocketLb};

/// What the three hash maps hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Contents {
    /// `LB4_SERVICES`.
    pub services: BTreeMap<ServiceKey, ServiceValue>,
    /// `LB4_BACKENDS`.
    pub backends: BTreeMap<BackendKey, BackendValue>,
    /// `LB4_REV_NAT`.
    pub rev_nat: BTreeMap<RevNatKey, RevNatValue>,
}

/// Why a map write or read failed.
#[derive(Debug, thiserror::Error)]
pub enum MapWriteError {
    /// The map is not in the object (a build mismatch).
    #[error("the load-balancer object has no map {0}")]
    Missing(&'static str),
    /// The kernel refused (full map, bad value).
    #[error("map {name}: {source}")]
    Map {
        /// The map.
        name: &'static str,
        /// aya's reason.
        #[source]
        source: aya::maps::MapError,
    },
    /// Maglev tables are not written yet: the agent runs with Maglev off.
    #[error("Maglev tables are not supported by this writer")]
    MaglevUnsupported,
}

/// Maps the writer can change and read.
pub trait LbMaps {
    /// Applies one write.
    fn apply(&mut self, op: &Op) -> Result<(), MapWriteError>;
    /// Everything the maps hold now.
    fn read(&self) -> Result<Contents, MapWriteError>;
}

fn hash_map<'a, K: aya::Pod, V: aya::Pod>(
    lb: &'a mut SocketLb,
    name: &'static str,
) -> Result<BpfHashMap<&'a mut aya::maps::MapData, K, V>, MapWriteError> {
    let map = lb
        .ebpf_mut()
        .map_mut(name)
        .ok_or(MapWriteError::Missing(name))?;
    BpfHashMap::try_from(map).map_err(|source| MapWriteError::Map { name, source })
}

fn read_map<K: aya::Pod + Ord, V: aya::Pod>(
    lb: &SocketLb,
    name: &'static str,
) -> Result<BTreeMap<K, V>, MapWriteError> {
    let map = lb.ebpf().map(name).ok_or(MapWriteError::Missing(name))?;
    let map = BpfHashMap::<_, K, V>::try_from(map)
        .map_err(|source| MapWriteError::Map { name, source })?;
    map.iter()
        .map(|entry| entry.map_err(|source| MapWriteError::Map { name, source }))
        .collect()
}

/// Removes a frontend's entry from the per-CPU translation counts.
fn forget_count(lb: &mut SocketLb, index: u32) -> Result<(), MapWriteError> {
    let name = names::LB4_SOCK_COUNT;
    let map = lb
        .ebpf_mut()
        .map_mut(name)
        .ok_or(MapWriteError::Missing(name))?;
    let mut counts = aya::maps::PerCpuHashMap::<_, u32, u64>::try_from(map)
        .map_err(|source| MapWriteError::Map { name, source })?;
    absent_ok(name, counts.remove(&index))
}

/// Deleting what is absent is fine: the goal is its absence. aya reports
/// a missing key on delete as the syscall's ENOENT, not as `KeyNotFound`.
fn absent_ok(
    name: &'static str,
    result: Result<(), aya::maps::MapError>,
) -> Result<(), MapWriteError> {
    match result {
        Ok(()) => Ok(()),
        Err(e) if is_absent(&e) => Ok(()),
        Err(source) => Err(MapWriteError::Map { name, source }),
    }
}

/// Whether a map error says the key was not there.
fn is_absent(error: &aya::maps::MapError) -> bool {
    match error {
        aya::maps::MapError::KeyNotFound => true,
        aya::maps::MapError::SyscallError(e) => e.io_error.raw_os_error() == Some(libc::ENOENT),
        _ => false,
    }
}

impl LbMaps for SocketLb {
    fn apply(&mut self, op: &Op) -> Result<(), MapWriteError> {
        let put = |name| move |source| MapWriteError::Map { name, source };
        match op {
            Op::UpsertService(k, v) => {
                hash_map::<ServiceKey, ServiceValue>(self, names::LB4_SERVICES)?
                    .insert(k, v, 0)
                    .map_err(put(names::LB4_SERVICES))
            }
            Op::UpsertBackend(k, v) => {
                hash_map::<BackendKey, BackendValue>(self, names::LB4_BACKENDS)?
                    .insert(k, v, 0)
                    .map_err(put(names::LB4_BACKENDS))
            }
            Op::UpsertRevNat(k, v) => hash_map::<RevNatKey, RevNatValue>(self, names::LB4_REV_NAT)?
                .insert(k, v, 0)
                .map_err(put(names::LB4_REV_NAT)),
            Op::DeleteService(k) => absent_ok(
                names::LB4_SERVICES,
                hash_map::<ServiceKey, ServiceValue>(self, names::LB4_SERVICES)?.remove(k),
            ),
            Op::DeleteBackend(k) => absent_ok(
                names::LB4_BACKENDS,
                hash_map::<BackendKey, BackendValue>(self, names::LB4_BACKENDS)?.remove(k),
            ),
            Op::DeleteRevNat(k) => {
                absent_ok(
                    names::LB4_REV_NAT,
                    hash_map::<RevNatKey, RevNatValue>(self, names::LB4_REV_NAT)?.remove(k),
                )?;
                // Its translation count goes too: the index may be reused.
                forget_count(self, k.index)
            }
            Op::UpsertMaglev(..) | Op::DeleteMaglev(_) => Err(MapWriteError::MaglevUnsupported),
        }
    }

    fn read(&self) -> Result<Contents, MapWriteError> {
        Ok(Contents {
            services: read_map(self, names::LB4_SERVICES)?,
            backends: read_map(self, names::LB4_BACKENDS)?,
            rev_nat: read_map(self, names::LB4_REV_NAT)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syscall(errno: i32) -> aya::maps::MapError {
        aya::maps::MapError::SyscallError(aya::sys::SyscallError {
            call: "bpf_map_delete_elem",
            io_error: std::io::Error::from_raw_os_error(errno),
        })
    }

    #[test]
    fn a_missing_key_on_delete_counts_as_absent() {
        assert!(absent_ok("M", Err(syscall(libc::ENOENT))).is_ok());
        assert!(absent_ok("M", Err(aya::maps::MapError::KeyNotFound)).is_ok());
        assert!(absent_ok("M", Err(syscall(libc::EPERM))).is_err());
    }
}

/// In-memory maps for tests: optionally fail the n-th write.
#[derive(Clone, Debug, Default)]
pub struct Fake {
    /// What they hold.
    pub contents: Contents,
    /// Writes applied so far.
    pub writes: usize,
    /// Fail the write with this index (0-based, counted in `writes`).
    pub fail_at: Option<usize>,
}

impl LbMaps for Fake {
    fn apply(&mut self, op: &Op) -> Result<(), MapWriteError> {
        if self.fail_at == Some(self.writes) {
            self.fail_at = None;
            return Err(MapWriteError::Missing("injected failure"));
        }
        self.writes += 1;
        let c = &mut self.contents;
        match op {
            Op::UpsertService(k, v) => drop(c.services.insert(*k, *v)),
            Op::UpsertBackend(k, v) => drop(c.backends.insert(*k, *v)),
            Op::UpsertRevNat(k, v) => drop(c.rev_nat.insert(*k, *v)),
            Op::DeleteService(k) => drop(c.services.remove(k)),
            Op::DeleteBackend(k) => drop(c.backends.remove(k)),
            Op::DeleteRevNat(k) => drop(c.rev_nat.remove(k)),
            Op::UpsertMaglev(..) | Op::DeleteMaglev(_) => {
                return Err(MapWriteError::MaglevUnsupported);
            }
        }
        Ok(())
    }

    fn read(&self) -> Result<Contents, MapWriteError> {
        Ok(self.contents.clone())
    }
}
