//! strait's control plane: a Kubernetes-compatible API server with an
//! embedded durable store, and the networking controllers (EndpointSlices,
//! IP and port allocation, node IPAM).
//!
//! Built so far: the [`store`], the registry of served [`resources`], and
//! the [`request`] parser and
//! [`discovery`]. The API server, controllers and the rest of
//! issue 3 build on it.

pub mod datadir;
pub mod discovery;
pub mod kubeconfig;
pub mod objects;
pub mod pki;
pub mod request;
pub mod resources;
pub mod status;
pub mod store;
