//! Validation of the core/v1 kinds other than Pod: Namespace, Service,
//! ConfigMap, Secret, Endpoints, Node, Event and ServiceAccount.
//!
//! Mirrors `pkg/apis/core/validation` (v1.33). Services are validated after
//! the same clusterIP normalisation kube-apiserver's strategy applies
//! ([`crate::defaults::prepare_service`]), run here on a copy; the caller must
//! still persist that normalisation and allocate IPs and ports itself.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{
    ConfigMap, EndpointPort, Endpoints, Event, Namespace, Node, Secret, Service, ServiceAccount,
    ServicePort, ServiceSpec, Taint,
};

use super::meta::{self, Scope};
use super::names;
use super::pod::validate_port_num_or_name;
use super::{
    BadValue, FieldCause, Path, go_int_or_string, go_quote, go_string_slice, ip, opt_str, opt_vec,
};

/// ConfigMaps and Secrets may hold at most this many bytes of data.
pub const MAX_SECRET_SIZE: usize = 1024 * 1024;
/// The longest ClientIP session affinity timeout, one day.
pub const MAX_CLIENT_IP_AFFINITY_SECONDS: i32 = 86400;

const PORT_PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];

fn validate_qualified_name(value: &str, path: &Path) -> Vec<FieldCause> {
    names::is_qualified_name(value)
        .iter()
        .map(|msg| FieldCause::invalid(path, value, msg))
        .collect()
}

fn validate_dns1123_label(value: &str, path: &Path) -> Vec<FieldCause> {
    names::is_dns1123_label(value)
        .iter()
        .map(|msg| FieldCause::invalid(path, value, msg))
        .collect()
}

// ---- Namespace ----

/// Validates a Namespace; updates may only change what `metadata` allows.
pub fn validate_namespace(ns: &Namespace, old: Option<&Namespace>) -> Vec<FieldCause> {
    if let Some(old) = old {
        return meta::validate_object_meta_update(
            &ns.metadata,
            &old.metadata,
            &Path::new("metadata"),
        );
    }
    let mut errs =
        meta::validate_meta(&ns.metadata, None, Scope::Cluster, names::name_is_dns_label);
    let finalizers = ns
        .spec
        .as_ref()
        .map(|s| opt_vec(&s.finalizers))
        .unwrap_or(&[]);
    for f in finalizers {
        errs.extend(meta::validate_spec_finalizer(
            f,
            &Path::new("spec").child("finalizers"),
        ));
    }
    errs
}

// ---- Service ----

fn svc_type(spec: &ServiceSpec) -> &str {
    opt_str(&spec.type_)
}

fn is_headless(spec: &ServiceSpec) -> bool {
    matches!(opt_vec(&spec.cluster_ips), [only] if only == "None")
}

fn externally_accessible(spec: &ServiceSpec) -> bool {
    let t = svc_type(spec);
    t == "LoadBalancer"
        || t == "NodePort"
        || (t == "ClusterIP" && !opt_vec(&spec.external_ips).is_empty())
}

fn needs_health_check(spec: &ServiceSpec) -> bool {
    svc_type(spec) == "LoadBalancer" && opt_str(&spec.external_traffic_policy) == "Local"
}

fn go_service_port_key(protocol: &str, port: i32) -> String {
    format!(
        "core.ServicePort{{Name:\"\", Protocol:{}, AppProtocol:(*string)(nil), Port:{port}, TargetPort:{}, NodePort:0}}",
        go_quote(protocol),
        go_int_or_string(None)
    )
}

fn validate_service_port(
    sp: &ServicePort,
    require_name: bool,
    seen: &mut BTreeSet<String>,
    path: &Path,
) -> Vec<FieldCause> {
    let mut errs = Vec::new();
    let name = opt_str(&sp.name);
    if require_name && name.is_empty() {
        errs.push(FieldCause::required(&path.child("name"), ""));
    } else if !name.is_empty() {
        errs.extend(validate_dns1123_label(name, &path.child("name")));
        if !seen.insert(name.to_owned()) {
            errs.push(FieldCause::duplicate(&path.child("name"), name));
        }
    }
    for msg in names::is_valid_port_num(i64::from(sp.port)) {
        errs.push(FieldCause::invalid(&path.child("port"), sp.port, &msg));
    }
    let proto = opt_str(&sp.protocol);
    if proto.is_empty() {
        errs.push(FieldCause::required(&path.child("protocol"), ""));
    } else if !PORT_PROTOCOLS.contains(&proto) {
        errs.push(FieldCause::not_supported(
            &path.child("protocol"),
            proto,
            PORT_PROTOCOLS,
        ));
    }
    errs.extend(validate_port_num_or_name(
        sp.target_port.as_ref(),
        &path.child("targetPort"),
    ));
    if let Some(app) = &sp.app_protocol {
        errs.extend(validate_qualified_name(app, &path.child("appProtocol")));
    }
    errs
}

fn validate_cluster_ips_related(spec: &ServiceSpec) -> Vec<FieldCause> {
    if svc_type(spec) == "ExternalName" {
        return Vec::new();
    }
    let mut errs = Vec::new();
    let spec_path = Path::new("spec");
    let ips_path = spec_path.child("clusterIPs");
    let fam_path = spec_path.child("ipFamilies");
    let cluster_ip = opt_str(&spec.cluster_ip);
    let ips = opt_vec(&spec.cluster_ips);
    let ips_value = || BadValue::GoSyntax(go_string_slice(spec.cluster_ips.as_deref()));
    if !cluster_ip.is_empty() {
        match ips.first() {
            None => errs.push(FieldCause::required(&ips_path, "")),
            Some(first) if first != cluster_ip => {
                errs.push(FieldCause::invalid(
                    &ips_path,
                    ips_value(),
                    "first value must match `clusterIP`",
                ));
            }
            Some(_) => {}
        }
    } else if !ips.is_empty() {
        errs.push(FieldCause::invalid(
            &ips_path,
            ips_value(),
            "must be empty when `clusterIP` is not specified",
        ));
    }
    let families = opt_vec(&spec.ip_families);
    let mut seen = BTreeSet::new();
    for (i, fam) in families.iter().enumerate() {
        if fam != "IPv4" && fam != "IPv6" {
            errs.push(FieldCause::not_supported(
                &fam_path.index(i),
                fam.as_str(),
                &["IPv4", "IPv6"],
            ));
        }
        if !seen.insert(fam.as_str()) {
            errs.push(FieldCause::duplicate(&fam_path.index(i), fam.as_str()));
        }
    }
    if let Some(policy) = &spec.ip_family_policy {
        const POLICIES: &[&str] = &["PreferDualStack", "RequireDualStack", "SingleStack"];
        if !POLICIES.contains(&policy.as_str()) {
            errs.push(FieldCause::not_supported(
                &spec_path.child("ipFamilyPolicy"),
                policy.as_str(),
                POLICIES,
            ));
        }
    }
    let mut invalid_ips = false;
    for (i, cip) in ips.iter().enumerate() {
        if i == 0 && cip == "None" {
            if ips.len() > 1 {
                invalid_ips = true;
                errs.push(FieldCause::invalid(
                    &ips_path,
                    ips_value(),
                    "'None' must be the first and only value",
                ));
            }
            continue;
        }
        let e = ip::validate_ip(&ips_path.index(i), cip);
        invalid_ips |= !e.is_empty();
        errs.extend(e);
    }
    if ips.len() > 2 {
        errs.push(FieldCause::invalid(
            &ips_path,
            ips_value(),
            "may only hold up to 2 values",
        ));
    }
    if invalid_ips {
        return errs;
    }
    if ips.len() > 1 && ip::is_dual_stack_ips(ips) != Some(true) {
        errs.push(FieldCause::invalid(
            &ips_path,
            ips_value(),
            "may specify no more than one IP for each IP family",
        ));
    }
    if !is_headless(spec) && !ips.is_empty() && !families.is_empty() {
        for (i, (cip, fam)) in ips.iter().zip(families).enumerate() {
            let is_v6 = ip::parse_ip_sloppy(cip).is_some_and(|a| a.is_ipv6());
            if fam == "IPv4" && is_v6 {
                errs.push(FieldCause::invalid(
                    &ips_path.index(i),
                    cip.as_str(),
                    &format!("expected an IPv4 value as indicated by `ipFamilies[{i}]`"),
                ));
            }
            if fam == "IPv6" && !is_v6 {
                errs.push(FieldCause::invalid(
                    &ips_path.index(i),
                    cip.as_str(),
                    &format!("expected an IPv6 value as indicated by `ipFamilies[{i}]`"),
                ));
            }
        }
    }
    errs
}

