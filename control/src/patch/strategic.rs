//! Strategic merge patch (`application/strategic-merge-patch+json`) over
//! JSON, with the semantics of apimachinery's
//! `strategicpatch.StrategicMergeMapPatch` as kube-apiserver calls it (its
//! "merge parallel lists, ignore unmatched nulls" mode): maps merge
//! recursively and `null` deletes; lists replace unless their field's tag
//! says `merge`, in which case lists of objects merge element-wise by the
//! merge key and lists of primitives merge as sets; and the directives
//! `$patch` (`replace`, `delete`, and the refused `merge`), `$retainKeys`,
//! `$deleteFromPrimitiveList/<field>` and `$setElementOrder/<field>`.
//! Errors carry apimachinery's texts and kube-apiserver's classification.
//!
//! One deliberate difference: where apimachinery copies patch values
//! verbatim into the result, directive keys (`$patch`, `$retainKeys`,
//! `$setElementOrder/..`, `$deleteFromPrimitiveList/..`) inside them are
//! dropped here, since kube-apiserver's decoding into the typed object drops
//! them too and this module's output may be stored as it is.
//!
//! It must not know field metadata itself (that is `strategy`'s table) and
//! must not validate the result against the kind's schema.

use serde_json::{Map, Value};

use super::strategy::{self, FieldStrategy, PatchStrategy, TypeDef};
use super::{ACCEPTED_PATCH_TYPES_WITHOUT_STRATEGIC, PatchError, PatchType, go_json_type};

type Object = Map<String, Value>;

/// The type the current map or list element has, if the table knows it.
type Schema = Option<&'static TypeDef>;

const DIRECTIVE_MARKER: &str = "$patch";
const DELETE_DIRECTIVE: &str = "delete";
const REPLACE_DIRECTIVE: &str = "replace";
const MERGE_DIRECTIVE: &str = "merge";
const RETAIN_KEYS_DIRECTIVE: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST_PREFIX: &str = "$deleteFromPrimitiveList";
const SET_ELEMENT_ORDER_PREFIX: &str = "$setElementOrder";

// apimachinery's mergepatch sentinel errors that kube-apiserver classifies.
const ERR_BAD_JSON_DOC: &str = "invalid JSON document";
const ERR_NO_LIST_OF_LISTS: &str = "lists of lists are not supported";
const ERR_BAD_PATCH_FORMAT_FOR_PRIMITIVE_LIST: &str = "invalid patch format of primitive list";
const ERR_BAD_PATCH_FORMAT_FOR_RETAIN_KEYS: &str = "invalid patch format of retainKeys";
const ERR_BAD_PATCH_FORMAT_FOR_SET_ELEMENT_ORDER_LIST: &str =
    "invalid patch format of setElementOrder list";

// Go's names for the types of decoded JSON, as they appear in messages.
const GO_MAP_TYPE: &str = "map[string]interface {}";
const GO_LIST_TYPE: &str = "[]interface {}";

/// Applies a strategic merge patch to `original`, an object of `kind`.
pub fn apply_strategic(kind: &str, original: &Value, patch: &Value) -> Result<Value, PatchError> {
    let Some(root) = strategy::kind_type(kind) else {
        return Err(PatchError::UnsupportedMediaType {
            content_type: PatchType::Strategic.media_type().to_owned(),
            accepted: ACCEPTED_PATCH_TYPES_WITHOUT_STRATEGIC,
        });
    };
    apply_with_schema(Some(root), original, patch)
}

fn apply_with_schema(schema: Schema, original: &Value, patch: &Value) -> Result<Value, PatchError> {
    let Value::Object(original) = original else {
        return Err(PatchError::bad_request(ERR_BAD_JSON_DOC));
    };
    let patch = match patch {
        Value::Object(patch) => patch.clone(),
        // Go decodes `null` into the empty map it started with.
        Value::Null => Object::new(),
        other => {
            return Err(PatchError::bad_request(format!(
                "json: cannot unmarshal {} into Go value of type {GO_MAP_TYPE}",
                go_json_type(other)
            )));
        }
    };
    merge_map(original.clone(), patch, schema).map(Value::Object)
}

/// The Go dynamic type of a decoded JSON value, as far as the merge cares:
/// values of different kinds never merge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Null,
    Bool,
    Int,
    Float,
    String,
    List,
    Map,
}

fn kind_of(value: &Value) -> Kind {
    match value {
        Value::Null => Kind::Null,
        Value::Bool(_) => Kind::Bool,
        // kube-apiserver decodes patches preserving integers as int64.
        Value::Number(n) if n.is_i64() => Kind::Int,
        Value::Number(_) => Kind::Float,
        Value::String(_) => Kind::String,
        Value::Array(_) => Kind::List,
        Value::Object(_) => Kind::Map,
    }
}

fn lookup(schema: Schema, key: &str) -> (Schema, Option<FieldStrategy>) {
    match schema.and_then(|ty| ty.field(key)) {
        Some(field) => (field.ty, field.strategy),
        None => (None, None),
    }
}

fn merge_key_of(strategy: Option<FieldStrategy>) -> &'static str {
    strategy.and_then(|s| s.merge_key).unwrap_or("")
}

/// apimachinery's `mergeMap`.
fn merge_map(
    mut original: Object,
    mut patch: Object,
    schema: Schema,
) -> Result<Object, PatchError> {
    if let Some(directive) = patch.get(DIRECTIVE_MARKER) {
        return match directive.as_str() {
            Some(REPLACE_DIRECTIVE) => {
                patch.remove(DIRECTIVE_MARKER);
                Ok(strip_directive_keys_in(patch))
            }
            Some(DELETE_DIRECTIVE) => Ok(Object::new()),
            _ => Err(bad_patch_type(directive, &patch)),
        };
    }
    apply_retain_keys(&mut original, &mut patch)?;
    merge_ordered_lists(&mut original, &mut patch, schema)?;

    for (key, patch_value) in patch {
        let (key, is_delete_list) = if key.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX) {
            (extract_key(&key, DELETE_FROM_PRIMITIVE_LIST_PREFIX)?, true)
        } else {
            (key, false)
        };
        if patch_value.is_null() {
            original.remove(&key);
            continue;
        }
        let Some(original_value) = original.remove(&key) else {
            if !is_delete_list {
                insert_new(&mut original, key, patch_value);
            }
            continue;
        };
        if kind_of(&original_value) != kind_of(&patch_value) {
            if is_delete_list {
                original.insert(key, original_value);
            } else {
                insert_new(&mut original, key, patch_value);
            }
            continue;
        }
        let (field_schema, field) = lookup(schema, &key);
        let merged = match (original_value, patch_value) {
            (Value::Object(o), Value::Object(p)) => {
                if field.and_then(|f| f.strategy) == Some(PatchStrategy::Replace) {
                    Value::Object(strip_directive_keys_in(p))
                } else {
                    Value::Object(merge_map(o, p, field_schema)?)
                }
            }
            (Value::Array(o), Value::Array(p)) => {
                Value::Array(merge_list_field(o, p, field_schema, field, is_delete_list)?.items)
            }
            (_, scalar) => scalar,
        };
        original.insert(key, merged);
    }
    Ok(original)
}

/// Adds a value the original lacks: nulls inside it are dropped and maps
/// carrying `$patch` are left out, as apimachinery does.
fn insert_new(original: &mut Object, key: String, mut value: Value) {
    discard_nulls(&mut value);
    if let Some(value) = remove_directives(value) {
        original.insert(key, value);
    }
}

/// apimachinery's `discardNullValuesFromPatch`: drops null members of maps,
/// at any depth, but keeps null list elements.
fn discard_nulls(value: &mut Value) {
    match value {
        Value::Object(members) => {
            members.retain(|_, v| !v.is_null());
            members.values_mut().for_each(discard_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(discard_nulls),
        _ => {}
    }
}

/// apimachinery's `removeDirectives`: `None` for a map carrying `$patch`
/// (which is then left out of its parent), plus dropping the other
/// directive keys.
fn remove_directives(value: Value) -> Option<Value> {
    match value {
        Value::Object(members) => {
            if members.contains_key(DIRECTIVE_MARKER) {
                return None;
            }
            let kept = members
                .into_iter()
                .filter(|(k, _)| !is_directive_key(k))
                .filter_map(|(k, v)| remove_directives(v).map(|v| (k, v)))
                .collect();
            Some(Value::Object(kept))
        }
        Value::Array(items) => Some(Value::Array(
            items.into_iter().filter_map(remove_directives).collect(),
        )),
        other => Some(other),
    }
}

fn is_directive_key(key: &str) -> bool {
    key == DIRECTIVE_MARKER
        || key == RETAIN_KEYS_DIRECTIVE
        || key
            .strip_prefix(SET_ELEMENT_ORDER_PREFIX)
            .is_some_and(|rest| rest.starts_with('/'))
        || key
            .strip_prefix(DELETE_FROM_PRIMITIVE_LIST_PREFIX)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Drops directive keys from a value copied verbatim from the patch, keeping
/// everything else (see the module doc).
fn strip_directive_keys(value: Value) -> Value {
    match value {
        Value::Object(members) => Value::Object(strip_directive_keys_in(members)),
        Value::Array(items) => Value::Array(items.into_iter().map(strip_directive_keys).collect()),
        other => other,
    }
}

fn strip_directive_keys_in(members: Object) -> Object {
    members
        .into_iter()
        .filter(|(k, _)| !is_directive_key(k))
        .map(|(k, v)| (k, strip_directive_keys(v)))
        .collect()
}

/// apimachinery's `extractKey`: the field named after `<prefix>/`.
fn extract_key(key: &str, prefix: &str) -> Result<String, PatchError> {
    match key.split_once('/') {
        Some((head, field)) if head == prefix => Ok(field.to_owned()),
        _ if prefix == DELETE_FROM_PRIMITIVE_LIST_PREFIX => Err(PatchError::bad_request(
            ERR_BAD_PATCH_FORMAT_FOR_PRIMITIVE_LIST,
        )),
        _ => Err(PatchError::bad_request(
            ERR_BAD_PATCH_FORMAT_FOR_SET_ELEMENT_ORDER_LIST,
        )),
    }
}

/// apimachinery's `applyRetainKeysDirective`: keep only the listed keys of
/// the original, and refuse a patch setting a key outside the list.
fn apply_retain_keys(original: &mut Object, patch: &mut Object) -> Result<(), PatchError> {
    let Some(retained) = patch.remove(RETAIN_KEYS_DIRECTIVE) else {
        return Ok(());
    };
    let Value::Array(retained) = retained else {
        return Err(PatchError::bad_request(
            ERR_BAD_PATCH_FORMAT_FOR_RETAIN_KEYS,
        ));
    };
    let keeps = |key: &str| retained.iter().any(|v| v.as_str() == Some(key));
    let sets_unlisted_key = patch.iter().any(|(k, v)| {
        !v.is_null()
            && !k.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX)
            && !k.starts_with(SET_ELEMENT_ORDER_PREFIX)
            && !keeps(k)
    });
    if sets_unlisted_key {
        return Err(PatchError::bad_request(
            ERR_BAD_PATCH_FORMAT_FOR_RETAIN_KEYS,
        ));
    }
    original.retain(|k, _| keeps(k));
    Ok(())
}

fn list_of(value: Option<&Value>) -> Result<Option<&[Value]>, PatchError> {
    match value {
        None => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items)),
        Some(other) => Err(bad_arg_type(GO_LIST_TYPE, other)),
    }
}

