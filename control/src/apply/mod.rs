//! Server-side apply as kube-apiserver does it (structured-merge-diff and the
//! apiserver's field manager), as pure functions over JSON objects: merging
//! an applied configuration into the live object, removing what its applier
//! gave up, detecting conflicts with other managers, and keeping
//! `metadata.managedFields` up to date on every other write.
//!
//! It must not read clocks, storage or the request: the caller passes the
//! time (`now`, RFC 3339), the API version and a [`Schema`] that says how
//! each list merges. It does not validate, default, set server metadata
//! (uid, resourceVersion, ...) or check preconditions; the caller does those
//! with the returned object. kubectl's client-side-to-server-side migration
//! (`last-applied-configuration` handling) is kubectl's: it rewrites
//! managedFields with a JSON patch, which [`record_update`] honours.
//!
//! [`schema`] reads the served kinds' list semantics from the server's
//! strategic-merge table, and [`config`] holds the request side (decoding,
//! the field manager, name checks, Statuses); both are pure too.

pub mod config;
pub mod fieldpath;
mod managed;
mod merge;
pub mod schema;

use serde_json::{Map, Value};

pub use fieldpath::{FieldSet, FieldsV1Error, PathElement, path_string};
pub use managed::Operation;

use fieldpath::go_quote;
use managed::{Declared, Entry};
use merge::{Check, Side};

/// How a list field merges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListType {
    /// Replaced whole, owned as one field.
    Atomic,
    /// A set of scalars: union, each element owned on its own.
    Set,
    /// A list of objects told apart by these key fields, merged per element.
    Map(Vec<&'static str>),
}

/// How fields of a resource merge, from the server's tables.
pub trait Schema {
    /// How the list at `path` merges: JSON field names from the object root,
    /// list elements omitted (`["spec","template","spec","containers"]`).
    /// Unknown lists should be [`ListType::Atomic`].
    fn list_type(&self, path: &[&str]) -> ListType;

    /// The value a list-map element may omit for key `field` of the list at
    /// `list` (`protocol` of ports defaults to `"TCP"`).
    fn key_default(&self, list: &[&str], field: &str) -> Option<Value> {
        let _ = (list, field);
        None
    }

    /// Whether the object at `path` is replaced and owned whole
    /// (`x-kubernetes-map-type: atomic`, e.g. a Deployment's `spec.selector`).
    fn map_is_atomic(&self, path: &[&str]) -> bool {
        let _ = path;
        false
    }
}

/// Which part of an object a write may touch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The main resource: everything but `status`.
    Main,
    /// The `status` subresource: only `status`; entries carry
    /// `subresource: status`.
    Status,
    /// The `scale` subresource: what the main resource may touch (in
    /// practice `spec.replicas`); entries carry `subresource: scale`.
    Scale,
}

impl Scope {
    fn subresource(self) -> Option<&'static str> {
        match self {
            Scope::Main => None,
            Scope::Status => Some("status"),
            Scope::Scale => Some("scale"),
        }
    }

    /// The fields this scope may change or own.
    fn restrict(self, set: &FieldSet) -> FieldSet {
        match self {
            Scope::Main | Scope::Scale => set.without_field("status"),
            Scope::Status => set.only_field("status"),
        }
    }

    /// The part of an applied configuration this scope takes.
    fn restrict_config(self, config: &Map<String, Value>) -> Value {
        let kept = config.iter().filter(|(name, _)| match self {
            Scope::Main | Scope::Scale => name.as_str() != "status",
            Scope::Status => name.as_str() == "status",
        });
        Value::Object(kept.map(|(k, v)| (k.clone(), v.clone())).collect())
    }
}

/// Who writes, when, and to which part of the object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    /// The field manager (`kubectl`, `kubectl-client-side-apply`, ...).
    pub manager: &'a str,
    /// The request's API version (`v1`, `apps/v1`).
    pub api_version: &'a str,
    /// The time to record, RFC 3339 UTC (`2024-05-01T12:00:00Z`).
    pub now: &'a str,
    /// The main resource or a subresource.
    pub scope: Scope,
}

/// A field an apply would change that another manager owns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// The other manager's name.
    pub manager: String,
    /// How the other manager wrote the field.
    pub operation: Operation,
    /// The API version of the other manager's entry.
    pub api_version: String,
    /// The other manager's subresource, if it wrote through one.
    pub subresource: Option<String>,
    /// The field, as kube-apiserver prints it (`.spec.replicas`).
    pub field: String,
}

