//! The defaults kube-apiserver v1.33 fills into objects before validating them.
//!
//! Mirrors the `SetDefaults_*` functions of `pkg/apis/*/v1`, plus the few
//! create-time fill-ins users see in stored objects (Namespace phase, Service
//! `ipFamilyPolicy`). Works on raw JSON so unknown fields survive untouched.
//! Like Go's defaulters, an empty string counts as unset for string fields and
//! `0` counts as unset where Go tests for zero; any other value the user set is
//! kept. Applying defaults twice gives the same object as applying them once.
//!
//! Also holds [`prepare_service`], the Service clusterIP/nodePort bookkeeping
//! of kube-apiserver's Service strategy. Must not allocate IPs or ports.

use serde_json::{Map, Value, json};

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

// ---- JSON helpers ----

/// The object under `key`, created (replacing a null) when missing.
fn ensure_obj<'a>(
    map: &'a mut Map<String, Value>,
    key: &str,
) -> Option<&'a mut Map<String, Value>> {
    let slot = map.entry(key.to_owned()).or_insert(Value::Null);
    if slot.is_null() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut()
}

/// Sets `key` when it is absent or null.
fn default_val(map: &mut Map<String, Value>, key: &str, value: Value) {
    let slot = map.entry(key.to_owned()).or_insert(Value::Null);
    if slot.is_null() {
        *slot = value;
    }
}

/// Sets a string field when it is absent, null or empty, as Go's `== ""` tests do.
fn default_str(map: &mut Map<String, Value>, key: &str, value: &str) {
    let slot = map.entry(key.to_owned()).or_insert(Value::Null);
    if slot.is_null() || slot.as_str() == Some("") {
        *slot = Value::String(value.to_owned());
    }
}

/// Sets an integer field when it is absent, null or zero, as Go's `== 0` tests do.
fn default_nonzero(map: &mut Map<String, Value>, key: &str, value: i64) {
    let slot = map.entry(key.to_owned()).or_insert(Value::Null);
    if slot.is_null() || slot.as_i64() == Some(0) {
        *slot = json!(value);
    }
}

fn str_of<'a>(map: &'a Map<String, Value>, key: &str) -> &'a str {
    map.get(key).and_then(Value::as_str).unwrap_or("")
}

fn is_empty_list(map: &Map<String, Value>, key: &str) -> bool {
    map.get(key)
        .and_then(Value::as_array)
        .is_none_or(|a| a.is_empty())
}

/// Runs `f` on every object in the list under `key`.
fn each_obj(map: &mut Map<String, Value>, key: &str, mut f: impl FnMut(&mut Map<String, Value>)) {
    if let Some(items) = map.get_mut(key).and_then(Value::as_array_mut) {
        for item in items.iter_mut().filter_map(Value::as_object_mut) {
            f(item);
        }
    }
}

fn child<'a>(map: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Map<String, Value>> {
    map.get_mut(key).and_then(Value::as_object_mut)
}

// ---- entry points ----

/// Fills in what kube-apiserver defaults for `kind`; unknown kinds are left alone.
pub fn apply_defaults(kind: &str, obj: &mut Value) {
    let Some(root) = obj.as_object_mut() else {
        return;
    };
    match kind {
        "Pod" => {
            if let Some(spec) = ensure_obj(root, "spec") {
                default_pod_spec(spec, true);
            }
        }
        "Service" => {
            if let Some(spec) = ensure_obj(root, "spec") {
                default_service_spec(spec);
            }
        }
        "Deployment" => {
            if let Some(spec) = ensure_obj(root, "spec") {
                default_deployment_spec(spec);
            }
        }
        "ReplicaSet" => {
            if let Some(spec) = ensure_obj(root, "spec") {
                default_val(spec, "replicas", json!(1));
                default_template(spec);
            }
        }
        "Secret" => default_secret(root),
        "Namespace" => default_namespace(root),
        "Endpoints" => each_obj(root, "subsets", |subset| {
            each_obj(subset, "ports", |port| default_str(port, "protocol", "TCP"));
        }),
        "EndpointSlice" => each_obj(root, "ports", |port| {
            default_val(port, "name", json!(""));
            default_val(port, "protocol", json!("TCP"));
        }),
        "NetworkPolicy" => {
            if let Some(spec) = ensure_obj(root, "spec") {
                default_network_policy(spec);
            }
        }
        "IngressClass" => {
            if let Some(params) = child(root, "spec").and_then(|s| child(s, "parameters")) {
                default_val(params, "scope", json!("Cluster"));
            }
        }
        "RoleBinding" | "ClusterRoleBinding" => {
            if let Some(role_ref) = child(root, "roleRef") {
                default_str(role_ref, "apiGroup", RBAC_GROUP);
            }
            each_obj(root, "subjects", default_subject);
        }
        _ => {}
    }
}

// ---- workloads ----

