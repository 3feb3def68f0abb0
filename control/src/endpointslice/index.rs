//! Which Services a change touches, and which Pods and EndpointSlices a
//! Service's reconcile needs: a compact index of Service selectors, Pod
//! labels and slice ownership, fed one object change at a time.
//!
//! The controller keeps only this index in memory (names and labels, not
//! objects) and reads the few full objects a reconcile needs from the store,
//! so a change costs work in proportion to the Service it touches, not to
//! the namespace. Selection is label equality, as for Service selectors:
//! Pods are found through posting lists by (key, value) pair, Services
//! through the first pair of their selector. Pure: no I/O, no clock.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Deserialize;

use super::LABEL_SERVICE_NAME;

/// Labels, or a Service's selector.
pub type Labels = BTreeMap<String, String>;

/// A Service by namespace and name.
pub type ServiceKey = (String, String);

/// The kinds of object the index follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// core/v1 Service: its selector.
    Service,
    /// core/v1 Pod: its labels.
    Pod,
    /// discovery.k8s.io/v1 EndpointSlice: the Service its label names.
    Slice,
}

/// The parts of an object the index reads; everything else is skipped
/// while decoding.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct Summary {
    #[serde(default)]
    metadata: SummaryMeta,
    #[serde(default)]
    spec: Option<SummarySpec>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
struct SummaryMeta {
    #[serde(default)]
    labels: Option<Labels>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
struct SummarySpec {
    // Only Services have a map here; a Pod's or slice's `spec` may hold
    // anything else, which must not fail the decode.
    #[serde(default, deserialize_with = "map_or_nothing")]
    selector: Option<Labels>,
}

fn map_or_nothing<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Labels>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    Ok(serde_json::from_value(value).ok())
}

impl Summary {
    /// Reads the summary of a stored object's JSON; `None` when it is not
    /// a JSON object.
    pub fn decode(json: &[u8]) -> Option<Summary> {
        serde_json::from_slice(json).ok()
    }

    /// A summary with these labels (tests and callers holding typed objects).
    pub fn with_labels(labels: Labels) -> Summary {
        Summary {
            metadata: SummaryMeta {
                labels: Some(labels),
            },
            spec: None,
        }
    }

    /// A Service summary with this selector.
    pub fn with_selector(selector: Labels) -> Summary {
        Summary {
            metadata: SummaryMeta::default(),
            spec: Some(SummarySpec {
                selector: Some(selector),
            }),
        }
    }

    fn labels(&self) -> Labels {
        self.metadata.labels.clone().unwrap_or_default()
    }

    fn selector(&self) -> Labels {
        self.spec
            .as_ref()
            .and_then(|s| s.selector.clone())
            .unwrap_or_default()
    }

    fn service_name(&self) -> Option<&str> {
        self.metadata
            .labels
            .as_ref()?
            .get(LABEL_SERVICE_NAME)
            .map(String::as_str)
    }
}

#[derive(Debug, Default)]
struct Namespace {
    /// Service name -> selector (empty: selects nothing, as the API server
    /// drops an empty selector).
    services: BTreeMap<String, Labels>,
    /// First selector pair -> the Services whose selector starts with it.
    services_by_pair: HashMap<(String, String), BTreeSet<String>>,
    /// Pod name -> labels.
    pods: HashMap<String, Labels>,
    /// Label pair -> the Pods carrying it.
    pods_by_pair: HashMap<(String, String), BTreeSet<String>>,
    /// Service name -> names of the slices labelled with it.
    slices: BTreeMap<String, BTreeSet<String>>,
    /// Slice name -> the Service its label names.
    slice_service: HashMap<String, String>,
}

impl Namespace {
    fn is_empty(&self) -> bool {
        self.services.is_empty() && self.pods.is_empty() && self.slice_service.is_empty()
    }

    /// Services whose non-empty selector `labels` satisfies.
    fn selecting(&self, labels: &Labels, into: &mut BTreeSet<String>) {
        for pair in labels {
            let key = (pair.0.clone(), pair.1.clone());
            for service in self.services_by_pair.get(&key).into_iter().flatten() {
                let selects = self
                    .services
                    .get(service)
                    .is_some_and(|selector| matches(selector, labels));
                if selects {
                    into.insert(service.clone());
                }
            }
        }
    }