fn validate_service_spec(svc: &Service, spec: &ServiceSpec) -> Vec<FieldCause> {
    let mut errs = Vec::new();
    let spec_path = Path::new("spec");
    let t = svc_type(spec);
    let headless = is_headless(spec);
    let ports = opt_vec(&spec.ports);

    let annotations = super::opt_map(&svc.metadata.annotations);
    if let (Some(mode), Some(hints)) = (
        annotations.get("service.kubernetes.io/topology-mode"),
        annotations.get("service.kubernetes.io/topology-aware-hints"),
    ) && mode != hints
    {
        errs.push(FieldCause::invalid(
                &Path::new("metadata").child("annotations").key("service.kubernetes.io/topology-mode"),
                mode.as_str(),
                "must match annotations[service.kubernetes.io/topology-aware-hints] when both are specified",
            ));
    }

    if ports.is_empty() && !headless && t != "ExternalName" {
        errs.push(FieldCause::required(&spec_path.child("ports"), ""));
    }
    let first_ip = || {
        opt_vec(&spec.cluster_ips)
            .first()
            .cloned()
            .unwrap_or_default()
    };
    match t {
        "LoadBalancer" if headless => errs.push(FieldCause::invalid(
            &spec_path.child("clusterIPs").index(0),
            first_ip(),
            "may not be set to 'None' for LoadBalancer services",
        )),
        "NodePort" if headless => errs.push(FieldCause::invalid(
            &spec_path.child("clusterIPs").index(0),
            first_ip(),
            "may not be set to 'None' for NodePort services",
        )),
        "ExternalName" => {
            if !opt_vec(&spec.cluster_ips).is_empty() {
                errs.push(FieldCause::forbidden(
                    &spec_path.child("clusterIPs"),
                    "may not be set for ExternalName services",
                ));
            }
            if !opt_vec(&spec.ip_families).is_empty() {
                errs.push(FieldCause::forbidden(
                    &spec_path.child("ipFamilies"),
                    "may not be set for ExternalName services",
                ));
            }
            if spec.ip_family_policy.is_some() {
                errs.push(FieldCause::forbidden(
                    &spec_path.child("ipFamilyPolicy"),
                    "may not be set for ExternalName services",
                ));
            }
            let external = opt_str(&spec.external_name);
            let cname = external.strip_suffix('.').unwrap_or(external);
            if cname.is_empty() {
                errs.push(FieldCause::required(&spec_path.child("externalName"), ""));
            } else {
                for msg in names::is_dns1123_subdomain(cname) {
                    errs.push(FieldCause::invalid(
                        &spec_path.child("externalName"),
                        cname,
                        &msg,
                    ));
                }
            }
        }
        _ => {}
    }

    let mut seen = BTreeSet::new();
    for (i, sp) in ports.iter().enumerate() {
        errs.extend(validate_service_port(
            sp,
            ports.len() > 1,
            &mut seen,
            &spec_path.child("ports").index(i),
        ));
    }
    if let Some(sel) = &spec.selector {
        errs.extend(meta::validate_labels(
            Some(sel),
            &spec_path.child("selector"),
        ));
    }

    let affinity = opt_str(&spec.session_affinity);
    if affinity.is_empty() {
        errs.push(FieldCause::required(
            &spec_path.child("sessionAffinity"),
            "",
        ));
    } else if affinity != "ClientIP" && affinity != "None" {
        errs.push(FieldCause::not_supported(
            &spec_path.child("sessionAffinity"),
            affinity,
            &["ClientIP", "None"],
        ));
    }
    let cfg_path = spec_path.child("sessionAffinityConfig");
    if affinity == "ClientIP" {
        let when = "when session affinity type is ClientIP";
        match spec.session_affinity_config.as_ref().map(|c| &c.client_ip) {
            None => errs.push(FieldCause::required(&cfg_path, when)),
            Some(None) => errs.push(FieldCause::required(&cfg_path.child("clientIP"), when)),
            Some(Some(c)) => {
                match c.timeout_seconds {
                    None => errs.push(FieldCause::required(
                        &cfg_path.child("clientIP").child("timeoutSeconds"),
                        when,
                    )),
                    Some(secs) if secs <= 0 || secs > MAX_CLIENT_IP_AFFINITY_SECONDS => {
                        errs.push(FieldCause::invalid(
                        &cfg_path.child("clientIP").child("timeoutSeconds"),
                        secs,
                        &format!("must be greater than 0 and less than {MAX_CLIENT_IP_AFFINITY_SECONDS}"),
                    ));
                    }
                    Some(_) => {}
                }
            }
        }
    } else if affinity == "None" && spec.session_affinity_config.is_some() {
        errs.push(FieldCause::forbidden(
            &cfg_path,
            "must not be set when session affinity is None",
        ));
    }

    errs.extend(validate_cluster_ips_related(spec));

    for (i, eip) in opt_vec(&spec.external_ips).iter().enumerate() {
        let p = spec_path.child("externalIPs").index(i);
        let e = ip::validate_ip(&p, eip);
        if e.is_empty() {
            errs.extend(ip::validate_non_special_ip(&p, eip));
        } else {
            errs.extend(e);
        }
    }

    const TYPES: &[&str] = &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
    if t.is_empty() {
        errs.push(FieldCause::required(&spec_path.child("type"), ""));
    } else if !TYPES.contains(&t) {
        errs.push(FieldCause::not_supported(
            &spec_path.child("type"),
            t,
            TYPES,
        ));
    }
    if t == "ClusterIP" {
        for (i, sp) in ports.iter().enumerate() {
            if sp.node_port.unwrap_or(0) != 0 {
                errs.push(FieldCause::forbidden(
                    &spec_path.child("ports").index(i).child("nodePort"),
                    "may not be used when `type` is 'ClusterIP'",
                ));
            }
        }
    }
    let mut node_ports = BTreeSet::new();
    for (i, sp) in ports.iter().enumerate() {
        let np = sp.node_port.unwrap_or(0);
        if np != 0 && !node_ports.insert((opt_str(&sp.protocol), np)) {
            errs.push(FieldCause::duplicate(
                &spec_path.child("ports").index(i).child("nodePort"),
                np,
            ));
        }
    }
    let mut port_keys = BTreeSet::new();
    for (i, sp) in ports.iter().enumerate() {
        let proto = opt_str(&sp.protocol);
        if !port_keys.insert((proto, sp.port)) {
            errs.push(FieldCause::duplicate(
                &spec_path.child("ports").index(i),
                BadValue::GoSyntax(go_service_port_key(proto, sp.port)),
            ));
        }
    }

    let ranges = opt_vec(&spec.load_balancer_source_ranges);
    if !ranges.is_empty() {
        // kube-apiserver spells this path with a capital L.
        let p = spec_path.child("LoadBalancerSourceRanges");
        if t != "LoadBalancer" {
            errs.push(FieldCause::forbidden(
                &p,
                "may only be used when `type` is 'LoadBalancer'",
            ));
        }
        for (i, r) in ranges.iter().enumerate() {
            errs.extend(ip::validate_cidr(&p.index(i), r.trim()));
        }
    }
    if spec.allocate_load_balancer_node_ports.is_some() && t != "LoadBalancer" {
        errs.push(FieldCause::forbidden(
            &spec_path.child("allocateLoadBalancerNodePorts"),
            "may only be used when `type` is 'LoadBalancer'",
        ));
    }
    if t == "LoadBalancer" && spec.allocate_load_balancer_node_ports.is_none() {
        // kube-apiserver reports this without the `spec.` prefix.
        errs.push(FieldCause::required(
            &Path::new("allocateLoadBalancerNodePorts"),
            "",
        ));
    }
    if let Some(class) = &spec.load_balancer_class {
        if t == "LoadBalancer" {
            errs.extend(validate_qualified_name(
                class,
                &spec_path.child("loadBalancerClass"),
            ));
        } else {
            errs.push(FieldCause::forbidden(
                &spec_path.child("loadBalancerClass"),
                "may only be used when `type` is 'LoadBalancer'",
            ));
        }
    }

    let etp = opt_str(&spec.external_traffic_policy);
    if !externally_accessible(spec) {
        if !etp.is_empty() {
            errs.push(FieldCause::invalid(
                &spec_path.child("externalTrafficPolicy"),
                etp,
                "may only be set for externally-accessible services",
            ));
        }
    } else if etp.is_empty() {
        errs.push(FieldCause::required(
            &spec_path.child("externalTrafficPolicy"),
            "",
        ));
    } else if etp != "Cluster" && etp != "Local" {
        errs.push(FieldCause::not_supported(
            &spec_path.child("externalTrafficPolicy"),
            etp,
            &["Cluster", "Local"],
        ));
    }
    let hc = spec.health_check_node_port.unwrap_or(0);
    if !needs_health_check(spec) {
        if hc != 0 {
            errs.push(FieldCause::invalid(
                &spec_path.child("healthCheckNodePort"),
                hc,
                "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
            ));
        }
    } else if hc == 0 {
        errs.push(FieldCause::required(
            &spec_path.child("healthCheckNodePort"),
            "",
        ));
    } else {
        for msg in names::is_valid_port_num(i64::from(hc)) {
            errs.push(FieldCause::invalid(
                &spec_path.child("healthCheckNodePort"),
                hc,
                &msg,
            ));
        }
    }
    match spec.internal_traffic_policy.as_deref() {
        None if matches!(t, "ClusterIP" | "NodePort" | "LoadBalancer") => {
            errs.push(FieldCause::required(
                &spec_path.child("internalTrafficPolicy"),
                "",
            ));
        }
        Some(itp) if itp != "Cluster" && itp != "Local" => {
            errs.push(FieldCause::not_supported(
                &spec_path.child("internalTrafficPolicy"),
                itp,
                &["Cluster", "Local"],
            ));
        }
        _ => {}
    }
    if let Some(td) = &spec.traffic_distribution
        && td != "PreferClose"
    {
        errs.push(FieldCause::not_supported(
            &spec_path.child("trafficDistribution"),
            td.as_str(),
            &["PreferClose"],
        ));
    }
    errs
}