/// Docker-style tag of an image reference: `latest` when untagged and undigested,
/// empty when the reference cannot be parsed or only has a digest.
fn image_tag(image: &str) -> &str {
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    let (repo_part, tag) = match last.split_once(':') {
        Some((_, t)) => (
            name.get(..name.len() - t.len() - 1).unwrap_or(name),
            Some(t),
        ),
        None => (name, None),
    };
    // References with upper-case repository names do not parse in Go.
    if repo_part.is_empty() || repo_part.chars().any(|c| c.is_ascii_uppercase()) {
        return "";
    }
    match (tag, digest) {
        (Some(t), _) => t,
        (None, Some(_)) => "",
        (None, None) => "latest",
    }
}

fn default_http_get(handler: &mut Map<String, Value>) {
    if let Some(http) = child(handler, "httpGet") {
        default_str(http, "path", "/");
        default_str(http, "scheme", "HTTP");
    }
}

fn default_probe(container: &mut Map<String, Value>, key: &str) {
    if let Some(probe) = child(container, key) {
        default_nonzero(probe, "timeoutSeconds", 1);
        default_nonzero(probe, "periodSeconds", 10);
        default_nonzero(probe, "successThreshold", 1);
        default_nonzero(probe, "failureThreshold", 3);
        default_http_get(probe);
    }
}

fn default_field_ref(holder: &mut Map<String, Value>) {
    if let Some(field_ref) = child(holder, "fieldRef") {
        default_str(field_ref, "apiVersion", "v1");
    }
}

fn default_container(c: &mut Map<String, Value>) {
    default_str(c, "terminationMessagePath", "/dev/termination-log");
    default_str(c, "terminationMessagePolicy", "File");
    if str_of(c, "imagePullPolicy").is_empty() {
        let policy = if image_tag(str_of(c, "image")) == "latest" {
            "Always"
        } else {
            "IfNotPresent"
        };
        default_str(c, "imagePullPolicy", policy);
    }
    each_obj(c, "ports", |p| default_str(p, "protocol", "TCP"));
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        default_probe(c, probe);
    }
    if let Some(lc) = child(c, "lifecycle") {
        for hook in ["postStart", "preStop"] {
            if let Some(h) = child(lc, hook) {
                default_http_get(h);
            }
        }
    }
    each_obj(c, "env", |env| {
        if let Some(from) = child(env, "valueFrom") {
            default_field_ref(from);
        }
    });
}

const VOLUME_SOURCES: &[&str] = &[
    "hostPath",
    "emptyDir",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "persistentVolumeClaim",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "downwardAPI",
    "fc",
    "azureFile",
    "configMap",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "projected",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
];

fn default_volume(v: &mut Map<String, Value>) {
    // A volume naming no source at all is an emptyDir.
    if VOLUME_SOURCES
        .iter()
        .all(|s| v.get(*s).is_none_or(Value::is_null))
    {
        v.insert("emptyDir".to_owned(), json!({}));
    }
    for source in ["secret", "configMap", "downwardAPI", "projected"] {
        if let Some(s) = child(v, source) {
            default_val(s, "defaultMode", json!(0o644));
        }
    }
    if let Some(hp) = child(v, "hostPath") {
        default_val(hp, "type", json!(""));
    }
    if let Some(d) = child(v, "downwardAPI") {
        each_obj(d, "items", default_field_ref);
    }
    if let Some(p) = child(v, "projected") {
        each_obj(p, "sources", |src| {
            if let Some(token) = child(src, "serviceAccountToken") {
                default_val(token, "expirationSeconds", json!(3600));
            }
            if let Some(d) = child(src, "downwardAPI") {
                each_obj(d, "items", default_field_ref);
            }
        });
    }
}

/// Pods (not templates) copy limits into missing requests.
fn default_requests_from_limits(c: &mut Map<String, Value>) {
    let Some(resources) = child(c, "resources") else {
        return;
    };
    let Some(limits) = resources.get("limits").and_then(Value::as_object).cloned() else {
        return;
    };
    if let Some(requests) = ensure_obj(resources, "requests") {
        for (k, v) in limits {
            requests.entry(k).or_insert(v);
        }
    }
}

fn default_host_network_ports(c: &mut Map<String, Value>) {
    each_obj(c, "ports", |p| {
        let container_port = p.get("containerPort").cloned().unwrap_or(Value::Null);
        let slot = p.entry("hostPort".to_owned()).or_insert(Value::Null);
        if slot.is_null() || slot.as_i64() == Some(0) {
            *slot = container_port;
        }
    });
}

