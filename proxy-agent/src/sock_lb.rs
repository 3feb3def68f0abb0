//! Loads the socket load-balancing programs (`proxy-ebpf/src/sock_lb.rs`)
//! with their maps pinned by name in the node's bpffs directory, and keeps
//! them attached to the node's cgroup across agent restarts.
//!
//! Maps: a restarted agent loads the object with the same pin directory, so
//! aya reuses the pinned maps: the backends and services written before the
//! restart stay in force, and the writer reads them back to renumber
//! nothing.
//!
//! Programs: each attachment is a bpf_link pinned in the same directory
//! (`link_<program>`), so it survives the agent. A new agent attaches its
//! programs next to the old ones (a cgroup runs every bpf_link attached to
//! it; the link API takes no multi flag, links are always "multi"),
//! pins the new links, and only then unpins the old ones: there is no
//! moment without a hook, and a socket translated by one program is not
//! translated again by the other (a backend address is not a frontend).

use std::{
    fs::File,
    path::{Path, PathBuf},
};

use aya::{
    Ebpf, EbpfLoader,
    programs::{CgroupAttachMode, CgroupSockAddr, links::FdLink},
};

use crate::object::{LB_OBJECT, LoadError};

/// The four hooks, by program name.
pub const PROGRAMS: [&str; 4] = [
    "sock_connect4",
    "sock_sendmsg4",
    "sock_recvmsg4",
    "sock_getpeername4",
];

/// Why socket load balancing could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SocketLbError {
    /// The object, a program or a map.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The pin directory or the cgroup.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// On what.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// Pinning a link failed.
    #[error("pinning the link of {program} at {path}: {source}")]
    PinLink {
        /// The program.
        program: &'static str,
        /// Where.
        path: PathBuf,
        /// Why.
        #[source]
        source: aya::pin::PinError,
    },
    /// Turning an attachment into a pinnable link failed (kernel < 5.7).
    #[error("the attachment of {program} is not a bpf_link: {source}")]
    NotALink {
        /// The program.
        program: &'static str,
        /// Why.
        #[source]
        source: aya::programs::links::LinkError,
    },
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> SocketLbError {
    let path = path.to_owned();
    move |source| SocketLbError::Io { what, path, source }
}

/// The loaded object; its maps are pinned in `dir`.
pub struct SocketLb {
    ebpf: Ebpf,
    dir: PathBuf,
}

impl SocketLb {
    /// Loads the object with its maps pinned in (or reused from)
    /// `bpffs_dir`, which is created if missing, and verifies the programs.
    pub fn load(bpffs_dir: &Path) -> Result<SocketLb, SocketLbError> {
        std::fs::create_dir_all(bpffs_dir).map_err(io("creating", bpffs_dir))?;
        let mut ebpf = EbpfLoader::new()
            .default_map_pin_directory(bpffs_dir)
            .load(LB_OBJECT)
            .map_err(LoadError::from)?;
        for name in PROGRAMS {
            program_mut(&mut ebpf, name)?
                .load()
                .map_err(LoadError::program(name))?;
        }
        Ok(SocketLb {
            ebpf,
            dir: bpffs_dir.to_owned(),
        })
    }

    /// Attaches the hooks to the cgroup v2 directory `cgroup`, replacing any
    /// a previous agent pinned in the same bpffs directory without a gap.
    pub fn attach(&mut self, cgroup: &Path) -> Result<(), SocketLbError> {
        let cgroup_dir = File::open(cgroup).map_err(io("opening the cgroup", cgroup))?;
        for name in PROGRAMS {
            let program = program_mut(&mut self.ebpf, name)?;
            let id = program
                .attach(&cgroup_dir, CgroupAttachMode::Single)
                .map_err(LoadError::program(name))?;
            let link = program.take_link(id).map_err(LoadError::program(name))?;
            let link = FdLink::try_from(link).map_err(|source| SocketLbError::NotALink {
                program: name,
                source,
            })?;
            let pin = self.dir.join(format!("link_{name}"));
            // bpffs refuses names with dots (EPERM): "_new", not ".new".
            let fresh = self.dir.join(format!("link_{name}_new"));
            // A leftover from a start that failed half way.
            remove_if_present(&fresh)?;
            let pinned = link.pin(&fresh).map_err(|source| SocketLbError::PinLink {
                program: name,
                path: fresh.clone(),
                source,
            })?;
            // The old link (if any) goes when its pin does: no process holds
            // it open. The new one is attached already.
            remove_if_present(&pin)?;
            std::fs::rename(&fresh, &pin).map_err(io("renaming", &fresh))?;
            // The pin keeps the link; this process's fd can close.
            drop(pinned);
        }
        Ok(())
    }

    /// The object, for the map writer and readers.
    pub fn ebpf_mut(&mut self) -> &mut Ebpf {
        &mut self.ebpf
    }

    /// The object, read-only.
    pub fn ebpf(&self) -> &Ebpf {
        &self.ebpf
    }

    /// Removes every pin (maps and links) from `bpffs_dir`: the hooks detach
    /// and the maps go once no process holds them. For uninstalling.
    pub fn uninstall(bpffs_dir: &Path) -> Result<(), SocketLbError> {
        let names = PROGRAMS
            .iter()
            .flat_map(|p| [format!("link_{p}"), format!("link_{p}_new")])
            .chain(
                [
                    strait_proxy_maps::lb::names::LB4_SERVICES,
                    strait_proxy_maps::lb::names::LB4_BACKENDS,
                    strait_proxy_maps::lb::names::LB4_REV_NAT,
                    strait_proxy_maps::lb::names::LB4_SOCK_REVNAT,
                    strait_proxy_maps::lb::names::LB4_AFFINITY,
                    strait_proxy_maps::lb::names::LB4_SOCK_COUNT,
                ]
                .iter()
                .map(|n| (*n).to_owned()),
            );
        for name in names {
            remove_if_present(&bpffs_dir.join(name))?;
        }
        Ok(())
    }
}

fn remove_if_present(path: &Path) -> Result<(), SocketLbError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io("removing", path)(e)),
    }
}

fn program_mut<'a>(
    ebpf: &'a mut Ebpf,
    name: &'static str,
) -> Result<&'a mut CgroupSockAddr, LoadError> {
    ebpf.program_mut(name)
        .ok_or(LoadError::MissingProgram(name))?
        .try_into()
        .map_err(LoadError::program(name))
}