fn validate_service_update(new: &ServiceSpec, old: &ServiceSpec) -> Vec<FieldCause> {
    let mut errs = Vec::new();
    let spec_path = Path::new("spec");
    let ips_path = spec_path.child("clusterIPs");
    let (nt, ot) = (svc_type(new), svc_type(old));
    let external_name = nt == "ExternalName" || ot == "ExternalName";
    let (new_ips, old_ips) = (opt_vec(&new.cluster_ips), opt_vec(&old.cluster_ips));
    let new_ips_value = || BadValue::GoSyntax(go_string_slice(new.cluster_ips.as_deref()));
    let single_stack = new.ip_family_policy.as_deref() == Some("SingleStack");
    let both_headless = is_headless(new) && is_headless(old);
    if !external_name && !both_headless {
        if old_ips.len() == new_ips.len() {
            for (i, (o, n)) in old_ips.iter().zip(new_ips).enumerate() {
                if o != n {
                    errs.push(FieldCause::invalid(
                        &ips_path.index(i),
                        new_ips_value(),
                        "may not change once set",
                    ));
                }
            }
        } else if old_ips.len() > new_ips.len() {
            if new_ips.is_empty() {
                errs.push(FieldCause::invalid(
                    &ips_path.index(0),
                    new_ips_value(),
                    "primary clusterIP can not be unset",
                ));
            }
            if let (Some(o), Some(n)) = (old_ips.first(), new_ips.first())
                && o != n
            {
                errs.push(FieldCause::invalid(
                    &ips_path.index(0),
                    new_ips_value(),
                    "may not change once set",
                ));
            }
            if new_ips.len() == 1 && !single_stack {
                errs.push(FieldCause::invalid(
                    &spec_path.child("ipFamilyPolicy"),
                    BadValue::from(new.ip_family_policy.clone()),
                    "must be set to 'SingleStack' when releasing the secondary clusterIP",
                ));
            }
        } else if let (Some(o), Some(n)) = (old_ips.first(), new_ips.first())
            && o != n
        {
            errs.push(FieldCause::invalid(
                &ips_path.index(0),
                new_ips_value(),
                "may not change once set",
            ));
        }
    }
    let (new_fam, old_fam) = (opt_vec(&new.ip_families), opt_vec(&old.ip_families));
    let fam_path = spec_path.child("ipFamilies");
    let fam_value = || {
        BadValue::GoSyntax(
            go_string_slice(new.ip_families.as_deref()).replace("[]string", "[]core.IPFamily"),
        )
    };
    if !external_name && is_headless(new) == is_headless(old) && !is_headless(new) {
        if old_fam.len() == new_fam.len() {
            for (o, n) in old_fam.iter().zip(new_fam) {
                if o != n {
                    errs.push(FieldCause::invalid(
                        &fam_path.index(0),
                        fam_value(),
                        "may not change once set",
                    ));
                }
            }
        } else if old_fam.len() > new_fam.len() {
            if new_ips.is_empty() {
                errs.push(FieldCause::invalid(
                    &fam_path.index(0),
                    fam_value(),
                    "primary ipFamily can not be unset",
                ));
            }
            if let (Some(o), Some(n)) = (old_fam.first(), new_fam.first())
                && o != n
            {
                errs.push(FieldCause::invalid(
                    &fam_path.index(0),
                    new_ips_value(),
                    "may not change once set",
                ));
            }
            if new_fam.len() == 1 && !single_stack {
                errs.push(FieldCause::invalid(
                    &spec_path.child("ipFamilyPolicy"),
                    BadValue::from(new.ip_family_policy.clone()),
                    "must be set to 'SingleStack' when releasing the secondary ipFamily",
                ));
            }
        } else if let (Some(o), Some(n)) = (old_fam.first(), new_fam.first())
            && o != n
        {
            errs.push(FieldCause::invalid(
                &fam_path.index(0),
                new_ips_value(),
                "may not change once set",
            ));
        }
    }
    if nt == "LoadBalancer"
        && ot == "LoadBalancer"
        && new.load_balancer_class != old.load_balancer_class
    {
        errs.push(FieldCause::invalid(
            &spec_path.child("loadBalancerClass"),
            BadValue::from(new.load_balancer_class.clone()),
            "may not change once set",
        ));
    }
    if needs_health_check(old)
        && needs_health_check(new)
        && new.health_check_node_port != old.health_check_node_port
    {
        errs.push(FieldCause::forbidden(
            &spec_path.child("healthCheckNodePort"),
            "field is immutable",
        ));
    }
    errs
}