fn default_pod_spec(spec: &mut Map<String, Value>, is_pod: bool) {
    default_str(spec, "dnsPolicy", "ClusterFirst");
    default_str(spec, "restartPolicy", "Always");
    default_val(spec, "securityContext", json!({}));
    default_val(spec, "terminationGracePeriodSeconds", json!(30));
    default_str(spec, "schedulerName", "default-scheduler");
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        each_obj(spec, list, default_container);
    }
    each_obj(spec, "volumes", default_volume);
    if is_pod {
        default_val(spec, "enableServiceLinks", json!(true));
        for list in ["containers", "initContainers"] {
            each_obj(spec, list, default_requests_from_limits);
        }
        if spec.get("hostNetwork").and_then(Value::as_bool) == Some(true) {
            for list in ["containers", "initContainers"] {
                each_obj(spec, list, default_host_network_ports);
            }
        }
    }
}

fn default_template(spec: &mut Map<String, Value>) {
    if let Some(pod_spec) = ensure_obj(spec, "template").and_then(|t| ensure_obj(t, "spec")) {
        default_pod_spec(pod_spec, false);
    }
}

fn default_deployment_spec(spec: &mut Map<String, Value>) {
    default_val(spec, "replicas", json!(1));
    if let Some(strategy) = ensure_obj(spec, "strategy") {
        default_str(strategy, "type", "RollingUpdate");
        if str_of(strategy, "type") == "RollingUpdate"
            && let Some(ru) = ensure_obj(strategy, "rollingUpdate")
        {
            default_val(ru, "maxUnavailable", json!("25%"));
            default_val(ru, "maxSurge", json!("25%"));
        }
    }
    default_val(spec, "revisionHistoryLimit", json!(10));
    default_val(spec, "progressDeadlineSeconds", json!(600));
    default_template(spec);
}

// ---- Service ----

fn externally_accessible(spec: &Map<String, Value>) -> bool {
    let t = str_of(spec, "type");
    t == "LoadBalancer"
        || t == "NodePort"
        || (t == "ClusterIP" && !is_empty_list(spec, "externalIPs"))
}

