//! Strict field validation (`fieldValidation=Strict`, which kubectl sends
//! when it leaves validation to the server): the fields of an object that
//! its kind does not have. Found by a round trip through the k8s-openapi
//! type: whatever does not survive decoding was not a field. Pure.

use k8s_openapi::api::{
    apps::v1::{Deployment, ReplicaSet},
    coordination::v1::Lease,
    core::v1::{
        ConfigMap, Endpoints, Event, Namespace, Node, Pod, Secret, Service, ServiceAccount,
    },
    discovery::v1::EndpointSlice,
    networking::v1::{Ingress, IngressClass, NetworkPolicy},
    rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding},
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

fn round_trip<T: DeserializeOwned + Serialize>(object: &Value) -> Option<Value> {
    let typed: T = serde_json::from_value(object.clone()).ok()?;
    serde_json::to_value(typed).ok()
}

/// The object as its kind's type sees it, or `None` for an unknown kind or
/// an object that does not decode (validation reports those).
fn typed(kind: &str, object: &Value) -> Option<Value> {
    match kind {
        "Namespace" => round_trip::<Namespace>(object),
        "Node" => round_trip::<Node>(object),
        "Pod" => round_trip::<Pod>(object),
        "Service" => round_trip::<Service>(object),
        "Endpoints" => round_trip::<Endpoints>(object),
        "Secret" => round_trip::<Secret>(object),
        "ConfigMap" => round_trip::<ConfigMap>(object),
        "Event" => round_trip::<Event>(object),
        "ServiceAccount" => round_trip::<ServiceAccount>(object),
        "Deployment" => round_trip::<Deployment>(object),
        "ReplicaSet" => round_trip::<ReplicaSet>(object),
        "EndpointSlice" => round_trip::<EndpointSlice>(object),
        "Ingress" => round_trip::<Ingress>(object),
        "IngressClass" => round_trip::<IngressClass>(object),
        "NetworkPolicy" => round_trip::<NetworkPolicy>(object),
        "Lease" => round_trip::<Lease>(object),
        "Role" => round_trip::<Role>(object),
        "ClusterRole" => round_trip::<ClusterRole>(object),
        "RoleBinding" => round_trip::<RoleBinding>(object),
        "ClusterRoleBinding" => round_trip::<ClusterRoleBinding>(object),
        _ => None,
    }
}

/// Dotted paths (`spec.ports[0].prot`) of the fields in `object` that
/// `kind` does not have, in document order.
pub fn unknown_fields(kind: &str, object: &Value) -> Vec<String> {
    let mut unknown = Vec::new();
    if let Some(known) = typed(kind, object) {
        walk(object, &known, "", &mut unknown);
    }
    unknown
}

fn walk(given: &Value, known: &Value, path: &str, unknown: &mut Vec<String>) {
    match (given, known) {
        (Value::Object(given), Value::Object(known)) => {
            for (key, value) in given {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match known.get(key) {
                    Some(kept) => walk(value, kept, &child, unknown),
                    // A null is "unset", which decoding drops: not unknown.
                    None if value.is_null() => {}
                    None => unknown.push(child),
                }
            }
        }
        (Value::Array(given), Value::Array(known)) => {
            for (i, (value, kept)) in given.iter().zip(known).enumerate() {
                walk(value, kept, &format!("{path}[{i}]"), unknown);
            }
        }
        _ => {}
    }
}

/// kube-apiserver's 400 message for `unknown`.
pub fn strict_error(unknown: &[String]) -> String {
    let fields: Vec<String> = unknown
        .iter()
        .map(|f| format!("unknown field \"{f}\""))
        .collect();
    format!("strict decoding error: {}", fields.join(", "))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn unknown_fields_are_found_at_any_depth() {
        let svc = json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "labels": {"free": "form"}, "bogus": 1},
            "spec": {"ports": [{"port": 80, "prot": "TCP"}], "selector": {"a": "b"}, "tpye": "NodePort",
                     "clusterIP": null},
        });
        assert_eq!(
            unknown_fields("Service", &svc),
            ["metadata.bogus", "spec.ports[0].prot", "spec.tpye"]
        );
        assert_eq!(
            strict_error(&["spec.tpye".into()]),
            "strict decoding error: unknown field \"spec.tpye\""
        );
    }

    #[test]
    fn valid_objects_and_unknown_kinds_have_none() {
        let deploy = json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"selector": {"matchLabels": {"app": "a"}},
                     "template": {"metadata": {"labels": {"app": "a"}},
                                  "spec": {"containers": [{"name": "c", "image": "x",
                                           "resources": {"limits": {"cpu": "1"}}}]}}},
        });
        assert!(unknown_fields("Deployment", &deploy).is_empty());
        assert!(unknown_fields("Widget", &json!({"anything": 1})).is_empty());
        let cm = json!({"metadata": {"name": "c"}, "data": {"any-key": "v"}, "binaryData": {}});
        assert!(unknown_fields("ConfigMap", &cm).is_empty());
    }
}
