//! The verbs on stored objects — create, get, list, update, delete — for
//! any resource, over any [`Store`]. Objects are JSON values; the
//! metadata rules are in [`meta`], the typed validation and defaulting of
//! each kind are applied by the caller before a write reaches here.
//!
//! Semantics follow kube-apiserver's generic registry: resourceVersion is
//! the store revision; a write with a stale one is a 409 Conflict; a PUT
//! without one is unconditional; lists page through one snapshot with
//! continue tokens; an object with finalizers is marked for deletion and
//! goes when the last finalizer is removed.

pub mod meta;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{
    owners::Propagation,
    request::Query,
    resources::ResourceInfo,
    status::ApiError,
    store::{ListOptions, Record, Revision, Store, StoreError},
};
use meta::Stamp;

/// How often an unconditional update retries after losing a race.
const UPDATE_RETRIES: usize = 16;

/// The object verbs over one store.
#[derive(Clone)]
pub struct Objects<S> {
    store: S,
    /// `dryRun=All`: every check runs, nothing is written.
    dry_run: bool,
}

/// Maps a store error on `resource`/`name` to the API error a client sees.
pub fn store_error(e: StoreError, resource: &ResourceInfo, name: &str) -> ApiError {
    match e {
        StoreError::AlreadyExists { .. } => ApiError::already_exists(resource, name),
        StoreError::NotFound { .. } => ApiError::not_found(resource, name),
        StoreError::Conflict { .. } => ApiError::conflict(resource, name),
        StoreError::Compacted {
            requested,
            compacted,
        } => ApiError::expired(format!(
            "too old resource version: {requested} ({compacted})"
        )),
        StoreError::FutureRevision { requested, current } => ApiError {
            code: 504,
            reason: "Timeout",
            message: format!("Too large resource version: {requested}, current: {current}"),
            details: None,
        },
        StoreError::Backend(detail) => {
            tracing::error!(%detail, "store failure");
            ApiError::internal("the storage backend failed; see the server log")
        }
    }
}

/// A fresh uid, creation time and generateName suffix.
pub fn stamp() -> Result<Stamp, ApiError> {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut random = [0u8; 5];
    getrandom::fill(&mut random).map_err(|e| ApiError::internal(format!("random source: {e}")))?;
    let name_suffix = random
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    Ok(Stamp {
        uid: uuid::Uuid::new_v4().to_string(),
        now: now(),
        name_suffix,
    })
}

/// The time now as Kubernetes writes it: RFC 3339, UTC, whole seconds.
pub fn now() -> String {
    let now = jiff::Timestamp::now();
    jiff::Timestamp::from_second(now.as_second())
        .unwrap_or(now)
        .to_string()
}

/// The position a `continue` token resumes from.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Continue {
    rv: Revision,
    start: String,
}

fn encode_continue(token: &Continue) -> String {
    let json = serde_json::to_vec(token).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

fn decode_continue(token: &str) -> Result<Continue, ApiError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|json| serde_json::from_slice(&json).ok())
        .ok_or_else(|| {
            ApiError::bad_request("invalid value for continue: not a token this server issued")
        })
}

fn decode(record: &Record) -> Result<Value, ApiError> {
    let mut value: Value = serde_json::from_slice(&record.value).map_err(|e| {
        tracing::error!(key = %record.key, error = %e, "undecodable object in store");
        ApiError::internal("an object in the store could not be decoded")
    })?;
    meta::set_revision(&mut value, record.mod_revision);
    Ok(value)
}

fn has_finalizers(object: &Value) -> bool {
    object
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|f| !f.is_empty())
}

/// Whether deleting `object` must wait: it has finalizers, or it is a
/// Namespace, whose contents always go first (kube-apiserver gives every
/// namespace the `kubernetes` finalizer).
fn held(resource: &ResourceInfo, object: &Value) -> bool {
    let namespace = resource.group.is_empty() && resource.kind == "Namespace";
    has_finalizers(object) || namespace
}

fn deleting(object: &Value) -> bool {
    object
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null())
}

impl<S: Store> Objects<S> {
    /// The verbs over `store`.
    pub fn new(store: S) -> Objects<S> {
        Objects {
            store,
            dry_run: false,
        }
    }

