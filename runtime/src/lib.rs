//! The node runtime: Pods as network namespaces and processes, wired through
//! the CNI plugin. Not built yet: see issue 8.
