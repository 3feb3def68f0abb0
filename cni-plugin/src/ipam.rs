//! Pod address management for one node's pod CIDR: the pure choice of the
//! next address ([`PodCidr`]), and the on-disk store of reservations
//! ([`IpamStore`]) that many concurrent plugin processes share.
//!
//! Layout of the CIDR: the network address is never handed out, the first
//! host address is the gateway on the host side, and for IPv4 the broadcast
//! address is skipped. Everything between is a pod address, handed out
//! round-robin after the last one reserved, so a released address is not
//! reused at once.
//!
//! Layout of the store, `<data_dir>/<network>/`: one file per reserved
//! address, named by the address, holding `<containerID>\n<ifname>` and
//! created with `O_EXCL`; beside it an empty owner marker named
//! `owner:<address>:<containerID>:<ifname>` (neither part may hold a `:`);
//! `last_reserved_ip`, a hint rewritten in place; and `lock`, on which
//! every operation takes a `flock` (exclusive to change, shared to read).
//! The lock file is opened afresh per operation so that two handles in one
//! process exclude each other as two processes do.
//!
//! The address file is the truth; markers only let a scan learn every
//! owner from the directory listing instead of reading one file per pod.
//! A marker is made after its address file and removed before it, so a
//! process killed in between leaves an address file without a marker, and
//! an address without exactly one marker has its file read. Markers left
//! without an address file are ignored and removed by GC.
//!
//! Nothing is fsynced. A reservation has to outlive the plugin process that
//! made it (a killed ADD, a crashed runtime), and the page cache does that;
//! it need not outlive the machine, because pods do not: after a reboot the
//! runtime adds every pod again and GC releases what no pod holds. Power
//! loss can leave a new file empty, which reads as an incomplete ADD that
//! GC removes, or a stale `last_reserved_ip`, which only moves the
//! round-robin start. Syncing cost three fsyncs and a rename per ADD,
//! milliseconds on a virtual disk, for nothing a restart needs.
//!
//! The store must not panic on what it finds on disk: stray or malformed
//! entries are skipped and reported, and an address whose file exists is
//! never handed out, whatever the file holds. It must not touch network
//! interfaces or decide which container deserves an address.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use ipnet::IpNet;
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use crate::env::{ContainerId, IfName, validate_cni_name};
use crate::error::{CniError, PluginCode};
use crate::netconf::Attachment;

/// Where stores live unless the config says otherwise.
pub const DEFAULT_DATA_DIR: &str = "/var/lib/cni/strait";
/// How long an operation waits for the store lock before giving up with a
/// try-again error.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(10);

const LOCK_FILE: &str = "lock";
const LAST_RESERVED_FILE: &str = "last_reserved_ip";
/// Left behind by versions that replaced `last_reserved_ip` by rename.
const LAST_RESERVED_TMP: &str = "last_reserved_ip.tmp";
/// How owner markers' names start.
const OWNER_PREFIX: &str = "owner:";

/// Longest IPv4 prefix: /30 leaves network, gateway, one pod, broadcast.
const MAX_V4_PREFIX: u8 = 30;
/// Shortest IPv4 prefix: a node range beyond /8 is a misconfiguration.
const MIN_V4_PREFIX: u8 = 8;
/// Longest IPv6 prefix: /126 leaves network, gateway and two pods.
const MAX_V6_PREFIX: u8 = 126;
/// Shortest IPv6 prefix: /64, Kubernetes' default node mask; wider node
/// ranges are not something a node IPAM should be handed.
const MIN_V6_PREFIX: u8 = 64;

/// Why a prefix cannot be a pod CIDR.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    /// The address has bits set beyond the prefix.
    #[error("pod CIDR {cidr} has host bits set; did you mean {network}?")]
    HostBitsSet {
        /// As given.
        cidr: IpNet,
        /// With host bits cleared.
        network: IpNet,
    },
    /// The prefix leaves no pod address after network, gateway, broadcast.
    #[error("pod CIDR {cidr} is too small: use a prefix of /{max_prefix} or shorter")]
    TooSmall {
        /// As given.
        cidr: IpNet,
        /// Longest prefix accepted for its family.
        max_prefix: u8,
    },
    /// The prefix is wider than a node's pod range can sensibly be.
    #[error("pod CIDR {cidr} is too large: use a prefix of /{min_prefix} or longer")]
    TooLarge {
        /// As given.
        cidr: IpNet,
        /// Shortest prefix accepted for its family.
        min_prefix: u8,
    },
}

/// A node's pod CIDR with its usable range worked out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PodCidr {
    net: IpNet,
    /// First pod address, as an integer of the family.
    first: u128,
    /// Last pod address, as an integer of the family.
    last: u128,
}

impl PodCidr {
    /// Validates `net`: no host bits; IPv4 prefix within /8..=/30, IPv6
    /// within /64..=/126.
    pub fn new(net: IpNet) -> Result<Self, CidrError> {
        if net.trunc() != net {
            return Err(CidrError::HostBitsSet {
                cidr: net,
                network: net.trunc(),
            });
        }
        let (min, max) = match net {
            IpNet::V4(_) => (MIN_V4_PREFIX, MAX_V4_PREFIX),
            IpNet::V6(_) => (MIN_V6_PREFIX, MAX_V6_PREFIX),
        };
        let prefix = net.prefix_len();
        if prefix > max {
            return Err(CidrError::TooSmall {
                cidr: net,
                max_prefix: max,
            });
        }
        if prefix < min {
            return Err(CidrError::TooLarge {
                cidr: net,
                min_prefix: min,
            });
        }
        let host_bits = u32::from(net.max_prefix_len() - prefix);
        let base = to_int(net.network());
        // host_bits is at most 64 here, so the shift cannot overflow.
        let span = 1u128 << host_bits;
        let broadcast_skip = if net.addr().is_ipv4() { 2 } else { 1 };
        Ok(Self {
            net,
            first: base + 2,
            last: base + span - broadcast_skip,
        })
    }

    /// The CIDR.
    pub fn network(&self) -> IpNet {
        self.net
    }

    /// The host-side gateway: the first host address.
    pub fn gateway(&self) -> IpAddr {
        self.addr_at(self.first - 1)
    }

    /// The first pod address.
    pub fn first(&self) -> IpAddr {
        self.addr_at(self.first)
    }

    /// The last pod address.
    pub fn last(&self) -> IpAddr {
        self.addr_at(self.last)
    }

    /// How many pod addresses the range holds.
    pub fn size(&self) -> u128 {
        self.last - self.first + 1
    }

    /// Whether `ip` is a pod address of this range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.index(ip).is_some()
    }

    /// `ip` with the CIDR's prefix length, as a result's `address` spells
    /// it; `None` unless `ip` is a pod address of this range.
    pub fn address_of(&self, ip: IpAddr) -> Option<IpNet> {
        self.index(ip)?;
        IpNet::new(ip, self.net.prefix_len()).ok()
    }

    /// The next pod address to hand out: the first one not in `used`,
    /// scanning upward from just after `last` and wrapping to the start of
    /// the range; from the start when `last` is `None` or outside the range.
    /// `None` when every pod address is in `used`. Entries of `used` outside
    /// the range are ignored. Takes at most `used.len() + 1` steps.
    pub fn next_free(&self, used: &BTreeSet<IpAddr>, last: Option<IpAddr>) -> Option<IpAddr> {
        let taken: BTreeSet<u128> = used.iter().filter_map(|&ip| self.index(ip)).collect();
        if (taken.len() as u128) >= self.size() {
            return None;
        }
        let mut cursor = match last.and_then(|ip| self.index(ip)) {
            Some(l) if l < self.last => l + 1,
            _ => self.first,
        };
        // A free address exists, so this ends within taken.len() + 1 steps.
        while taken.contains(&cursor) {
            cursor = if cursor >= self.last {
                self.first
            } else {
                cursor + 1
            };
        }
        Some(self.addr_at(cursor))
    }

    /// `ip` as an integer if it is a pod address of this range.
    fn index(&self, ip: IpAddr) -> Option<u128> {
        if ip.is_ipv4() != self.net.addr().is_ipv4() {
            return None;
        }
        let n = to_int(ip);
        (self.first..=self.last).contains(&n).then_some(n)
    }

    fn addr_at(&self, n: u128) -> IpAddr {
        match self.net {
            // Every integer this type stores came from an address of the
            // CIDR's family, so the IPv4 conversion cannot truncate.
            IpNet::V4(_) => IpAddr::V4(Ipv4Addr::from(u32::try_from(n).unwrap_or(u32::MAX))),
            IpNet::V6(_) => IpAddr::V6(Ipv6Addr::from(n)),
        }
    }
}

