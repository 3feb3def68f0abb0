//! The compiled `strait-proxy` object, embedded at build time by build.rs, and
//! its loader. Nothing here attaches programs or interprets maps.

use aya::{Ebpf, EbpfError, EbpfLoader};

/// The ELF object built from `proxy-ebpf` for `bpfel-unknown-none`: the
/// packet counter and host routing, whose maps live with their loader.
pub static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/strait-proxy"));

/// The service load-balancing object, whose maps are pinned by name.
pub static LB_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/strait-lb"));

/// Why the object, one of its programs or one of its maps could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The kernel rejected the object as a whole (BTF, maps, relocations).
    #[error("loading the strait-proxy eBPF object: {0}")]
    Object(#[from] EbpfError),
    /// The object lacks a program this build expects: a build mismatch.
    #[error("the strait-proxy object has no program named {0}")]
    MissingProgram(&'static str),
    /// The object lacks a map this build expects: a build mismatch.
    #[error("the strait-proxy object has no map named {0}")]
    MissingMap(&'static str),
    /// Loading (verifying), attaching or running a program failed.
    #[error("program {name}: {source}")]
    Program {
        /// The program's name in the object.
        name: &'static str,
        /// The kernel's or aya's reason.
        #[source]
        source: aya::programs::ProgramError,
    },
    /// Reading, writing or pinning a map failed.
    #[error("map {name}: {source}")]
    Map {
        /// The map's name in the object.
        name: &'static str,
        /// The kernel's or aya's reason.
        #[source]
        source: aya::maps::MapError,
    },
    /// Pinning a map in a bpffs failed (no bpffs there, or the name is taken).
    #[error("pinning map {name} at {path}: {source}")]
    Pin {
        /// The map's name in the object.
        name: &'static str,
        /// Where it was to be pinned.
        path: std::path::PathBuf,
        /// The kernel's or aya's reason.
        #[source]
        source: aya::pin::PinError,
    },
}

impl LoadError {
    /// A mapper from aya's program error for program `name`.
    pub fn program(name: &'static str) -> impl Fn(aya::programs::ProgramError) -> LoadError + Copy {
        move |source| LoadError::Program { name, source }
    }

    /// A mapper from aya's map error for map `name`.
    pub fn map(name: &'static str) -> impl Fn(aya::maps::MapError) -> LoadError + Copy {
        move |source| LoadError::Map { name, source }
    }
}

/// The TC program `name` of a loaded object.
pub fn classifier_mut<'a>(
    ebpf: &'a mut Ebpf,
    name: &'static str,
) -> Result<&'a mut aya::programs::SchedClassifier, LoadError> {
    ebpf.program_mut(name)
        .ok_or(LoadError::MissingProgram(name))?
        .try_into()
        .map_err(LoadError::program(name))
}

/// Loads the object into the kernel (maps created, programs not yet loaded).
pub fn load() -> Result<Ebpf, LoadError> {
    Ok(EbpfLoader::new().load(OBJECT)?)
}
