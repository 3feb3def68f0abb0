//! Library target of the kernel-side crate. It exists so that proxy-agent can
//! name this crate as a build dependency (cargo then rebuilds the agent when
//! the programs change); the programs themselves are in the `strait-proxy` and `strait-lb` bins.
#![no_std]
