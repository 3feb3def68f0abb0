//! The plugin configuration a runtime writes on stdin, parsed into a typed
//! [`NetConf`].
//!
//! Pure: bytes in, value or [`CniError`] out. Bytes that are not a JSON
//! object, or keys of the wrong JSON type, are code 6; well-typed but invalid
//! values are code 7; a `cniVersion` strait does not speak is code 1. Keys it
//! does not know are ignored: the spec lets a plugin either ignore or reject
//! them, and ignoring keeps strait usable behind runtimes that add their own.
//! It must not touch the filesystem: paths are checked for shape only.

use std::path::PathBuf;

use serde_json::{Map, Value};

use crate::env::{Command, validate_cni_name};
use crate::error::CniError;
use crate::ipam::PodCidr;
use crate::result::Dns;
use crate::version::CniVersion;

/// Smallest MTU accepted: IPv4's minimum datagram size every host must take.
pub const MIN_MTU: u32 = 576;
/// Largest MTU accepted: the largest IPv4 total length.
pub const MAX_MTU: u32 = 65535;

/// The GC key current libcni and later spec text use.
pub const VALID_ATTACHMENTS_KEY: &str = "cni.dev/valid-attachments";
/// The GC key the 1.1.0 spec text names; libcni sends both (cni#1101).
pub const ATTACHMENTS_KEY: &str = "cni.dev/attachments";

/// A still-valid attachment named in a GC request.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Attachment {
    /// `containerID`, as given to ADD. Not validated: an ID no reservation
    /// could carry simply matches nothing.
    pub container_id: String,
    /// `ifname`, as given to ADD.
    pub ifname: String,
}

/// strait's plugin configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct NetConf {
    /// `cniVersion`: the version requests and results use.
    pub cni_version: CniVersion,
    /// `name`: the network name; also the IPAM store's directory name.
    pub name: String,
    /// `type`: the plugin binary's name.
    pub plugin_type: String,
    /// `podCIDR`: this node's pod range, if the config carries it.
    pub pod_cidr: Option<PodCidr>,
    /// `dataDir`: IPAM store root; absolute.
    pub data_dir: Option<PathBuf>,
    /// `kubeconfig`: credentials to reach the API server; absolute.
    pub kubeconfig: Option<PathBuf>,
    /// `nodeName`: this node's name, a DNS-1123 subdomain.
    pub node_name: Option<String>,
    /// `mtu`: pod interface MTU, within [`MIN_MTU`]`..=`[`MAX_MTU`].
    pub mtu: Option<u32>,
    /// `dns`: the well-known DNS settings to hand back in results.
    pub dns: Option<Dns>,
    /// `prevResult`: the previous plugin's result, undecoded (see
    /// [`crate::result::parse_prev_result`]).
    pub prev_result: Option<Value>,
    /// `runtimeConfig`: capability arguments; an empty object when absent.
    pub runtime_config: Value,
    /// The GC list from `cni.dev/valid-attachments`, else `cni.dev/attachments`.
    /// `None` when neither key is present; JSON `null` reads as an empty list,
    /// since libcni encodes an empty Go slice as `null`.
    pub valid_attachments: Option<Vec<Attachment>>,
}