impl Conflict {
    /// The manager as kube-apiserver names it: `"kubectl"`, or
    /// `"kubectl-client-side-apply" using v1` for an Update entry.
    pub fn manager_description(&self) -> String {
        let mut out = go_quote(&self.manager);
        if let Some(subresource) = &self.subresource {
            out.push_str(&format!(" with subresource {}", go_quote(subresource)));
        }
        if self.operation == Operation::Update {
            out.push_str(&format!(" using {}", self.api_version));
        }
        out
    }

    /// The text of this conflict's Status cause.
    pub fn cause_message(&self) -> String {
        format!("conflict with {}", self.manager_description())
    }

    fn order_key(&self) -> (&str, Operation, &str, Option<&str>) {
        (
            &self.manager,
            self.operation,
            &self.api_version,
            self.subresource.as_deref(),
        )
    }
}

/// A `Status` cause, for the `details.causes` of a 409.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusCause {
    /// Always `FieldManagerConflict`.
    pub reason: &'static str,
    /// `conflict with "<manager>" ...`.
    pub message: String,
    /// The field (`.spec.replicas`).
    pub field: String,
}

/// kube-apiserver's message for apply conflicts:
/// `Apply failed with 1 conflict: conflict with "m" using v1: .spec.replicas`,
/// or for several, one `conflicts with "<manager>":` block per manager
/// (sorted) listing `- <field>` lines.
pub fn conflict_message(conflicts: &[Conflict]) -> String {
    if let [only] = conflicts {
        return format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            only.manager_description(),
            only.field
        );
    }
    let mut sorted: Vec<&Conflict> = conflicts.iter().collect();
    sorted.sort_by(|a, b| a.order_key().cmp(&b.order_key()));
    let mut lines = Vec::new();
    let mut current = None;
    for conflict in sorted {
        if current != Some(conflict.order_key()) {
            current = Some(conflict.order_key());
            lines.push(format!(
                "conflicts with {}:",
                conflict.manager_description()
            ));
        }
        lines.push(format!("- {}", conflict.field));
    }
    format!(
        "Apply failed with {} conflicts: {}",
        conflicts.len(),
        lines.join("\n")
    )
}

/// Why an apply or a managedFields update failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// Fields the apply would change are owned by other managers; kube-apiserver
    /// answers 409 Conflict with one cause per field.
    #[error("{}", conflict_message(.0))]
    Conflicts(Vec<Conflict>),
    /// The request itself is unacceptable; kube-apiserver answers 400 BadRequest
    /// with this text.
    #[error("{0}")]
    BadRequest(String),
    /// The applied configuration does not fit the schema (a list-map element
    /// without its key, a repeated key). kube-apiserver answers 500 with
    /// `failed to create typed patch object (<ns>/<name>; <gvk>): ` before
    /// this text.
    #[error("{}", at_path(path, reason))]
    InvalidConfig {
        /// The list or field at fault (`.spec.containers`).
        path: String,
        /// What is wrong there.
        reason: String,
    },
    /// A stored or updated object does not fit the schema where the apply
    /// needs it to; kube-apiserver answers 500 (`failed to create typed live
    /// object`).
    #[error("{}", at_path(path, reason))]
    InvalidObject {
        /// The list or field at fault.
        path: String,
        /// What is wrong there.
        reason: String,
    },
    /// The stored `metadata.managedFields` cannot be decoded; kube-apiserver
    /// answers 500.
    #[error("failed to decode managed fields: {0}")]
    BadManagedFields(String),
}

fn at_path(path: &str, reason: &str) -> String {
    if path.is_empty() {
        reason.to_string()
    } else {
        format!("{path}: {reason}")
    }
}

impl ApplyError {
    /// The HTTP status kube-apiserver answers with.
    pub fn code(&self) -> u16 {
        match self {
            ApplyError::Conflicts(_) => 409,
            ApplyError::BadRequest(_) => 400,
            ApplyError::InvalidConfig { .. }
            | ApplyError::InvalidObject { .. }
            | ApplyError::BadManagedFields(_) => 500,
        }
    }

