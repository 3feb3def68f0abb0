//! JSON merge patch (RFC 7386, `application/merge-patch+json`) over JSON
//! values, with kube-apiserver's errors. The merge itself is json-patch's;
//! this module only classifies what kube-apiserver rejects.
//!
//! It must not know about kinds or strategies: merge patch has none.

use serde_json::Value;

use super::PatchError;

/// Applies a merge patch to `original` and returns the result.
pub fn apply_merge_patch(original: &Value, patch: &Value) -> Result<Value, PatchError> {
    match patch {
        Value::Object(_) => {
            let mut merged = original.clone();
            json_patch::merge(&mut merged, patch);
            Ok(merged)
        }
        // evanphx/json-patch turns the document into the array, which then
        // fails to decode as an object in kube-apiserver: a 422.
        Value::Array(_) => Err(PatchError::invalid(
            "a merge patch that is an array replaces the whole object with a list",
        )),
        // evanphx/json-patch's ErrBadJSONPatch for `null` and scalars,
        // which kube-apiserver turns into a 400 with its text.
        _ => Err(PatchError::bad_request("Invalid JSON Patch")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn merges_like_rfc_7386() {
        let cases = [
            (
                "adds and changes labels",
                json!({"metadata": {"labels": {"a": "1"}}}),
                json!({"metadata": {"labels": {"a": "2", "b": "3"}}}),
                json!({"metadata": {"labels": {"a": "2", "b": "3"}}}),
            ),
            (
                "null deletes a label",
                json!({"metadata": {"labels": {"a": "1", "b": "2"}}}),
                json!({"metadata": {"labels": {"a": null}}}),
                json!({"metadata": {"labels": {"b": "2"}}}),
            ),
            (
                "lists are replaced whole",
                json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}),
                json!({"spec": {"containers": [{"name": "c"}]}}),
                json!({"spec": {"containers": [{"name": "c"}]}}),
            ),
            (
                "nulls inside new objects are dropped",
                json!({}),
                json!({"spec": {"replicas": 2, "paused": null}}),
                json!({"spec": {"replicas": 2}}),
            ),
            (
                "an object replaces a scalar",
                json!({"spec": "x"}),
                json!({"spec": {"a": 1}}),
                json!({"spec": {"a": 1}}),
            ),
            (
                "an empty patch changes nothing",
                json!({"a": [1, 2], "b": {"c": null}}),
                json!({}),
                json!({"a": [1, 2], "b": {"c": null}}),
            ),
        ];
        for (name, original, patch, want) in cases {
            assert_eq!(apply_merge_patch(&original, &patch), Ok(want), "{name}");
        }
    }

    #[test]
    fn rejects_what_kube_apiserver_rejects() {
        let original = json!({"a": 1});
        let cases = [
            (json!(null), 400, "Invalid JSON Patch"),
            (json!("x"), 400, "Invalid JSON Patch"),
            (json!(3), 400, "Invalid JSON Patch"),
            (json!(true), 400, "Invalid JSON Patch"),
            (json!([1]), 422, super::super::INVALID_PATCH_MESSAGE),
        ];
        for (patch, code, message) in cases {
            let err = apply_merge_patch(&original, &patch).expect_err("must fail");
            assert_eq!(
                (err.code(), err.message().as_str()),
                (code, message),
                "{patch}"
            );
        }
    }

    fn json_without_nulls() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "[a-z]{0,4}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map("[a-d]", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn object_without_nulls() -> impl Strategy<Value = Value> {
        prop::collection::btree_map("[a-d]", json_without_nulls(), 0..5)
            .prop_map(|m| Value::Object(m.into_iter().collect()))
    }

    proptest! {
        #[test]
        fn a_patch_without_nulls_is_idempotent(
            original in object_without_nulls(),
            patch in object_without_nulls(),
        ) {
            let once = apply_merge_patch(&original, &patch).expect("object patch applies");
            let twice = apply_merge_patch(&once, &patch).expect("object patch applies");
            prop_assert_eq!(once, twice);
        }

        #[test]
        fn the_patch_values_win(
            original in object_without_nulls(),
            patch in object_without_nulls(),
        ) {
            // Without nulls every top-level key of the patch ends up in the
            // result, equal to the patch value when that is not an object.
            let merged = apply_merge_patch(&original, &patch).expect("object patch applies");
            for (key, value) in patch.as_object().into_iter().flatten() {
                let got = merged.get(key);
                prop_assert!(got.is_some(), "{} missing", key);
                if !value.is_object() {
                    prop_assert_eq!(got, Some(value));
                }
            }
        }
    }
}
