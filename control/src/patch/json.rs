//! JSON patch (RFC 6902, `application/json-patch+json`) over JSON values,
//! with kube-apiserver's errors. The operations are json-patch's; this
//! module decodes the patch as kube-apiserver does and keeps the two
//! leniencies of the evanphx/json-patch v4 library kube-apiserver uses, which
//! clients rely on: `replace` of a missing object member adds it, and `test`
//! of a missing object member against `null` passes.
//!
//! It must not know about kinds or strategies.

use json_patch::PatchOperation;
use serde_json::Value;

use super::{MAX_JSON_PATCH_OPERATIONS, PatchError, go_json_type};

/// Applies a JSON patch to `original` and returns the result; nothing of a
/// failing patch is applied.
pub fn apply_json_patch(original: &Value, patch: &Value) -> Result<Value, PatchError> {
    let ops = decode(patch)?;
    if ops.len() > MAX_JSON_PATCH_OPERATIONS {
        return Err(PatchError::TooManyOperations {
            count: ops.len(),
            max: MAX_JSON_PATCH_OPERATIONS,
        });
    }
    let mut doc = original.clone();
    for (index, op) in ops.into_iter().enumerate() {
        apply_operation(&mut doc, index, op)?;
    }
    Ok(doc)
}

/// Splits the patch into operation objects, failing where Go's decoding
/// into evanphx's `Patch` type fails (a 400 in kube-apiserver).
fn decode(patch: &Value) -> Result<Vec<Option<&serde_json::Map<String, Value>>>, PatchError> {
    let items = match patch {
        // Go decodes `null` into an empty patch.
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        other => {
            return Err(PatchError::bad_request(format!(
                "json: cannot unmarshal {} into Go value of type jsonpatch.Patch",
                go_json_type(other)
            )));
        }
    };
    let mut ops = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Value::Object(op) => ops.push(Some(op)),
            // A null operation decodes to an empty one, which fails later
            // as an operation of unknown kind.
            Value::Null => ops.push(None),
            other => {
                return Err(PatchError::bad_request(format!(
                    "json: cannot unmarshal {} into Go value of type jsonpatch.Operation",
                    go_json_type(other)
                )));
            }
        }
    }
    Ok(ops)
}

/// Decodes and applies one operation; every failure is a 422, as
/// kube-apiserver reports all failures of `Patch.Apply`.
fn apply_operation(
    doc: &mut Value,
    index: usize,
    raw: Option<&serde_json::Map<String, Value>>,
) -> Result<(), PatchError> {
    let kind = raw
        .and_then(|r| r.get("op"))
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    if !matches!(
        kind,
        "add" | "remove" | "replace" | "move" | "copy" | "test"
    ) {
        return Err(PatchError::invalid(format!("Unexpected kind: {kind}")));
    }
    let mut raw = raw.cloned().unwrap_or_default();
    // evanphx treats a missing `value` as null rather than as malformed.
    if matches!(kind, "add" | "replace" | "test") && !raw.contains_key("value") {
        raw.insert("value".to_owned(), Value::Null);
    }
    let op: PatchOperation = serde_json::from_value(Value::Object(raw))
        .map_err(|e| PatchError::invalid(format!("{kind} operation is malformed: {e}")))?;
    let op = match op {
        PatchOperation::Replace(replace) if is_missing_member(doc, &replace.path) => {
            PatchOperation::Add(json_patch::AddOperation {
                path: replace.path,
                value: replace.value,
            })
        }
        PatchOperation::Test(test)
            if test.value.is_null() && is_missing_member(doc, &test.path) =>
        {
            return Ok(());
        }
        op => op,
    };
    json_patch::patch_unsafe(doc, std::slice::from_ref(&op)).map_err(|e| {
        PatchError::invalid(format!(
            "operation {index} ({kind} {}) failed: {}",
            op.path(),
            e.kind
        ))
    })
}

