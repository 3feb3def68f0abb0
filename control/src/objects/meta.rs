//! The metadata rules of writes, pure: what the server sets on create
//! (uid, creationTimestamp, generation, namespace), what an update may not
//! change, what a status write may change, and how resourceVersion maps to
//! store revisions. Values in, values out; no store, no clock.

use serde_json::{Map, Value, json};

use crate::{
    resources::ResourceInfo,
    status::ApiError,
    store::Revision,
    validation::{FieldCause, Path},
};

/// What the server supplies to a create.
#[derive(Clone, Debug)]
pub struct Stamp {
    /// `metadata.uid`.
    pub uid: String,
    /// `metadata.creationTimestamp`, RFC 3339 in seconds.
    pub now: String,
    /// Five characters appended to `generateName`.
    pub name_suffix: String,
}

fn meta(object: &Value) -> Option<&Map<String, Value>> {
    object.get("metadata").and_then(Value::as_object)
}

fn meta_mut(object: &mut Value) -> Result<&mut Map<String, Value>, ApiError> {
    let map = object
        .as_object_mut()
        .ok_or_else(|| ApiError::bad_request("the body must be a JSON object"))?;
    let metadata = map.entry("metadata").or_insert_with(|| json!({}));
    if metadata.is_null() {
        *metadata = json!({});
    }
    metadata
        .as_object_mut()
        .ok_or_else(|| ApiError::bad_request("metadata must be an object"))
}

/// `metadata.name`, if set.
pub fn name(object: &Value) -> Option<&str> {
    meta(object)?
        .get("name")?
        .as_str()
        .filter(|n| !n.is_empty())
}

/// `metadata.namespace`, if set.
pub fn namespace(object: &Value) -> Option<&str> {
    meta(object)?
        .get("namespace")?
        .as_str()
        .filter(|n| !n.is_empty())
}

/// `metadata.resourceVersion` as a store revision: `Ok(None)` when unset,
/// an error when it is not a number this server issued.
pub fn resource_version(object: &Value) -> Result<Option<Revision>, ApiError> {
    match meta(object).and_then(|m| m.get("resourceVersion")) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => parse_revision(s).map(Some),
        Some(_) => Err(ApiError::bad_request(
            "metadata.resourceVersion must be a string",
        )),
    }
}

/// A resourceVersion string as a revision.
pub fn parse_revision(s: &str) -> Result<Revision, ApiError> {
    s.parse::<Revision>()
        .ok()
        .filter(|r| *r >= 0)
        .ok_or_else(|| ApiError::bad_request(format!("invalid resource version: {s:?}")))
}

/// Sets `metadata.resourceVersion` from a store revision, as every response does.
pub fn set_revision(object: &mut Value, revision: Revision) {
    if let Ok(m) = meta_mut(object) {
        m.insert(
            "resourceVersion".into(),
            Value::String(revision.to_string()),
        );
    }
}

/// The object as it is stored: without `resourceVersion`, which the
/// store's revision supplies on every read.
pub fn for_storage(object: &Value) -> Result<Vec<u8>, ApiError> {
    let mut object = object.clone();
    if let Some(m) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("resourceVersion");
    }
    serde_json::to_vec(&object).map_err(|e| ApiError::internal(format!("encoding object: {e}")))
}

/// Checks that `apiVersion` and `kind` name `resource` (filling them in when
/// absent, as kube-apiserver's decoder does).
fn check_type(resource: &ResourceInfo, object: &mut Value) -> Result<(), ApiError> {
    let map = object
        .as_object_mut()
        .ok_or_else(|| ApiError::bad_request("the body must be a JSON object"))?;
    for (field, expected) in [
        ("apiVersion", resource.api_version),
        ("kind", resource.kind),
    ] {
        match map.get(field) {
            None | Some(Value::Null) => {
                map.insert(field.into(), Value::String(expected.into()));
            }
            Some(Value::String(s)) if s.is_empty() => {
                map.insert(field.into(), Value::String(expected.into()));
            }
            Some(Value::String(s)) if s == expected => {}
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "the {field} of the object ({}) does not match the expected {field} ({expected})",
                    other.as_str().unwrap_or("non-string")
                )));
            }
        }
    }
    Ok(())
}

