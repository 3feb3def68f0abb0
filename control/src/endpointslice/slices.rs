//! The EndpointSlice reconciler: from one Service, the pods it selects and the
//! slices that exist, the slices to create, update and delete.
//!
//! Follows kube-controller-manager's reconciler (`k8s.io/endpointslice`):
//! slices are grouped by address type and by resolved port set, endpoints that
//! did not change stay in their slice, emptied slices are deleted or recycled
//! into slices that would otherwise be created, and a Service with nothing to
//! publish keeps one empty placeholder slice. Where Go iterates maps in random
//! order this module iterates in sorted order, so equal inputs give equal plans.
//!
//! It must not read a store, a clock or randomness: names of new slices come
//! from [`ReconcileOptions::name_suffix`] or a counter.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{ObjectReference, Pod, Service};
use k8s_openapi::api::discovery::v1::{
    Endpoint, EndpointConditions, EndpointHints, EndpointPort, EndpointSlice, ForNode, ForZone,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use super::pods::{self, AddressType};
use super::{
    CONTROLLER_NAME, LABEL_HEADLESS, LABEL_MANAGED_BY, LABEL_SERVICE_NAME, ReconcileOptions,
    SlicePlan,
};

/// Longest generateName prefix the API server keeps (63 minus 5 random characters).
const MAX_GENERATED_PREFIX: usize = 58;

/// Characters the API server draws generated name suffixes from.
const SUFFIX_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// Length of a generated name suffix.
const SUFFIX_LEN: usize = 5;

/// How often a caller's suffix generator may collide before the counter takes over.
const MAX_SUFFIX_ATTEMPTS: usize = 64;

/// Annotation that asks for topology-aware hints (`Auto`/`auto`).
const ANNOTATION_TOPOLOGY_MODE: &str = "service.kubernetes.io/topology-mode";

/// Older spelling of [`ANNOTATION_TOPOLOGY_MODE`], which wins when both are set.
const ANNOTATION_TOPOLOGY_AWARE_HINTS: &str = "service.kubernetes.io/topology-aware-hints";

/// Identity of a port set, independent of the order ports are listed in.
type PortKey = Vec<(Option<String>, Option<String>, Option<i32>, Option<String>)>;

/// Identity of an endpoint inside a port set: the fields the controller
/// hashes, so that condition, node or zone changes update in place.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct EndpointKey {
    addresses: Vec<String>,
    hostname: String,
    namespace: String,
    name: String,
}

/// Endpoints wanted for one port set.
struct Desired {
    ports: Vec<EndpointPort>,
    endpoints: BTreeMap<EndpointKey, Endpoint>,
}

/// The per-address-type outcome before names are given to new slices.
#[derive(Default)]
struct TypePlan {
    create: Vec<EndpointSlice>,
    update: Vec<EndpointSlice>,
    delete: Vec<String>,
}

/// Read-only facts about the Service that every step needs.
struct Context<'a> {
    service: &'a Service,
    name: &'a str,
    namespace: Option<&'a String>,
    max_endpoints: usize,
    node_zones: Option<&'a BTreeMap<String, String>>,
    hints: HintPolicy,
}

/// Which topology hints endpoints should carry.
#[derive(Clone, Copy, PartialEq, Eq)]
enum HintPolicy {
    /// No hints at all.
    None,
    /// A zone hint on every ready endpoint with a zone, and a node hint when asked.
    PreferClose { node_hints: bool },
}

/// Plans the slices for `service`; see [`super::reconcile_with`].
pub fn plan(
    service: &Service,
    pods: &[Pod],
    existing: &[EndpointSlice],
    options: ReconcileOptions<'_>,
) -> SlicePlan {
    let name = service.metadata.name.as_deref().unwrap_or_default();
    let managed: Vec<&EndpointSlice> = existing
        .iter()
        .filter(|slice| is_managed_for(slice, name))
        // A slice being deleted is gone as far as the controller is concerned.
        .filter(|slice| slice.metadata.deletion_timestamp.is_none())
        .collect();

    let selector = match pods::managed_selector(service) {
        Some(selector) if !pods::is_external_name(service) => selector,
        _ => {
            let mut delete: Vec<String> = managed.iter().filter_map(|s| slice_name(s)).collect();
            delete.sort();
            delete.dedup();
            return SlicePlan {
                delete,
                ..SlicePlan::default()
            };
        }
    };

    let context = Context {
        service,
        name,
        namespace: service.metadata.namespace.as_ref(),
        max_endpoints: options.max_endpoints_per_slice.clamp(1, 1000),
        node_zones: options.node_zones,
        hints: hint_policy(service, options.prefer_same_traffic_distribution),
    };

    let supported = address_types_for_service(service);
    let mut by_type: BTreeMap<AddressType, Vec<&EndpointSlice>> = BTreeMap::new();
    let mut delete: Vec<String> = Vec::new();
    for slice in &managed {
        match AddressType::parse(&slice.address_type) {
            Some(kind) if supported.contains(&kind) => by_type.entry(kind).or_default().push(slice),
            _ => delete.extend(slice_name(slice)),
        }
    }

    let selected: Vec<&Pod> = pods
        .iter()
        .filter(|pod| pods::selects(service, selector, pod))
        .collect();

    let mut create = Vec::new();
    let mut update = Vec::new();
    for kind in supported {
        let existing_of_kind = by_type.remove(&kind).unwrap_or_default();
        let typed = reconcile_address_type(&context, kind, &existing_of_kind, &selected);
        create.extend(typed.create);
        update.extend(typed.update);
        delete.extend(typed.delete);
    }

    // The garbage collector is removing the Service's slices; new ones would race it.
    if service.metadata.deletion_timestamp.is_some() {
        create.clear();
    }

    let by_name: BTreeMap<&str, &EndpointSlice> = managed
        .iter()
        .filter_map(|slice| Some((slice.metadata.name.as_deref()?, *slice)))
        .collect();
    update.retain(|slice| {
        let current = slice.metadata.name.as_deref().and_then(|n| by_name.get(n));
        current.is_none_or(|current| !same_content(current, slice))
    });
    update.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    delete.sort();
    delete.dedup();

    let mut names = NameSource::new(existing, options.name_suffix);
    let prefix = generate_name_prefix(name);
    for slice in &mut create {
        slice.metadata.name = Some(names.next(&prefix));
    }

    SlicePlan {
        create,
        update,
        delete,
    }
}

/// Whether a slice carries this controller's labels for the named Service.
fn is_managed_for(slice: &EndpointSlice, service_name: &str) -> bool {
    let labels = slice.metadata.labels.as_ref();
    let label = |key: &str| {
        labels
            .and_then(|labels| labels.get(key))
            .map(String::as_str)
    };
    label(LABEL_SERVICE_NAME) == Some(service_name)
        && label(LABEL_MANAGED_BY) == Some(CONTROLLER_NAME)
}

fn slice_name(slice: &EndpointSlice) -> Option<String> {
    slice.metadata.name.clone()
}

/// The address types the Service serves: its ipFamilies, else the family of
/// its cluster IP, else (headless, not yet defaulted) both.
fn address_types_for_service(service: &Service) -> BTreeSet<AddressType> {
    let families: BTreeSet<AddressType> = service
        .spec
        .as_ref()
        .and_then(|spec| spec.ip_families.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|family| AddressType::parse(family))
        .collect();
    if !families.is_empty() {
        return families;
    }
    if pods::is_service_ip_set(service) {
        let family = pods::parse_ip_sloppy(pods::cluster_ip(service))
            .map(AddressType::of)
            .unwrap_or(AddressType::IPv4);
        return BTreeSet::from([family]);
    }
    BTreeSet::from([AddressType::IPv4, AddressType::IPv6])
}