/// Whether `path` names an absent member of an existing object.
fn is_missing_member(doc: &Value, path: &json_patch::jsonptr::Pointer) -> bool {
    let Some((parent, last)) = path.split_back() else {
        return false;
    };
    match doc.pointer(parent.as_str()) {
        Some(Value::Object(members)) => !members.contains_key(last.decoded().as_ref()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment() -> Value {
        json!({
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {
                "replicas": 1,
                "template": {"spec": {"containers": [
                    {"name": "web", "image": "nginx:1.25"},
                    {"name": "log", "image": "busybox"}
                ]}}
            }
        })
    }

    #[test]
    fn applies_operations_in_order() {
        let cases = [
            (
                "replace a scalar",
                json!([{"op": "replace", "path": "/spec/replicas", "value": 3}]),
                json!({"replicas": 3}),
            ),
            (
                "test then replace",
                json!([
                    {"op": "test", "path": "/spec/replicas", "value": 1},
                    {"op": "replace", "path": "/spec/replicas", "value": 2}
                ]),
                json!({"replicas": 2}),
            ),
            (
                "add appends with -",
                json!([{"op": "add", "path": "/spec/template/spec/containers/-",
                        "value": {"name": "extra"}}]),
                json!({"containers": ["web", "log", "extra"]}),
            ),
            (
                "remove by index",
                json!([{"op": "remove", "path": "/spec/template/spec/containers/0"}]),
                json!({"containers": ["log"]}),
            ),
            (
                "move between indices",
                json!([{"op": "move", "from": "/spec/template/spec/containers/1",
                        "path": "/spec/template/spec/containers/0"}]),
                json!({"containers": ["log", "web"]}),
            ),
            (
                "copy a value",
                json!([{"op": "copy", "from": "/metadata/name",
                        "path": "/metadata/labels/copied"}]),
                json!({"label": ["copied", "web"]}),
            ),
            (
                "escaped pointer tokens",
                json!([{"op": "add", "path": "/metadata/labels/example.com~1tier",
                        "value": "front"}]),
                json!({"label": ["example.com/tier", "front"]}),
            ),
            (
                "replace of a missing member adds it (evanphx v4)",
                json!([{"op": "replace", "path": "/metadata/labels/new", "value": "x"}]),
                json!({"label": ["new", "x"]}),
            ),
            (
                "test of a missing member against null passes (evanphx v4)",
                json!([{"op": "test", "path": "/metadata/labels/none", "value": null}]),
                json!({"replicas": 1}),
            ),
            (
                "null is an empty patch",
                json!(null),
                json!({"replicas": 1}),
            ),
            ("empty patch", json!([]), json!({"replicas": 1})),
        ];
        for (name, patch, check) in cases {
            let got =
                apply_json_patch(&deployment(), &patch).unwrap_or_else(|e| panic!("{name}: {e}"));
            if let Some(replicas) = check.get("replicas") {
                assert_eq!(got.pointer("/spec/replicas"), Some(replicas), "{name}");
            }
            if let Some(names) = check.get("containers").and_then(Value::as_array) {
                let got_names: Vec<&Value> = got
                    .pointer("/spec/template/spec/containers")
                    .and_then(Value::as_array)
                    .map(|cs| cs.iter().filter_map(|c| c.get("name")).collect())
                    .unwrap_or_default();
                assert_eq!(got_names, names.iter().collect::<Vec<_>>(), "{name}");
            }
            if let Some([key, value]) = check
                .get("label")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
            {
                let key = key.as_str().expect("label key is a string");
                assert_eq!(
                    got.pointer("/metadata/labels").and_then(|l| l.get(key)),
                    Some(value),
                    "{name}"
                );
            }
        }
    }

    #[test]
    fn failures_are_classified_like_kube_apiserver() {
        let cases = [
            (
                "test failure",
                json!([{"op": "test", "path": "/spec/replicas", "value": 5}]),
                422,
            ),
            (
                "remove of a missing member",
                json!([{"op": "remove", "path": "/metadata/annotations"}]),
                422,
            ),
            (
                "add under a missing parent",
                json!([{"op": "add", "path": "/status/phase", "value": "x"}]),
                422,
            ),
            (
                "index out of range",
                json!([{"op": "replace", "path": "/spec/template/spec/containers/5",
                        "value": {}}]),
                422,
            ),
            (
                "unknown op",
                json!([{"op": "frobnicate", "path": "/a"}]),
                422,
            ),
            ("missing op", json!([{"path": "/a"}]), 422),
            ("null op", json!([null]), 422),
            ("missing path", json!([{"op": "remove"}]), 422),
            ("patch is an object", json!({"op": "add"}), 400),
            ("operation is a number", json!([1]), 400),
            ("patch is a string", json!("x"), 400),
        ];
        for (name, patch, code) in cases {
            let err = apply_json_patch(&deployment(), &patch).expect_err(name);
            assert_eq!(err.code(), code, "{name}: {err}");
        }
    }

    #[test]
    fn go_decoding_messages_are_kept() {
        let err = apply_json_patch(&json!({}), &json!({"op": "add"})).expect_err("object patch");
        assert_eq!(
            err.message(),
            "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
        );
        let err = apply_json_patch(&json!({}), &json!(["x"])).expect_err("string operation");
        assert_eq!(
            err.message(),
            "json: cannot unmarshal string into Go value of type jsonpatch.Operation"
        );
        let err = apply_json_patch(&json!({}), &json!([{"op": "nope"}])).expect_err("bad op");
        assert_eq!(err, PatchError::invalid("Unexpected kind: nope"));
    }

    #[test]
    fn a_failing_patch_changes_nothing_and_is_not_partially_applied() {
        let original = deployment();
        let patch = json!([
            {"op": "replace", "path": "/spec/replicas", "value": 9},
            {"op": "test", "path": "/spec/replicas", "value": 1}
        ]);
        assert!(apply_json_patch(&original, &patch).is_err());
        assert_eq!(original, deployment());
    }

    #[test]
    fn too_many_operations_is_a_413() {
        let ops: Vec<Value> = (0..=MAX_JSON_PATCH_OPERATIONS)
            .map(|_| json!({"op": "test", "path": "/a", "value": 1}))
            .collect();
        let err = apply_json_patch(&json!({"a": 1}), &Value::Array(ops)).expect_err("too many");
        assert_eq!(err.code(), 413);
        assert_eq!(
            err.message(),
            "Request entity too large: The allowed maximum operations in a JSON patch is 10000, got 10001"
        );
        let ops: Vec<Value> = (0..MAX_JSON_PATCH_OPERATIONS)
            .map(|_| json!({"op": "test", "path": "/a", "value": 1}))
            .collect();
        assert!(apply_json_patch(&json!({"a": 1}), &Value::Array(ops)).is_ok());
    }
}
