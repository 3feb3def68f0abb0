//! Scenario tests for apply and record_update, written against what
//! kube-apiserver does for the same requests.

use super::*;
use proptest::prelude::*;
use serde_json::json;

/// The list semantics of the few built-in types these tests use.
struct Kube;

impl Schema for Kube {
    fn list_type(&self, path: &[&str]) -> ListType {
        match path {
            [.., "containers" | "initContainers"] => ListType::Map(vec!["name"]),
            [.., "containers" | "initContainers", "ports"] => {
                ListType::Map(vec!["containerPort", "protocol"])
            }
            [.., "env"] => ListType::Map(vec!["name"]),
            ["spec", "ports"] => ListType::Map(vec!["port", "protocol"]),
            ["metadata", "finalizers"] => ListType::Set,
            _ => ListType::Atomic,
        }
    }

    fn key_default(&self, _list: &[&str], field: &str) -> Option<Value> {
        (field == "protocol").then(|| json!("TCP"))
    }

    fn map_is_atomic(&self, path: &[&str]) -> bool {
        matches!(path, ["spec", "selector"])
    }
}

const T1: &str = "2024-05-01T10:00:00Z";
const T2: &str = "2024-05-01T11:00:00Z";
const T3: &str = "2024-05-01T12:00:00Z";

fn deployment(replicas: u32, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "nginx", "image": image}]},
            },
        },
    })
}

fn apply_as(
    live: Option<&Value>,
    config: &Value,
    manager: &str,
    now: &str,
) -> Result<Value, ApplyError> {
    apply(live, config, manager, false, &Kube, "apps/v1", now)
}

fn applied(live: Option<&Value>, config: &Value, manager: &str, now: &str) -> Value {
    apply_as(live, config, manager, now).expect("apply succeeds")
}

fn updated(old: Option<&Value>, new: &Value, manager: &str, now: &str) -> Value {
    record_update(old, new, manager, &Kube, "apps/v1", now).expect("update records")
}

fn entries(object: &Value) -> Vec<Value> {
    object["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// `(manager, operation, fieldsV1)` of each entry, in order.
fn owners(object: &Value) -> Vec<(String, String, Value)> {
    entries(object)
        .into_iter()
        .map(|e| {
            (
                e["manager"].as_str().unwrap_or_default().to_string(),
                e["operation"].as_str().unwrap_or_default().to_string(),
                e["fieldsV1"].clone(),
            )
        })
        .collect()
}

fn fields_of_manager(object: &Value, manager: &str) -> Option<Value> {
    entries(object)
        .into_iter()
        .find(|e| e["manager"] == manager)
        .map(|e| e["fieldsV1"].clone())
}

fn without_managed(object: &Value) -> Value {
    managed::without_managed_fields(object)
}

/// Path helper: `.spec.replicas` style, field names only.
fn owns(object: &Value, manager: &str, path: &[&str]) -> bool {
    let Some(wire) = fields_of_manager(object, manager) else {
        return false;
    };
    let Ok(set) = FieldSet::from_fields_v1(&wire) else {
        return false;
    };
    let path: Vec<PathElement> = path
        .iter()
        .map(|p| match PathElement::parse_wire(p) {
            Ok(e) => e,
            Err(_) => PathElement::Field((*p).to_string()),
        })
        .collect();
    set.has(&path)
}

#[test]
fn create_records_the_applied_fields_like_kube() {
    let object = applied(None, &deployment(3, "nginx:1"), "kubectl", T1);
    assert_eq!(without_managed(&object), deployment(3, "nginx:1"));
    assert_eq!(
        entries(&object),
        vec![json!({
            "manager": "kubectl",
            "operation": "Apply",
            "apiVersion": "apps/v1",
            "time": T1,
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},
                    "f:template": {
                        "f:metadata": {"f:labels": {"f:app": {}}},
                        "f:spec": {"f:containers": {
                            "k:{\"name\":\"nginx\"}": {".": {}, "f:image": {}, "f:name": {}},
                        }},
                    },
                },
            },
        })]
    );
}

