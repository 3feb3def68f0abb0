//! Pod and pod-template validation (`ValidatePodCreate`, `ValidatePodUpdate`,
//! `ValidatePodSpec`, `ValidatePodTemplateSpec` of `pkg/apis/core/validation`).
//!
//! Covers containers, init and ephemeral containers, ports, env, probes,
//! volumes and mounts, resources, scheduling fields and the pod update rules.
//! Rarely used volume plugins are only counted (one source per volume), not
//! checked field by field. Must not default anything: run on defaulted pods.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{
    Container, EnvFromSource, EnvVar, EphemeralContainer, Lifecycle, LifecycleHandler, Pod,
    PodSpec, PodTemplateSpec, Probe, ResourceRequirements, SecurityContext, Toleration, Volume,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::meta::{self, IS_NEGATIVE, Scope};
use super::names::{self, inclusive_range_error};
use super::{BadValue, FieldCause, Path, ip, opt_str, opt_vec, quantity};

const MAX_INT32: i64 = i32::MAX as i64;
const FILE_MODE_ERROR: &str = "must be a number between 0 and 0777 (octal), both inclusive";
const PORT_PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
const MAX_DNS_NAMESERVERS: usize = 3;
const MAX_DNS_SEARCH_PATHS: usize = 32;
const MAX_DNS_SEARCH_LIST_CHARS: usize = 2048;

/// Context that changes how a pod spec is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PodOptions {
    /// The spec belongs to a Pod, not a template inside a workload.
    pub resource_is_pod: bool,
}

/// What a volume name refers to, for mount and device checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum VolumeKind {
    ClaimBacked,
    Other,
}

// ---- paths and small helpers ----

fn validate_dns1123_label(value: &str, path: &Path) -> Vec<FieldCause> {
    names::is_dns1123_label(value)
        .iter()
        .map(|msg| FieldCause::invalid(path, value, msg))
        .collect()
}

fn validate_dns1123_subdomain(value: &str, path: &Path) -> Vec<FieldCause> {
    names::is_dns1123_subdomain(value)
        .iter()
        .map(|msg| FieldCause::invalid(path, value, msg))
        .collect()
}

fn validate_qualified_name(value: &str, path: &Path) -> Vec<FieldCause> {
    names::is_qualified_name(value)
        .iter()
        .map(|msg| FieldCause::invalid(path, value, msg))
        .collect()
}

fn validate_path_no_backsteps(target: &str, path: &Path) -> Vec<FieldCause> {
    if target.split(['/', '\\']).any(|part| part == "..") {
        vec![FieldCause::invalid(path, target, "must not contain '..'")]
    } else {
        Vec::new()
    }
}

fn validate_local_descending_path(target: &str, path: &Path) -> Vec<FieldCause> {
    let mut errs = Vec::new();
    if target.starts_with('/') {
        errs.push(FieldCause::invalid(path, target, "must be a relative path"));
    }
    errs.extend(validate_path_no_backsteps(target, path));
    errs
}

fn validate_local_non_reserved_path(target: &str, path: &Path) -> Vec<FieldCause> {
    let mut errs = validate_local_descending_path(target, path);
    if target.starts_with("..") {
        errs.push(FieldCause::invalid(
            path,
            target,
            "must not start with '..'",
        ));
    }
    errs
}

fn validate_file_mode(mode: Option<i32>, path: &Path) -> Vec<FieldCause> {
    match mode {
        Some(m) if !(0..=0o777).contains(&m) => vec![FieldCause::invalid(path, m, FILE_MODE_ERROR)],
        _ => Vec::new(),
    }
}

/// `ValidatePortNumOrName` for an IntOrString port.
pub fn validate_port_num_or_name(port: Option<&IntOrString>, path: &Path) -> Vec<FieldCause> {
    match port {
        Some(IntOrString::String(name)) => names::is_valid_port_name(name)
            .iter()
            .map(|msg| FieldCause::invalid(path, name.as_str(), msg))
            .collect(),
        Some(IntOrString::Int(n)) => names::is_valid_port_num(i64::from(*n))
            .iter()
            .map(|msg| FieldCause::invalid(path, *n, msg))
            .collect(),
        None => names::is_valid_port_num(0)
            .iter()
            .map(|msg| FieldCause::invalid(path, 0, msg))
            .collect(),
    }
}

// ---- volumes ----

fn validate_key_to_paths(
    items: &[k8s_openapi::api::core::v1::KeyToPath],
    path: &Path,
) -> Vec<FieldCause> {
    let mut errs = Vec::new();
    for (i, kp) in items.iter().enumerate() {
        let p = path.index(i);
        if kp.key.is_empty() {
            errs.push(FieldCause::required(&p.child("key"), ""));
        }
        if kp.path.is_empty() {
            errs.push(FieldCause::required(&p.child("path"), ""));
        }
        errs.extend(validate_local_non_reserved_path(&kp.path, &p.child("path")));
        errs.extend(validate_file_mode(kp.mode, &p.child("mode")));
    }
    errs
}

/// Checks the one source a volume must name; returns its errors and what it is.
fn validate_volume_source(vol: &Volume, path: &Path) -> (Vec<FieldCause>, VolumeKind) {
    let mut errs = Vec::new();
    let mut count = 0usize;
    let mut kind = VolumeKind::Other;
    // Go's order of checks decides which extra source is reported as forbidden.
    let present: &[(&str, bool)] = &[
        ("emptyDir", vol.empty_dir.is_some()),
        ("hostPath", vol.host_path.is_some()),
        ("gitRepo", vol.git_repo.is_some()),
        ("gcePersistentDisk", vol.gce_persistent_disk.is_some()),
        (
            "awsElasticBlockStore",
            vol.aws_elastic_block_store.is_some(),
        ),
        ("secret", vol.secret.is_some()),
        ("nfs", vol.nfs.is_some()),
        ("iscsi", vol.iscsi.is_some()),
        ("glusterfs", vol.glusterfs.is_some()),
        ("flocker", vol.flocker.is_some()),
        (
            "persistentVolumeClaim",
            vol.persistent_volume_claim.is_some(),
        ),
        ("rbd", vol.rbd.is_some()),
        ("cinder", vol.cinder.is_some()),
        ("cephFS", vol.cephfs.is_some()),
        ("quobyte", vol.quobyte.is_some()),
        ("downwarAPI", vol.downward_api.is_some()),
        ("fc", vol.fc.is_some()),
        ("flexVolume", vol.flex_volume.is_some()),
        ("configMap", vol.config_map.is_some()),
        ("azureFile", vol.azure_file.is_some()),
        ("vsphereVolume", vol.vsphere_volume.is_some()),
        ("photonPersistentDisk", vol.photon_persistent_disk.is_some()),
        ("portworxVolume", vol.portworx_volume.is_some()),
        ("azureDisk", vol.azure_disk.is_some()),
        ("storageos", vol.storageos.is_some()),
        ("projected", vol.projected.is_some()),
        ("scaleIO", vol.scale_io.is_some()),
        ("csi", vol.csi.is_some()),
        ("ephemeral", vol.ephemeral.is_some()),
        ("image", vol.image.is_some()),
    ];
    for &(name, is_set) in present {
        if !is_set {
            continue;
        }
        if count > 0 {
            errs.push(FieldCause::forbidden(
                &path.child(name),
                "may not specify more than 1 volume type",
            ));
            continue;
        }
        count += 1;
        match name {
            "emptyDir" => {
                let limit = vol.empty_dir.as_ref().and_then(|e| e.size_limit.as_ref());
                if limit
                    .and_then(|q| quantity::parse(&q.0))
                    .is_some_and(|n| n.0 < 0)
                {
                    errs.push(FieldCause::forbidden(
                        &path.child("emptyDir").child("sizeLimit"),
                        "SizeLimit field must be a valid resource quantity",
                    ));
                }
            }
            "hostPath" => {
                if let Some(hp) = &vol.host_path {
                    let p = path.child("hostPath").child("path");
                    if hp.path.is_empty() {
                        errs.push(FieldCause::required(&p, ""));
                    } else {
                        errs.extend(validate_path_no_backsteps(&hp.path, &p));
                        let t = opt_str(&hp.type_);
                        const TYPES: &[&str] = &[
                            "",
                            "BlockDevice",
                            "CharDevice",
                            "Directory",
                            "DirectoryOrCreate",
                            "File",
                            "FileOrCreate",
                            "Socket",
                        ];
                        if !TYPES.contains(&t) {
                            errs.push(FieldCause::not_supported(
                                &path.child("hostPath").child("type"),
                                t,
                                TYPES,
                            ));
                        }
                    }
                }
            }
            "secret" => {
                if let Some(s) = &vol.secret {
                    let p = path.child("secret");
                    if opt_str(&s.secret_name).is_empty() {
                        errs.push(FieldCause::required(&p.child("secretName"), ""));
                    }
                    errs.extend(validate_file_mode(s.default_mode, &p.child("defaultMode")));
                    errs.extend(validate_key_to_paths(opt_vec(&s.items), &p.child("items")));
                }
            }
            "configMap" => {
                if let Some(c) = &vol.config_map {
                    let p = path.child("configMap");
                    if c.name.is_empty() {
                        errs.push(FieldCause::required(&p.child("name"), ""));
                    }
                    errs.extend(validate_file_mode(c.default_mode, &p.child("defaultMode")));
                    errs.extend(validate_key_to_paths(opt_vec(&c.items), &p.child("items")));
                }
            }
            "persistentVolumeClaim" => {
                kind = VolumeKind::ClaimBacked;
                if vol
                    .persistent_volume_claim
                    .as_ref()
                    .is_some_and(|c| c.claim_name.is_empty())
                {
                    errs.push(FieldCause::required(
                        &path.child("persistentVolumeClaim").child("claimName"),
                        "",
                    ));
                }
            }
            "ephemeral" => kind = VolumeKind::ClaimBacked,
            "nfs" => {
                if let Some(n) = &vol.nfs {
                    let p = path.child("nfs");
                    if n.server.is_empty() {
                        errs.push(FieldCause::required(&p.child("server"), ""));
                    }
                    if n.path.is_empty() {
                        errs.push(FieldCause::required(&p.child("path"), ""));
                    }
                    if !n.path.starts_with('/') {
                        errs.push(FieldCause::invalid(
                            &p.child("path"),
                            n.path.as_str(),
                            "must be an absolute path",
                        ));
                    }
                }
            }
            "csi" if vol.csi.as_ref().is_some_and(|c| c.driver.is_empty()) => {
                errs.push(FieldCause::required(&path.child("csi").child("driver"), ""));
            }
            "downwarAPI" => {
                if let Some(d) = &vol.downward_api {
                    let p = path.child("downwardAPI");
                    errs.extend(validate_file_mode(d.default_mode, &p.child("defaultMode")));
                    for (i, item) in opt_vec(&d.items).iter().enumerate() {
                        let ip = p.child("items").index(i);
                        if item.path.is_empty() {
                            errs.push(FieldCause::required(&ip.child("path"), ""));
                        }
                        errs.extend(validate_local_non_reserved_path(
                            &item.path,
                            &ip.child("path"),
                        ));
                        errs.extend(validate_file_mode(item.mode, &ip.child("mode")));
                    }
                }
            }
            "projected" => {
                if let Some(pr) = &vol.projected {
                    errs.extend(validate_file_mode(
                        pr.default_mode,
                        &path.child("projected").child("defaultMode"),
                    ));
                }
            }
            _ => {}
        }
    }
    if count == 0 {
        errs.push(FieldCause::required(path, "must specify a volume type"));
    }
    (errs, kind)
}