/// Reconciles the body's namespace with the request's: they must agree,
/// the path's wins when the body has none, and cluster-scoped objects have none.
fn check_namespace(
    resource: &ResourceInfo,
    path_namespace: Option<&str>,
    object: &mut Value,
) -> Result<(), ApiError> {
    let body_namespace = namespace(object).map(str::to_owned);
    let m = meta_mut(object)?;
    if !resource.namespaced {
        m.remove("namespace");
        return Ok(());
    }
    match (path_namespace, body_namespace.as_deref()) {
        (Some(path), Some(body)) if path != body => Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        )),
        (Some(path), _) => {
            m.insert("namespace".into(), Value::String(path.into()));
            Ok(())
        }
        (None, _) => Err(ApiError::bad_request(
            "a namespace is required for this resource",
        )),
    }
}

/// Prepares a new object for storage: type and namespace checked, name
/// from `generateName` if needed, server-owned metadata set, client-sent
/// server fields dropped. Returns the object's name.
pub fn prepare_create(
    resource: &ResourceInfo,
    path_namespace: Option<&str>,
    object: &mut Value,
    stamp: &Stamp,
) -> Result<String, ApiError> {
    check_type(resource, object)?;
    check_namespace(resource, path_namespace, object)?;
    let m = meta_mut(object)?;
    let name = match m
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
    {
        Some(name) => name.to_owned(),
        None => match m
            .get("generateName")
            .and_then(Value::as_str)
            .filter(|g| !g.is_empty())
        {
            Some(base) => {
                let name = format!("{base}{}", stamp.name_suffix);
                m.insert("name".into(), Value::String(name.clone()));
                name
            }
            None => {
                return Err(ApiError::invalid(
                    resource,
                    "",
                    &[FieldCause::required(
                        &Path::new("metadata").child("name"),
                        "name or generateName is required",
                    )],
                ));
            }
        },
    };
    for server_owned in [
        "resourceVersion",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
    ] {
        m.remove(server_owned);
    }
    m.insert("uid".into(), Value::String(stamp.uid.clone()));
    m.insert("creationTimestamp".into(), Value::String(stamp.now.clone()));
    m.insert("generation".into(), json!(1));
    Ok(name)
}

