//! Userspace side of strait's eBPF data path: loads the programs that
//! `proxy-ebpf` compiles, attaches them, and reads and writes their maps.
//!
//! Service load balancing (watching the API and programming maps) comes with
//! its own issue; for now this holds the object loader, the packet counter
//! that proves the toolchain end to end, and the overlay loop the per-node
//! agent runs.

pub mod object;
pub mod overlay;
pub mod packet_counter;

pub use object::LoadError;
pub use packet_counter::PacketCounter;