impl NetConf {
    /// Parses stdin bytes.
    pub fn parse(stdin: &[u8]) -> Result<Self, CniError> {
        let value: Value = serde_json::from_slice(stdin)
            .map_err(|e| CniError::decode("network config is not JSON", e.to_string()))?;
        let Value::Object(obj) = value else {
            return Err(CniError::decode("network config is not a JSON object", ""));
        };

        let cni_version = CniVersion::parse(required_str(&obj, "cniVersion")?)?;

        let name = required_str(&obj, "name")?;
        validate_cni_name(name)
            .map_err(|e| CniError::invalid_config("invalid network name", format!("name {e}")))?;

        let plugin_type = required_str(&obj, "type")?;
        if plugin_type.contains(['/', '\\']) {
            return Err(CniError::invalid_config(
                "invalid plugin type",
                format!("type {plugin_type:?} must not contain / or \\"),
            ));
        }

        let pod_cidr = opt_str(&obj, "podCIDR")?
            .map(|s| {
                let net = s.parse().map_err(|_| {
                    CniError::invalid_config("invalid podCIDR", format!("{s:?} is not a CIDR"))
                })?;
                PodCidr::new(net)
                    .map_err(|e| CniError::invalid_config("invalid podCIDR", e.to_string()))
            })
            .transpose()?;

        let data_dir = opt_abs_path(&obj, "dataDir")?;
        let kubeconfig = opt_abs_path(&obj, "kubeconfig")?;

        let node_name = opt_str(&obj, "nodeName")?
            .map(|s| {
                if is_dns1123_subdomain(s) {
                    Ok(s.to_owned())
                } else {
                    Err(CniError::invalid_config(
                        "invalid nodeName",
                        format!("{s:?} is not a DNS-1123 subdomain"),
                    ))
                }
            })
            .transpose()?;

        let mtu = opt_mtu(&obj)?;

        let dns = match obj.get("dns") {
            None | Some(Value::Null) => None,
            Some(v) => Some(Dns::from_value(v)?),
        };

        let prev_result = match obj.get("prevResult") {
            None | Some(Value::Null) => None,
            Some(v @ Value::Object(_)) => Some(v.clone()),
            Some(_) => return Err(CniError::decode("prevResult must be an object", "")),
        };

        let runtime_config = match obj.get("runtimeConfig") {
            None | Some(Value::Null) => Value::Object(Map::new()),
            Some(v @ Value::Object(_)) => v.clone(),
            Some(_) => return Err(CniError::decode("runtimeConfig must be an object", "")),
        };

        let valid_attachments = match obj.get(VALID_ATTACHMENTS_KEY) {
            Some(v) => Some(parse_attachments(VALID_ATTACHMENTS_KEY, v)?),
            None => obj
                .get(ATTACHMENTS_KEY)
                .map(|v| parse_attachments(ATTACHMENTS_KEY, v))
                .transpose()?,
        };

        Ok(Self {
            cni_version,
            name: name.to_owned(),
            plugin_type: plugin_type.to_owned(),
            pod_cidr,
            data_dir,
            kubeconfig,
            node_name,
            mtu,
            dns,
            prev_result,
            runtime_config,
            valid_attachments,
        })
    }

    /// [`parse`](Self::parse), then code 1 if the config's version predates
    /// `command` (CHECK before 0.4.0, STATUS and GC before 1.1.0).
    pub fn parse_for(command: Command, stdin: &[u8]) -> Result<Self, CniError> {
        let conf = Self::parse(stdin)?;
        conf.cni_version.check_command(command)?;
        Ok(conf)
    }
}

/// A required non-empty string: absent, null or empty is code 7, another
/// JSON type is code 6.
fn required_str<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<&'a str, CniError> {
    opt_str(obj, key)?.ok_or_else(|| CniError::invalid_config(format!("missing {key}"), ""))
}

/// An optional string: absent, null or empty is `None`; another JSON type is
/// code 6.
fn opt_str<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, CniError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(type_error(key, "a string", other)),
    }
}

fn opt_abs_path(obj: &Map<String, Value>, key: &str) -> Result<Option<PathBuf>, CniError> {
    opt_str(obj, key)?
        .map(|s| {
            let path = PathBuf::from(s);
            if path.is_absolute() {
                Ok(path)
            } else {
                Err(CniError::invalid_config(
                    format!("invalid {key}"),
                    format!("{s:?} is not an absolute path"),
                ))
            }
        })
        .transpose()
}

fn opt_mtu(obj: &Map<String, Value>) -> Result<Option<u32>, CniError> {
    let n = match obj.get("mtu") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n,
        Some(other) => return Err(type_error("mtu", "an integer", other)),
    };
    let out_of_range = || {
        CniError::invalid_config(
            "invalid mtu",
            format!("mtu {n} is outside {MIN_MTU}..={MAX_MTU}"),
        )
    };
    if let Some(u) = n.as_u64() {
        let mtu = u32::try_from(u).map_err(|_| out_of_range())?;
        if (MIN_MTU..=MAX_MTU).contains(&mtu) {
            return Ok(Some(mtu));
        }
        return Err(out_of_range());
    }
    if n.is_i64() {
        // A negative integer is well typed but out of range.
        return Err(out_of_range());
    }
    Err(type_error("mtu", "an integer", &Value::Number(n.clone())))
}

