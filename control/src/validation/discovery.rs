//! Validation of discovery.k8s.io/v1 EndpointSlices (`pkg/apis/discovery/validation`).
//!
//! Address syntax follows the slice's `addressType`; FQDN slices are only
//! checked for domain syntax. Nothing here resolves or reaches any address.

use std::collections::BTreeSet;
use std::net::IpAddr;

use k8s_openapi::api::discovery::v1::EndpointSlice;

use super::meta::{self, Scope};
use super::names;
use super::{FieldCause, Path, ip, opt_str, opt_vec};

/// At most this many endpoints per slice.
pub const MAX_ENDPOINTS: usize = 1000;
/// At most this many addresses per endpoint.
pub const MAX_ADDRESSES: usize = 100;
/// At most this many ports per slice (the limit kube-apiserver v1.33 enforces).
pub const MAX_PORTS: usize = 20000;
/// At most this many deprecated topology labels per endpoint.
pub const MAX_TOPOLOGY_LABELS: usize = 16;
/// At most this many zone hints per endpoint.
pub const MAX_ZONE_HINTS: usize = 8;

const ADDRESS_TYPES: &[&str] = &["FQDN", "IPv4", "IPv6"];
const PORT_PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];

fn validate_fqdn(value: &str, path: &Path) -> Vec<FieldCause> {
    if value.is_empty() {
        return vec![FieldCause::required(path, "")];
    }
    let name = value.strip_suffix('.').unwrap_or(value);
    let errs = names::is_dns1123_subdomain(name);
    if !errs.is_empty() {
        return vec![FieldCause::invalid(path, name, &errs.join(","))];
    }
    if !name.contains('.') {
        return vec![FieldCause::invalid(
            path,
            name,
            "should be a domain with at least two segments separated by dots",
        )];
    }
    for label in name.split('.') {
        let errs = names::is_dns1123_label(label);
        if !errs.is_empty() {
            return vec![FieldCause::invalid(path, label, &errs.join(","))];
        }
    }
    Vec::new()
}

fn validate_family_ip(value: &str, want_v4: bool, path: &Path) -> Vec<FieldCause> {
    match ip::parse_ip_sloppy(value) {
        None => vec![FieldCause::invalid(path, value, ip::INVALID_IP)],
        Some(IpAddr::V4(_)) if !want_v4 => {
            vec![FieldCause::invalid(path, value, "must be an IPv6 address")]
        }
        Some(IpAddr::V6(_)) if want_v4 => {
            vec![FieldCause::invalid(path, value, "must be an IPv4 address")]
        }
        Some(_) => ip::validate_non_special_ip(path, value),
    }
}

