//! Schema-aware walks over JSON objects, the way structured-merge-diff does
//! them: the field set an object specifies, an applied configuration merged
//! into a live object, the fields that differ between two objects, and the
//! removal of fields an applier gave up.
//!
//! It holds no ownership bookkeeping (that is `managed` and the parent
//! module) and must not: these are plain functions of values and a schema.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::fieldpath::{FieldSet, PathElement, json_kind, path_string};
use super::{ApplyError, ListType, Schema};

/// Which input a shape error is blamed on: the applied configuration is the
/// user's mistake, a live or updated object is the server's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Side {
    Config,
    Object,
}

impl Side {
    fn error(self, path: &[PathElement], reason: String) -> ApplyError {
        let path = path_string(path);
        match self {
            Side::Config => ApplyError::InvalidConfig { path, reason },
            Side::Object => ApplyError::InvalidObject { path, reason },
        }
    }
}

/// How a value is walked: as a leaf compared whole, a map of fields, a set
/// list or a list-map.
enum Shape<'v> {
    Leaf,
    Map(&'v Map<String, Value>),
    Set(&'v [Value]),
    Keyed(&'v [Value], Vec<&'static str>),
}

/// The schema position and the path walked so far.
struct Cursor<'s> {
    schema: &'s dyn Schema,
    /// Field names from the root, list elements omitted: what `Schema` sees.
    names: Vec<String>,
    /// The full path, for field sets and messages.
    path: Vec<PathElement>,
}

impl<'s> Cursor<'s> {
    fn new(schema: &'s dyn Schema) -> Cursor<'s> {
        Cursor {
            schema,
            names: Vec::new(),
            path: Vec::new(),
        }
    }

    fn names(&self) -> Vec<&str> {
        self.names.iter().map(String::as_str).collect()
    }

    fn shape<'v>(&self, value: &'v Value) -> Shape<'v> {
        match value {
            Value::Object(map) if !self.schema.map_is_atomic(&self.names()) => Shape::Map(map),
            Value::Array(items) => match self.schema.list_type(&self.names()) {
                ListType::Atomic => Shape::Leaf,
                ListType::Set => Shape::Set(items),
                ListType::Map(keys) if keys.is_empty() => Shape::Leaf,
                ListType::Map(keys) => Shape::Keyed(items, keys),
            },
            _ => Shape::Leaf,
        }
    }

    fn push_field(&mut self, name: &str) {
        self.names.push(name.to_string());
        self.path.push(PathElement::Field(name.to_string()));
    }

    fn pop_field(&mut self) {
        self.names.pop();
        self.path.pop();
    }

    /// The path element of a list-map element: its key fields, a missing one
    /// taken from the schema's default.
    fn element_key(
        &self,
        index: usize,
        item: &Value,
        keys: &[&str],
    ) -> Result<PathElement, String> {
        let map = match item {
            Value::Object(map) => map,
            Value::Null => {
                return Err(format!(
                    "element {index}: associative list with keys may not have a null element"
                ));
            }
            _ => {
                return Err(format!(
                    "element {index}: associative list with keys may not have non-map elements"
                ));
            }
        };
        let mut fields = Vec::with_capacity(keys.len());
        for key in keys {
            let value = match map.get(*key) {
                Some(value) => value.clone(),
                None => self.schema.key_default(&self.names(), key).ok_or_else(|| {
                    format!(
                        "element {index}: associative list with keys has an element that omits key field {key:?} (and doesn't have default value)"
                    )
                })?,
            };
            fields.push(((*key).to_string(), value));
        }
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(PathElement::Key(fields))
    }
}

/// The path element of a set-list element: its value, which must be a scalar.
fn set_key(index: usize, item: &Value) -> Result<PathElement, String> {
    match item {
        Value::Object(_) => Err(format!(
            "element {index}: associative list without keys has an element that's a map type"
        )),
        Value::Array(_) => Err(format!(
            "element {index}: not supported: associative list with lists as elements"
        )),
        Value::Null => Err(format!(
            "element {index}: associative list without keys has an element that's an explicit null"
        )),
        scalar => Ok(PathElement::Value(scalar.clone())),
    }
}