#[test]
fn reapplying_the_same_config_changes_nothing() {
    let config = deployment(3, "nginx:1");
    let first = applied(None, &config, "kubectl", T1);
    let again = applied(Some(&first), &config, "kubectl", T2);
    assert_eq!(again, first, "time is kept when nothing changed");

    let changed = applied(Some(&first), &deployment(4, "nginx:1"), "kubectl", T2);
    assert_eq!(changed["spec"]["replicas"], 4);
    assert_eq!(
        entries(&changed).first().map(|e| e["time"].clone()),
        Some(json!(T2))
    );
    assert_eq!(owners(&changed), owners(&first), "same fields, new time");
}

#[test]
fn dropping_a_field_from_the_config_removes_it() {
    let mut config = deployment(3, "nginx:1");
    config["metadata"]["labels"]["tier"] = json!("front");
    config["metadata"]["annotations"] = json!({"note": "x"});
    config["spec"]["template"]["spec"]["containers"] = json!([
        {"name": "nginx", "image": "nginx:1", "args": ["-g"]},
        {"name": "sidecar", "image": "busybox"},
    ]);
    let first = applied(None, &config, "kubectl", T1);

    let second = applied(Some(&first), &deployment(3, "nginx:1"), "kubectl", T2);
    assert_eq!(without_managed(&second), deployment(3, "nginx:1"));
    assert!(
        second["metadata"].get("annotations").is_none(),
        "emptied object field goes too"
    );
    assert!(!owns(&second, "kubectl", &["metadata", "labels", "tier"]));
}

#[test]
fn a_dropped_field_another_manager_owns_is_kept() {
    let mut config = deployment(3, "nginx:1");
    config["metadata"]["labels"]["tier"] = json!("front");
    let first = applied(None, &config, "kubectl", T1);

    // Another manager writes the same label value: shared ownership.
    let mut edited = first.clone();
    edited["metadata"]["labels"]["team"] = json!("a");
    let edited = updated(Some(&first), &edited, "kubectl-edit", T2);
    let mut also = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"tier": "front"}},
    });
    let shared = applied(Some(&edited), &also, "other-applier", T2);
    assert!(owns(&shared, "kubectl", &["metadata", "labels", "tier"]));
    assert!(owns(
        &shared,
        "other-applier",
        &["metadata", "labels", "tier"]
    ));

    // kubectl drops tier and app; tier survives through other-applier.
    let mut slim = deployment(3, "nginx:1");
    slim["metadata"]["labels"] = json!({"app": "web"});
    let after = applied(Some(&shared), &slim, "kubectl", T3);
    assert_eq!(
        after["metadata"]["labels"],
        json!({"app": "web", "tier": "front", "team": "a"})
    );
    assert!(!owns(&after, "kubectl", &["metadata", "labels", "tier"]));

    // Once other-applier drops it too, it goes.
    if let Some(meta) = also["metadata"].as_object_mut() {
        meta.remove("labels");
    }
    let gone = applied(Some(&after), &also, "other-applier", T3);
    assert_eq!(
        gone["metadata"]["labels"],
        json!({"app": "web", "team": "a"})
    );
    assert_eq!(
        fields_of_manager(&gone, "other-applier"),
        None,
        "empty entry dropped"
    );
}

#[test]
fn a_dropped_field_an_update_manager_changed_is_kept() {
    let first = applied(None, &deployment(3, "nginx:1"), "kubectl", T1);
    let mut scaled = first.clone();
    scaled["spec"]["replicas"] = json!(5);
    let scaled = updated(Some(&first), &scaled, "kubectl-scale", T2);
    assert!(owns(&scaled, "kubectl-scale", &["spec", "replicas"]));
    assert!(
        !owns(&scaled, "kubectl", &["spec", "replicas"]),
        "the update took it over"
    );

    let mut config = deployment(3, "nginx:1");
    if let Some(spec) = config["spec"].as_object_mut() {
        spec.remove("replicas");
    }
    let after = applied(Some(&scaled), &config, "kubectl", T3);
    assert_eq!(after["spec"]["replicas"], 5);
}

