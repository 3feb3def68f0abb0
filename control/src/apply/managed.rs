//! `metadata.managedFields`: decoding its entries from an object, encoding
//! them back in kube-apiserver's order, and the bookkeeping kube-apiserver
//! applies to every entry (server-set metadata never owned, at most ten
//! Update entries).
//!
//! It must not decide who owns what after a write; that is the parent
//! module's job. Decoding is total: a malformed entry is an error, never a
//! panic.

use serde_json::{Map, Value};

use super::fieldpath::{FieldSet, PathElement};

/// The manager kube-apiserver credits with the fields of an object that had
/// no managedFields when it was first applied to.
pub(super) const BEFORE_FIRST_APPLY: &str = "before-first-apply";

/// The bucket older Update entries are merged into past the cap.
pub(super) const ANCIENT_CHANGES: &str = "ancient-changes";

/// kube-apiserver's `DefaultMaxUpdateManagers`.
pub(super) const MAX_UPDATE_ENTRIES: usize = 10;

/// How a manager last wrote its fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    /// Server-side apply.
    Apply,
    /// Any other write (create, update, patch).
    Update,
}

impl Operation {
    /// The wire name, `Apply` or `Update`.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// One `managedFields` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Entry {
    pub manager: String,
    pub operation: Operation,
    pub api_version: String,
    pub time: Option<String>,
    pub subresource: Option<String>,
    pub fields: FieldSet,
}

impl Entry {
    /// Whether this entry is the one `manager` writes with `operation`.
    /// Like kube-apiserver, Update entries are also told apart by API
    /// version; Apply entries are not, so an applier keeps one entry.
    pub fn is(
        &self,
        manager: &str,
        operation: Operation,
        api_version: &str,
        subresource: Option<&str>,
    ) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource.as_deref() == subresource
            && (operation == Operation::Apply || self.api_version == api_version)
    }

    fn same_identity(&self, other: &Entry) -> bool {
        self.is(
            &other.manager,
            other.operation,
            &other.api_version,
            other.subresource.as_deref(),
        )
    }

    fn to_json(&self) -> Value {
        let mut entry = Map::new();
        entry.insert("manager".into(), Value::String(self.manager.clone()));
        entry.insert(
            "operation".into(),
            Value::String(self.operation.as_str().into()),
        );
        entry.insert("apiVersion".into(), Value::String(self.api_version.clone()));
        if let Some(time) = &self.time {
            entry.insert("time".into(), Value::String(time.clone()));
        }
        entry.insert("fieldsType".into(), Value::String("FieldsV1".into()));
        entry.insert("fieldsV1".into(), self.fields.to_fields_v1());
        if let Some(subresource) = &self.subresource {
            entry.insert("subresource".into(), Value::String(subresource.clone()));
        }
        Value::Object(entry)
    }
}

/// What an object says about its managedFields.
pub(super) enum Declared<'v> {
    /// No `metadata.managedFields`, or `null`.
    Absent,
    /// `[]` or `[{}]`: the writer asks for the entries to be dropped.
    Reset,
    /// Anything else, to be decoded.
    Listed(&'v Value),
}

/// Reads what `object` declares in `metadata.managedFields`.
pub(super) fn declared(object: &Value) -> Declared<'_> {
    match object.get("metadata").and_then(|m| m.get("managedFields")) {
        None | Some(Value::Null) => Declared::Absent,
        Some(Value::Array(items))
            if items.is_empty()
                || matches!(items.as_slice(), [Value::Object(only)] if only.is_empty()) =>
        {
            Declared::Reset
        }
        Some(listed) => Declared::Listed(listed),
    }
}

/// Decodes the entries of `object`'s managedFields; none if it has none.
pub(super) fn decode(object: &Value) -> Result<Vec<Entry>, String> {
    match declared(object) {
        Declared::Absent | Declared::Reset => Ok(Vec::new()),
        Declared::Listed(listed) => decode_list(listed),
    }
}

fn decode_list(listed: &Value) -> Result<Vec<Entry>, String> {
    let Value::Array(items) = listed else {
        return Err("metadata.managedFields must be a list".to_string());
    };
    let mut entries: Vec<Entry> = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let entry = decode_entry(item).map_err(|reason| format!("entry {index}: {reason}"))?;
        if entries.iter().any(|e| e.same_identity(&entry)) {
            return Err(format!(
                "entry {index}: duplicate entry for manager {:?} with operation {}",
                entry.manager,
                entry.operation.as_str()
            ));
        }
        entries.push(entry);
    }
    Ok(entries)
}