/// apimachinery's `mergePatchIntoOriginal`: merges each list that has a
/// `$setElementOrder/<field>` and puts its elements in that order (then the
/// patch's, then the original's); the list is then done.
fn merge_ordered_lists(
    original: &mut Object,
    patch: &mut Object,
    schema: Schema,
) -> Result<(), PatchError> {
    let directives: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(SET_ELEMENT_ORDER_PREFIX))
        .cloned()
        .collect();
    for directive in directives {
        let Some(order) = patch.remove(&directive) else {
            continue;
        };
        let Value::Array(order) = order else {
            return Err(bad_arg_type(GO_LIST_TYPE, &order));
        };
        let field = extract_key(&directive, SET_ELEMENT_ORDER_PREFIX)?;
        let original_list = list_of(original.get(&field))?.map(<[Value]>::to_vec);
        let patch_list = list_of(patch.get(&field))?.map(<[Value]>::to_vec);
        let (field_schema, strategy) = lookup(schema, &field);
        let merge_key = merge_key_of(strategy);
        validate_patch_with_set_order_list(
            patch_list.as_deref().unwrap_or_default(),
            &order,
            merge_key,
        )?;
        let (merged, original_seen) = match (&original_list, &patch_list) {
            (Some(o), None) => (o.clone(), o.clone()),
            (None, Some(p)) => (
                p.iter().cloned().filter_map(remove_directives).collect(),
                Vec::new(),
            ),
            (Some(o), Some(p)) => {
                let merged = merge_list_field(o.clone(), p.clone(), field_schema, strategy, false)?;
                (merged.items, merged.original_seen)
            }
            (None, None) => continue,
        };
        let (patch_items, server_only) = if merge_key.is_empty() {
            partition_primitives(merged, &order)
        } else {
            partition_maps(merged, &order, merge_key)?
        };
        let kind = element_kind(&[&original_seen, patch_list.as_deref().unwrap_or_default()])?;
        let ordered = normalize_element_order(
            patch_items,
            server_only,
            &order,
            &original_seen,
            merge_key,
            kind,
        )?;
        original.insert(field.clone(), Value::Array(ordered));
        patch.remove(&field);
    }
    Ok(())
}

/// A merged list, and the original list as apimachinery's caller sees it
/// afterwards (see [`GoView`]).
struct MergedList {
    items: Vec<Value>,
    original_seen: Vec<Value>,
}

/// The original list as seen through the Go slice the caller still holds.
/// apimachinery deletes list elements and appends new ones in place, in the
/// array that slice shares, and `mergePatchIntoOriginal` then orders
/// server-only elements by what it sees there; its own tests pin the
/// resulting order, so it is reproduced: a deletion shifts the tail left
/// leaving the last slot as it was, and an append lands in a slot a deletion
/// freed.
struct GoView {
    items: Vec<Value>,
}

impl GoView {
    fn removed(&mut self, index: usize, len_before: usize) {
        if let Some(window) = self.items.get_mut(index..len_before)
            && let Some(last) = window.last().cloned()
        {
            window.rotate_left(1);
            if let Some(slot) = window.last_mut() {
                *slot = last;
            }
        }
    }

    fn appended(&mut self, position: usize, value: &Value) {
        if let Some(slot) = self.items.get_mut(position) {
            *slot = value.clone();
        }
    }
}

/// apimachinery's `mergeSliceHandler`: merge where the tag says so (or for
/// a deletion list), replace otherwise.
fn merge_list_field(
    original: Vec<Value>,
    patch: Vec<Value>,
    schema: Schema,
    strategy: Option<FieldStrategy>,
    is_delete_list: bool,
) -> Result<MergedList, PatchError> {
    if strategy.and_then(|s| s.strategy) == Some(PatchStrategy::Merge) || is_delete_list {
        merge_list(
            original,
            patch,
            schema,
            merge_key_of(strategy),
            is_delete_list,
        )
    } else {
        Ok(MergedList {
            items: patch.into_iter().map(strip_directive_keys).collect(),
            original_seen: original,
        })
    }
}

/// apimachinery's `mergeSlice`.
fn merge_list(
    original: Vec<Value>,
    patch: Vec<Value>,
    schema: Schema,
    merge_key: &str,
    is_delete_list: bool,
) -> Result<MergedList, PatchError> {
    if original.is_empty() && patch.is_empty() {
        return Ok(MergedList {
            items: Vec::new(),
            original_seen: original,
        });
    }
    let kind = element_kind(&[&original, &patch])?;
    let (merged, original_seen, original, patch) = if kind != Kind::Map {
        if is_delete_list {
            return Ok(MergedList {
                items: original
                    .iter()
                    .filter(|v| !patch.contains(v))
                    .cloned()
                    .collect(),
                original_seen: original,
            });
        }
        let mut merged: Vec<Value> = Vec::with_capacity(original.len() + patch.len());
        for value in original.iter().chain(patch.iter()) {
            if !merged.contains(value) {
                merged.push(value.clone());
            }
        }
        (merged, original.clone(), original, patch)
    } else {
        if merge_key.is_empty() {
            // apimachinery names the element type; every keyless merge list
            // of the served kinds holds strings.
            let element = if schema.is_some() { "struct" } else { "string" };
            return Err(PatchError::rejected(format!(
                "cannot merge lists without merge key for {element}"
            )));
        }
        let mut view = GoView {
            items: original.clone(),
        };
        let special = split_special_elements(original, patch, merge_key, &mut view)?;
        let merged = merge_elements(
            special.original.clone(),
            &special.plain,
            merge_key,
            schema,
            (!special.replaced).then_some(&mut view),
        )?;
        (merged, view.items, special.original, special.plain)
    };
    let (patch_items, server_only) = if merge_key.is_empty() {
        partition_primitives(merged, &patch)
    } else {
        partition_maps(merged, &patch, merge_key)?
    };
    let items =
        normalize_element_order(patch_items, server_only, &patch, &original, merge_key, kind)?;
    Ok(MergedList {
        items,
        original_seen,
    })
}

/// A patch list with its `$patch` elements applied.
struct SpecialElements {
    /// What to merge into: the original less deletions, or the replacement.
    original: Vec<Value>,
    /// The patch's elements without directives.
    plain: Vec<Value>,
    /// Whether `$patch: replace` was given.
    replaced: bool,
}

/// apimachinery's `mergeSliceWithSpecialElements`: applies `$patch: delete`
/// elements to the original and handles `$patch: replace`.
fn split_special_elements(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    merge_key: &str,
    view: &mut GoView,
) -> Result<SpecialElements, PatchError> {
    let mut plain = Vec::with_capacity(patch.len());
    let mut replaced = false;
    for element in patch {
        let directive = match &element {
            Value::Object(members) => members.get(DIRECTIVE_MARKER).map(|d| (members, d)),
            _ => None,
        };
        let Some((members, directive)) = directive else {
            plain.push(element);
            continue;
        };
        match directive.as_str() {
            Some(DELETE_DIRECTIVE) => {
                let Some(key_value) = members.get(merge_key) else {
                    return Err(no_merge_key(members, merge_key));
                };
                delete_matching(&mut original, merge_key, key_value, view)?;
            }
            // Later special elements are still checked.
            Some(REPLACE_DIRECTIVE) => replaced = true,
            Some(MERGE_DIRECTIVE) => {
                return Err(PatchError::rejected(
                    "merging lists cannot yet be specified in the patch",
                ));
            }
            _ => return Err(bad_patch_type(directive, members)),
        }
    }
    if replaced {
        return Ok(SpecialElements {
            original: plain.into_iter().map(strip_directive_keys).collect(),
            plain: Vec::new(),
            replaced,
        });
    }
    Ok(SpecialElements {
        original,
        plain,
        replaced,
    })
}

/// Removes every element whose merge key equals `key_value`, one at a time
/// as apimachinery does (which the view records).
fn delete_matching(
    original: &mut Vec<Value>,
    merge_key: &str,
    key_value: &Value,
    view: &mut GoView,
) -> Result<(), PatchError> {
    while let Some(index) = find_by_key(original, merge_key, key_value)? {
        let len_before = original.len();
        original.remove(index);
        view.removed(index, len_before);
    }
    Ok(())
}

/// apimachinery's `mergeSliceWithoutSpecialElements`: each patch element
/// merges into the original element with its merge key, or is appended.
fn merge_elements(
    mut original: Vec<Value>,
    patch: &[Value],
    merge_key: &str,
    schema: Schema,
    mut view: Option<&mut GoView>,
) -> Result<Vec<Value>, PatchError> {
    for element in patch {
        let Value::Object(members) = element else {
            return Err(bad_arg_type(GO_MAP_TYPE, element));
        };
        let Some(key_value) = members.get(merge_key) else {
            return Err(no_merge_key(members, merge_key));
        };
        let slot = match find_by_key(&original, merge_key, key_value)? {
            Some(index) => original.get_mut(index),
            None => None,
        };
        match slot {
            Some(slot) => {
                let current = match std::mem::take(slot) {
                    Value::Object(current) => current,
                    _ => Object::new(),
                };
                *slot = Value::Object(merge_map(current, members.clone(), schema)?);
            }
            None => {
                if let Some(view) = view.as_deref_mut() {
                    view.appended(original.len(), element);
                }
                original.push(strip_directive_keys(element.clone()));
            }
        }
    }
    Ok(original)
}