fn to_int(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// A failure of the IPAM store.
#[derive(Debug, thiserror::Error)]
pub enum IpamError {
    /// The pod CIDR is unusable.
    #[error(transparent)]
    Cidr(#[from] CidrError),
    /// The network name cannot be a directory name.
    #[error("network name {0:?} cannot name an IPAM store directory")]
    InvalidNetwork(String),
    /// Every pod address is reserved.
    #[error("no free address in {cidr}: all {size} pod addresses are reserved")]
    Exhausted {
        /// The pod CIDR.
        cidr: IpNet,
        /// Its number of pod addresses.
        size: u128,
    },
    /// A filesystem operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// On what.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Another process held the store lock for too long.
    #[error("gave up after {waited:?} waiting for the IPAM lock {path}")]
    LockTimeout {
        /// The lock file.
        path: PathBuf,
        /// How long it waited.
        waited: Duration,
    },
}

impl From<IpamError> for CniError {
    fn from(err: IpamError) -> Self {
        let details = err.to_string();
        match err {
            IpamError::Cidr(_) | IpamError::InvalidNetwork(_) => {
                CniError::invalid_config("invalid IPAM configuration", details)
            }
            IpamError::Exhausted { .. } => {
                CniError::plugin(PluginCode::IPAM_EXHAUSTED, "pod CIDR exhausted", details)
            }
            IpamError::Io { .. } => CniError::io("IPAM store I/O failed", details),
            IpamError::LockTimeout { .. } => {
                CniError::try_again_later("IPAM store is busy", details)
            }
        }
    }
}

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> IpamError {
    let path = path.to_owned();
    move |source| IpamError::Io { op, path, source }
}

/// The address an attachment holds after [`IpamStore::claim`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    /// The address.
    pub ip: IpAddr,
    /// Whether the attachment held it before this call (an ADD retried
    /// after dying half-way, or an ADD of an attachment that exists).
    pub existed: bool,
}

/// A reservation found in the store.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Reservation {
    /// The reserved address.
    pub ip: IpAddr,
    /// The container ID it was reserved for.
    pub container_id: String,
    /// The interface name it was reserved for.
    pub ifname: String,
}

/// Why a directory entry was not read as a reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// The name is neither an address nor one of the store's own files.
    UnknownName,
    /// Named like an address, but not a regular file.
    NotAFile,
    /// Named like an address, but empty: an ADD that died between creating
    /// the file and writing its owner. Blocks the address until GC.
    Incomplete,
    /// Named like an address, but its content is not `<containerID>\n<ifname>`.
    Malformed(String),
    /// Could not be read.
    Unreadable(String),
}

/// A directory entry skipped while reading the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The entry's file name.
    pub name: OsString,
    /// Why.
    pub reason: SkipReason,
}

/// Everything in the store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// Readable reservations, by address.
    pub reservations: Vec<Reservation>,
    /// Entries that are not readable reservations.
    pub skipped: Vec<Skipped>,
}

/// What a GC pass did.
#[derive(Debug, Default)]
pub struct GcReport {
    /// Reservations released because their attachment is not valid.
    pub released: Vec<Reservation>,
    /// Addresses whose empty (crashed-ADD) file was removed.
    pub incomplete_removed: Vec<IpAddr>,
    /// Entries left alone because they could not be read as reservations.
    pub skipped: Vec<Skipped>,
    /// Files GC meant to remove but could not; GC carried on past them.
    pub failed: Vec<(PathBuf, io::Error)>,
}

/// One address-named entry found by a scan.
struct Entry {
    name: OsString,
    ip: IpAddr,
    owner: Owner,
    /// The owner markers naming this address.
    markers: Vec<OsString>,
}

enum Owner {
    Known {
        container_id: String,
        ifname: String,
    },
    Unknown(SkipReason),
}

/// A scan of the store directory.
#[derive(Default)]
struct Scan {
    entries: Vec<Entry>,
    skipped: Vec<Skipped>,
    /// Owner markers whose address has no file, with that address.
    dangling: Vec<(IpAddr, OsString)>,
}

impl Scan {
    fn used(&self) -> BTreeSet<IpAddr> {
        self.entries.iter().map(|e| e.ip).collect()
    }

    fn owned_by<'a>(
        &'a self,
        id: &'a ContainerId,
        ifname: &'a IfName,
    ) -> impl Iterator<Item = &'a Entry> + 'a {
        self.entries.iter().filter(move |e| match &e.owner {
            Owner::Known {
                container_id,
                ifname: i,
            } => container_id == id.as_str() && i == ifname.as_str(),
            Owner::Unknown(_) => false,
        })
    }

    fn into_listing(self) -> Listing {
        let mut skipped = self.skipped;
        let mut reservations = Vec::new();
        for e in self.entries {
            match e.owner {
                Owner::Known {
                    container_id,
                    ifname,
                } => reservations.push(Reservation {
                    ip: e.ip,
                    container_id,
                    ifname,
                }),
                Owner::Unknown(reason) => skipped.push(Skipped {
                    name: e.name,
                    reason,
                }),
            }
        }
        reservations.sort();
        Listing {
            reservations,
            skipped,
        }
    }
}

/// The on-disk reservations of one network on this node.
#[derive(Debug, Clone)]
pub struct IpamStore {
    dir: PathBuf,
    cidr: PodCidr,
    lock_timeout: Duration,
}

impl IpamStore {
    /// Opens (creating if needed) the store `<data_dir>/<network>/` handing
    /// out addresses of `cidr`. `network` must follow the spec's network
    /// name rule, which also keeps it a single path component.
    pub fn open(data_dir: &Path, network: &str, cidr: PodCidr) -> Result<Self, IpamError> {
        validate_cni_name(network).map_err(|_| IpamError::InvalidNetwork(network.to_owned()))?;
        let dir = data_dir.join(network);
        fs::create_dir_all(&dir).map_err(io_err("create directory", &dir))?;
        Ok(Self {
            dir,
            cidr,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
        })
    }

    /// The same store, waiting at most `timeout` for its lock.
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The pod CIDR it hands out from.
    pub fn cidr(&self) -> PodCidr {
        self.cidr
    }

    /// Reserves an address for the attachment `(container_id, ifname)`.
    ///
    /// Idempotent: if the attachment already holds an address of the pod
    /// range, that address is returned and nothing changes, which is how an
    /// ADD that died half-way is completed by the retry. A reservation it
    /// holds outside the range (the node's CIDR changed) is left for
    /// [`release`](Self::release) and a new one is made.
    pub fn reserve(
        &self,
        container_id: &ContainerId,
        ifname: &IfName,
    ) -> Result<IpAddr, IpamError> {
        self.claim(container_id, ifname).map(|claim| claim.ip)
    }