/// Which hints the Service asks for through `spec.trafficDistribution`.
fn hint_policy(service: &Service, prefer_same_enabled: bool) -> HintPolicy {
    let annotations = service.metadata.annotations.as_ref();
    let topology_mode = annotations.and_then(|a| {
        a.get(ANNOTATION_TOPOLOGY_AWARE_HINTS)
            .or_else(|| a.get(ANNOTATION_TOPOLOGY_MODE))
    });
    // Topology-aware hints take precedence over trafficDistribution; they need
    // per-zone node capacity this function does not see, and without it the
    // controller's topology cache removes hints, which is what happens here.
    if matches!(topology_mode.map(String::as_str), Some("Auto" | "auto")) {
        return HintPolicy::None;
    }
    let distribution = service
        .spec
        .as_ref()
        .and_then(|spec| spec.traffic_distribution.as_deref());
    match distribution {
        Some("PreferClose") => HintPolicy::PreferClose { node_hints: false },
        Some("PreferSameZone") if prefer_same_enabled => {
            HintPolicy::PreferClose { node_hints: false }
        }
        Some("PreferSameNode") if prefer_same_enabled => {
            HintPolicy::PreferClose { node_hints: true }
        }
        _ => HintPolicy::None,
    }
}

/// Whether the slice's controller owner reference points at this Service.
fn owned_by(slice: &EndpointSlice, service: &Service) -> bool {
    let uid = service.metadata.uid.as_deref().unwrap_or_default();
    slice
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|owner| owner.uid == uid && owner.kind == "Service" && owner.api_version == "v1")
}

fn reconcile_address_type(
    context: &Context<'_>,
    kind: AddressType,
    existing: &[&EndpointSlice],
    pods: &[&Pod],
) -> TypePlan {
    // Slices of an older Service with the same name are deleted, never reused.
    let mut to_delete: Vec<&EndpointSlice> = Vec::new();
    let mut existing_by_ports: BTreeMap<PortKey, Vec<&EndpointSlice>> = BTreeMap::new();
    for slice in existing {
        if owned_by(slice, context.service) {
            let key = port_key(slice.ports.as_deref().unwrap_or_default());
            existing_by_ports.entry(key).or_default().push(slice);
        } else {
            to_delete.push(slice);
        }
    }

    let mut desired: BTreeMap<PortKey, Desired> = BTreeMap::new();
    for pod in pods {
        if !pods::should_be_in_endpoints(pod, true) {
            continue;
        }
        let ports = endpoint_ports(context.service, pod);
        let group = desired.entry(port_key(&ports)).or_insert_with(|| Desired {
            ports,
            endpoints: BTreeMap::new(),
        });
        let endpoint = pod_to_endpoint(context, pod, kind);
        if !endpoint.addresses.is_empty() {
            group.endpoints.insert(endpoint_key(&endpoint), endpoint);
        }
    }

    let mut create: Vec<EndpointSlice> = Vec::new();
    let mut update: Vec<EndpointSlice> = Vec::new();
    for (key, group) in desired.iter() {
        let slices = existing_by_ports
            .get(key)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let mapped = reconcile_port_set(context, kind, slices, group);
        create.extend(mapped.create);
        update.extend(mapped.update);
        to_delete.extend(mapped.delete);
    }
    for (key, slices) in &existing_by_ports {
        if !desired.contains_key(key) {
            to_delete.extend(slices.iter().copied());
        }
    }

    // A Service with nothing to publish still gets one empty slice, so
    // consumers can tell "no endpoints" from "not reconciled yet".
    if existing.len() == to_delete.len() && create.is_empty() {
        let placeholder = new_slice(context, kind, Vec::new());
        match to_delete.as_slice() {
            [only] if is_same_placeholder(only, &placeholder) => to_delete.clear(),
            _ => create.push(placeholder),
        }
    }

    apply_hints(context, existing, &to_delete, &mut create, &mut update);

    // Recycle slices about to be deleted as the slices about to be created:
    // one update instead of a create and a delete.
    let mut index = 0;
    while let Some(doomed) = to_delete.get(index).copied() {
        if doomed.address_type == kind.as_str() && owned_by(doomed, context.service) {
            let Some(mut slice) = create.pop() else {
                break;
            };
            adopt_identity(&mut slice, doomed);
            update.push(slice);
            to_delete.remove(index);
        } else {
            index += 1;
        }
    }

    TypePlan {
        create,
        update,
        delete: to_delete.iter().filter_map(|s| slice_name(s)).collect(),
    }
}

/// Outcome for one port set, before recycling.
struct PortSetPlan<'e> {
    create: Vec<EndpointSlice>,
    update: Vec<EndpointSlice>,
    delete: Vec<&'e EndpointSlice>,
}

/// Fits the desired endpoints of one port set into its existing slices with
/// as few writes as possible.
///
/// 1. Existing slices drop endpoints no longer wanted and take the new
///    version of endpoints that changed; emptied slices are deleted.
/// 2. Slices already being updated are filled up, fullest first.
/// 3. What is left goes into the unchanged slice it fills best when it fits
///    in one, otherwise into new slices.
fn reconcile_port_set<'e>(
    context: &Context<'_>,
    kind: AddressType,
    existing: &[&'e EndpointSlice],
    desired: &Desired,
) -> PortSetPlan<'e> {
    let mut remaining = desired.endpoints.clone();
    let mut sorted: Vec<&'e EndpointSlice> = existing.to_vec();
    sorted.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));

    let mut to_update: BTreeMap<String, EndpointSlice> = BTreeMap::new();
    let mut unchanged: BTreeMap<String, &'e EndpointSlice> = BTreeMap::new();
    let mut delete: Vec<&'e EndpointSlice> = Vec::new();

    for slice in sorted {
        let mut kept: Vec<Endpoint> = Vec::new();
        let mut changed = false;
        for endpoint in &slice.endpoints {
            if let Some(wanted) = remaining.remove(&endpoint_key(endpoint)) {
                changed |= !equal_beyond_key(&wanted, endpoint);
                kept.push(wanted);
            }
        }
        let (labels, labels_changed) = slice_labels(slice.metadata.labels.as_ref(), context);
        let name = slice.metadata.name.clone().unwrap_or_default();
        if changed || kept.len() != slice.endpoints.len() {
            if kept.is_empty() {
                delete.push(slice);
            } else {
                let mut copy = slice.clone();
                copy.endpoints = kept;
                copy.metadata.labels = Some(labels);
                to_update.insert(name, copy);
            }
        } else if labels_changed {
            let mut copy = slice.clone();
            copy.metadata.labels = Some(labels);
            to_update.insert(name, copy);
        } else {
            unchanged.insert(name, slice);
        }
    }

    if !remaining.is_empty() && !to_update.is_empty() {
        let mut fullest_first: Vec<&mut EndpointSlice> = to_update.values_mut().collect();
        fullest_first.sort_by_key(|slice| std::cmp::Reverse(slice.endpoints.len()));
        for slice in fullest_first {
            fill(slice, &mut remaining, context.max_endpoints);
        }
    }

    let mut create: Vec<EndpointSlice> = Vec::new();
    while !remaining.is_empty() {
        let best_fit = if remaining.len() < context.max_endpoints {
            best_fitting(&unchanged, remaining.len(), context.max_endpoints)
        } else {
            None
        };
        match best_fit {
            Some(name) => {
                let Some(slice) = unchanged.remove(&name) else {
                    break;
                };
                let mut copy = slice.clone();
                fill(&mut copy, &mut remaining, context.max_endpoints);
                to_update.insert(name, copy);
            }
            None => {
                let mut slice = new_slice(context, kind, desired.ports.clone());
                fill(&mut slice, &mut remaining, context.max_endpoints);
                create.push(slice);
            }
        }
    }

    // An empty slice left unchanged (a placeholder whose port set pods now
    // use) would stay empty for good; upstream keeps it, this deletes it so
    // that it is recycled or the lone-placeholder rule decides.
    delete.extend(
        unchanged
            .into_values()
            .filter(|slice| slice.endpoints.is_empty()),
    );

    PortSetPlan {
        create,
        update: to_update.into_values().collect(),
        delete,
    }
}

/// Moves endpoints, lowest key first, into `slice` until it is full.
fn fill(slice: &mut EndpointSlice, remaining: &mut BTreeMap<EndpointKey, Endpoint>, max: usize) {
    while slice.endpoints.len() < max {
        let Some((_, endpoint)) = remaining.pop_first() else {
            break;
        };
        slice.endpoints.push(endpoint);
    }
}

