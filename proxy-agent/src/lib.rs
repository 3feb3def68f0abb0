//! Userspace side of strait's eBPF data path: loads the programs that
//! `proxy-ebpf` compiles, attaches them, and reads and writes their maps.
//!
//! Today it holds the object loader, the packet counter that proves the
//! toolchain end to end, the overlay loop the per-node agent runs, eBPF
//! host routing (pod traffic and VXLAN past the node's stack), and `lb`,
//! the pure core of service load balancing (Services, EndpointSlices and the
//! node in, desired map contents and a safe write plan out); the programs
//! and the map writer that use it come next (issue 5).

pub mod host_routing;
pub mod inspect;
pub mod lb;
pub mod object;
pub mod overlay;
pub mod packet_counter;
pub mod service_lb;
pub mod sock_lb;

pub use object::LoadError;
pub use packet_counter::PacketCounter;
