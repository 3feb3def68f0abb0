//! The CNI success result in a version-neutral form, and its translation to
//! and from the JSON shape of each supported spec version.
//!
//! Shapes, from the spec texts: 0.3.0, 0.3.1 and 0.4.0 carry
//! `"version": "4"|"6"` in each `ips` entry, interfaces with `name`, `mac`,
//! `sandbox`, and routes with `dst`, `gw`. 1.0.0 drops the `version` key.
//! 1.1.0 adds interface `mtu`, `socketPath`, `pciID` and route `mtu`,
//! `advmss`, `priority`, `table`, `scope`. Reading a result takes only the
//! keys its version defines; writing one emits only the keys the target
//! version defines. Keys no version defines are dropped, as libcni does.
//!
//! Pure: it must not decide what goes into a result, only how it is spelled.

use std::net::IpAddr;

use ipnet::IpNet;
use serde_json::{Map, Value};

use crate::error::CniError;
use crate::version::CniVersion;

/// A success result, independent of spec version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CniResult {
    /// Interfaces the attachment created, host side included.
    pub interfaces: Vec<Interface>,
    /// Addresses assigned.
    pub ips: Vec<IpConfig>,
    /// Routes created.
    pub routes: Vec<Route>,
    /// DNS settings; omitted from the JSON when empty.
    pub dns: Dns,
}

/// One entry of `interfaces`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Interface {
    /// Interface name.
    pub name: String,
    /// Hardware address, as the plugin spelled it.
    pub mac: Option<String>,
    /// MTU (1.1.0).
    pub mtu: Option<u32>,
    /// Netns path for interfaces inside the container; `None` on the host.
    pub sandbox: Option<String>,
    /// Socket file for the interface (1.1.0).
    pub socket_path: Option<String>,
    /// PCI device ID (1.1.0).
    pub pci_id: Option<String>,
}

/// One entry of `ips`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpConfig {
    /// Address with the prefix length of its subnet (`10.1.0.5/16`).
    pub address: IpNet,
    /// The subnet's default gateway, if any.
    pub gateway: Option<IpAddr>,
    /// Index into `interfaces`; IPAM plugins leave it out.
    pub interface: Option<u32>,
}

/// One entry of `routes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Destination prefix.
    pub dst: IpNet,
    /// Next hop; when absent a gateway from `ips` may be used.
    pub gw: Option<IpAddr>,
    /// Path MTU (1.1.0).
    pub mtu: Option<u32>,
    /// MSS to advertise (1.1.0).
    pub advmss: Option<u32>,
    /// Priority, lower is preferred (1.1.0).
    pub priority: Option<u32>,
    /// Routing table (1.1.0).
    pub table: Option<u32>,
    /// Scope: 0 global, 253 link, 254 host (1.1.0).
    pub scope: Option<u32>,
}

/// The well-known `dns` dictionary, used in configs and results alike.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dns {
    /// Nameserver addresses, in priority order, as given.
    pub nameservers: Vec<String>,
    /// Local domain for short names.
    pub domain: Option<String>,
    /// Search domains, in priority order.
    pub search: Vec<String>,
    /// Resolver options.
    pub options: Vec<String>,
}

impl Dns {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self.nameservers.is_empty()
            && self.domain.is_none()
            && self.search.is_empty()
            && self.options.is_empty()
    }

    /// Reads a `dns` object; wrong JSON types are code 6.
    pub fn from_value(value: &Value) -> Result<Self, CniError> {
        let obj = as_object("dns", value)?;
        Ok(Self {
            nameservers: string_list(obj, "dns", "nameservers")?,
            domain: opt_string(obj, "dns", "domain")?,
            search: string_list(obj, "dns", "search")?,
            options: string_list(obj, "dns", "options")?,
        })
    }

    /// The `dns` object, with empty members left out.
    pub fn to_value(&self) -> Value {
        let mut obj = Map::new();
        let list = |v: &[String]| Value::from(v.to_vec());
        if !self.nameservers.is_empty() {
            obj.insert("nameservers".into(), list(&self.nameservers));
        }
        if let Some(domain) = &self.domain {
            obj.insert("domain".into(), domain.clone().into());
        }
        if !self.search.is_empty() {
            obj.insert("search".into(), list(&self.search));
        }
        if !self.options.is_empty() {
            obj.insert("options".into(), list(&self.options));
        }
        Value::Object(obj)
    }
}