/// How strictly list items are keyed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Check {
    /// Items without a usable key are skipped; repeats are allowed.
    Lenient,
    /// An item without a usable key is an error blamed on the side; repeats
    /// are allowed (kube-apiserver stores objects with repeated keys).
    Keys(Side),
    /// As `Keys`, and a repeated key is an error too.
    Unique(Side),
}

/// The path elements of a list's items, by position; `None` for an item a
/// lenient check could not key.
fn list_keys(
    cursor: &Cursor<'_>,
    items: &[Value],
    keys: Option<&[&'static str]>,
    check: Check,
) -> Result<Vec<Option<PathElement>>, ApplyError> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let element = match keys {
            Some(keys) => cursor.element_key(index, item, keys),
            None => set_key(index, item),
        };
        match (element, check) {
            (Ok(element), Check::Unique(side)) => {
                if !seen.insert(element.clone()) {
                    return Err(
                        side.error(&cursor.path, format!("duplicate entries for key {element}"))
                    );
                }
                out.push(Some(element));
            }
            (Ok(element), _) => out.push(Some(element)),
            (Err(reason), Check::Keys(side) | Check::Unique(side)) => {
                return Err(side.error(&cursor.path, reason));
            }
            (Err(_), Check::Lenient) => out.push(None),
        }
    }
    Ok(out)
}

/// The paths `value` specifies: every leaf, every list element, and every
/// field whose value is `null` or `{}`; maps holding fields are implied.
pub(super) fn field_set(
    value: &Value,
    schema: &dyn Schema,
    check: Check,
) -> Result<FieldSet, ApplyError> {
    let mut cursor = Cursor::new(schema);
    let mut out = FieldSet::new();
    fields_of(value, &mut cursor, &mut out, check)?;
    Ok(out)
}

fn fields_of(
    value: &Value,
    cursor: &mut Cursor<'_>,
    out: &mut FieldSet,
    check: Check,
) -> Result<(), ApplyError> {
    match cursor.shape(value) {
        Shape::Leaf => out.insert(&cursor.path),
        Shape::Map(map) => fields_of_map(map, cursor, out, check)?,
        Shape::Set(items) => {
            for element in list_keys(cursor, items, None, check)?.into_iter().flatten() {
                cursor.path.push(element);
                out.insert(&cursor.path);
                cursor.path.pop();
            }
        }
        Shape::Keyed(items, keys) => {
            let elements = list_keys(cursor, items, Some(&keys), check)?;
            for (item, element) in items.iter().zip(elements) {
                let (Some(element), Value::Object(map)) = (element, item) else {
                    continue;
                };
                cursor.path.push(element);
                out.insert(&cursor.path);
                let walked = fields_of_map(map, cursor, out, check);
                cursor.path.pop();
                walked?;
            }
        }
    }
    Ok(())
}

fn fields_of_map(
    map: &Map<String, Value>,
    cursor: &mut Cursor<'_>,
    out: &mut FieldSet,
    check: Check,
) -> Result<(), ApplyError> {
    for (name, child) in map {
        cursor.push_field(name);
        let walked = fields_of(child, cursor, out, check);
        if walked.is_ok() && matches!(child, Value::Object(m) if m.is_empty()) {
            out.insert(&cursor.path);
        }
        cursor.pop_field();
        walked?;
    }
    Ok(())
}

/// `config` merged into `live`: maps field by field, list-maps element by
/// key, set lists as a union, everything else replaced by the config's value.
pub(super) fn merge(
    live: &Value,
    config: &Value,
    schema: &dyn Schema,
) -> Result<Value, ApplyError> {
    let mut cursor = Cursor::new(schema);
    merge_values(Some(live), config, &mut cursor)
}

