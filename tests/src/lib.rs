//! The virtual-cluster harness: whole clusters built from network namespaces
//! on one machine, for strait's end-to-end tests.
//!
//! A [`Cluster`] is an underlay bridge in its own netns, N nodes (each a netns
//! with a veth on the underlay, a node IP, a cgroup v2 subtree and a bpffs
//! directory), pods created by executing a CNI plugin exactly as a container
//! runtime does, and an optional external client on the underlay.
//!
//! Every name carries a per-cluster unique [`Prefix`], so tests run in
//! parallel. Every resource is an RAII guard: it is torn down on drop, which
//! also runs when a test panics. [`leaks`] finds whatever a killed run left.
//! This crate never touches the host's own interfaces, routes or firewall.

pub mod binaries;
pub mod bpffs;
pub mod cgroup;
pub mod cluster;
pub mod cni;
pub mod control;
pub mod error;
pub mod interrupt;
pub mod leaks;
pub mod names;
pub mod netns;
pub mod privilege;
pub mod process;
pub mod stats;
pub mod wait;

pub use binaries::binary;
pub use cluster::{Cluster, ClusterSpec, External, Node, Pod};
pub use cni::PodNetwork;
pub use error::HarnessError;
pub use names::Prefix;
pub use netns::Netns;
pub use privilege::privileged;
pub use process::Process;
pub use wait::wait_until;