/// apimachinery's `findMapInSliceBasedOnKeyValue`: the index of the first
/// map whose `key` equals `value`.
fn find_by_key(list: &[Value], key: &str, value: &Value) -> Result<Option<usize>, PatchError> {
    for (index, element) in list.iter().enumerate() {
        let Value::Object(members) = element else {
            return Err(not_a_map(index));
        };
        if members.get(key) == Some(value) {
            return Ok(Some(index));
        }
    }
    Ok(None)
}

/// Splits primitives into those present in `by` and the rest.
fn partition_primitives(list: Vec<Value>, by: &[Value]) -> (Vec<Value>, Vec<Value>) {
    list.into_iter().partition(|v| by.contains(v))
}

/// Splits maps into those whose merge key appears in `by` and the rest.
fn partition_maps(
    list: Vec<Value>,
    by: &[Value],
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut present = Vec::with_capacity(list.len());
    let mut absent = Vec::new();
    for element in list {
        let Value::Object(members) = &element else {
            return Err(bad_arg_type(GO_MAP_TYPE, &element));
        };
        let Some(key_value) = members.get(merge_key) else {
            return Err(no_merge_key(members, merge_key));
        };
        if find_by_key(by, merge_key, key_value)?.is_some() {
            present.push(element);
        } else {
            absent.push(element);
        }
    }
    Ok((present, absent))
}

/// apimachinery's `sliceElementType`: the one kind of all elements.
fn element_kind(lists: &[&[Value]]) -> Result<Kind, PatchError> {
    let mut found = None;
    for element in lists.iter().flat_map(|l| l.iter()) {
        let kind = kind_of(element);
        match found {
            None if kind == Kind::List => return Err(PatchError::invalid(ERR_NO_LIST_OF_LISTS)),
            None => found = Some(kind),
            Some(first) if first != kind => {
                let mut text = String::from("list element types are not identical: [");
                for (i, list) in lists.iter().enumerate() {
                    if i > 0 {
                        text.push(' ');
                    }
                    go_fmt_list(list, &mut text);
                }
                text.push(']');
                return Err(PatchError::rejected(text));
            }
            Some(_) => {}
        }
    }
    found.ok_or_else(|| PatchError::rejected("no elements in any of the given slices"))
}

/// apimachinery's `normalizeElementOrder`: patch items in `patch_order`,
/// server-only items in `server_order`, then interleaved.
fn normalize_element_order(
    patch_items: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: &str,
    kind: Kind,
) -> Result<Vec<Value>, PatchError> {
    let patch_items = normalize_list_order(patch_items, patch_order, merge_key, kind)?;
    let server_only = normalize_list_order(server_only, server_order, merge_key, kind)?;
    Ok(merge_sorted(
        server_only,
        patch_items,
        server_order,
        merge_key,
        kind,
    ))
}

/// apimachinery's `normalizeSliceOrder`: a stable sort by position in
/// `order`, with `$patch: delete` elements moved to the end.
fn normalize_list_order(
    to_sort: Vec<Value>,
    order: &[Value],
    merge_key: &str,
    kind: Kind,
) -> Result<Vec<Value>, PatchError> {
    let (mut to_sort, to_delete) = if kind == Kind::Map {
        validate_merge_keys(merge_key, &to_sort)?;
        validate_merge_keys(merge_key, order)?;
        split_deletions(to_sort)?
    } else {
        (to_sort, Vec::new())
    };
    // Elements missing from `order` cannot occur once the lists validated;
    // they would sort last rather than follow Go's inconsistent comparator.
    to_sort.sort_by_key(|v| position(order, v, merge_key, kind).unwrap_or(usize::MAX));
    to_sort.extend(to_delete);
    Ok(to_sort)
}

/// apimachinery's `mergeSortedSlice`: inserts each of `left` (server-only)
/// into `right` (patch items) before the first item it precedes in
/// `server_order`; items not in `server_order` keep their place.
fn merge_sorted(
    left: Vec<Value>,
    right: Vec<Value>,
    server_order: &[Value],
    merge_key: &str,
    kind: Kind,
) -> Vec<Value> {
    let mut merged = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => matches!(
                (
                    position(server_order, l, merge_key, kind),
                    position(server_order, r, merge_key, kind),
                ),
                (Some(li), Some(ri)) if li < ri
            ),
        };
        let next = if take_left { left.next() } else { right.next() };
        merged.extend(next);
    }
    merged
}

/// apimachinery's `index`: where `item` first appears in `list`, by merge
/// key for maps (a missing or null key matches another missing one, as Go's
/// nil does) and by value otherwise.
fn position(list: &[Value], item: &Value, merge_key: &str, kind: Kind) -> Option<usize> {
    if kind == Kind::Map {
        let key = |v: &Value| -> Option<Value> {
            v.as_object()
                .and_then(|m| m.get(merge_key))
                .filter(|k| !k.is_null())
                .cloned()
        };
        let wanted = key(item);
        list.iter().position(|v| key(v) == wanted)
    } else {
        list.iter().position(|v| v == item)
    }
}

/// apimachinery's `validateMergeKeyInLists`.
fn validate_merge_keys(merge_key: &str, list: &[Value]) -> Result<(), PatchError> {
    for element in list {
        let Value::Object(members) = element else {
            return Err(bad_arg_type(GO_MAP_TYPE, element));
        };
        if !members.contains_key(merge_key) {
            return Err(no_merge_key(members, merge_key));
        }
    }
    Ok(())
}

/// apimachinery's `extractToDeleteItems`: (kept, `$patch: delete`).
fn split_deletions(list: Vec<Value>) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut kept = Vec::with_capacity(list.len());
    let mut deleted = Vec::new();
    for element in list {
        let Value::Object(members) = &element else {
            return Err(bad_arg_type(GO_MAP_TYPE, &element));
        };
        if members.get(DIRECTIVE_MARKER).and_then(Value::as_str) == Some(DELETE_DIRECTIVE) {
            deleted.push(element);
        } else {
            kept.push(element);
        }
    }
    Ok((kept, deleted))
}

/// apimachinery's `validatePatchWithSetOrderList`: the patch's elements must
/// appear in the `$setElementOrder` list, in the same relative order.
fn validate_patch_with_set_order_list(
    patch_list: &[Value],
    order: &[Value],
    merge_key: &str,
) -> Result<(), PatchError> {
    if order.is_empty() || patch_list.is_empty() {
        return Ok(());
    }
    let not_deleted = if merge_key.is_empty() {
        patch_list.to_vec()
    } else {
        split_deletions(patch_list.to_vec())?.0
    };
    let mut patch_items = not_deleted.iter().peekable();
    let mut order_items = order.iter().peekable();
    while let (Some(item), Some(ordered)) = (patch_items.peek(), order_items.peek()) {
        if has_directive_marker(item) {
            patch_items.next();
            continue;
        }
        if merge_key_values_equal(item, ordered, merge_key)? {
            patch_items.next();
        }
        order_items.next();
    }
    if patch_items.peek().is_some() && order_items.peek().is_none() {
        let mut text = String::from("The order in patch list:\n");
        go_fmt_list(patch_list, &mut text);
        text.push_str("\n doesn't match ");
        text.push_str(SET_ELEMENT_ORDER_PREFIX);
        text.push_str(" list:\n");
        go_fmt_list(order, &mut text);
        text.push('\n');
        return Err(PatchError::rejected(text));
    }
    Ok(())
}

fn has_directive_marker(value: &Value) -> bool {
    value
        .as_object()
        .is_some_and(|m| m.contains_key(DIRECTIVE_MARKER))
}

/// apimachinery's `mergeKeyValueEqual`.
fn merge_key_values_equal(
    left: &Value,
    right: &Value,
    merge_key: &str,
) -> Result<bool, PatchError> {
    if merge_key.is_empty() {
        return Ok(left == right);
    }
    let Value::Object(left) = left else {
        return Err(bad_arg_type(GO_MAP_TYPE, left));
    };
    let Value::Object(right) = right else {
        return Err(bad_arg_type(GO_MAP_TYPE, right));
    };
    let Some(left_key) = left.get(merge_key) else {
        return Err(no_merge_key(left, merge_key));
    };
    let Some(right_key) = right.get(merge_key) else {
        return Err(no_merge_key(right, merge_key));
    };
    Ok(left_key == right_key)
}

// ---- apimachinery's error texts -----------------------------------------------

fn no_merge_key(members: &Object, merge_key: &str) -> PatchError {
    let mut text = String::from("map: ");
    go_fmt_map(members, false, &mut text);
    text.push_str(" does not contain declared merge key: ");
    text.push_str(merge_key);
    PatchError::rejected(text)
}

fn bad_arg_type(expected: &str, actual: &Value) -> PatchError {
    let actual = match kind_of(actual) {
        Kind::Null => "%!s(<nil>)",
        Kind::Bool => "bool",
        Kind::Int => "int64",
        Kind::Float => "float64",
        Kind::String => "string",
        Kind::List => GO_LIST_TYPE,
        Kind::Map => GO_MAP_TYPE,
    };
    PatchError::rejected(format!("expected a {expected}, but received a {actual}"))
}

fn bad_patch_type(directive: &Value, members: &Object) -> PatchError {
    let mut text = String::from("unknown patch type: ");
    go_fmt(directive, true, &mut text);
    text.push_str(" in map: ");
    go_fmt_map(members, false, &mut text);
    PatchError::rejected(text)
}

fn not_a_map(index: usize) -> PatchError {
    PatchError::rejected(format!("value for key {index} is not a map"))
}

// ---- Go's fmt for decoded JSON -----------------------------------------------

