//! strait's control plane: a Kubernetes-compatible API server with an
//! embedded durable store, and the networking controllers (EndpointSlices,
//! IP and port allocation, node IPAM).
//!
//! Built so far: the [`store`]. The API server, controllers and the rest of
//! issue 3 build on it.

pub mod store;