fn validate_volumes(
    volumes: &[Volume],
    path: &Path,
) -> (BTreeMap<String, VolumeKind>, Vec<FieldCause>) {
    let mut errs = Vec::new();
    let mut known = BTreeMap::new();
    for (i, vol) in volumes.iter().enumerate() {
        let p = path.index(i);
        let name_path = p.child("name");
        let (mut el, kind) = validate_volume_source(vol, &p);
        if vol.name.is_empty() {
            el.push(FieldCause::required(&name_path, ""));
        } else {
            el.extend(validate_dns1123_label(&vol.name, &name_path));
        }
        if known.contains_key(&vol.name) {
            el.push(FieldCause::duplicate(&name_path, vol.name.as_str()));
        }
        if el.is_empty() {
            known.insert(vol.name.clone(), kind);
        } else {
            errs.extend(el);
        }
    }
    (known, errs)
}

// ---- containers ----

const ENV_FIELD_PATHS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];

const CONVERTIBLE_FIELD_PATHS: &[&str] = &[
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.serviceAccountName",
    "spec.schedulerName",
    "status.phase",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];

const ENV_RESOURCES: &[&str] = &[
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
];

/// Splits `metadata.labels['key']` into (`metadata.labels`, `key`).
fn split_subscript(field_path: &str) -> Option<(&str, &str)> {
    let open = field_path.find("['")?;
    let inner = field_path.get(open + 2..)?.strip_suffix("']")?;
    Some((field_path.get(..open)?, inner))
}

fn validate_object_field_selector(
    api_version: &str,
    field_path: &str,
    expressions: &[&str],
    path: &Path,
) -> Vec<FieldCause> {
    if api_version.is_empty() {
        return vec![FieldCause::required(&path.child("apiVersion"), "")];
    }
    if field_path.is_empty() {
        return vec![FieldCause::required(&path.child("fieldPath"), "")];
    }
    if api_version != "v1" {
        return vec![FieldCause::invalid(
            &path.child("fieldPath"),
            field_path,
            &format!("error converting fieldPath: unsupported pod version: {api_version}"),
        )];
    }
    let (base, subscript) = match split_subscript(field_path) {
        Some((base, key)) => (base, Some(key)),
        None => (field_path, None),
    };
    let convertible = match subscript {
        Some(_) => base == "metadata.annotations" || base == "metadata.labels",
        None => CONVERTIBLE_FIELD_PATHS.contains(&base),
    };
    if !convertible {
        return vec![FieldCause::invalid(
            &path.child("fieldPath"),
            field_path,
            &format!("error converting fieldPath: field label not supported: {field_path}"),
        )];
    }
    match subscript {
        Some(key) if base == "metadata.annotations" => {
            validate_qualified_name(&key.to_lowercase(), path)
        }
        Some(key) => validate_qualified_name(key, path),
        None if !expressions.contains(&base) => {
            vec![FieldCause::not_supported(
                &path.child("fieldPath"),
                base,
                expressions,
            )]
        }
        None => Vec::new(),
    }
}

fn validate_name_ref(name: &str, path: &Path, prefix: bool) -> Vec<FieldCause> {
    names::name_is_dns_subdomain(name, prefix)
        .iter()
        .map(|msg| FieldCause::invalid(path, name, msg))
        .collect()
}

fn validate_key_ref(name: &str, key: &str, path: &Path) -> Vec<FieldCause> {
    let mut errs = validate_name_ref(name, &path.child("name"), false);
    if key.is_empty() {
        errs.push(FieldCause::required(&path.child("key"), ""));
    } else {
        for msg in names::is_config_map_key(key) {
            errs.push(FieldCause::invalid(&path.child("key"), key, &msg));
        }
    }
    errs
}