    /// [`reserve`](Self::reserve), also saying whether the address was
    /// already held: ADD needs both, and one locked scan is cheaper than a
    /// lookup followed by a reservation.
    pub fn claim(&self, container_id: &ContainerId, ifname: &IfName) -> Result<Claim, IpamError> {
        let _lock = self.lock(FlockArg::LockExclusiveNonblock)?;
        let scan = self.scan()?;
        if let Some(existing) = scan
            .owned_by(container_id, ifname)
            .map(|e| e.ip)
            .find(|&ip| self.cidr.contains(ip))
        {
            return Ok(Claim {
                ip: existing,
                existed: true,
            });
        }

        let mut used = scan.used();
        let last = self.read_last_reserved();
        loop {
            let ip = self
                .cidr
                .next_free(&used, last)
                .ok_or(IpamError::Exhausted {
                    cidr: self.cidr.network(),
                    size: self.cidr.size(),
                })?;
            // A marker left for this address would name the wrong owner.
            let stale: Vec<OsString> = scan
                .dangling
                .iter()
                .filter(|(marked, _)| *marked == ip)
                .map(|(_, marker)| marker.clone())
                .collect();
            self.remove_markers(&stale)?;
            let path = self.dir.join(ip.to_string());
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => {
                    self.complete_reservation(file, &path, ip, container_id, ifname)?;
                    return Ok(Claim { ip, existed: false });
                }
                // Something outside the lock protocol made it since the
                // scan; treat it as taken and move on.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    used.insert(ip);
                }
                Err(e) => return Err(io_err("create", &path)(e)),
            }
        }
    }

    /// Writes the owner into a freshly created reservation file and records
    /// the address as last reserved; on failure removes the file again so
    /// the address is not leaked.
    fn complete_reservation(
        &self,
        mut file: File,
        path: &Path,
        ip: IpAddr,
        container_id: &ContainerId,
        ifname: &IfName,
    ) -> Result<(), IpamError> {
        let content = format!("{container_id}\n{ifname}");
        let written = file
            .write_all(content.as_bytes())
            .map_err(io_err("write", path))
            .and_then(|()| self.write_last_reserved(ip));
        if written.is_err() {
            // Best effort: the error being returned is the one that matters.
            let _ = fs::remove_file(path);
            return written;
        }
        // Only a shortcut for later scans: without it (a name too long,
        // a full disk) the address file is read instead.
        let marker = self
            .dir
            .join(marker_name(ip, container_id.as_str(), ifname.as_str()));
        let _ = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(marker);
        Ok(())
    }

    /// Removes owner markers; missing ones are fine.
    fn remove_markers(&self, markers: &[OsString]) -> Result<(), IpamError> {
        for marker in markers {
            let path = self.dir.join(marker);
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err("remove", &path)(e)),
            }
        }
        Ok(())
    }

    /// Releases every address held by `(container_id, ifname)` and returns
    /// them; none is not an error, so DEL can be repeated.
    pub fn release(
        &self,
        container_id: &ContainerId,
        ifname: &IfName,
    ) -> Result<Vec<IpAddr>, IpamError> {
        let _lock = self.lock(FlockArg::LockExclusiveNonblock)?;
        let scan = self.scan()?;
        let mut released = Vec::new();
        for entry in scan.owned_by(container_id, ifname) {
            self.remove_markers(&entry.markers)?;
            let path = self.dir.join(&entry.name);
            match fs::remove_file(&path) {
                Ok(()) => released.push(entry.ip),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err("remove", &path)(e)),
            }
        }
        released.sort();
        Ok(released)
    }

    /// The address `(container_id, ifname)` holds, if any (the lowest, in
    /// the unexpected case that it holds several).
    pub fn lookup(
        &self,
        container_id: &ContainerId,
        ifname: &IfName,
    ) -> Result<Option<IpAddr>, IpamError> {
        let _lock = self.lock(FlockArg::LockSharedNonblock)?;
        let scan = self.scan()?;
        Ok(scan.owned_by(container_id, ifname).map(|e| e.ip).min())
    }

    /// Releases every reservation whose attachment is not in `valid`, and
    /// the empty files of ADDs that died before writing their owner.
    /// Malformed entries are reported, not removed. A file that cannot be
    /// removed is reported in [`GcReport::failed`] and GC carries on, as the
    /// spec asks.
    pub fn gc(&self, valid: &[Attachment]) -> Result<GcReport, IpamError> {
        let _lock = self.lock(FlockArg::LockExclusiveNonblock)?;
        let scan = self.scan()?;
        let keep: HashSet<(&str, &str)> = valid
            .iter()
            .map(|a| (a.container_id.as_str(), a.ifname.as_str()))
            .collect();
        let mut report = GcReport {
            skipped: scan.skipped,
            ..GcReport::default()
        };
        for (_, marker) in &scan.dangling {
            let path = self.dir.join(marker);
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => report.failed.push((path, e)),
            }
        }
        for entry in scan.entries {
            let path = self.dir.join(&entry.name);
            let remove = match &entry.owner {
                Owner::Known {
                    container_id,
                    ifname,
                } => !keep.contains(&(container_id.as_str(), ifname.as_str())),
                Owner::Unknown(SkipReason::Incomplete) => true,
                Owner::Unknown(_) => false,
            };
            if !remove {
                if let Owner::Unknown(reason) = entry.owner {
                    report.skipped.push(Skipped {
                        name: entry.name,
                        reason,
                    });
                }
                continue;
            }
            if let Err(IpamError::Io { path, source, .. }) = self.remove_markers(&entry.markers) {
                // Keep the address: its marker would otherwise outlive it.
                report.failed.push((path, source));
                continue;
            }
            match fs::remove_file(&path) {
                Ok(()) => match entry.owner {
                    Owner::Known {
                        container_id,
                        ifname,
                    } => report.released.push(Reservation {
                        ip: entry.ip,
                        container_id,
                        ifname,
                    }),
                    Owner::Unknown(_) => report.incomplete_removed.push(entry.ip),
                },
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => report.failed.push((path, e)),
            }
        }
        report.released.sort();
        report.incomplete_removed.sort();
        Ok(report)
    }

    /// Every reservation, and every entry that could not be read as one.
    pub fn list(&self) -> Result<Listing, IpamError> {
        let _lock = self.lock(FlockArg::LockSharedNonblock)?;
        Ok(self.scan()?.into_listing())
    }

    /// How many pod addresses are free: for STATUS, which should fail when
    /// none is.
    pub fn available(&self) -> Result<u128, IpamError> {
        let _lock = self.lock(FlockArg::LockSharedNonblock)?;
        let taken = self
            .scan()?
            .entries
            .iter()
            .filter(|e| self.cidr.contains(e.ip))
            .count();
        Ok(self.cidr.size().saturating_sub(taken as u128))
    }

    /// Takes the store lock, polling a non-blocking `flock` so that a holder
    /// that hangs turns into a try-again error rather than a hung ADD.
    fn lock(&self, arg: FlockArg) -> Result<Flock<File>, IpamError> {
        let path = self.dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_err("open lock", &path))?;
        let start = Instant::now();
        // Holders keep the lock for a scan and a file or two (well under
        // a millisecond), so waiters poll often at first.
        let mut backoff = Duration::from_micros(50);
        loop {
            match Flock::lock(file, arg) {
                Ok(lock) => return Ok(lock),
                Err((f, errno)) if errno == Errno::EWOULDBLOCK || errno == Errno::EINTR => {
                    let waited = start.elapsed();
                    if waited >= self.lock_timeout {
                        return Err(IpamError::LockTimeout { path, waited });
                    }
                    file = f;
                    thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_millis(2));
                }
                Err((_, errno)) => {
                    return Err(io_err("lock", &path)(io::Error::from(errno)));
                }
            }
        }
    }

    fn scan(&self) -> Result<Scan, IpamError> {
        let mut scan = Scan::default();
        let dir = fs::read_dir(&self.dir).map_err(io_err("read directory", &self.dir))?;
        let mut markers: HashMap<IpAddr, Vec<(OsString, String, String)>> = HashMap::new();
        let mut files = Vec::new();
        for dirent in dir {
            let dirent = dirent.map_err(io_err("read directory", &self.dir))?;
            let name = dirent.file_name();
            let text = name.to_str();
            if let Some(ip) = text.and_then(|s| s.parse::<IpAddr>().ok()) {
                files.push((name, ip, dirent.file_type()));
            } else if let Some((ip, id, ifname)) = text.and_then(parse_marker) {
                markers.entry(ip).or_default().push((name, id, ifname));
            } else {
                let own = [LOCK_FILE, LAST_RESERVED_FILE, LAST_RESERVED_TMP];
                if !own.iter().any(|o| name.as_os_str() == *o) {
                    scan.skipped.push(Skipped {
                        name,
                        reason: SkipReason::UnknownName,
                    });
                }
            }
        }
        // Files are opened relative to the directory: one path component
        // to resolve instead of the whole data dir path, per file.
        let mut dir_fd = None;
        for (name, ip, file_type) in files {
            let mine = markers.remove(&ip).unwrap_or_default();
            let owner = match (file_type, mine.as_slice()) {
                (Ok(t), [(_, id, ifname)]) if t.is_file() => Owner::Known {
                    container_id: id.clone(),
                    ifname: ifname.clone(),
                },
                (Ok(t), _) if t.is_file() => {
                    if dir_fd.is_none() {
                        let file =
                            File::open(&self.dir).map_err(io_err("open directory", &self.dir))?;
                        dir_fd = Some(file);
                    }
                    match &dir_fd {
                        Some(dir) => read_owner(dir, &name),
                        None => Owner::Unknown(SkipReason::Unreadable("no directory".into())),
                    }
                }
                (Ok(_), _) => Owner::Unknown(SkipReason::NotAFile),
                (Err(e), _) => Owner::Unknown(SkipReason::Unreadable(e.to_string())),
            };
            let markers = mine.into_iter().map(|(marker, _, _)| marker).collect();
            scan.entries.push(Entry {
                name,
                ip,
                owner,
                markers,
            });
        }
        scan.dangling = markers
            .into_iter()
            .flat_map(|(ip, found)| found.into_iter().map(move |(marker, _, _)| (ip, marker)))
            .collect();
        scan.entries
            .sort_by(|a, b| a.ip.cmp(&b.ip).then(a.name.cmp(&b.name)));
        scan.skipped.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(scan)
    }

    fn read_last_reserved(&self) -> Option<IpAddr> {
        let text = fs::read_to_string(self.dir.join(LAST_RESERVED_FILE)).ok()?;
        text.trim().parse().ok()
    }

    /// Rewrites `last_reserved_ip` in place (under the exclusive lock, so
    /// no reader sees it half-written). Not truncating to zero and not
    /// renaming keeps ext4 from flushing it on close (auto_da_alloc); a
    /// process killed between the write and the resize leaves at worst a
    /// wrong hint.
    fn write_last_reserved(&self, ip: IpAddr) -> Result<(), IpamError> {
        use std::os::unix::fs::FileExt as _;
        let path = self.dir.join(LAST_RESERVED_FILE);
        let text = ip.to_string();
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_err("open", &path))?;
        file.write_all_at(text.as_bytes(), 0)
            .and_then(|()| file.set_len(text.len() as u64))
            .map_err(io_err("write", &path))
    }
}