fn default_service_spec(spec: &mut Map<String, Value>) {
    default_str(spec, "sessionAffinity", "None");
    match str_of(spec, "sessionAffinity") {
        // kube-apiserver drops a config that does not apply.
        "None" => {
            spec.remove("sessionAffinityConfig");
        }
        "ClientIP" => {
            let has_timeout = spec
                .get("sessionAffinityConfig")
                .and_then(|c| c.get("clientIP"))
                .and_then(|c| c.get("timeoutSeconds"))
                .is_some_and(|t| !t.is_null());
            if !has_timeout {
                spec.insert(
                    "sessionAffinityConfig".to_owned(),
                    json!({"clientIP": {"timeoutSeconds": 10800}}),
                );
            }
        }
        _ => {}
    }
    default_str(spec, "type", "ClusterIP");
    each_obj(spec, "ports", |p| {
        default_str(p, "protocol", "TCP");
        let target = p.get("targetPort");
        let unset =
            target.is_none_or(|t| t.is_null() || t.as_i64() == Some(0) || t.as_str() == Some(""));
        if unset {
            let port = p.get("port").cloned().unwrap_or(json!(0));
            p.insert("targetPort".to_owned(), port);
        }
    });
    if externally_accessible(spec) {
        default_str(spec, "externalTrafficPolicy", "Cluster");
    }
    let t = str_of(spec, "type").to_owned();
    if matches!(t.as_str(), "ClusterIP" | "NodePort" | "LoadBalancer") {
        default_val(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if t == "LoadBalancer" {
        default_val(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
    if t != "ExternalName" {
        default_val(spec, "ipFamilyPolicy", json!("SingleStack"));
    }
}

fn str_list(spec: &Map<String, Value>, key: &str) -> Vec<String> {
    spec.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn set_or_remove_list(spec: &mut Map<String, Value>, key: &str, items: Vec<String>) {
    if items.is_empty() {
        spec.remove(key);
    } else {
        spec.insert(key.to_owned(), json!(items));
    }
}

fn node_ports(spec: &Map<String, Value>) -> Vec<i64> {
    spec.get("ports")
        .and_then(Value::as_array)
        .map(|ports| {
            ports
                .iter()
                .filter_map(|p| p.get("nodePort").and_then(Value::as_i64))
                .filter(|n| *n != 0)
                .collect()
        })
        .unwrap_or_default()
}

fn needs_health_check(spec: &Map<String, Value>) -> bool {
    str_of(spec, "type") == "LoadBalancer" && str_of(spec, "externalTrafficPolicy") == "Local"
}

fn needs_node_port(spec: &Map<String, Value>) -> bool {
    matches!(str_of(spec, "type"), "NodePort" | "LoadBalancer")
}

/// kube-apiserver's Service strategy bookkeeping (`PrepareForCreate`/`PrepareForUpdate`).
///
/// On create, fills `clusterIPs` from `clusterIP`. On update, carries allocated
/// cluster IPs, node ports and the health-check port over from `old` when the
/// client left them out, keeps `clusterIP` and `clusterIPs` in step, and drops
/// fields the new type cannot use (so a ClusterIP Service can become
/// ExternalName). Call it after [`apply_defaults`] and before validating.
pub fn prepare_service(new: &mut Value, old: Option<&Value>) {
    let old_spec = old
        .and_then(|o| o.get("spec"))
        .and_then(Value::as_object)
        .cloned();
    let Some(spec) = new.as_object_mut().and_then(|r| ensure_obj(r, "spec")) else {
        return;
    };
    let Some(old) = old_spec else {
        let ip = str_of(spec, "clusterIP").to_owned();
        if !ip.is_empty() && is_empty_list(spec, "clusterIPs") {
            spec.insert("clusterIPs".to_owned(), json!([ip]));
        }
        return;
    };
    let needs_ip = |s: &Map<String, Value>| str_of(s, "type") != "ExternalName";

    // dropTypeDependentFields: changing the type away from NodePort or
    // LoadBalancer drops the node ports and traffic policy the old type
    // needed, unless the client changed them itself.
    if needs_node_port(&old) && !needs_node_port(spec) {
        let old_ports = old
            .get("ports")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        each_obj(spec, "ports", |p| {
            let kept = p
                .get("nodePort")
                .is_some_and(|np| old_ports.iter().any(|o| o.get("nodePort") == Some(np)));
            if kept {
                p.remove("nodePort");
            }
        });
        if spec.get("externalTrafficPolicy") == old.get("externalTrafficPolicy") {
            spec.remove("externalTrafficPolicy");
        }
        if spec.get("healthCheckNodePort") == old.get("healthCheckNodePort") {
            spec.remove("healthCheckNodePort");
        }
    }

    // patchAllocatedValues: a resubmitted manifest keeps what was allocated.
    if needs_ip(&old) && needs_ip(spec) {
        if str_of(spec, "clusterIP").is_empty() && !str_of(&old, "clusterIP").is_empty() {
            spec.insert("clusterIP".to_owned(), json!(str_of(&old, "clusterIP")));
        }
        if is_empty_list(spec, "clusterIPs") && !is_empty_list(&old, "clusterIPs") {
            spec.insert("clusterIPs".to_owned(), json!(str_list(&old, "clusterIPs")));
        }
    }
    if needs_node_port(&old) && needs_node_port(spec) {
        let by_name: Vec<(String, Value)> = old
            .get("ports")
            .and_then(Value::as_array)
            .map(|ports| {
                ports
                    .iter()
                    .map(|p| {
                        let name = p
                            .get("name")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_owned();
                        (name, p.get("nodePort").cloned().unwrap_or(Value::Null))
                    })
                    .collect()
            })
            .unwrap_or_default();
        each_obj(spec, "ports", |p| {
            let unset = p
                .get("nodePort")
                .is_none_or(|n| n.is_null() || n.as_i64() == Some(0));
            if unset {
                let name = str_of(p, "name").to_owned();
                if let Some((_, np)) = by_name.iter().rev().find(|(n, _)| *n == name)
                    && !np.is_null()
                {
                    p.insert("nodePort".to_owned(), np.clone());
                }
            }
        });
    }
    if needs_health_check(&old) && needs_health_check(spec) {
        let unset = spec
            .get("healthCheckNodePort")
            .is_none_or(|n| n.is_null() || n.as_i64() == Some(0));
        if unset && let Some(hc) = old.get("healthCheckNodePort") {
            spec.insert("healthCheckNodePort".to_owned(), hc.clone());
        }
    }

    // NormalizeClusterIPs for updates.
    let (old_ip, old_ips) = (
        str_of(&old, "clusterIP").to_owned(),
        str_list(&old, "clusterIPs"),
    );
    if !old_ips.is_empty()
        && is_empty_list(spec, "clusterIPs")
        && old_ip == str_of(spec, "clusterIP")
    {
        spec.insert("clusterIPs".to_owned(), json!(old_ips.clone()));
    }
    let new_ip = str_of(spec, "clusterIP").to_owned();
    if old_ip != new_ip && str_list(spec, "clusterIPs") == old_ips {
        if !old_ip.is_empty() && new_ip.is_empty() {
            spec.remove("clusterIPs");
        } else {
            spec.insert("clusterIPs".to_owned(), json!([new_ip]));
        }
    }

    // dropTypeDependentFields: wipe only what the user did not also change.
    if needs_ip(&old) && !needs_ip(spec) {
        if str_of(spec, "clusterIP") == old_ip && str_list(spec, "clusterIPs") == old_ips {
            spec.remove("clusterIP");
            spec.remove("clusterIPs");
        }
        if str_list(spec, "ipFamilies") == str_list(&old, "ipFamilies") {
            spec.remove("ipFamilies");
        }
        if str_of(spec, "ipFamilyPolicy") == str_of(&old, "ipFamilyPolicy") {
            spec.remove("ipFamilyPolicy");
        }
    }
    if needs_node_port(&old) && !needs_node_port(spec) {
        let old_ports = node_ports(&old);
        if node_ports(spec).iter().all(|n| old_ports.contains(n)) {
            each_obj(spec, "ports", |p| {
                p.remove("nodePort");
            });
        }
    }
    if needs_health_check(&old)
        && !needs_health_check(spec)
        && spec.get("healthCheckNodePort") == old.get("healthCheckNodePort")
    {
        spec.remove("healthCheckNodePort");
    }
    if str_of(&old, "type") == "LoadBalancer" && str_of(spec, "type") != "LoadBalancer" {
        let (n, o) = (
            spec.get("allocateLoadBalancerNodePorts"),
            old.get("allocateLoadBalancerNodePorts"),
        );
        if n.is_some_and(|v| !v.is_null()) && n == o {
            spec.remove("allocateLoadBalancerNodePorts");
        }
        if spec.get("loadBalancerClass") == old.get("loadBalancerClass") {
            spec.remove("loadBalancerClass");
        }
    }

    // trimFieldsForDualStackDowngrade.
    let old_dual = matches!(
        str_of(&old, "ipFamilyPolicy"),
        "RequireDualStack" | "PreferDualStack"
    );
    if old_dual && str_of(spec, "ipFamilyPolicy") == "SingleStack" {
        for key in ["clusterIPs", "ipFamilies"] {
            let mut items = str_list(spec, key);
            if items.len() > 1 {
                items.truncate(1);
                set_or_remove_list(spec, key, items);
            }
        }
    }
}

// ---- updates ----

/// What kube-apiserver copies from the stored object into an update before
/// validating it (`rest.BeforeUpdate` and the unconditional-update path): a
/// missing `uid` and `resourceVersion`, and always `creationTimestamp` and
/// `generation` (the latter is bumped afterwards by the kind's strategy).
pub fn prepare_update_metadata(new: &mut Value, old: &Value) {
    let Some(old_meta) = old.get("metadata").and_then(Value::as_object) else {
        return;
    };
    let Some(meta) = new.as_object_mut().and_then(|r| ensure_obj(r, "metadata")) else {
        return;
    };
    for key in ["uid", "resourceVersion"] {
        if str_of(meta, key).is_empty()
            && let Some(v) = old_meta.get(key)
        {
            meta.insert(key.to_owned(), v.clone());
        }
    }
    for key in ["creationTimestamp", "generation"] {
        match old_meta.get(key) {
            Some(v) if !v.is_null() => {
                meta.insert(key.to_owned(), v.clone());
            }
            _ => {}
        }
    }
}

// ---- other kinds ----

fn base64_encode(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                let idx = usize::try_from((n >> (18 - 6 * i)) & 0x3f).unwrap_or(0);
                out.push(char::from(TABLE.get(idx).copied().unwrap_or(b'A')));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn default_secret(root: &mut Map<String, Value>) {
    default_str(root, "type", "Opaque");
    // stringData is write-only: kube-apiserver folds it into data when decoding.
    let Some(Value::Object(string_data)) = root.remove("stringData") else {
        return;
    };
    if let Some(data) = ensure_obj(root, "data") {
        for (k, v) in string_data {
            if let Some(s) = v.as_str() {
                data.insert(k, json!(base64_encode(s.as_bytes())));
            }
        }
    }
}

fn default_namespace(root: &mut Map<String, Value>) {
    let name = root
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    if !name.is_empty() {
        // kube-apiserver always sets this label to the name, even over a user value.
        if let Some(labels) = ensure_obj(root, "metadata").and_then(|m| ensure_obj(m, "labels")) {
            labels.insert("kubernetes.io/metadata.name".to_owned(), json!(name));
        }
    }
    if let Some(status) = ensure_obj(root, "status") {
        default_str(status, "phase", "Active");
    }
}

fn default_network_policy(spec: &mut Map<String, Value>) {
    for rules in ["ingress", "egress"] {
        each_obj(spec, rules, |rule| {
            each_obj(rule, "ports", |p| default_val(p, "protocol", json!("TCP")));
        });
    }
    if is_empty_list(spec, "policyTypes") {
        let mut types = vec!["Ingress"];
        if !is_empty_list(spec, "egress") {
            types.push("Egress");
        }
        spec.insert("policyTypes".to_owned(), json!(types));
    }
}

fn default_subject(subject: &mut Map<String, Value>) {
    if str_of(subject, "apiGroup").is_empty() {
        match str_of(subject, "kind") {
            "User" | "Group" => {
                subject.insert("apiGroup".to_owned(), json!(RBAC_GROUP));
            }
            "ServiceAccount" => {
                subject.insert("apiGroup".to_owned(), json!(""));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaving_node_port_drops_its_fields_unless_the_client_changed_them() {
        let old = json!({"spec": {"type": "NodePort", "externalTrafficPolicy": "Cluster",
                                  "ports": [{"port": 80, "nodePort": 30086}]}});
        let mut new = json!({"spec": {"type": "ClusterIP", "externalTrafficPolicy": "Cluster",
                                      "ports": [{"port": 80, "nodePort": 30086}]}});
        prepare_service(&mut new, Some(&old));
        assert!(new["spec"]["ports"][0].get("nodePort").is_none());
        assert!(new["spec"].get("externalTrafficPolicy").is_none());

        let mut changed = json!({"spec": {"type": "ClusterIP", "externalTrafficPolicy": "Local",
                                          "ports": [{"port": 80, "nodePort": 31000}]}});
        prepare_service(&mut changed, Some(&old));
        assert_eq!(
            changed["spec"]["ports"][0]["nodePort"], 31000,
            "the client's own value stays"
        );
        assert_eq!(changed["spec"]["externalTrafficPolicy"], "Local");
    }
    use proptest::prelude::*;

    fn defaulted(kind: &str, v: Value) -> Value {
        let mut v = v;
        apply_defaults(kind, &mut v);
        v
    }

    #[test]
    fn service_defaults() {
        let v = defaulted("Service", json!({"spec": {"ports": [{"port": 80}]}}));
        assert_eq!(
            v["spec"],
            json!({"sessionAffinity": "None", "type": "ClusterIP", "internalTrafficPolicy": "Cluster",
                "ipFamilyPolicy": "SingleStack", "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}]})
        );
        let lb = defaulted(
            "Service",
            json!({"spec": {"type": "LoadBalancer", "ports": [{"port": 80, "targetPort": "http"}]}}),
        );
        assert_eq!(lb["spec"]["externalTrafficPolicy"], json!("Cluster"));
        assert_eq!(lb["spec"]["allocateLoadBalancerNodePorts"], json!(true));
        assert_eq!(lb["spec"]["ports"][0]["targetPort"], json!("http"));
        let ext = defaulted(
            "Service",
            json!({"spec": {"type": "ExternalName", "externalName": "a.b"}}),
        );
        assert!(ext["spec"].get("ipFamilyPolicy").is_none());
        assert!(ext["spec"].get("internalTrafficPolicy").is_none());
        let sticky = defaulted("Service", json!({"spec": {"sessionAffinity": "ClientIP"}}));
        assert_eq!(
            sticky["spec"]["sessionAffinityConfig"],
            json!({"clientIP": {"timeoutSeconds": 10800}})
        );
    }

    #[test]
    fn pod_defaults() {
        let v = defaulted(
            "Pod",
            json!({"spec": {"containers": [
            {"name": "a", "image": "nginx", "ports": [{"containerPort": 80}],
             "livenessProbe": {"httpGet": {"port": 80}},
             "resources": {"limits": {"cpu": "1"}}},
            {"name": "b", "image": "nginx:1.27"},
            {"name": "c", "image": "registry:5000/app@sha256:abc"},
            {"name": "d", "image": "app:latest"}],
            "volumes": [{"name": "scratch"}, {"name": "s", "secret": {"secretName": "x"}}]}}),
        );
        let spec = &v["spec"];
        assert_eq!(spec["restartPolicy"], json!("Always"));
        assert_eq!(spec["dnsPolicy"], json!("ClusterFirst"));
        assert_eq!(spec["terminationGracePeriodSeconds"], json!(30));
        assert_eq!(spec["schedulerName"], json!("default-scheduler"));
        assert_eq!(spec["securityContext"], json!({}));
        assert_eq!(spec["enableServiceLinks"], json!(true));
        let c = &spec["containers"];
        assert_eq!(c[0]["imagePullPolicy"], json!("Always"));
        assert_eq!(c[1]["imagePullPolicy"], json!("IfNotPresent"));
        assert_eq!(c[2]["imagePullPolicy"], json!("IfNotPresent"));
        assert_eq!(c[3]["imagePullPolicy"], json!("Always"));
        assert_eq!(
            c[0]["terminationMessagePath"],
            json!("/dev/termination-log")
        );
        assert_eq!(c[0]["terminationMessagePolicy"], json!("File"));
        assert_eq!(c[0]["ports"][0]["protocol"], json!("TCP"));
        assert_eq!(
            c[0]["livenessProbe"],
            json!({"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1,
                "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
        );
        assert_eq!(c[0]["resources"]["requests"], json!({"cpu": "1"}));
        assert_eq!(spec["volumes"][0]["emptyDir"], json!({}));
        assert_eq!(spec["volumes"][1]["secret"]["defaultMode"], json!(420));
    }

    #[test]
    fn image_tags() {
        for (image, tag) in [
            ("nginx", "latest"),
            ("nginx:1.27", "1.27"),
            ("localhost:5000/nginx", "latest"),
            ("localhost:5000/nginx:v1", "v1"),
            ("nginx@sha256:abc", ""),
            ("nginx:v2@sha256:abc", "v2"),
            ("Nginx", ""),
            ("", ""),
        ] {
            assert_eq!(image_tag(image), tag, "{image}");
        }
    }

    #[test]
    fn deployment_defaults() {
        let v = defaulted(
            "Deployment",
            json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "x:1"}]}}}}),
        );
        let spec = &v["spec"];
        assert_eq!(spec["replicas"], json!(1));
        assert_eq!(
            spec["strategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
        );
        assert_eq!(spec["revisionHistoryLimit"], json!(10));
        assert_eq!(spec["progressDeadlineSeconds"], json!(600));
        assert_eq!(spec["template"]["spec"]["restartPolicy"], json!("Always"));
        assert!(spec["template"]["spec"].get("enableServiceLinks").is_none());
        let recreate = defaulted(
            "Deployment",
            json!({"spec": {"strategy": {"type": "Recreate"}}}),
        );
        assert!(recreate["spec"]["strategy"].get("rollingUpdate").is_none());
        let rs = defaulted("ReplicaSet", json!({"spec": {}}));
        assert_eq!(rs["spec"]["replicas"], json!(1));
    }

    #[test]
    fn other_kind_defaults() {
        let s = defaulted(
            "Secret",
            json!({"stringData": {"user": "admin"}, "data": {"x": "eA=="}}),
        );
        assert_eq!(
            s,
            json!({"type": "Opaque", "data": {"x": "eA==", "user": "YWRtaW4="}})
        );
        let ns = defaulted("Namespace", json!({"metadata": {"name": "team"}}));
        assert_eq!(
            ns["metadata"]["labels"]["kubernetes.io/metadata.name"],
            json!("team")
        );
        assert_eq!(ns["status"]["phase"], json!("Active"));
        let es = defaulted("EndpointSlice", json!({"ports": [{"port": 80}]}));
        assert_eq!(
            es["ports"][0],
            json!({"port": 80, "name": "", "protocol": "TCP"})
        );
        let np = defaulted(
            "NetworkPolicy",
            json!({"spec": {"egress": [{"ports": [{"port": 53}]}]}}),
        );
        assert_eq!(np["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
        assert_eq!(
            np["spec"]["egress"][0]["ports"][0]["protocol"],
            json!("TCP")
        );
        let rb = defaulted(
            "RoleBinding",
            json!({"roleRef": {"kind": "Role", "name": "r"}, "subjects": [{"kind": "User", "name": "u"}]}),
        );
        assert_eq!(rb["roleRef"]["apiGroup"], json!(RBAC_GROUP));
        assert_eq!(rb["subjects"][0]["apiGroup"], json!(RBAC_GROUP));
        assert_eq!(base64_encode(b""), "");
        assert_eq!(base64_encode(b"ab"), "YWI=");
        assert_eq!(base64_encode(b"abc"), "YWJj");
    }

    #[test]
    fn user_values_are_kept() {
        let cases = [
            (
                "Service",
                json!({"spec": {"type": "NodePort", "sessionAffinity": "ClientIP",
                "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}},
                "externalTrafficPolicy": "Local", "internalTrafficPolicy": "Local", "ipFamilyPolicy": "PreferDualStack",
                "ports": [{"port": 80, "protocol": "UDP", "targetPort": 53}]}}),
            ),
            (
                "Pod",
                json!({"spec": {"restartPolicy": "Never", "dnsPolicy": "Default", "terminationGracePeriodSeconds": 5,
                "schedulerName": "mine", "enableServiceLinks": false, "securityContext": {"runAsUser": 1000},
                "containers": [{"name": "a", "image": "nginx", "imagePullPolicy": "Never",
                    "terminationMessagePath": "/tmp/t", "terminationMessagePolicy": "FallbackToLogsOnError",
                    "ports": [{"containerPort": 53, "protocol": "UDP"}],
                    "readinessProbe": {"exec": {"command": ["true"]}, "timeoutSeconds": 5, "periodSeconds": 3,
                        "successThreshold": 2, "failureThreshold": 7}}]}}),
            ),
            (
                "Deployment",
                json!({"spec": {"replicas": 0, "revisionHistoryLimit": 2, "progressDeadlineSeconds": 60,
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                "template": {"spec": {"restartPolicy": "Always", "dnsPolicy": "None", "containers": []}}}}),
            ),
            ("Secret", json!({"type": "kubernetes.io/tls", "data": {}})),
            (
                "EndpointSlice",
                json!({"ports": [{"name": "dns", "protocol": "UDP"}]}),
            ),
        ];
        for (kind, obj) in cases {
            let out = defaulted(kind, obj.clone());
            assert!(contains(&out, &obj), "{kind}: {out:#}");
        }
    }

    /// Whether every value in `want` appears unchanged in `got`.
    fn contains(got: &Value, want: &Value) -> bool {
        match (got, want) {
            (Value::Object(g), Value::Object(w)) => w
                .iter()
                .all(|(k, wv)| g.get(k).is_some_and(|gv| contains(gv, wv))),
            (Value::Array(g), Value::Array(w)) => {
                g.len() == w.len() && g.iter().zip(w).all(|(a, b)| contains(a, b))
            }
            (g, w) => g == w,
        }
    }

    #[test]
    fn defaults_are_idempotent() {
        let kinds = [
            (
                "Pod",
                json!({"spec": {"hostNetwork": true, "containers": [{"name": "a", "image": "n", "ports": [{"containerPort": 80}],
                "resources": {"limits": {"memory": "1Gi"}}}], "volumes": [{"name": "v"}]}}),
            ),
            (
                "Service",
                json!({"spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}}),
            ),
            ("Deployment", json!({"spec": {}})),
            ("ReplicaSet", json!({})),
            ("Secret", json!({"stringData": {"a": "b"}})),
            ("Namespace", json!({"metadata": {"name": "n"}})),
            ("EndpointSlice", json!({"ports": [{}]})),
            ("Endpoints", json!({"subsets": [{"ports": [{"port": 1}]}]})),
            ("NetworkPolicy", json!({})),
            (
                "IngressClass",
                json!({"spec": {"parameters": {"kind": "K", "name": "n"}}}),
            ),
            (
                "ClusterRoleBinding",
                json!({"roleRef": {}, "subjects": [{"kind": "Group", "name": "g"}]}),
            ),
            ("ConfigMap", json!({"data": {}})),
        ];
        for (kind, obj) in kinds {
            let once = defaulted(kind, obj);
            let twice = defaulted(kind, once.clone());
            assert_eq!(once, twice, "{kind}");
        }
    }

    #[test]
    fn prepare_service_update_carries_allocations() {
        let old = json!({"spec": {"type": "NodePort", "clusterIP": "10.0.0.5", "clusterIPs": ["10.0.0.5"],
            "ports": [{"name": "http", "port": 80, "nodePort": 30080}]}});
        let mut new =
            json!({"spec": {"type": "NodePort", "ports": [{"name": "http", "port": 80}]}});
        prepare_service(&mut new, Some(&old));
        assert_eq!(new["spec"]["clusterIP"], json!("10.0.0.5"));
        assert_eq!(new["spec"]["clusterIPs"], json!(["10.0.0.5"]));
        assert_eq!(new["spec"]["ports"][0]["nodePort"], json!(30080));

        let mut to_cluster_ip = old.clone();
        to_cluster_ip["spec"]["type"] = json!("ClusterIP");
        prepare_service(&mut to_cluster_ip, Some(&old));
        assert!(to_cluster_ip["spec"]["ports"][0].get("nodePort").is_none());

        let mut to_external = old.clone();
        to_external["spec"]["type"] = json!("ExternalName");
        prepare_service(&mut to_external, Some(&old));
        assert!(to_external["spec"].get("clusterIP").is_none());
        assert!(to_external["spec"].get("clusterIPs").is_none());

        let mut created = json!({"spec": {"clusterIP": "None"}});
        prepare_service(&mut created, None);
        assert_eq!(created["spec"]["clusterIPs"], json!(["None"]));
    }

    #[test]
    fn update_metadata_comes_from_the_stored_object() {
        let old = json!({"metadata": {"name": "a", "uid": "u1", "resourceVersion": "9",
            "creationTimestamp": "2024-01-02T03:04:05Z", "generation": 4}});
        let mut new = json!({"metadata": {"name": "a", "creationTimestamp": "2030-01-01T00:00:00Z", "generation": 1}});
        prepare_update_metadata(&mut new, &old);
        assert_eq!(new, old);
        let mut conditional =
            json!({"metadata": {"name": "a", "uid": "u1", "resourceVersion": "8"}});
        prepare_update_metadata(&mut conditional, &old);
        assert_eq!(conditional["metadata"]["resourceVersion"], json!("8"));
    }

    proptest! {
        // Defaulting a Service twice never differs from defaulting it once,
        // whatever subset of fields the user set.
        #[test]
        fn service_defaults_idempotent(
            ty in prop::option::of(prop::sample::select(vec!["ClusterIP", "NodePort", "LoadBalancer", "ExternalName", ""])),
            affinity in prop::option::of(prop::sample::select(vec!["None", "ClientIP", ""])),
            port in 0i64..70000,
            target in prop::option::of(0i64..70000),
        ) {
            let mut spec = Map::new();
            if let Some(t) = ty { spec.insert("type".into(), json!(t)); }
            if let Some(a) = affinity { spec.insert("sessionAffinity".into(), json!(a)); }
            let mut p = Map::new();
            p.insert("port".into(), json!(port));
            if let Some(t) = target { p.insert("targetPort".into(), json!(t)); }
            spec.insert("ports".into(), json!([p]));
            let once = defaulted("Service", json!({"spec": spec}));
            let twice = defaulted("Service", once.clone());
            prop_assert_eq!(&once, &twice);
            let tp = once["spec"]["ports"][0]["targetPort"].as_i64();
            prop_assert!(tp.is_some_and(|t| t != 0 || port == 0));
        }
    }
}