#[test]
fn conflicts_name_the_other_manager_like_kube() {
    let created = updated(
        None,
        &deployment(3, "nginx:1"),
        "kubectl-client-side-apply",
        T1,
    );
    let err = apply_as(Some(&created), &deployment(5, "nginx:1"), "kubectl", T2)
        .expect_err("replicas is owned by the creator");
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas"
    );
    assert_eq!(err.code(), 409);
    assert_eq!(err.reason(), "Conflict");
    assert_eq!(
        err.causes(),
        vec![StatusCause {
            reason: "FieldManagerConflict",
            message: "conflict with \"kubectl-client-side-apply\" using apps/v1".to_string(),
            field: ".spec.replicas".to_string(),
        }]
    );

    // Equal values are shared, not a conflict.
    let shared = applied(Some(&created), &deployment(3, "nginx:1"), "kubectl", T2);
    assert!(owns(&shared, "kubectl", &["spec", "replicas"]));
    assert!(owns(
        &shared,
        "kubectl-client-side-apply",
        &["spec", "replicas"]
    ));
    assert_eq!(without_managed(&shared), without_managed(&created));
}

#[test]
fn conflicts_with_appliers_and_several_managers() {
    let first = applied(None, &deployment(3, "nginx:1"), "alice", T1);
    let err = apply_as(Some(&first), &deployment(4, "nginx:2"), "bob", T2).expect_err("conflict");
    assert_eq!(
        err.to_string(),
        "Apply failed with 2 conflicts: conflicts with \"alice\":\n- .spec.replicas\n- .spec.template.spec.containers[name=\"nginx\"].image"
    );

    let mut edited = first.clone();
    edited["metadata"]["labels"]["app"] = json!("web2");
    let edited = updated(Some(&first), &edited, "kubectl-edit", T2);
    let mut config = deployment(4, "nginx:1");
    config["metadata"]["labels"]["app"] = json!("web3");
    let err = apply_as(Some(&edited), &config, "bob", T3).expect_err("conflict");
    assert_eq!(
        err.to_string(),
        "Apply failed with 2 conflicts: conflicts with \"alice\":\n- .spec.replicas\nconflicts with \"kubectl-edit\" using apps/v1:\n- .metadata.labels.app"
    );
    assert_eq!(err.causes().len(), 2);
}

#[test]
fn force_moves_ownership() {
    let created = updated(
        None,
        &deployment(3, "nginx:1"),
        "kubectl-client-side-apply",
        T1,
    );
    let forced = apply(
        Some(&created),
        &deployment(5, "nginx:1"),
        "kubectl",
        true,
        &Kube,
        "apps/v1",
        T2,
    )
    .expect("force wins");
    assert_eq!(forced["spec"]["replicas"], 5);
    assert!(owns(&forced, "kubectl", &["spec", "replicas"]));
    assert!(!owns(
        &forced,
        "kubectl-client-side-apply",
        &["spec", "replicas"]
    ));
    assert!(owns(
        &forced,
        "kubectl-client-side-apply",
        &[
            "spec",
            "template",
            "spec",
            "containers",
            "k:{\"name\":\"nginx\"}",
            "image"
        ]
    ));

    // A manager left with nothing loses its entry.
    let small = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 1}});
    let first = applied(None, &small, "alice", T1);
    let mut other = small.clone();
    other["spec"]["replicas"] = json!(2);
    let taken = apply(Some(&first), &other, "bob", true, &Kube, "apps/v1", T2).expect("force");
    let managers: Vec<String> = owners(&taken).into_iter().map(|o| o.0).collect();
    assert_eq!(managers, vec!["bob"]);
}

#[test]
fn kubectl_scale_takes_replicas_then_reapply_conflicts() {
    let first = applied(None, &deployment(3, "nginx:1"), "kubectl", T1);
    let mut scaled = first.clone();
    scaled["spec"]["replicas"] = json!(6);
    let scaled = updated(Some(&first), &scaled, "kubectl-scale", T2);
    assert_eq!(
        owners(&scaled)
            .into_iter()
            .map(|o| (o.0, o.1))
            .collect::<Vec<_>>(),
        vec![
            ("kubectl".to_string(), "Apply".to_string()),
            ("kubectl-scale".to_string(), "Update".to_string())
        ]
    );
    assert_eq!(
        fields_of_manager(&scaled, "kubectl-scale"),
        Some(json!({"f:spec": {"f:replicas": {}}}))
    );

    let err =
        apply_as(Some(&scaled), &deployment(3, "nginx:1"), "kubectl", T3).expect_err("conflict");
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"kubectl-scale\" using apps/v1: .spec.replicas"
    );
}