fn decode_entry(item: &Value) -> Result<Entry, String> {
    let Value::Object(map) = item else {
        return Err("must be a map".to_string());
    };
    let text = |name: &str| -> Result<Option<String>, String> {
        match map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("{name} must be a string")),
        }
    };
    let operation = match text("operation")?.as_deref() {
        Some("Apply") => Operation::Apply,
        Some("Update") => Operation::Update,
        _ => return Err("operation must be `Apply` or `Update`".to_string()),
    };
    match text("fieldsType")?.as_deref() {
        None | Some("" | "FieldsV1") => {}
        Some(other) => return Err(format!("fieldsType {other:?} is not `FieldsV1`")),
    }
    let fields = match map.get("fieldsV1") {
        None | Some(Value::Null) => FieldSet::new(),
        Some(wire) => FieldSet::from_fields_v1(wire).map_err(|e| format!("fieldsV1: {e}"))?,
    };
    Ok(Entry {
        manager: text("manager")?.unwrap_or_default(),
        operation,
        api_version: text("apiVersion")?.unwrap_or_default(),
        time: text("time")?,
        subresource: text("subresource")?.filter(|s| !s.is_empty()),
        fields,
    })
}

/// Writes `entries` into `object`'s metadata in kube-apiserver's order:
/// Apply before Update, then oldest first, then by manager, API version and
/// subresource. Times compare as text, which orders the RFC 3339 UTC
/// seconds kube-apiserver writes. No entries removes the field.
pub(super) fn encode(object: &mut Value, mut entries: Vec<Entry>) {
    entries.retain(|e| !e.fields.is_empty());
    entries.sort_by(|a, b| {
        a.operation
            .cmp(&b.operation)
            .then_with(|| a.time.cmp(&b.time))
            .then_with(|| a.manager.cmp(&b.manager))
            .then_with(|| a.api_version.cmp(&b.api_version))
            .then_with(|| a.subresource.cmp(&b.subresource))
    });
    let Value::Object(root) = object else {
        return;
    };
    if entries.is_empty() {
        if let Some(Value::Object(meta)) = root.get_mut("metadata") {
            meta.remove("managedFields");
        }
        return;
    }
    let meta = root
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    if let Value::Object(meta) = meta {
        meta.insert(
            "managedFields".into(),
            Value::Array(entries.iter().map(Entry::to_json).collect()),
        );
    }
}

/// `object` without `metadata.managedFields`, as the field manager sees it.
pub(super) fn without_managed_fields(object: &Value) -> Value {
    let mut out = object.clone();
    if let Some(Value::Object(meta)) = out.get_mut("metadata") {
        meta.remove("managedFields");
    }
    out
}

/// The metadata kube-apiserver sets itself and never credits to a manager.
const SERVER_SET: &[&[&str]] = &[
    &["apiVersion"],
    &["kind"],
    &["metadata"],
    &["metadata", "name"],
    &["metadata", "namespace"],
    &["metadata", "creationTimestamp"],
    &["metadata", "selfLink"],
    &["metadata", "uid"],
    &["metadata", "clusterName"],
    &["metadata", "generation"],
    &["metadata", "managedFields"],
    &["metadata", "resourceVersion"],
];

/// `set` without the server-set metadata paths (the paths themselves, not
/// what lies below them: `metadata.labels` stays).
pub(super) fn strip_server_set(set: &FieldSet) -> FieldSet {
    // Built once: every write strips it at least twice.
    static STRIP: std::sync::OnceLock<FieldSet> = std::sync::OnceLock::new();
    let strip = STRIP.get_or_init(|| {
        let mut strip = FieldSet::new();
        for path in SERVER_SET {
            let path: Vec<PathElement> = path
                .iter()
                .map(|name| PathElement::Field((*name).to_string()))
                .collect();
            strip.insert(&path);
        }
        strip
    });
    set.difference(strip)
}