/// The unchanged slice that comes closest to full when `count` endpoints are added.
fn best_fitting(
    unchanged: &BTreeMap<String, &EndpointSlice>,
    count: usize,
    max: usize,
) -> Option<String> {
    let mut best: Option<(usize, &String)> = None;
    for (name, slice) in unchanged {
        let Some(room) = max.checked_sub(count + slice.endpoints.len()) else {
            continue;
        };
        if best.is_none_or(|(best_room, _)| room < best_room) {
            best = Some((room, name));
            if room == 0 {
                break;
            }
        }
    }
    best.map(|(_, name)| name.clone())
}

/// The slice ports a pod offers for the Service, in Service port order; a
/// Service port whose targetPort does not resolve on this pod is left out.
fn endpoint_ports(service: &Service, pod: &Pod) -> Vec<EndpointPort> {
    pods::service_ports(service)
        .iter()
        .filter_map(|port| {
            let number = pods::find_port(pod, port)?;
            Some(EndpointPort {
                name: Some(port.name.clone().unwrap_or_default()),
                port: Some(number),
                protocol: Some(pods::port_protocol(port).to_owned()),
                app_protocol: port.app_protocol.clone(),
            })
        })
        .collect()
}

fn port_key(ports: &[EndpointPort]) -> PortKey {
    let mut key: PortKey = ports
        .iter()
        .map(|p| {
            (
                p.name.clone(),
                p.protocol.clone(),
                p.port,
                p.app_protocol.clone(),
            )
        })
        .collect();
    key.sort();
    key
}

fn endpoint_key(endpoint: &Endpoint) -> EndpointKey {
    let mut addresses = endpoint.addresses.clone();
    addresses.sort();
    let target = endpoint.target_ref.as_ref();
    EndpointKey {
        addresses,
        hostname: endpoint.hostname.clone().unwrap_or_default(),
        namespace: target.and_then(|t| t.namespace.clone()).unwrap_or_default(),
        name: target.and_then(|t| t.name.clone()).unwrap_or_default(),
    }
}

/// Whether two endpoints with the same key agree on everything else the
/// controller writes (the target's resourceVersion does not count).
fn equal_beyond_key(a: &Endpoint, b: &Endpoint) -> bool {
    let conditions = |e: &Endpoint| {
        let c = e.conditions.clone().unwrap_or_default();
        (c.ready, c.serving, c.terminating)
    };
    let target = |e: &Endpoint| {
        e.target_ref.clone().map(|mut t| {
            t.resource_version = None;
            t
        })
    };
    a.node_name == b.node_name
        && a.zone == b.zone
        && conditions(a) == conditions(b)
        && target(a) == target(b)
}

/// The endpoint for `pod` in slices of address type `kind`.
fn pod_to_endpoint(context: &Context<'_>, pod: &Pod, kind: AddressType) -> Endpoint {
    let serving = pods::is_ready(pod);
    let terminating = pods::is_terminating(pod);
    // A terminating pod is never ready, unless the Service publishes everything.
    let ready = pods::publishes_not_ready(context.service) || (serving && !terminating);
    let spec = pod.spec.as_ref();
    let node_name = spec
        .and_then(|spec| spec.node_name.clone())
        .filter(|node| !node.is_empty());
    let zone = node_name
        .as_ref()
        .and_then(|node| context.node_zones?.get(node))
        .filter(|zone| !zone.is_empty())
        .cloned();
    Endpoint {
        addresses: pods::addresses_of_family(pod, kind),
        conditions: Some(EndpointConditions {
            ready: Some(ready),
            serving: Some(serving),
            terminating: Some(terminating),
        }),
        hostname: pods::hostname_for(pod, context.service).map(str::to_owned),
        node_name,
        target_ref: Some(ObjectReference {
            kind: Some("Pod".to_owned()),
            namespace: Some(pods::pod_namespace(pod, context.service).to_owned()),
            name: pod.metadata.name.clone(),
            uid: pod.metadata.uid.clone(),
            ..ObjectReference::default()
        }),
        zone,
        ..Endpoint::default()
    }
}

/// The labels a slice of this Service must carry, and whether its
/// non-reserved labels differ from the Service's.
fn slice_labels(
    current: Option<&BTreeMap<String, String>>,
    context: &Context<'_>,
) -> (BTreeMap<String, String>, bool) {
    let unreserved = |labels: Option<&BTreeMap<String, String>>| -> BTreeMap<String, String> {
        labels
            .into_iter()
            .flatten()
            .filter(|(key, _)| !is_reserved_label(key))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect()
    };
    let mut labels = unreserved(context.service.metadata.labels.as_ref());
    let changed = unreserved(current) != labels;
    if !pods::is_service_ip_set(context.service) {
        labels.insert(LABEL_HEADLESS.to_owned(), String::new());
    }
    labels.insert(LABEL_SERVICE_NAME.to_owned(), context.name.to_owned());
    labels.insert(LABEL_MANAGED_BY.to_owned(), CONTROLLER_NAME.to_owned());
    (labels, changed)
}

fn is_reserved_label(key: &str) -> bool {
    key == LABEL_SERVICE_NAME || key == LABEL_MANAGED_BY || key == LABEL_HEADLESS
}

/// A new, unnamed slice of this Service (names are given once the plan is final).
fn new_slice(context: &Context<'_>, kind: AddressType, ports: Vec<EndpointPort>) -> EndpointSlice {
    let (labels, _) = slice_labels(None, context);
    EndpointSlice {
        address_type: kind.as_str().to_owned(),
        endpoints: Vec::new(),
        metadata: ObjectMeta {
            generate_name: Some(generate_name_prefix(context.name)),
            namespace: context.namespace.cloned(),
            labels: Some(labels),
            owner_references: Some(vec![owner_reference(context.service)]),
            ..ObjectMeta::default()
        },
        ports: Some(ports),
    }
}