/// Formats a decoded JSON value as Go's `%v` (or `%s` when `as_s`) does.
fn go_fmt(value: &Value, as_s: bool, out: &mut String) {
    match value {
        Value::Null if as_s => out.push_str("%!s(<nil>)"),
        Value::Null => out.push_str("<nil>"),
        Value::String(s) => out.push_str(s),
        Value::Array(items) => go_fmt_list_as(items, as_s, out),
        Value::Object(members) => go_fmt_map(members, as_s, out),
        Value::Bool(b) if as_s => out.push_str(&format!("%!s(bool={b})")),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let (go_type, text) = match n.as_i64() {
                Some(i) => ("int64", i.to_string()),
                None => ("float64", go_float(n.as_f64().unwrap_or_default())),
            };
            if as_s {
                out.push_str(&format!("%!s({go_type}={text})"));
            } else {
                out.push_str(&text);
            }
        }
    }
}

fn go_fmt_list(items: &[Value], out: &mut String) {
    go_fmt_list_as(items, false, out);
}

fn go_fmt_list_as(items: &[Value], as_s: bool, out: &mut String) {
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        go_fmt(item, as_s, out);
    }
    out.push(']');
}

/// Go prints maps with their keys sorted.
fn go_fmt_map(members: &Object, as_s: bool, out: &mut String) {
    let mut entries: Vec<(&String, &Value)> = members.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    out.push_str("map[");
    for (i, (key, value)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(key);
        out.push(':');
        go_fmt(value, as_s, out);
    }
    out.push(']');
}