/// Validates a Service on create or update.
///
/// Cluster IPs and node ports must already be allocated (kube-apiserver
/// allocates before validating), and on update the same clusterIP/nodePort
/// carry-over as [`crate::defaults::prepare_service`] is applied to a copy.
pub fn validate_service(svc: &Service, old: Option<&Service>) -> Vec<FieldCause> {
    // A stored Service went through create normalisation; make sure `old` has too.
    let old = old.map(|o| prepare_copy(o, None).unwrap_or_else(|| o.clone()));
    let svc = prepare_copy(svc, old.as_ref()).unwrap_or_else(|| svc.clone());
    let spec = svc.spec.clone().unwrap_or_default();
    let mut errs = Vec::new();
    if let Some(old) = &old {
        errs.extend(meta::validate_object_meta_update(
            &svc.metadata,
            &old.metadata,
            &Path::new("metadata"),
        ));
        errs.extend(validate_service_update(
            &spec,
            &old.spec.clone().unwrap_or_default(),
        ));
    }
    errs.extend(meta::validate_meta(
        &svc.metadata,
        None,
        Scope::Namespaced,
        names::name_is_dns1035_label,
    ));
    errs.extend(validate_service_spec(&svc, &spec));
    errs
}

fn prepare_copy(svc: &Service, old: Option<&Service>) -> Option<Service> {
    let mut v = serde_json::to_value(svc).ok()?;
    let old_v = match old {
        Some(o) => Some(serde_json::to_value(o).ok()?),
        None => None,
    };
    crate::defaults::prepare_service(&mut v, old_v.as_ref());
    serde_json::from_value(v).ok()
}

// ---- ConfigMap and Secret ----

/// Validates a ConfigMap on create or update.
pub fn validate_config_map(cm: &ConfigMap, old: Option<&ConfigMap>) -> Vec<FieldCause> {
    let mut errs = Vec::new();
    if let Some(old) = old {
        errs.extend(meta::validate_object_meta_update(
            &cm.metadata,
            &old.metadata,
            &Path::new("metadata"),
        ));
        if old.immutable == Some(true) {
            let msg = "field is immutable when `immutable` is set";
            if cm.immutable != Some(true) {
                errs.push(FieldCause::forbidden(&Path::new("immutable"), msg));
            }
            if cm.data.clone().unwrap_or_default() != old.data.clone().unwrap_or_default() {
                errs.push(FieldCause::forbidden(&Path::new("data"), msg));
            }
            if cm.binary_data.clone().unwrap_or_default()
                != old.binary_data.clone().unwrap_or_default()
            {
                errs.push(FieldCause::forbidden(&Path::new("binaryData"), msg));
            }
        }
    }
    errs.extend(meta::validate_meta(
        &cm.metadata,
        None,
        Scope::Namespaced,
        names::name_is_dns_subdomain,
    ));
    let mut total = 0usize;
    let binary = cm.binary_data.clone().unwrap_or_default();
    for (k, v) in cm.data.iter().flatten() {
        let p = Path::new("data").key(k);
        for msg in names::is_config_map_key(k) {
            errs.push(FieldCause::invalid(&p, k, &msg));
        }
        if binary.contains_key(k) {
            errs.push(FieldCause::invalid(
                &p,
                k,
                "duplicate of key present in binaryData",
            ));
        }
        total = total.saturating_add(v.len());
    }
    for (k, v) in &binary {
        for msg in names::is_config_map_key(k) {
            errs.push(FieldCause::invalid(
                &Path::new("binaryData").key(k),
                k,
                &msg,
            ));
        }
        total = total.saturating_add(v.0.len());
    }
    if total > MAX_SECRET_SIZE {
        errs.push(FieldCause::too_long(&Path::new(""), MAX_SECRET_SIZE));
    }
    errs
}

/// `data` as kube-apiserver sees it: `stringData` entries folded in, winning on conflict.
fn secret_data(secret: &Secret) -> BTreeMap<String, Vec<u8>> {
    let mut data: BTreeMap<String, Vec<u8>> = secret
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.0.clone()))
        .collect();
    for (k, v) in secret.string_data.iter().flatten() {
        data.insert(k.clone(), v.clone().into_bytes());
    }
    data
}

/// Validates a Secret on create or update (`stringData` counts as `data`).
pub fn validate_secret(secret: &Secret, old: Option<&Secret>) -> Vec<FieldCause> {
    let mut errs = Vec::new();
    let data = secret_data(secret);
    if let Some(old) = old {
        errs.extend(meta::validate_object_meta_update(
            &secret.metadata,
            &old.metadata,
            &Path::new("metadata"),
        ));
        let (nt, ot) = (opt_str(&secret.type_), opt_str(&old.type_));
        errs.extend(meta::validate_immutable_str(nt, ot, &Path::new("type")));
        if old.immutable == Some(true) {
            let msg = "field is immutable when `immutable` is set";
            if secret.immutable != Some(true) {
                errs.push(FieldCause::forbidden(&Path::new("immutable"), msg));
            }
            if data != secret_data(old) {
                errs.push(FieldCause::forbidden(&Path::new("data"), msg));
            }
        }
    }
    errs.extend(meta::validate_meta(
        &secret.metadata,
        None,
        Scope::Namespaced,
        names::name_is_dns_subdomain,
    ));
    let data_path = Path::new("data");
    let mut total = 0usize;
    for (k, v) in &data {
        for msg in names::is_config_map_key(k) {
            errs.push(FieldCause::invalid(&data_path.key(k), k, &msg));
        }
        total = total.saturating_add(v.len());
    }
    if total > MAX_SECRET_SIZE {
        errs.push(FieldCause::too_long(&data_path, MAX_SECRET_SIZE));
    }
    let require = |errs: &mut Vec<FieldCause>, key: &str| {
        if !data.contains_key(key) {
            errs.push(FieldCause::required(&data_path.key(key), ""));
        }
    };
    let json_key = |errs: &mut Vec<FieldCause>, key: &str| match data.get(key) {
        None => errs.push(FieldCause::required(&data_path.key(key), "")),
        Some(bytes) => {
            if let Err(e) =
                serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(bytes)
            {
                errs.push(FieldCause::invalid(
                    &data_path.key(key),
                    "<secret contents redacted>",
                    &e.to_string(),
                ));
            }
        }
    };
    match opt_str(&secret.type_) {
        "kubernetes.io/service-account-token" => {
            let name = super::opt_map(&secret.metadata.annotations)
                .get("kubernetes.io/service-account.name");
            if name.is_none_or(|n| n.is_empty()) {
                errs.push(FieldCause::required(
                    &Path::new("metadata")
                        .child("annotations")
                        .key("kubernetes.io/service-account.name"),
                    "",
                ));
            }
        }
        "kubernetes.io/dockercfg" => json_key(&mut errs, ".dockercfg"),
        "kubernetes.io/dockerconfigjson" => json_key(&mut errs, ".dockerconfigjson"),
        "kubernetes.io/basic-auth"
            if !data.contains_key("username") && !data.contains_key("password") =>
        {
            require(&mut errs, "username");
            require(&mut errs, "password");
        }
        "kubernetes.io/ssh-auth" if data.get("ssh-privatekey").is_none_or(|v| v.is_empty()) => {
            errs.push(FieldCause::required(&data_path.key("ssh-privatekey"), ""));
        }
        "kubernetes.io/tls" => {
            require(&mut errs, "tls.crt");
            require(&mut errs, "tls.key");
        }
        _ => {}
    }
    errs
}