impl CniResult {
    /// The result as `version` spells it, `cniVersion` included. Empty
    /// `interfaces`, `ips`, `routes` and `dns` are left out, as libcni does.
    pub fn render(&self, version: CniVersion) -> Value {
        let mut obj = Map::new();
        obj.insert("cniVersion".into(), version.as_str().into());
        if !self.interfaces.is_empty() {
            let items = self.interfaces.iter().map(|i| i.render(version)).collect();
            obj.insert("interfaces".into(), Value::Array(items));
        }
        if !self.ips.is_empty() {
            let items = self.ips.iter().map(|i| i.render(version)).collect();
            obj.insert("ips".into(), Value::Array(items));
        }
        if !self.routes.is_empty() {
            let items = self.routes.iter().map(|r| r.render(version)).collect();
            obj.insert("routes".into(), Value::Array(items));
        }
        if !self.dns.is_empty() {
            obj.insert("dns".into(), self.dns.to_value());
        }
        Value::Object(obj)
    }

    /// This result keeping only what `version` can express, i.e. what
    /// survives `render(version)` followed by a parse.
    pub fn restricted_to(&self, version: CniVersion) -> Self {
        let mut out = self.clone();
        if !version.has_1_1_fields() {
            for i in &mut out.interfaces {
                i.mtu = None;
                i.socket_path = None;
                i.pci_id = None;
            }
            for r in &mut out.routes {
                r.mtu = None;
                r.advmss = None;
                r.priority = None;
                r.table = None;
                r.scope = None;
            }
        }
        out
    }
}

/// Decodes a `prevResult` written in any supported version.
///
/// The result's own `cniVersion` says which shape it has; when it has none
/// (results before 1.0.0 may omit it) `config_version`, the version of the
/// configuration it came in, is assumed. Only keys the source version
/// defines are read. Render the returned value with the configuration's
/// version to pass it on unchanged. Wrong JSON types, unparseable addresses
/// or prefixes are code 6; an unsupported `cniVersion` is code 1.
pub fn parse_prev_result(value: &Value, config_version: CniVersion) -> Result<CniResult, CniError> {
    let obj = as_object("prevResult", value)?;
    let version = match opt_string(obj, "prevResult", "cniVersion")? {
        Some(v) => CniVersion::parse(&v)?,
        None => config_version,
    };

    let interfaces = array(obj, "prevResult", "interfaces")?
        .iter()
        .enumerate()
        .map(|(i, v)| Interface::parse(v, &format!("prevResult.interfaces[{i}]"), version))
        .collect::<Result<_, _>>()?;
    let ips = array(obj, "prevResult", "ips")?
        .iter()
        .enumerate()
        .map(|(i, v)| IpConfig::parse(v, &format!("prevResult.ips[{i}]")))
        .collect::<Result<_, _>>()?;
    let routes = array(obj, "prevResult", "routes")?
        .iter()
        .enumerate()
        .map(|(i, v)| Route::parse(v, &format!("prevResult.routes[{i}]"), version))
        .collect::<Result<_, _>>()?;
    let dns = match obj.get("dns") {
        None | Some(Value::Null) => Dns::default(),
        Some(v) => Dns::from_value(v)?,
    };
    Ok(CniResult {
        interfaces,
        ips,
        routes,
        dns,
    })
}

impl Interface {
    fn render(&self, version: CniVersion) -> Value {
        let mut obj = Map::new();
        obj.insert("name".into(), self.name.clone().into());
        insert_opt(&mut obj, "mac", self.mac.clone());
        insert_opt(&mut obj, "sandbox", self.sandbox.clone());
        if version.has_1_1_fields() {
            insert_opt(&mut obj, "mtu", self.mtu);
            insert_opt(&mut obj, "socketPath", self.socket_path.clone());
            insert_opt(&mut obj, "pciID", self.pci_id.clone());
        }
        Value::Object(obj)
    }

