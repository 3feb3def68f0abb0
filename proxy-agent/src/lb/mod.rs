//! The pure core of the service load balancer: Services, EndpointSlices and
//! this node's facts in, the desired contents of every load-balancer BPF map
//! out ([`desired`]), and the ordered map writes that move the maps from one
//! desired state to the next without a moment of inconsistency ([`plan`]).
//!
//! Nothing here does I/O, reads a clock or draws a random number: the map
//! writer and the API watchers are the shell around it. The map layouts are
//! `strait_proxy_maps::lb`'s.

pub mod desired;
pub mod diff;
pub mod ids;
pub mod maglev;

#[cfg(test)]
pub(crate) mod fixtures;

pub use desired::{
    DEFAULT_AFFINITY_TIMEOUT, Desired, LbOptions, NodeContext, Problem, desired, desired_from,
};
pub use diff::{Op, Phase, Plan, Step, plan};
pub use ids::{Allocation, L4Addr, Protocol};
