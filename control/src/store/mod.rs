//! The API server's storage contract: a revisioned key-value store in the
//! shape of etcd's, so the API layer above it is the same whichever backend
//! holds the data.
//!
//! Every acknowledged write is durable and gets the next value of one global,
//! monotonic revision, which the API layer shows as `resourceVersion`. Reads
//! can be taken at a past revision (for paginated lists) and watches replay
//! every change after a revision, until compaction discards old history.
//!
//! This module holds the types and the [`Store`] trait only; backends live
//! in submodules ([`sqlite`]). Nothing here knows about Kubernetes objects:
//! keys are strings, values are bytes.

pub mod sqlite;
mod watch;

use std::{future::Future, time::Duration};

pub use sqlite::SqliteStore;
pub use watch::{Watch, WatchItem};

/// A global revision: 0 before the first write, then one per write.
pub type Revision = i64;

/// One key's value as of some revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The key, e.g. `/registry/services/default/web`.
    pub key: String,
    /// The value as last written (for a deletion event: the value it had).
    pub value: Vec<u8>,
    /// The revision that created the key.
    pub create_revision: Revision,
    /// The revision of this version of the key (for a deletion event: the
    /// revision of the delete).
    pub mod_revision: Revision,
}

/// What a change did to a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// The key came into existence.
    Created,
    /// An existing key got a new value.
    Updated,
    /// The key was removed.
    Deleted,
}

/// One change, as a watch delivers it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// The key after the change (for [`EventKind::Deleted`], its last value
    /// with `mod_revision` set to the revision of the delete).
    pub record: Record,
    /// The key before the change, for updates and deletes, so a watcher
    /// filtering by labels can tell an object leaving its selection.
    pub prev: Option<Record>,
}

impl Event {
    /// The revision this change was made at.
    pub fn revision(&self) -> Revision {
        self.record.mod_revision
    }
}

/// How to read a range of keys.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// Only keys strictly after this one (the continue point of a page).
    pub start_after: Option<String>,
    /// At most this many records; `None` for all.
    pub limit: Option<usize>,
    /// Read as of this revision instead of the latest.
    pub at: Option<Revision>,
}

/// A page of a range read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListPage {
    /// The records, in key order.
    pub records: Vec<Record>,
    /// The revision the read was taken at; a follow-up page passes it as
    /// [`ListOptions::at`] to see the same snapshot.
    pub revision: Revision,
    /// Whether keys remain after the last record.
    pub more: bool,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Create of a key that exists.
    #[error("key {key} already exists")]
    AlreadyExists {
        /// The key.
        key: String,
    },
    /// Update or delete of a key that does not exist.
    #[error("key {key} not found")]
    NotFound {
        /// The key.
        key: String,
    },
    /// The key changed since the revision the writer expected.
    #[error("key {key} is at revision {actual}, not the expected {expected}")]
    Conflict {
        /// The key.
        key: String,
        /// The revision the writer read.
        expected: Revision,
        /// The key's current revision.
        actual: Revision,
    },
    /// The history asked for has been compacted away.
    #[error("revision {requested} has been compacted; the oldest available is {compacted}")]
    Compacted {
        /// The revision asked for.
        requested: Revision,
        /// The compaction point: history at or before it is gone.
        compacted: Revision,
    },
    /// A revision from the future was asked for.
    #[error("revision {requested} is newer than the current revision {current}")]
    FutureRevision {
        /// The revision asked for.
        requested: Revision,
        /// The store's current revision.
        current: Revision,
    },
    /// The backend failed (disk, database, corruption). Nothing was written.
    #[error("storage backend: {0}")]
    Backend(String),
}

/// A revisioned, durable key-value store.
///
/// Writes are linearizable and durable once their future resolves `Ok`.
/// Implementations are cheap to clone (a handle to shared state).
pub trait Store: Clone + Send + Sync + 'static {
    /// The latest revision.
    fn revision(&self) -> impl Future<Output = Result<Revision, StoreError>> + Send;

    /// The current value of `key`, if any.
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Record>, StoreError>> + Send;

    /// The live keys starting with `prefix`, in key order.
    fn list(
        &self,
        prefix: &str,
        options: ListOptions,
    ) -> impl Future<Output = Result<ListPage, StoreError>> + Send;

    /// Creates `key`; fails with [`StoreError::AlreadyExists`] if it exists.
    fn create(
        &self,
        key: &str,
        value: Vec<u8>,
    ) -> impl Future<Output = Result<Record, StoreError>> + Send;

    /// Replaces the value of `key`. With `expected`, fails with
    /// [`StoreError::Conflict`] unless the key is still at that revision.
    fn update(
        &self,
        key: &str,
        value: Vec<u8>,
        expected: Option<Revision>,
    ) -> impl Future<Output = Result<Record, StoreError>> + Send;

    /// Removes `key`, returning its last value with `mod_revision` set to the
    /// revision of the delete. `expected` works as for [`Store::update`].
    fn delete(
        &self,
        key: &str,
        expected: Option<Revision>,
    ) -> impl Future<Output = Result<Record, StoreError>> + Send;

    /// Every change to keys under `prefix` after revision `after`, then live
    /// changes as they commit, in revision order. Fails with
    /// [`StoreError::Compacted`] if that history is gone.
    fn watch(
        &self,
        prefix: &str,
        after: Revision,
    ) -> impl Future<Output = Result<Watch, StoreError>> + Send;

    /// Discards history at or before `revision` that no live key needs.
    fn compact(&self, revision: Revision) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// How much history to keep and how often to drop the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompactionPolicy {
    /// Revisions of history kept behind the current one.
    pub keep: Revision,
    /// How often to compact.
    pub every: Duration,
}

impl Default for CompactionPolicy {
    /// kube-apiserver compacts etcd every five minutes; a watcher further
    /// behind than `keep` writes re-lists, as it would after a 410 there.
    fn default() -> Self {
        CompactionPolicy {
            keep: 10_000,
            every: Duration::from_secs(60),
        }
    }
}

/// The revision to compact to under `policy` when the store is at `current`,
/// if any history is old enough to go.
pub fn compaction_target(policy: CompactionPolicy, current: Revision) -> Option<Revision> {
    let target = current - policy.keep;
    (target > 0).then_some(target)
}

/// The smallest key greater than every key starting with `prefix`, or
/// `None` when the range is unbounded (an empty prefix, or one of 0xff bytes).
pub(crate) fn prefix_end(prefix: &str) -> Option<Vec<u8>> {
    let mut end = prefix.as_bytes().to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_bounds_the_range() {
        assert_eq!(
            prefix_end("/registry/pods/"),
            Some(b"/registry/pods0".to_vec())
        );
        assert_eq!(prefix_end("a"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(""), None);
    }

    #[test]
    fn compaction_keeps_the_policy_window() {
        let policy = CompactionPolicy {
            keep: 100,
            every: Duration::from_secs(1),
        };
        assert_eq!(compaction_target(policy, 50), None);
        assert_eq!(compaction_target(policy, 100), None);
        assert_eq!(compaction_target(policy, 250), Some(150));
    }
}