fn parse_attachments(key: &str, value: &Value) -> Result<Vec<Attachment>, CniError> {
    let items = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        other => return Err(type_error(key, "an array", other)),
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let Value::Object(obj) = item else {
                return Err(type_error(&format!("{key}[{i}]"), "an object", item));
            };
            let field = |name: &str| match obj.get(name) {
                Some(Value::String(s)) => Ok(s.clone()),
                Some(other) => Err(type_error(&format!("{key}[{i}].{name}"), "a string", other)),
                None => Err(CniError::decode(
                    format!("{key}[{i}] has no {name}"),
                    "each attachment needs containerID and ifname",
                )),
            };
            Ok(Attachment {
                container_id: field("containerID")?,
                ifname: field("ifname")?,
            })
        })
        .collect()
}

fn type_error(key: &str, want: &str, got: &Value) -> CniError {
    let kind = match got {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    CniError::decode(format!("{key} must be {want}"), format!("got {kind}"))
}

/// Kubernetes' node name rule: lowercase RFC 1123 labels joined by dots, at
/// most 253 bytes.
fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= 253
        && s.split('.').all(|label| {
            let bytes = label.as_bytes();
            match (bytes.first(), bytes.last()) {
                (Some(first), Some(last)) => {
                    is_lower_alnum(*first)
                        && is_lower_alnum(*last)
                        && bytes.iter().all(|&b| is_lower_alnum(b) || b == b'-')
                }
                _ => false,
            }
        })
}