/// Validates an EndpointSlice; `addressType` is immutable on update.
pub fn validate_endpoint_slice(
    slice: &EndpointSlice,
    old: Option<&EndpointSlice>,
) -> Vec<FieldCause> {
    let mut errs = meta::validate_meta(
        &slice.metadata,
        None,
        Scope::Namespaced,
        names::name_is_dns_subdomain,
    );
    let address_type = slice.address_type.as_str();
    if address_type.is_empty() {
        errs.push(FieldCause::required(&Path::new("addressType"), ""));
    } else if !ADDRESS_TYPES.contains(&address_type) {
        errs.push(FieldCause::not_supported(
            &Path::new("addressType"),
            address_type,
            ADDRESS_TYPES,
        ));
    }

    let ep_path = Path::new("endpoints");
    if slice.endpoints.len() > MAX_ENDPOINTS {
        errs.push(FieldCause::too_many(
            &ep_path,
            slice.endpoints.len(),
            MAX_ENDPOINTS,
        ));
    } else {
        for (i, ep) in slice.endpoints.iter().enumerate() {
            let p = ep_path.index(i);
            let ap = p.child("addresses");
            if ep.addresses.is_empty() {
                errs.push(FieldCause::required(&ap, "must contain at least 1 address"));
            } else if ep.addresses.len() > MAX_ADDRESSES {
                errs.push(FieldCause::too_many(&ap, ep.addresses.len(), MAX_ADDRESSES));
            }
            for (j, addr) in ep.addresses.iter().enumerate() {
                match address_type {
                    "IPv4" => errs.extend(validate_family_ip(addr, true, &ap.index(j))),
                    "IPv6" => errs.extend(validate_family_ip(addr, false, &ap.index(j))),
                    "FQDN" => errs.extend(validate_fqdn(addr, &ap.index(j))),
                    _ => {}
                }
            }
            if let Some(node) = &ep.node_name {
                for msg in names::name_is_dns_subdomain(node, false) {
                    errs.push(FieldCause::invalid(
                        &p.child("nodeName"),
                        node.as_str(),
                        &msg,
                    ));
                }
            }
            let tp = p.child("deprecatedTopology");
            let topology = ep.deprecated_topology.as_ref();
            if topology.is_some_and(|t| t.len() > MAX_TOPOLOGY_LABELS) {
                errs.push(FieldCause::too_many(
                    &tp,
                    topology.map_or(0, |t| t.len()),
                    MAX_TOPOLOGY_LABELS,
                ));
            }
            errs.extend(meta::validate_labels(topology, &tp));
            if let Some(host) = &ep.hostname {
                for msg in names::is_dns1123_label(host) {
                    errs.push(FieldCause::invalid(
                        &p.child("hostname"),
                        host.as_str(),
                        &msg,
                    ));
                }
            }
            if let Some(hints) = &ep.hints {
                let zp = p.child("hints").child("forZones");
                let zones = opt_vec(&hints.for_zones);
                if zones.len() > MAX_ZONE_HINTS {
                    errs.push(FieldCause::too_many(&zp, zones.len(), MAX_ZONE_HINTS));
                } else {
                    let mut seen = BTreeSet::new();
                    for (j, z) in zones.iter().enumerate() {
                        let np = zp.index(j).child("name");
                        if !seen.insert(z.name.as_str()) {
                            errs.push(FieldCause::duplicate(&np, z.name.as_str()));
                        }
                        for msg in names::is_valid_label_value(&z.name) {
                            errs.push(FieldCause::invalid(&np, z.name.as_str(), &msg));
                        }
                    }
                }
            }
        }
    }

    let ports = opt_vec(&slice.ports);
    let pp = Path::new("ports");
    if ports.len() > MAX_PORTS {
        errs.push(FieldCause::too_many(&pp, ports.len(), MAX_PORTS));
    } else {
        let mut seen = BTreeSet::new();
        for (i, port) in ports.iter().enumerate() {
            let p = pp.index(i);
            let name = opt_str(&port.name);
            if !name.is_empty() {
                for msg in names::is_dns1123_label(name) {
                    errs.push(FieldCause::invalid(&p.child("name"), name, &msg));
                }
            }
            if !seen.insert(name) {
                errs.push(FieldCause::duplicate(&p.child("name"), name));
            }
            match port.protocol.as_deref() {
                None => errs.push(FieldCause::required(&p.child("protocol"), "")),
                Some(proto) if !PORT_PROTOCOLS.contains(&proto) => {
                    errs.push(FieldCause::not_supported(
                        &p.child("protocol"),
                        proto,
                        PORT_PROTOCOLS,
                    ));
                }
                Some(_) => {}
            }
            if let Some(app) = &port.app_protocol {
                for msg in names::is_qualified_name(app) {
                    errs.push(FieldCause::invalid(
                        &p.child("appProtocol"),
                        app.as_str(),
                        &msg,
                    ));
                }
            }
        }
    }

    if let Some(old) = old {
        errs.extend(meta::validate_immutable_str(
            address_type,
            &old.address_type,
            &Path::new("addressType"),
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use crate::validation::CauseType::{self, *};
    use crate::validation::testutil::{Case, set, want};
    use serde_json::{Value, json};

    fn run(new: Value, old: Option<Value>) -> Vec<(CauseType, String)> {
        crate::validation::testutil::run("EndpointSlice", new, old)
    }

    fn slice() -> Value {
        json!({"metadata": {"name": "web-abc", "namespace": "d"}, "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.1.0.5"], "conditions": {"ready": true}}],
            "ports": [{"name": "http", "port": 80}]})
    }

    #[test]
    fn endpoint_slice_rules() {
        let many: Vec<Value> = (0..1001)
            .map(|_| json!({"addresses": ["10.1.0.5"]}))
            .collect();
        let cases: Vec<Case> = vec![
            ("valid", slice(), vec![]),
            (
                "address type",
                set(slice(), "/addressType", json!("IP")),
                vec![(NotSupported, "addressType")],
            ),
            (
                "wrong family",
                set(slice(), "/endpoints/0/addresses/0", json!("fd00::1")),
                vec![(Invalid, "endpoints[0].addresses[0]")],
            ),
            (
                "not an ip",
                set(slice(), "/endpoints/0/addresses/0", json!("web")),
                vec![(Invalid, "endpoints[0].addresses[0]")],
            ),
            (
                "loopback",
                set(slice(), "/endpoints/0/addresses/0", json!("127.0.0.1")),
                vec![(Invalid, "endpoints[0].addresses[0]")],
            ),
            (
                "no addresses",
                set(slice(), "/endpoints/0/addresses", json!([])),
                vec![(Required, "endpoints[0].addresses")],
            ),
            (
                "too many endpoints",
                set(slice(), "/endpoints", Value::Array(many)),
                vec![(TooMany, "endpoints")],
            ),
            (
                "duplicate port name",
                set(
                    slice(),
                    "/ports",
                    json!([{"name": "http", "port": 80}, {"name": "http", "port": 81}]),
                ),
                vec![(Duplicate, "ports[1].name")],
            ),
            (
                "port protocol",
                set(slice(), "/ports/0/protocol", json!("HTTP")),
                vec![(NotSupported, "ports[0].protocol")],
            ),
            (
                "hostname",
                set(slice(), "/endpoints/0/hostname", json!("a.b")),
                vec![(Invalid, "endpoints[0].hostname")],
            ),
        ];
        for (name, obj, w) in cases {
            assert_eq!(run(obj, None), want(&w), "case {name}");
        }
        let fqdn = set(
            set(slice(), "/addressType", json!("FQDN")),
            "/endpoints/0/addresses/0",
            json!("web.example.com"),
        );
        assert_eq!(run(fqdn, None), vec![]);
        let mut old = slice();
        crate::defaults::apply_defaults("EndpointSlice", &mut old);
        let changed = set(
            set(slice(), "/addressType", json!("IPv6")),
            "/endpoints/0/addresses/0",
            json!("fd00::5"),
        );
        assert_eq!(run(changed, Some(old)), want(&[(Invalid, "addressType")]));
    }
}
