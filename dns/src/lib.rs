//! Cluster DNS per the Kubernetes DNS specification, on hickory-server.
//! Not built yet: see issue 6.
