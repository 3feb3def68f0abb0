//! The garbage collector's pure core: the graph of ownerReferences between
//! stored objects, and what has to happen to an object given that graph.
//!
//! As in kube-controller-manager's garbage collector:
//! - a dependent whose owners are all gone is deleted (in the background);
//!   one that still has a live owner only loses its dangling references;
//! - an owner deleted with `propagationPolicy: Foreground` (finalizer
//!   `foregroundDeletion`) has its dependents deleted first, the same way,
//!   and loses the finalizer once no dependent with `blockOwnerDeletion`
//!   is left;
//! - an owner deleted with `propagationPolicy: Orphan` (finalizer `orphan`)
//!   has its references removed from every dependent, then loses the
//!   finalizer.
//!
//! Owners are matched by uid, as upstream does. Objects come in as
//! [`Summary`]s decoded from stored JSON; decisions come out as [`Action`]s
//! for the caller to apply. No I/O, no clock.

use std::collections::{BTreeSet, HashMap};

use serde::Deserialize;

/// The finalizer that makes an owner wait for its dependents' deletion.
pub const FOREGROUND: &str = "foregroundDeletion";

/// The finalizer that makes an owner release its dependents first.
pub const ORPHAN: &str = "orphan";

/// How a delete treats the object's dependents (`propagationPolicy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Propagation {
    /// Delete the object now; the collector deletes dependents afterwards.
    Background,
    /// Delete dependents first (`foregroundDeletion` finalizer).
    Foreground,
    /// Keep dependents, without their reference (`orphan` finalizer).
    Orphan,
}

impl Propagation {
    /// Reads `propagationPolicy` (and the deprecated `orphanDependents`).
    pub fn parse(
        policy: Option<&str>,
        orphan_dependents: Option<bool>,
    ) -> Result<Propagation, String> {
        match (policy, orphan_dependents) {
            (Some(_), Some(_)) => {
                Err("orphanDependents and propagationPolicy cannot be both set".to_owned())
            }
            (None, Some(true)) => Ok(Propagation::Orphan),
            (None, Some(false) | None) | (Some("Background"), None) => Ok(Propagation::Background),
            (Some("Foreground"), None) => Ok(Propagation::Foreground),
            (Some("Orphan"), None) => Ok(Propagation::Orphan),
            (Some(other), None) => Err(format!(
                "propagationPolicy: Unsupported value: {other:?}: supported values: \"Foreground\", \"Background\", \"Orphan\""
            )),
        }
    }

    /// The finalizer that carries this policy, if any.
    pub fn finalizer(self) -> Option<&'static str> {
        match self {
            Propagation::Background => None,
            Propagation::Foreground => Some(FOREGROUND),
            Propagation::Orphan => Some(ORPHAN),
        }
    }
}

/// The parts of a stored object the collector reads.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct Summary {
    #[serde(default)]
    metadata: SummaryMeta,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
struct SummaryMeta {
    #[serde(default)]
    uid: Option<String>,
    #[serde(default)]
    owner_references: Option<Vec<OwnerRef>>,
    #[serde(default)]
    finalizers: Option<Vec<String>>,
    #[serde(default)]
    deletion_timestamp: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
struct OwnerRef {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    uid: String,
    #[serde(default)]
    block_owner_deletion: Option<bool>,
}

impl Summary {
    /// Reads a stored object's JSON; `None` when it does not decode.
    pub fn decode(json: &[u8]) -> Option<Summary> {
        serde_json::from_slice(json).ok()
    }
}

/// What the collector knows of one live object.
#[derive(Clone, Debug, PartialEq)]
struct Node {
    uid: String,
    /// Owner uids, each with its blockOwnerDeletion.
    owners: Vec<(String, bool)>,
    deleting: bool,
    foreground: bool,
    orphan: bool,
}

impl Node {
    fn of(summary: &Summary, served: Served) -> Node {
        let meta = &summary.metadata;
        let finalizers = meta.finalizers.as_deref().unwrap_or_default();
        Node {
            uid: meta.uid.clone().unwrap_or_default(),
            owners: meta
                .owner_references
                .iter()
                .flatten()
                .filter(|o| !o.uid.is_empty() && served(&o.api_version, &o.kind))
                .map(|o| (o.uid.clone(), o.block_owner_deletion.unwrap_or(false)))
                .collect(),
            deleting: meta.deletion_timestamp.is_some(),
            foreground: finalizers.iter().any(|f| f == FOREGROUND),
            orphan: finalizers.iter().any(|f| f == ORPHAN),
        }
    }
}

/// A write the collector asks for, by store key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    /// Delete the object with this propagation.
    Delete {
        /// The object's store key.
        key: String,
        /// The uid it must still have (a recreated object is not touched).
        uid: String,
        /// Foreground when an owner waits for it, else Background.
        foreground: bool,
    },
    /// Remove the ownerReferences with these uids.
    DropOwners {
        /// The object's store key.
        key: String,
        /// The uid it must still have.
        uid: String,
        /// The owner uids to remove.
        owners: Vec<String>,
    },
    /// Remove a propagation finalizer from an owner being deleted.
    Finish {
        /// The object's store key.
        key: String,
        /// The uid it must still have.
        uid: String,
        /// [`FOREGROUND`] or [`ORPHAN`].
        finalizer: &'static str,
    },
}