    fn parse(value: &Value, at: &str, version: CniVersion) -> Result<Self, CniError> {
        let obj = as_object(at, value)?;
        let name = opt_string(obj, at, "name")?.unwrap_or_default();
        let mut out = Self {
            name,
            mac: opt_string(obj, at, "mac")?,
            sandbox: opt_string(obj, at, "sandbox")?,
            ..Self::default()
        };
        if version.has_1_1_fields() {
            out.mtu = opt_u32(obj, at, "mtu")?;
            out.socket_path = opt_string(obj, at, "socketPath")?;
            out.pci_id = opt_string(obj, at, "pciID")?;
        }
        Ok(out)
    }
}

impl IpConfig {
    fn render(&self, version: CniVersion) -> Value {
        let mut obj = Map::new();
        if version.ips_have_version() {
            let family = if self.address.addr().is_ipv4() {
                "4"
            } else {
                "6"
            };
            obj.insert("version".into(), family.into());
        }
        obj.insert("address".into(), self.address.to_string().into());
        insert_opt(&mut obj, "gateway", self.gateway.map(|g| g.to_string()));
        insert_opt(&mut obj, "interface", self.interface);
        Value::Object(obj)
    }

    /// The 0.x `version` key is not read: it restates the address family,
    /// which rendering derives again from the address.
    fn parse(value: &Value, at: &str) -> Result<Self, CniError> {
        let obj = as_object(at, value)?;
        let address = opt_string(obj, at, "address")?
            .ok_or_else(|| CniError::decode(format!("{at} has no address"), ""))?;
        let address = address.parse().map_err(|_| {
            CniError::decode(
                format!("{at}.address is not a CIDR"),
                format!("{address:?}"),
            )
        })?;
        Ok(Self {
            address,
            gateway: opt_ip(obj, at, "gateway")?,
            interface: opt_u32(obj, at, "interface")?,
        })
    }
}

impl Route {
    /// A route to `dst` with nothing else set.
    pub fn to(dst: IpNet) -> Self {
        Self {
            dst,
            gw: None,
            mtu: None,
            advmss: None,
            priority: None,
            table: None,
            scope: None,
        }
    }

    fn render(&self, version: CniVersion) -> Value {
        let mut obj = Map::new();
        obj.insert("dst".into(), self.dst.to_string().into());
        insert_opt(&mut obj, "gw", self.gw.map(|g| g.to_string()));
        if version.has_1_1_fields() {
            insert_opt(&mut obj, "mtu", self.mtu);
            insert_opt(&mut obj, "advmss", self.advmss);
            insert_opt(&mut obj, "priority", self.priority);
            insert_opt(&mut obj, "table", self.table);
            insert_opt(&mut obj, "scope", self.scope);
        }
        Value::Object(obj)
    }

    fn parse(value: &Value, at: &str, version: CniVersion) -> Result<Self, CniError> {
        let obj = as_object(at, value)?;
        let dst = opt_string(obj, at, "dst")?
            .ok_or_else(|| CniError::decode(format!("{at} has no dst"), ""))?;
        let dst = dst
            .parse()
            .map_err(|_| CniError::decode(format!("{at}.dst is not a CIDR"), format!("{dst:?}")))?;
        let mut out = Self::to(dst);
        out.gw = opt_ip(obj, at, "gw")?;
        if version.has_1_1_fields() {
            out.mtu = opt_u32(obj, at, "mtu")?;
            out.advmss = opt_u32(obj, at, "advmss")?;
            out.priority = opt_u32(obj, at, "priority")?;
            out.table = opt_u32(obj, at, "table")?;
            out.scope = opt_u32(obj, at, "scope")?;
        }
        Ok(out)
    }
}

fn insert_opt<T: Into<Value>>(obj: &mut Map<String, Value>, key: &str, value: Option<T>) {
    if let Some(v) = value {
        obj.insert(key.to_owned(), v.into());
    }
}

fn as_object<'a>(at: &str, value: &'a Value) -> Result<&'a Map<String, Value>, CniError> {
    match value {
        Value::Object(obj) => Ok(obj),
        _ => Err(CniError::decode(format!("{at} must be an object"), "")),
    }
}

fn array<'a>(obj: &'a Map<String, Value>, at: &str, key: &str) -> Result<&'a [Value], CniError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(CniError::decode(format!("{at}.{key} must be an array"), "")),
    }
}

/// An optional string; empty reads as absent, as libcni's `omitempty` writes it.
fn opt_string(obj: &Map<String, Value>, at: &str, key: &str) -> Result<Option<String>, CniError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(CniError::decode(format!("{at}.{key} must be a string"), "")),
    }
}