/// The owner marker's name for `ip` held by `(container_id, ifname)`.
fn marker_name(ip: IpAddr, container_id: &str, ifname: &str) -> String {
    format!("{OWNER_PREFIX}{ip}:{container_id}:{ifname}")
}

/// Reads an owner marker's name back: the address, container ID and
/// ifname, each valid, or `None`. The address (IPv6 has colons) is what
/// is left once the last two colon-separated parts are taken.
fn parse_marker(name: &str) -> Option<(IpAddr, String, String)> {
    let rest = name.strip_prefix(OWNER_PREFIX)?;
    let mut parts = rest.rsplitn(3, ':');
    let ifname = IfName::parse(parts.next()?).ok()?;
    let id = ContainerId::parse(parts.next()?).ok()?;
    let ip = parts.next()?.parse().ok()?;
    Some((ip, id.as_str().to_owned(), ifname.as_str().to_owned()))
}

/// Reads reservation file `name` of the directory `dir`: open, one read
/// (they are a few dozen bytes), close.
fn read_owner(dir: &File, name: &std::ffi::OsStr) -> Owner {
    let read = || -> io::Result<Vec<u8>> {
        let fd = nix::fcntl::openat(
            dir,
            name,
            nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )?;
        let mut file = File::from(fd);
        let mut first = [0u8; 256];
        let n = file.read(&mut first)?;
        let mut bytes = first.get(..n).unwrap_or_default().to_vec();
        if n == first.len() {
            file.read_to_end(&mut bytes)?;
        }
        Ok(bytes)
    };
    match read() {
        Ok(bytes) => parse_owner(&bytes),
        Err(e) => Owner::Unknown(SkipReason::Unreadable(e.to_string())),
    }
}