/// The controller reference from a slice to its Service.
fn owner_reference(service: &Service) -> OwnerReference {
    OwnerReference {
        api_version: "v1".to_owned(),
        kind: "Service".to_owned(),
        name: service.metadata.name.clone().unwrap_or_default(),
        uid: service.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// `<service>-`, cut like the API server cuts a generateName base.
fn generate_name_prefix(service_name: &str) -> String {
    format!("{service_name}-")
        .chars()
        .take(MAX_GENERATED_PREFIX)
        .collect()
}

/// Whether an existing slice already is the placeholder the controller would create.
fn is_same_placeholder(existing: &EndpointSlice, placeholder: &EndpointSlice) -> bool {
    let labels = |s: &EndpointSlice| s.metadata.labels.clone().unwrap_or_default();
    existing.metadata.namespace == placeholder.metadata.namespace
        && labels(existing) == labels(placeholder)
        && existing
            .metadata
            .owner_references
            .clone()
            .unwrap_or_default()
            == placeholder
                .metadata
                .owner_references
                .clone()
                .unwrap_or_default()
        && existing.address_type == placeholder.address_type
        && existing.endpoints == placeholder.endpoints
        && existing.ports.as_deref().unwrap_or_default()
            == placeholder.ports.as_deref().unwrap_or_default()
}

/// Whether applying `planned` over `current` would change what the controller writes.
fn same_content(current: &EndpointSlice, planned: &EndpointSlice) -> bool {
    current.metadata.labels == planned.metadata.labels
        && current.metadata.owner_references == planned.metadata.owner_references
        && current.address_type == planned.address_type
        && current.ports.as_deref().unwrap_or_default()
            == planned.ports.as_deref().unwrap_or_default()
        && current.endpoints == planned.endpoints
}

/// Gives a new slice the identity of the slice it replaces, so it is written as an update.
fn adopt_identity(slice: &mut EndpointSlice, doomed: &EndpointSlice) {
    slice.metadata.name = doomed.metadata.name.clone();
    slice.metadata.uid = doomed.metadata.uid.clone();
    slice.metadata.resource_version = doomed.metadata.resource_version.clone();
    slice.metadata.creation_timestamp = doomed.metadata.creation_timestamp.clone();
}

/// Sets or clears endpoint hints on every slice written, and schedules an
/// update for unchanged slices whose hints are wrong.
fn apply_hints(
    context: &Context<'_>,
    existing: &[&EndpointSlice],
    to_delete: &[&EndpointSlice],
    create: &mut [EndpointSlice],
    update: &mut Vec<EndpointSlice>,
) {
    let changed: BTreeSet<Option<&String>> = update
        .iter()
        .map(|s| s.metadata.name.as_ref())
        .chain(to_delete.iter().map(|s| s.metadata.name.as_ref()))
        .collect();
    let stale: Vec<EndpointSlice> = existing
        .iter()
        .filter(|slice| !changed.contains(&slice.metadata.name.as_ref()))
        .filter(|slice| needs_hint_update(context.hints, slice))
        .map(|slice| (*slice).clone())
        .collect();
    update.extend(stale);
    for slice in create.iter_mut().chain(update.iter_mut()) {
        set_hints(context.hints, slice);
    }
}

fn is_ready_endpoint(endpoint: &Endpoint) -> bool {
    endpoint.conditions.as_ref().and_then(|c| c.ready) == Some(true)
}

fn needs_hint_update(policy: HintPolicy, slice: &EndpointSlice) -> bool {
    match policy {
        HintPolicy::None => slice.endpoints.iter().any(|e| e.hints.is_some()),
        HintPolicy::PreferClose { node_hints } => slice
            .endpoints
            .iter()
            .filter(|e| is_ready_endpoint(e))
            .any(|e| {
                let zones = e
                    .hints
                    .as_ref()
                    .and_then(|h| h.for_zones.as_deref())
                    .unwrap_or_default();
                let nodes = e
                    .hints
                    .as_ref()
                    .and_then(|h| h.for_nodes.as_deref())
                    .unwrap_or_default();
                let zone_wrong = match &e.zone {
                    Some(zone) => !matches!(zones, [only] if &only.name == zone),
                    None => !zones.is_empty(),
                };
                let node_wrong = match (&e.node_name, node_hints) {
                    (Some(node), true) => !matches!(nodes, [only] if &only.name == node),
                    _ => !nodes.is_empty(),
                };
                zone_wrong || node_wrong
            }),
    }
}

fn set_hints(policy: HintPolicy, slice: &mut EndpointSlice) {
    for endpoint in &mut slice.endpoints {
        match policy {
            HintPolicy::None => endpoint.hints = None,
            HintPolicy::PreferClose { node_hints } => {
                // Hints of endpoints that are not ready are left as they are, as upstream does.
                if !is_ready_endpoint(endpoint) {
                    continue;
                }
                let for_zones = endpoint
                    .zone
                    .as_ref()
                    .map(|zone| vec![ForZone { name: zone.clone() }]);
                let for_nodes = endpoint
                    .node_name
                    .as_ref()
                    .filter(|_| node_hints)
                    .map(|node| vec![ForNode { name: node.clone() }]);
                endpoint.hints =
                    (for_zones.is_some() || for_nodes.is_some()).then_some(EndpointHints {
                        for_zones,
                        for_nodes,
                    });
            }
        }
    }
}

/// Names for new slices: the caller's suffixes, else a counter, never one already taken.
struct NameSource<'a> {
    taken: BTreeSet<String>,
    custom: Option<&'a mut dyn FnMut() -> String>,
    counter: u64,
}

impl<'a> NameSource<'a> {
    fn new(existing: &[EndpointSlice], custom: Option<&'a mut dyn FnMut() -> String>) -> Self {
        NameSource {
            taken: existing.iter().filter_map(slice_name).collect(),
            custom,
            counter: 0,
        }
    }

    fn next(&mut self, prefix: &str) -> String {
        if let Some(custom) = self.custom.as_mut() {
            for _ in 0..MAX_SUFFIX_ATTEMPTS {
                let name = format!("{prefix}{}", custom());
                if self.taken.insert(name.clone()) {
                    return name;
                }
            }
        }
        loop {
            let name = format!("{prefix}{}", counter_suffix(self.counter));
            self.counter += 1;
            if self.taken.insert(name.clone()) {
                return name;
            }
        }
    }
}

/// The `n`th suffix in the API server's alphabet: five characters, more once those run out.
fn counter_suffix(mut n: u64) -> String {
    let base = SUFFIX_ALPHABET.len() as u64;
    let mut reversed = Vec::with_capacity(SUFFIX_LEN);
    while reversed.len() < SUFFIX_LEN || n > 0 {
        let digit = usize::try_from(n % base).unwrap_or_default();
        reversed.push(SUFFIX_ALPHABET.get(digit).copied().unwrap_or(b'b'));
        n /= base;
    }
    reversed.iter().rev().map(|&b| char::from(b)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpointslice::fixtures::*;
    use crate::endpointslice::{reconcile, reconcile_with};

    /// Reconciles from nothing and applies the plan.
    fn fresh(service: &Service, pods: &[Pod]) -> Vec<EndpointSlice> {
        apply(&[], &reconcile(service, pods, &[]))
    }

    fn endpoints_of(slices: &[EndpointSlice]) -> Vec<&Endpoint> {
        slices.iter().flat_map(|s| s.endpoints.iter()).collect()
    }

    fn pod_names(slice: &EndpointSlice) -> Vec<String> {
        let mut names: Vec<String> = slice
            .endpoints
            .iter()
            .filter_map(|e| e.target_ref.as_ref()?.name.clone())
            .collect();
        names.sort();
        names
    }

    fn endpoint_for<'s>(slices: &'s [EndpointSlice], pod: &str) -> &'s Endpoint {
        endpoints_of(slices)
            .into_iter()
            .find(|e| e.target_ref.as_ref().and_then(|t| t.name.as_deref()) == Some(pod))
            .unwrap_or_else(|| panic!("no endpoint for {pod}"))
    }

    fn conditions(endpoint: &Endpoint) -> (Option<bool>, Option<bool>, Option<bool>) {
        let c = endpoint.conditions.clone().expect("conditions");
        (c.ready, c.serving, c.terminating)
    }

    fn ports_of(slice: &EndpointSlice) -> Vec<(String, i32)> {
        slice
            .ports
            .iter()
            .flatten()
            .map(|p| {
                (
                    p.name.clone().unwrap_or_default(),
                    p.port.unwrap_or_default(),
                )
            })
            .collect()
    }

    #[test]
    fn endpoint_conditions() {
        struct Case {
            name: &'static str,
            pod: Pod,
            publish_not_ready: bool,
            want: (bool, bool, bool),
        }
        let cases = [
            Case {
                name: "ready",
                pod: pod("p", "10.0.0.1", true),
                publish_not_ready: false,
                want: (true, true, false),
            },
            Case {
                name: "not ready",
                pod: pod("p", "10.0.0.1", false),
                publish_not_ready: false,
                want: (false, false, false),
            },
            Case {
                name: "terminating, still serving",
                pod: terminating(pod("p", "10.0.0.1", true)),
                publish_not_ready: false,
                want: (false, true, true),
            },
            Case {
                name: "terminating, not serving",
                pod: terminating(pod("p", "10.0.0.1", false)),
                publish_not_ready: false,
                want: (false, false, true),
            },
            Case {
                name: "publishNotReady, not ready",
                pod: pod("p", "10.0.0.1", false),
                publish_not_ready: true,
                want: (true, false, false),
            },
            Case {
                name: "publishNotReady, terminating",
                pod: terminating(pod("p", "10.0.0.1", false)),
                publish_not_ready: true,
                want: (true, false, true),
            },
        ];
        for case in cases {
            let svc = with_spec(web_service(None), |s| {
                s.publish_not_ready_addresses = Some(case.publish_not_ready)
            });
            let slices = fresh(&svc, &[case.pod]);
            let (r, s, t) = case.want;
            assert_eq!(
                conditions(endpoint_for(&slices, "p")),
                (Some(r), Some(s), Some(t)),
                "{}",
                case.name
            );
        }
    }

    #[test]
    fn which_pods_are_listed() {
        struct Case {
            name: &'static str,
            pod: Pod,
            listed: bool,
        }
        let cases = [
            Case {
                name: "selected",
                pod: pod("p", "10.0.0.1", true),
                listed: true,
            },
            Case {
                name: "other labels",
                pod: with_labels(pod("p", "10.0.0.1", true), &[("app", "db")]),
                listed: false,
            },
            Case {
                name: "other namespace",
                pod: in_namespace(pod("p", "10.0.0.1", true), "kube-system"),
                listed: false,
            },
            Case {
                name: "no ip",
                pod: without_ip(pod("p", "10.0.0.1", true)),
                listed: false,
            },
            Case {
                name: "podIP only",
                pod: only_pod_ip(pod("p", "10.0.0.1", true)),
                listed: true,
            },
            Case {
                name: "succeeded",
                pod: with_phase(pod("p", "10.0.0.1", true), "Succeeded"),
                listed: false,
            },
            Case {
                name: "failed",
                pod: with_phase(pod("p", "10.0.0.1", false), "Failed"),
                listed: false,
            },
            Case {
                name: "pending with ip",
                pod: with_phase(pod("p", "10.0.0.1", false), "Pending"),
                listed: true,
            },
            Case {
                name: "terminating",
                pod: terminating(pod("p", "10.0.0.1", true)),
                listed: true,
            },
            Case {
                name: "unparseable ip",
                pod: with_ips(pod("p", "10.0.0.1", true), &["not-an-ip"]),
                listed: false,
            },
        ];
        for case in cases {
            let slices = fresh(&web_service(None), &[case.pod]);
            assert_eq!(slices.len(), 1, "{}: one slice (or placeholder)", case.name);
            assert_eq!(
                !endpoints_of(&slices).is_empty(),
                case.listed,
                "{}",
                case.name
            );
        }
    }

    #[test]
    fn ports_resolve_per_pod() {
        let svc = web_service(Some(named_target("http")));
        let pods = vec![
            with_container_ports(pod("a", "10.0.0.1", true), &[("http", 8080, "TCP")]),
            with_container_ports(pod("b", "10.0.0.2", true), &[("http", 8080, "TCP")]),
            with_container_ports(pod("c", "10.0.0.3", true), &[("http", 9090, "TCP")]),
            pod("d", "10.0.0.4", true),
        ];
        let slices = fresh(&svc, &pods);
        type Layout = Vec<(Vec<(String, i32)>, Vec<String>)>;
        let mut layout: Layout = slices.iter().map(|s| (ports_of(s), pod_names(s))).collect();
        layout.sort();
        let want = vec![
            (vec![], vec!["d".to_owned()]),
            (
                vec![("http".to_owned(), 8080)],
                vec!["a".to_owned(), "b".to_owned()],
            ),
            (vec![("http".to_owned(), 9090)], vec!["c".to_owned()]),
        ];
        assert_eq!(layout, want);
    }

    #[test]
    fn port_fields() {
        let mut port = svc_port("grpc", 443, Some(int_target(8443)), "TCP");
        port.app_protocol = Some("kubernetes.io/h2c".to_owned());
        let unnamed = k8s_openapi::api::core::v1::ServicePort {
            name: None,
            protocol: None,
            ..svc_port("", 53, None, "UDP")
        };
        let svc = service("web", &[("app", "web")], vec![port, unnamed]);
        let slices = fresh(&svc, &[pod("a", "10.0.0.1", true)]);
        let want = vec![
            EndpointPort {
                name: Some("grpc".to_owned()),
                port: Some(8443),
                protocol: Some("TCP".to_owned()),
                app_protocol: Some("kubernetes.io/h2c".to_owned()),
            },
            EndpointPort {
                name: Some(String::new()),
                port: Some(53),
                protocol: Some("TCP".to_owned()),
                app_protocol: None,
            },
        ];
        assert_eq!(slices[0].ports.as_deref(), Some(want.as_slice()));
    }

    #[test]
    fn many_pods_fill_slices_of_at_most_100() {
        let cases = [
            (0, vec![0]),
            (1, vec![1]),
            (100, vec![100]),
            (101, vec![1, 100]),
            (250, vec![50, 100, 100]),
        ];
        for (count, want) in cases {
            let slices = fresh(&web_service(None), &many_pods(count));
            let mut sizes: Vec<usize> = slices.iter().map(|s| s.endpoints.len()).collect();
            sizes.sort();
            assert_eq!(sizes, want, "{count} pods");
        }
    }

    #[test]
    fn max_endpoints_option() {
        let plan = reconcile_with(
            &web_service(None),
            &many_pods(7),
            &[],
            ReconcileOptions {
                max_endpoints_per_slice: 3,
                ..ReconcileOptions::default()
            },
        );
        let mut sizes: Vec<usize> = plan.create.iter().map(|s| s.endpoints.len()).collect();
        sizes.sort();
        assert_eq!(sizes, vec![1, 3, 3]);
    }

    #[test]
    fn address_families() {
        struct Case {
            name: &'static str,
            families: Option<Vec<&'static str>>,
            cluster_ip: &'static str,
            pods: Vec<Pod>,
            want: Vec<(&'static str, Vec<&'static str>)>,
        }
        let cases = [
            Case {
                name: "ipv6 service, ipv6 pods",
                families: Some(vec!["IPv6"]),
                cluster_ip: "fd00::10",
                pods: vec![pod("a", "fd00::1", true), pod("b", "FD00:0::2", true)],
                want: vec![("IPv6", vec!["fd00::1", "fd00::2"])],
            },
            Case {
                name: "dual-stack service, dual-stack pods",
                families: Some(vec!["IPv4", "IPv6"]),
                cluster_ip: "10.96.0.10",
                pods: vec![with_ips(
                    pod("a", "10.0.0.1", true),
                    &["10.0.0.1", "fd00::1"],
                )],
                want: vec![("IPv4", vec!["10.0.0.1"]), ("IPv6", vec!["fd00::1"])],
            },
            Case {
                name: "ipv4 service, ipv6 pod: placeholder",
                families: Some(vec!["IPv4"]),
                cluster_ip: "10.96.0.10",
                pods: vec![pod("a", "fd00::1", true)],
                want: vec![("IPv4", vec![])],
            },
            Case {
                name: "no families, ipv6 cluster ip",
                families: None,
                cluster_ip: "fd00::10",
                pods: vec![pod("a", "fd00::1", true)],
                want: vec![("IPv6", vec!["fd00::1"])],
            },
            Case {
                name: "no families, headless: both",
                families: None,
                cluster_ip: "None",
                pods: vec![pod("a", "10.0.0.1", true)],
                want: vec![("IPv4", vec!["10.0.0.1"]), ("IPv6", vec![])],
            },
            Case {
                name: "leading zeros are normalised",
                families: Some(vec!["IPv4"]),
                cluster_ip: "10.96.0.10",
                pods: vec![pod("a", "010.000.000.001", true)],
                want: vec![("IPv4", vec!["10.0.0.1"])],
            },
        ];
        for case in cases {
            let svc = with_spec(web_service(None), |s| {
                s.ip_families = case
                    .families
                    .map(|f| f.iter().map(|x| (*x).to_owned()).collect());
                s.cluster_ip = Some(case.cluster_ip.to_owned());
            });
            let slices = fresh(&svc, &case.pods);
            let mut got: Vec<(&str, Vec<&str>)> = slices
                .iter()
                .map(|s| {
                    let mut addrs: Vec<&str> = s
                        .endpoints
                        .iter()
                        .flat_map(|e| e.addresses.iter().map(String::as_str))
                        .collect();
                    addrs.sort();
                    (s.address_type.as_str(), addrs)
                })
                .collect();
            got.sort();
            assert_eq!(got, case.want, "{}", case.name);
        }
    }

    #[test]
    fn hostname_needs_matching_subdomain() {
        let pods = vec![
            with_hostname(pod("a", "10.0.0.1", true), "web-0", "web"),
            with_hostname(pod("b", "10.0.0.2", true), "web-1", "other"),
            pod("c", "10.0.0.3", true),
        ];
        let slices = fresh(&web_service(None), &pods);
        assert_eq!(
            endpoint_for(&slices, "a").hostname.as_deref(),
            Some("web-0")
        );
        assert_eq!(endpoint_for(&slices, "b").hostname, None);
        assert_eq!(endpoint_for(&slices, "c").hostname, None);
    }

    #[test]
    fn endpoint_fields() {
        let zones = BTreeMap::from([("node-1".to_owned(), "zone-a".to_owned())]);
        let pods = vec![
            pod("a", "10.0.0.1", true),
            on_node(pod("b", "10.0.0.2", true), "node-9"),
        ];
        let plan = reconcile_with(
            &web_service(None),
            &pods,
            &[],
            ReconcileOptions {
                node_zones: Some(&zones),
                ..ReconcileOptions::default()
            },
        );
        let slices = apply(&[], &plan);
        let a = endpoint_for(&slices, "a");
        assert_eq!(a.node_name.as_deref(), Some("node-1"));
        assert_eq!(a.zone.as_deref(), Some("zone-a"));
        assert_eq!(a.hints, None, "no trafficDistribution, no hints");
        assert_eq!(
            a.target_ref,
            Some(ObjectReference {
                kind: Some("Pod".to_owned()),
                namespace: Some("default".to_owned()),
                name: Some("a".to_owned()),
                uid: Some("uid-a".to_owned()),
                ..ObjectReference::default()
            })
        );
        let b = endpoint_for(&slices, "b");
        assert_eq!(
            (b.node_name.as_deref(), b.zone.as_deref()),
            (Some("node-9"), None)
        );
        let without_zones = fresh(&web_service(None), &pods);
        assert_eq!(endpoint_for(&without_zones, "a").zone, None);
    }

    #[test]
    fn slice_metadata_shape() {
        let mut svc = web_service(None);
        svc.metadata.labels = Some(BTreeMap::from([
            ("team".to_owned(), "payments".to_owned()),
            (LABEL_MANAGED_BY.to_owned(), "someone-else".to_owned()),
            (LABEL_SERVICE_NAME.to_owned(), "spoofed".to_owned()),
            (LABEL_HEADLESS.to_owned(), "x".to_owned()),
        ]));
        let plan = reconcile(&svc, &[pod("a", "10.0.0.1", true)], &[]);
        assert_eq!(plan.create.len(), 1);
        let slice = &plan.create[0];
        assert_eq!(slice.metadata.name.as_deref(), Some("web-bbbbb"));
        assert_eq!(slice.metadata.generate_name.as_deref(), Some("web-"));
        assert_eq!(slice.metadata.namespace.as_deref(), Some("default"));
        assert_eq!(slice.address_type, "IPv4");
        let want_labels = BTreeMap::from([
            ("team".to_owned(), "payments".to_owned()),
            (LABEL_MANAGED_BY.to_owned(), CONTROLLER_NAME.to_owned()),
            (LABEL_SERVICE_NAME.to_owned(), "web".to_owned()),
        ]);
        assert_eq!(slice.metadata.labels.as_ref(), Some(&want_labels));
        let want_owner = OwnerReference {
            api_version: "v1".to_owned(),
            kind: "Service".to_owned(),
            name: "web".to_owned(),
            uid: "uid-svc-web".to_owned(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        };
        assert_eq!(
            slice.metadata.owner_references.as_deref(),
            Some(std::slice::from_ref(&want_owner))
        );
    }

    #[test]
    fn headless_service() {
        let svc = with_spec(service("db", &[("app", "web")], vec![]), |s| {
            s.cluster_ip = Some("None".to_owned())
        });
        let slices = fresh(&svc, &[pod("a", "10.0.0.1", true)]);
        assert_eq!(slices.len(), 1);
        let labels = slices[0].metadata.labels.clone().unwrap_or_default();
        assert_eq!(labels.get(LABEL_HEADLESS).map(String::as_str), Some(""));
        assert_eq!(slices[0].ports.as_deref(), Some(&[][..]));
        assert_eq!(slices[0].endpoints.len(), 1);
    }

    #[test]
    fn long_service_names_cut_the_prefix() {
        let name = "s".repeat(63);
        let svc = service(&name, &[("app", "web")], vec![]);
        let plan = reconcile(&svc, &[], &[]);
        let slice_name = plan.create[0].metadata.name.clone().expect("name");
        assert_eq!(slice_name.len(), 63);
        assert!(slice_name.starts_with(&"s".repeat(58)));
    }

    #[test]
    fn unmanaged_services_lose_managed_slices() {
        let managed = fresh(&web_service(None), &[pod("a", "10.0.0.1", true)]);
        let mut foreign = managed[0].clone();
        foreign.metadata.name = Some("web-manual".to_owned());
        if let Some(labels) = foreign.metadata.labels.as_mut() {
            labels.insert(
                LABEL_MANAGED_BY.to_owned(),
                "endpointslicemirroring-controller.k8s.io".to_owned(),
            );
        }
        let existing = vec![managed[0].clone(), foreign];
        let managed_name = managed[0].metadata.name.clone().expect("name");
        let cases = [
            (
                "external name",
                with_spec(web_service(None), |s| {
                    s.type_ = Some("ExternalName".to_owned())
                }),
            ),
            (
                "no selector",
                with_spec(web_service(None), |s| s.selector = None),
            ),
            (
                "empty selector",
                with_spec(web_service(None), |s| s.selector = Some(BTreeMap::new())),
            ),
        ];
        for (name, svc) in cases {
            let plan = reconcile(&svc, &[pod("a", "10.0.0.1", true)], &existing);
            assert_eq!(plan.delete, vec![managed_name.clone()], "{name}");
            assert!(plan.create.is_empty() && plan.update.is_empty(), "{name}");
        }
    }

    #[test]
    fn slices_of_other_controllers_are_left_alone() {
        let svc = web_service(None);
        let mut foreign = fresh(&svc, &[pod("x", "10.9.9.9", true)]).remove(0);
        foreign.metadata.name = Some("web-bbbbb".to_owned());
        if let Some(labels) = foreign.metadata.labels.as_mut() {
            labels.insert(LABEL_MANAGED_BY.to_owned(), "someone-else".to_owned());
        }
        let plan = reconcile(
            &svc,
            &[pod("a", "10.0.0.1", true)],
            std::slice::from_ref(&foreign),
        );
        assert!(plan.delete.is_empty() && plan.update.is_empty());
        assert_eq!(plan.create.len(), 1);
        assert_eq!(
            plan.create[0].metadata.name.as_deref(),
            Some("web-bbbbc"),
            "the foreign slice's name is taken"
        );
    }

    #[test]
    fn placeholder_for_a_service_without_endpoints() {
        let svc = web_service(None);
        let plan = reconcile(&svc, &[], &[]);
        assert_eq!(plan.create.len(), 1);
        assert!(plan.create[0].endpoints.is_empty());
        assert_eq!(plan.create[0].ports.as_deref(), Some(&[][..]));
        let stored = apply(&[], &plan);
        assert!(
            reconcile(&svc, &[], &stored).is_empty(),
            "placeholder is kept"
        );

        // The last pods leaving turn their slice into the placeholder in one update.
        let full = fresh(&svc, &[pod("a", "10.0.0.1", true)]);
        let plan = reconcile(&svc, &[], &full);
        assert!(plan.create.is_empty() && plan.delete.is_empty(), "{plan:?}");
        assert_eq!(plan.update.len(), 1);
        assert_eq!(plan.update[0].metadata.name, full[0].metadata.name);
        assert!(plan.update[0].endpoints.is_empty());
        assert!(reconcile(&svc, &[], &apply(&full, &plan)).is_empty());

        // Several slices emptied at once: one survives as the placeholder.
        let many = fresh(&svc, &many_pods(250));
        let plan = reconcile(&svc, &[], &many);
        assert_eq!(
            (plan.create.len(), plan.update.len(), plan.delete.len()),
            (0, 1, 2)
        );
    }

    #[test]
    fn placeholder_is_reused_by_pods_without_ports() {
        // Pods of a port-less headless Service share the placeholder's (empty)
        // port set; when they exactly fill new slices the placeholder must not
        // linger empty next to them.
        let svc = with_spec(service("db", &[("app", "web")], vec![]), |s| {
            s.cluster_ip = Some("None".to_owned())
        });
        let svc = with_spec(svc, |s| s.ip_families = Some(vec!["IPv4".to_owned()]));
        let placeholder = fresh(&svc, &[]);
        assert_eq!(placeholder.len(), 1);
        let plan = reconcile(&svc, &many_pods(100), &placeholder);
        assert_eq!(
            (plan.create.len(), plan.update.len(), plan.delete.len()),
            (0, 1, 0),
            "{plan:?}"
        );
        assert_eq!(plan.update[0].metadata.name, placeholder[0].metadata.name);
        assert_eq!(plan.update[0].endpoints.len(), 100);
    }

    #[test]
    fn reconciling_twice_plans_nothing() {
        let named = web_service(Some(named_target("http")));
        let dual = with_spec(web_service(None), |s| {
            s.ip_families = Some(vec!["IPv4".to_owned(), "IPv6".to_owned()])
        });
        let headless = with_spec(web_service(None), |s| {
            s.cluster_ip = Some("None".to_owned())
        });
        let publish = with_spec(web_service(None), |s| {
            s.publish_not_ready_addresses = Some(true)
        });
        let mut mixed = many_pods(230);
        mixed[3] = with_container_ports(mixed[3].clone(), &[("http", 8080, "TCP")]);
        mixed[4] = terminating(mixed[4].clone());
        mixed[5] = with_ips(mixed[5].clone(), &["10.3.0.1", "fd00::5"]);
        mixed[6] = pod("pod-006", "10.1.0.7", false);
        mixed[7] = with_hostname(mixed[7].clone(), "h", "web");
        let cases = [
            ("plain", web_service(None), mixed.clone()),
            ("named ports", named, mixed.clone()),
            ("dual stack", dual, mixed.clone()),
            ("headless", headless, mixed.clone()),
            ("publish not ready", publish, mixed.clone()),
            ("no pods", web_service(None), vec![]),
        ];
        for (name, svc, pods) in cases {
            let stored = fresh(&svc, &pods);
            assert!(!stored.is_empty(), "{name}");
            let again = reconcile(&svc, &pods, &stored);
            assert!(again.is_empty(), "{name}: {again:?}");
            let mut shuffled = pods.clone();
            shuffled.reverse();
            assert!(
                reconcile(&svc, &shuffled, &stored).is_empty(),
                "{name}: pod order does not matter"
            );
        }
    }

    #[test]
    fn slices_of_a_previous_service_are_replaced() {
        let old = fresh(&web_service(None), &[pod("a", "10.0.0.1", true)]);
        let mut svc = web_service(None);
        svc.metadata.uid = Some("uid-new".to_owned());
        let plan = reconcile(&svc, &[pod("a", "10.0.0.1", true)], &old);
        assert_eq!(
            plan.delete,
            vec![old[0].metadata.name.clone().expect("name")]
        );
        assert_eq!(
            plan.create.len(),
            1,
            "never recycled: it belongs to another owner"
        );
        assert!(plan.update.is_empty());
    }

    #[test]
    fn slices_of_an_unsupported_family_are_deleted() {
        let dual = with_spec(web_service(None), |s| {
            s.ip_families = Some(vec!["IPv4".to_owned(), "IPv6".to_owned()])
        });
        let pods = vec![with_ips(
            pod("a", "10.0.0.1", true),
            &["10.0.0.1", "fd00::1"],
        )];
        let stored = fresh(&dual, &pods);
        assert_eq!(stored.len(), 2);
        let plan = reconcile(&web_service(None), &pods, &stored);
        let v6: Vec<String> = stored
            .iter()
            .filter(|s| s.address_type == "IPv6")
            .filter_map(|s| s.metadata.name.clone())
            .collect();
        assert_eq!(plan.delete, v6);
        assert!(plan.create.is_empty() && plan.update.is_empty());
    }

    #[test]
    fn slices_being_deleted_are_ignored() {
        let svc = web_service(None);
        let mut stored = fresh(&svc, &[pod("a", "10.0.0.1", true)]);
        stored[0].metadata.deletion_timestamp = Some(
            k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(Default::default()),
        );
        let plan = reconcile(&svc, &[pod("a", "10.0.0.1", true)], &stored);
        assert!(plan.delete.is_empty() && plan.update.is_empty());
        assert_eq!(plan.create.len(), 1);
        assert_ne!(plan.create[0].metadata.name, stored[0].metadata.name);
    }

    #[test]
    fn service_being_deleted_gets_no_new_slices() {
        let mut svc = web_service(None);
        svc.metadata.deletion_timestamp = Some(
            k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(Default::default()),
        );
        assert!(reconcile(&svc, &[pod("a", "10.0.0.1", true)], &[]).is_empty());
    }

    #[test]
    fn service_label_change_updates_every_slice() {
        let svc = web_service(None);
        let stored = fresh(&svc, &many_pods(150));
        let mut relabelled = svc.clone();
        relabelled.metadata.labels = Some(BTreeMap::from([("team".to_owned(), "x".to_owned())]));
        let plan = reconcile(&relabelled, &many_pods(150), &stored);
        assert_eq!(plan.update.len(), 2);
        assert!(plan.create.is_empty() && plan.delete.is_empty());
        for slice in &plan.update {
            assert_eq!(
                slice
                    .metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get("team"))
                    .map(String::as_str),
                Some("x")
            );
        }
        // Reserved labels on the Service are not a change.
        let mut reserved = svc.clone();
        reserved.metadata.labels = Some(BTreeMap::from([(
            LABEL_MANAGED_BY.to_owned(),
            "x".to_owned(),
        )]));
        assert!(reconcile(&reserved, &many_pods(150), &stored).is_empty());
    }

    #[test]
    fn minimal_churn() {
        let svc = web_service(None);
        let pods = many_pods(250);
        let stored = fresh(&svc, &pods);

        struct Case {
            name: &'static str,
            pods: Vec<Pod>,
            updates: usize,
            creates: usize,
        }
        let mut flipped = pods.clone();
        flipped[17] = pod("pod-017", "10.1.0.18", false);
        let mut removed = pods.clone();
        removed.remove(42);
        let mut added = pods.clone();
        added.push(pod("pod-new", "10.2.0.1", true));
        let mut renode = pods.clone();
        renode[3] = on_node(renode[3].clone(), "node-2");
        let mut resourced = pods.clone();
        resourced[5].metadata.resource_version = Some("999".to_owned());
        let cases = [
            Case {
                name: "readiness flip",
                pods: flipped,
                updates: 1,
                creates: 0,
            },
            Case {
                name: "pod removed",
                pods: removed,
                updates: 1,
                creates: 0,
            },
            Case {
                name: "pod added",
                pods: added,
                updates: 1,
                creates: 0,
            },
            Case {
                name: "node changed",
                pods: renode,
                updates: 1,
                creates: 0,
            },
            Case {
                name: "unrelated pod change",
                pods: resourced,
                updates: 0,
                creates: 0,
            },
        ];
        for case in cases {
            let plan = reconcile(&svc, &case.pods, &stored);
            assert_eq!(plan.update.len(), case.updates, "{}: {plan:?}", case.name);
            assert_eq!(plan.create.len(), case.creates, "{}", case.name);
            assert!(plan.delete.is_empty(), "{}", case.name);
            let after = apply(&stored, &plan);
            let moved = stored
                .iter()
                .zip(after.iter())
                .map(|(before, after)| {
                    let before: BTreeSet<String> = pod_names(before).into_iter().collect();
                    let after: BTreeSet<String> = pod_names(after).into_iter().collect();
                    before.symmetric_difference(&after).count()
                })
                .sum::<usize>();
            assert!(moved <= 1, "{}: {moved} endpoints moved", case.name);
            assert!(
                reconcile(&svc, &case.pods, &after).is_empty(),
                "{}: converges",
                case.name
            );
        }
    }

    #[test]
    fn new_endpoints_go_to_the_best_fitting_slice() {
        let svc = web_service(None);
        // Slices of 100, 100 and 50; 40 new pods fit the 50 exactly as an update.
        let stored = fresh(&svc, &many_pods(250));
        let plan = reconcile(&svc, &many_pods(290), &stored);
        assert_eq!((plan.create.len(), plan.update.len()), (0, 1));
        assert_eq!(plan.update[0].endpoints.len(), 90);
        // 60 new pods do not fit in any: a new slice.
        let plan = reconcile(&svc, &many_pods(310), &stored);
        assert_eq!((plan.create.len(), plan.update.len()), (1, 0));
    }

    #[test]
    fn prefer_close_hints() {
        let zones = BTreeMap::from([("node-1".to_owned(), "zone-a".to_owned())]);
        let options = |zones| ReconcileOptions {
            node_zones: Some(zones),
            ..ReconcileOptions::default()
        };
        let close = with_spec(web_service(None), |s| {
            s.traffic_distribution = Some("PreferClose".to_owned())
        });
        let pods = vec![pod("a", "10.0.0.1", true), pod("b", "10.0.0.2", false)];
        let stored = apply(&[], &reconcile_with(&close, &pods, &[], options(&zones)));
        let a = endpoint_for(&stored, "a");
        let want = EndpointHints {
            for_zones: Some(vec![ForZone {
                name: "zone-a".to_owned(),
            }]),
            for_nodes: None,
        };
        assert_eq!(a.hints.as_ref(), Some(&want));
        assert_eq!(endpoint_for(&stored, "b").hints, None, "not ready: no hint");
        assert!(reconcile_with(&close, &pods, &stored, options(&zones)).is_empty());

        // Dropping trafficDistribution clears the hints of an otherwise unchanged slice.
        let plan = reconcile_with(&web_service(None), &pods, &stored, options(&zones));
        assert_eq!(plan.update.len(), 1);
        assert!(plan.update[0].endpoints.iter().all(|e| e.hints.is_none()));

        // PreferSameNode is only honoured when its feature gate is on.
        let same_node = with_spec(web_service(None), |s| {
            s.traffic_distribution = Some("PreferSameNode".to_owned())
        });
        let off = fresh(&same_node, &pods);
        assert_eq!(endpoint_for(&off, "a").hints, None);
        let on = apply(
            &[],
            &reconcile_with(
                &same_node,
                &pods,
                &[],
                ReconcileOptions {
                    prefer_same_traffic_distribution: true,
                    ..options(&zones)
                },
            ),
        );
        let hints = endpoint_for(&on, "a").hints.clone().expect("hints");
        assert_eq!(
            hints.for_nodes,
            Some(vec![ForNode {
                name: "node-1".to_owned()
            }])
        );

        // The topology-mode annotation wins over trafficDistribution.
        let mut annotated = close.clone();
        annotated.metadata.annotations = Some(BTreeMap::from([(
            ANNOTATION_TOPOLOGY_MODE.to_owned(),
            "Auto".to_owned(),
        )]));
        let slices = apply(
            &[],
            &reconcile_with(&annotated, &pods, &[], options(&zones)),
        );
        assert_eq!(endpoint_for(&slices, "a").hints, None);
    }

    #[test]
    fn caller_supplied_suffixes_skip_taken_names() {
        let svc = web_service(None);
        let stored = fresh(&svc, &[pod("a", "10.0.0.1", true)]);
        let taken = stored[0].metadata.name.clone().expect("name");
        let mut draws = vec!["zzzzz".to_owned(), "bbbbb".to_owned()];
        let mut next = move || draws.pop().unwrap_or_else(|| "xxxxx".to_owned());
        let plan = reconcile_with(
            &svc,
            &many_pods(150),
            &stored,
            ReconcileOptions {
                name_suffix: Some(&mut next),
                ..ReconcileOptions::default()
            },
        );
        let names: Vec<String> = plan
            .create
            .iter()
            .filter_map(|s| s.metadata.name.clone())
            .collect();
        assert_eq!(taken, "web-bbbbb");
        assert_eq!(names, vec!["web-zzzzz".to_owned()]);
    }

    #[test]
    fn counter_suffixes() {
        assert_eq!(counter_suffix(0), "bbbbb");
        assert_eq!(counter_suffix(1), "bbbbc");
        assert_eq!(counter_suffix(27), "bbbcb");
        assert_eq!(counter_suffix(27u64.pow(5)), "cbbbbb");
    }

    #[test]
    fn duplicated_endpoints_are_dropped() {
        let svc = web_service(None);
        let stored = fresh(&svc, &[pod("a", "10.0.0.1", true)]);
        let mut twin = stored[0].clone();
        twin.metadata.name = Some("web-twin".to_owned());
        let existing = vec![stored[0].clone(), twin];
        let plan = reconcile(&svc, &[pod("a", "10.0.0.1", true)], &existing);
        assert_eq!(plan.delete, vec!["web-twin".to_owned()]);
        assert!(plan.create.is_empty() && plan.update.is_empty());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        #[derive(Clone, Debug)]
        struct PodSpecimen {
            selected: bool,
            ready: bool,
            terminating: bool,
            terminal: bool,
            has_ip: bool,
            port: u8,
        }

        fn specimen() -> impl Strategy<Value = PodSpecimen> {
            (
                any::<bool>(),
                any::<bool>(),
                any::<bool>(),
                0u8..8,
                0u8..8,
                0u8..3,
            )
                .prop_map(|(selected, ready, terminating, terminal, ip, port)| {
                    PodSpecimen {
                        selected: selected || ip > 1,
                        ready,
                        terminating,
                        terminal: terminal == 0,
                        has_ip: ip != 0,
                        port,
                    }
                })
        }

        fn build(index: usize, s: &PodSpecimen) -> Pod {
            let name = format!("p{index:03}");
            let mut p = pod(
                &name,
                &format!("10.2.{}.{}", index / 200, index % 200 + 1),
                s.ready,
            );
            p = match s.port {
                0 => with_container_ports(p, &[("http", 8080, "TCP")]),
                1 => with_container_ports(p, &[("http", 9090, "TCP")]),
                _ => p,
            };
            if !s.selected {
                p = with_labels(p, &[("app", "other")]);
            }
            if s.terminating {
                p = terminating(p);
            }
            if s.terminal {
                p = with_phase(p, "Succeeded");
            }
            if !s.has_ip {
                p = without_ip(p);
            }
            p
        }

        fn listed(s: &PodSpecimen) -> bool {
            s.selected && s.has_ip && !s.terminal
        }

        fn expected_port(s: &PodSpecimen) -> Vec<(String, i32)> {
            match s.port {
                0 => vec![("http".to_owned(), 8080)],
                1 => vec![("http".to_owned(), 9090)],
                _ => vec![],
            }
        }

        fn service_under_test() -> Service {
            web_service(Some(named_target("http")))
        }

        fn plan_for(pods: &[Pod], existing: &[EndpointSlice], max: usize) -> SlicePlan {
            reconcile_with(
                &service_under_test(),
                pods,
                existing,
                ReconcileOptions {
                    max_endpoints_per_slice: max,
                    ..ReconcileOptions::default()
                },
            )
        }

        proptest! {
            #[test]
            fn reconcile_invariants(
                before in prop::collection::vec(specimen(), 0..40),
                after in prop::collection::vec(specimen(), 0..40),
                max in 1usize..12,
            ) {
                let before_pods: Vec<Pod> = before.iter().enumerate().map(|(i, s)| build(i, s)).collect();
                let after_pods: Vec<Pod> = after.iter().enumerate().map(|(i, s)| build(i, s)).collect();
                let stored = apply(&[], &plan_for(&before_pods, &[], max));

                let plan = plan_for(&after_pods, &stored, max);
                prop_assert_eq!(&plan, &plan_for(&after_pods, &stored, max), "deterministic");
                for update in &plan.update {
                    let current = stored.iter().find(|s| s.metadata.name == update.metadata.name);
                    prop_assert!(current.is_some_and(|c| !same_content(c, update)), "updates change something");
                }
                let result = apply(&stored, &plan);

                for slice in &result {
                    prop_assert!(slice.endpoints.len() <= max);
                    prop_assert!(!slice.endpoints.is_empty() || result.len() == 1, "only a lone placeholder is empty");
                }
                prop_assert!(!result.is_empty(), "a selector Service keeps at least one slice");

                for (index, s) in after.iter().enumerate() {
                    let name = format!("p{index:03}");
                    let homes: Vec<&EndpointSlice> = result
                        .iter()
                        .filter(|slice| pod_names(slice).contains(&name))
                        .collect();
                    if listed(s) {
                        prop_assert_eq!(homes.len(), 1, "{} listed once", name);
                        prop_assert_eq!(ports_of(homes[0]), expected_port(s));
                        let endpoint = endpoint_for(&result, &name);
                        let ready = s.ready && !s.terminating;
                        prop_assert_eq!(conditions(endpoint), (Some(ready), Some(s.ready), Some(s.terminating)));
                    } else {
                        prop_assert!(homes.is_empty(), "{} not listed", name);
                    }
                }

                prop_assert!(plan_for(&after_pods, &result, max).is_empty(), "idempotent");
            }
        }
    }
}