fn is_lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<NetConf, CniError> {
        NetConf::parse(v.to_string().as_bytes())
    }

    fn base() -> Value {
        json!({"cniVersion": "1.1.0", "name": "strait", "type": "strait-cni"})
    }

    fn with(key: &str, value: Value) -> Value {
        let mut v = base();
        if let Value::Object(obj) = &mut v {
            obj.insert(key.to_owned(), value);
        }
        v
    }

    fn without(key: &str) -> Value {
        let mut v = base();
        if let Value::Object(obj) = &mut v {
            obj.remove(key);
        }
        v
    }

    #[test]
    fn minimal_config() {
        let conf = parse(base()).unwrap();
        assert_eq!(conf.cni_version, CniVersion::V1_1_0);
        assert_eq!(conf.name, "strait");
        assert_eq!(conf.plugin_type, "strait-cni");
        assert_eq!(conf.pod_cidr, None);
        assert_eq!(conf.data_dir, None);
        assert_eq!(conf.mtu, None);
        assert_eq!(conf.prev_result, None);
        assert_eq!(conf.runtime_config, json!({}));
        assert_eq!(conf.valid_attachments, None);
    }

    #[test]
    fn full_config() {
        let conf = parse(json!({
            "cniVersion": "0.4.0",
            "name": "k8s-pod-network",
            "type": "strait-cni",
            "podCIDR": "10.244.1.0/24",
            "dataDir": "/var/lib/cni/strait",
            "kubeconfig": "/etc/cni/net.d/strait.kubeconfig",
            "nodeName": "node-1.example.com",
            "mtu": 1450,
            "dns": {"nameservers": ["10.96.0.10"], "search": ["svc.cluster.local"]},
            "prevResult": {"cniVersion": "0.4.0", "ips": []},
            "runtimeConfig": {"portMappings": []},
            "ipam": {"type": "host-local"},
            "someUnknownKey": [1, 2, 3],
            "args": {"labels": {"a": "b"}}
        }))
        .unwrap();
        assert_eq!(conf.cni_version, CniVersion::V0_4_0);
        assert_eq!(
            conf.pod_cidr.map(|c| c.network()),
            Some("10.244.1.0/24".parse().unwrap())
        );
        assert_eq!(conf.data_dir, Some(PathBuf::from("/var/lib/cni/strait")));
        assert_eq!(
            conf.kubeconfig,
            Some(PathBuf::from("/etc/cni/net.d/strait.kubeconfig"))
        );
        assert_eq!(conf.node_name.as_deref(), Some("node-1.example.com"));
        assert_eq!(conf.mtu, Some(1450));
        let dns = conf.dns.unwrap();
        assert_eq!(dns.nameservers, vec!["10.96.0.10".to_owned()]);
        assert_eq!(dns.search, vec!["svc.cluster.local".to_owned()]);
        assert_eq!(
            conf.prev_result,
            Some(json!({"cniVersion": "0.4.0", "ips": []}))
        );
        assert_eq!(conf.runtime_config, json!({"portMappings": []}));
    }

    #[test]
    fn undecodable_input_is_code_6() {
        let cases: &[&[u8]] = &[b"", b"{", b"not json", b"[]", b"42", b"\"x\"", b"null"];
        for stdin in cases {
            let err = NetConf::parse(stdin).unwrap_err();
            assert_eq!(err.code(), 6, "{}", String::from_utf8_lossy(stdin));
        }
    }

    #[test]
    fn wrong_types_are_code_6() {
        let cases = [
            with("cniVersion", json!(1.1)),
            with("name", json!(["strait"])),
            with("type", json!(true)),
            with("podCIDR", json!(24)),
            with("dataDir", json!({})),
            with("kubeconfig", json!(1)),
            with("nodeName", json!(false)),
            with("mtu", json!("1500")),
            with("mtu", json!(1500.5)),
            with("dns", json!("8.8.8.8")),
            with("dns", json!({"nameservers": "8.8.8.8"})),
            with("prevResult", json!("{}")),
            with("runtimeConfig", json!([])),
            with(VALID_ATTACHMENTS_KEY, json!({})),
            with(VALID_ATTACHMENTS_KEY, json!(["abc"])),
            with(
                VALID_ATTACHMENTS_KEY,
                json!([{"containerID": 1, "ifname": "eth0"}]),
            ),
            with(VALID_ATTACHMENTS_KEY, json!([{"containerID": "a"}])),
            with(ATTACHMENTS_KEY, json!("all")),
        ];
        for conf in cases {
            let err = parse(conf.clone()).unwrap_err();
            assert_eq!(err.code(), 6, "{conf}: {err}");
        }
    }

    #[test]
    fn invalid_values_are_code_7() {
        let cases = [
            without("cniVersion"),
            with("cniVersion", json!("")),
            without("name"),
            with("name", json!("")),
            with("name", json!("-net")),
            with("name", json!("my net")),
            with("name", json!("a/b")),
            with("name", json!(".hidden")),
            without("type"),
            with("type", json!("../bin/evil")),
            with("type", json!("a\\b")),
            with("podCIDR", json!("10.244.1.0")),
            with("podCIDR", json!("not-a-cidr")),
            with("podCIDR", json!("10.244.1.5/24")),
            with("podCIDR", json!("10.244.1.0/31")),
            with("podCIDR", json!("10.244.1.0/32")),
            with("podCIDR", json!("10.0.0.0/7")),
            with("podCIDR", json!("fd00::/127")),
            with("podCIDR", json!("fd00::/48")),
            with("dataDir", json!("var/lib")),
            with("kubeconfig", json!("./kubeconfig")),
            with("nodeName", json!("Node-1")),
            with("nodeName", json!("node_1")),
            with("nodeName", json!("-node")),
            with("nodeName", json!("node..a")),
            with("nodeName", json!("a".repeat(254))),
            with("mtu", json!(575)),
            with("mtu", json!(65536)),
            with("mtu", json!(0)),
            with("mtu", json!(-1)),
            with("mtu", json!(u64::MAX)),
        ];
        for conf in cases {
            let err = parse(conf.clone()).unwrap_err();
            assert_eq!(err.code(), 7, "{conf}: {err}");
        }
    }

    #[test]
    fn unsupported_version_is_code_1() {
        for v in ["0.1.0", "0.2.0", "1.2.0", "2.0.0"] {
            let err = parse(with("cniVersion", json!(v))).unwrap_err();
            assert_eq!(err.code(), 1, "{v}");
        }
        assert_eq!(
            parse(with("cniVersion", json!("one"))).unwrap_err().code(),
            6
        );
    }

    #[test]
    fn mtu_bounds_are_inclusive() {
        assert_eq!(parse(with("mtu", json!(576))).unwrap().mtu, Some(576));
        assert_eq!(parse(with("mtu", json!(65535))).unwrap().mtu, Some(65535));
        assert_eq!(parse(with("mtu", Value::Null)).unwrap().mtu, None);
    }

    #[test]
    fn ipv6_pod_cidr() {
        let conf = parse(with("podCIDR", json!("fd00:10:244:1::/64"))).unwrap();
        assert_eq!(
            conf.pod_cidr.map(|c| c.network()),
            Some("fd00:10:244:1::/64".parse().unwrap())
        );
    }

    #[test]
    fn gc_attachments_prefer_the_new_key() {
        let list = json!([{"containerID": "abc", "ifname": "eth0"}]);
        let stale = json!([{"containerID": "old", "ifname": "eth0"}]);
        let want = Some(vec![Attachment {
            container_id: "abc".into(),
            ifname: "eth0".into(),
        }]);

        let conf = parse(with(VALID_ATTACHMENTS_KEY, list.clone())).unwrap();
        assert_eq!(conf.valid_attachments, want);

        let conf = parse(with(ATTACHMENTS_KEY, list.clone())).unwrap();
        assert_eq!(conf.valid_attachments, want);

        let mut both = with(VALID_ATTACHMENTS_KEY, list);
        if let Value::Object(obj) = &mut both {
            obj.insert(ATTACHMENTS_KEY.into(), stale);
        }
        assert_eq!(parse(both).unwrap().valid_attachments, want);
    }

    #[test]
    fn gc_attachments_null_and_empty_mean_none_valid() {
        for v in [Value::Null, json!([])] {
            let conf = parse(with(VALID_ATTACHMENTS_KEY, v)).unwrap();
            assert_eq!(conf.valid_attachments, Some(vec![]));
        }
    }

    #[test]
    fn gc_attachment_extra_keys_are_ignored() {
        let conf = parse(with(
            VALID_ATTACHMENTS_KEY,
            json!([{"containerID": "x", "ifname": "eth1", "netns": "/run/netns/x"}]),
        ))
        .unwrap();
        assert_eq!(
            conf.valid_attachments,
            Some(vec![Attachment {
                container_id: "x".into(),
                ifname: "eth1".into()
            }])
        );
    }

    #[test]
    fn parse_for_gates_commands_by_version() {
        let old = with("cniVersion", json!("0.3.1")).to_string();
        assert!(NetConf::parse_for(Command::Add, old.as_bytes()).is_ok());
        assert_eq!(
            NetConf::parse_for(Command::Check, old.as_bytes())
                .unwrap_err()
                .code(),
            1
        );
        let v1 = with("cniVersion", json!("1.0.0")).to_string();
        assert!(NetConf::parse_for(Command::Check, v1.as_bytes()).is_ok());
        for cmd in [Command::Gc, Command::Status] {
            assert_eq!(
                NetConf::parse_for(cmd, v1.as_bytes()).unwrap_err().code(),
                1
            );
        }
        let v11 = base().to_string();
        assert!(NetConf::parse_for(Command::Gc, v11.as_bytes()).is_ok());
    }

    #[test]
    fn node_name_rule() {
        for ok in ["a", "node-1", "ip-10-0-0-1.ec2.internal", "0", "a.b.c"] {
            assert!(is_dns1123_subdomain(ok), "{ok}");
        }
        for bad in ["", "A", "a.", ".a", "a..b", "a-", "-a", "a_b", "a b"] {
            assert!(!is_dns1123_subdomain(bad), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = NetConf::parse(&bytes);
        }

        #[test]
        fn errors_use_only_decode_config_or_version_codes(
            version in prop::sample::select(vec![json!("1.1.0"), json!("0.2.0"), json!(1), json!(null)]),
            name in prop::sample::select(vec![json!("net"), json!("-x"), json!(""), json!(3)]),
            cidr in prop::sample::select(vec![json!("10.0.0.0/24"), json!("10.0.0.1/24"), json!("x"), json!([])]),
            mtu in prop::sample::select(vec![json!(1500), json!(1), json!(-5), json!("9000"), json!(1.5)]),
        ) {
            let conf = json!({"cniVersion": version, "name": name, "type": "t", "podCIDR": cidr, "mtu": mtu});
            if let Err(e) = parse(conf) {
                prop_assert!([1, 6, 7].contains(&e.code()), "{}", e);
            }
        }
    }
}