fn merge_values(
    live: Option<&Value>,
    config: &Value,
    cursor: &mut Cursor<'_>,
) -> Result<Value, ApplyError> {
    let Some(live) = live else {
        return Ok(config.clone());
    };
    match (cursor.shape(live), cursor.shape(config)) {
        (Shape::Map(live_map), Shape::Map(config_map)) => {
            merge_maps(live_map, config_map, cursor).map(Value::Object)
        }
        (Shape::Set(live_items), Shape::Set(config_items)) => {
            let live_keys = list_keys(cursor, live_items, None, Check::Keys(Side::Object))?;
            let config_keys = list_keys(cursor, config_items, None, Check::Unique(Side::Config))?;
            let merged = merge_lists(
                live_items,
                &live_keys,
                config_items,
                &config_keys,
                |_, c, _| Ok(c.clone()),
            )?;
            Ok(Value::Array(merged))
        }
        (Shape::Keyed(live_items, keys), Shape::Keyed(config_items, _)) => {
            let live_keys = list_keys(cursor, live_items, Some(&keys), Check::Keys(Side::Object))?;
            let config_keys = list_keys(
                cursor,
                config_items,
                Some(&keys),
                Check::Unique(Side::Config),
            )?;
            let merged = merge_lists(
                live_items,
                &live_keys,
                config_items,
                &config_keys,
                |live, config, key| match (live, config, key) {
                    (Some(Value::Object(l)), Value::Object(c), Some(key)) => {
                        cursor.path.push(key.clone());
                        let merged = merge_maps(l, c, cursor);
                        cursor.path.pop();
                        merged.map(Value::Object)
                    }
                    _ => Ok(config.clone()),
                },
            )?;
            Ok(Value::Array(merged))
        }
        _ => Ok(config.clone()),
    }
}

fn merge_maps(
    live: &Map<String, Value>,
    config: &Map<String, Value>,
    cursor: &mut Cursor<'_>,
) -> Result<Map<String, Value>, ApplyError> {
    let mut out = live.clone();
    for (name, value) in config {
        cursor.push_field(name);
        let merged = merge_values(live.get(name), value, cursor);
        cursor.pop_field();
        out.insert(name.clone(), merged?);
    }
    Ok(out)
}

/// Merges two keyed lists the way structured-merge-diff orders them: live
/// items the config does not mention stay where they are, items both hold
/// follow the config's order, and new items come after the config item
/// before them. Live duplicates of a key the config holds collapse into one.
fn merge_lists(
    live: &[Value],
    live_keys: &[Option<PathElement>],
    config: &[Value],
    config_keys: &[Option<PathElement>],
    mut merge_item: impl FnMut(
        Option<&Value>,
        &Value,
        Option<&PathElement>,
    ) -> Result<Value, ApplyError>,
) -> Result<Vec<Value>, ApplyError> {
    let mut first_live: BTreeMap<&PathElement, &Value> = BTreeMap::new();
    for (item, key) in live.iter().zip(live_keys) {
        if let Some(key) = key {
            first_live.entry(key).or_insert(item);
        }
    }
    let in_config: BTreeSet<&PathElement> = config_keys.iter().flatten().collect();
    let shared: Vec<&PathElement> = config_keys
        .iter()
        .flatten()
        .filter(|k| first_live.contains_key(k))
        .collect();
    let mut emitted: BTreeSet<&PathElement> = BTreeSet::new();
    let mut next_shared = 0;
    let mut out = Vec::with_capacity(live.len().max(config.len()));
    let (mut l, mut r) = (0, 0);
    loop {
        while shared.get(next_shared).is_some_and(|k| emitted.contains(k)) {
            next_shared += 1;
        }
        let live_item = live.get(l).zip(live_keys.get(l));
        let config_item = config.get(r).zip(config_keys.get(r));
        match (live_item, config_item) {
            (None, None) => break,
            (Some((_, Some(lk))), Some((c, Some(rk)))) if lk == rk => {
                out.push(merge_item(first_live.get(lk).copied(), c, Some(rk))?);
                emitted.insert(rk);
                l += 1;
                r += 1;
                continue;
            }
            (Some((_, Some(lk))), Some(_))
                if in_config.contains(lk) && shared.get(next_shared).is_some_and(|k| *k != lk) =>
            {
                // Its turn comes when the config reaches it.
                l += 1;
                continue;
            }
            _ => {}
        }
        if let Some((item, key)) = live_item {
            match key {
                Some(k) if in_config.contains(k) => {
                    if emitted.contains(k) {
                        l += 1;
                        continue;
                    }
                }
                _ => {
                    out.push(item.clone());
                    l += 1;
                    continue;
                }
            }
        }
        if let Some((item, key)) = config_item {
            let partner = key.as_ref().and_then(|k| first_live.get(k).copied());
            out.push(merge_item(partner, item, key.as_ref())?);
            if let Some(k) = key {
                emitted.insert(k);
            }
            r += 1;
            continue;
        }
        // Only reachable for a live item the config holds but has already
        // passed, which `emitted` covers; advance to stay total.
        l += 1;
    }
    Ok(out)
}