    /// The Status `reason` kube-apiserver answers with (empty for its
    /// unclassified 500s).
    pub fn reason(&self) -> &'static str {
        match self {
            ApplyError::Conflicts(_) => "Conflict",
            ApplyError::BadRequest(_) => "BadRequest",
            ApplyError::InvalidConfig { .. }
            | ApplyError::InvalidObject { .. }
            | ApplyError::BadManagedFields(_) => "",
        }
    }

    /// The Status `details.causes`: one per conflicting field.
    pub fn causes(&self) -> Vec<StatusCause> {
        match self {
            ApplyError::Conflicts(conflicts) => conflicts
                .iter()
                .map(|c| StatusCause {
                    reason: "FieldManagerConflict",
                    message: c.cause_message(),
                    field: c.field.clone(),
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// The field set `object` specifies under `schema` (every leaf, list element,
/// and empty or null field), lenient about list elements without keys.
pub fn fields_of(object: &Value, schema: &dyn Schema) -> FieldSet {
    merge::field_set(object, schema, Check::Lenient).unwrap_or_default()
}

/// Server-side apply of `config` by `manager` to the main resource; see
/// [`apply_scoped`].
pub fn apply(
    live: Option<&Value>,
    config: &Value,
    manager: &str,
    force: bool,
    schema: &dyn Schema,
    api_version: &str,
    now: &str,
) -> Result<Value, ApplyError> {
    let request = Request {
        manager,
        api_version,
        now,
        scope: Scope::Main,
    };
    apply_scoped(&request, live, config, force, schema)
}

/// Server-side apply: `config` merged into `live` (or, with no live object,
/// the object to create), with the fields the applier dropped since its last
/// apply removed unless someone else owns them, and `metadata.managedFields`
/// updated. Changing a field another manager owns is a conflict unless
/// `force`, which takes the field over. When the object itself does not
/// change, the applier's entry keeps its previous time, as in kube-apiserver.
pub fn apply_scoped(
    request: &Request<'_>,
    live: Option<&Value>,
    config: &Value,
    force: bool,
    schema: &dyn Schema,
) -> Result<Value, ApplyError> {
    let Value::Object(config_map) = config else {
        return Err(ApplyError::BadRequest(format!(
            "apply configuration must be a map, got {}",
            fieldpath::json_kind(config)
        )));
    };
    if !matches!(declared_raw(config), None | Some(Value::Null)) {
        return Err(ApplyError::BadRequest(
            "metadata.managedFields must be nil".to_string(),
        ));
    }
    let config_version = config_map
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    if config_version != request.api_version {
        return Err(ApplyError::BadRequest(format!(
            "Incorrect version specified in apply patch. Specified patch version: {config_version}, expected: {}",
            request.api_version
        )));
    }

    let (live_body, mut entries) = match live {
        None => (Value::Object(Map::new()), Vec::new()),
        Some(live) => {
            if !live.is_object() {
                return Err(ApplyError::InvalidObject {
                    path: String::new(),
                    reason: merge::not_an_object(live),
                });
            }
            let entries = managed::decode(live).map_err(ApplyError::BadManagedFields)?;
            (managed::without_managed_fields(live), entries)
        }
    };
    if live.is_some() && entries.is_empty() {
        // kube-apiserver credits an untracked object's fields to a stand-in
        // manager, so the first applier cannot silently take them over.
        let fields = managed::strip_server_set(&fields_of(&live_body, schema));
        entries.push(Entry {
            manager: managed::BEFORE_FIRST_APPLY.to_string(),
            operation: Operation::Update,
            api_version: request.api_version.to_string(),
            time: Some(request.now.to_string()),
            subresource: None,
            fields,
        });
    }

    let subresource = request.scope.subresource();
    let is_self = |e: &Entry| {
        e.is(
            request.manager,
            Operation::Apply,
            request.api_version,
            subresource,
        )
    };
    let scoped_config = request.scope.restrict_config(config_map);
    let config_fields = merge::field_set(&scoped_config, schema, Check::Unique(Side::Config))?;
    let mut merged = merge::merge(&live_body, &scoped_config, schema)?;

    let previous = entries.iter().find(|e| is_self(e)).cloned();
    if let Some(previous) = &previous {
        let owned = entries
            .iter()
            .filter(|e| !is_self(e))
            .fold(config_fields.clone(), |acc, e| acc.union(&e.fields));
        merge::prune(
            &mut merged,
            &previous.fields.with_named_parents(),
            &owned.with_named_parents(),
            schema,
        );
    }

    let comparison = merge::compare(&live_body, &merged, schema);
    let changed = request
        .scope
        .restrict(&comparison.modified.union(&comparison.added));
    let removed = request.scope.restrict(&comparison.removed);

    let mut conflicts = Vec::new();
    for entry in entries.iter().filter(|e| !is_self(e)) {
        for path in entry.fields.intersection(&changed).paths() {
            conflicts.push(Conflict {
                manager: entry.manager.clone(),
                operation: entry.operation,
                api_version: entry.api_version.clone(),
                subresource: entry.subresource.clone(),
                field: path_string(&path),
            });
        }
    }
    if !conflicts.is_empty() && !force {
        conflicts.sort_by(|a, b| a.order_key().cmp(&b.order_key()));
        return Err(ApplyError::Conflicts(conflicts));
    }

    for entry in entries.iter_mut().filter(|e| !is_self(e)) {
        entry.fields = entry.fields.difference(&changed).difference(&removed);
    }
    let object_changed = merged != live_body;
    let time = match &previous {
        Some(previous) if !object_changed => previous.time.clone(),
        _ => Some(request.now.to_string()),
    };
    let own = Entry {
        manager: request.manager.to_string(),
        operation: Operation::Apply,
        api_version: request.api_version.to_string(),
        time,
        subresource: subresource.map(str::to_string),
        fields: config_fields,
    };
    match entries.iter_mut().find(|e| is_self(e)) {
        Some(slot) => *slot = own,
        None => entries.push(own),
    }
    finish(&mut merged, entries);
    Ok(merged)
}

/// Records a non-apply write (create, update, patch) by `manager` to the main
/// resource; see [`record_update_scoped`].
pub fn record_update(
    old: Option<&Value>,
    new: &Value,
    manager: &str,
    schema: &dyn Schema,
    api_version: &str,
    now: &str,
) -> Result<Value, ApplyError> {
    let request = Request {
        manager,
        api_version,
        now,
        scope: Scope::Main,
    };
    record_update_scoped(&request, old, new, schema)
}

/// `new` with `metadata.managedFields` updated for a non-apply write: the
/// fields that changed or appeared since `old` (all of them on create) move
/// to `manager`'s Update entry, and fields that disappeared leave every
/// entry. As in kube-apiserver, managedFields the writer sent are honoured
/// when they decode (`[]` or `[{}]` clears them); otherwise the stored ones
/// are kept. A subresource write always keeps the stored ones.
pub fn record_update_scoped(
    request: &Request<'_>,
    old: Option<&Value>,
    new: &Value,
    schema: &dyn Schema,
) -> Result<Value, ApplyError> {
    if !new.is_object() {
        return Err(ApplyError::InvalidObject {
            path: String::new(),
            reason: merge::not_an_object(new),
        });
    }
    let stored = || match old {
        Some(old) => managed::decode(old).map_err(ApplyError::BadManagedFields),
        None => Ok(Vec::new()),
    };
    let mut entries = match (request.scope, managed::declared(new)) {
        (Scope::Status | Scope::Scale, _) | (_, Declared::Absent) => stored()?,
        (Scope::Main, Declared::Reset) => Vec::new(),
        (Scope::Main, Declared::Listed(_)) => match managed::decode(new) {
            Ok(sent) if !sent.is_empty() => sent,
            _ => stored()?,
        },
    };

    let old_body = old
        .map(managed::without_managed_fields)
        .unwrap_or_else(|| Value::Object(Map::new()));
    let mut new_body = managed::without_managed_fields(new);
    let comparison = merge::compare(&old_body, &new_body, schema);
    let changed = managed::strip_server_set(
        &request
            .scope
            .restrict(&comparison.modified.union(&comparison.added)),
    );
    let removed = request.scope.restrict(&comparison.removed);

    for entry in &mut entries {
        entry.fields = entry.fields.difference(&changed).difference(&removed);
    }
    if !changed.is_empty() {
        let subresource = request.scope.subresource();
        let slot = entries.iter_mut().find(|e| {
            e.is(
                request.manager,
                Operation::Update,
                request.api_version,
                subresource,
            )
        });
        match slot {
            Some(entry) => {
                entry.fields = entry.fields.union(&changed);
                entry.time = Some(request.now.to_string());
            }
            None => entries.push(Entry {
                manager: request.manager.to_string(),
                operation: Operation::Update,
                api_version: request.api_version.to_string(),
                time: Some(request.now.to_string()),
                subresource: subresource.map(str::to_string),
                fields: changed,
            }),
        }
    }
    finish(&mut new_body, entries);
    Ok(new_body)
}

/// Drops server-set metadata from every entry, caps Update entries and
/// writes them into `object`.
fn finish(object: &mut Value, mut entries: Vec<Entry>) {
    for entry in &mut entries {
        entry.fields = managed::strip_server_set(&entry.fields);
    }
    entries.retain(|e| !e.fields.is_empty());
    managed::cap_update_entries(&mut entries);
    managed::encode(object, entries);
}

fn declared_raw(object: &Value) -> Option<&Value> {
    object.get("metadata").and_then(|m| m.get("managedFields"))
}

#[cfg(test)]
mod tests;
