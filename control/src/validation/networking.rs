//! Validation of networking.k8s.io/v1 Ingress, IngressClass and NetworkPolicy
//! (`pkg/apis/networking/validation`, v1.33).
//!
//! Only syntax and cross-field rules; whether referenced Services, Secrets or
//! classes exist is not checked here (kube-apiserver does not either).

use k8s_openapi::api::networking::v1::{
    IPBlock, Ingress, IngressBackend, IngressClass, IngressClassParametersReference, NetworkPolicy,
    NetworkPolicyPeer, NetworkPolicyPort,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::meta::{self, Scope};
use super::names;
use super::{BadValue, FieldCause, Path, ip, opt_str, opt_vec};

const MAX_LEN_INGRESS_CLASS_CONTROLLER: usize = 250;
const PATH_TYPES: &[&str] = &["Exact", "ImplementationSpecific", "Prefix"];
const INVALID_PATH_SEQUENCES: &[&str] = &["//", "/./", "/../", "%2f", "%2F"];
const INVALID_PATH_SUFFIXES: &[&str] = &["/..", "/."];

fn invalid_each(msgs: Vec<String>, path: &Path, value: &str) -> Vec<FieldCause> {
    msgs.iter()
        .map(|m| FieldCause::invalid(path, value, m))
        .collect()
}

fn validate_typed_ref(
    api_group: Option<&str>,
    kind: &str,
    name: &str,
    path: &Path,
) -> Vec<FieldCause> {
    let mut errs = Vec::new();
    if let Some(group) = api_group {
        errs.extend(invalid_each(
            names::is_dns1123_subdomain(group),
            &path.child("apiGroup"),
            group,
        ));
    }
    if kind.is_empty() {
        errs.push(FieldCause::required(
            &path.child("kind"),
            "kind is required",
        ));
    } else {
        errs.extend(invalid_each(
            names::is_valid_path_segment_name(kind),
            &path.child("kind"),
            kind,
        ));
    }
    if name.is_empty() {
        errs.push(FieldCause::required(
            &path.child("name"),
            "name is required",
        ));
    } else {
        errs.extend(invalid_each(
            names::is_valid_path_segment_name(name),
            &path.child("name"),
            name,
        ));
    }
    errs
}

fn validate_backend(backend: &IngressBackend, path: &Path) -> Vec<FieldCause> {
    match (&backend.resource, &backend.service) {
        (Some(_), Some(_)) => vec![FieldCause::invalid(
            path,
            "",
            "cannot set both resource and service backends",
        )],
        (Some(r), None) => validate_typed_ref(
            r.api_group.as_deref(),
            &r.kind,
            &r.name,
            &path.child("resource"),
        ),
        (None, Some(svc)) => {
            let mut errs = Vec::new();
            let name_path = path.child("service").child("name");
            if svc.name.is_empty() {
                errs.push(FieldCause::required(&name_path, ""));
            } else {
                errs.extend(invalid_each(
                    names::name_is_dns1035_label(&svc.name, false),
                    &name_path,
                    &svc.name,
                ));
            }
            let port = svc.port.clone().unwrap_or_default();
            let port_name = opt_str(&port.name);
            let number = port.number.unwrap_or(0);
            let port_path = path.child("service").child("port");
            match (port_name.is_empty(), number == 0) {
                (false, false) => errs.push(FieldCause::invalid(
                    path,
                    "",
                    "cannot set both port name & port number",
                )),
                (false, true) => {
                    errs.extend(invalid_each(
                        names::is_valid_port_name(port_name),
                        &port_path.child("name"),
                        port_name,
                    ));
                }
                (true, false) => {
                    for msg in names::is_valid_port_num(i64::from(number)) {
                        errs.push(FieldCause::invalid(
                            &port_path.child("number"),
                            number,
                            &msg,
                        ));
                    }
                }
                (true, true) => errs.push(FieldCause::required(
                    path,
                    "port name or number is required",
                )),
            }
            errs
        }
        (None, None) => vec![FieldCause::invalid(
            path,
            "",
            "resource or service backend is required",
        )],
    }
}

fn validate_host(host: &str, path: &Path) -> (Vec<FieldCause>, bool) {
    let mut errs = Vec::new();
    if ip::parse_ip_sloppy(host).is_some() {
        errs.push(FieldCause::invalid(
            path,
            host,
            "must be a DNS name, not an IP address",
        ));
    }
    if host.contains('*') {
        errs.extend(invalid_each(
            names::is_wildcard_dns1123_subdomain(host),
            path,
            host,
        ));
        (errs, true)
    } else {
        errs.extend(invalid_each(names::is_dns1123_subdomain(host), path, host));
        (errs, false)
    }
}

fn validate_ingress_spec(ing: &Ingress, allow_invalid_secret_name: bool) -> Vec<FieldCause> {
    let mut errs = Vec::new();
    let p = Path::new("spec");
    let spec = ing.spec.clone().unwrap_or_default();
    let rules = opt_vec(&spec.rules);
    if rules.is_empty() && spec.default_backend.is_none() {
        errs.push(FieldCause::invalid(
            &p,
            BadValue::GoSyntax("[]networking.IngressRule(nil)".to_owned()),
            "either `defaultBackend` or `rules` must be specified",
        ));
    }
    if let Some(b) = &spec.default_backend {
        errs.extend(validate_backend(b, &p.child("defaultBackend")));
    }
    for (i, rule) in rules.iter().enumerate() {
        let rp = p.child("rules").index(i);
        let host = opt_str(&rule.host);
        if !host.is_empty() {
            errs.extend(validate_host(host, &rp.child("host")).0);
        }
        let Some(http) = &rule.http else {
            continue;
        };
        let hp = rp.child("http");
        if http.paths.is_empty() {
            errs.push(FieldCause::required(&hp.child("paths"), ""));
        }
        for (j, path) in http.paths.iter().enumerate() {
            let pp = hp.child("paths").index(j);
            let value = opt_str(&path.path);
            match path.path_type.as_str() {
                "" => {
                    errs.push(FieldCause::required(
                        &pp.child("pathType"),
                        "pathType must be specified",
                    ));
                    continue;
                }
                "Exact" | "Prefix" => {
                    if !value.starts_with('/') {
                        errs.push(FieldCause::invalid(
                            &pp.child("path"),
                            value,
                            "must be an absolute path",
                        ));
                    }
                    if !value.is_empty() {
                        for seq in INVALID_PATH_SEQUENCES {
                            if value.contains(seq) {
                                errs.push(FieldCause::invalid(
                                    &pp.child("path"),
                                    value,
                                    &format!("must not contain '{seq}'"),
                                ));
                            }
                        }
                        for suffix in INVALID_PATH_SUFFIXES {
                            if value.ends_with(suffix) {
                                errs.push(FieldCause::invalid(
                                    &pp.child("path"),
                                    value,
                                    &format!("cannot end with '{suffix}'"),
                                ));
                            }
                        }
                    }
                }
                "ImplementationSpecific" => {
                    if !value.is_empty() && !value.starts_with('/') {
                        errs.push(FieldCause::invalid(
                            &pp.child("path"),
                            value,
                            "must be an absolute path",
                        ));
                    }
                }
                other => errs.push(FieldCause::not_supported(
                    &pp.child("pathType"),
                    other,
                    PATH_TYPES,
                )),
            }
            errs.extend(validate_backend(&path.backend, &pp.child("backend")));
        }
    }
    for (i, tls) in opt_vec(&spec.tls).iter().enumerate() {
        let tp = p.child("tls").index(i);
        for (j, host) in opt_vec(&tls.hosts).iter().enumerate() {
            let hp = tp.child("hosts").index(j);
            if host.contains('*') {
                errs.extend(invalid_each(
                    names::is_wildcard_dns1123_subdomain(host),
                    &hp,
                    host,
                ));
            } else {
                errs.extend(invalid_each(names::is_dns1123_subdomain(host), &hp, host));
            }
        }
        let secret = opt_str(&tls.secret_name);
        if !allow_invalid_secret_name && !secret.is_empty() {
            errs.extend(invalid_each(
                names::name_is_dns_subdomain(secret, false),
                &tp.child("secretName"),
                secret,
            ));
        }
    }
    if let Some(class) = &spec.ingress_class_name {
        errs.extend(invalid_each(
            names::name_is_dns_subdomain(class, false),
            &p.child("ingressClassName"),
            class,
        ));
    }
    errs
}

/// Validates an Ingress on create or update.
pub fn validate_ingress(ing: &Ingress, old: Option<&Ingress>) -> Vec<FieldCause> {
    let mut errs = Vec::new();
    let allow_invalid_secret = old.is_some_and(|o| {
        o.spec.as_ref().is_some_and(|s| {
            opt_vec(&s.tls).iter().any(|t| {
                let name = opt_str(&t.secret_name);
                !name.is_empty() && !names::name_is_dns_subdomain(name, false).is_empty()
            })
        })
    });
    if let Some(old) = old {
        errs.extend(meta::validate_object_meta_update(
            &ing.metadata,
            &old.metadata,
            &Path::new("metadata"),
        ));
    }
    errs.extend(meta::validate_meta(
        &ing.metadata,
        None,
        Scope::Namespaced,
        names::name_is_dns_subdomain,
    ));
    errs.extend(validate_ingress_spec(ing, allow_invalid_secret));
    if old.is_none() {
        let class_annotation =
            super::opt_map(&ing.metadata.annotations).get("kubernetes.io/ingress.class");
        let class_field = ing
            .spec
            .as_ref()
            .and_then(|s| s.ingress_class_name.as_deref());
        if let (Some(a), Some(f)) = (class_annotation, class_field)
            && a != f
        {
            errs.push(FieldCause::invalid(
                &Path::new("annotations").child("kubernetes.io/ingress.class"),
                a.as_str(),
                "must match `ingressClassName` when both are specified",
            ));
        }
    }
    errs
}

/// `IsDomainPrefixedPath`: `example.com/path` with an RFC 3986 path.
fn validate_domain_prefixed_path(value: &str, path: &Path) -> Vec<FieldCause> {
    if value.is_empty() {
        return vec![FieldCause::required(path, "")];
    }
    let Some((host, rest)) = value
        .split_once('/')
        .filter(|(h, r)| !h.is_empty() && !r.is_empty())
    else {
        return vec![FieldCause::invalid(
            path,
            value,
            "must be a domain-prefixed path (such as \"acme.io/foo\")",
        )];
    };
    let mut errs = invalid_each(names::is_dns1123_subdomain(host), path, host);
    let path_ok = rest
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/-._~%!$&'()*+,;=:".contains(&b));
    if !path_ok {
        errs.push(FieldCause::invalid(
            path,
            rest,
            &names::regex_error("Invalid path", "[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+", &[]),
        ));
    }
    errs
}

fn validate_class_parameters(
    params: &IngressClassParametersReference,
    path: &Path,
) -> Vec<FieldCause> {
    let mut errs = validate_typed_ref(
        params.api_group.as_deref(),
        &params.kind,
        &params.name,
        path,
    );
    let Some(scope) = &params.scope else {
        errs.push(FieldCause::required(&path.child("scope"), ""));
        return errs;
    };
    match scope.as_str() {
        "Namespace" => match &params.namespace {
            None => errs.push(FieldCause::required(
                &path.child("namespace"),
                "`parameters.scope` is set to 'Namespace'",
            )),
            Some(ns) => errs.extend(invalid_each(
                names::name_is_dns_label(ns, false),
                &path.child("namespace"),
                ns,
            )),
        },
        "Cluster" => {
            if params.namespace.is_some() {
                errs.push(FieldCause::forbidden(
                    &path.child("namespace"),
                    "`parameters.scope` is set to 'Cluster'",
                ));
            }
        }
        other => errs.push(FieldCause::not_supported(
            &path.child("scope"),
            other,
            &["Cluster", "Namespace"],
        )),
    }
    errs
}

/// Validates an IngressClass; `spec.controller` is immutable.
pub fn validate_ingress_class(ic: &IngressClass, old: Option<&IngressClass>) -> Vec<FieldCause> {
    let mut errs = Vec::new();
    let spec = ic.spec.clone().unwrap_or_default();
    let controller = opt_str(&spec.controller);
    let cp = Path::new("spec").child("controller");
    if let Some(old) = old {
        errs.extend(meta::validate_object_meta_update(
            &ic.metadata,
            &old.metadata,
            &Path::new("metadata"),
        ));
        let old_controller = old
            .spec
            .as_ref()
            .map(|s| opt_str(&s.controller))
            .unwrap_or("");
        errs.extend(meta::validate_immutable_str(
            controller,
            old_controller,
            &cp,
        ));
    }
    errs.extend(meta::validate_meta(
        &ic.metadata,
        None,
        Scope::Cluster,
        names::name_is_dns_subdomain,
    ));
    if controller.len() > MAX_LEN_INGRESS_CLASS_CONTROLLER {
        errs.push(FieldCause::too_long(&cp, MAX_LEN_INGRESS_CLASS_CONTROLLER));
    }
    errs.extend(validate_domain_prefixed_path(controller, &cp));
    if let Some(params) = &spec.parameters {
        errs.extend(validate_class_parameters(
            params,
            &Path::new("spec").child("parameters"),
        ));
    }
    errs
}

fn validate_np_port(port: &NetworkPolicyPort, path: &Path) -> Vec<FieldCause> {
    let mut errs = Vec::new();
    if let Some(proto) = &port.protocol
        && !["TCP", "UDP", "SCTP"].contains(&proto.as_str())
    {
        errs.push(FieldCause::not_supported(
            &path.child("protocol"),
            proto.as_str(),
            &["TCP", "UDP", "SCTP"],
        ));
    }
    match &port.port {
        Some(IntOrString::Int(n)) => {
            for msg in names::is_valid_port_num(i64::from(*n)) {
                errs.push(FieldCause::invalid(&path.child("port"), *n, &msg));
            }
            if let Some(end) = port.end_port {
                if end < *n {
                    errs.push(FieldCause::invalid(
                        &path.child("endPort"),
                        *n,
                        "must be greater than or equal to `port`",
                    ));
                }
                for msg in names::is_valid_port_num(i64::from(end)) {
                    errs.push(FieldCause::invalid(&path.child("endPort"), end, &msg));
                }
            }
        }
        Some(IntOrString::String(s)) => {
            if let Some(end) = port.end_port {
                errs.push(FieldCause::invalid(
                    &path.child("endPort"),
                    end,
                    "may not be specified when `port` is non-numeric",
                ));
            }
            errs.extend(invalid_each(
                names::is_valid_port_name(s),
                &path.child("port"),
                s,
            ));
        }
        None => {
            if let Some(end) = port.end_port {
                errs.push(FieldCause::invalid(
                    &path.child("endPort"),
                    end,
                    "may not be specified when `port` is not specified",
                ));
            }
        }
    }
    errs
}

fn validate_ip_block(block: &IPBlock, path: &Path) -> Vec<FieldCause> {
    if block.cidr.is_empty() {
        return vec![FieldCause::required(&path.child("cidr"), "")];
    }
    let mut errs = ip::validate_cidr(&path.child("cidr"), &block.cidr);
    let Some((net_ip, net_bits)) = ip::parse_cidr_sloppy(&block.cidr) else {
        return errs;
    };
    let network = ip::cidr_network(net_ip, net_bits);
    for (i, except) in opt_vec(&block.except).iter().enumerate() {
        let ep = path.child("except").index(i);
        let e = ip::validate_cidr(&ep, except);
        if !e.is_empty() {
            errs.extend(e);
            continue;
        }
        let Some((ex_ip, ex_bits)) = ip::parse_cidr_sloppy(except) else {
            continue;
        };
        let ex_net = ip::cidr_network(ex_ip, ex_bits);
        let contained =
            ex_net.is_ipv4() == network.is_ipv4() && ip::cidr_network(ex_net, net_bits) == network;
        if !contained || net_bits >= ex_bits {
            errs.push(FieldCause::invalid(
                &ep,
                except.as_str(),
                "must be a strict subset of `cidr`",
            ));
        }
    }
    errs
}

fn validate_peer(peer: &NetworkPolicyPeer, path: &Path) -> Vec<FieldCause> {
    let mut errs = Vec::new();
    let mut count = 0;
    if let Some(sel) = &peer.pod_selector {
        count += 1;
        errs.extend(meta::validate_label_selector(
            Some(sel),
            &path.child("podSelector"),
        ));
    }
    if let Some(sel) = &peer.namespace_selector {
        count += 1;
        errs.extend(meta::validate_label_selector(
            Some(sel),
            &path.child("namespaceSelector"),
        ));
    }
    if let Some(block) = &peer.ip_block {
        count += 1;
        errs.extend(validate_ip_block(block, &path.child("ipBlock")));
    }
    if count == 0 {
        errs.push(FieldCause::required(path, "must specify a peer"));
    } else if count > 1 && peer.ip_block.is_some() {
        errs.push(FieldCause::forbidden(
            path,
            "may not specify both ipBlock and another peer",
        ));
    }
    errs
}

/// Validates a NetworkPolicy on create or update.
pub fn validate_network_policy(np: &NetworkPolicy, old: Option<&NetworkPolicy>) -> Vec<FieldCause> {
    let mut errs = match old {
        None => meta::validate_meta(
            &np.metadata,
            None,
            Scope::Namespaced,
            names::name_is_dns_subdomain,
        ),
        Some(o) => {
            meta::validate_object_meta_update(&np.metadata, &o.metadata, &Path::new("metadata"))
        }
    };
    let spec = np.spec.clone().unwrap_or_default();
    let p = Path::new("spec");
    errs.extend(meta::validate_label_selector(
        spec.pod_selector.as_ref(),
        &p.child("podSelector"),
    ));
    for (i, rule) in opt_vec(&spec.ingress).iter().enumerate() {
        let rp = p.child("ingress").index(i);
        for (j, port) in opt_vec(&rule.ports).iter().enumerate() {
            errs.extend(validate_np_port(port, &rp.child("ports").index(j)));
        }
        for (j, peer) in opt_vec(&rule.from).iter().enumerate() {
            errs.extend(validate_peer(peer, &rp.child("from").index(j)));
        }
    }
    for (i, rule) in opt_vec(&spec.egress).iter().enumerate() {
        let rp = p.child("egress").index(i);
        for (j, port) in opt_vec(&rule.ports).iter().enumerate() {
            errs.extend(validate_np_port(port, &rp.child("ports").index(j)));
        }
        for (j, peer) in opt_vec(&rule.to).iter().enumerate() {
            errs.extend(validate_peer(peer, &rp.child("to").index(j)));
        }
    }
    let types = opt_vec(&spec.policy_types);
    if types.len() > 2 {
        errs.push(FieldCause::invalid(
            &p.child("policyTypes"),
            BadValue::GoSyntax(
                super::go_string_slice(Some(types)).replace("[]string", "&[]networking.PolicyType"),
            ),
            "may not specify more than two policyTypes",
        ));
        return errs;
    }
    for (i, t) in types.iter().enumerate() {
        if t != "Ingress" && t != "Egress" {
            errs.push(FieldCause::not_supported(
                &p.child("policyTypes").index(i),
                t.as_str(),
                &["Ingress", "Egress"],
            ));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use crate::validation::CauseType::*;
    use crate::validation::testutil::{Case, run, set, want};
    use serde_json::{Value, json};

    fn ingress() -> Value {
        json!({"metadata": {"name": "web", "namespace": "d"},
            "spec": {"rules": [{"host": "example.com", "http": {"paths": [
                {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}})
    }

    #[test]
    fn ingress_rules() {
        let b = "/spec/rules/0/http/paths/0";
        let cases: Vec<Case> = vec![
            ("valid", ingress(), vec![]),
            (
                "wildcard host",
                set(ingress(), "/spec/rules/0/host", json!("*.example.com")),
                vec![],
            ),
            (
                "default backend only",
                json!({"metadata": {"name": "w", "namespace": "d"}, "spec": {"defaultBackend": {"service": {"name": "web", "port": {"name": "http"}}}}}),
                vec![],
            ),
            (
                "nothing",
                json!({"metadata": {"name": "w", "namespace": "d"}, "spec": {}}),
                vec![(Invalid, "spec")],
            ),
            (
                "pathType required",
                set(ingress(), &format!("{b}/pathType"), json!("")),
                vec![(Required, "spec.rules[0].http.paths[0].pathType")],
            ),
            (
                "pathType unknown",
                set(ingress(), &format!("{b}/pathType"), json!("Regex")),
                vec![(NotSupported, "spec.rules[0].http.paths[0].pathType")],
            ),
            (
                "relative Prefix",
                set(ingress(), &format!("{b}/path"), json!("api")),
                vec![(Invalid, "spec.rules[0].http.paths[0].path")],
            ),
            (
                "double slash",
                set(ingress(), &format!("{b}/path"), json!("/a//b")),
                vec![(Invalid, "spec.rules[0].http.paths[0].path")],
            ),
            (
                "impl specific relative",
                set(
                    set(
                        ingress(),
                        &format!("{b}/pathType"),
                        json!("ImplementationSpecific"),
                    ),
                    &format!("{b}/path"),
                    json!("a"),
                ),
                vec![(Invalid, "spec.rules[0].http.paths[0].path")],
            ),
            (
                "host upper",
                set(ingress(), "/spec/rules/0/host", json!("Example.com")),
                vec![(Invalid, "spec.rules[0].host")],
            ),
            (
                "host double wildcard",
                set(ingress(), "/spec/rules/0/host", json!("*.*.example.com")),
                vec![(Invalid, "spec.rules[0].host")],
            ),
            (
                "host ip",
                set(ingress(), "/spec/rules/0/host", json!("10.0.0.1")),
                vec![(Invalid, "spec.rules[0].host")],
            ),
            (
                "both port name and number",
                set(
                    ingress(),
                    &format!("{b}/backend/service/port"),
                    json!({"name": "http", "number": 80}),
                ),
                vec![(Invalid, "spec.rules[0].http.paths[0].backend")],
            ),
            (
                "no port",
                set(ingress(), &format!("{b}/backend/service/port"), json!({})),
                vec![(Required, "spec.rules[0].http.paths[0].backend")],
            ),
            (
                "port number range",
                set(
                    ingress(),
                    &format!("{b}/backend/service/port"),
                    json!({"number": 70000}),
                ),
                vec![(
                    Invalid,
                    "spec.rules[0].http.paths[0].backend.service.port.number",
                )],
            ),
            (
                "resource and service",
                set(
                    ingress(),
                    &format!("{b}/backend/resource"),
                    json!({"kind": "Bucket", "name": "b"}),
                ),
                vec![(Invalid, "spec.rules[0].http.paths[0].backend")],
            ),
            (
                "no backend",
                set(ingress(), &format!("{b}/backend"), json!({})),
                vec![(Invalid, "spec.rules[0].http.paths[0].backend")],
            ),
            (
                "service name",
                set(
                    ingress(),
                    &format!("{b}/backend/service/name"),
                    json!("1web"),
                ),
                vec![(Invalid, "spec.rules[0].http.paths[0].backend.service.name")],
            ),
            (
                "empty paths",
                set(ingress(), "/spec/rules/0/http/paths", json!([])),
                vec![(Required, "spec.rules[0].http.paths")],
            ),
            (
                "default backend resource kind",
                json!({"metadata": {"name": "w", "namespace": "d"}, "spec": {"defaultBackend": {"resource": {"kind": "a/b", "name": "x"}}}}),
                vec![(Invalid, "spec.defaultBackend.resource.kind")],
            ),
            (
                "tls secret name",
                set(
                    ingress(),
                    "/spec/tls",
                    json!([{"hosts": ["example.com"], "secretName": "Bad"}]),
                ),
                vec![(Invalid, "spec.tls[0].secretName")],
            ),
        ];
        for (name, obj, w) in cases {
            assert_eq!(run("Ingress", obj, None), want(&w), "case {name}");
        }
    }

    #[test]
    fn ingress_class_rules() {
        let ic =
            json!({"metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"}});
        assert_eq!(run("IngressClass", ic.clone(), None), vec![]);
        assert_eq!(
            run(
                "IngressClass",
                set(ic.clone(), "/spec/controller", json!("nginx")),
                None
            ),
            want(&[(Invalid, "spec.controller")])
        );
        assert_eq!(
            run(
                "IngressClass",
                set(
                    ic.clone(),
                    "/spec/parameters",
                    json!({"kind": "Cfg", "name": "c", "scope": "Namespace"})
                ),
                None
            ),
            want(&[(Required, "spec.parameters.namespace")])
        );
        let old = set(ic.clone(), "/metadata/resourceVersion", json!("1"));
        assert_eq!(
            run(
                "IngressClass",
                set(old.clone(), "/spec/controller", json!("example.com/other")),
                Some(old)
            ),
            want(&[(Invalid, "spec.controller")])
        );
    }

    #[test]
    fn network_policy_rules() {
        let np = json!({"metadata": {"name": "deny", "namespace": "d"},
            "spec": {"podSelector": {"matchLabels": {"app": "web"}},
                "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}], "ports": [{"port": 80}]}]}});
        assert_eq!(run("NetworkPolicy", np.clone(), None), vec![]);
        let cases: Vec<Case> = vec![
            (
                "bad cidr",
                set(
                    np.clone(),
                    "/spec/ingress/0/from/0/ipBlock/cidr",
                    json!("10.0.0.0"),
                ),
                vec![(Invalid, "spec.ingress[0].from[0].ipBlock.cidr")],
            ),
            (
                "except outside",
                set(
                    np.clone(),
                    "/spec/ingress/0/from/0/ipBlock/except",
                    json!(["192.168.0.0/16"]),
                ),
                vec![(Invalid, "spec.ingress[0].from[0].ipBlock.except[0]")],
            ),
            (
                "empty peer",
                set(np.clone(), "/spec/ingress/0/from/0", json!({})),
                vec![(Required, "spec.ingress[0].from[0]")],
            ),
            (
                "ipBlock with selector",
                set(np.clone(), "/spec/ingress/0/from/0/podSelector", json!({})),
                vec![(Forbidden, "spec.ingress[0].from[0]")],
            ),
            (
                "port range",
                set(np.clone(), "/spec/ingress/0/ports/0/port", json!(0)),
                vec![(Invalid, "spec.ingress[0].ports[0].port")],
            ),
            (
                "protocol",
                set(
                    np.clone(),
                    "/spec/ingress/0/ports/0/protocol",
                    json!("ICMP"),
                ),
                vec![(NotSupported, "spec.ingress[0].ports[0].protocol")],
            ),
            (
                "policy type",
                set(np.clone(), "/spec/policyTypes", json!(["Sideways"])),
                vec![(NotSupported, "spec.policyTypes[0]")],
            ),
            (
                "selector label",
                set(
                    np.clone(),
                    "/spec/podSelector/matchLabels",
                    json!({"app": "-x"}),
                ),
                vec![(Invalid, "spec.podSelector.matchLabels")],
            ),
        ];
        for (name, obj, w) in cases {
            assert_eq!(run("NetworkPolicy", obj, None), want(&w), "case {name}");
        }
    }
}