// ---- Endpoints ----

fn validate_endpoint_port(port: &EndpointPort, require_name: bool, path: &Path) -> Vec<FieldCause> {
    let mut errs = Vec::new();
    let name = opt_str(&port.name);
    if require_name && name.is_empty() {
        errs.push(FieldCause::required(&path.child("name"), ""));
    } else if !name.is_empty() {
        errs.extend(validate_dns1123_label(name, &path.child("name")));
    }
    for msg in names::is_valid_port_num(i64::from(port.port)) {
        errs.push(FieldCause::invalid(&path.child("port"), port.port, &msg));
    }
    let proto = opt_str(&port.protocol);
    if proto.is_empty() {
        errs.push(FieldCause::required(&path.child("protocol"), ""));
    } else if !PORT_PROTOCOLS.contains(&proto) {
        errs.push(FieldCause::not_supported(
            &path.child("protocol"),
            proto,
            PORT_PROTOCOLS,
        ));
    }
    if let Some(app) = &port.app_protocol {
        errs.extend(validate_qualified_name(app, &path.child("appProtocol")));
    }
    errs
}

/// Validates Endpoints on create or update.
pub fn validate_endpoints(ep: &Endpoints, old: Option<&Endpoints>) -> Vec<FieldCause> {
    let mut errs = Vec::new();
    if let Some(old) = old {
        errs.extend(meta::validate_object_meta_update(
            &ep.metadata,
            &old.metadata,
            &Path::new("metadata"),
        ));
    }
    errs.extend(meta::validate_meta(
        &ep.metadata,
        None,
        Scope::Namespaced,
        names::name_is_dns_subdomain,
    ));
    for (i, ss) in opt_vec(&ep.subsets).iter().enumerate() {
        let p = Path::new("subsets").index(i);
        let (ready, not_ready) = (opt_vec(&ss.addresses), opt_vec(&ss.not_ready_addresses));
        if ready.is_empty() && not_ready.is_empty() {
            errs.push(FieldCause::required(
                &p,
                "must specify `addresses` or `notReadyAddresses`",
            ));
        }
        for (field, list) in [("addresses", ready), ("notReadyAddresses", not_ready)] {
            for (j, addr) in list.iter().enumerate() {
                let ap = p.child(field).index(j);
                errs.extend(ip::validate_ip(&ap.child("ip"), &addr.ip));
                let host = opt_str(&addr.hostname);
                if !host.is_empty() {
                    errs.extend(validate_dns1123_label(host, &ap.child("hostname")));
                }
                if let Some(node) = &addr.node_name {
                    for msg in names::name_is_dns_subdomain(node, false) {
                        errs.push(FieldCause::invalid(
                            &ap.child("nodeName"),
                            node.as_str(),
                            &msg,
                        ));
                    }
                }
                errs.extend(ip::validate_non_special_ip(&ap.child("ip"), &addr.ip));
            }
        }
        let ports = opt_vec(&ss.ports);
        for (j, port) in ports.iter().enumerate() {
            errs.extend(validate_endpoint_port(
                port,
                ports.len() > 1,
                &p.child("ports").index(j),
            ));
        }
    }
    errs
}

// ---- Node ----

fn go_taint(t: &Taint) -> String {
    format!(
        "core.Taint{{Key:{}, Value:{}, Effect:{}, TimeAdded:(*v1.Time)(nil)}}",
        go_quote(&t.key),
        go_quote(opt_str(&t.value)),
        go_quote(&t.effect)
    )
}

fn validate_taints(taints: &[Taint], path: &Path) -> Vec<FieldCause> {
    const EFFECTS: &[&str] = &["NoSchedule", "PreferNoSchedule", "NoExecute"];
    let mut errs = Vec::new();
    let mut seen: BTreeSet<(&str, &str)> = BTreeSet::new();
    for (i, t) in taints.iter().enumerate() {
        let p = path.index(i);
        errs.extend(meta::validate_label_name(&t.key, &p.child("key")));
        let value = opt_str(&t.value);
        let msgs = names::is_valid_label_value(value);
        if !msgs.is_empty() {
            errs.push(FieldCause::invalid(
                &p.child("value"),
                value,
                &msgs.join(";"),
            ));
        }
        if t.effect.is_empty() {
            errs.push(FieldCause::required(&p.child("effect"), ""));
        } else if !EFFECTS.contains(&t.effect.as_str()) {
            errs.push(FieldCause::not_supported(
                &p.child("effect"),
                t.effect.as_str(),
                EFFECTS,
            ));
        }
        if !seen.insert((t.effect.as_str(), t.key.as_str())) {
            errs.push(
                FieldCause::duplicate(&p, BadValue::GoSyntax(go_taint(t)))
                    .with_detail("taints must be unique by key and effect pair"),
            );
        }
    }
    errs
}

/// The node's pod CIDRs as kube-apiserver converts them (`podCIDR` fills an empty `podCIDRs`).
fn pod_cidrs(node: &Node) -> Vec<String> {
    let Some(spec) = &node.spec else {
        return Vec::new();
    };
    let plural = opt_vec(&spec.pod_cidrs);
    if plural.is_empty() {
        let single = opt_str(&spec.pod_cidr);
        if single.is_empty() {
            Vec::new()
        } else {
            vec![single.to_owned()]
        }
    } else {
        plural.to_vec()
    }
}