#[test]
fn list_maps_merge_by_name() {
    let first = applied(None, &deployment(1, "nginx:1"), "kubectl", T1);
    let sidecar = json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "envoy"}]}}},
    });
    let both = applied(Some(&first), &sidecar, "mesh", T2);
    let names: Vec<&str> = both["spec"]["template"]["spec"]["containers"]
        .as_array()
        .map(|c| c.iter().filter_map(|c| c["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, vec!["nginx", "sidecar"]);

    // kubectl changing its own container does not touch the sidecar.
    let bumped = applied(Some(&both), &deployment(1, "nginx:2"), "kubectl", T3);
    assert_eq!(
        bumped["spec"]["template"]["spec"]["containers"],
        json!([{"name": "nginx", "image": "nginx:2"}, {"name": "sidecar", "image": "envoy"}])
    );

    // mesh dropping its container removes it.
    let mut none = sidecar.clone();
    none["spec"]["template"]["spec"]["containers"] = json!([]);
    let dropped = applied(Some(&bumped), &none, "mesh", T3);
    assert_eq!(
        dropped["spec"]["template"]["spec"]["containers"],
        json!([{"name": "nginx", "image": "nginx:2"}])
    );
}

#[test]
fn list_maps_with_composite_keys_and_defaulted_protocol() {
    let config = |ports: Value| {
        json!({
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc"},
            "spec": {"ports": ports},
        })
    };
    let apply_v1 = |live: Option<&Value>, config: &Value, manager: &str| {
        apply(live, config, manager, false, &Kube, "v1", T1).expect("apply")
    };
    let first = apply_v1(
        None,
        &config(json!([{"port": 80, "targetPort": 8080}, {"port": 53, "protocol": "UDP"}])),
        "a",
    );
    assert_eq!(
        fields_of_manager(&first, "a"),
        Some(json!({"f:spec": {"f:ports": {
            "k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:port": {}, "f:targetPort": {}},
            "k:{\"port\":53,\"protocol\":\"UDP\"}": {".": {}, "f:port": {}, "f:protocol": {}},
        }}}))
    );
    // The stored object carries the defaulted protocol; the key still matches.
    let mut defaulted = first.clone();
    defaulted["spec"]["ports"][0]["protocol"] = json!("TCP");
    let second = apply_v1(
        Some(&defaulted),
        &config(json!([{"port": 80, "targetPort": 9090}, {"port": 53, "protocol": "TCP"}])),
        "a",
    );
    assert_eq!(
        second["spec"]["ports"],
        json!([{"port": 80, "protocol": "TCP", "targetPort": 9090}, {"port": 53, "protocol": "TCP"}]),
        "53/UDP dropped, 53/TCP added"
    );

    let pod = json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "i", "ports": [
            {"containerPort": 53, "protocol": "UDP"}, {"containerPort": 53, "protocol": "TCP"},
        ]}]},
    });
    let created = apply_v1(None, &pod, "a");
    let key = "k:{\"containerPort\":53,\"protocol\":\"UDP\"}";
    assert!(owns(
        &created,
        "a",
        &[
            "spec",
            "containers",
            "k:{\"name\":\"c\"}",
            "ports",
            key,
            "protocol"
        ]
    ));
}

#[test]
fn set_lists_union_and_prune_per_element() {
    let config = |finalizers: Value| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "finalizers": finalizers}});
    let apply_v1 = |live: Option<&Value>, config: &Value, manager: &str| {
        apply(live, config, manager, false, &Kube, "v1", T1).expect("apply")
    };
    let a = apply_v1(None, &config(json!(["a/x", "shared/s"])), "a");
    let b = apply_v1(Some(&a), &config(json!(["shared/s", "b/y"])), "b");
    assert_eq!(
        b["metadata"]["finalizers"],
        json!(["a/x", "shared/s", "b/y"])
    );
    assert_eq!(
        fields_of_manager(&b, "b"),
        Some(json!({"f:metadata": {"f:finalizers": {"v:\"b/y\"": {}, "v:\"shared/s\"": {}}}}))
    );
    let a2 = apply_v1(Some(&b), &config(json!([])), "a");
    assert_eq!(a2["metadata"]["finalizers"], json!(["shared/s", "b/y"]));
}

