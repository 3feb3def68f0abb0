//! The pure core of the endpoint controllers: which EndpointSlices (and which
//! legacy core/v1 Endpoints object) a Service with a selector should have,
//! given the pods of its namespace.
//!
//! [`reconcile`] mirrors kube-controller-manager's EndpointSlice controller and
//! returns a [`SlicePlan`] to apply; [`legacy_endpoints`] mirrors the Endpoints
//! controller and returns the desired object. Where this differs from
//! upstream:
//!
//! - ExternalName Services and Services without a selector get their
//!   controller-managed slices deleted (upstream leaves them behind).
//! - Endpoint zones come from [`ReconcileOptions::node_zones`]; without it
//!   `zone` stays unset and PreferClose hints carry no zone. Pods on nodes that
//!   do not exist are not dropped, as the node list is not an input.
//! - New slices get a name (`<service>-<suffix>`) as well as `generateName`,
//!   so a plan can be applied and tested without an API server.
//! - The `endpoints.kubernetes.io/last-change-trigger-time` annotation is not
//!   written: it needs a clock and state kept between syncs.
//! - An existing empty slice that nothing fills is deleted (or recycled),
//!   except the one placeholder; upstream can leave an empty slice next to
//!   full ones when pods share the placeholder's empty port set.
//! - Endpoints subsets that truncation to 1000 addresses leaves without any
//!   address are dropped; upstream writes them and validation rejects them.
//! - Where Go iterates maps in random order or sorts by hash, this sorts by
//!   value, so equal inputs always give equal output.
//!
//! As upstream does, a Service port whose named targetPort does not resolve on
//! a pod is left out of that pod's port set (the pod lands in a slice with
//! fewer ports); the pod itself is still listed.
//!
//! Nothing here does I/O, reads a clock or draws random numbers: applying the
//! plan, watching objects and retrying belong to the caller.

mod endpoints;
pub mod index;
mod pods;
mod slices;

#[cfg(test)]
mod fixtures;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;

pub use pods::AddressType;

/// Value of `endpointslice.kubernetes.io/managed-by` on slices this controller owns.
pub const CONTROLLER_NAME: &str = "endpointslice-controller.k8s.io";

/// Label naming the Service a slice belongs to.
pub const LABEL_SERVICE_NAME: &str = "kubernetes.io/service-name";

/// Label naming the controller that manages a slice.
pub const LABEL_MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";

/// Label (empty value) marking slices and Endpoints of a headless Service.
pub const LABEL_HEADLESS: &str = "service.kubernetes.io/headless";

/// Annotation set to `truncated` when an Endpoints object holds only the first 1000 addresses.
pub const ANNOTATION_OVER_CAPACITY: &str = "endpoints.kubernetes.io/over-capacity";

/// kube-controller-manager's default `--max-endpoints-per-slice`.
pub const DEFAULT_MAX_ENDPOINTS_PER_SLICE: usize = 100;

/// Most addresses an Endpoints object holds before it is truncated.
pub const MAX_ENDPOINTS_ADDRESSES: usize = 1000;

/// The writes that bring a Service's EndpointSlices to the desired state.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SlicePlan {
    /// Slices to create, named and in a stable order.
    pub create: Vec<EndpointSlice>,
    /// Full replacements of existing slices, sorted by name.
    pub update: Vec<EndpointSlice>,
    /// Names of slices to delete, sorted.
    pub delete: Vec<String>,
}

impl SlicePlan {
    /// Whether the plan writes nothing.
    pub fn is_empty(&self) -> bool {
        self.create.is_empty() && self.update.is_empty() && self.delete.is_empty()
    }
}

/// Knobs of [`reconcile_with`]; [`ReconcileOptions::default`] matches kube-controller-manager's defaults.
pub struct ReconcileOptions<'a> {
    /// Most endpoints in one slice; clamped to 1..=1000 like the controller's flag.
    pub max_endpoints_per_slice: usize,
    /// Zone of each node (its `topology.kubernetes.io/zone` label) by node name.
    pub node_zones: Option<&'a BTreeMap<String, String>>,
    /// Accept `PreferSameZone`/`PreferSameNode` trafficDistribution (feature
    /// gate PreferSameTrafficDistribution, alpha and off in 1.33).
    pub prefer_same_traffic_distribution: bool,
    /// Suffixes for new slice names; a deterministic counter when `None`.
    /// Suffixes that collide with an existing name are drawn again.
    pub name_suffix: Option<&'a mut dyn FnMut() -> String>,
}

impl Default for ReconcileOptions<'_> {
    fn default() -> Self {
        ReconcileOptions {
            max_endpoints_per_slice: DEFAULT_MAX_ENDPOINTS_PER_SLICE,
            node_zones: None,
            prefer_same_traffic_distribution: false,
            name_suffix: None,
        }
    }
}

/// Plans the EndpointSlices of `service` with default options.
///
/// `pods` are the pods of the Service's namespace (the selector is applied
/// here); `existing` are the slices labelled with the Service's name. Slices
/// that another controller manages are left alone.
pub fn reconcile(service: &Service, pods: &[Pod], existing: &[EndpointSlice]) -> SlicePlan {
    reconcile_with(service, pods, existing, ReconcileOptions::default())
}

/// Plans the EndpointSlices of `service` with explicit options.
pub fn reconcile_with(
    service: &Service,
    pods: &[Pod],
    existing: &[EndpointSlice],
    options: ReconcileOptions<'_>,
) -> SlicePlan {
    slices::plan(service, pods, existing, options)
}

/// The core/v1 Endpoints object the Endpoints controller keeps for `service`.
///
/// `None` when the controller does not manage it (no selector, or
/// ExternalName): any existing Endpoints object is then the user's and must
/// be left alone.
pub fn legacy_endpoints(service: &Service, pods: &[Pod]) -> Option<Endpoints> {
    endpoints::desired(service, pods)
}