fn string_list(obj: &Map<String, Value>, at: &str, key: &str) -> Result<Vec<String>, CniError> {
    array(obj, at, key)?
        .iter()
        .map(|v| match v {
            Value::String(s) => Ok(s.clone()),
            _ => Err(CniError::decode(
                format!("{at}.{key} must be a list of strings"),
                "",
            )),
        })
        .collect()
}

fn opt_u32(obj: &Map<String, Value>, at: &str, key: &str) -> Result<Option<u32>, CniError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|u| u32::try_from(u).ok())
            .map(Some)
            .ok_or_else(|| {
                CniError::decode(
                    format!("{at}.{key} must be an unsigned 32-bit integer"),
                    n.to_string(),
                )
            }),
        Some(_) => Err(CniError::decode(format!("{at}.{key} must be a number"), "")),
    }
}

fn opt_ip(obj: &Map<String, Value>, at: &str, key: &str) -> Result<Option<IpAddr>, CniError> {
    opt_string(obj, at, key)?
        .map(|s| {
            s.parse().map_err(|_| {
                CniError::decode(format!("{at}.{key} is not an IP address"), format!("{s:?}"))
            })
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::SUPPORTED;
    use proptest::prelude::*;
    use serde_json::json;

    /// The spec 1.1.0 appendix's bridge result, with 1.1.0 extras added.
    fn sample() -> CniResult {
        CniResult {
            interfaces: vec![
                Interface {
                    name: "cni0".into(),
                    mac: Some("00:11:22:33:44:55".into()),
                    mtu: Some(1500),
                    ..Interface::default()
                },
                Interface {
                    name: "veth3243".into(),
                    mac: Some("55:44:33:22:11:11".into()),
                    ..Interface::default()
                },
                Interface {
                    name: "eth0".into(),
                    mac: Some("99:88:77:66:55:44".into()),
                    sandbox: Some("/var/run/netns/blue".into()),
                    socket_path: Some("/run/sock".into()),
                    pci_id: Some("0000:00:1f.6".into()),
                    mtu: Some(1450),
                },
            ],
            ips: vec![
                IpConfig {
                    address: "10.1.0.5/16".parse().unwrap(),
                    gateway: Some("10.1.0.1".parse().unwrap()),
                    interface: Some(2),
                },
                IpConfig {
                    address: "fd00::5/64".parse().unwrap(),
                    gateway: None,
                    interface: Some(2),
                },
            ],
            routes: vec![
                Route::to("0.0.0.0/0".parse().unwrap()),
                Route {
                    gw: Some("10.1.0.254".parse().unwrap()),
                    mtu: Some(1400),
                    advmss: Some(1360),
                    priority: Some(10),
                    table: Some(0),
                    scope: Some(253),
                    ..Route::to("192.168.0.0/16".parse().unwrap())
                },
            ],
            dns: Dns {
                nameservers: vec!["10.1.0.1".into()],
                ..Dns::default()
            },
        }
    }

    #[test]
    fn renders_1_1_0_with_every_field() {
        assert_eq!(
            sample().render(CniVersion::V1_1_0),
            json!({
                "cniVersion": "1.1.0",
                "interfaces": [
                    {"name": "cni0", "mac": "00:11:22:33:44:55", "mtu": 1500},
                    {"name": "veth3243", "mac": "55:44:33:22:11:11"},
                    {"name": "eth0", "mac": "99:88:77:66:55:44", "sandbox": "/var/run/netns/blue",
                     "mtu": 1450, "socketPath": "/run/sock", "pciID": "0000:00:1f.6"}
                ],
                "ips": [
                    {"address": "10.1.0.5/16", "gateway": "10.1.0.1", "interface": 2},
                    {"address": "fd00::5/64", "interface": 2}
                ],
                "routes": [
                    {"dst": "0.0.0.0/0"},
                    {"dst": "192.168.0.0/16", "gw": "10.1.0.254", "mtu": 1400, "advmss": 1360,
                     "priority": 10, "table": 0, "scope": 253}
                ],
                "dns": {"nameservers": ["10.1.0.1"]}
            })
        );
    }

    #[test]
    fn renders_1_0_0_without_1_1_fields() {
        assert_eq!(
            sample().render(CniVersion::V1_0_0),
            json!({
                "cniVersion": "1.0.0",
                "interfaces": [
                    {"name": "cni0", "mac": "00:11:22:33:44:55"},
                    {"name": "veth3243", "mac": "55:44:33:22:11:11"},
                    {"name": "eth0", "mac": "99:88:77:66:55:44", "sandbox": "/var/run/netns/blue"}
                ],
                "ips": [
                    {"address": "10.1.0.5/16", "gateway": "10.1.0.1", "interface": 2},
                    {"address": "fd00::5/64", "interface": 2}
                ],
                "routes": [
                    {"dst": "0.0.0.0/0"},
                    {"dst": "192.168.0.0/16", "gw": "10.1.0.254"}
                ],
                "dns": {"nameservers": ["10.1.0.1"]}
            })
        );
    }

    #[test]
    fn renders_0_x_with_ip_versions() {
        for v in [CniVersion::V0_3_0, CniVersion::V0_3_1, CniVersion::V0_4_0] {
            assert_eq!(
                sample().render(v),
                json!({
                    "cniVersion": v.as_str(),
                    "interfaces": [
                        {"name": "cni0", "mac": "00:11:22:33:44:55"},
                        {"name": "veth3243", "mac": "55:44:33:22:11:11"},
                        {"name": "eth0", "mac": "99:88:77:66:55:44", "sandbox": "/var/run/netns/blue"}
                    ],
                    "ips": [
                        {"version": "4", "address": "10.1.0.5/16", "gateway": "10.1.0.1", "interface": 2},
                        {"version": "6", "address": "fd00::5/64", "interface": 2}
                    ],
                    "routes": [
                        {"dst": "0.0.0.0/0"},
                        {"dst": "192.168.0.0/16", "gw": "10.1.0.254"}
                    ],
                    "dns": {"nameservers": ["10.1.0.1"]}
                }),
                "{v}"
            );
        }
    }

    #[test]
    fn empty_result_is_just_the_version() {
        assert_eq!(
            CniResult::default().render(CniVersion::V0_4_0),
            json!({"cniVersion": "0.4.0"})
        );
    }

    #[test]
    fn parses_the_spec_0_4_0_example() {
        // From the 0.4.0 spec's tuning example (trailing commas removed).
        let prev = json!({
            "ips": [{"version": "4", "address": "10.0.0.5/32", "interface": 2}],
            "interfaces": [
                {"name": "cni0", "mac": "00:11:22:33:44:55"},
                {"name": "veth3243", "mac": "55:44:33:22:11:11"},
                {"name": "eth0", "mac": "99:88:77:66:55:44", "sandbox": "/var/run/netns/blue"}
            ],
            "dns": {"nameservers": ["10.1.0.1"]}
        });
        let r = parse_prev_result(&prev, CniVersion::V0_4_0).unwrap();
        assert_eq!(r.interfaces.len(), 3);
        assert_eq!(r.ips.len(), 1);
        assert_eq!(r.ips[0].address, "10.0.0.5/32".parse::<IpNet>().unwrap());
        assert_eq!(r.ips[0].interface, Some(2));
        let mut want = prev.clone();
        want["cniVersion"] = json!("0.4.0");
        assert_eq!(r.render(CniVersion::V0_4_0), want);
    }

    #[test]
    fn converts_between_versions() {
        let old = json!({
            "cniVersion": "0.3.1",
            "ips": [{"version": "4", "address": "10.1.0.5/16", "gateway": "10.1.0.1"}],
            "routes": [{"dst": "0.0.0.0/0"}]
        });
        let r = parse_prev_result(&old, CniVersion::V0_3_1).unwrap();
        assert_eq!(
            r.render(CniVersion::V1_1_0),
            json!({
                "cniVersion": "1.1.0",
                "ips": [{"address": "10.1.0.5/16", "gateway": "10.1.0.1"}],
                "routes": [{"dst": "0.0.0.0/0"}]
            })
        );

        let new = json!({
            "cniVersion": "1.1.0",
            "interfaces": [{"name": "eth0", "mtu": 1450, "sandbox": "/run/netns/x"}],
            "ips": [{"address": "fd00::5/64", "interface": 0}]
        });
        let r = parse_prev_result(&new, CniVersion::V1_1_0).unwrap();
        assert_eq!(
            r.render(CniVersion::V0_4_0),
            json!({
                "cniVersion": "0.4.0",
                "interfaces": [{"name": "eth0", "sandbox": "/run/netns/x"}],
                "ips": [{"version": "6", "address": "fd00::5/64", "interface": 0}]
            })
        );
    }

    #[test]
    fn reads_only_the_keys_its_version_defines() {
        let prev = json!({
            "interfaces": [{"name": "eth0", "mtu": 9000}],
            "routes": [{"dst": "0.0.0.0/0", "table": 100}],
            "ips": [{"address": "10.0.0.2/24", "version": "4", "unknown": true}],
            "extra": "dropped"
        });
        let r = parse_prev_result(&prev, CniVersion::V1_0_0).unwrap();
        assert_eq!(r.interfaces[0].mtu, None);
        assert_eq!(r.routes[0].table, None);
        let r = parse_prev_result(&prev, CniVersion::V1_1_0).unwrap();
        assert_eq!(r.interfaces[0].mtu, Some(9000));
        assert_eq!(r.routes[0].table, Some(100));
    }

    #[test]
    fn own_cni_version_overrides_the_config_version() {
        let prev = json!({"cniVersion": "1.1.0", "interfaces": [{"name": "eth0", "mtu": 9000}]});
        let r = parse_prev_result(&prev, CniVersion::V0_4_0).unwrap();
        assert_eq!(r.interfaces[0].mtu, Some(9000));
    }

    #[test]
    fn empty_strings_and_nulls_read_as_absent() {
        let prev = json!({
            "interfaces": [{"name": "eth0", "mac": "", "sandbox": null}],
            "ips": [{"address": "10.0.0.2/24", "gateway": ""}],
            "routes": null,
            "dns": {}
        });
        let r = parse_prev_result(&prev, CniVersion::V1_1_0).unwrap();
        assert_eq!(r.interfaces[0].mac, None);
        assert_eq!(r.interfaces[0].sandbox, None);
        assert_eq!(r.ips[0].gateway, None);
        assert!(r.routes.is_empty());
        assert!(r.dns.is_empty());
    }

    #[test]
    fn rejects_malformed_prev_results() {
        // (prevResult, expected code)
        let cases = [
            (json!([]), 6),
            (json!({"cniVersion": 1}), 6),
            (json!({"cniVersion": "0.2.0"}), 1),
            (json!({"cniVersion": "x"}), 6),
            (json!({"ips": {}}), 6),
            (json!({"ips": [1]}), 6),
            (json!({"ips": [{}]}), 6),
            (json!({"ips": [{"address": "10.0.0.2"}]}), 6),
            (json!({"ips": [{"address": "10.0.0.2/33"}]}), 6),
            (
                json!({"ips": [{"address": "10.0.0.2/24", "gateway": "x"}]}),
                6,
            ),
            (
                json!({"ips": [{"address": "10.0.0.2/24", "interface": -1}]}),
                6,
            ),
            (
                json!({"ips": [{"address": "10.0.0.2/24", "interface": "0"}]}),
                6,
            ),
            (
                json!({"ips": [{"address": "10.0.0.2/24", "interface": 1.5}]}),
                6,
            ),
            (json!({"routes": [{"gw": "10.0.0.1"}]}), 6),
            (json!({"routes": [{"dst": "default"}]}), 6),
            (
                json!({"cniVersion": "1.1.0", "routes": [{"dst": "0.0.0.0/0", "mtu": 5000000000u64}]}),
                6,
            ),
            (json!({"interfaces": [{"name": 3}]}), 6),
            (json!({"interfaces": "eth0"}), 6),
            (json!({"dns": {"nameservers": [1]}}), 6),
            (json!({"dns": []}), 6),
        ];
        for (prev, code) in cases {
            let err = parse_prev_result(&prev, CniVersion::V1_1_0).unwrap_err();
            assert_eq!(err.code(), code, "{prev}: {err}");
        }
    }

    #[test]
    fn dns_round_trip() {
        let v = json!({"nameservers": ["10.96.0.10", "fd00::a"], "domain": "cluster.local",
                       "search": ["default.svc.cluster.local"], "options": ["ndots:5"]});
        let dns = Dns::from_value(&v).unwrap();
        assert_eq!(dns.to_value(), v);
        assert!(!dns.is_empty());
    }

    fn arb_ipnet() -> impl Strategy<Value = IpNet> {
        prop_oneof![
            (any::<u32>(), 0u8..=32)
                .prop_map(|(a, p)| { IpNet::new(std::net::Ipv4Addr::from(a).into(), p).unwrap() }),
            (any::<u128>(), 0u8..=128)
                .prop_map(|(a, p)| { IpNet::new(std::net::Ipv6Addr::from(a).into(), p).unwrap() }),
        ]
    }

    fn arb_opt_string() -> impl Strategy<Value = Option<String>> {
        proptest::option::of("[a-z0-9:/._-]{1,12}")
    }

    fn arb_result() -> impl Strategy<Value = CniResult> {
        let iface = (
            "[a-z0-9]{0,15}",
            arb_opt_string(),
            proptest::option::of(any::<u32>()),
            arb_opt_string(),
            arb_opt_string(),
            arb_opt_string(),
        )
            .prop_map(|(name, mac, mtu, sandbox, socket_path, pci_id)| Interface {
                name,
                mac,
                mtu,
                sandbox,
                socket_path,
                pci_id,
            });
        let ip = (
            arb_ipnet(),
            proptest::option::of(arb_ipnet().prop_map(|n| n.addr())),
            proptest::option::of(0u32..4),
        )
            .prop_map(|(address, gateway, interface)| IpConfig {
                address,
                gateway,
                interface,
            });
        let route = (
            arb_ipnet(),
            proptest::option::of(arb_ipnet().prop_map(|n| n.addr())),
            proptest::collection::vec(proptest::option::of(any::<u32>()), 5),
        )
            .prop_map(|(dst, gw, extras)| Route {
                dst,
                gw,
                mtu: extras.first().copied().flatten(),
                advmss: extras.get(1).copied().flatten(),
                priority: extras.get(2).copied().flatten(),
                table: extras.get(3).copied().flatten(),
                scope: extras.get(4).copied().flatten(),
            });
        let dns = (
            proptest::collection::vec("[a-f0-9.:]{1,8}", 0..3),
            arb_opt_string(),
            proptest::collection::vec("[a-z.]{1,8}", 0..3),
            proptest::collection::vec("[a-z:0-9]{1,8}", 0..3),
        )
            .prop_map(|(nameservers, domain, search, options)| Dns {
                nameservers,
                domain,
                search,
                options,
            });
        (
            proptest::collection::vec(iface, 0..4),
            proptest::collection::vec(ip, 0..4),
            proptest::collection::vec(route, 0..4),
            dns,
        )
            .prop_map(|(interfaces, ips, routes, dns)| CniResult {
                interfaces,
                ips,
                routes,
                dns,
            })
    }

    proptest! {
        #[test]
        fn render_then_parse_is_lossless_within_a_version(
            r in arb_result(),
            v in prop::sample::select(SUPPORTED.to_vec()),
        ) {
            let rendered = r.render(v);
            let back = parse_prev_result(&rendered, v).unwrap();
            prop_assert_eq!(back, r.restricted_to(v));
        }

        #[test]
        fn passing_on_is_idempotent_across_versions(
            r in arb_result(),
            from in prop::sample::select(SUPPORTED.to_vec()),
            to in prop::sample::select(SUPPORTED.to_vec()),
        ) {
            // A result received in one version and passed on in another
            // renders exactly as if it had been produced in the target.
            let received = parse_prev_result(&r.render(from), from).unwrap();
            let passed = received.render(to);
            prop_assert_eq!(passed, r.restricted_to(from).render(to));
        }

        #[test]
        fn ips_version_key_matches_family(r in arb_result(), v in prop::sample::select(SUPPORTED.to_vec())) {
            let rendered = r.render(v);
            let ips = rendered.get("ips").and_then(Value::as_array).cloned().unwrap_or_default();
            for (ip, src) in ips.iter().zip(&r.ips) {
                let want = if !v.ips_have_version() {
                    None
                } else if src.address.addr().is_ipv4() {
                    Some(json!("4"))
                } else {
                    Some(json!("6"))
                };
                prop_assert_eq!(ip.get("version").cloned(), want);
            }
        }
    }
}