/// Validates a Node on create or update; pod CIDRs may only go from unset to set.
pub fn validate_node(node: &Node, old: Option<&Node>) -> Vec<FieldCause> {
    let meta_path = Path::new("metadata");
    let cidrs_path = Path::new("spec").child("podCIDRs");
    let taints = node
        .spec
        .as_ref()
        .map(|s| opt_vec(&s.taints))
        .unwrap_or(&[]);
    let cidrs = pod_cidrs(node);
    let mut errs = Vec::new();
    match old {
        None => {
            errs.extend(meta::validate_meta(
                &node.metadata,
                None,
                Scope::Cluster,
                names::name_is_dns_subdomain,
            ));
            // kube-apiserver roots the taints path at metadata; kept for parity.
            errs.extend(validate_taints(taints, &meta_path.child("taints")));
            for (i, c) in cidrs.iter().enumerate() {
                errs.extend(ip::validate_cidr(&cidrs_path.index(i), c));
            }
            if cidrs.len() > 1 {
                if cidrs.len() > 2 || ip::is_dual_stack_cidrs(&cidrs) == Some(false) {
                    errs.push(FieldCause::invalid(
                        &cidrs_path,
                        BadValue::GoSyntax(go_string_slice(Some(&cidrs))),
                        "may specify no more than one CIDR for each IP family",
                    ));
                }
                let mut seen = BTreeSet::new();
                for (i, c) in cidrs.iter().enumerate() {
                    if !seen.insert(c) {
                        errs.push(FieldCause::duplicate(&cidrs_path.index(i), c.as_str()));
                    }
                }
            }
        }
        Some(old) => {
            errs.extend(meta::validate_object_meta_update(
                &node.metadata,
                &old.metadata,
                &meta_path,
            ));
            let addresses = node
                .status
                .as_ref()
                .map(|s| opt_vec(&s.addresses))
                .unwrap_or(&[]);
            let mut seen = BTreeSet::new();
            for (i, a) in addresses.iter().enumerate() {
                if !seen.insert((a.type_.as_str(), a.address.as_str())) {
                    errs.push(FieldCause::duplicate(
                        &Path::new("status").child("addresses").index(i),
                        BadValue::GoSyntax(format!(
                            "core.NodeAddress{{Type:{}, Address:{}}}",
                            go_quote(&a.type_),
                            go_quote(&a.address)
                        )),
                    ));
                }
            }
            let old_cidrs = pod_cidrs(old);
            let msg = "node updates may not change podCIDR except from \"\" to valid";
            if !old_cidrs.is_empty() {
                if old_cidrs.len() != cidrs.len() {
                    errs.push(FieldCause::forbidden(&cidrs_path, msg));
                } else {
                    for (o, n) in old_cidrs.iter().zip(&cidrs) {
                        if o != n {
                            errs.push(FieldCause::forbidden(&cidrs_path, msg));
                        }
                    }
                }
            }
            let provider = |n: &Node| {
                n.spec
                    .as_ref()
                    .map(|s| opt_str(&s.provider_id).to_owned())
                    .unwrap_or_default()
            };
            let (np, op) = (provider(node), provider(old));
            if !op.is_empty() && op != np {
                errs.push(FieldCause::forbidden(
                    &Path::new("spec").child("providerID"),
                    "node updates may not change providerID except from \"\" to valid",
                ));
            }
            errs.extend(validate_taints(taints, &meta_path.child("taints")));
            let external = |n: &Node| {
                n.spec
                    .as_ref()
                    .map(|s| opt_str(&s.external_id).to_owned())
                    .unwrap_or_default()
            };
            if external(node) != external(old) {
                errs.push(FieldCause::forbidden(
                    &Path::new("spec").child("externalID"),
                    "may not be updated",
                ));
            }
        }
    }
    errs
}

// ---- Event ----

/// Validates a core/v1 Event with the legacy rules kube-apiserver keeps for this API.
pub fn validate_event(ev: &Event, _old: Option<&Event>) -> Vec<FieldCause> {
    let mut errs = Vec::new();
    let ns = opt_str(&ev.metadata.namespace);
    let involved_ns = opt_str(&ev.involved_object.namespace);
    let mismatch = |errs: &mut Vec<FieldCause>| {
        errs.push(FieldCause::invalid(
            &Path::new("involvedObject").child("namespace"),
            involved_ns,
            "does not match event.namespace",
        ));
    };
    if ev.event_time.is_none() {
        if involved_ns.is_empty() {
            if !ns.is_empty() && ns != "default" {
                mismatch(&mut errs);
            }
        } else if ns != involved_ns {
            mismatch(&mut errs);
        }
    } else {
        if involved_ns.is_empty() && ns != "default" && ns != "kube-system" {
            mismatch(&mut errs);
        }
        let controller = opt_str(&ev.reporting_component);
        if controller.is_empty() {
            errs.push(FieldCause::required(&Path::new("reportingController"), ""));
        }
        for msg in names::is_qualified_name(controller) {
            errs.push(FieldCause::invalid(
                &Path::new("reportingController"),
                controller,
                &msg,
            ));
        }
        for (field, value, limit) in [
            (
                "reportingInstance",
                opt_str(&ev.reporting_instance),
                128usize,
            ),
            ("action", opt_str(&ev.action), 128),
            ("reason", opt_str(&ev.reason), 128),
        ] {
            if value.is_empty() {
                errs.push(FieldCause::required(&Path::new(field), ""));
            }
            if value.len() > limit {
                errs.push(FieldCause::invalid(
                    &Path::new(field),
                    "",
                    &format!("can have at most {limit} characters"),
                ));
            }
        }
        if opt_str(&ev.message).len() > 1024 {
            errs.push(FieldCause::invalid(
                &Path::new("message"),
                "",
                "can have at most 1024 characters",
            ));
        }
    }
    for msg in names::is_dns1123_subdomain(ns) {
        errs.push(FieldCause::invalid(&Path::new("namespace"), ns, &msg));
    }
    errs
}

// ---- ServiceAccount ----