/// Whether objects of this apiVersion and kind are stored here: a
/// reference to a kind the server does not keep can never be checked, so
/// it is ignored (upstream leaves such dependents alone too).
pub type Served = fn(&str, &str) -> bool;

/// The ownership graph over every live object.
#[derive(Debug)]
pub struct Graph {
    served: Served,
    nodes: HashMap<String, Node>,
    key_of_uid: HashMap<String, String>,
    /// Owner uid -> keys of the objects naming it.
    dependents: HashMap<String, BTreeSet<String>>,
}

impl Graph {
    /// An empty graph; `served` says which owner kinds can be looked up.
    pub fn new(served: Served) -> Graph {
        Graph {
            served,
            nodes: HashMap::new(),
            key_of_uid: HashMap::new(),
            dependents: HashMap::new(),
        }
    }

    /// Every key in the graph, for a first full examination.
    pub fn keys(&self) -> BTreeSet<String> {
        self.nodes.keys().cloned().collect()
    }

    /// Records that `key` now looks like `now` (`None`: deleted) and
    /// returns the keys whose decisions may have changed.
    pub fn observe(&mut self, key: &str, now: Option<&Summary>) -> BTreeSet<String> {
        let mut touched = BTreeSet::new();
        if let Some(old) = self.nodes.remove(key) {
            if self.key_of_uid.get(&old.uid).is_some_and(|k| k == key) {
                self.key_of_uid.remove(&old.uid);
            }
            for (owner, _) in &old.owners {
                if let Some(set) = self.dependents.get_mut(owner) {
                    set.remove(key);
                    if set.is_empty() {
                        self.dependents.remove(owner);
                    }
                }
                touched.extend(self.key_of_uid.get(owner).cloned());
            }
            touched.extend(self.dependents.get(&old.uid).into_iter().flatten().cloned());
        }
        if let Some(summary) = now {
            let node = Node::of(summary, self.served);
            for (owner, _) in &node.owners {
                self.dependents
                    .entry(owner.clone())
                    .or_default()
                    .insert(key.to_owned());
                touched.extend(self.key_of_uid.get(owner).cloned());
            }
            if !node.uid.is_empty() {
                self.key_of_uid.insert(node.uid.clone(), key.to_owned());
                touched.extend(
                    self.dependents
                        .get(&node.uid)
                        .into_iter()
                        .flatten()
                        .cloned(),
                );
            }
            self.nodes.insert(key.to_owned(), node);
            touched.insert(key.to_owned());
        }
        touched
    }

    fn live(&self, uid: &str) -> Option<&Node> {
        self.key_of_uid.get(uid).and_then(|key| self.nodes.get(key))
    }

