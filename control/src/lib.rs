//! strait's control plane: a Kubernetes-compatible API server with an
//! embedded durable store, and the networking controllers (EndpointSlices,
//! IP and port allocation, node IPAM). Not built yet: see issue 3.