#[test]
fn atomic_lists_and_maps_are_replaced_and_owned_whole() {
    let mut config = deployment(1, "nginx:1");
    config["spec"]["template"]["spec"]["containers"][0]["args"] = json!(["a", "b"]);
    let first = applied(None, &config, "alice", T1);
    let container = [
        "spec",
        "template",
        "spec",
        "containers",
        "k:{\"name\":\"nginx\"}",
        "args",
    ];
    assert!(owns(&first, "alice", &container));
    assert!(owns(&first, "alice", &["spec", "selector"]));
    assert!(!owns(&first, "alice", &["spec", "selector", "matchLabels"]));

    let mut other = deployment(1, "nginx:1");
    other["spec"]["template"]["spec"]["containers"][0]["args"] = json!(["c"]);
    let err = apply_as(Some(&first), &other, "bob", T2).expect_err("args conflict");
    assert!(
        err.to_string()
            .ends_with(".spec.template.spec.containers[name=\"nginx\"].args"),
        "{err}"
    );

    config["spec"]["template"]["spec"]["containers"][0]["args"] = json!(["z"]);
    config["spec"]["selector"] = json!({"matchExpressions": []});
    let replaced = applied(Some(&first), &config, "alice", T2);
    assert_eq!(
        replaced["spec"]["template"]["spec"]["containers"][0]["args"],
        json!(["z"])
    );
    assert_eq!(
        replaced["spec"]["selector"],
        json!({"matchExpressions": []})
    );
}

#[test]
fn bad_configs_are_rejected_with_kube_texts() {
    let mut missing_key = deployment(1, "nginx:1");
    missing_key["spec"]["template"]["spec"]["containers"] = json!([{"image": "x"}]);
    let mut duplicate = deployment(1, "nginx:1");
    duplicate["spec"]["template"]["spec"]["containers"] =
        json!([{"name": "a", "image": "x"}, {"name": "a", "image": "y"}]);
    let mut managed = deployment(1, "nginx:1");
    managed["metadata"]["managedFields"] = json!([]);
    let mut version = deployment(1, "nginx:1");
    version["apiVersion"] = json!("apps/v1beta1");
    let cases = vec![
        (
            json!([1]),
            400,
            "apply configuration must be a map, got list",
        ),
        (managed, 400, "metadata.managedFields must be nil"),
        (
            version,
            400,
            "Incorrect version specified in apply patch. Specified patch version: apps/v1beta1, expected: apps/v1",
        ),
        (
            missing_key,
            500,
            ".spec.template.spec.containers: element 0: associative list with keys has an element that omits key field \"name\" (and doesn't have default value)",
        ),
        (
            duplicate,
            500,
            ".spec.template.spec.containers: duplicate entries for key [name=\"a\"]",
        ),
    ];
    for (config, code, want) in cases {
        let err = apply_as(None, &config, "kubectl", T1).expect_err("rejected");
        assert_eq!(err.to_string(), want);
        assert_eq!(err.code(), code, "{want}");
    }
}

#[test]
fn malformed_managed_fields() {
    let mut live = applied(None, &deployment(1, "nginx:1"), "kubectl", T1);
    live["metadata"]["managedFields"] =
        json!([{"manager": "x", "operation": "Apply", "fieldsV1": {"f:spec": 7}}]);
    let err = apply_as(Some(&live), &deployment(2, "nginx:1"), "kubectl", T2).expect_err("bad");
    assert_eq!(
        err,
        ApplyError::BadManagedFields(
            "entry 0: fieldsV1: .spec: expected a JSON object, got number".to_string()
        )
    );
    assert_eq!(err.code(), 500);

    // A writer's malformed managedFields fall back to the stored ones.
    let good = applied(None, &deployment(1, "nginx:1"), "kubectl", T1);
    let mut new = good.clone();
    new["metadata"]["managedFields"] = json!("garbage");
    new["spec"]["replicas"] = json!(2);
    let recorded = updated(Some(&good), &new, "kubectl-edit", T2);
    let image = [
        "spec",
        "template",
        "spec",
        "containers",
        "k:{\"name\":\"nginx\"}",
        "image",
    ];
    assert!(owns(&recorded, "kubectl", &image), "stored entries kept");
    assert!(!owns(&recorded, "kubectl", &["spec", "replicas"]));
    assert!(owns(&recorded, "kubectl-edit", &["spec", "replicas"]));

    // ... but not for a stored object.
    let err = record_update(Some(&live), &new, "kubectl-edit", &Kube, "apps/v1", T2).map(|_| ());
    assert!(err.is_err());
}