    /// What has to happen to `key` now; nothing when it is gone.
    pub fn examine(&self, key: &str) -> Vec<Action> {
        let Some(node) = self.nodes.get(key) else {
            return Vec::new();
        };
        let mut actions = Vec::new();
        let dependents = self.dependents.get(&node.uid);
        if node.deleting && node.orphan {
            let mut waiting = false;
            for dependent in dependents.into_iter().flatten() {
                if let Some(d) = self.nodes.get(dependent) {
                    waiting = true;
                    actions.push(Action::DropOwners {
                        key: dependent.clone(),
                        uid: d.uid.clone(),
                        owners: vec![node.uid.clone()],
                    });
                }
            }
            if !waiting {
                actions.push(finish(key, node, ORPHAN));
            }
            // Orphaning comes first: the dependents must not be deleted.
            return actions;
        }
        if node.deleting && node.foreground {
            let mut blocked = false;
            for dependent in dependents.into_iter().flatten() {
                let Some(d) = self.nodes.get(dependent) else {
                    continue;
                };
                let blocks = d
                    .owners
                    .iter()
                    .any(|(owner, block)| *owner == node.uid && *block);
                blocked |= blocks;
                if !d.deleting {
                    actions.push(Action::Delete {
                        key: dependent.clone(),
                        uid: d.uid.clone(),
                        foreground: true,
                    });
                }
            }
            if !blocked {
                actions.push(finish(key, node, FOREGROUND));
            }
        }
        if !node.owners.is_empty() && !node.deleting {
            let dangling: Vec<String> = node
                .owners
                .iter()
                .filter(|(owner, _)| self.live(owner).is_none())
                .map(|(owner, _)| owner.clone())
                .collect();
            if dangling.len() == node.owners.len() {
                actions.push(Action::Delete {
                    key: key.to_owned(),
                    uid: node.uid.clone(),
                    foreground: false,
                });
            } else if !dangling.is_empty() {
                actions.push(Action::DropOwners {
                    key: key.to_owned(),
                    uid: node.uid.clone(),
                    owners: dangling,
                });
            }
        }
        actions
    }
}