fn validate_env(vars: &[EnvVar], path: &Path) -> Vec<FieldCause> {
    let mut errs = Vec::new();
    for (i, ev) in vars.iter().enumerate() {
        let p = path.index(i);
        if ev.name.is_empty() {
            errs.push(FieldCause::required(&p.child("name"), ""));
        } else {
            for msg in names::is_relaxed_env_var_name(&ev.name) {
                errs.push(FieldCause::invalid(
                    &p.child("name"),
                    ev.name.as_str(),
                    &msg,
                ));
            }
        }
        let Some(from) = &ev.value_from else {
            continue;
        };
        let fp = p.child("valueFrom");
        let mut sources = 0;
        if let Some(f) = &from.field_ref {
            sources += 1;
            errs.extend(validate_object_field_selector(
                opt_str(&f.api_version),
                &f.field_path,
                ENV_FIELD_PATHS,
                &fp.child("fieldRef"),
            ));
        }
        if let Some(r) = &from.resource_field_ref {
            sources += 1;
            let rp = fp.child("resourceFieldRef");
            if r.resource.is_empty() {
                errs.push(FieldCause::required(&rp.child("resource"), ""));
            } else if !ENV_RESOURCES.contains(&r.resource.as_str())
                && !r.resource.starts_with("requests.hugepages-")
                && !r.resource.starts_with("limits.hugepages-")
            {
                errs.push(FieldCause::not_supported(
                    &rp.child("resource"),
                    r.resource.as_str(),
                    ENV_RESOURCES,
                ));
            }
        }
        if let Some(c) = &from.config_map_key_ref {
            sources += 1;
            errs.extend(validate_key_ref(
                &c.name,
                &c.key,
                &fp.child("configMapKeyRef"),
            ));
        }
        if let Some(s) = &from.secret_key_ref {
            sources += 1;
            errs.extend(validate_key_ref(&s.name, &s.key, &fp.child("secretKeyRef")));
        }
        if sources == 0 {
            errs.push(FieldCause::invalid(
                &fp,
                "",
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
            ));
        } else if !opt_str(&ev.value).is_empty() {
            errs.push(FieldCause::invalid(
                &fp,
                "",
                "may not be specified when `value` is not empty",
            ));
        } else if sources > 1 {
            errs.push(FieldCause::invalid(
                &fp,
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
    errs
}

fn validate_env_from(sources: &[EnvFromSource], path: &Path) -> Vec<FieldCause> {
    let mut errs = Vec::new();
    for (i, ev) in sources.iter().enumerate() {
        let p = path.index(i);
        let prefix = opt_str(&ev.prefix);
        if !prefix.is_empty() {
            for msg in names::is_relaxed_env_var_name(prefix) {
                errs.push(FieldCause::invalid(&p.child("prefix"), prefix, &msg));
            }
        }
        let mut count = 0;
        if let Some(c) = &ev.config_map_ref {
            count += 1;
            let np = p.child("configMapRef").child("name");
            if c.name.is_empty() {
                errs.push(FieldCause::required(&np, ""));
            } else {
                errs.extend(validate_name_ref(&c.name, &np, true));
            }
        }
        if let Some(s) = &ev.secret_ref {
            count += 1;
            let np = p.child("secretRef").child("name");
            if s.name.is_empty() {
                errs.push(FieldCause::required(&np, ""));
            } else {
                errs.extend(validate_name_ref(&s.name, &np, true));
            }
        }
        if count == 0 {
            errs.push(FieldCause::invalid(
                path,
                "",
                "must specify one of: `configMapRef` or `secretRef`",
            ));
        } else if count > 1 {
            errs.push(FieldCause::invalid(
                path,
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
    errs
}

fn validate_container_ports(
    ports: &[k8s_openapi::api::core::v1::ContainerPort],
    path: &Path,
) -> Vec<FieldCause> {
    let mut errs = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let p = path.index(i);
        let name = opt_str(&port.name);
        if !name.is_empty() {
            let msgs = names::is_valid_port_name(name);
            if !msgs.is_empty() {
                for msg in msgs {
                    errs.push(FieldCause::invalid(&p.child("name"), name, &msg));
                }
            } else if !seen.insert(name) {
                errs.push(FieldCause::duplicate(&p.child("name"), name));
            }
        }
        if port.container_port == 0 {
            errs.push(FieldCause::required(&p.child("containerPort"), ""));
        } else {
            for msg in names::is_valid_port_num(i64::from(port.container_port)) {
                errs.push(FieldCause::invalid(
                    &p.child("containerPort"),
                    port.container_port,
                    &msg,
                ));
            }
        }
        let host_port = port.host_port.unwrap_or(0);
        if host_port != 0 {
            for msg in names::is_valid_port_num(i64::from(host_port)) {
                errs.push(FieldCause::invalid(&p.child("hostPort"), host_port, &msg));
            }
        }
        let proto = opt_str(&port.protocol);
        if proto.is_empty() {
            errs.push(FieldCause::required(&p.child("protocol"), ""));
        } else if !PORT_PROTOCOLS.contains(&proto) {
            errs.push(FieldCause::not_supported(
                &p.child("protocol"),
                proto,
                PORT_PROTOCOLS,
            ));
        }
    }
    errs
}

fn validate_volume_mounts(
    ctr: &Container,
    volumes: &BTreeMap<String, VolumeKind>,
    path: &Path,
) -> Vec<FieldCause> {
    let mut errs = Vec::new();
    let mut mount_points = BTreeSet::new();
    let devices: BTreeMap<&str, &str> = opt_vec(&ctr.volume_devices)
        .iter()
        .map(|d| (d.name.as_str(), d.device_path.as_str()))
        .collect();
    for (i, mnt) in opt_vec(&ctr.volume_mounts).iter().enumerate() {
        let p = path.index(i);
        if mnt.name.is_empty() {
            errs.push(FieldCause::required(&p.child("name"), ""));
        }
        if !volumes.contains_key(&mnt.name) {
            errs.push(FieldCause::not_found(&p.child("name"), mnt.name.as_str()));
        }
        if mnt.mount_path.is_empty() {
            errs.push(FieldCause::required(&p.child("mountPath"), ""));
        }
        if !mount_points.insert(mnt.mount_path.as_str()) {
            errs.push(FieldCause::invalid(
                &p.child("mountPath"),
                mnt.mount_path.as_str(),
                "must be unique",
            ));
        }
        if devices.contains_key(mnt.name.as_str()) {
            errs.push(FieldCause::invalid(
                &p.child("name"),
                mnt.name.as_str(),
                "must not already exist in volumeDevices",
            ));
        }
        if devices.values().any(|d| *d == mnt.mount_path) {
            errs.push(FieldCause::invalid(
                &p.child("mountPath"),
                mnt.mount_path.as_str(),
                "must not already exist as a path in volumeDevices",
            ));
        }
        let sub_path = opt_str(&mnt.sub_path);
        if !sub_path.is_empty() {
            // kube-apiserver reports these on the list path, not the item.
            errs.extend(validate_local_descending_path(
                sub_path,
                &path.child("subPath"),
            ));
        }
        let sub_path_expr = opt_str(&mnt.sub_path_expr);
        if !sub_path_expr.is_empty() {
            if !sub_path.is_empty() {
                errs.push(FieldCause::invalid(
                    &p.child("subPathExpr"),
                    sub_path_expr,
                    "subPathExpr and subPath are mutually exclusive",
                ));
            }
            errs.extend(validate_local_descending_path(
                sub_path_expr,
                &path.child("subPathExpr"),
            ));
        }
        if let Some(mp) = &mnt.mount_propagation {
            const MODES: &[&str] = &["Bidirectional", "HostToContainer", "None"];
            if !MODES.contains(&mp.as_str()) {
                errs.push(FieldCause::not_supported(
                    &path.child("mountPropagation"),
                    mp.as_str(),
                    MODES,
                ));
            }
        }
    }
    for (i, dev) in opt_vec(&ctr.volume_devices).iter().enumerate() {
        let p = path.index(i);
        match volumes.get(&dev.name) {
            None => errs.push(FieldCause::not_found(&p.child("name"), dev.name.as_str())),
            Some(VolumeKind::Other) => errs.push(FieldCause::invalid(
                &p.child("name"),
                dev.name.as_str(),
                "can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode",
            )),
            Some(VolumeKind::ClaimBacked) => {}
        }
        if dev.device_path.is_empty() {
            errs.push(FieldCause::required(&p.child("devicePath"), ""));
        }
    }
    errs
}

fn is_hugepages(name: &str) -> bool {
    name.starts_with("hugepages-")
}

fn is_native_resource(name: &str) -> bool {
    match name.split_once('/') {
        None => true,
        Some((prefix, _)) => prefix == "kubernetes.io" || prefix.ends_with(".kubernetes.io"),
    }
}

fn overcommit_allowed(name: &str) -> bool {
    is_native_resource(name) && !is_hugepages(name)
}

fn validate_container_resource_name(name: &str, path: &Path) -> Vec<FieldCause> {
    let mut errs = validate_qualified_name(name, path);
    if !errs.is_empty() {
        return errs;
    }
    if !name.contains('/') {
        if !["cpu", "memory", "ephemeral-storage"].contains(&name) && !is_hugepages(name) {
            errs.push(FieldCause::invalid(
                path,
                name,
                "must be a standard resource type or fully qualified",
            ));
            errs.push(FieldCause::invalid(
                path,
                name,
                "must be a standard resource for containers",
            ));
        }
    } else if !is_native_resource(name) && name.starts_with("requests.") {
        errs.push(FieldCause::invalid(
            path,
            name,
            "doesn't follow extended resource name standard",
        ));
    }
    errs
}

fn validate_quantity_value(q: &str, path: &Path) -> Result<quantity::Nanos, Vec<FieldCause>> {
    match quantity::parse(q) {
        None => Err(vec![FieldCause::invalid(
            path,
            q,
            quantity::QUANTITY_SYNTAX,
        )]),
        Some(n) if n.0 < 0 => Err(vec![FieldCause::invalid(path, q, IS_NEGATIVE)]),
        Some(n) => Ok(n),
    }
}

/// Container resource requirements: names, non-negative quantities, requests ≤ limits.
pub fn validate_resources(req: Option<&ResourceRequirements>, path: &Path) -> Vec<FieldCause> {
    let Some(req) = req else {
        return Vec::new();
    };
    let mut errs = Vec::new();
    let lim_path = path.child("limits");
    let req_path = path.child("requests");
    let mut limits = BTreeMap::new();
    let (mut lim_cpu_mem, mut req_cpu_mem, mut huge) = (false, false, false);
    for (name, q) in req.limits.iter().flatten() {
        let p = lim_path.key(name);
        errs.extend(validate_container_resource_name(name, &p));
        match validate_quantity_value(&q.0, &p) {
            Ok(n) => {
                limits.insert(name.as_str(), (n, q.0.as_str()));
            }
            Err(e) => errs.extend(e),
        }
        huge |= is_hugepages(name);
        lim_cpu_mem |= name == "cpu" || name == "memory";
    }
    for (name, q) in req.requests.iter().flatten() {
        let p = req_path.key(name);
        errs.extend(validate_container_resource_name(name, &p));
        let value = match validate_quantity_value(&q.0, &p) {
            Ok(n) => Some(n),
            Err(e) => {
                errs.extend(e);
                None
            }
        };
        match (value, limits.get(name.as_str())) {
            (Some(v), Some((limit, limit_text))) => {
                if v != *limit && !overcommit_allowed(name) {
                    errs.push(FieldCause::invalid(
                        &req_path,
                        q.0.as_str(),
                        &format!("must be equal to {name} limit of {limit_text}"),
                    ));
                } else if v > *limit {
                    errs.push(FieldCause::invalid(
                        &req_path,
                        q.0.as_str(),
                        &format!("must be less than or equal to {name} limit of {limit_text}"),
                    ));
                }
            }
            (_, None) if !overcommit_allowed(name) => {
                errs.push(FieldCause::required(
                    &lim_path,
                    "Limit must be set for non overcommitable resources",
                ));
            }
            _ => {}
        }
        huge |= is_hugepages(name);
        req_cpu_mem |= name == "cpu" || name == "memory";
    }
    if huge && !lim_cpu_mem && !req_cpu_mem {
        errs.push(FieldCause::forbidden(
            path,
            "HugePages require cpu or memory",
        ));
    }
    errs
}

fn validate_pull_policy(policy: &str, path: &Path) -> Vec<FieldCause> {
    const POLICIES: &[&str] = &["Always", "IfNotPresent", "Never"];
    if policy.is_empty() {
        vec![FieldCause::required(path, "")]
    } else if !POLICIES.contains(&policy) {
        vec![FieldCause::not_supported(path, policy, POLICIES)]
    } else {
        Vec::new()
    }
}

fn validate_security_context(sc: Option<&SecurityContext>, path: &Path) -> Vec<FieldCause> {
    let Some(sc) = sc else {
        return Vec::new();
    };
    let mut errs = Vec::new();
    for (field, value) in [
        ("runAsUser", sc.run_as_user),
        ("runAsGroup", sc.run_as_group),
    ] {
        if let Some(v) = value {
            for msg in names::is_in_range(v, 0, MAX_INT32) {
                errs.push(FieldCause::invalid(&path.child(field), v, &msg));
            }
        }
    }
    if let Some(pm) = &sc.proc_mount
        && pm != "Default"
        && pm != "Unmasked"
    {
        errs.push(FieldCause::not_supported(
            &path.child("procMount"),
            pm.as_str(),
            &["Default", "Unmasked"],
        ));
    }
    if sc.allow_privilege_escalation == Some(false) && sc.privileged == Some(true) {
        errs.push(FieldCause::invalid(
            path,
            BadValue::Omit,
            "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
        ));
    }
    errs
}

/// `validateContainerCommon`: rules shared by regular, init and ephemeral containers.
fn validate_container_common(
    ctr: &Container,
    volumes: &BTreeMap<String, VolumeKind>,
    path: &Path,
) -> Vec<FieldCause> {
    let mut errs = Vec::new();
    let name_path = path.child("name");
    if ctr.name.is_empty() {
        errs.push(FieldCause::required(&name_path, ""));
    } else {
        errs.extend(validate_dns1123_label(&ctr.name, &name_path));
    }
    if opt_str(&ctr.image).is_empty() {
        errs.push(FieldCause::required(&path.child("image"), ""));
    }
    let tmp = opt_str(&ctr.termination_message_policy);
    const TMP: &[&str] = &["File", "FallbackToLogsOnError"];
    if tmp.is_empty() {
        errs.push(FieldCause::required(
            &path.child("terminationMessagePolicy"),
            "",
        ));
    } else if !TMP.contains(&tmp) {
        errs.push(FieldCause::not_supported(
            &path.child("terminationMessagePolicy"),
            tmp,
            TMP,
        ));
    }
    errs.extend(validate_container_ports(
        opt_vec(&ctr.ports),
        &path.child("ports"),
    ));
    errs.extend(validate_env(opt_vec(&ctr.env), &path.child("env")));
    errs.extend(validate_env_from(
        opt_vec(&ctr.env_from),
        &path.child("envFrom"),
    ));
    errs.extend(validate_volume_mounts(
        ctr,
        volumes,
        &path.child("volumeMounts"),
    ));
    errs.extend(validate_pull_policy(
        opt_str(&ctr.image_pull_policy),
        &path.child("imagePullPolicy"),
    ));
    errs.extend(validate_resources(
        ctr.resources.as_ref(),
        &path.child("resources"),
    ));
    errs.extend(validate_security_context(
        ctr.security_context.as_ref(),
        &path.child("securityContext"),
    ));
    errs
}

fn validate_handler(
    exec: Option<&k8s_openapi::api::core::v1::ExecAction>,
    http_get: Option<&k8s_openapi::api::core::v1::HTTPGetAction>,
    tcp: Option<&k8s_openapi::api::core::v1::TCPSocketAction>,
    grpc: Option<&k8s_openapi::api::core::v1::GRPCAction>,
    sleep: Option<&k8s_openapi::api::core::v1::SleepAction>,
    grace: Option<i64>,
    path: &Path,
) -> Vec<FieldCause> {
    let mut errs = Vec::new();
    let mut count = 0;
    let mut note = |name: &str, errs: &mut Vec<FieldCause>| {
        if count > 0 {
            errs.push(FieldCause::forbidden(
                &path.child(name),
                "may not specify more than 1 handler type",
            ));
            false
        } else {
            count += 1;
            true
        }
    };
    if let Some(e) = exec
        && note("exec", &mut errs)
        && opt_vec(&e.command).is_empty()
    {
        errs.push(FieldCause::required(
            &path.child("exec").child("command"),
            "",
        ));
    }
    if let Some(h) = http_get
        && note("httpGet", &mut errs)
    {
        let p = path.child("httpGet");
        if opt_str(&h.path).is_empty() {
            errs.push(FieldCause::required(&p.child("path"), ""));
        }
        errs.extend(validate_port_num_or_name(Some(&h.port), &p.child("port")));
        let scheme = opt_str(&h.scheme);
        if scheme != "HTTP" && scheme != "HTTPS" {
            errs.push(FieldCause::not_supported(
                &p.child("scheme"),
                scheme,
                &["HTTP", "HTTPS"],
            ));
        }
        for header in opt_vec(&h.http_headers) {
            for msg in names::is_http_header_name(&header.name) {
                errs.push(FieldCause::invalid(
                    &p.child("httpHeaders"),
                    header.name.as_str(),
                    &msg,
                ));
            }
        }
    }
    if let Some(t) = tcp
        && note("tcpSocket", &mut errs)
    {
        errs.extend(validate_port_num_or_name(
            Some(&t.port),
            &path.child("tcpSocket").child("port"),
        ));
    }
    if let Some(g) = grpc
        && note("grpc", &mut errs)
    {
        errs.extend(validate_port_num_or_name(
            Some(&IntOrString::Int(g.port)),
            &path.child("grpc").child("port"),
        ));
    }
    if let Some(s) = sleep
        && note("sleep", &mut errs)
        && let Some(g) = grace
        && (s.seconds < 0 || s.seconds > g)
    {
        errs.push(FieldCause::invalid(
            &path.child("sleep"),
            s.seconds,
            &format!("must be non-negative and less than terminationGracePeriodSeconds ({g})"),
        ));
    }
    if count == 0 {
        errs.push(FieldCause::required(path, "must specify a handler type"));
    }
    errs
}

fn validate_lifecycle(lc: &Lifecycle, grace: Option<i64>, path: &Path) -> Vec<FieldCause> {
    let mut errs = Vec::new();
    let handler = |h: &LifecycleHandler, p: &Path| {
        validate_handler(
            h.exec.as_ref(),
            h.http_get.as_ref(),
            h.tcp_socket.as_ref(),
            None,
            h.sleep.as_ref(),
            grace,
            p,
        )
    };
    if let Some(h) = &lc.post_start {
        errs.extend(handler(h, &path.child("postStart")));
    }
    if let Some(h) = &lc.pre_stop {
        errs.extend(handler(h, &path.child("preStop")));
    }
    errs
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ProbeKind {
    Liveness,
    Readiness,
    Startup,
}

fn validate_probe(
    probe: Option<&Probe>,
    kind: ProbeKind,
    grace: Option<i64>,
    path: &Path,
) -> Vec<FieldCause> {
    let Some(probe) = probe else {
        return Vec::new();
    };
    let mut errs = validate_handler(
        probe.exec.as_ref(),
        probe.http_get.as_ref(),
        probe.tcp_socket.as_ref(),
        probe.grpc.as_ref(),
        None,
        grace,
        path,
    );
    for (field, v) in [
        ("initialDelaySeconds", probe.initial_delay_seconds),
        ("timeoutSeconds", probe.timeout_seconds),
        ("periodSeconds", probe.period_seconds),
        ("successThreshold", probe.success_threshold),
        ("failureThreshold", probe.failure_threshold),
    ] {
        errs.extend(meta::validate_nonnegative(
            i64::from(v.unwrap_or(0)),
            &path.child(field),
        ));
    }
    if let Some(t) = probe.termination_grace_period_seconds
        && t <= 0
    {
        errs.push(FieldCause::invalid(
            &path.child("terminationGracePeriodSeconds"),
            t,
            "must be greater than 0",
        ));
    }
    let success = probe.success_threshold.unwrap_or(0);
    match kind {
        ProbeKind::Liveness | ProbeKind::Startup if success != 1 => {
            errs.push(FieldCause::invalid(
                &path.child("successThreshold"),
                success,
                "must be 1",
            ));
        }
        ProbeKind::Readiness => {
            if let Some(t) = probe.termination_grace_period_seconds {
                errs.push(FieldCause::invalid(
                    &path.child("terminationGracePeriodSeconds"),
                    t,
                    "must not be set for readinessProbes",
                ));
            }
        }
        _ => {}
    }
    errs
}

fn validate_probes_and_lifecycle(
    ctr: &Container,
    grace: Option<i64>,
    path: &Path,
) -> Vec<FieldCause> {
    let mut errs = Vec::new();
    if let Some(lc) = &ctr.lifecycle {
        errs.extend(validate_lifecycle(lc, grace, &path.child("lifecycle")));
    }
    errs.extend(validate_probe(
        ctr.liveness_probe.as_ref(),
        ProbeKind::Liveness,
        grace,
        &path.child("livenessProbe"),
    ));
    errs.extend(validate_probe(
        ctr.readiness_probe.as_ref(),
        ProbeKind::Readiness,
        grace,
        &path.child("readinessProbe"),
    ));
    errs.extend(validate_probe(
        ctr.startup_probe.as_ref(),
        ProbeKind::Startup,
        grace,
        &path.child("startupProbe"),
    ));
    errs
}

fn host_port_conflicts(containers: &[Container], path: &Path) -> Vec<FieldCause> {
    let mut errs = Vec::new();
    let mut seen = BTreeSet::new();
    for (ci, ctr) in containers.iter().enumerate() {
        for (pi, port) in opt_vec(&ctr.ports).iter().enumerate() {
            let host_port = port.host_port.unwrap_or(0);
            if host_port == 0 {
                continue;
            }
            let key = format!(
                "{}/{}/{}",
                opt_str(&port.protocol),
                opt_str(&port.host_ip),
                host_port
            );
            if seen.contains(&key) {
                errs.push(FieldCause::duplicate(
                    &path.index(ci).child("ports").index(pi).child("hostPort"),
                    key,
                ));
            } else {
                seen.insert(key);
            }
        }
    }
    errs
}

fn validate_containers(
    containers: &[Container],
    volumes: &BTreeMap<String, VolumeKind>,
    grace: Option<i64>,
    path: &Path,
) -> Vec<FieldCause> {
    if containers.is_empty() {
        return vec![FieldCause::required(path, "")];
    }
    let mut errs = Vec::new();
    let mut names = BTreeSet::new();
    for (i, ctr) in containers.iter().enumerate() {
        let p = path.index(i);
        errs.extend(validate_container_common(ctr, volumes, &p));
        if !names.insert(ctr.name.as_str()) {
            errs.push(FieldCause::duplicate(&p.child("name"), ctr.name.as_str()));
        }
        errs.extend(validate_probes_and_lifecycle(ctr, grace, &p));
        if ctr.restart_policy.is_some() {
            errs.push(FieldCause::forbidden(
                &p.child("restartPolicy"),
                "may not be set for non-init containers",
            ));
        }
    }
    errs.extend(host_port_conflicts(containers, path));
    errs
}

fn validate_init_containers(
    inits: &[Container],
    regular: &[Container],
    volumes: &BTreeMap<String, VolumeKind>,
    grace: Option<i64>,
    path: &Path,
) -> Vec<FieldCause> {
    let mut errs = Vec::new();
    let mut names: BTreeSet<&str> = regular.iter().map(|c| c.name.as_str()).collect();
    for (i, ctr) in inits.iter().enumerate() {
        let p = path.index(i);
        errs.extend(validate_container_common(ctr, volumes, &p));
        let restart_always = match ctr.restart_policy.as_deref() {
            None => false,
            Some("Always") => true,
            Some(other) => {
                errs.push(FieldCause::not_supported(
                    &p.child("restartPolicy"),
                    other,
                    &["Always"],
                ));
                false
            }
        };
        if names.contains(ctr.name.as_str()) {
            errs.push(FieldCause::duplicate(&p.child("name"), ctr.name.as_str()));
        } else if !ctr.name.is_empty() {
            names.insert(ctr.name.as_str());
        }
        // kube-apiserver checks each init container alone, so its index is always 0.
        errs.extend(host_port_conflicts(std::slice::from_ref(ctr), path));
        if restart_always {
            errs.extend(validate_probes_and_lifecycle(ctr, grace, &p));
        } else {
            for (field, set) in [
                ("lifecycle", ctr.lifecycle.is_some()),
                ("livenessProbe", ctr.liveness_probe.is_some()),
                ("readinessProbe", ctr.readiness_probe.is_some()),
                ("startupProbe", ctr.startup_probe.is_some()),
            ] {
                if set {
                    errs.push(FieldCause::forbidden(
                        &p.child(field),
                        "may not be set for init containers without restartPolicy=Always",
                    ));
                }
            }
        }
    }
    errs
}

/// The common part of an ephemeral container, as a Container for shared checks.
fn ephemeral_as_container(ec: &EphemeralContainer) -> Container {
    Container {
        args: ec.args.clone(),
        command: ec.command.clone(),
        env: ec.env.clone(),
        env_from: ec.env_from.clone(),
        image: ec.image.clone(),
        image_pull_policy: ec.image_pull_policy.clone(),
        lifecycle: ec.lifecycle.clone(),
        liveness_probe: ec.liveness_probe.clone(),
        name: ec.name.clone(),
        ports: ec.ports.clone(),
        readiness_probe: ec.readiness_probe.clone(),
        resize_policy: ec.resize_policy.clone(),
        resources: ec.resources.clone(),
        restart_policy: ec.restart_policy.clone(),
        security_context: ec.security_context.clone(),
        startup_probe: ec.startup_probe.clone(),
        stdin: ec.stdin,
        stdin_once: ec.stdin_once,
        termination_message_path: ec.termination_message_path.clone(),
        termination_message_policy: ec.termination_message_policy.clone(),
        tty: ec.tty,
        volume_devices: ec.volume_devices.clone(),
        volume_mounts: ec.volume_mounts.clone(),
        working_dir: ec.working_dir.clone(),
    }
}

fn validate_ephemeral_containers(
    ephemeral: &[EphemeralContainer],
    spec: &PodSpec,
    volumes: &BTreeMap<String, VolumeKind>,
    path: &Path,
) -> Vec<FieldCause> {
    let mut errs = Vec::new();
    let others: BTreeSet<&str> = spec
        .containers
        .iter()
        .chain(opt_vec(&spec.init_containers))
        .map(|c| c.name.as_str())
        .collect();
    let mut all = others.clone();
    for (i, ec) in ephemeral.iter().enumerate() {
        let p = path.index(i);
        let ctr = ephemeral_as_container(ec);
        errs.extend(validate_container_common(&ctr, volumes, &p));
        errs.extend(validate_image_whitespace(&ctr, &p));
        if !all.insert(ec.name.as_str()) {
            errs.push(FieldCause::duplicate(&p.child("name"), ec.name.as_str()));
        }
        let target = opt_str(&ec.target_container_name);
        if !target.is_empty() && !others.contains(target) {
            errs.push(FieldCause::not_found(
                &p.child("targetContainerName"),
                target,
            ));
        }
        for (field, set) in [
            ("lifecycle", ec.lifecycle.is_some()),
            ("livenessProbe", ec.liveness_probe.is_some()),
            ("ports", ec.ports.as_ref().is_some_and(|v| !v.is_empty())),
            ("readinessProbe", ec.readiness_probe.is_some()),
            (
                "resizePolicy",
                ec.resize_policy.as_ref().is_some_and(|v| !v.is_empty()),
            ),
            (
                "resources",
                ec.resources
                    .as_ref()
                    .is_some_and(|r| r != &ResourceRequirements::default()),
            ),
            ("startupProbe", ec.startup_probe.is_some()),
        ] {
            if set {
                errs.push(FieldCause::forbidden(
                    &p.child(field),
                    "cannot be set for an Ephemeral Container",
                ));
            }
        }
    }
    errs
}

fn validate_image_whitespace(ctr: &Container, path: &Path) -> Vec<FieldCause> {
    let image = opt_str(&ctr.image);
    if image.len() != image.trim().len() {
        vec![FieldCause::invalid(
            &path.child("image"),
            image,
            "must not have leading or trailing whitespace",
        )]
    } else {
        Vec::new()
    }
}

// ---- pod-level fields ----

/// `ValidateTolerations`.
pub fn validate_tolerations(tolerations: &[Toleration], path: &Path) -> Vec<FieldCause> {
    const EFFECTS: &[&str] = &["NoSchedule", "PreferNoSchedule", "NoExecute"];
    let mut errs = Vec::new();
    for (i, t) in tolerations.iter().enumerate() {
        let p = path.index(i);
        let key = opt_str(&t.key);
        let op = opt_str(&t.operator);
        let effect = opt_str(&t.effect);
        let value = opt_str(&t.value);
        if !key.is_empty() {
            errs.extend(meta::validate_label_name(key, &p.child("key")));
        }
        if key.is_empty() && op != "Exists" {
            errs.push(FieldCause::invalid(
                &p.child("operator"),
                op,
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        if t.toleration_seconds.is_some() && effect != "NoExecute" {
            errs.push(FieldCause::invalid(
                &p.child("effect"),
                effect,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        match op {
            "Equal" | "" => {
                let msgs = names::is_valid_label_value(value);
                if !msgs.is_empty() {
                    errs.push(FieldCause::invalid(
                        &p.child("operator"),
                        value,
                        &msgs.join(";"),
                    ));
                }
            }
            "Exists" => {
                if !value.is_empty() {
                    errs.push(FieldCause::invalid(
                        &p.child("operator"),
                        value,
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            other => errs.push(FieldCause::not_supported(
                &p.child("operator"),
                other,
                &["Equal", "Exists"],
            )),
        }
        if !effect.is_empty() && !EFFECTS.contains(&effect) {
            errs.push(FieldCause::not_supported(
                &p.child("effect"),
                effect,
                EFFECTS,
            ));
        }
    }
    errs
}

fn validate_node_selector_requirement(
    r: &k8s_openapi::api::core::v1::NodeSelectorRequirement,
    path: &Path,
) -> Vec<FieldCause> {
    let mut errs = Vec::new();
    let values = opt_vec(&r.values);
    match r.operator.as_str() {
        "In" | "NotIn" if values.is_empty() => errs.push(FieldCause::required(
            &path.child("values"),
            "must be specified when `operator` is 'In' or 'NotIn'",
        )),
        "Exists" | "DoesNotExist" if !values.is_empty() => errs.push(FieldCause::forbidden(
            &path.child("values"),
            "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
        )),
        "Gt" | "Lt" if values.len() != 1 => errs.push(FieldCause::required(
            &path.child("values"),
            "must be specified single value when `operator` is 'Lt' or 'Gt'",
        )),
        "In" | "NotIn" | "Exists" | "DoesNotExist" | "Gt" | "Lt" => {}
        other => errs.push(FieldCause::invalid(
            &path.child("operator"),
            other,
            "not a valid selector operator",
        )),
    }
    errs.extend(meta::validate_label_name(&r.key, &path.child("key")));
    errs
}

fn validate_affinity(
    aff: Option<&k8s_openapi::api::core::v1::Affinity>,
    path: &Path,
) -> Vec<FieldCause> {
    let Some(aff) = aff else {
        return Vec::new();
    };
    let mut errs = Vec::new();
    if let Some(na) = &aff.node_affinity {
        let np = path.child("nodeAffinity");
        if let Some(req) = &na.required_during_scheduling_ignored_during_execution {
            let tp = np
                .child("requiredDuringSchedulingIgnoredDuringExecution")
                .child("nodeSelectorTerms");
            if req.node_selector_terms.is_empty() {
                errs.push(FieldCause::required(
                    &tp,
                    "must have at least one node selector term",
                ));
            }
            for (i, term) in req.node_selector_terms.iter().enumerate() {
                for (j, r) in opt_vec(&term.match_expressions).iter().enumerate() {
                    errs.extend(validate_node_selector_requirement(
                        r,
                        &tp.index(i).child("matchExpressions").index(j),
                    ));
                }
            }
        }
        for (i, term) in opt_vec(&na.preferred_during_scheduling_ignored_during_execution)
            .iter()
            .enumerate()
        {
            let tp = np
                .child("preferredDuringSchedulingIgnoredDuringExecution")
                .index(i);
            if !(1..=100).contains(&term.weight) {
                errs.push(FieldCause::invalid(
                    &tp.child("weight"),
                    term.weight,
                    "must be in the range 1-100",
                ));
            }
            for (j, r) in opt_vec(&term.preference.match_expressions)
                .iter()
                .enumerate()
            {
                errs.extend(validate_node_selector_requirement(
                    r,
                    &tp.child("preference").child("matchExpressions").index(j),
                ));
            }
        }
    }
    let term_checks = |term: &k8s_openapi::api::core::v1::PodAffinityTerm, p: &Path| {
        let mut errs =
            meta::validate_label_selector(term.label_selector.as_ref(), &p.child("labelSelector"));
        errs.extend(meta::validate_label_selector(
            term.namespace_selector.as_ref(),
            &p.child("namespaceSelector"),
        ));
        for ns in opt_vec(&term.namespaces) {
            for msg in names::name_is_dns_label(ns, false) {
                errs.push(FieldCause::invalid(
                    &p.child("namespace"),
                    ns.as_str(),
                    &msg,
                ));
            }
        }
        if term.topology_key.is_empty() {
            errs.push(FieldCause::required(
                &p.child("topologyKey"),
                "can not be empty",
            ));
        }
        errs.extend(meta::validate_label_name(
            &term.topology_key,
            &p.child("topologyKey"),
        ));
        errs
    };
    let groups = [
        (
            "podAffinity",
            aff.pod_affinity.as_ref().map(|a| {
                (
                    &a.required_during_scheduling_ignored_during_execution,
                    &a.preferred_during_scheduling_ignored_during_execution,
                )
            }),
        ),
        (
            "podAntiAffinity",
            aff.pod_anti_affinity.as_ref().map(|a| {
                (
                    &a.required_during_scheduling_ignored_during_execution,
                    &a.preferred_during_scheduling_ignored_during_execution,
                )
            }),
        ),
    ];
    for (name, group) in groups {
        let Some((required, preferred)) = group else {
            continue;
        };
        let gp = path.child(name);
        for (i, term) in opt_vec(required).iter().enumerate() {
            errs.extend(term_checks(
                term,
                &gp.child("requiredDuringSchedulingIgnoredDuringExecution")
                    .index(i),
            ));
        }
        for (i, wt) in opt_vec(preferred).iter().enumerate() {
            let wp = gp
                .child("preferredDuringSchedulingIgnoredDuringExecution")
                .index(i);
            if !(1..=100).contains(&wt.weight) {
                errs.push(FieldCause::invalid(
                    &wp.child("weight"),
                    wt.weight,
                    "must be in the range 1-100",
                ));
            }
            errs.extend(term_checks(
                &wt.pod_affinity_term,
                &wp.child("podAffinityTerm"),
            ));
        }
    }
    errs
}

fn validate_dns_config(spec: &PodSpec, path: &Path) -> Vec<FieldCause> {
    let policy = opt_str(&spec.dns_policy);
    let Some(cfg) = &spec.dns_config else {
        if policy == "None" {
            return vec![FieldCause::required(
                path,
                "must provide `dnsConfig` when `dnsPolicy` is None",
            )];
        }
        return Vec::new();
    };
    let nameservers = opt_vec(&cfg.nameservers);
    if policy == "None" && nameservers.is_empty() {
        return vec![FieldCause::required(
            &path.child("nameservers"),
            "must provide at least one DNS nameserver when `dnsPolicy` is None",
        )];
    }
    let mut errs = Vec::new();
    if nameservers.len() > MAX_DNS_NAMESERVERS {
        errs.push(FieldCause::invalid(
            &path.child("nameservers"),
            BadValue::GoSyntax(super::go_string_slice(Some(nameservers))),
            &format!("must not have more than {MAX_DNS_NAMESERVERS} nameservers"),
        ));
    }
    for (i, ns) in nameservers.iter().enumerate() {
        errs.extend(ip::validate_ip(&path.child("nameservers").index(i), ns));
    }
    let searches = opt_vec(&cfg.searches);
    if searches.len() > MAX_DNS_SEARCH_PATHS {
        errs.push(FieldCause::invalid(
            &path.child("searches"),
            BadValue::GoSyntax(super::go_string_slice(Some(searches))),
            &format!("must not have more than {MAX_DNS_SEARCH_PATHS} search paths"),
        ));
    }
    if searches.join(" ").len() > MAX_DNS_SEARCH_LIST_CHARS {
        errs.push(FieldCause::invalid(
            &path.child("searches"),
            BadValue::GoSyntax(super::go_string_slice(Some(searches))),
            &format!("must not have more than {MAX_DNS_SEARCH_LIST_CHARS} characters (including spaces) in the search list"),
        ));
    }
    for (i, search) in searches.iter().enumerate() {
        if search == "." {
            continue;
        }
        let trimmed = search.strip_suffix('.').unwrap_or(search);
        for msg in names::is_dns1123_subdomain_with_underscore(trimmed) {
            errs.push(FieldCause::invalid(
                &path.child("searches").index(i),
                trimmed,
                &msg,
            ));
        }
    }
    for (i, opt) in opt_vec(&cfg.options).iter().enumerate() {
        if opt_str(&opt.name).is_empty() {
            errs.push(FieldCause::required(
                &path.child("options").index(i),
                "must not be empty",
            ));
        }
    }
    errs
}

fn validate_topology_spread(spec: &PodSpec, path: &Path) -> Vec<FieldCause> {
    let mut errs = Vec::new();
    let constraints = opt_vec(&spec.topology_spread_constraints);
    for (i, c) in constraints.iter().enumerate() {
        let p = path.index(i);
        if c.max_skew <= 0 {
            errs.push(FieldCause::invalid(
                &p.child("maxSkew"),
                c.max_skew,
                "must be greater than zero",
            ));
        }
        if c.topology_key.is_empty() {
            errs.push(FieldCause::required(
                &p.child("topologyKey"),
                "can not be empty",
            ));
        }
        const ACTIONS: &[&str] = &["DoNotSchedule", "ScheduleAnyway"];
        if !ACTIONS.contains(&c.when_unsatisfiable.as_str()) {
            errs.push(FieldCause::not_supported(
                &p.child("whenUnsatisfiable"),
                c.when_unsatisfiable.as_str(),
                ACTIONS,
            ));
        }
        let repeated = constraints.iter().skip(i + 1).any(|o| {
            o.topology_key == c.topology_key && o.when_unsatisfiable == c.when_unsatisfiable
        });
        if repeated {
            errs.push(FieldCause::duplicate(
                &p.child("{topologyKey, whenUnsatisfiable}"),
                format!("{{{}, {}}}", c.topology_key, c.when_unsatisfiable),
            ));
        }
        if let Some(m) = c.min_domains {
            if m <= 0 {
                errs.push(FieldCause::invalid(
                    &p.child("minDomains"),
                    m,
                    "must be greater than zero",
                ));
            }
            if c.when_unsatisfiable != "DoNotSchedule" {
                errs.push(FieldCause::invalid(
                    &p.child("minDomains"),
                    m,
                    &format!(
                        "can only use minDomains if whenUnsatisfiable=DoNotSchedule, not {}",
                        c.when_unsatisfiable
                    ),
                ));
            }
        }
        errs.extend(meta::validate_label_selector(
            c.label_selector.as_ref(),
            &p.child("labelSelector"),
        ));
    }
    errs
}

fn validate_pod_security_context(spec: &PodSpec, path: &Path) -> Vec<FieldCause> {
    let Some(sc) = &spec.security_context else {
        return Vec::new();
    };
    let mut errs = Vec::new();
    for (field, value) in [
        ("fsGroup", sc.fs_group),
        ("runAsUser", sc.run_as_user),
        ("runAsGroup", sc.run_as_group),
    ] {
        if let Some(v) = value {
            for msg in names::is_in_range(v, 0, MAX_INT32) {
                errs.push(FieldCause::invalid(&path.child(field), v, &msg));
            }
        }
    }
    for (i, g) in opt_vec(&sc.supplemental_groups).iter().enumerate() {
        for msg in names::is_in_range(*g, 0, MAX_INT32) {
            errs.push(FieldCause::invalid(
                &path.child("supplementalGroups").index(i),
                *g,
                &msg,
            ));
        }
    }
    if let Some(p) = &sc.fs_group_change_policy {
        const POLICIES: &[&str] = &["Always", "OnRootMismatch"];
        if !POLICIES.contains(&p.as_str()) {
            errs.push(FieldCause::not_supported(
                &path.child("fsGroupChangePolicy"),
                p.as_str(),
                POLICIES,
            ));
        }
    }
    errs
}

/// `ValidatePodSpec`: a pod's or template's spec.
pub fn validate_pod_spec(spec: &PodSpec, path: &Path, opts: PodOptions) -> Vec<FieldCause> {
    let mut errs = Vec::new();
    let grace = spec.termination_grace_period_seconds;
    if grace.is_none() {
        errs.push(FieldCause::required(
            &path.child("terminationGracePeriodSeconds"),
            "",
        ));
    }
    let (volumes, vol_errs) = validate_volumes(opt_vec(&spec.volumes), &path.child("volumes"));
    errs.extend(vol_errs);
    errs.extend(validate_containers(
        &spec.containers,
        &volumes,
        grace,
        &path.child("containers"),
    ));
    errs.extend(validate_init_containers(
        opt_vec(&spec.init_containers),
        &spec.containers,
        &volumes,
        grace,
        &path.child("initContainers"),
    ));
    errs.extend(validate_ephemeral_containers(
        opt_vec(&spec.ephemeral_containers),
        spec,
        &volumes,
        &path.child("ephemeralContainers"),
    ));
    if spec.host_network == Some(true) {
        for (i, ctr) in spec.containers.iter().enumerate() {
            for (j, port) in opt_vec(&ctr.ports).iter().enumerate() {
                let hp = port.host_port.unwrap_or(0);
                if (opts.resource_is_pod || hp != 0) && hp != port.container_port {
                    errs.push(FieldCause::invalid(
                        &path
                            .child("containers")
                            .index(i)
                            .child("ports")
                            .index(j)
                            .child("hostPort"),
                        hp,
                        "must match `containerPort` when `hostNetwork` is true",
                    ));
                }
            }
        }
    }
    let restart = opt_str(&spec.restart_policy);
    const RESTART: &[&str] = &["Always", "OnFailure", "Never"];
    if restart.is_empty() {
        errs.push(FieldCause::required(&path.child("restartPolicy"), ""));
    } else if !RESTART.contains(&restart) {
        errs.push(FieldCause::not_supported(
            &path.child("restartPolicy"),
            restart,
            RESTART,
        ));
    }
    let dns = opt_str(&spec.dns_policy);
    const DNS: &[&str] = &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"];
    if dns.is_empty() {
        errs.push(FieldCause::required(&path.child("dnsPolicy"), ""));
    } else if !DNS.contains(&dns) {
        errs.push(FieldCause::not_supported(
            &path.child("dnsPolicy"),
            dns,
            DNS,
        ));
    }
    errs.extend(meta::validate_labels(
        spec.node_selector.as_ref(),
        &path.child("nodeSelector"),
    ));
    errs.extend(validate_pod_security_context(
        spec,
        &path.child("securityContext"),
    ));
    errs.extend(validate_affinity(
        spec.affinity.as_ref(),
        &path.child("affinity"),
    ));
    errs.extend(validate_dns_config(spec, &path.child("dnsConfig")));
    for (i, gate) in opt_vec(&spec.readiness_gates).iter().enumerate() {
        errs.extend(validate_qualified_name(
            &gate.condition_type,
            &path.child("readinessGates").index(i).child("conditionType"),
        ));
    }
    let mut gates = BTreeSet::new();
    for (i, gate) in opt_vec(&spec.scheduling_gates).iter().enumerate() {
        let p = path.child("schedulingGates").index(i);
        errs.extend(validate_qualified_name(&gate.name, &p));
        if !gates.insert(gate.name.as_str()) {
            errs.push(FieldCause::duplicate(&p, gate.name.as_str()));
        }
    }
    errs.extend(validate_topology_spread(
        spec,
        &path.child("topologySpreadConstraints"),
    ));
    for (field, value) in [
        ("serviceAccountName", opt_str(&spec.service_account_name)),
        ("nodeName", opt_str(&spec.node_name)),
        ("priorityClassName", opt_str(&spec.priority_class_name)),
    ] {
        if !value.is_empty() {
            errs.extend(validate_name_ref(value, &path.child(field), false));
        }
    }
    if let Some(v) = spec.active_deadline_seconds
        && !(1..=MAX_INT32).contains(&v)
    {
        errs.push(FieldCause::invalid(
            &path.child("activeDeadlineSeconds"),
            v,
            &inclusive_range_error(1, MAX_INT32),
        ));
    }
    for (field, value) in [
        ("hostname", opt_str(&spec.hostname)),
        ("subdomain", opt_str(&spec.subdomain)),
    ] {
        if !value.is_empty() {
            errs.extend(validate_dns1123_label(value, &path.child(field)));
        }
    }
    errs.extend(validate_tolerations(
        opt_vec(&spec.tolerations),
        &path.child("tolerations"),
    ));
    for (i, alias) in opt_vec(&spec.host_aliases).iter().enumerate() {
        let p = path.child("hostAliases").index(i);
        errs.extend(ip::validate_ip(&p.child("ip"), &alias.ip));
        for (j, host) in opt_vec(&alias.hostnames).iter().enumerate() {
            errs.extend(validate_dns1123_subdomain(
                host,
                &p.child("hostnames").index(j),
            ));
        }
    }
    if let Some(rc) = &spec.runtime_class_name {
        errs.extend(validate_name_ref(
            rc,
            &path.child("runtimeClassName"),
            false,
        ));
    }
    if let Some(pp) = &spec.preemption_policy {
        const POLICIES: &[&str] = &["PreemptLowerPriority", "Never"];
        if pp.is_empty() {
            errs.push(FieldCause::required(&path.child("preemptionPolicy"), ""));
        } else if !POLICIES.contains(&pp.as_str()) {
            errs.push(FieldCause::not_supported(
                &path.child("preemptionPolicy"),
                pp.as_str(),
                POLICIES,
            ));
        }
    }
    if let Some(os) = &spec.os {
        if os.name.is_empty() {
            errs.push(FieldCause::required(
                &path.child("os").child("name"),
                "cannot be empty",
            ));
        } else if os.name != "linux" && os.name != "windows" {
            errs.push(FieldCause::not_supported(
                &path.child("os"),
                os.name.as_str(),
                &["linux", "windows"],
            ));
        }
    }
    errs
}

/// `ValidatePodTemplateSpec`: a workload's pod template.
pub fn validate_pod_template_spec(t: &PodTemplateSpec, path: &Path) -> Vec<FieldCause> {
    let tmeta = t.metadata.clone().unwrap_or_default();
    let mut errs = meta::validate_labels(tmeta.labels.as_ref(), &path.child("labels"));
    errs.extend(meta::validate_annotations(
        tmeta.annotations.as_ref(),
        &path.child("annotations"),
    ));
    errs.extend(validate_pod_annotations(
        tmeta.annotations.as_ref(),
        &path.child("annotations"),
    ));
    let spec = t.spec.clone().unwrap_or_default();
    errs.extend(validate_pod_spec(
        &spec,
        &path.child("spec"),
        PodOptions {
            resource_is_pod: false,
        },
    ));
    if !opt_vec(&spec.ephemeral_containers).is_empty() {
        errs.push(FieldCause::forbidden(
            &path.child("spec").child("ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
    errs
}

fn validate_pod_annotations(
    annotations: Option<&BTreeMap<String, String>>,
    path: &Path,
) -> Vec<FieldCause> {
    const DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";
    match annotations.and_then(|a| a.get(DELETION_COST)) {
        Some(v) if v.parse::<i32>().is_err() => {
            vec![FieldCause::invalid(
                &path.key(DELETION_COST),
                v.as_str(),
                "must be a 32bit integer",
            )]
        }
        _ => Vec::new(),
    }
}

fn validate_pod_metadata_and_spec(pod: &Pod) -> Vec<FieldCause> {
    let meta_path = Path::new("metadata");
    let spec_path = Path::new("spec");
    let mut errs = meta::validate_object_meta(
        &pod.metadata,
        Scope::Namespaced,
        names::name_is_dns_subdomain,
        &meta_path,
    );
    errs.extend(validate_pod_annotations(
        pod.metadata.annotations.as_ref(),
        &meta_path.child("annotations"),
    ));
    let spec = pod.spec.clone().unwrap_or_default();
    errs.extend(validate_pod_spec(
        &spec,
        &spec_path,
        PodOptions {
            resource_is_pod: true,
        },
    ));
    for (list, field) in [
        (&spec.containers[..], "containers"),
        (opt_vec(&spec.init_containers), "initContainers"),
    ] {
        for (i, ctr) in list.iter().enumerate() {
            errs.extend(validate_image_whitespace(
                ctr,
                &spec_path.child(field).index(i),
            ));
        }
    }
    errs
}

const UPDATABLE_POD_SPEC_FIELDS: &str = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

fn validate_container_updates(
    new: &[Container],
    old: &[Container],
    path: &Path,
) -> (Vec<FieldCause>, bool) {
    if new.len() != old.len() {
        return (
            vec![FieldCause::forbidden(
                path,
                "pod updates may not add or remove containers",
            )],
            true,
        );
    }
    let mut errs = Vec::new();
    for (i, ctr) in new.iter().enumerate() {
        let image = opt_str(&ctr.image);
        if image.is_empty() {
            errs.push(FieldCause::required(&path.index(i).child("image"), ""));
        }
        if image.trim().len() != image.len() {
            errs.push(FieldCause::invalid(
                &path.index(i).child("image"),
                image,
                "must not have leading or trailing whitespace",
            ));
        }
    }
    (errs, false)
}

fn only_added_tolerations(new: &[Toleration], old: &[Toleration], path: &Path) -> Vec<FieldCause> {
    for o in old {
        let kept = new.iter().any(|n| {
            let mut o = o.clone();
            o.toleration_seconds = n.toleration_seconds;
            &o == n
        });
        if !kept {
            return vec![FieldCause::forbidden(
                path,
                "existing toleration can not be modified except its tolerationSeconds",
            )];
        }
    }
    validate_tolerations(new, path)
}

/// Drops what Go's semantic equality ignores (nil vs empty lists and maps).
fn normalize(v: serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(map) => serde_json::Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, normalize(v)))
                .filter(|(_, v)| !is_empty_value(v))
                .collect(),
        ),
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.into_iter().map(normalize).collect())
        }
        other => other,
    }
}

fn is_empty_value(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Null => true,
        serde_json::Value::Array(a) => a.is_empty(),
        serde_json::Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// Lists the JSON paths where two specs differ, standing in for Go's cmp.Diff.
fn diff_paths(old: &serde_json::Value, new: &serde_json::Value, at: &str, out: &mut Vec<String>) {
    match (old, new) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                let null = serde_json::Value::Null;
                diff_paths(
                    a.get(k).unwrap_or(&null),
                    b.get(k).unwrap_or(&null),
                    &format!("{at}.{k}"),
                    out,
                );
            }
        }
        (serde_json::Value::Array(a), serde_json::Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                diff_paths(x, y, &format!("{at}[{i}]"), out);
            }
        }
        (a, b) if a != b => out.push(format!("  {at}: {a} -> {b}")),
        _ => {}
    }
}

fn validate_pod_update(new: &Pod, old: &Pod) -> Vec<FieldCause> {
    let meta_path = Path::new("metadata");
    let spec_path = Path::new("spec");
    let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata, &meta_path);
    errs.extend(validate_pod_metadata_and_spec(new));
    let new_spec = new.spec.clone().unwrap_or_default();
    let old_spec = old.spec.clone().unwrap_or_default();

    let (e, stop) = validate_container_updates(
        &new_spec.containers,
        &old_spec.containers,
        &spec_path.child("containers"),
    );
    errs.extend(e);
    if stop {
        return errs;
    }
    let (e, stop) = validate_container_updates(
        opt_vec(&new_spec.init_containers),
        opt_vec(&old_spec.init_containers),
        &spec_path.child("initContainers"),
    );
    errs.extend(e);
    if stop {
        return errs;
    }

    let ads = spec_path.child("activeDeadlineSeconds");
    match (
        new_spec.active_deadline_seconds,
        old_spec.active_deadline_seconds,
    ) {
        (Some(n), _) if !(0..=MAX_INT32).contains(&n) => {
            errs.push(FieldCause::invalid(
                &ads,
                n,
                &inclusive_range_error(0, MAX_INT32),
            ));
            return errs;
        }
        (Some(n), Some(o)) if o < n => {
            errs.push(FieldCause::invalid(
                &ads,
                n,
                "must be less than or equal to previous value",
            ));
            return errs;
        }
        (None, Some(_)) => {
            errs.push(FieldCause::invalid(
                &ads,
                BadValue::Null,
                "must not update from a positive integer to nil value",
            ));
        }
        _ => {}
    }
    errs.extend(only_added_tolerations(
        opt_vec(&new_spec.tolerations),
        opt_vec(&old_spec.tolerations),
        &spec_path.child("tolerations"),
    ));
    let new_gates = opt_vec(&new_spec.scheduling_gates);
    let old_gates: BTreeSet<&str> = opt_vec(&old_spec.scheduling_gates)
        .iter()
        .map(|g| g.name.as_str())
        .collect();
    for (i, g) in new_gates.iter().enumerate() {
        if !old_gates.contains(g.name.as_str()) {
            errs.push(FieldCause::forbidden(
                &spec_path.child("schedulingGates").index(i).child("name"),
                &format!(
                    "only deletion is allowed, but found new scheduling gate '{}'",
                    g.name
                ),
            ));
        }
    }

    let mut munged = new_spec.clone();
    for (c, o) in munged.containers.iter_mut().zip(&old_spec.containers) {
        c.image.clone_from(&o.image);
    }
    if let Some(inits) = munged.init_containers.as_mut() {
        for (c, o) in inits.iter_mut().zip(opt_vec(&old_spec.init_containers)) {
            c.image.clone_from(&o.image);
        }
    }
    munged.active_deadline_seconds = old_spec.active_deadline_seconds;
    munged
        .scheduling_gates
        .clone_from(&old_spec.scheduling_gates);
    munged.tolerations.clone_from(&old_spec.tolerations);
    if old_spec
        .termination_grace_period_seconds
        .is_some_and(|g| g < 0)
        && munged.termination_grace_period_seconds == Some(1)
    {
        munged.termination_grace_period_seconds = old_spec.termination_grace_period_seconds;
    }
    let as_json =
        |s: &PodSpec| normalize(serde_json::to_value(s).unwrap_or(serde_json::Value::Null));
    let (old_json, new_json) = (as_json(&old_spec), as_json(&munged));
    if old_json != new_json {
        let mut lines = Vec::new();
        diff_paths(&old_json, &new_json, "spec", &mut lines);
        errs.push(FieldCause::forbidden(
            &spec_path,
            &format!(
                "pod updates may not change fields other than {UPDATABLE_POD_SPEC_FIELDS}\n{}",
                lines.join("\n")
            ),
        ));
    }
    errs
}

/// Validates a Pod on create (`old == None`) or update.
pub fn validate_pod(pod: &Pod, old: Option<&Pod>) -> Vec<FieldCause> {
    match old {
        None => validate_pod_metadata_and_spec(pod),
        Some(old) => validate_pod_update(pod, old),
    }
}

/// The name map lookup is also needed by workload code paths in tests.
#[cfg(test)]
pub(crate) fn defaulted_pod(v: serde_json::Value) -> Pod {
    let mut v = v;
    crate::defaults::apply_defaults("Pod", &mut v);
    serde_json::from_value(v).expect("pod json")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::CauseType::*;
    use crate::validation::testutil::{Case, causes, set as with, want};
    use serde_json::json;

    fn base() -> serde_json::Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.27",
                "ports": [{"name": "http", "containerPort": 80}]}]}
        })
    }

    #[test]
    fn valid_pod_passes() {
        assert_eq!(validate_pod(&defaulted_pod(base()), None), vec![]);
    }

    #[test]
    fn create_rules() {
        let cases: Vec<Case> = vec![
            ("no containers", with(base(), "/spec/containers", json!([])), vec![(Required, "spec.containers")]),
            ("bad container name", with(base(), "/spec/containers/0/name", json!("App")), vec![(Invalid, "spec.containers[0].name")]),
            ("missing container name", with(base(), "/spec/containers/0/name", json!("")), vec![(Required, "spec.containers[0].name")]),
            ("duplicate container", with(base(), "/spec/containers/1", json!({"name": "app", "image": "x:1"})), vec![(Duplicate, "spec.containers[1].name")]),
            ("missing image", with(base(), "/spec/containers/0/image", json!("")), vec![(Required, "spec.containers[0].image")]),
            ("image whitespace", with(base(), "/spec/containers/0/image", json!(" nginx:1 ")), vec![(Invalid, "spec.containers[0].image")]),
            ("port zero", with(base(), "/spec/containers/0/ports/0/containerPort", json!(0)), vec![(Required, "spec.containers[0].ports[0].containerPort")]),
            ("port too big", with(base(), "/spec/containers/0/ports/0/containerPort", json!(70000)), vec![(Invalid, "spec.containers[0].ports[0].containerPort")]),
            ("duplicate port name", with(base(), "/spec/containers/0/ports/1", json!({"name": "http", "containerPort": 81})), vec![(Duplicate, "spec.containers[0].ports[1].name")]),
            ("bad port name", with(base(), "/spec/containers/0/ports/0/name", json!("HTTP")), vec![(Invalid, "spec.containers[0].ports[0].name"), (Invalid, "spec.containers[0].ports[0].name")]),
            ("bad protocol", with(base(), "/spec/containers/0/ports/0/protocol", json!("ICMP")), vec![(NotSupported, "spec.containers[0].ports[0].protocol")]),
            ("env with =", with(base(), "/spec/containers/0/env", json!([{"name": "A=B", "value": "x"}])), vec![(Invalid, "spec.containers[0].env[0].name")]),
            ("env empty name", with(base(), "/spec/containers/0/env", json!([{"name": "", "value": "x"}])), vec![(Required, "spec.containers[0].env[0].name")]),
            ("env value and valueFrom", with(base(), "/spec/containers/0/env", json!([{"name": "A", "value": "x", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}])), vec![(Invalid, "spec.containers[0].env[0].valueFrom")]),
            ("env bad fieldPath", with(base(), "/spec/containers/0/env", json!([{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "spec.restartPolicy"}}}])), vec![(NotSupported, "spec.containers[0].env[0].valueFrom.fieldRef.fieldPath")]),
            ("restart policy", with(base(), "/spec/restartPolicy", json!("Sometimes")), vec![(NotSupported, "spec.restartPolicy")]),
            ("dns policy", with(base(), "/spec/dnsPolicy", json!("Custom")), vec![(NotSupported, "spec.dnsPolicy")]),
            ("dns None without config", with(base(), "/spec/dnsPolicy", json!("None")), vec![(Required, "spec.dnsConfig")]),
            ("pull policy", with(base(), "/spec/containers/0/imagePullPolicy", json!("Sometimes")), vec![(NotSupported, "spec.containers[0].imagePullPolicy")]),
            ("mount of unknown volume", with(base(), "/spec/containers/0/volumeMounts", json!([{"name": "data", "mountPath": "/data"}])), vec![(NotFound, "spec.containers[0].volumeMounts[0].name")]),
            ("volume without source is an emptyDir", with(base(), "/spec/volumes", json!([{"name": "data"}])), vec![]),
            ("volume name", with(base(), "/spec/volumes", json!([{"name": "Data", "emptyDir": {}}])), vec![(Invalid, "spec.volumes[0].name")]),
            ("volume with two sources", with(base(), "/spec/volumes", json!([{"name": "data", "emptyDir": {}, "configMap": {"name": "c"}}])), vec![(Forbidden, "spec.volumes[0].configMap")]),
            ("duplicate volume", with(base(), "/spec/volumes", json!([{"name": "d", "emptyDir": {}}, {"name": "d", "emptyDir": {}}])), vec![(Duplicate, "spec.volumes[1].name")]),
            ("request above limit", with(base(), "/spec/containers/0/resources", json!({"requests": {"cpu": "2"}, "limits": {"cpu": "1"}})), vec![(Invalid, "spec.containers[0].resources.requests")]),
            ("negative request", with(base(), "/spec/containers/0/resources", json!({"requests": {"memory": "-1"}})), vec![(Invalid, "spec.containers[0].resources.requests[memory]")]),
            ("liveness success threshold", with(base(), "/spec/containers/0/livenessProbe", json!({"tcpSocket": {"port": 80}, "successThreshold": 2})), vec![(Invalid, "spec.containers[0].livenessProbe.successThreshold")]),
            ("probe without handler", with(base(), "/spec/containers/0/readinessProbe", json!({"periodSeconds": 5})), vec![(Required, "spec.containers[0].readinessProbe")]),
            ("probe bad port", with(base(), "/spec/containers/0/readinessProbe", json!({"httpGet": {"port": 0}})), vec![(Invalid, "spec.containers[0].readinessProbe.httpGet.port")]),
            ("restartPolicy on regular container", with(base(), "/spec/containers/0/restartPolicy", json!("Always")), vec![(Forbidden, "spec.containers[0].restartPolicy")]),
            ("init probe without sidecar", with(base(), "/spec/initContainers", json!([{"name": "init", "image": "busybox:1", "readinessProbe": {"exec": {"command": ["true"]}}}])), vec![(Forbidden, "spec.initContainers[0].readinessProbe")]),
            ("init name clash", with(base(), "/spec/initContainers", json!([{"name": "app", "image": "busybox:1"}])), vec![(Duplicate, "spec.initContainers[0].name")]),
            ("host port clash", with(base(), "/spec/containers/1", json!({"name": "b", "image": "x:1", "ports": [{"containerPort": 81, "hostPort": 8080}]})).pipe(|v| with(v, "/spec/containers/0/ports/0/hostPort", json!(8080))), vec![(Duplicate, "spec.containers[1].ports[0].hostPort")]),
            ("toleration operator", with(base(), "/spec/tolerations", json!([{"key": "k", "operator": "Maybe"}])), vec![(NotSupported, "spec.tolerations[0].operator")]),
            ("toleration seconds without NoExecute", with(base(), "/spec/tolerations", json!([{"key": "k", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 5}])), vec![(Invalid, "spec.tolerations[0].effect")]),
            ("active deadline", with(base(), "/spec/activeDeadlineSeconds", json!(0)), vec![(Invalid, "spec.activeDeadlineSeconds")]),
            ("node name", with(base(), "/spec/nodeName", json!("Node_1")), vec![(Invalid, "spec.nodeName")]),
            ("hostname", with(base(), "/spec/hostname", json!("a.b")), vec![(Invalid, "spec.hostname")]),
            ("node selector", with(base(), "/spec/nodeSelector", json!({"k": "-v"})), vec![(Invalid, "spec.nodeSelector")]),
            ("host network port mismatch", with(with(base(), "/spec/hostNetwork", json!(true)), "/spec/containers/0/ports/0/hostPort", json!(8080)), vec![(Invalid, "spec.containers[0].ports[0].hostPort")]),
            ("host network port defaulted", with(base(), "/spec/hostNetwork", json!(true)), vec![]),
        ];
        for (name, pod, w) in cases {
            let errs = validate_pod(&defaulted_pod(pod), None);
            assert_eq!(causes(&errs), want(&w), "case {name}: {errs:#?}");
        }
    }

    trait Pipe: Sized {
        fn pipe<T>(self, f: impl FnOnce(Self) -> T) -> T {
            f(self)
        }
    }
    impl Pipe for serde_json::Value {}

    #[test]
    fn update_rules() {
        let old = with(base(), "/metadata/resourceVersion", json!("3"));
        let old_pod = defaulted_pod(old.clone());
        let cases: Vec<Case> = vec![
            ("same", old.clone(), vec![]),
            (
                "image change",
                with(old.clone(), "/spec/containers/0/image", json!("nginx:1.28")),
                vec![],
            ),
            (
                "active deadline set",
                with(old.clone(), "/spec/activeDeadlineSeconds", json!(30)),
                vec![],
            ),
            (
                "toleration added",
                with(
                    old.clone(),
                    "/spec/tolerations",
                    json!([{"key": "k", "operator": "Exists"}]),
                ),
                vec![],
            ),
            (
                "port change",
                with(
                    old.clone(),
                    "/spec/containers/0/ports/0/containerPort",
                    json!(81),
                ),
                vec![(Forbidden, "spec")],
            ),
            (
                "container added",
                with(
                    old.clone(),
                    "/spec/containers/1",
                    json!({"name": "b", "image": "x:1"}),
                ),
                vec![(Forbidden, "spec.containers")],
            ),
            (
                "restart policy change",
                with(old.clone(), "/spec/restartPolicy", json!("Never")),
                vec![(Forbidden, "spec")],
            ),
            (
                "image cleared",
                with(old.clone(), "/spec/containers/0/image", json!("")),
                vec![
                    (Required, "spec.containers[0].image"),
                    (Required, "spec.containers[0].image"),
                ],
            ),
        ];
        for (name, new, w) in cases {
            let errs = validate_pod(&defaulted_pod(new), Some(&old_pod));
            assert_eq!(causes(&errs), want(&w), "case {name}: {errs:#?}");
        }
        let errs = validate_pod(
            &defaulted_pod(with(old.clone(), "/spec/restartPolicy", json!("Never"))),
            Some(&old_pod),
        );
        assert!(errs[0].message.starts_with(
            "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
        ));
        assert!(errs[0].message.contains("spec.restartPolicy"));
    }

    #[test]
    fn template_forbids_ephemeral_and_allows_unset_host_port() {
        let t: PodTemplateSpec = serde_json::from_value(json!({
            "metadata": {"labels": {"app": "web"}},
            "spec": {"hostNetwork": true, "restartPolicy": "Always", "dnsPolicy": "ClusterFirst",
                "terminationGracePeriodSeconds": 30,
                "containers": [{"name": "a", "image": "x:1", "imagePullPolicy": "IfNotPresent",
                    "terminationMessagePolicy": "File",
                    "ports": [{"containerPort": 80, "protocol": "TCP"}]}]}
        }))
        .expect("template json");
        assert_eq!(
            validate_pod_template_spec(&t, &Path::new("spec").child("template")),
            vec![]
        );
    }
}