/// Keeps at most [`MAX_UPDATE_ENTRIES`] Update entries, merging the oldest
/// into one `ancient-changes` entry per API version, as kube-apiserver does.
pub(super) fn cap_update_entries(entries: &mut Vec<Entry>) {
    let updates = |entries: &[Entry]| {
        entries
            .iter()
            .filter(|e| e.operation == Operation::Update)
            .count()
    };
    if updates(entries) <= MAX_UPDATE_ENTRIES {
        return;
    }
    let mut oldest_first: Vec<(Option<String>, String, String, Option<String>)> = entries
        .iter()
        .filter(|e| e.operation == Operation::Update)
        .map(|e| {
            (
                e.time.clone(),
                e.manager.clone(),
                e.api_version.clone(),
                e.subresource.clone(),
            )
        })
        .collect();
    oldest_first.sort();
    // The oldest entry of each version waits; the next one of that version
    // starts the bucket, taking the waiting one along, and later ones join.
    let mut first_of_version: Vec<(String, String, Option<String>)> = Vec::new();
    for (_, manager, version, subresource) in oldest_first {
        if updates(entries) <= MAX_UPDATE_ENTRIES {
            break;
        }
        let Some(first) = first_of_version
            .iter()
            .find(|(v, _, _)| *v == version)
            .cloned()
        else {
            first_of_version.push((version, manager, subresource));
            continue;
        };
        let is_bucket = |m: &str, s: &Option<String>| m == ANCIENT_CHANGES && s.is_none();
        let bucket_exists = entries
            .iter()
            .any(|e| e.is(ANCIENT_CHANGES, Operation::Update, &version, None));
        let (_, first_manager, first_subresource) = first;
        let mut sources = Vec::new();
        if !bucket_exists || is_bucket(&manager, &subresource) {
            sources.push((first_manager, first_subresource));
        }
        if !is_bucket(&manager, &subresource) {
            sources.push((manager, subresource));
        }
        for (manager, subresource) in sources {
            if is_bucket(&manager, &subresource) {
                continue;
            }
            let Some(index) = entries.iter().position(|e| {
                e.is(
                    &manager,
                    Operation::Update,
                    &version,
                    subresource.as_deref(),
                )
            }) else {
                continue;
            };
            let moved = entries.remove(index);
            match entries
                .iter_mut()
                .find(|e| e.is(ANCIENT_CHANGES, Operation::Update, &version, None))
            {
                Some(bucket) => {
                    bucket.fields = bucket.fields.union(&moved.fields);
                    bucket.time = moved.time;
                }
                None => entries.push(Entry {
                    manager: ANCIENT_CHANGES.to_string(),
                    operation: Operation::Update,
                    api_version: version.clone(),
                    time: moved.time,
                    subresource: None,
                    fields: moved.fields,
                }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(manager: &str, operation: Operation, time: &str, field: &str) -> Entry {
        let mut fields = FieldSet::new();
        fields.insert(&[PathElement::Field(field.to_string())]);
        Entry {
            manager: manager.to_string(),
            operation,
            api_version: "v1".to_string(),
            time: Some(time.to_string()),
            subresource: None,
            fields,
        }
    }

    #[test]
    fn decodes_and_rejects_entries() {
        let ok = json!({"metadata": {"managedFields": [
            {"manager": "a", "operation": "Apply", "apiVersion": "v1", "time": "2024-01-01T00:00:00Z",
             "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:x": {}}}},
            {"manager": "a", "operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV1",
             "fieldsV1": {"f:data": {"f:y": {}}}, "subresource": "status"},
        ]}});
        let entries = decode(&ok).expect("decodes");
        assert_eq!(entries.len(), 2);
        assert_eq!(entries.first().map(|e| e.fields.len()), Some(1));
        assert_eq!(
            entries.get(1).and_then(|e| e.subresource.as_deref()),
            Some("status")
        );

        let bad = vec![
            (json!("x"), "metadata.managedFields must be a list"),
            (json!([1]), "entry 0: must be a map"),
            (
                json!([{"manager": "a", "operation": "Patch"}]),
                "entry 0: operation must be `Apply` or `Update`",
            ),
            (
                json!([{"manager": 3, "operation": "Apply"}]),
                "entry 0: manager must be a string",
            ),
            (
                json!([{"operation": "Apply", "fieldsType": "FieldsV2"}]),
                "entry 0: fieldsType \"FieldsV2\" is not `FieldsV1`",
            ),
            (
                json!([{"operation": "Apply", "fieldsV1": {"f:a": 1}}]),
                "entry 0: fieldsV1: .a: expected a JSON object, got number",
            ),
            (
                json!([{"operation": "Apply", "fieldsV1": {"bad": {}}}]),
                "entry 0: fieldsV1: unknown path element \"bad\"",
            ),
            (
                json!([{"manager": "a", "operation": "Apply", "apiVersion": "v1"},
                       {"manager": "a", "operation": "Apply", "apiVersion": "v2"}]),
                "entry 1: duplicate entry for manager \"a\" with operation Apply",
            ),
        ];
        for (listed, want) in bad {
            let object = json!({"metadata": {"managedFields": listed}});
            assert_eq!(decode(&object), Err(want.to_string()));
        }
    }

    #[test]
    fn reads_declarations() {
        let cases = vec![
            (json!({}), "absent"),
            (json!({"metadata": {"managedFields": null}}), "absent"),
            (json!({"metadata": {"managedFields": []}}), "reset"),
            (json!({"metadata": {"managedFields": [{}]}}), "reset"),
            (json!({"metadata": {"managedFields": [{}, {}]}}), "listed"),
            (
                json!({"metadata": {"managedFields": [{"manager": "x"}]}}),
                "listed",
            ),
        ];
        for (object, want) in cases {
            let got = match declared(&object) {
                Declared::Absent => "absent",
                Declared::Reset => "reset",
                Declared::Listed(_) => "listed",
            };
            assert_eq!(got, want, "{object}");
        }
    }

    #[test]
    fn encodes_in_kube_order_and_drops_empty_entries() {
        let mut object = json!({"metadata": {"name": "x"}});
        let mut empty = entry("e", Operation::Update, "2024-01-01T00:00:00Z", "x");
        empty.fields = FieldSet::new();
        encode(
            &mut object,
            vec![
                entry("b", Operation::Update, "2024-01-01T00:00:02Z", "x"),
                entry("z", Operation::Update, "2024-01-01T00:00:01Z", "x"),
                entry("y", Operation::Apply, "2024-01-01T00:00:09Z", "x"),
                empty,
                entry("a", Operation::Update, "2024-01-01T00:00:02Z", "x"),
            ],
        );
        let managers: Vec<&str> = object["metadata"]["managedFields"]
            .as_array()
            .map(|a| a.iter().filter_map(|e| e["manager"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(managers, vec!["y", "z", "a", "b"]);
        encode(&mut object, Vec::new());
        assert_eq!(object, json!({"metadata": {"name": "x"}}));
    }

    #[test]
    fn strips_server_set_metadata_only() {
        let mut set = FieldSet::new();
        for path in [
            vec!["metadata", "name"],
            vec!["metadata", "labels", "app"],
            vec!["metadata"],
            vec!["kind"],
            vec!["spec", "replicas"],
        ] {
            let path: Vec<PathElement> = path
                .into_iter()
                .map(|n| PathElement::Field(n.to_string()))
                .collect();
            set.insert(&path);
        }
        assert_eq!(
            strip_server_set(&set).to_fields_v1(),
            json!({"f:metadata": {"f:labels": {"f:app": {}}}, "f:spec": {"f:replicas": {}}})
        );
    }

    #[test]
    fn caps_update_entries_into_a_bucket() {
        let mut entries: Vec<Entry> = (0..12)
            .map(|i| {
                entry(
                    &format!("m{i:02}"),
                    Operation::Update,
                    &format!("2024-01-01T00:00:{i:02}Z"),
                    &format!("f{i}"),
                )
            })
            .collect();
        entries.push(entry(
            "applier",
            Operation::Apply,
            "2024-01-01T00:00:00Z",
            "a",
        ));
        cap_update_entries(&mut entries);
        let updates: Vec<&Entry> = entries
            .iter()
            .filter(|e| e.operation == Operation::Update)
            .collect();
        assert_eq!(updates.len(), MAX_UPDATE_ENTRIES);
        let bucket = entries
            .iter()
            .find(|e| e.manager == ANCIENT_CHANGES)
            .expect("bucket");
        // m00, m01 and m02 went into the bucket, which keeps the newest time.
        assert_eq!(bucket.fields.len(), 3);
        assert_eq!(bucket.time.as_deref(), Some("2024-01-01T00:00:02Z"));
        assert!(
            !entries
                .iter()
                .any(|e| ["m00", "m01", "m02"].contains(&e.manager.as_str()))
        );
        assert!(entries.iter().any(|e| e.manager == "applier"));
    }
}