fn finish(key: &str, node: &Node, finalizer: &'static str) -> Action {
    Action::Finish {
        key: key.to_owned(),
        uid: node.uid.clone(),
        finalizer,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn summary(uid: &str, owners: &[(&str, bool)], finalizers: &[&str], deleting: bool) -> Summary {
        let mut object = json!({"metadata": {"uid": uid}});
        if !owners.is_empty() {
            object["metadata"]["ownerReferences"] = owners
                .iter()
                .map(|(uid, block)| {
                    json!({"apiVersion": "v1", "kind": "X", "name": "x",
                    "uid": uid, "blockOwnerDeletion": block})
                })
                .collect();
        }
        if !finalizers.is_empty() {
            object["metadata"]["finalizers"] = json!(finalizers);
        }
        if deleting {
            object["metadata"]["deletionTimestamp"] = json!("2026-11-22T00:00:00Z");
        }
        Summary::decode(object.to_string().as_bytes()).expect("decodes")
    }

    fn put(graph: &mut Graph, key: &str, s: Summary) -> BTreeSet<String> {
        graph.observe(key, Some(&s))
    }

    fn delete(key: &str, uid: &str, foreground: bool) -> Action {
        Action::Delete {
            key: key.into(),
            uid: uid.into(),
            foreground,
        }
    }

    #[test]
    fn propagation_policies_parse_like_the_api_server() {
        assert_eq!(Propagation::parse(None, None), Ok(Propagation::Background));
        assert_eq!(
            Propagation::parse(Some("Foreground"), None),
            Ok(Propagation::Foreground)
        );
        assert_eq!(
            Propagation::parse(Some("Orphan"), None),
            Ok(Propagation::Orphan)
        );
        assert_eq!(
            Propagation::parse(None, Some(true)),
            Ok(Propagation::Orphan)
        );
        assert!(
            Propagation::parse(Some("Sideways"), None)
                .expect_err("refused")
                .contains("Unsupported value")
        );
        assert!(Propagation::parse(Some("Orphan"), Some(true)).is_err());
    }

    #[test]
    fn a_dependent_whose_owner_is_gone_is_deleted_in_the_background() {
        let mut graph = Graph::new(|_, kind| kind != "Unserved");
        put(&mut graph, "/deploy/d", summary("D", &[], &[], false));
        put(
            &mut graph,
            "/rs/r",
            summary("R", &[("D", true)], &[], false),
        );
        put(
            &mut graph,
            "/pod/p",
            summary("P", &[("R", false)], &[], false),
        );
        assert_eq!(graph.examine("/rs/r"), vec![]);
        // The Deployment goes: the ReplicaSet is touched and deleted...
        let touched = graph.observe("/deploy/d", None);
        assert!(touched.contains("/rs/r"));
        assert_eq!(graph.examine("/rs/r"), vec![delete("/rs/r", "R", false)]);
        // ...and then its pod.
        let touched = graph.observe("/rs/r", None);
        assert!(touched.contains("/pod/p"));
        assert_eq!(graph.examine("/pod/p"), vec![delete("/pod/p", "P", false)]);
    }

    #[test]
    fn a_dependent_with_a_live_owner_only_loses_the_dangling_reference() {
        let mut graph = Graph::new(|_, kind| kind != "Unserved");
        put(&mut graph, "/a", summary("A", &[], &[], false));
        put(
            &mut graph,
            "/c",
            summary("C", &[("A", false), ("B", false)], &[], false),
        );
        assert_eq!(
            graph.examine("/c"),
            vec![Action::DropOwners {
                key: "/c".into(),
                uid: "C".into(),
                owners: vec!["B".into()]
            }]
        );
        // An owner that appears later is live again: nothing to do.
        let touched = put(&mut graph, "/b", summary("B", &[], &[], false));
        assert!(touched.contains("/c"));
        assert_eq!(graph.examine("/c"), vec![]);
    }

    #[test]
    fn foreground_deletion_waits_for_blocking_dependents() {
        let mut graph = Graph::new(|_, kind| kind != "Unserved");
        put(&mut graph, "/rs", summary("R", &[], &[FOREGROUND], true));
        put(&mut graph, "/p1", summary("P1", &[("R", true)], &[], false));
        put(
            &mut graph,
            "/p2",
            summary("P2", &[("R", false)], &[], false),
        );
        assert_eq!(
            graph.examine("/rs"),
            vec![delete("/p1", "P1", true), delete("/p2", "P2", true)]
        );
        // p2 does not block; p1, while it is being deleted, does.
        put(
            &mut graph,
            "/p1",
            summary("P1", &[("R", true)], &["x"], true),
        );
        let touched = graph.observe("/p2", None);
        assert!(touched.contains("/rs"));
        assert_eq!(graph.examine("/rs"), vec![]);
        let touched = graph.observe("/p1", None);
        assert!(touched.contains("/rs"));
        assert_eq!(
            graph.examine("/rs"),
            vec![Action::Finish {
                key: "/rs".into(),
                uid: "R".into(),
                finalizer: FOREGROUND
            }]
        );
    }

    #[test]
    fn orphaning_removes_references_and_never_deletes() {
        let mut graph = Graph::new(|_, kind| kind != "Unserved");
        put(&mut graph, "/rs", summary("R", &[], &[ORPHAN], true));
        put(&mut graph, "/p", summary("P", &[("R", true)], &[], false));
        assert_eq!(
            graph.examine("/rs"),
            vec![Action::DropOwners {
                key: "/p".into(),
                uid: "P".into(),
                owners: vec!["R".into()]
            }]
        );
        let touched = put(&mut graph, "/p", summary("P", &[], &[], false));
        assert!(touched.contains("/rs"));
        assert_eq!(
            graph.examine("/rs"),
            vec![Action::Finish {
                key: "/rs".into(),
                uid: "R".into(),
                finalizer: ORPHAN
            }]
        );
        assert_eq!(graph.examine("/p"), vec![]);
    }

    #[test]
    fn a_recreated_owner_with_the_same_name_is_a_different_owner() {
        let mut graph = Graph::new(|_, kind| kind != "Unserved");
        put(&mut graph, "/svc", summary("S1", &[], &[], false));
        put(
            &mut graph,
            "/slice",
            summary("E", &[("S1", true)], &[], false),
        );
        graph.observe("/svc", None);
        put(&mut graph, "/svc", summary("S2", &[], &[], false));
        assert_eq!(graph.examine("/slice"), vec![delete("/slice", "E", false)]);
    }

    #[test]
    fn references_to_kinds_not_stored_here_are_ignored() {
        let mut graph = Graph::new(|_, kind| kind != "Unserved");
        let object = json!({"metadata": {"uid": "C", "ownerReferences": [
            {"apiVersion": "example.com/v1", "kind": "Unserved", "name": "x", "uid": "U"}]}});
        let summary = Summary::decode(object.to_string().as_bytes()).expect("decodes");
        put(&mut graph, "/c", summary);
        assert_eq!(graph.examine("/c"), vec![]);
    }

    #[test]
    fn objects_without_owners_or_policies_need_nothing() {
        let mut graph = Graph::new(|_, kind| kind != "Unserved");
        put(&mut graph, "/a", summary("A", &[], &[], false));
        put(
            &mut graph,
            "/b",
            summary("B", &[], &["example.com/x"], true),
        );
        assert_eq!(graph.examine("/a"), vec![]);
        assert_eq!(graph.examine("/b"), vec![]);
        assert_eq!(graph.examine("/gone"), vec![]);
        assert_eq!(Summary::decode(b"{not json"), None);
    }
}