/// The fields that differ between two objects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Comparison {
    /// Present in both, with different values.
    pub modified: FieldSet,
    /// Present only in the new object (including every map and list node).
    pub added: FieldSet,
    /// Present only in the old object.
    pub removed: FieldSet,
}

/// Compares `old` and `new`. List-maps or sets whose elements lack keys are
/// compared whole, so that a stored object never makes this fail.
pub(super) fn compare(old: &Value, new: &Value, schema: &dyn Schema) -> Comparison {
    let mut cursor = Cursor::new(schema);
    let mut out = Comparison::default();
    compare_values(Some(old), Some(new), &mut cursor, &mut out);
    out
}

fn compare_values(
    old: Option<&Value>,
    new: Option<&Value>,
    cursor: &mut Cursor<'_>,
    out: &mut Comparison,
) {
    let (old, new) = match (old, new) {
        (None, None) => return,
        (Some(old), None) => return mark_all(old, cursor, &mut out.removed),
        (None, Some(new)) => return mark_all(new, cursor, &mut out.added),
        (Some(old), Some(new)) => (old, new),
    };
    match (cursor.shape(old), cursor.shape(new)) {
        (Shape::Map(o), Shape::Map(n)) => compare_maps(o, n, cursor, out),
        (Shape::Set(o), Shape::Set(n)) => {
            match (indexed(cursor, o, None), indexed(cursor, n, None)) {
                (Some(o), Some(n)) => {
                    for key in o.keys().chain(n.keys()).collect::<BTreeSet<_>>() {
                        cursor.path.push(key.clone());
                        match (o.contains_key(key), n.contains_key(key)) {
                            (true, false) => out.removed.insert(&cursor.path),
                            (false, true) => out.added.insert(&cursor.path),
                            _ => {}
                        }
                        cursor.path.pop();
                    }
                }
                _ => compare_leaves(old, new, cursor, out),
            }
        }
        (Shape::Keyed(o, keys), Shape::Keyed(n, _)) => {
            match (
                indexed(cursor, o, Some(&keys)),
                indexed(cursor, n, Some(&keys)),
            ) {
                (Some(o), Some(n)) => {
                    for key in o.keys().chain(n.keys()).collect::<BTreeSet<_>>() {
                        cursor.path.push(key.clone());
                        let (old_item, new_item) = (o.get(key).copied(), n.get(key).copied());
                        match (old_item, new_item) {
                            (Some(Value::Object(om)), Some(Value::Object(nm))) => {
                                compare_maps(om, nm, cursor, out)
                            }
                            (Some(item), None) => mark_element(item, cursor, &mut out.removed),
                            (None, Some(item)) => mark_element(item, cursor, &mut out.added),
                            (Some(a), Some(b)) if a != b => out.modified.insert(&cursor.path),
                            _ => {}
                        }
                        cursor.path.pop();
                    }
                }
                _ => compare_leaves(old, new, cursor, out),
            }
        }
        _ => compare_leaves(old, new, cursor, out),
    }
}

fn compare_leaves(old: &Value, new: &Value, cursor: &Cursor<'_>, out: &mut Comparison) {
    if old != new {
        out.modified.insert(&cursor.path);
    }
}

fn compare_maps(
    old: &Map<String, Value>,
    new: &Map<String, Value>,
    cursor: &mut Cursor<'_>,
    out: &mut Comparison,
) {
    let names: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    for name in names {
        cursor.push_field(name);
        compare_values(old.get(name), new.get(name), cursor, out);
        cursor.pop_field();
    }
}