    fn set_service(&mut self, name: &str, selector: Option<Labels>) {
        if let Some(old) = self.services.remove(name)
            && let Some(first) = old.into_iter().next()
        {
            remove_from(&mut self.services_by_pair, first, name);
        }
        if let Some(selector) = selector {
            if let Some(first) = selector.iter().next() {
                self.services_by_pair
                    .entry((first.0.clone(), first.1.clone()))
                    .or_default()
                    .insert(name.to_owned());
            }
            self.services.insert(name.to_owned(), selector);
        }
    }

    /// Replaces a pod's labels; returns the old ones.
    fn set_pod(&mut self, name: &str, labels: Option<Labels>) -> Option<Labels> {
        let old = self.pods.remove(name);
        for pair in old.iter().flatten() {
            remove_from(
                &mut self.pods_by_pair,
                (pair.0.clone(), pair.1.clone()),
                name,
            );
        }
        if let Some(labels) = labels {
            for pair in &labels {
                self.pods_by_pair
                    .entry((pair.0.clone(), pair.1.clone()))
                    .or_default()
                    .insert(name.to_owned());
            }
            self.pods.insert(name.to_owned(), labels);
        }
        old
    }

    /// Replaces the Service a slice belongs to; returns the old one.
    fn set_slice(&mut self, name: &str, service: Option<String>) -> Option<String> {
        let old = self.slice_service.remove(name);
        if let Some(old) = &old
            && let Some(names) = self.slices.get_mut(old)
        {
            names.remove(name);
            if names.is_empty() {
                self.slices.remove(old);
            }
        }
        if let Some(service) = service {
            self.slices
                .entry(service.clone())
                .or_default()
                .insert(name.to_owned());
            self.slice_service.insert(name.to_owned(), service);
        }
        old
    }
}

fn remove_from(
    map: &mut HashMap<(String, String), BTreeSet<String>>,
    key: (String, String),
    name: &str,
) {
    if let Some(names) = map.get_mut(&key) {
        names.remove(name);
        if names.is_empty() {
            map.remove(&key);
        }
    }
}

/// Whether a non-empty `selector` picks an object with `labels`.
fn matches(selector: &Labels, labels: &Labels) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// The index over every namespace.
#[derive(Debug, Default)]
pub struct Index {
    namespaces: HashMap<String, Namespace>,
}

impl Index {
    /// An empty index.
    pub fn new() -> Index {
        Index::default()
    }

    /// Records that object `name` of `kind` in `namespace` now looks like
    /// `now` (`None`: it was deleted), and returns the Services whose
    /// EndpointSlices may have to change because of it.
    pub fn observe(
        &mut self,
        kind: Kind,
        namespace: &str,
        name: &str,
        now: Option<&Summary>,
    ) -> BTreeSet<ServiceKey> {
        let ns = self.namespaces.entry(namespace.to_owned()).or_default();
        let mut touched = BTreeSet::new();
        match kind {
            Kind::Service => {
                ns.set_service(name, now.map(Summary::selector));
                touched.insert(name.to_owned());
            }
            Kind::Pod => {
                let labels = now.map(Summary::labels);
                if let Some(labels) = &labels {
                    ns.selecting(labels, &mut touched);
                }
                if let Some(old) = ns.set_pod(name, labels) {
                    ns.selecting(&old, &mut touched);
                }
            }
            Kind::Slice => {
                let service = now.and_then(Summary::service_name).map(str::to_owned);
                if let Some(service) = &service {
                    touched.insert(service.clone());
                }
                if let Some(old) = ns.set_slice(name, service) {
                    touched.insert(old);
                }
            }
        }
        if ns.is_empty() {
            self.namespaces.remove(namespace);
        }
        touched
            .into_iter()
            .map(|service| (namespace.to_owned(), service))
            .collect()
    }

    /// Every Service the index knows, and every Service a slice names
    /// (a Service that is gone may still have slices to remove).
    pub fn services(&self) -> BTreeSet<ServiceKey> {
        let mut all = BTreeSet::new();
        for (namespace, ns) in &self.namespaces {
            for name in ns.services.keys().chain(ns.slices.keys()) {
                all.insert((namespace.clone(), name.clone()));
            }
        }
        all
    }