#[test]
fn record_update_on_create_owns_everything_but_server_metadata_and_status() {
    let mut object = deployment(2, "nginx:1");
    object["metadata"]["uid"] = json!("1234");
    object["metadata"]["resourceVersion"] = json!("7");
    object["status"] = json!({"replicas": 0});
    let created = updated(None, &object, "kubectl-create", T1);
    assert_eq!(without_managed(&created), object);
    assert_eq!(
        entries(&created),
        vec![json!({
            "manager": "kubectl-create",
            "operation": "Update",
            "apiVersion": "apps/v1",
            "time": T1,
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                "f:spec": {
                    ".": {},
                    "f:replicas": {},
                    "f:selector": {},
                    "f:template": {
                        ".": {},
                        "f:metadata": {".": {}, "f:labels": {".": {}, "f:app": {}}},
                        "f:spec": {".": {}, "f:containers": {
                            ".": {},
                            "k:{\"name\":\"nginx\"}": {".": {}, "f:image": {}, "f:name": {}},
                        }},
                    },
                },
            },
        })]
    );
}

#[test]
fn record_update_moves_changed_fields_and_forgets_removed_ones() {
    let mut config = deployment(3, "nginx:1");
    config["metadata"]["labels"]["tier"] = json!("front");
    let first = applied(None, &config, "kubectl", T1);

    let mut edited = first.clone();
    edited["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:2");
    if let Some(labels) = edited["metadata"]["labels"].as_object_mut() {
        labels.remove("tier");
    }
    edited["metadata"]["resourceVersion"] = json!("9");
    let recorded = updated(Some(&first), &edited, "kubectl-edit", T2);
    let image = [
        "spec",
        "template",
        "spec",
        "containers",
        "k:{\"name\":\"nginx\"}",
        "image",
    ];
    assert!(owns(&recorded, "kubectl-edit", &image));
    assert!(!owns(&recorded, "kubectl", &image));
    assert!(
        !owns(&recorded, "kubectl", &["metadata", "labels", "tier"]),
        "removed from all sets"
    );
    assert_eq!(
        fields_of_manager(&recorded, "kubectl-edit"),
        Some(
            json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {
                "k:{\"name\":\"nginx\"}": {"f:image": {}},
            }}}}})
        )
    );

    // A write that changes nothing it can own keeps the entry's time.
    let mut touch = recorded.clone();
    touch["metadata"]["resourceVersion"] = json!("10");
    let touched = updated(Some(&recorded), &touch, "kubectl-edit", T3);
    assert_eq!(entries(&touched), entries(&recorded));

    // A later change by the same manager joins its entry.
    let mut more = touched.clone();
    more["spec"]["replicas"] = json!(9);
    let more = updated(Some(&touched), &more, "kubectl-edit", T3);
    assert!(owns(&more, "kubectl-edit", &image));
    assert!(owns(&more, "kubectl-edit", &["spec", "replicas"]));
    let edit_entry = entries(&more)
        .into_iter()
        .find(|e| e["manager"] == "kubectl-edit");
    assert_eq!(edit_entry.map(|e| e["time"].clone()), Some(json!(T3)));
}

#[test]
fn record_update_honours_sent_and_reset_managed_fields() {
    let first = applied(None, &deployment(3, "nginx:1"), "kubectl", T1);
    let mut reset = first.clone();
    reset["metadata"]["managedFields"] = json!([{}]);
    let cleared = updated(Some(&first), &reset, "kubectl-edit", T2);
    assert!(cleared["metadata"].get("managedFields").is_none());

    let mut emptied = first.clone();
    emptied["metadata"]["managedFields"] = json!([]);
    let cleared = updated(Some(&first), &emptied, "kubectl-edit", T2);
    assert!(cleared["metadata"].get("managedFields").is_none());

    let mut absent = first.clone();
    if let Some(meta) = absent["metadata"].as_object_mut() {
        meta.remove("managedFields");
    }
    let kept = updated(Some(&first), &absent, "kubectl-edit", T2);
    assert_eq!(kept, first);

    let mut rewritten = first.clone();
    rewritten["metadata"]["managedFields"][0]["manager"] = json!("renamed");
    let honoured = updated(Some(&first), &rewritten, "kubectl-edit", T2);
    assert_eq!(
        owners(&honoured).first().map(|o| o.0.clone()),
        Some("renamed".to_string())
    );
}