/// A float64 as Go's `%v`: shortest digits, exponent form below 1e-4 or
/// from 1e6 (`1e+06`), as `strconv.FormatFloat(f, 'g', -1, 64)`.
fn go_float(f: f64) -> String {
    let scientific = format!("{f:e}");
    let Some((mantissa, exponent)) = scientific.split_once('e') else {
        return scientific;
    };
    let exponent: i32 = exponent.parse().unwrap_or_default();
    if f != 0.0 && !(-4..6).contains(&exponent) {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs())
    } else {
        format!("{f}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::strategy::FieldDef;
    use proptest::prelude::*;
    use serde_json::json;

    const fn field(
        name: &'static str,
        strategy: Option<FieldStrategy>,
        ty: Option<&'static TypeDef>,
    ) -> FieldDef {
        FieldDef { name, strategy, ty }
    }

    // apimachinery's test type MergeItem (strategicpatch/patch_test.go).
    static MERGE_ITEM: TypeDef = TypeDef {
        name: "mergeItem",
        fields: &[
            field(
                "mergingList",
                Some(FieldStrategy::merge_by("name")),
                Some(&MERGE_ITEM),
            ),
            field("nonMergingList", None, Some(&MERGE_ITEM)),
            field("mergingIntList", Some(FieldStrategy::merge()), None),
            field(
                "mergeItemPtr",
                Some(FieldStrategy::merge_by("name")),
                Some(&MERGE_ITEM),
            ),
            field("replacingItem", Some(FieldStrategy::replace()), None),
            field(
                "retainKeysMap",
                Some(FieldStrategy::retain_keys()),
                Some(&RETAIN_KEYS_MERGE_ITEM),
            ),
            field(
                "retainKeysMergingList",
                Some(FieldStrategy::merge_retain_keys_by("name")),
                Some(&MERGE_ITEM),
            ),
        ],
    };

    // apimachinery's test type RetainKeysMergeItem.
    static RETAIN_KEYS_MERGE_ITEM: TypeDef = TypeDef {
        name: "retainKeysMergeItem",
        fields: &[
            field("mergingIntList", Some(FieldStrategy::merge()), None),
            field(
                "mergingList",
                Some(FieldStrategy::merge_by("name")),
                Some(&MERGE_ITEM),
            ),
            field("nonMergingList", None, Some(&MERGE_ITEM)),
        ],
    };

    fn parse(text: &str) -> Value {
        serde_json::from_str(text).expect("test JSON parses")
    }

    // Inputs and expected outputs of apimachinery's raw (order-exact) test
    // cases in strategicpatch/patch_test.go: the two-way patch applied to
    // Original must give Modified (or TwoWayResult), the three-way patch
    // applied to Current must give Result.
    const GO_CASES: &[(&str, &str, &str, Result<&str, &str>)] = &[
        (
            "$setElementOrder contains item that is not present in the list to be merged (two-way)",
            r#"{"mergingList":[{"name":1},{"name":3}]}"#,
            r#"{"$setElementOrder/mergingList":[{"name":3},{"name":2},{"name":1}],"mergingList":[{"name":3,"value":3},{"name":1,"value":1}]}"#,
            Ok(r#"{"mergingList":[{"name":3,"value":3},{"name":1,"value":1}]}"#),
        ),
        (
            "should check if order in $setElementOrder and patch list match (two-way)",
            r#"{"mergingList":[{"name":1},{"name":3},{"name":2}]}"#,
            r#"{"$setElementOrder/mergingList":[{"name":1},{"name":2},{"name":3}],"mergingList":[{"name":3,"value":3},{"name":1,"value":1}]}"#,
            Err("doesn't match"),
        ),
        (
            "missing merge key should error out (two-way)",
            r#"{"mergingList":[{"name":1,"value":"a"}]}"#,
            r#"{"mergingList":[{"value":"b"}]}"#,
            Err("does not contain declared merge key"),
        ),
        (
            "$deleteFromPrimitiveList of nonexistent item in primitive list should not add the item to the list (two-way)",
            r#"{"mergingIntList":[1,2]}"#,
            r#"{"$deleteFromPrimitiveList/mergingIntList":[3]}"#,
            Ok(r#"{"mergingIntList":[1,2]}"#),
        ),
        (
            "$deleteFromPrimitiveList on nonexistent primitive list should not add the primitive list (two-way)",
            r#"{"foo":["bar"]}"#,
            r#"{"$deleteFromPrimitiveList/mergingIntList":[3]}"#,
            Ok(r#"{"foo":["bar"]}"#),
        ),
        (
            "$deleteFromPrimitiveList should delete item from a list without merge patch strategy (two-way)",
            r#"{"nonMergingIntList":[1,2,3]}"#,
            r#"{"$deleteFromPrimitiveList/nonMergingIntList":[2]}"#,
            Ok(r#"{"nonMergingIntList":[1,3]}"#),
        ),
        (
            "delete all duplicate items in lists of scalars (two-way)",
            r#"{"mergingIntList":[1,2,3,3]}"#,
            r#"{"$deleteFromPrimitiveList/mergingIntList":[3],"$setElementOrder/mergingIntList":[1,2]}"#,
            Ok(r#"{"mergingIntList":[1,2]}"#),
        ),
        (
            "delete all duplicate items in lists of scalars (three-way)",
            r#"{"mergingIntList":[1,2,3,3,4]}"#,
            r#"{"$deleteFromPrimitiveList/mergingIntList":[3],"$setElementOrder/mergingIntList":[1,2]}"#,
            Ok(r#"{"mergingIntList":[1,2,4]}"#),
        ),
        (
            "add and delete items in lists of scalars (two-way)",
            r#"{"mergingIntList":[1,2,3]}"#,
            r#"{"$deleteFromPrimitiveList/mergingIntList":[3],"$setElementOrder/mergingIntList":[1,2,4],"mergingIntList":[4]}"#,
            Ok(r#"{"mergingIntList":[1,2,4]}"#),
        ),
        (
            "add and delete items in lists of scalars (three-way)",
            r#"{"mergingIntList":[1,2,3,4]}"#,
            r#"{"$deleteFromPrimitiveList/mergingIntList":[3],"$setElementOrder/mergingIntList":[1,2,4]}"#,
            Ok(r#"{"mergingIntList":[1,2,4]}"#),
        ),
        (
            "merge lists of maps (two-way)",
            r#"{"mergingList":[{"name":1},{"name":2,"value":2}]}"#,
            r#"{"$setElementOrder/mergingList":[{"name":4},{"name":1},{"name":2},{"name":3}],"mergingList":[{"name":4,"value":4},{"name":3,"value":3}]}"#,
            Ok(
                r#"{"mergingList":[{"name":4,"value":4},{"name":1},{"name":2,"value":2},{"name":3,"value":3}]}"#,
            ),
        ),
        (
            "merge lists of maps (three-way)",
            r#"{"mergingList":[{"name":1,"other":"a"},{"name":2,"other":"b","value":2}]}"#,
            r#"{"$setElementOrder/mergingList":[{"name":4},{"name":1},{"name":2},{"name":3}],"mergingList":[{"name":4,"value":4},{"name":3,"value":3}]}"#,
            Ok(
                r#"{"mergingList":[{"name":4,"value":4},{"name":1,"other":"a"},{"name":2,"other":"b","value":2},{"name":3,"value":3}]}"#,
            ),
        ),
        (
            "add an item that already exists in current object in merging list (two-way)",
            r#"{"mergingList":[{"name":1,"value":"a"},{"name":2}]}"#,
            r#"{"$setElementOrder/mergingList":[{"name":1},{"name":2},{"name":3}],"mergingList":[{"name":3}]}"#,
            Ok(r#"{"mergingList":[{"name":1,"value":"a"},{"name":2},{"name":3}]}"#),
        ),
        (
            "add an item that already exists in current object in merging list (three-way)",
            r#"{"mergingList":[{"name":1,"other":"x","value":"a"},{"name":2},{"name":3}]}"#,
            r#"{}"#,
            Ok(r#"{"mergingList":[{"name":1,"other":"x","value":"a"},{"name":2},{"name":3}]}"#),
        ),
        (
            "delete missing map from merging list (two-way)",
            r#"{"mergingList":[{"name":1},{"name":2}]}"#,
            r#"{"$setElementOrder/mergingList":[{"name":2}],"mergingList":[{"$patch":"delete","name":1}]}"#,
            Ok(r#"{"mergingList":[{"name":2}]}"#),
        ),
        (
            "delete missing map from merging list (three-way)",
            r#"{"mergingList":[{"name":2,"other":"b"}]}"#,
            r#"{"$setElementOrder/mergingList":[{"name":2}],"mergingList":[{"$patch":"delete","name":1}]}"#,
            Ok(r#"{"mergingList":[{"name":2,"other":"b"}]}"#),
        ),
        (
            "add map and delete map from merging list (two-way)",
            r#"{"mergingList":[{"name":1},{"name":2}]}"#,
            r#"{"$setElementOrder/mergingList":[{"name":2},{"name":3}],"mergingList":[{"name":3},{"$patch":"delete","name":1}]}"#,
            Ok(r#"{"mergingList":[{"name":2},{"name":3}]}"#),
        ),
        (
            "add map and delete map from merging list (three-way)",
            r#"{"mergingList":[{"name":1},{"name":2,"other":"b"},{"name":4,"other":"c"}]}"#,
            r#"{"$setElementOrder/mergingList":[{"name":2},{"name":3}],"mergingList":[{"name":3},{"$patch":"delete","name":1}]}"#,
            Ok(r#"{"mergingList":[{"name":2,"other":"b"},{"name":4,"other":"c"},{"name":3}]}"#),
        ),
        (
            "add map and delete map from merging list with conflict (two-way)",
            r#"{"mergingList":[{"name":1},{"name":2}]}"#,
            r#"{"$setElementOrder/mergingList":[{"name":2},{"name":3}],"mergingList":[{"name":3},{"$patch":"delete","name":1}]}"#,
            Ok(r#"{"mergingList":[{"name":2},{"name":3}]}"#),
        ),
        (
            "add map and delete map from merging list with conflict (three-way)",
            r#"{"mergingList":[{"name":1,"other":"a"},{"name":4,"other":"c"}]}"#,
            r#"{"$setElementOrder/mergingList":[{"name":2},{"name":3}],"mergingList":[{"name":2},{"name":3},{"$patch":"delete","name":1}]}"#,
            Ok(r#"{"mergingList":[{"name":4,"other":"c"},{"name":2},{"name":3}]}"#),
        ),
        (
            "replace non merging list nested in merging list (two-way)",
            r#"{"mergingList":[{"name":1,"nonMergingList":[{"name":1},{"name":2,"value":2}]},{"name":2}]}"#,
            r#"{"$setElementOrder/mergingList":[{"name":1},{"name":2}],"mergingList":[{"name":1,"nonMergingList":[{"name":1,"value":1}]}]}"#,
            Ok(
                r#"{"mergingList":[{"name":1,"nonMergingList":[{"name":1,"value":1}]},{"name":2}]}"#,
            ),
        ),
        (
            "replace non merging list nested in merging list (three-way)",
            r#"{"mergingList":[{"name":1,"nonMergingList":[{"name":1},{"name":2,"value":2}],"other":"a"},{"name":2,"other":"b"}]}"#,
            r#"{"$setElementOrder/mergingList":[{"name":1},{"name":2}],"mergingList":[{"name":1,"nonMergingList":[{"name":1,"value":1}]}]}"#,
            Ok(
                r#"{"mergingList":[{"name":1,"nonMergingList":[{"name":1,"value":1}],"other":"a"},{"name":2,"other":"b"}]}"#,
            ),
        ),
        (
            "add field to map in merging list nested in merging list (two-way)",
            r#"{"mergingList":[{"mergingList":[{"name":1},{"name":2,"value":2}],"name":1},{"name":2}]}"#,
            r#"{"$setElementOrder/mergingList":[{"name":1},{"name":2}],"mergingList":[{"$setElementOrder/mergingList":[{"name":1},{"name":2}],"mergingList":[{"name":1,"value":1}],"name":1}]}"#,
            Ok(
                r#"{"mergingList":[{"mergingList":[{"name":1,"value":1},{"name":2,"value":2}],"name":1},{"name":2}]}"#,
            ),
        ),
        (
            "add field to map in merging list nested in merging list (three-way)",
            r#"{"mergingList":[{"mergingList":[{"name":1},{"name":2,"value":2}],"name":1,"other":"a"},{"name":2,"other":"b"}]}"#,
            r#"{"$setElementOrder/mergingList":[{"name":1},{"name":2}],"mergingList":[{"$setElementOrder/mergingList":[{"name":1},{"name":2}],"mergingList":[{"name":1,"value":1}],"name":1}]}"#,
            Ok(
                r#"{"mergingList":[{"mergingList":[{"name":1,"value":1},{"name":2,"value":2}],"name":1,"other":"a"},{"name":2,"other":"b"}]}"#,
            ),
        ),
        (
            "add map to merging list by pointer (two-way)",
            r#"{"mergeItemPtr":[{"name":1}]}"#,
            r#"{"$setElementOrder/mergeItemPtr":[{"name":1},{"name":2}],"mergeItemPtr":[{"name":2}]}"#,
            Ok(r#"{"mergeItemPtr":[{"name":1},{"name":2}]}"#),
        ),
        (
            "add map to merging list by pointer (three-way)",
            r#"{"mergeItemPtr":[{"name":1,"other":"a"},{"name":3}]}"#,
            r#"{"$setElementOrder/mergeItemPtr":[{"name":1},{"name":2}],"mergeItemPtr":[{"name":2}]}"#,
            Ok(r#"{"mergeItemPtr":[{"name":1,"other":"a"},{"name":2},{"name":3}]}"#),
        ),
        (
            "add and delete an item in a list and preserve order (two-way)",
            r#"{"mergingList":[{"name":1},{"name":3,"value":3},{"name":2,"value":2}]}"#,
            r#"{"$setElementOrder/mergingList":[{"name":4},{"name":2},{"name":1}],"mergingList":[{"name":4,"value":4},{"$patch":"delete","name":3}]}"#,
            Ok(r#"{"mergingList":[{"name":4,"value":4},{"name":2,"value":2},{"name":1}]}"#),
        ),
        (
            "add and delete an item in a list and preserve order (three-way)",
            r#"{"mergingList":[{"name":1,"other":"a"},{"name":2,"other":"b","value":2},{"name":3,"value":3}]}"#,
            r#"{"$setElementOrder/mergingList":[{"name":4},{"name":2},{"name":1}],"mergingList":[{"name":4,"value":4},{"$patch":"delete","name":3}]}"#,
            Ok(
                r#"{"mergingList":[{"name":4,"value":4},{"name":2,"other":"b","value":2},{"name":1,"other":"a"}]}"#,
            ),
        ),
        (
            "set elements order in a list with server-only items 2 (two-way)",
            r#"{"mergingList":[{"name":1},{"name":2,"value":2},{"name":3,"value":3},{"name":4,"value":4}]}"#,
            r#"{"$setElementOrder/mergingList":[{"name":2},{"name":1},{"name":4},{"name":3}]}"#,
            Ok(
                r#"{"mergingList":[{"name":2,"value":2},{"name":1},{"name":4,"value":4},{"name":3,"value":3}]}"#,
            ),
        ),
        (
            "set elements order in a list with server-only items 2 (three-way)",
            r#"{"mergingList":[{"name":1,"other":"a"},{"name":2,"value":2},{"name":9},{"name":3,"value":3},{"name":4,"value":4}]}"#,
            r#"{"$setElementOrder/mergingList":[{"name":2},{"name":1},{"name":4},{"name":3}]}"#,
            Ok(
                r#"{"mergingList":[{"name":2,"value":2},{"name":1,"other":"a"},{"name":9},{"name":4,"value":4},{"name":3,"value":3}]}"#,
            ),
        ),
        (
            "set elements order in a list with server-only items 3 (two-way)",
            r#"{"mergingList":[{"name":1},{"name":2,"value":2},{"name":3,"value":3},{"name":4,"value":4}]}"#,
            r#"{"$setElementOrder/mergingList":[{"name":2},{"name":1},{"name":4},{"name":3}]}"#,
            Ok(
                r#"{"mergingList":[{"name":2,"value":2},{"name":1},{"name":4,"value":4},{"name":3,"value":3}]}"#,
            ),
        ),
        (
            "set elements order in a list with server-only items 3 (three-way)",
            r#"{"mergingList":[{"name":1,"other":"a"},{"name":2,"value":2},{"name":7},{"name":9},{"name":8},{"name":3,"value":3},{"name":4,"value":4}]}"#,
            r#"{"$setElementOrder/mergingList":[{"name":2},{"name":1},{"name":4},{"name":3}]}"#,
            Ok(
                r#"{"mergingList":[{"name":2,"value":2},{"name":1,"other":"a"},{"name":7},{"name":9},{"name":8},{"name":4,"value":4},{"name":3,"value":3}]}"#,
            ),
        ),
        (
            "add and delete an item in a int list and preserve order (two-way)",
            r#"{"mergingIntList":[1,3,2]}"#,
            r#"{"$deleteFromPrimitiveList/mergingIntList":[3],"$setElementOrder/mergingIntList":[4,2,1],"mergingIntList":[4]}"#,
            Ok(r#"{"mergingIntList":[4,2,1]}"#),
        ),
        (
            "add and delete an item in a int list and preserve order (three-way)",
            r#"{"mergingIntList":[1,2,3]}"#,
            r#"{"$deleteFromPrimitiveList/mergingIntList":[3],"$setElementOrder/mergingIntList":[4,2,1],"mergingIntList":[4]}"#,
            Ok(r#"{"mergingIntList":[4,2,1]}"#),
        ),
        (
            "set elements order in a int list with server-only items 3 (two-way)",
            r#"{"mergingIntList":[1,2,3,4]}"#,
            r#"{"$setElementOrder/mergingIntList":[2,1,4,3]}"#,
            Ok(r#"{"mergingIntList":[2,1,4,3]}"#),
        ),
        (
            "set elements order in a int list with server-only items 3 (three-way)",
            r#"{"mergingIntList":[1,2,7,9,8,3,4]}"#,
            r#"{"$setElementOrder/mergingIntList":[2,1,4,3]}"#,
            Ok(r#"{"mergingIntList":[2,1,7,9,8,4,3]}"#),
        ),
        (
            "behavior of set element order for a merging list with duplicate (two-way)",
            r#"{"mergingList":[{"name":1},{"name":2,"value":"dup1"},{"name":3},{"name":2,"value":"dup2"},{"name":4}]}"#,
            r#"{"$setElementOrder/mergingList":[{"name":2},{"name":1},{"name":4},{"name":3},{"name":2}]}"#,
            Ok(
                r#"{"mergingList":[{"name":2,"value":"dup1"},{"name":2,"value":"dup2"},{"name":1},{"name":4},{"name":3}]}"#,
            ),
        ),
        (
            "behavior of set element order for a merging list with duplicate (three-way)",
            r#"{"mergingList":[{"name":1},{"name":2,"value":"dup1"},{"name":3},{"name":2,"value":"dup2"},{"name":4}]}"#,
            r#"{"$setElementOrder/mergingList":[{"name":2},{"name":1},{"name":4},{"name":3},{"name":2}]}"#,
            Ok(
                r#"{"mergingList":[{"name":2,"value":"dup1"},{"name":2,"value":"dup2"},{"name":1},{"name":4},{"name":3}]}"#,
            ),
        ),
        (
            "retainKeys map should clear defaulted field with conflict (discriminated union) (two-way)",
            r#"{}"#,
            r#"{"retainKeysMap":{"name":"type2","other":"bar"}}"#,
            Ok(r#"{"retainKeysMap":{"name":"type2","other":"bar"}}"#),
        ),
        (
            "retainKeys map should clear defaulted field with conflict (discriminated union) (three-way)",
            r#"{"retainKeysMap":{"name":"type1","value":"foo"}}"#,
            r#"{"retainKeysMap":{"$retainKeys":["name","other"],"name":"type2","other":"bar"}}"#,
            Ok(r#"{"retainKeysMap":{"name":"type2","other":"bar"}}"#),
        ),
        (
            "retainKeys map adds an item and deletes an item in nested merging int list (two-way)",
            r#"{"retainKeysMap":{"mergingIntList":[1,2,3],"name":"foo"}}"#,
            r#"{"retainKeysMap":{"$deleteFromPrimitiveList/mergingIntList":[2],"$retainKeys":["mergingIntList","name"],"$setElementOrder/mergingIntList":[1,3,5],"mergingIntList":[5]}}"#,
            Ok(r#"{"retainKeysMap":{"mergingIntList":[1,3,5],"name":"foo"}}"#),
        ),
        (
            "retainKeys map adds an item and deletes an item in nested merging int list (three-way)",
            r#"{"retainKeysMap":{"mergingIntList":[1,2,3,4],"name":"foo"}}"#,
            r#"{"retainKeysMap":{"$deleteFromPrimitiveList/mergingIntList":[2],"$retainKeys":["mergingIntList","name"],"$setElementOrder/mergingIntList":[1,3,5],"mergingIntList":[5]}}"#,
            Ok(r#"{"retainKeysMap":{"mergingIntList":[1,3,5,4],"name":"foo"}}"#),
        ),
        (
            "retainKeys map deletes an item in nested merging list (two-way)",
            r#"{"retainKeysMap":{"mergingList":[{"name":"a"},{"name":"b"}],"name":"foo"}}"#,
            r#"{"retainKeysMap":{"$retainKeys":["mergingList","name"],"$setElementOrder/mergingList":[{"name":"a"}],"mergingList":[{"$patch":"delete","name":"b"}]}}"#,
            Ok(r#"{"retainKeysMap":{"mergingList":[{"name":"a"}],"name":"foo"}}"#),
        ),
        (
            "retainKeys map deletes an item in nested merging list (three-way)",
            r#"{"retainKeysMap":{"mergingList":[{"name":"a"},{"name":"b"},{"name":"x"}],"name":"foo"}}"#,
            r#"{"retainKeysMap":{"$retainKeys":["mergingList","name"],"$setElementOrder/mergingList":[{"name":"a"}],"mergingList":[{"$patch":"delete","name":"b"}]}}"#,
            Ok(r#"{"retainKeysMap":{"mergingList":[{"name":"a"},{"name":"x"}],"name":"foo"}}"#),
        ),
        (
            "retainKeys list of maps changes a field and clear a field (two-way)",
            r#"{"retainKeysMergingList":[{"name":"bar"},{"name":"foo","value":"old"}]}"#,
            r#"{"$setElementOrder/retainKeysMergingList":[{"name":"bar"},{"name":"foo"}],"retainKeysMergingList":[{"$retainKeys":["name","value"],"name":"foo","value":"new"}]}"#,
            Ok(r#"{"retainKeysMergingList":[{"name":"bar"},{"name":"foo","value":"new"}]}"#),
        ),
        (
            "retainKeys list of maps changes a field and clear a field (three-way)",
            r#"{"retainKeysMergingList":[{"name":"bar"},{"name":"foo","other":"x","value":"old"}]}"#,
            r#"{"$setElementOrder/retainKeysMergingList":[{"name":"bar"},{"name":"foo"}],"retainKeysMergingList":[{"$retainKeys":["name","value"],"name":"foo","value":"new"}]}"#,
            Ok(r#"{"retainKeysMergingList":[{"name":"bar"},{"name":"foo","value":"new"}]}"#),
        ),
        (
            "delete and reorder in one list, reorder in another (two-way)",
            r#"{"mergeItemPtr":[{"name":"c","value":"c"},{"name":"d","value":"d"}],"mergingList":[{"name":"a","value":"a"},{"name":"b","value":"b"}]}"#,
            r#"{"$setElementOrder/mergeItemPtr":[{"name":"d"},{"name":"c"}],"$setElementOrder/mergingList":[{"name":"b"}],"mergingList":[{"$patch":"delete","name":"a"}]}"#,
            Ok(
                r#"{"mergeItemPtr":[{"name":"d","value":"d"},{"name":"c","value":"c"}],"mergingList":[{"name":"b","value":"b"}]}"#,
            ),
        ),
        (
            "delete and reorder in one list, reorder in another (three-way)",
            r#"{"mergeItemPtr":[{"name":"c","value":"c"},{"name":"d","value":"d"}],"mergingList":[{"name":"a","value":"a"},{"name":"b","value":"b"}]}"#,
            r#"{"$setElementOrder/mergeItemPtr":[{"name":"d"},{"name":"c"}],"$setElementOrder/mergingList":[{"name":"b"}],"mergingList":[{"$patch":"delete","name":"a"}]}"#,
            Ok(
                r#"{"mergeItemPtr":[{"name":"d","value":"d"},{"name":"c","value":"c"}],"mergingList":[{"name":"b","value":"b"}]}"#,
            ),
        ),
        (
            "replace RawExtension field and merge list (two-way)",
            r#"{"mergingList":[{"name":1}],"name":"my-object","other":"current-other","replacingItem":{"Field":"Period","Some":"Generic","The":"RawExtension","Yaml":"Inside"},"value":"some-value"}"#,
            r#"{"$setElementOrder/mergingList":[{"name":1},{"name":2}],"mergingList":[{"name":2}],"replacingItem":{"Newly":"Modified","The":"RawExtension","Yaml":"Inside"}}"#,
            Ok(
                r#"{"mergingList":[{"name":1},{"name":2}],"name":"my-object","other":"current-other","replacingItem":{"Newly":"Modified","The":"RawExtension","Yaml":"Inside"},"value":"some-value"}"#,
            ),
        ),
        (
            "replace RawExtension field and merge list (three-way)",
            r#"{"mergingList":[{"name":1},{"name":3}],"name":"my-object","other":"current-other","replacingItem":{"Field":"Period","Some":"Generic","The":"RawExtension","Yaml":"Inside"},"value":"some-value"}"#,
            r#"{"$setElementOrder/mergingList":[{"name":1},{"name":2}],"mergingList":[{"name":2}],"replacingItem":{"Newly":"Modified","The":"RawExtension","Yaml":"Inside"}}"#,
            Ok(
                r#"{"mergingList":[{"name":1},{"name":2},{"name":3}],"name":"my-object","other":"current-other","replacingItem":{"Newly":"Modified","The":"RawExtension","Yaml":"Inside"},"value":"some-value"}"#,
            ),
        ),
    ];
    #[test]
    fn matches_apimachinery_test_cases() {
        for (name, original, patch, want) in GO_CASES {
            let got = apply_with_schema(Some(&MERGE_ITEM), &parse(original), &parse(patch));
            match (want, got) {
                (Ok(want), Ok(got)) => assert_eq!(got, parse(want), "{name}"),
                (Err(want), Err(got)) => {
                    assert!(got.message().contains(want), "{name}: {got}");
                }
                (want, got) => panic!("{name}: want {want:?}, got {got:?}"),
            }
        }
    }

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": "web",
                "labels": {"app": "web", "tier": "front"},
                "annotations": {"team": "a", "note": "x"},
                "finalizers": ["a.example.com/f", "b.example.com/f"]
            },
            "spec": {
                "replicas": 1,
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}
                },
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "web",
                                "image": "nginx:1.25",
                                "ports": [{"containerPort": 80, "protocol": "TCP"}],
                                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
                            },
                            {"name": "log", "image": "busybox", "args": ["tail", "-f"]}
                        ],
                        "tolerations": [{"key": "k", "operator": "Exists"}],
                        "volumes": [{"name": "data", "emptyDir": {}}]
                    }
                }
            }
        })
    }

    fn containers(object: &Value) -> &Value {
        object
            .pointer("/spec/template/spec/containers")
            .expect("containers present")
    }

    /// A named patch and a check of its result.
    type CheckedCase = (&'static str, Value, Box<dyn Fn(&Value)>);

    #[test]
    fn kubectl_style_patches_of_a_deployment() {
        let cases: Vec<CheckedCase> = vec![
            (
                "kubectl set image: image changed by container name, order kept",
                json!({"spec": {"template": {"spec": {
                    "$setElementOrder/containers": [{"name": "web"}, {"name": "log"}],
                    "containers": [{"image": "nginx:1.26", "name": "web"}]
                }}}}),
                Box::new(|got| {
                    let mut want = deployment();
                    want["spec"]["template"]["spec"]["containers"][0]["image"] =
                        json!("nginx:1.26");
                    assert_eq!(got, &want);
                }),
            ),
            (
                "kubectl apply: replicas, image, and an annotation removed by null",
                json!({
                    "metadata": {"annotations": {
                        "kubectl.kubernetes.io/last-applied-configuration": "{}\n",
                        "team": null
                    }},
                    "spec": {"replicas": 3, "template": {"spec": {
                        "$setElementOrder/containers": [{"name": "web"}, {"name": "log"}],
                        "containers": [{"image": "nginx:1.26", "name": "web"}]
                    }}}
                }),
                Box::new(|got| {
                    assert_eq!(
                        got["metadata"]["annotations"],
                        json!({
                            "kubectl.kubernetes.io/last-applied-configuration": "{}\n",
                            "note": "x"
                        })
                    );
                    assert_eq!(got["spec"]["replicas"], json!(3));
                    assert_eq!(containers(got)[0]["image"], json!("nginx:1.26"));
                    assert_eq!(
                        containers(got)[1],
                        deployment()["spec"]["template"]["spec"]["containers"][1]
                    );
                    assert_eq!(got["spec"]["strategy"], deployment()["spec"]["strategy"]);
                }),
            ),
            (
                "an env var added without an order goes first, others kept",
                json!({"spec": {"template": {"spec": {"containers": [
                    {"name": "web", "env": [{"name": "C", "value": "3"}]}
                ]}}}}),
                Box::new(|got| {
                    assert_eq!(
                        containers(got)[0]["env"],
                        json!([
                            {"name": "C", "value": "3"},
                            {"name": "A", "value": "1"},
                            {"name": "B", "value": "2"}
                        ])
                    );
                    assert_eq!(containers(got)[0]["image"], json!("nginx:1.25"));
                }),
            ),
            (
                "an env var added by kubectl apply goes where $setElementOrder says",
                json!({"spec": {"template": {"spec": {
                    "$setElementOrder/containers": [{"name": "web"}, {"name": "log"}],
                    "containers": [{
                        "$setElementOrder/env": [{"name": "A"}, {"name": "B"}, {"name": "C"}],
                        "env": [{"name": "C", "value": "3"}],
                        "name": "web"
                    }]
                }}}}),
                Box::new(|got| {
                    assert_eq!(
                        containers(got)[0]["env"],
                        json!([
                            {"name": "A", "value": "1"},
                            {"name": "B", "value": "2"},
                            {"name": "C", "value": "3"}
                        ])
                    );
                }),
            ),
            (
                "an env var removed by $patch: delete, an env var value changed",
                json!({"spec": {"template": {"spec": {
                    "$setElementOrder/containers": [{"name": "web"}, {"name": "log"}],
                    "containers": [{
                        "$setElementOrder/env": [{"name": "B"}],
                        "env": [{"$patch": "delete", "name": "A"}, {"name": "B", "value": "20"}],
                        "name": "web"
                    }]
                }}}}),
                Box::new(|got| {
                    assert_eq!(
                        containers(got)[0]["env"],
                        json!([{"name": "B", "value": "20"}])
                    );
                }),
            ),
            (
                "$setElementOrder alone reorders containers",
                json!({"spec": {"template": {"spec": {
                    "$setElementOrder/containers": [{"name": "log"}, {"name": "web"}]
                }}}}),
                Box::new(|got| {
                    let names: Vec<&Value> = containers(got)
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|c| &c["name"])
                        .collect();
                    assert_eq!(names, [&json!("log"), &json!("web")]);
                }),
            ),
            (
                "$patch: delete removes a container",
                json!({"spec": {"template": {"spec": {"containers": [
                    {"name": "log", "$patch": "delete"}
                ]}}}}),
                Box::new(|got| {
                    assert_eq!(
                        containers(got),
                        &json!([deployment()["spec"]["template"]["spec"]["containers"][0]])
                    );
                }),
            ),
            (
                "$patch: replace in a list replaces the whole list",
                json!({"spec": {"template": {"spec": {"containers": [
                    {"$patch": "replace"},
                    {"name": "only", "image": "x"}
                ]}}}}),
                Box::new(|got| {
                    assert_eq!(containers(got), &json!([{"name": "only", "image": "x"}]));
                }),
            ),
            (
                "$patch: replace in a map replaces the map",
                json!({"metadata": {"labels": {"$patch": "replace", "only": "me"}}}),
                Box::new(|got| assert_eq!(got["metadata"]["labels"], json!({"only": "me"}))),
            ),
            (
                "$patch: delete in a map empties it",
                json!({"metadata": {"labels": {"$patch": "delete"}}}),
                Box::new(|got| assert_eq!(got["metadata"]["labels"], json!({}))),
            ),
            (
                "$retainKeys switches the strategy from RollingUpdate to Recreate",
                json!({"spec": {"strategy": {
                    "$retainKeys": ["type"],
                    "rollingUpdate": null,
                    "type": "Recreate"
                }}}),
                Box::new(|got| assert_eq!(got["spec"]["strategy"], json!({"type": "Recreate"}))),
            ),
            (
                "$retainKeys inside a volume switches its source",
                json!({"spec": {"template": {"spec": {
                    "$setElementOrder/volumes": [{"name": "data"}],
                    "volumes": [{
                        "$retainKeys": ["hostPath", "name"],
                        "hostPath": {"path": "/srv"},
                        "name": "data"
                    }]
                }}}}),
                Box::new(|got| {
                    assert_eq!(
                        got.pointer("/spec/template/spec/volumes"),
                        Some(&json!([{"name": "data", "hostPath": {"path": "/srv"}}]))
                    );
                }),
            ),
            (
                "finalizers merge as a set",
                json!({"metadata": {"finalizers": ["b.example.com/f", "c.example.com/f"]}}),
                Box::new(|got| {
                    assert_eq!(
                        got["metadata"]["finalizers"],
                        json!(["a.example.com/f", "b.example.com/f", "c.example.com/f"])
                    );
                }),
            ),
            (
                "$deleteFromPrimitiveList removes a finalizer",
                json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a.example.com/f"]}}),
                Box::new(|got| {
                    assert_eq!(got["metadata"]["finalizers"], json!(["b.example.com/f"]));
                }),
            ),
            (
                "null deletes a label, other labels kept",
                json!({"metadata": {"labels": {"tier": null, "new": "n"}}}),
                Box::new(|got| {
                    assert_eq!(got["metadata"]["labels"], json!({"app": "web", "new": "n"}));
                }),
            ),
            (
                "lists without a strategy are replaced",
                json!({"spec": {"template": {"spec": {
                    "tolerations": [{"key": "other", "operator": "Exists"}],
                    "containers": [{"name": "log", "args": ["sleep"]}]
                }}}}),
                Box::new(|got| {
                    assert_eq!(
                        got.pointer("/spec/template/spec/tolerations"),
                        Some(&json!([{"key": "other", "operator": "Exists"}]))
                    );
                    assert_eq!(containers(got)[1]["args"], json!(["sleep"]));
                }),
            ),
            (
                "a container port merges by containerPort",
                json!({"spec": {"template": {"spec": {"containers": [
                    {"name": "web", "ports": [{"containerPort": 80, "name": "http"}]}
                ]}}}}),
                Box::new(|got| {
                    assert_eq!(
                        containers(got)[0]["ports"],
                        json!([{"containerPort": 80, "protocol": "TCP", "name": "http"}])
                    );
                }),
            ),
            (
                "a value of another type replaces, nulls in new values are dropped",
                json!({"spec": {"replicas": {"nested": 1, "gone": null}, "paused": {"x": null}}}),
                Box::new(|got| {
                    assert_eq!(got["spec"]["replicas"], json!({"nested": 1}));
                    assert_eq!(got["spec"]["paused"], json!({}));
                }),
            ),
            (
                "a null patch changes nothing",
                Value::Null,
                Box::new(|got| assert_eq!(got, &deployment())),
            ),
        ];
        for (name, patch, check) in cases {
            let got = apply_strategic("Deployment", &deployment(), &patch)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            check(&got);
        }
    }

    #[test]
    fn service_ports_merge_by_port() {
        let service = json!({"spec": {"ports": [
            {"name": "http", "port": 80, "targetPort": 8080},
            {"name": "https", "port": 443, "targetPort": 8443}
        ]}});
        let cases = [
            (
                "change one port's target",
                json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}),
                json!([
                    {"name": "http", "port": 80, "targetPort": 9090},
                    {"name": "https", "port": 443, "targetPort": 8443}
                ]),
            ),
            (
                "add a port (new elements go first without an order)",
                json!({"spec": {"ports": [{"name": "metrics", "port": 9100}]}}),
                json!([
                    {"name": "metrics", "port": 9100},
                    {"name": "http", "port": 80, "targetPort": 8080},
                    {"name": "https", "port": 443, "targetPort": 8443}
                ]),
            ),
            (
                "delete a port, keep the other",
                json!({"spec": {"ports": [{"port": 443, "$patch": "delete"}]}}),
                json!([{"name": "http", "port": 80, "targetPort": 8080}]),
            ),
            (
                "kubectl apply order: existing, then new",
                json!({"spec": {
                    "$setElementOrder/ports": [{"port": 80}, {"port": 443}, {"port": 9100}],
                    "ports": [{"name": "metrics", "port": 9100}]
                }}),
                json!([
                    {"name": "http", "port": 80, "targetPort": 8080},
                    {"name": "https", "port": 443, "targetPort": 8443},
                    {"name": "metrics", "port": 9100}
                ]),
            ),
        ];
        for (name, patch, want) in cases {
            let got = apply_strategic("Service", &service, &patch)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(got["spec"]["ports"], want, "{name}");
        }
    }

    #[test]
    fn namespace_spec_finalizers_replace_but_metadata_finalizers_merge() {
        let namespace = json!({
            "metadata": {"finalizers": ["x"]},
            "spec": {"finalizers": ["kubernetes"]}
        });
        let patch = json!({"metadata": {"finalizers": ["y"]}, "spec": {"finalizers": ["other"]}});
        let got = apply_strategic("Namespace", &namespace, &patch).expect("patch applies");
        // Without `$setElementOrder`, items new to the list come first, as
        // apimachinery orders them.
        assert_eq!(got["metadata"]["finalizers"], json!(["y", "x"]));
        assert_eq!(got["spec"]["finalizers"], json!(["other"]));
    }

    #[test]
    fn node_addresses_merge_by_type() {
        let node = json!({"status": {"addresses": [
            {"type": "InternalIP", "address": "10.0.0.1"},
            {"type": "Hostname", "address": "n1"}
        ]}});
        let patch =
            json!({"status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.2"}]}});
        let got = apply_strategic("Node", &node, &patch).expect("patch applies");
        assert_eq!(
            got["status"]["addresses"],
            json!([
                {"type": "InternalIP", "address": "10.0.0.2"},
                {"type": "Hostname", "address": "n1"}
            ])
        );
    }

    #[test]
    fn directive_keys_do_not_leak_into_new_values() {
        let pod = json!({"metadata": {"name": "p"}});
        let patch = json!({"spec": {
            "$setElementOrder/containers": [{"name": "a"}],
            "containers": [{
                "name": "a",
                "$setElementOrder/env": [{"name": "X"}],
                "env": [{"name": "X", "value": "1"}, {"name": "Y", "$patch": "delete"}],
                "resources": {"$retainKeys": ["limits"], "limits": {"cpu": "1"}}
            }],
            "$deleteFromPrimitiveList/finalizers": ["f"]
        }});
        let got = apply_strategic("Pod", &pod, &patch).expect("patch applies");
        assert_eq!(
            got,
            json!({"metadata": {"name": "p"}, "spec": {"containers": [{
                "name": "a",
                "env": [{"name": "X", "value": "1"}],
                "resources": {"limits": {"cpu": "1"}}
            }]}})
        );
    }

    #[test]
    fn directive_keys_do_not_leak_into_appended_or_replacing_values() {
        let pod = json!({"spec": {
            "containers": [{"name": "web", "image": "a"}],
            "tolerations": [{"key": "k"}]
        }});
        let patch = json!({"spec": {
            "containers": [{
                "name": "side",
                "$setElementOrder/env": [{"name": "X"}],
                "env": [{"name": "X", "value": "1"}]
            }],
            "tolerations": [{"key": "j", "$patch": "replace"}]
        }});
        let got = apply_strategic("Pod", &pod, &patch).expect("patch applies");
        assert_eq!(
            got,
            json!({"spec": {
                "containers": [
                    {"name": "side", "env": [{"name": "X", "value": "1"}]},
                    {"name": "web", "image": "a"}
                ],
                "tolerations": [{"key": "j"}]
            }})
        );
    }

    #[test]
    fn errors_have_apimachinery_texts_and_kube_apiserver_statuses() {
        let pod = json!({"spec": {"containers": [{"name": "web", "image": "a"}], "hostAliases": []},
                         "metadata": {"finalizers": ["f"], "labels": {"a": "x"}}});
        let cases: &[(&str, Value, u16, &str)] = &[
            (
                "a list element without its merge key",
                json!({"spec": {"containers": [{"image": "nginx"}]}}),
                500,
                "map: map[image:nginx] does not contain declared merge key: name",
            ),
            (
                "$patch: delete without the merge key",
                json!({"spec": {"containers": [{"$patch": "delete"}]}}),
                500,
                "map: map[$patch:delete] does not contain declared merge key: name",
            ),
            (
                "$patch: merge in a list",
                json!({"spec": {"containers": [{"name": "web", "$patch": "merge"}]}}),
                500,
                "merging lists cannot yet be specified in the patch",
            ),
            (
                "$patch: merge in a map",
                json!({"metadata": {"labels": {"$patch": "merge", "a": "b"}}}),
                500,
                "unknown patch type: merge in map: map[$patch:merge a:b]",
            ),
            (
                "a $patch directive that is not a string",
                json!({"metadata": {"$patch": 1}}),
                500,
                "unknown patch type: %!s(int64=1) in map: map[$patch:1]",
            ),
            (
                "$retainKeys that is not a list",
                json!({"spec": {"$retainKeys": "containers"}}),
                400,
                "invalid patch format of retainKeys",
            ),
            (
                "a patched key missing from $retainKeys",
                json!({"spec": {"$retainKeys": ["containers"], "hostNetwork": true}}),
                400,
                "invalid patch format of retainKeys",
            ),
            (
                "$deleteFromPrimitiveList without a field",
                json!({"metadata": {"$deleteFromPrimitiveList": ["f"]}}),
                400,
                "invalid patch format of primitive list",
            ),
            (
                "$setElementOrder without a field",
                json!({"spec": {"$setElementOrderX/containers": []}}),
                400,
                "invalid patch format of setElementOrder list",
            ),
            (
                "$setElementOrder that is not a list",
                json!({"spec": {"$setElementOrder/containers": "web"}}),
                500,
                "expected a []interface {}, but received a string",
            ),
            (
                "$setElementOrder missing a patched element",
                json!({"spec": {
                    "$setElementOrder/containers": [{"name": "web"}],
                    "containers": [{"name": "new", "image": "x"}]
                }}),
                500,
                "The order in patch list:\n[map[image:x name:new]]\n doesn't match $setElementOrder list:\n[map[name:web]]\n",
            ),
            (
                "a list of lists",
                json!({"spec": {"hostAliases": [["10.0.0.1"]]}}),
                422,
                "the server rejected our request due to an error in our request",
            ),
            (
                "mixed element types",
                json!({"metadata": {"finalizers": [1]}}),
                500,
                "list element types are not identical: [[f] [1]]",
            ),
            (
                "objects in a keyless merge list",
                json!({"metadata": {"finalizers": [{"a": 1}]}}),
                500,
                "list element types are not identical: [[f] [map[a:1]]]",
            ),
            (
                "a patch that is not an object",
                json!(["x"]),
                400,
                "json: cannot unmarshal array into Go value of type map[string]interface {}",
            ),
        ];
        for (name, patch, code, message) in cases {
            let err = apply_strategic("Pod", &pod, patch).expect_err(name);
            assert_eq!(
                (err.code(), err.message().as_str()),
                (*code, *message),
                "{name}"
            );
        }
        let err = apply_strategic("Pod", &json!([]), &json!({})).expect_err("array original");
        assert_eq!(
            (err.code(), err.message().as_str()),
            (400, "invalid JSON document")
        );
        let err = apply_strategic("Widget", &json!({}), &json!({})).expect_err("unknown kind");
        assert_eq!(err.code(), 415);
    }

    #[test]
    fn go_formatting_of_decoded_json() {
        let cases = [
            (json!(null), "<nil>"),
            (json!(true), "true"),
            (json!(12), "12"),
            (json!(-3), "-3"),
            (json!(1.5), "1.5"),
            (json!(1e6), "1e+06"),
            (json!(123456.0), "123456"),
            (json!(1234567.0), "1.234567e+06"),
            (json!(0.0001), "0.0001"),
            (json!(0.00001), "1e-05"),
            (json!(-2.5e-7), "-2.5e-07"),
            (json!(0.0), "0"),
            (json!("s p"), "s p"),
            (json!([1, "a", [true]]), "[1 a [true]]"),
            (
                json!({"b": [1], "a": null, "c": {"d": "e"}}),
                "map[a:<nil> b:[1] c:map[d:e]]",
            ),
        ];
        for (value, want) in cases {
            let mut got = String::new();
            go_fmt(&value, false, &mut got);
            assert_eq!(got, want, "{value}");
        }
        let mut got = String::new();
        go_fmt(&json!({"a": 1, "b": "x", "c": null}), true, &mut got);
        assert_eq!(got, "map[a:%!s(int64=1) b:x c:%!s(<nil>)]");
    }

    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            (-1e9f64..1e9).prop_map(Value::from),
            "[a-z$/]{0,6}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 32, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::from),
                prop::collection::btree_map("[a-z$/]{1,6}", inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn any_object() -> impl Strategy<Value = Value> {
        prop::collection::btree_map(
            prop_oneof![
                Just("metadata".to_owned()),
                Just("spec".to_owned()),
                "[a-z]{1,6}"
            ],
            any_json(),
            0..5,
        )
        .prop_map(|m| Value::Object(m.into_iter().collect()))
    }

    /// JSON with no directive keys and no nulls inside lists: where a
    /// strategic merge patch for a kind without strategies must behave as a
    /// JSON merge patch.
    fn plain_patch() -> impl Strategy<Value = Value> {
        let scalar = prop_oneof![
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "[a-z]{0,4}".prop_map(Value::from),
        ];
        let leaf = prop_oneof![Just(Value::Null), scalar.clone()];
        let value = leaf.prop_recursive(3, 24, 4, move |inner| {
            prop_oneof![
                prop::collection::vec(scalar.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map("[a-d]", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        });
        prop::collection::btree_map("[a-d]", value, 0..5)
            .prop_map(|m| Value::Object(m.into_iter().collect()))
    }

    proptest! {
        #[test]
        fn an_empty_patch_is_the_identity(original in any_object()) {
            for kind in ["Pod", "Deployment", "ConfigMap"] {
                let got = apply_strategic(kind, &original, &json!({}));
                prop_assert_eq!(got, Ok(original.clone()));
            }
        }

        #[test]
        fn without_strategies_or_directives_it_is_a_merge_patch(
            original in any_object(),
            patch in plain_patch(),
        ) {
            let strategic = apply_strategic("ConfigMap", &original, &patch);
            let merge = super::super::merge::apply_merge_patch(&original, &patch);
            prop_assert_eq!(strategic, merge);
        }

        #[test]
        fn set_element_order_puts_containers_in_that_order(
            (names, order) in prop::collection::btree_set("[a-z]{1,5}", 1..6)
                .prop_map(|names| names.into_iter().collect::<Vec<String>>())
                .prop_flat_map(|names| (Just(names.clone()), Just(names).prop_shuffle())),
        ) {
            let containers: Vec<Value> =
                names.iter().map(|n| json!({"name": n, "image": "i"})).collect();
            let pod = json!({"spec": {"containers": containers}});
            let patch = json!({"spec": {
                "$setElementOrder/containers":
                    order.iter().map(|n| json!({"name": n})).collect::<Vec<_>>()
            }});
            let got = apply_strategic("Pod", &pod, &patch).expect("reorder applies");
            let got_names: Vec<&str> = got["spec"]["containers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c["name"].as_str())
                .collect();
            prop_assert_eq!(got_names, order.iter().map(String::as_str).collect::<Vec<_>>());
        }

        #[test]
        fn patching_containers_with_themselves_changes_nothing(
            names in prop::collection::btree_set("[a-z]{1,5}", 0..6),
            image in "[a-z]{1,5}",
        ) {
            let containers: Vec<Value> =
                names.iter().map(|n| json!({"name": n, "image": image})).collect();
            let pod = json!({"spec": {"containers": containers}});
            let got = apply_strategic("Pod", &pod, &pod);
            prop_assert_eq!(got, Ok(pod));
        }
    }
}