/// A list's items by key, first occurrence winning; `None` if any item has
/// no usable key.
fn indexed<'v>(
    cursor: &Cursor<'_>,
    items: &'v [Value],
    keys: Option<&[&'static str]>,
) -> Option<BTreeMap<PathElement, &'v Value>> {
    let elements = list_keys(cursor, items, keys, Check::Lenient).ok()?;
    let mut out = BTreeMap::new();
    for (item, element) in items.iter().zip(elements) {
        out.entry(element?).or_insert(item);
    }
    Some(out)
}

/// Records `value`'s own path and every path below it.
fn mark_all(value: &Value, cursor: &mut Cursor<'_>, set: &mut FieldSet) {
    set.insert(&cursor.path);
    match cursor.shape(value) {
        Shape::Leaf => {}
        Shape::Map(map) => mark_map(map, cursor, set),
        Shape::Set(items) => {
            if let Ok(elements) = list_keys(cursor, items, None, Check::Lenient) {
                for element in elements.into_iter().flatten() {
                    cursor.path.push(element);
                    set.insert(&cursor.path);
                    cursor.path.pop();
                }
            }
        }
        Shape::Keyed(items, keys) => {
            if let Ok(elements) = list_keys(cursor, items, Some(&keys), Check::Lenient) {
                for (item, element) in items.iter().zip(elements) {
                    if let Some(element) = element {
                        cursor.path.push(element);
                        mark_element(item, cursor, set);
                        cursor.path.pop();
                    }
                }
            }
        }
    }
}

fn mark_map(map: &Map<String, Value>, cursor: &mut Cursor<'_>, set: &mut FieldSet) {
    for (name, child) in map {
        cursor.push_field(name);
        mark_all(child, cursor, set);
        cursor.pop_field();
    }
}

/// Records a list-map element (the cursor already at its key) and its fields.
fn mark_element(item: &Value, cursor: &mut Cursor<'_>, set: &mut FieldSet) {
    set.insert(&cursor.path);
    if let Value::Object(map) = item {
        mark_map(map, cursor, set);
    }
}

/// Removes from `value` what the applier owned last time (`last`) and no one
/// owns now (`owned`, the applier's new set included). Both sets must have
/// their named parents filled in, so that an object field emptied by the
/// removal goes too.
pub(super) fn prune(value: &mut Value, last: &FieldSet, owned: &FieldSet, schema: &dyn Schema) {
    let mut cursor = Cursor::new(schema);
    prune_value(value, last, Some(owned), &mut cursor);
}