    /// The same verbs as a dry run (`dryRun=All`): reads, defaulting,
    /// validation and conflict checks as usual, no write; each verb returns
    /// the object it would have stored.
    pub fn dry_run(&self) -> Objects<S> {
        Objects {
            store: self.store.clone(),
            dry_run: true,
        }
    }

    /// Whether these verbs write nothing.
    pub fn is_dry_run(&self) -> bool {
        self.dry_run
    }

    /// Creates `key`, or checks that it could be, in a dry run (which has no
    /// revision to return).
    async fn put_new(&self, key: &str, value: Vec<u8>) -> Result<Option<Revision>, StoreError> {
        if self.dry_run {
            return match self.store.get(key).await? {
                Some(_) => Err(StoreError::AlreadyExists {
                    key: key.to_owned(),
                }),
                None => Ok(None),
            };
        }
        Ok(Some(self.store.create(key, value).await?.mod_revision))
    }

    /// Replaces `key` at revision `expected` (a dry run keeps `expected`).
    async fn put(
        &self,
        key: &str,
        value: Vec<u8>,
        expected: Revision,
    ) -> Result<Revision, StoreError> {
        if self.dry_run {
            return Ok(expected);
        }
        Ok(self
            .store
            .update(key, value, Some(expected))
            .await?
            .mod_revision)
    }

    /// Removes `key` at revision `expected` (a dry run keeps `expected`).
    async fn take(&self, key: &str, expected: Revision) -> Result<Revision, StoreError> {
        if self.dry_run {
            return Ok(expected);
        }
        Ok(self.store.delete(key, Some(expected)).await?.mod_revision)
    }

    /// The store underneath.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Creates `object` in `namespace`; returns it as stored. `admit`
    /// (defaulting, allocation, validation) sees the object after the
    /// server's metadata is set and before it is written; its error stops
    /// the create.
    pub async fn create(
        &self,
        resource: &'static ResourceInfo,
        namespace: Option<&str>,
        mut object: Value,
        admit: impl FnOnce(&mut Value) -> Result<(), ApiError>,
    ) -> Result<Value, ApiError> {
        let name = meta::prepare_create(resource, namespace, &mut object, &stamp()?)?;
        admit(&mut object)?;
        let key = resource.key(namespace, &name);
        let written = self
            .put_new(&key, meta::for_storage(&object)?)
            .await
            .map_err(|e| store_error(e, resource, &name))?;
        if let Some(revision) = written {
            meta::set_revision(&mut object, revision);
        }
        Ok(object)
    }

    /// The object `name`, with its record.
    async fn read(
        &self,
        resource: &'static ResourceInfo,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<(Value, Record), ApiError> {
        let record = self
            .store
            .get(&resource.key(namespace, name))
            .await
            .map_err(|e| store_error(e, resource, name))?
            .ok_or_else(|| ApiError::not_found(resource, name))?;
        Ok((decode(&record)?, record))
    }

    /// The object `name`.
    pub async fn get(
        &self,
        resource: &'static ResourceInfo,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, ApiError> {
        Ok(self.read(resource, namespace, name).await?.0)
    }

    /// A list object of the resource in `namespace` (all when `None`) that
    /// `keep` accepts, paged by `query.limit` / `query.continue_token`.
    pub async fn list(
        &self,
        resource: &'static ResourceInfo,
        namespace: Option<&str>,
        query: &Query,
        keep: impl Fn(&Value) -> bool,
    ) -> Result<Value, ApiError> {
        let mut items = Vec::new();
        let metadata = self
            .scan(resource, namespace, query, keep, |item| {
                items.push(item);
                Ok(())
            })
            .await?;
        Ok(json!({
            "apiVersion": resource.api_version,
            "kind": resource.list_kind,
            "metadata": metadata,
            "items": items,
        }))
    }