#[test]
fn first_apply_to_an_untracked_object_conflicts_with_before_first_apply() {
    let untracked = deployment(3, "nginx:1");
    let err =
        apply_as(Some(&untracked), &deployment(4, "nginx:1"), "kubectl", T1).expect_err("conflict");
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"before-first-apply\" using apps/v1: .spec.replicas"
    );
    let same = applied(Some(&untracked), &deployment(3, "nginx:1"), "kubectl", T1);
    let managers: Vec<String> = owners(&same).into_iter().map(|o| o.0).collect();
    assert_eq!(managers, vec!["kubectl", "before-first-apply"]);
}

#[test]
fn status_scope_touches_only_status() {
    let first = applied(None, &deployment(3, "nginx:1"), "kubectl", T1);
    let mut with_status = deployment(1, "nginx:9");
    with_status["status"] = json!({"replicas": 3});
    // The main resource ignores status in a config.
    let main = applied(Some(&first), &deployment(3, "nginx:1"), "kubectl", T2);
    assert!(main.get("status").is_none());

    let request = Request {
        manager: "controller",
        api_version: "apps/v1",
        now: T2,
        scope: Scope::Status,
    };
    let status =
        apply_scoped(&request, Some(&first), &with_status, false, &Kube).expect("status apply");
    assert_eq!(status["status"], json!({"replicas": 3}));
    assert_eq!(status["spec"], first["spec"], "spec untouched");
    let entry = entries(&status)
        .into_iter()
        .find(|e| e["manager"] == "controller")
        .expect("entry");
    assert_eq!(entry["subresource"], "status");
    assert_eq!(entry["fieldsV1"], json!({"f:status": {"f:replicas": {}}}));

    let mut bumped = status.clone();
    bumped["status"]["replicas"] = json!(4);
    bumped["spec"]["replicas"] = json!(100);
    let recorded = record_update_scoped(
        &Request {
            manager: "kcm",
            ..request
        },
        Some(&status),
        &bumped,
        &Kube,
    )
    .expect("records");
    let kcm = entries(&recorded)
        .into_iter()
        .find(|e| e["manager"] == "kcm")
        .expect("entry");
    assert_eq!(kcm["fieldsV1"], json!({"f:status": {"f:replicas": {}}}));
    assert_eq!(kcm["subresource"], "status");
    assert!(!owns(&recorded, "controller", &["status", "replicas"]));
}

#[test]
fn update_entries_are_capped() {
    let mut object = applied(None, &deployment(1, "nginx:1"), "kubectl", T1);
    object["metadata"]["annotations"] = json!({});
    for i in 0..12 {
        let mut next = object.clone();
        next["metadata"]["annotations"][format!("a{i}")] = json!("x");
        let now = format!("2024-05-01T10:00:{i:02}Z");
        object = updated(Some(&object), &next, &format!("writer-{i:02}"), &now);
    }
    let all = owners(&object);
    let updates: Vec<&str> = all
        .iter()
        .filter(|o| o.1 == "Update")
        .map(|o| o.0.as_str())
        .collect();
    assert_eq!(updates.len(), 10, "{updates:?}");
    assert_eq!(updates.first(), Some(&"ancient-changes"), "{updates:?}");
    assert!(!updates.contains(&"writer-00") && !updates.contains(&"writer-02"));
    let bucket = fields_of_manager(&object, "ancient-changes").expect("bucket");
    assert_eq!(
        bucket,
        json!({"f:metadata": {"f:annotations": {"f:a0": {}, "f:a1": {}, "f:a2": {}}}})
    );
}

proptest! {
    /// A sole applier's labels end up exactly as its latest config says.
    #[test]
    fn sole_applier_converges(
        first in proptest::collection::btree_map("[a-c]", "[xy]", 0..4),
        second in proptest::collection::btree_map("[a-c]", "[xy]", 0..4),
    ) {
        let config = |labels: &std::collections::BTreeMap<String, String>| json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "labels": labels},
        });
        let one = apply(None, &config(&first), "m", false, &Kube, "v1", T1).expect("create");
        let two = apply(Some(&one), &config(&second), "m", false, &Kube, "v1", T2).expect("update");
        let labels = two["metadata"].get("labels").cloned().unwrap_or(json!({}));
        prop_assert_eq!(labels, json!(second));
        let again = apply(Some(&two), &config(&second), "m", false, &Kube, "v1", T3).expect("again");
        prop_assert_eq!(again, two);
    }
}
