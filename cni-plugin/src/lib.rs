//! strait's pod networking: the `strait-cni` plugin's core (CNI 1.1
//! commands, IPAM from the node's podCIDR, routed veth wiring) and the
//! VXLAN overlay between nodes that `strait agent` keeps.

pub mod env;
pub mod error;
pub mod ipam;
pub mod netconf;
pub mod netlink;
pub mod node_cidr;
pub mod overlay;
pub mod plugin;
pub mod podnet;
pub mod reaper;
pub mod result;
pub mod version;