/// A reservation file's content: `<containerID>\n<ifname>`, tolerating a
/// `\r` before the newline (host-local's separator) and trailing
/// whitespace.
fn parse_owner(bytes: &[u8]) -> Owner {
    if bytes.is_empty() {
        return Owner::Unknown(SkipReason::Incomplete);
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Owner::Unknown(SkipReason::Malformed("not UTF-8".into()));
    };
    let Some((id, ifname)) = text.trim_end().split_once('\n') else {
        return Owner::Unknown(SkipReason::Malformed("no ifname line".into()));
    };
    let id = id.strip_suffix('\r').unwrap_or(id);
    match (ContainerId::parse(id), IfName::parse(ifname)) {
        (Ok(id), Ok(ifname)) => Owner::Known {
            container_id: id.as_str().to_owned(),
            ifname: ifname.as_str().to_owned(),
        },
        (Err(e), _) => Owner::Unknown(SkipReason::Malformed(format!("container ID {e}"))),
        (_, Err(e)) => Owner::Unknown(SkipReason::Malformed(format!("ifname {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::Arc;

    fn cidr(s: &str) -> PodCidr {
        PodCidr::new(s.parse().unwrap()).unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn set(ips: &[&str]) -> BTreeSet<IpAddr> {
        ips.iter().map(|s| ip(s)).collect()
    }

    fn cid(s: &str) -> ContainerId {
        ContainerId::parse(s).unwrap()
    }

    fn ifn(s: &str) -> IfName {
        IfName::parse(s).unwrap()
    }

    #[test]
    fn pod_cidr_layout() {
        // (cidr, gateway, first, last, size)
        let cases: &[(&str, &str, &str, &str, u128)] = &[
            (
                "10.244.1.0/24",
                "10.244.1.1",
                "10.244.1.2",
                "10.244.1.254",
                253,
            ),
            ("10.0.0.0/29", "10.0.0.1", "10.0.0.2", "10.0.0.6", 5),
            ("10.0.0.0/30", "10.0.0.1", "10.0.0.2", "10.0.0.2", 1),
            (
                "10.0.0.0/8",
                "10.0.0.1",
                "10.0.0.2",
                "10.255.255.254",
                (1 << 24) - 3,
            ),
            ("fd00::/126", "fd00::1", "fd00::2", "fd00::3", 2),
            ("fd00::/120", "fd00::1", "fd00::2", "fd00::ff", 254),
            (
                "fd00:10:244:1::/64",
                "fd00:10:244:1::1",
                "fd00:10:244:1::2",
                "fd00:10:244:1:ffff:ffff:ffff:ffff",
                (1 << 64) - 2,
            ),
        ];
        for (c, gw, first, last, size) in cases {
            let p = cidr(c);
            assert_eq!(p.gateway(), ip(gw), "{c}");
            assert_eq!(p.first(), ip(first), "{c}");
            assert_eq!(p.last(), ip(last), "{c}");
            assert_eq!(p.size(), *size, "{c}");
            assert!(!p.contains(p.network().network()), "{c}: network");
            assert!(!p.contains(p.gateway()), "{c}: gateway");
            assert!(p.contains(p.first()) && p.contains(p.last()), "{c}");
        }
    }

    #[test]
    fn pod_cidr_skips_ipv4_broadcast_only() {
        assert!(!cidr("10.0.0.0/24").contains(ip("10.0.0.255")));
        assert!(cidr("fd00::/120").contains(ip("fd00::ff")));
        assert!(!cidr("10.0.0.0/24").contains(ip("10.0.1.2")));
        assert!(!cidr("10.0.0.0/24").contains(ip("::a00:2")));
        assert!(!cidr("::/120").contains(ip("0.0.0.2")));
    }

    #[test]
    fn pod_cidr_rejects() {
        let cases: &[(&str, CidrError)] = &[
            (
                "10.0.0.1/24",
                CidrError::HostBitsSet {
                    cidr: "10.0.0.1/24".parse().unwrap(),
                    network: "10.0.0.0/24".parse().unwrap(),
                },
            ),
            (
                "10.0.0.0/31",
                CidrError::TooSmall {
                    cidr: "10.0.0.0/31".parse().unwrap(),
                    max_prefix: 30,
                },
            ),
            (
                "10.0.0.0/32",
                CidrError::TooSmall {
                    cidr: "10.0.0.0/32".parse().unwrap(),
                    max_prefix: 30,
                },
            ),
            (
                "0.0.0.0/0",
                CidrError::TooLarge {
                    cidr: "0.0.0.0/0".parse().unwrap(),
                    min_prefix: 8,
                },
            ),
            (
                "fd00::/127",
                CidrError::TooSmall {
                    cidr: "fd00::/127".parse().unwrap(),
                    max_prefix: 126,
                },
            ),
            (
                "fd00::/56",
                CidrError::TooLarge {
                    cidr: "fd00::/56".parse().unwrap(),
                    min_prefix: 64,
                },
            ),
        ];
        for (c, want) in cases {
            assert_eq!(PodCidr::new(c.parse().unwrap()).unwrap_err(), *want, "{c}");
        }
    }

    #[test]
    fn address_of_adds_the_prefix() {
        let p = cidr("10.244.1.0/24");
        assert_eq!(
            p.address_of(ip("10.244.1.7")),
            Some("10.244.1.7/24".parse().unwrap())
        );
        assert_eq!(p.address_of(ip("10.244.1.1")), None);
        assert_eq!(p.address_of(ip("10.244.2.7")), None);
    }

    #[test]
    fn next_free_table() {
        let p = cidr("10.0.0.0/29"); // pods .2 ..= .6
        // (used, last, want)
        let cases: &[(&[&str], Option<&str>, Option<&str>)] = &[
            (&[], None, Some("10.0.0.2")),
            (&[], Some("10.0.0.2"), Some("10.0.0.3")),
            (&["10.0.0.3"], Some("10.0.0.2"), Some("10.0.0.4")),
            // Wraps after the last pod address.
            (&[], Some("10.0.0.6"), Some("10.0.0.2")),
            (
                &["10.0.0.2", "10.0.0.3"],
                Some("10.0.0.6"),
                Some("10.0.0.4"),
            ),
            // A released address is not reused while others are free.
            (&["10.0.0.3"], Some("10.0.0.3"), Some("10.0.0.4")),
            // `last` outside the range (gateway, broadcast, other CIDR).
            (&[], Some("10.0.0.1"), Some("10.0.0.2")),
            (&[], Some("10.0.0.7"), Some("10.0.0.2")),
            (&[], Some("192.168.0.4"), Some("10.0.0.2")),
            (&[], Some("fd00::4"), Some("10.0.0.2")),
            // Used entries outside the range do not count.
            (
                &["10.0.0.1", "10.0.0.7", "10.0.1.2", "fd00::2"],
                None,
                Some("10.0.0.2"),
            ),
            // Only one left.
            (
                &["10.0.0.2", "10.0.0.3", "10.0.0.5", "10.0.0.6"],
                Some("10.0.0.5"),
                Some("10.0.0.4"),
            ),
            // Exhausted.
            (
                &["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"],
                None,
                None,
            ),
            (
                &[
                    "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6", "10.0.0.7",
                ],
                Some("10.0.0.4"),
                None,
            ),
        ];
        for (used, last, want) in cases {
            let got = p.next_free(&set(used), last.map(ip));
            assert_eq!(got, want.map(ip), "used {used:?} last {last:?}");
        }
    }

    #[test]
    fn next_free_on_a_huge_ipv6_range_is_cheap() {
        let p = cidr("fd00::/64");
        let used = set(&["fd00::2", "fd00::3", "fd00::4"]);
        assert_eq!(p.next_free(&used, None), Some(ip("fd00::5")));
        assert_eq!(
            p.next_free(&BTreeSet::new(), Some(p.last())),
            Some(ip("fd00::2"))
        );
    }

    proptest! {
        /// Against a brute-force model on a /27: the answer is the first
        /// address not used, cyclically after `last`.
        #[test]
        fn next_free_matches_model(
            used in proptest::collection::btree_set(0u32..32, 0..32),
            last in proptest::option::of(0u32..34),
        ) {
            let p = cidr("10.1.2.0/27");
            let base = u32::from(Ipv4Addr::new(10, 1, 2, 0));
            let as_ip = |o: u32| IpAddr::V4(Ipv4Addr::from(base + o));
            let used_ips: BTreeSet<IpAddr> = used.iter().map(|&o| as_ip(o)).collect();
            let pods: Vec<u32> = (2..=30).collect();
            let start = match last {
                Some(l) if (2..30).contains(&l) => l + 1,
                _ => 2,
            };
            let model = pods
                .iter()
                .map(|&o| if o >= start { o - start } else { o + 29 - start })
                .zip(pods.iter())
                .filter(|(_, o)| !used.contains(o))
                .min()
                .map(|(_, &o)| as_ip(o));
            let got = p.next_free(&used_ips, last.map(as_ip));
            prop_assert_eq!(got, model);
            if let Some(g) = got {
                prop_assert!(p.contains(g));
                prop_assert!(!used_ips.contains(&g));
            }
        }

        #[test]
        fn layout_invariants(addr in any::<u32>(), prefix in 8u8..=30) {
            let net = IpNet::new(IpAddr::V4(Ipv4Addr::from(addr)), prefix).unwrap().trunc();
            let p = PodCidr::new(net).unwrap();
            prop_assert_eq!(p.size(), (1u128 << (32 - prefix)) - 3);
            prop_assert!(net.contains(&p.first()) && net.contains(&p.last()));
            prop_assert!(net.contains(&p.gateway()));
            prop_assert!(!p.contains(net.broadcast()));
            prop_assert!(!p.contains(net.network()));
            prop_assert!(!p.contains(p.gateway()));
        }
    }

    // ---- on-disk store ----

    fn store(dir: &Path, c: &str) -> IpamStore {
        IpamStore::open(dir, "strait", cidr(c)).unwrap()
    }

    fn read(path: &Path) -> String {
        fs::read_to_string(path).unwrap()
    }

    #[test]
    fn reserve_writes_the_layout() {
        let tmp = tempfile::tempdir().unwrap();
        let s = store(tmp.path(), "10.0.0.0/24");
        assert_eq!(s.dir(), tmp.path().join("strait"));
        let got = s.reserve(&cid("abc"), &ifn("eth0")).unwrap();
        assert_eq!(got, ip("10.0.0.2"));
        assert_eq!(read(&s.dir().join("10.0.0.2")), "abc\neth0");
        assert_eq!(read(&s.dir().join("owner:10.0.0.2:abc:eth0")), "");
        assert_eq!(read(&s.dir().join("last_reserved_ip")), "10.0.0.2");
        assert!(s.dir().join("lock").exists());
        assert!(!s.dir().join("last_reserved_ip.tmp").exists());
        let names: BTreeSet<String> = fs::read_dir(s.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 4, "{names:?}");
    }

    #[test]
    fn marker_names_round_trip() {
        for (ip_text, id, ifname) in [
            ("10.0.0.2", "abc", "eth0"),
            ("fd00:10:244:1::2", "k8s_pod.1-x", "net1"),
            ("::ffff:10.0.0.1", "a", "e"),
        ] {
            let name = marker_name(ip(ip_text), id, ifname);
            assert_eq!(
                parse_marker(&name),
                Some((ip(ip_text), id.to_owned(), ifname.to_owned())),
                "{name}"
            );
        }
        for bad in [
            "owner:10.0.0.2:abc",
            "owner:10.0.0.2::eth0",
            "owner:nonsense:abc:eth0",
            "owner:10.0.0.2:a/b:eth0",
            "10.0.0.2:abc:eth0",
        ] {
            assert_eq!(parse_marker(bad), None, "{bad}");
        }
    }

    #[test]
    fn markers_follow_their_addresses() {
        let tmp = tempfile::tempdir().unwrap();
        let s = store(tmp.path(), "10.0.0.0/24");
        let a = s.reserve(&cid("a"), &ifn("eth0")).unwrap();
        let marker = s.dir().join(format!("owner:{a}:a:eth0"));
        // With one marker the file is not read: the marker names the owner.
        fs::write(s.dir().join(a.to_string()), "tampered\neth9").unwrap();
        assert_eq!(s.lookup(&cid("a"), &ifn("eth0")).unwrap(), Some(a));
        s.release(&cid("a"), &ifn("eth0")).unwrap();
        assert!(!marker.exists() && !s.dir().join(a.to_string()).exists());

        // An address file without a marker (a process killed in between)
        // is read; a marker without a file is ignored, then removed by GC.
        fs::write(s.dir().join("10.0.0.7"), "b\neth0").unwrap();
        fs::write(s.dir().join("owner:10.0.0.9:c:eth0"), "").unwrap();
        assert_eq!(
            s.lookup(&cid("b"), &ifn("eth0")).unwrap(),
            Some(ip("10.0.0.7"))
        );
        assert_eq!(s.lookup(&cid("c"), &ifn("eth0")).unwrap(), None);
        // Two markers for one address: the file decides.
        fs::write(s.dir().join("owner:10.0.0.7:b:eth0"), "").unwrap();
        fs::write(s.dir().join("owner:10.0.0.7:z:eth0"), "").unwrap();
        assert_eq!(s.lookup(&cid("z"), &ifn("eth0")).unwrap(), None);
        assert_eq!(
            s.lookup(&cid("b"), &ifn("eth0")).unwrap(),
            Some(ip("10.0.0.7"))
        );
        let report = s
            .gc(&[Attachment {
                container_id: "b".into(),
                ifname: "eth0".into(),
            }])
            .unwrap();
        assert!(report.released.is_empty() && report.failed.is_empty());
        assert!(!s.dir().join("owner:10.0.0.9:c:eth0").exists());
        // Reserving an address removes markers left for it first.
        fs::write(s.dir().join("owner:10.0.0.9:c:eth0"), "").unwrap();
        fs::write(s.dir().join("last_reserved_ip"), "10.0.0.8").unwrap();
        let long = "d".repeat(300); // too long for a marker name
        assert_eq!(
            s.reserve(&cid(&long), &ifn("eth0")).unwrap(),
            ip("10.0.0.9")
        );
        assert_eq!(s.lookup(&cid("c"), &ifn("eth0")).unwrap(), None);
        assert_eq!(
            s.lookup(&cid(&long), &ifn("eth0")).unwrap(),
            Some(ip("10.0.0.9"))
        );
        s.release(&cid(&long), &ifn("eth0")).unwrap();
        // Releasing b removes every marker of its address.
        s.release(&cid("b"), &ifn("eth0")).unwrap();
        let names: Vec<String> = fs::read_dir(s.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with("owner:") || n.parse::<IpAddr>().is_ok())
            .collect();
        assert!(names.is_empty(), "{names:?}");
    }

    #[test]
    fn claim_says_whether_the_attachment_held_its_address() {
        let tmp = tempfile::tempdir().unwrap();
        let s = store(tmp.path(), "10.0.0.0/24");
        let first = s.claim(&cid("a"), &ifn("eth0")).unwrap();
        assert_eq!(
            first,
            Claim {
                ip: ip("10.0.0.2"),
                existed: false
            }
        );
        let again = s.claim(&cid("a"), &ifn("eth0")).unwrap();
        assert_eq!(
            again,
            Claim {
                ip: ip("10.0.0.2"),
                existed: true
            }
        );
    }

    #[test]
    fn last_reserved_is_rewritten_in_place_when_it_shrinks() {
        let tmp = tempfile::tempdir().unwrap();
        let s = store(tmp.path(), "10.0.0.0/24");
        fs::write(s.dir().join("last_reserved_ip"), "10.0.0.253").unwrap();
        assert_eq!(
            s.reserve(&cid("a"), &ifn("eth0")).unwrap(),
            ip("10.0.0.254")
        );
        assert_eq!(s.reserve(&cid("b"), &ifn("eth0")).unwrap(), ip("10.0.0.2"));
        assert_eq!(read(&s.dir().join("last_reserved_ip")), "10.0.0.2");
        assert_eq!(s.reserve(&cid("c"), &ifn("eth0")).unwrap(), ip("10.0.0.3"));
    }

    #[test]
    fn reserve_is_idempotent_and_round_robin() {
        let tmp = tempfile::tempdir().unwrap();
        let s = store(tmp.path(), "10.0.0.0/24");
        let a = s.reserve(&cid("a"), &ifn("eth0")).unwrap();
        assert_eq!(s.reserve(&cid("a"), &ifn("eth0")).unwrap(), a);
        let a1 = s.reserve(&cid("a"), &ifn("eth1")).unwrap();
        let b = s.reserve(&cid("b"), &ifn("eth0")).unwrap();
        assert_eq!((a, a1, b), (ip("10.0.0.2"), ip("10.0.0.3"), ip("10.0.0.4")));
        assert_eq!(s.release(&cid("a"), &ifn("eth0")).unwrap(), vec![a]);
        // .2 is free again but round robin moves on.
        assert_eq!(s.reserve(&cid("c"), &ifn("eth0")).unwrap(), ip("10.0.0.5"));
        assert_eq!(s.lookup(&cid("a"), &ifn("eth0")).unwrap(), None);
        assert_eq!(s.lookup(&cid("a"), &ifn("eth1")).unwrap(), Some(a1));
    }

    #[test]
    fn release_is_idempotent() {
        let tmp = tempfile::tempdir().unwrap();
        let s = store(tmp.path(), "10.0.0.0/24");
        assert!(s.release(&cid("x"), &ifn("eth0")).unwrap().is_empty());
        let got = s.reserve(&cid("x"), &ifn("eth0")).unwrap();
        assert_eq!(s.release(&cid("x"), &ifn("eth0")).unwrap(), vec![got]);
        assert!(s.release(&cid("x"), &ifn("eth0")).unwrap().is_empty());
        assert!(!s.dir().join(got.to_string()).exists());
    }

    #[test]
    fn exhaustion_of_a_slash_29() {
        let tmp = tempfile::tempdir().unwrap();
        let s = store(tmp.path(), "10.0.0.0/29");
        let got: Vec<IpAddr> = (0..5)
            .map(|i| s.reserve(&cid(&format!("c{i}")), &ifn("eth0")).unwrap())
            .collect();
        assert_eq!(
            got,
            ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"].map(ip)
        );
        assert_eq!(s.available().unwrap(), 0);

        let err = s.reserve(&cid("c5"), &ifn("eth0")).unwrap_err();
        assert!(
            matches!(err, IpamError::Exhausted { size: 5, .. }),
            "{err:?}"
        );
        let cni: CniError = err.into();
        assert_eq!(cni.code(), PluginCode::IPAM_EXHAUSTED.get());
        assert!(cni.details().contains("10.0.0.0/29"), "{cni}");

        // An existing attachment still gets its address when full.
        assert_eq!(s.reserve(&cid("c3"), &ifn("eth0")).unwrap(), ip("10.0.0.5"));

        s.release(&cid("c2"), &ifn("eth0")).unwrap();
        assert_eq!(s.available().unwrap(), 1);
        assert_eq!(s.reserve(&cid("c5"), &ifn("eth0")).unwrap(), ip("10.0.0.4"));
        // Wrap-around: free .2, last reserved is .4, next free is .2.
        s.release(&cid("c0"), &ifn("eth0")).unwrap();
        assert_eq!(s.reserve(&cid("c6"), &ifn("eth0")).unwrap(), ip("10.0.0.2"));
    }

    #[test]
    fn ipv6_store() {
        let tmp = tempfile::tempdir().unwrap();
        let s = store(tmp.path(), "fd00:10:244:1::/64");
        let a = s.reserve(&cid("a"), &ifn("eth0")).unwrap();
        let b = s.reserve(&cid("b"), &ifn("eth0")).unwrap();
        assert_eq!((a, b), (ip("fd00:10:244:1::2"), ip("fd00:10:244:1::3")));
        assert_eq!(read(&s.dir().join("fd00:10:244:1::2")), "a\neth0");
    }

    #[test]
    fn a_reservation_without_last_reserved_is_recovered() {
        // An ADD that died after writing its file but before recording it.
        let tmp = tempfile::tempdir().unwrap();
        let s = store(tmp.path(), "10.0.0.0/24");
        fs::write(s.dir().join("10.0.0.9"), "crashed\neth0").unwrap();
        assert_eq!(
            s.reserve(&cid("crashed"), &ifn("eth0")).unwrap(),
            ip("10.0.0.9")
        );
        assert!(!s.dir().join("last_reserved_ip").exists());
        assert_eq!(
            s.reserve(&cid("next"), &ifn("eth0")).unwrap(),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn reads_owners_longer_than_one_read() {
        let tmp = tempfile::tempdir().unwrap();
        let s = store(tmp.path(), "10.0.0.0/24");
        let long = "c".repeat(600);
        let got = s.reserve(&cid(&long), &ifn("eth0")).unwrap();
        assert_eq!(s.lookup(&cid(&long), &ifn("eth0")).unwrap(), Some(got));
        assert_eq!(s.lookup(&cid(&long[1..]), &ifn("eth0")).unwrap(), None);
    }

    #[test]
    fn reads_host_local_line_breaks() {
        let tmp = tempfile::tempdir().unwrap();
        let s = store(tmp.path(), "10.0.0.0/24");
        fs::write(s.dir().join("10.0.0.2"), "abc\r\neth0").unwrap();
        fs::write(s.dir().join("10.0.0.3"), "def\neth0\n").unwrap();
        assert_eq!(
            s.lookup(&cid("abc"), &ifn("eth0")).unwrap(),
            Some(ip("10.0.0.2"))
        );
        assert_eq!(
            s.lookup(&cid("def"), &ifn("eth0")).unwrap(),
            Some(ip("10.0.0.3"))
        );
    }

    #[test]
    fn stray_and_malformed_entries_are_skipped_and_never_handed_out() {
        let tmp = tempfile::tempdir().unwrap();
        let s = store(tmp.path(), "10.0.0.0/29");
        let d = s.dir().to_owned();
        fs::create_dir(d.join("10.0.0.2")).unwrap(); // a directory named like an IP
        fs::write(d.join("10.0.0.3"), "\u{1}garbage").unwrap();
        fs::write(d.join("10.0.0.4"), "").unwrap(); // crashed ADD
        fs::write(d.join("10.0.0.5"), [0xff, 0xfe, b'\n', b'x']).unwrap();
        fs::write(d.join("README"), "hello").unwrap();
        fs::create_dir(d.join("subdir")).unwrap();
        fs::write(d.join("last_reserved_ip"), "not an ip").unwrap();
        fs::write(d.join("10.0.0.6"), "ok\neth0").unwrap();

        let listing = s.list().unwrap();
        assert_eq!(
            listing.reservations,
            vec![Reservation {
                ip: ip("10.0.0.6"),
                container_id: "ok".into(),
                ifname: "eth0".into()
            }]
        );
        let skipped: Vec<(&str, SkipReason)> = listing
            .skipped
            .iter()
            .map(|s| (s.name.to_str().unwrap(), s.reason.clone()))
            .collect();
        assert_eq!(skipped.len(), 6, "{skipped:?}");
        assert!(skipped.contains(&("README", SkipReason::UnknownName)));
        assert!(skipped.contains(&("subdir", SkipReason::UnknownName)));
        assert!(skipped.contains(&("10.0.0.2", SkipReason::NotAFile)));
        assert!(skipped.contains(&("10.0.0.4", SkipReason::Incomplete)));
        assert!(
            skipped
                .iter()
                .any(|(n, r)| *n == "10.0.0.3" && matches!(r, SkipReason::Malformed(_)))
        );
        assert!(
            skipped
                .iter()
                .any(|(n, r)| *n == "10.0.0.5" && matches!(r, SkipReason::Malformed(_)))
        );

        // Every pod address has a file of some kind: nothing to hand out.
        assert!(matches!(
            s.reserve(&cid("new"), &ifn("eth0")),
            Err(IpamError::Exhausted { .. })
        ));
    }

    #[test]
    fn gc_releases_what_is_not_valid() {
        let tmp = tempfile::tempdir().unwrap();
        let s = store(tmp.path(), "10.0.0.0/24");
        let keep = s.reserve(&cid("keep"), &ifn("eth0")).unwrap();
        let gone = s.reserve(&cid("gone"), &ifn("eth0")).unwrap();
        let other_if = s.reserve(&cid("keep"), &ifn("eth1")).unwrap();
        fs::write(s.dir().join("10.0.0.50"), "").unwrap();
        fs::write(s.dir().join("10.0.0.51"), "junk").unwrap();
        fs::write(s.dir().join("notes.txt"), "x").unwrap();

        let report = s
            .gc(&[
                Attachment {
                    container_id: "keep".into(),
                    ifname: "eth0".into(),
                },
                Attachment {
                    container_id: "absent".into(),
                    ifname: "eth0".into(),
                },
            ])
            .unwrap();
        let released: Vec<IpAddr> = report.released.iter().map(|r| r.ip).collect();
        assert_eq!(released, vec![gone, other_if]);
        assert_eq!(report.incomplete_removed, vec![ip("10.0.0.50")]);
        let skipped: Vec<&str> = report
            .skipped
            .iter()
            .map(|s| s.name.to_str().unwrap())
            .collect();
        assert_eq!(skipped.len(), 2);
        assert!(skipped.contains(&"10.0.0.51") && skipped.contains(&"notes.txt"));
        assert!(report.failed.is_empty());

        assert_eq!(s.lookup(&cid("keep"), &ifn("eth0")).unwrap(), Some(keep));
        assert_eq!(s.lookup(&cid("gone"), &ifn("eth0")).unwrap(), None);
        assert!(!s.dir().join("10.0.0.50").exists());
        assert!(s.dir().join("10.0.0.51").exists());

        // An empty valid list releases every readable reservation.
        let report = s.gc(&[]).unwrap();
        assert_eq!(report.released.len(), 1);
        assert!(s.list().unwrap().reservations.is_empty());
    }

    #[test]
    fn a_reservation_outside_a_changed_cidr_is_replaced_then_released() {
        let tmp = tempfile::tempdir().unwrap();
        let old = store(tmp.path(), "10.0.0.0/24");
        let old_ip = old.reserve(&cid("a"), &ifn("eth0")).unwrap();
        let new = store(tmp.path(), "10.1.0.0/24");
        let new_ip = new.reserve(&cid("a"), &ifn("eth0")).unwrap();
        assert_eq!(new_ip, ip("10.1.0.2"));
        assert_eq!(
            new.release(&cid("a"), &ifn("eth0")).unwrap(),
            vec![old_ip, new_ip]
        );
    }

    #[test]
    fn lookup_returns_the_lowest_of_several() {
        // Only something outside strait could write two files for one
        // attachment; lookup still answers, and release frees both.
        let tmp = tempfile::tempdir().unwrap();
        let s = store(tmp.path(), "10.0.0.0/24");
        fs::write(s.dir().join("10.0.0.9"), "a\neth0").unwrap();
        fs::write(s.dir().join("10.0.0.8"), "a\neth0").unwrap();
        fs::write(s.dir().join("10.0.0.10"), "b\neth0").unwrap();
        assert_eq!(
            s.lookup(&cid("a"), &ifn("eth0")).unwrap(),
            Some(ip("10.0.0.8"))
        );
        assert_eq!(
            s.release(&cid("a"), &ifn("eth0")).unwrap(),
            vec![ip("10.0.0.8"), ip("10.0.0.9")]
        );
        assert_eq!(
            s.lookup(&cid("b"), &ifn("eth0")).unwrap(),
            Some(ip("10.0.0.10"))
        );
    }

    #[test]
    fn open_rejects_network_names_that_escape() {
        let tmp = tempfile::tempdir().unwrap();
        for bad in ["", "..", "../x", "a/b", ".hidden", "a b"] {
            let err = IpamStore::open(tmp.path(), bad, cidr("10.0.0.0/24")).unwrap_err();
            assert!(matches!(err, IpamError::InvalidNetwork(_)), "{bad:?}");
            assert_eq!(CniError::from(err).code(), 7);
        }
    }

    #[test]
    fn a_held_lock_turns_into_try_again() {
        let tmp = tempfile::tempdir().unwrap();
        let s = store(tmp.path(), "10.0.0.0/24").with_lock_timeout(Duration::from_millis(50));
        let holder = File::create(s.dir().join("lock")).unwrap();
        let held = Flock::lock(holder, FlockArg::LockExclusive).unwrap();
        let err = s.reserve(&cid("a"), &ifn("eth0")).unwrap_err();
        assert!(matches!(err, IpamError::LockTimeout { .. }), "{err:?}");
        assert_eq!(CniError::from(err).code(), 11);
        drop(held);
        assert!(s.reserve(&cid("a"), &ifn("eth0")).is_ok());
    }

    #[test]
    fn shared_readers_do_not_block_each_other() {
        let tmp = tempfile::tempdir().unwrap();
        let s = store(tmp.path(), "10.0.0.0/24").with_lock_timeout(Duration::from_millis(50));
        let holder = File::create(s.dir().join("lock")).unwrap();
        let held = Flock::lock(holder, FlockArg::LockShared).unwrap();
        assert!(s.list().is_ok());
        assert!(s.lookup(&cid("a"), &ifn("eth0")).is_ok());
        assert!(matches!(
            s.reserve(&cid("a"), &ifn("eth0")),
            Err(IpamError::LockTimeout { .. })
        ));
        drop(held);
    }

    #[test]
    fn io_errors_map_to_code_5() {
        let err = IpamError::Io {
            op: "create",
            path: PathBuf::from("/x"),
            source: io::Error::from(io::ErrorKind::PermissionDenied),
        };
        assert_eq!(CniError::from(err).code(), 5);
    }

    #[test]
    fn concurrent_retries_of_one_attachment_share_one_address() {
        // The spec forbids parallel ADDs for one container, but a runtime
        // retrying after a timeout can still race the first attempt; the
        // lock makes the scan-then-create step atomic, so both agree.
        let tmp = tempfile::tempdir().unwrap();
        let root = Arc::new(tmp.path().to_owned());
        let start = Arc::new(std::sync::Barrier::new(20));
        let handles: Vec<_> = (0..20)
            .map(|_| {
                let root = Arc::clone(&root);
                let start = Arc::clone(&start);
                thread::spawn(move || {
                    let s = IpamStore::open(&root, "strait", cidr("10.0.0.0/24")).unwrap();
                    start.wait();
                    s.reserve(&cid("same"), &ifn("eth0")).unwrap()
                })
            })
            .collect();
        let got: BTreeSet<IpAddr> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(got, set(&["10.0.0.2"]));
        let s = IpamStore::open(&root, "strait", cidr("10.0.0.0/24")).unwrap();
        assert_eq!(s.list().unwrap().reservations.len(), 1);
    }

    #[test]
    fn hundred_concurrent_reservations_never_collide() {
        let tmp = tempfile::tempdir().unwrap();
        let root = Arc::new(tmp.path().to_owned());
        let start = Arc::new(std::sync::Barrier::new(100));
        let handles: Vec<_> = (0..100)
            .map(|i| {
                let root = Arc::clone(&root);
                let start = Arc::clone(&start);
                thread::spawn(move || {
                    // Each thread opens its own handle, as a process would.
                    let s = IpamStore::open(&root, "strait", cidr("10.0.0.0/24")).unwrap();
                    start.wait();
                    let id = cid(&format!("container-{i}"));
                    let got = s.reserve(&id, &ifn("eth0")).unwrap();
                    // A retried ADD sees the same answer.
                    assert_eq!(s.reserve(&id, &ifn("eth0")).unwrap(), got);
                    (id, got)
                })
            })
            .collect();
        let results: Vec<(ContainerId, IpAddr)> =
            handles.into_iter().map(|h| h.join().unwrap()).collect();

        let distinct: BTreeSet<IpAddr> = results.iter().map(|(_, ip)| *ip).collect();
        assert_eq!(distinct.len(), 100);
        let p = cidr("10.0.0.0/24");
        assert!(distinct.iter().all(|&ip| p.contains(ip)));
        // Round robin from an empty store fills .2 ..= .101 exactly.
        assert_eq!(distinct.first().copied(), Some(ip("10.0.0.2")));
        assert_eq!(distinct.last().copied(), Some(ip("10.0.0.101")));

        let s = IpamStore::open(&root, "strait", p).unwrap();
        let listing = s.list().unwrap();
        assert!(listing.skipped.is_empty(), "{:?}", listing.skipped);
        assert_eq!(listing.reservations.len(), 100);
        for (id, got) in &results {
            assert_eq!(s.lookup(id, &ifn("eth0")).unwrap(), Some(*got));
        }
    }
}