    /// The Pods that Service `name`'s selector picks, sorted.
    pub fn pods_of(&self, namespace: &str, name: &str) -> Vec<String> {
        let Some(ns) = self.namespaces.get(namespace) else {
            return Vec::new();
        };
        let Some(selector) = ns.services.get(name).filter(|s| !s.is_empty()) else {
            return Vec::new();
        };
        // Start from the pair fewest pods carry, then check the rest.
        let narrowest = selector
            .iter()
            .map(|(k, v)| ns.pods_by_pair.get(&(k.clone(), v.clone())))
            .min_by_key(|pods| pods.map_or(0, BTreeSet::len));
        narrowest
            .flatten()
            .into_iter()
            .flatten()
            .filter(|pod| {
                ns.pods
                    .get(pod.as_str())
                    .is_some_and(|labels| matches(selector, labels))
            })
            .cloned()
            .collect()
    }

    /// The EndpointSlices labelled with Service `name`, sorted.
    pub fn slices_of(&self, namespace: &str, name: &str) -> Vec<String> {
        self.namespaces
            .get(namespace)
            .and_then(|ns| ns.slices.get(name))
            .map(|names| names.iter().cloned().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn keys(names: &[&str]) -> BTreeSet<ServiceKey> {
        names
            .iter()
            .map(|n| ("default".to_owned(), (*n).to_owned()))
            .collect()
    }

    fn pod(index: &mut Index, name: &str, pairs: &[(&str, &str)]) -> BTreeSet<ServiceKey> {
        index.observe(
            Kind::Pod,
            "default",
            name,
            Some(&Summary::with_labels(labels(pairs))),
        )
    }

    fn service(index: &mut Index, name: &str, pairs: &[(&str, &str)]) -> BTreeSet<ServiceKey> {
        index.observe(
            Kind::Service,
            "default",
            name,
            Some(&Summary::with_selector(labels(pairs))),
        )
    }

    #[test]
    fn summaries_decode_from_stored_json() {
        let service = br#"{"metadata":{"name":"web","labels":{"a":"b"}},
            "spec":{"selector":{"app":"web"},"ports":[{"port":80}]}}"#;
        let summary = Summary::decode(service).expect("decodes");
        assert_eq!(summary.selector(), labels(&[("app", "web")]));
        assert_eq!(summary.labels(), labels(&[("a", "b")]));
        // A Deployment-like selector object under spec is not a Service's.
        let other = br#"{"metadata":{},"spec":{"selector":{"matchLabels":{"a":"b"}}}}"#;
        assert_eq!(
            Summary::decode(other).expect("decodes").selector(),
            Labels::new()
        );
        let slice =
            br#"{"metadata":{"labels":{"kubernetes.io/service-name":"web"}},"endpoints":[]}"#;
        assert_eq!(
            Summary::decode(slice).expect("decodes").service_name(),
            Some("web")
        );
        assert_eq!(Summary::decode(b"[1]"), None);
        assert_eq!(Summary::decode(b"{"), None);
    }

    #[test]
    fn a_pod_change_touches_the_services_selecting_it_before_and_after() {
        let mut index = Index::new();
        assert_eq!(
            service(&mut index, "web", &[("app", "web")]),
            keys(&["web"])
        );
        service(
            &mut index,
            "web-canary",
            &[("app", "web"), ("track", "canary")],
        );
        service(&mut index, "db", &[("app", "db")]);
        service(&mut index, "manual", &[]);

        assert_eq!(pod(&mut index, "p1", &[("app", "web")]), keys(&["web"]));
        assert_eq!(
            pod(&mut index, "p1", &[("app", "web"), ("track", "canary")]),
            keys(&["web", "web-canary"])
        );
        // Relabelled away: both the old and the new selections change.
        assert_eq!(
            pod(&mut index, "p1", &[("app", "db")]),
            keys(&["web", "web-canary", "db"])
        );
        assert_eq!(
            index.observe(Kind::Pod, "default", "p1", None),
            keys(&["db"])
        );
        // A pod no selector picks touches nothing; neither does the manual
        // Service's empty selector pick everything.
        assert_eq!(pod(&mut index, "p2", &[("x", "y")]), keys(&[]));
        assert_eq!(index.pods_of("default", "manual"), Vec::<String>::new());
    }

    #[test]
    fn pods_of_a_service_follow_selector_and_label_changes() {
        let mut index = Index::new();
        pod(&mut index, "a", &[("app", "web"), ("track", "stable")]);
        pod(&mut index, "b", &[("app", "web"), ("track", "canary")]);
        pod(&mut index, "c", &[("app", "db")]);
        service(&mut index, "web", &[("app", "web")]);
        assert_eq!(index.pods_of("default", "web"), ["a", "b"]);
        service(&mut index, "web", &[("app", "web"), ("track", "canary")]);
        assert_eq!(index.pods_of("default", "web"), ["b"]);
        pod(&mut index, "c", &[("app", "web"), ("track", "canary")]);
        assert_eq!(index.pods_of("default", "web"), ["b", "c"]);
        // Other namespaces are separate.
        index.observe(
            Kind::Pod,
            "other",
            "d",
            Some(&Summary::with_labels(labels(&[
                ("app", "web"),
                ("track", "canary"),
            ]))),
        );
        assert_eq!(index.pods_of("default", "web"), ["b", "c"]);
        index.observe(Kind::Service, "default", "web", None);
        assert_eq!(index.pods_of("default", "web"), Vec::<String>::new());
    }

    #[test]
    fn slices_are_indexed_by_the_service_they_name() {
        let mut index = Index::new();
        let slice = |service: &str| Summary::with_labels(labels(&[(LABEL_SERVICE_NAME, service)]));
        assert_eq!(
            index.observe(Kind::Slice, "default", "web-abc", Some(&slice("web"))),
            keys(&["web"])
        );
        index.observe(Kind::Slice, "default", "web-def", Some(&slice("web")));
        assert_eq!(index.slices_of("default", "web"), ["web-abc", "web-def"]);
        // A Service that does not exist but has slices is still listed, so
        // its managed slices can be removed.
        assert_eq!(index.services(), keys(&["web"]));
        // Relabelled: both Services are touched.
        assert_eq!(
            index.observe(Kind::Slice, "default", "web-def", Some(&slice("api"))),
            keys(&["api", "web"])
        );
        assert_eq!(index.slices_of("default", "web"), ["web-abc"]);
        assert_eq!(
            index.observe(Kind::Slice, "default", "web-abc", None),
            keys(&["web"])
        );
        assert_eq!(index.slices_of("default", "web"), Vec::<String>::new());
        index.observe(Kind::Slice, "default", "web-def", None);
        assert!(index.namespaces.is_empty(), "nothing left behind");
    }

    fn pairs() -> impl Strategy<Value = Labels> {
        proptest::collection::btree_map("[ab]", "[xy]", 0..3)
    }

    proptest! {
        /// Whatever the order of changes, the index answers as a scan of
        /// the final state would, and every Service whose selection
        /// changed was reported as touched.
        #[test]
        fn the_index_agrees_with_a_full_scan(
            changes in proptest::collection::vec(
                (0..3u8, 0..4u8, proptest::option::of(pairs())), 1..40)
        ) {
            let mut index = Index::new();
            let mut services: BTreeMap<String, Labels> = BTreeMap::new();
            let mut pods: BTreeMap<String, Labels> = BTreeMap::new();
            let scan = |services: &BTreeMap<String, Labels>, pods: &BTreeMap<String, Labels>| {
                services.iter().map(|(s, sel)| {
                    let picked: Vec<String> = pods.iter()
                        .filter(|(_, l)| matches(sel, l))
                        .map(|(p, _)| p.clone())
                        .collect();
                    (s.clone(), picked)
                }).collect::<BTreeMap<_, _>>()
            };
            for (kind, n, state) in changes {
                let before = scan(&services, &pods);
                let touched = if kind == 0 {
                    let name = format!("s{n}");
                    match &state {
                        Some(sel) => { services.insert(name.clone(), sel.clone()); }
                        None => { services.remove(&name); }
                    }
                    index.observe(Kind::Service, "ns", &name,
                        state.map(Summary::with_selector).as_ref())
                } else {
                    let name = format!("p{n}");
                    match &state {
                        Some(l) => { pods.insert(name.clone(), l.clone()); }
                        None => { pods.remove(&name); }
                    }
                    index.observe(Kind::Pod, "ns", &name,
                        state.map(Summary::with_labels).as_ref())
                };
                let after = scan(&services, &pods);
                for (service, picked) in &after {
                    prop_assert_eq!(&index.pods_of("ns", service), picked);
                    if before.get(service) != Some(picked) {
                        prop_assert!(touched.contains(&("ns".to_owned(), service.clone())),
                            "{} changed but was not touched", service);
                    }
                }
            }
        }
    }
}