/// Validates a ServiceAccount on create or update.
pub fn validate_service_account(
    sa: &ServiceAccount,
    old: Option<&ServiceAccount>,
) -> Vec<FieldCause> {
    let mut errs = Vec::new();
    if let Some(old) = old {
        errs.extend(meta::validate_object_meta_update(
            &sa.metadata,
            &old.metadata,
            &Path::new("metadata"),
        ));
    }
    errs.extend(meta::validate_meta(
        &sa.metadata,
        None,
        Scope::Namespaced,
        names::name_is_dns_subdomain,
    ));
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::CauseType::*;
    use crate::validation::testutil::{Case, causes, remove, run_full as run, set, want};
    use serde_json::{Value, json};

    fn svc() -> Value {
        json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"clusterIP": "10.96.0.10", "selector": {"app": "web"},
                "ports": [{"port": 80, "targetPort": 8080}]}})
    }

    #[test]
    fn service_create_rules() {
        let cases: Vec<Case> = vec![
            ("valid", svc(), vec![]),
            (
                "valid headless without ports",
                remove(set(svc(), "/spec/clusterIP", json!("None")), "/spec/ports"),
                vec![],
            ),
            (
                "valid external name",
                json!({"metadata": {"name": "ext", "namespace": "d"}, "spec": {"type": "ExternalName", "externalName": "example.com."}}),
                vec![],
            ),
            (
                "name must be DNS-1035",
                set(svc(), "/metadata/name", json!("1web")),
                vec![(Invalid, "metadata.name")],
            ),
            (
                "ports required",
                remove(svc(), "/spec/ports"),
                vec![(Required, "spec.ports")],
            ),
            (
                "port zero",
                set(svc(), "/spec/ports/0/port", json!(0)),
                vec![(Invalid, "spec.ports[0].port")],
            ),
            (
                "port too big",
                set(svc(), "/spec/ports/0/port", json!(65536)),
                vec![(Invalid, "spec.ports[0].port")],
            ),
            (
                "target port too big",
                set(svc(), "/spec/ports/0/targetPort", json!(70000)),
                vec![(Invalid, "spec.ports[0].targetPort")],
            ),
            (
                "target port bad name",
                set(svc(), "/spec/ports/0/targetPort", json!("-http")),
                vec![(Invalid, "spec.ports[0].targetPort")],
            ),
            (
                "protocol",
                set(svc(), "/spec/ports/0/protocol", json!("HTTP")),
                vec![(NotSupported, "spec.ports[0].protocol")],
            ),
            (
                "names required with two ports",
                set(svc(), "/spec/ports/1", json!({"name": "b", "port": 81})),
                vec![(Required, "spec.ports[0].name")],
            ),
            (
                "names unique",
                set(
                    set(svc(), "/spec/ports/0/name", json!("a")),
                    "/spec/ports/1",
                    json!({"name": "a", "port": 81}),
                ),
                vec![(Duplicate, "spec.ports[1].name")],
            ),
            (
                "duplicate port",
                set(
                    set(svc(), "/spec/ports/0/name", json!("a")),
                    "/spec/ports/1",
                    json!({"name": "b", "port": 80}),
                ),
                vec![(Duplicate, "spec.ports[1]")],
            ),
            (
                "nodePort on ClusterIP",
                set(svc(), "/spec/ports/0/nodePort", json!(30080)),
                vec![(Forbidden, "spec.ports[0].nodePort")],
            ),
            (
                "type",
                set(svc(), "/spec/type", json!("Magic")),
                vec![(NotSupported, "spec.type")],
            ),
            (
                "bad clusterIP",
                set(svc(), "/spec/clusterIP", json!("10.96.0.300")),
                vec![(Invalid, "spec.clusterIPs[0]")],
            ),
            (
                "externalName required",
                json!({"metadata": {"name": "ext", "namespace": "d"}, "spec": {"type": "ExternalName"}}),
                vec![(Required, "spec.externalName")],
            ),
            (
                "externalName syntax",
                json!({"metadata": {"name": "ext", "namespace": "d"}, "spec": {"type": "ExternalName", "externalName": "Bad_Name"}}),
                vec![(Invalid, "spec.externalName")],
            ),
            (
                "externalName with clusterIP",
                json!({"metadata": {"name": "ext", "namespace": "d"}, "spec": {"type": "ExternalName", "externalName": "a.b", "clusterIP": "10.0.0.1"}}),
                vec![(Forbidden, "spec.clusterIPs")],
            ),
            (
                "selector",
                set(svc(), "/spec/selector", json!({"app": "-x"})),
                vec![(Invalid, "spec.selector")],
            ),
            (
                "affinity timeout",
                set(
                    set(svc(), "/spec/sessionAffinity", json!("ClientIP")),
                    "/spec/sessionAffinityConfig",
                    json!({"clientIP": {"timeoutSeconds": 86401}}),
                ),
                vec![(
                    Invalid,
                    "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
                )],
            ),
            (
                "affinity",
                set(svc(), "/spec/sessionAffinity", json!("Cookie")),
                vec![(NotSupported, "spec.sessionAffinity")],
            ),
            (
                "externalTrafficPolicy on ClusterIP",
                set(svc(), "/spec/externalTrafficPolicy", json!("Local")),
                vec![(Invalid, "spec.externalTrafficPolicy")],
            ),
            (
                "headless NodePort",
                set(
                    set(svc(), "/spec/clusterIP", json!("None")),
                    "/spec/type",
                    json!("NodePort"),
                ),
                vec![(Invalid, "spec.clusterIPs[0]")],
            ),
            (
                "externalIP loopback",
                set(svc(), "/spec/externalIPs", json!(["127.0.0.1"])),
                vec![(Invalid, "spec.externalIPs[0]")],
            ),
            (
                "LB needs health check port",
                set(
                    set(
                        set(svc(), "/spec/type", json!("LoadBalancer")),
                        "/spec/externalTrafficPolicy",
                        json!("Local"),
                    ),
                    "/spec/ports/0/nodePort",
                    json!(30080),
                ),
                vec![(Required, "spec.healthCheckNodePort")],
            ),
            (
                "source ranges need LB",
                set(
                    svc(),
                    "/spec/loadBalancerSourceRanges",
                    json!(["10.0.0.0/8"]),
                ),
                vec![(Forbidden, "spec.LoadBalancerSourceRanges")],
            ),
        ];
        for (name, obj, w) in cases {
            let errs = run("Service", obj, None);
            assert_eq!(causes(&errs), want(&w), "case {name}: {errs:#?}");
        }
        let errs = run("Service", set(svc(), "/spec/ports/0/port", json!(0)), None);
        assert_eq!(
            errs[0].message,
            "Invalid value: 0: must be between 1 and 65535, inclusive"
        );
    }

    #[test]
    fn service_update_rules() {
        let old = set(svc(), "/metadata/resourceVersion", json!("7"));
        let cases: Vec<Case> = vec![
            ("same", old.clone(), vec![]),
            (
                "omitting clusterIP keeps it",
                remove(old.clone(), "/spec/clusterIP"),
                vec![],
            ),
            (
                "clusterIP change",
                set(old.clone(), "/spec/clusterIP", json!("10.96.0.11")),
                vec![(Invalid, "spec.clusterIPs[0]")],
            ),
            (
                "to ExternalName drops clusterIP",
                set(
                    set(old.clone(), "/spec/type", json!("ExternalName")),
                    "/spec/externalName",
                    json!("example.com"),
                ),
                vec![],
            ),
            (
                "name change",
                set(old.clone(), "/metadata/name", json!("other")),
                vec![(Invalid, "metadata.name")],
            ),
        ];
        for (name, new, w) in cases {
            let errs = run("Service", new, Some(old.clone()));
            assert_eq!(causes(&errs), want(&w), "case {name}: {errs:#?}");
        }
        let errs = run(
            "Service",
            set(old.clone(), "/spec/clusterIP", json!("10.96.0.11")),
            Some(old.clone()),
        );
        assert_eq!(
            errs[0].message,
            "Invalid value: []string{\"10.96.0.11\"}: may not change once set"
        );
        // From ExternalName to ClusterIP is allowed to pick up an IP.
        let ext = json!({"metadata": {"name": "web", "namespace": "default", "resourceVersion": "1"},
            "spec": {"type": "ExternalName", "externalName": "example.com"}});
        assert_eq!(
            run(
                "Service",
                set(old.clone(), "/metadata/resourceVersion", json!("1")),
                Some(ext)
            ),
            vec![]
        );
    }

    #[test]
    fn namespace_rules() {
        let ns = |name: &str| json!({"metadata": {"name": name}});
        assert_eq!(run("Namespace", ns("team-a"), None), vec![]);
        assert_eq!(
            causes(&run("Namespace", ns("Team"), None)),
            want(&[(Invalid, "metadata.name")])
        );
        assert_eq!(
            causes(&run("Namespace", ns("a.b"), None)),
            want(&[(Invalid, "metadata.name")])
        );
        assert_eq!(
            causes(&run(
                "Namespace",
                set(ns("a"), "/metadata/namespace", json!("x")),
                None
            )),
            want(&[(Forbidden, "metadata.namespace")])
        );
        let old = set(ns("a"), "/metadata/resourceVersion", json!("1"));
        assert_eq!(
            causes(&run(
                "Namespace",
                set(old.clone(), "/metadata/name", json!("b")),
                Some(old)
            )),
            want(&[(Invalid, "metadata.name")])
        );
    }

    #[test]
    fn config_map_rules() {
        let cm = json!({"metadata": {"name": "c", "namespace": "d"}, "data": {"a.b": "x"}});
        assert_eq!(run("ConfigMap", cm.clone(), None), vec![]);
        assert_eq!(
            causes(&run(
                "ConfigMap",
                set(cm.clone(), "/data/a~1b", json!("x")),
                None
            )),
            want(&[(Invalid, "data[a/b]")])
        );
        let big = "x".repeat(MAX_SECRET_SIZE + 1);
        let errs = run("ConfigMap", set(cm.clone(), "/data/a.b", json!(big)), None);
        assert_eq!(causes(&errs), want(&[(TooLong, "")]));
        assert_eq!(
            errs[0].message,
            "Too long: may not be more than 1048576 bytes"
        );
        let dup = set(cm.clone(), "/binaryData", json!({"a.b": "eA=="}));
        assert_eq!(
            causes(&run("ConfigMap", dup, None)),
            want(&[(Invalid, "data[a.b]")])
        );
        let old = set(
            set(cm.clone(), "/immutable", json!(true)),
            "/metadata/resourceVersion",
            json!("1"),
        );
        let changed = set(old.clone(), "/data/a.b", json!("y"));
        assert_eq!(
            causes(&run("ConfigMap", changed, Some(old))),
            want(&[(Forbidden, "data")])
        );
    }

    #[test]
    fn secret_rules() {
        let s = json!({"metadata": {"name": "s", "namespace": "d"}, "data": {"k": "dg=="}});
        assert_eq!(run("Secret", s.clone(), None), vec![]);
        let tls = set(s.clone(), "/type", json!("kubernetes.io/tls"));
        assert_eq!(
            causes(&run("Secret", tls.clone(), None)),
            want(&[(Required, "data[tls.crt]"), (Required, "data[tls.key]")])
        );
        let tls_ok = set(
            tls.clone(),
            "/data",
            json!({"tls.crt": "Yw==", "tls.key": "aw=="}),
        );
        assert_eq!(run("Secret", tls_ok, None), vec![]);
        let big = set(
            s.clone(),
            "/stringData",
            json!({"big": "x".repeat(MAX_SECRET_SIZE)}),
        );
        assert_eq!(
            causes(&run("Secret", big, None)),
            want(&[(TooLong, "data")])
        );
        let tls_string = set(tls, "/stringData", json!({"tls.crt": "c", "tls.key": "k"}));
        assert_eq!(run("Secret", tls_string, None), vec![]);
        assert_eq!(
            causes(&run(
                "Secret",
                set(s.clone(), "/data/bad key", json!("dg==")),
                None
            )),
            want(&[(Invalid, "data[bad key]")])
        );
        let old = set(s.clone(), "/metadata/resourceVersion", json!("1"));
        let retyped = set(old.clone(), "/type", json!("kubernetes.io/basic-auth"));
        assert_eq!(
            causes(&run("Secret", retyped, Some(old))),
            want(&[
                (Invalid, "type"),
                (Required, "data[username]"),
                (Required, "data[password]")
            ])
        );
    }

    #[test]
    fn endpoints_rules() {
        let ep = json!({"metadata": {"name": "web", "namespace": "d"},
            "subsets": [{"addresses": [{"ip": "10.1.0.5"}], "ports": [{"port": 80}]}]});
        assert_eq!(run("Endpoints", ep.clone(), None), vec![]);
        assert_eq!(
            causes(&run(
                "Endpoints",
                set(ep.clone(), "/subsets/0/addresses/0/ip", json!("nope")),
                None
            )),
            want(&[
                (Invalid, "subsets[0].addresses[0].ip"),
                (Invalid, "subsets[0].addresses[0].ip")
            ])
        );
        assert_eq!(
            causes(&run(
                "Endpoints",
                set(ep.clone(), "/subsets/0/addresses", json!([])),
                None
            )),
            want(&[(Required, "subsets[0]")])
        );
        assert_eq!(
            causes(&run(
                "Endpoints",
                set(ep.clone(), "/subsets/0/ports/0/port", json!(0)),
                None
            )),
            want(&[(Invalid, "subsets[0].ports[0].port")])
        );
        assert_eq!(
            causes(&run(
                "Endpoints",
                set(ep, "/subsets/0/ports/1", json!({"port": 81})),
                None
            )),
            want(&[
                (Required, "subsets[0].ports[0].name"),
                (Required, "subsets[0].ports[1].name")
            ])
        );
    }

    #[test]
    fn node_rules() {
        let node = json!({"metadata": {"name": "node-1"}, "spec": {"podCIDR": "10.244.1.0/24"}});
        assert_eq!(run("Node", node.clone(), None), vec![]);
        assert_eq!(
            causes(&run(
                "Node",
                set(node.clone(), "/spec/podCIDR", json!("10.244.1.0")),
                None
            )),
            want(&[(Invalid, "spec.podCIDRs[0]")])
        );
        let old = set(node.clone(), "/metadata/resourceVersion", json!("1"));
        assert_eq!(
            causes(&run(
                "Node",
                set(old.clone(), "/spec/podCIDR", json!("10.244.2.0/24")),
                Some(old.clone())
            )),
            want(&[(Forbidden, "spec.podCIDRs")])
        );
        let unset = remove(old.clone(), "/spec/podCIDR");
        assert_eq!(run("Node", old.clone(), Some(unset)), vec![]);
        let tainted = set(
            node,
            "/spec/taints",
            json!([{"key": "k", "effect": "NoSchedule"}, {"key": "k", "effect": "NoSchedule"}]),
        );
        let errs = run("Node", tainted, None);
        assert_eq!(causes(&errs), want(&[(Duplicate, "metadata.taints[1]")]));
        assert!(
            errs[0]
                .message
                .ends_with(": taints must be unique by key and effect pair")
        );
    }

    #[test]
    fn event_rules() {
        let ev = json!({"metadata": {"name": "e.1", "namespace": "d"},
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "d"}, "reason": "Started"});
        assert_eq!(run("Event", ev.clone(), None), vec![]);
        assert_eq!(
            causes(&run(
                "Event",
                set(ev, "/involvedObject/namespace", json!("other")),
                None
            )),
            want(&[(Invalid, "involvedObject.namespace")])
        );
    }

    #[test]
    fn service_account_rules() {
        let sa = json!({"metadata": {"name": "builder", "namespace": "d"}});
        assert_eq!(run("ServiceAccount", sa.clone(), None), vec![]);
        assert_eq!(
            causes(&run(
                "ServiceAccount",
                set(sa, "/metadata/name", json!("Builder")),
                None
            )),
            want(&[(Invalid, "metadata.name")])
        );
    }
}