/// Prepares a replacement of `old` by `new` (a PUT), or of `old`'s status
/// by `new`'s when `status_only`. Identity and server-owned metadata come
/// from `old`; with a status subresource, the main resource cannot change
/// status and the status subresource can change nothing else; `generation`
/// moves when `spec` changes.
pub fn prepare_update(
    resource: &ResourceInfo,
    path_namespace: Option<&str>,
    path_name: &str,
    old: &Value,
    new: &mut Value,
    status_only: bool,
) -> Result<(), ApiError> {
    check_type(resource, new)?;
    check_namespace(resource, path_namespace, new)?;
    match name(new) {
        Some(n) if n == path_name => {}
        Some(_) => {
            return Err(ApiError::bad_request(
                "the name of the object does not match the name on the URL",
            ));
        }
        None => {
            meta_mut(new)?.insert("name".into(), Value::String(path_name.into()));
        }
    }

    let has_status = resource.has(crate::resources::Subresource::Status);
    if status_only {
        // Everything but status (and labels/annotations, as apiserver
        // allows on status writes of most kinds) comes from the old object.
        let status = new.get("status").cloned();
        let mut merged = old.clone();
        if let (Some(obj), Some(status)) = (merged.as_object_mut(), status) {
            obj.insert("status".into(), status);
        }
        *new = merged;
        return Ok(());
    }
    if has_status {
        let old_status = old.get("status").cloned();
        if let Some(obj) = new.as_object_mut() {
            match old_status {
                Some(status) => obj.insert("status".into(), status),
                None => obj.remove("status"),
            };
        }
    }

    let old_meta = meta(old).cloned().unwrap_or_default();
    let spec_changed = old.get("spec") != new.get("spec");
    let m = meta_mut(new)?;
    for owned in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    ] {
        match old_meta.get(owned) {
            Some(v) => m.insert(owned.into(), v.clone()),
            None => m.remove(owned),
        };
    }
    let generation = old_meta
        .get("generation")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    m.insert(
        "generation".into(),
        json!(if spec_changed {
            generation + 1
        } else {
            generation
        }),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources;

    fn svc() -> &'static ResourceInfo {
        resources::find("", "v1", "services").expect("services")
    }

    fn stamp() -> Stamp {
        Stamp {
            uid: "u-1".into(),
            now: "2026-11-22T04:00:00Z".into(),
            name_suffix: "x7k2q".into(),
        }
    }

    #[test]
    fn create_sets_server_metadata_and_drops_client_sent_server_fields() {
        let mut obj = json!({"metadata": {"name": "web", "resourceVersion": "99", "uid": "forged"},
                             "spec": {"ports": [{"port": 80}]}});
        let name = prepare_create(svc(), Some("default"), &mut obj, &stamp()).expect("ok");
        assert_eq!(name, "web");
        assert_eq!(obj["apiVersion"], "v1");
        assert_eq!(obj["kind"], "Service");
        assert_eq!(obj["metadata"]["namespace"], "default");
        assert_eq!(obj["metadata"]["uid"], "u-1");
        assert_eq!(obj["metadata"]["creationTimestamp"], "2026-11-22T04:00:00Z");
        assert_eq!(obj["metadata"]["generation"], 1);
        assert!(obj["metadata"].get("resourceVersion").is_none());
    }

    #[test]
    fn create_refuses_mismatches_and_nameless_objects() {
        let cases = [
            json!({"apiVersion": "apps/v1", "kind": "Service", "metadata": {"name": "a"}}),
            json!({"kind": "Pod", "metadata": {"name": "a"}}),
            json!({"metadata": {"name": "a", "namespace": "other"}}),
            json!({"metadata": {}}),
            json!([1, 2]),
            json!({"metadata": 7}),
        ];
        for mut obj in cases {
            let shown = obj.to_string();
            let err =
                prepare_create(svc(), Some("default"), &mut obj, &stamp()).expect_err("refused");
            assert!(matches!(err.code, 400 | 422), "{shown}: {err:?}");
        }
    }

    #[test]
    fn generate_name_and_cluster_scope() {
        let mut obj = json!({"metadata": {"generateName": "web-"}});
        let name = prepare_create(svc(), Some("default"), &mut obj, &stamp()).expect("ok");
        assert_eq!(name, "web-x7k2q");
        let nodes = resources::find("", "v1", "nodes").expect("nodes");
        let mut node = json!({"metadata": {"name": "n1", "namespace": "default"}});
        prepare_create(nodes, None, &mut node, &stamp()).expect("ok");
        assert!(node["metadata"].get("namespace").is_none());
    }

    #[test]
    fn update_keeps_identity_and_status_and_bumps_generation_on_spec_change() {
        let old = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "default", "uid": "u-1",
                         "creationTimestamp": "t0", "generation": 3},
            "spec": {"type": "ClusterIP"}, "status": {"loadBalancer": {}}});
        let mut new = json!({"metadata": {"name": "web", "uid": "forged", "labels": {"a": "b"}},
            "spec": {"type": "NodePort"}, "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}});
        prepare_update(svc(), Some("default"), "web", &old, &mut new, false).expect("ok");
        assert_eq!(new["metadata"]["uid"], "u-1");
        assert_eq!(new["metadata"]["creationTimestamp"], "t0");
        assert_eq!(new["metadata"]["generation"], 4);
        assert_eq!(new["metadata"]["labels"]["a"], "b");
        assert_eq!(
            new["status"],
            json!({"loadBalancer": {}}),
            "status only via /status"
        );

        let mut same_spec = old.clone();
        prepare_update(svc(), Some("default"), "web", &old, &mut same_spec, false).expect("ok");
        assert_eq!(same_spec["metadata"]["generation"], 3);

        let mut status = json!({"metadata": {"name": "web"}, "spec": {"type": "LoadBalancer"},
            "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}});
        prepare_update(svc(), Some("default"), "web", &old, &mut status, true).expect("ok");
        assert_eq!(
            status["spec"]["type"], "ClusterIP",
            "the status write cannot change spec"
        );
        assert_eq!(
            status["status"]["loadBalancer"]["ingress"][0]["ip"],
            "1.2.3.4"
        );

        let mut renamed = json!({"metadata": {"name": "other"}});
        assert!(prepare_update(svc(), Some("default"), "web", &old, &mut renamed, false).is_err());
    }

    #[test]
    fn resource_versions_round_trip_and_bad_ones_are_rejected() {
        let mut obj = json!({"metadata": {"name": "a"}});
        assert_eq!(resource_version(&obj).expect("ok"), None);
        set_revision(&mut obj, 42);
        assert_eq!(resource_version(&obj).expect("ok"), Some(42));
        let stored: Value = serde_json::from_slice(&for_storage(&obj).expect("ok")).expect("json");
        assert!(stored["metadata"].get("resourceVersion").is_none());
        for bad in [
            json!({"metadata": {"resourceVersion": "x"}}),
            json!({"metadata": {"resourceVersion": 5}}),
            json!({"metadata": {"resourceVersion": "-1"}}),
        ] {
            assert!(resource_version(&bad).is_err(), "{bad}");
        }
    }
}