    /// [`Objects::list`] encoded as JSON, one item at a time: a large list
    /// never exists as a tree of `Value`s, only as its bytes.
    pub async fn list_encoded(
        &self,
        resource: &'static ResourceInfo,
        namespace: Option<&str>,
        query: &Query,
        keep: impl Fn(&Value) -> bool,
    ) -> Result<Vec<u8>, ApiError> {
        let encode = |e: serde_json::Error| ApiError::internal(format!("encoding list: {e}"));
        let mut out = serde_json::to_vec(&json!({
            "apiVersion": resource.api_version,
            "kind": resource.list_kind,
        }))
        .map_err(encode)?;
        // Reopen the object to append the items, then the metadata.
        out.pop();
        out.extend_from_slice(b",\"items\":[");
        let mut first = true;
        let metadata = self
            .scan(resource, namespace, query, keep, |item| {
                if !first {
                    out.push(b',');
                }
                first = false;
                serde_json::to_writer(&mut out, &item).map_err(encode)
            })
            .await?;
        out.extend_from_slice(b"],\"metadata\":");
        serde_json::to_writer(&mut out, &metadata).map_err(encode)?;
        out.push(b'}');
        Ok(out)
    }

    /// Feeds the objects a list returns to `each`, in key order, and
    /// returns the list's metadata (resourceVersion, continue token).
    async fn scan(
        &self,
        resource: &'static ResourceInfo,
        namespace: Option<&str>,
        query: &Query,
        keep: impl Fn(&Value) -> bool,
        mut each: impl FnMut(Value) -> Result<(), ApiError>,
    ) -> Result<Value, ApiError> {
        let prefix = resource.namespace_prefix(namespace);
        let limit = query
            .limit
            .filter(|l| *l > 0)
            .map(|l| usize::try_from(l).unwrap_or(usize::MAX));
        let (mut at, mut start_after) = match &query.continue_token {
            Some(token) => {
                let token = decode_continue(token)?;
                (Some(token.rv), Some(token.start))
            }
            None => {
                let exact = query.resource_version_match.as_deref() == Some("Exact");
                let at = match (&query.resource_version, exact) {
                    (Some(rv), true) => Some(meta::parse_revision(rv)?),
                    _ => None,
                };
                (at, None)
            }
        };
        let mut kept = 0;
        let (revision, more_after) = loop {
            let page = self
                .store
                .list(
                    &prefix,
                    ListOptions {
                        start_after: start_after.clone(),
                        limit: limit.map(|l| l - kept),
                        at,
                    },
                )
                .await
                .map_err(|e| match e {
                    StoreError::Compacted { .. } if query.continue_token.is_some() => ApiError::expired(
                        "The provided continue parameter is too old to display a consistent list result. \
                         You can start a new list without the continue parameter.",
                    ),
                    e => store_error(e, resource, ""),
                })?;
            at = Some(page.revision);
            let last_key = page.records.last().map(|r| r.key.clone());
            for record in &page.records {
                let object = decode(record)?;
                if keep(&object) {
                    kept += 1;
                    each(object)?;
                }
            }
            let full = limit.is_some_and(|l| kept >= l);
            match (page.more, full) {
                (true, true) => break (page.revision, last_key),
                (true, false) => start_after = last_key,
                (false, _) => break (page.revision, None),
            }
        };
        let mut metadata = json!({ "resourceVersion": revision.to_string() });
        if let Some(start) = more_after {
            metadata["continue"] = Value::String(encode_continue(&Continue {
                rv: revision,
                start,
            }));
        }
        Ok(metadata)
    }