fn prune_value(
    value: &mut Value,
    last: &FieldSet,
    owned: Option<&FieldSet>,
    cursor: &mut Cursor<'_>,
) {
    let gone = |element: &PathElement| {
        last.has_member(element) && !owned.is_some_and(|o| o.has_member(element))
    };
    enum Plan {
        Leaf,
        Map,
        Set,
        Keyed(Vec<&'static str>),
    }
    let plan = match cursor.shape(value) {
        Shape::Leaf => Plan::Leaf,
        Shape::Map(_) => Plan::Map,
        Shape::Set(_) => Plan::Set,
        Shape::Keyed(_, keys) => Plan::Keyed(keys),
    };
    match (plan, value) {
        (Plan::Map, Value::Object(map)) => prune_map(map, last, owned, cursor),
        (Plan::Set, Value::Array(items)) => {
            items.retain(|item| {
                let Ok(element) = set_key(0, item) else {
                    return true;
                };
                !gone(&element)
            });
        }
        (Plan::Keyed(keys), Value::Array(items)) => {
            let mut kept = Vec::with_capacity(items.len());
            for (index, mut item) in std::mem::take(items).into_iter().enumerate() {
                let Ok(element) = cursor.element_key(index, &item, &keys) else {
                    kept.push(item);
                    continue;
                };
                if gone(&element) {
                    continue;
                }
                if let (Some(below), Value::Object(map)) = (last.child(&element), &mut item) {
                    let owned_below = owned.and_then(|o| o.child(&element));
                    cursor.path.push(element);
                    prune_map(map, below, owned_below, cursor);
                    cursor.path.pop();
                }
                kept.push(item);
            }
            *items = kept;
        }
        _ => {}
    }
}

fn prune_map(
    map: &mut Map<String, Value>,
    last: &FieldSet,
    owned: Option<&FieldSet>,
    cursor: &mut Cursor<'_>,
) {
    let names: Vec<String> = map.keys().cloned().collect();
    for name in names {
        let element = PathElement::Field(name.clone());
        if last.has_member(&element) && !owned.is_some_and(|o| o.has_member(&element)) {
            map.remove(&name);
            continue;
        }
        let (Some(below), Some(child)) = (last.child(&element), map.get_mut(&name)) else {
            continue;
        };
        cursor.push_field(&name);
        prune_value(child, below, owned.and_then(|o| o.child(&element)), cursor);
        cursor.pop_field();
    }
}

/// Why a value cannot be an object, for messages.
pub(super) fn not_an_object(value: &Value) -> String {
    format!("expected a map, got {}", json_kind(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Lists;

    impl Schema for Lists {
        fn list_type(&self, path: &[&str]) -> ListType {
            match path {
                [.., "items"] => ListType::Map(vec!["name"]),
                [.., "ports"] => ListType::Map(vec!["port", "protocol"]),
                [.., "tags"] => ListType::Set,
                _ => ListType::Atomic,
            }
        }

        fn key_default(&self, _list: &[&str], field: &str) -> Option<Value> {
            (field == "protocol").then(|| json!("TCP"))
        }

        fn map_is_atomic(&self, path: &[&str]) -> bool {
            path == ["selector"]
        }
    }

    fn names(list: &Value) -> Vec<String> {
        list.as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|i| {
                        i.get("name")
                            .and_then(Value::as_str)
                            .unwrap_or("?")
                            .to_string()
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn merges_list_maps_in_structured_merge_diff_order() {
        let item = |n: &str| json!({"name": n});
        let cases: Vec<(Vec<&str>, Vec<&str>, Vec<&str>)> = vec![
            (vec!["a", "b"], vec!["c"], vec!["a", "b", "c"]),
            (vec!["a", "b"], vec!["b", "a"], vec!["b", "a"]),
            (vec!["a", "x", "b"], vec!["b", "a"], vec!["x", "b", "a"]),
            (vec!["a", "b"], vec!["c", "b"], vec!["a", "c", "b"]),
            (vec!["a", "b", "c"], vec!["b"], vec!["a", "b", "c"]),
            (vec![], vec!["a"], vec!["a"]),
            (vec!["a", "a", "b"], vec!["a"], vec!["a", "b"]),
        ];
        for (live, config, want) in cases {
            let live_v = json!({"items": live.iter().map(|n| item(n)).collect::<Vec<_>>()});
            let config_v = json!({"items": config.iter().map(|n| item(n)).collect::<Vec<_>>()});
            let merged = merge(&live_v, &config_v, &Lists).expect("merges");
            assert_eq!(
                names(&merged["items"]),
                want,
                "live {live:?} config {config:?}"
            );
        }
    }

    #[test]
    fn merges_by_shape() {
        let live = json!({
            "items": [{"name": "a", "x": 1, "y": 2}],
            "tags": ["p", "q"],
            "args": ["1", "2"],
            "selector": {"a": "1", "b": "2"},
            "labels": {"a": "1"},
            "ports": [{"port": 80, "protocol": "TCP", "name": "http"}],
        });
        let config = json!({
            "items": [{"name": "a", "x": 5}],
            "tags": ["r", "p"],
            "args": ["3"],
            "selector": {"c": "3"},
            "labels": {"b": "2"},
            "ports": [{"port": 80, "targetPort": 8080}, {"port": 80, "protocol": "UDP"}],
        });
        let merged = merge(&live, &config, &Lists).expect("merges");
        assert_eq!(
            merged,
            json!({
                "items": [{"name": "a", "x": 5, "y": 2}],
                "tags": ["r", "p", "q"],
                "args": ["3"],
                "selector": {"c": "3"},
                "labels": {"a": "1", "b": "2"},
                "ports": [
                    {"port": 80, "protocol": "TCP", "name": "http", "targetPort": 8080},
                    {"port": 80, "protocol": "UDP"},
                ],
            })
        );
    }

    #[test]
    fn rejects_bad_configs_with_the_path() {
        let cases = vec![
            (
                json!({"items": [{"x": 1}]}),
                ".items: element 0: associative list with keys has an element that omits key field \"name\" (and doesn't have default value)",
            ),
            (
                json!({"items": [{"name": "a"}, {"name": "a"}]}),
                ".items: duplicate entries for key [name=\"a\"]",
            ),
            (
                json!({"ports": [{"port": 80}, {"port": 80, "protocol": "TCP"}]}),
                ".ports: duplicate entries for key [port=80,protocol=\"TCP\"]",
            ),
            (
                json!({"a": {"items": [null]}}),
                ".a.items: element 0: associative list with keys may not have a null element",
            ),
            (
                json!({"tags": [{"x": 1}]}),
                ".tags: element 0: associative list without keys has an element that's a map type",
            ),
        ];
        for (config, want) in cases {
            let err =
                field_set(&config, &Lists, Check::Unique(Side::Config)).expect_err("must fail");
            assert_eq!(err.to_string(), want);
            assert!(matches!(err, ApplyError::InvalidConfig { .. }));
        }
    }

    #[test]
    fn field_set_follows_to_field_set() {
        let config = json!({
            "a": {"b": 1, "empty": {}, "nothing": null},
            "items": [{"name": "x", "v": {"w": true}}],
            "tags": ["t"],
            "args": [],
            "selector": {"k": "v"},
        });
        let set = field_set(&config, &Lists, Check::Unique(Side::Config)).expect("valid");
        assert_eq!(
            set.to_fields_v1(),
            json!({
                "f:a": {"f:b": {}, "f:empty": {}, "f:nothing": {}},
                "f:items": {"k:{\"name\":\"x\"}": {".": {}, "f:name": {}, "f:v": {"f:w": {}}}},
                "f:tags": {"v:\"t\"": {}},
                "f:args": {},
                "f:selector": {},
            })
        );
    }

    #[test]
    fn compares_by_shape() {
        let old = json!({
            "a": 1,
            "gone": {"x": 1},
            "items": [{"name": "k", "v": 1}, {"name": "old", "v": 1}],
            "tags": ["p"],
            "args": ["1"],
        });
        let new = json!({
            "a": 2,
            "items": [{"name": "k", "v": 2}, {"name": "new"}],
            "tags": ["p", "q"],
            "args": ["1"],
            "labels": {"x": "y"},
        });
        let cmp = compare(&old, &new, &Lists);
        assert_eq!(
            cmp.modified.to_fields_v1(),
            json!({"f:a": {}, "f:items": {"k:{\"name\":\"k\"}": {"f:v": {}}}})
        );
        assert_eq!(
            cmp.added.to_fields_v1(),
            json!({
                "f:items": {"k:{\"name\":\"new\"}": {".": {}, "f:name": {}}},
                "f:tags": {"v:\"q\"": {}},
                "f:labels": {".": {}, "f:x": {}},
            })
        );
        assert_eq!(
            cmp.removed.to_fields_v1(),
            json!({
                "f:gone": {".": {}, "f:x": {}},
                "f:items": {"k:{\"name\":\"old\"}": {".": {}, "f:name": {}, "f:v": {}}},
            })
        );
        // Unkeyable lists fall back to a whole-value comparison.
        let cmp = compare(
            &json!({"items": [{"v": 1}]}),
            &json!({"items": [{"v": 2}]}),
            &Lists,
        );
        assert_eq!(cmp.modified.to_fields_v1(), json!({"f:items": {}}));
    }

    #[test]
    fn prunes_only_what_no_one_owns() {
        let mut value = json!({
            "a": {"b": 1, "c": 2},
            "items": [{"name": "x", "v": 1}, {"name": "y", "v": 1}],
            "tags": ["p", "q"],
        });
        let last = field_set(&value, &Lists, Check::Lenient)
            .expect("valid")
            .with_named_parents();
        let owned = field_set(
            &json!({"a": {"c": 2}, "items": [{"name": "y"}], "tags": ["q"]}),
            &Lists,
            Check::Lenient,
        )
        .expect("valid")
        .with_named_parents();
        prune(&mut value, &last, &owned, &Lists);
        assert_eq!(
            value,
            json!({"a": {"c": 2}, "items": [{"name": "y"}], "tags": ["q"]})
        );
    }
}