    /// Every object of `resource` in `namespace` (all when `None`) that
    /// decodes as `T`, in key order: what in-process controllers read.
    pub async fn list_typed<T: serde::de::DeserializeOwned>(
        &self,
        resource: &'static ResourceInfo,
        namespace: Option<&str>,
    ) -> Result<Vec<T>, ApiError> {
        let list = self
            .list(resource, namespace, &Query::default(), |_| true)
            .await?;
        Ok(list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| serde_json::from_value(item.clone()).ok())
            .collect())
    }

    /// Replaces object `name` with `object` (or only its status). Without a
    /// resourceVersion in `object` the update is unconditional and retried
    /// if it races another writer; with one, a stale version is a conflict.
    /// `admit(old, new)` runs on each attempt before the write.
    pub async fn update(
        &self,
        resource: &'static ResourceInfo,
        namespace: Option<&str>,
        name: &str,
        object: Value,
        status_only: bool,
        mut admit: impl FnMut(&Value, &mut Value) -> Result<(), ApiError>,
    ) -> Result<Value, ApiError> {
        let precondition = meta::resource_version(&object)?;
        for _ in 0..UPDATE_RETRIES {
            let (old, record) = self.read(resource, namespace, name).await?;
            if precondition.is_some_and(|rv| rv != record.mod_revision) {
                return Err(ApiError::conflict(resource, name));
            }
            let mut new = object.clone();
            meta::prepare_update(resource, namespace, name, &old, &mut new, status_only)?;
            admit(&old, &mut new)?;
            let key = resource.key(namespace, name);
            // The last finalizer of an object being deleted is gone: delete it.
            let result = if deleting(&new) && !has_finalizers(&new) {
                self.take(&key, record.mod_revision).await
            } else {
                self.put(&key, meta::for_storage(&new)?, record.mod_revision)
                    .await
            };
            match result {
                Ok(written) => {
                    meta::set_revision(&mut new, written);
                    return Ok(new);
                }
                Err(StoreError::Conflict { .. }) if precondition.is_none() => continue,
                Err(e) => return Err(store_error(e, resource, name)),
            }
        }
        Err(ApiError::conflict(resource, name))
    }

    /// Deletes object `name` (with `precondition`, only at that
    /// resourceVersion). An object with finalizers is only marked with a
    /// deletionTimestamp. Returns the object as it was last stored.
    pub async fn delete(
        &self,
        resource: &'static ResourceInfo,
        namespace: Option<&str>,
        name: &str,
        precondition: Option<Revision>,
    ) -> Result<Value, ApiError> {
        self.delete_with(
            resource,
            namespace,
            name,
            precondition,
            Propagation::Background,
        )
        .await
    }

    /// [`Objects::delete`] with a propagation policy: Foreground and Orphan
    /// add their finalizer, so the object stays (marked) until the garbage
    /// collector has dealt with its dependents.
    pub async fn delete_with(
        &self,
        resource: &'static ResourceInfo,
        namespace: Option<&str>,
        name: &str,
        precondition: Option<Revision>,
        propagation: Propagation,
    ) -> Result<Value, ApiError> {
        let (mut object, record) = self.read(resource, namespace, name).await?;
        if precondition.is_some_and(|rv| rv != record.mod_revision) {
            return Err(ApiError::conflict(resource, name));
        }
        let key = resource.key(namespace, name);
        if let Some(finalizer) = propagation.finalizer()
            && !deleting(&object)
            && let Some(m) = object.get_mut("metadata").and_then(Value::as_object_mut)
        {
            let finalizers = m.entry("finalizers").or_insert_with(|| json!([]));
            if let Some(list) = finalizers.as_array_mut()
                && !list.iter().any(|f| f == finalizer)
            {
                list.push(json!(finalizer));
            }
        }
        if held(resource, &object) {
            if deleting(&object) {
                return Ok(object);
            }
            if let Some(m) = object.get_mut("metadata").and_then(Value::as_object_mut) {
                m.insert("deletionTimestamp".into(), Value::String(stamp()?.now));
                m.insert("deletionGracePeriodSeconds".into(), json!(0));
            }
            if resource.kind == "Namespace"
                && let Some(status) = object
                    .as_object_mut()
                    .map(|o| o.entry("status").or_insert_with(|| json!({})))
            {
                status["phase"] = json!("Terminating");
            }
            let written = self
                .put(&key, meta::for_storage(&object)?, record.mod_revision)
                .await
                .map_err(|e| store_error(e, resource, name))?;
            meta::set_revision(&mut object, written);
            return Ok(object);
        }
        let deleted = self
            .take(&key, record.mod_revision)
            .await
            .map_err(|e| store_error(e, resource, name))?;
        meta::set_revision(&mut object, deleted);
        Ok(object)
    }

    /// Deletes object `name` now, whatever holds it: what a finalizer does
    /// once its work is done (the namespace finalizer after the contents).
    pub async fn remove(
        &self,
        resource: &'static ResourceInfo,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, ApiError> {
        let (mut object, record) = self.read(resource, namespace, name).await?;
        let deleted = self
            .take(&resource.key(namespace, name), record.mod_revision)
            .await
            .map_err(|e| store_error(e, resource, name))?;
        meta::set_revision(&mut object, deleted);
        Ok(object)
    }
}

#[cfg(test)]
mod tests;
