//! `strait inspect lb`: what the load-balancer maps pinned in a node's bpffs
//! directory hold, as a table (what `cilium bpf lb list` shows for Cilium).
//!
//! [`render`] is pure (map contents in, text out); [`read_pinned`] opens the
//! pins read-only and copies the three maps out.

use std::{collections::BTreeMap, fmt::Write as _, path::Path};

pub use crate::service_lb::Contents;
use aya::maps::{HashMap as BpfHashMap, Map, MapData};
use strait_proxy_maps::lb::{
    BackendKey, SERVICE_SLOT, backend_state, host_addr, host_port, names, proto, scope,
    service_flags,
};

/// Why the pinned maps could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// A pin is missing or not a map of the expected kind.
    #[error("opening {path}: {source}")]
    Open {
        /// The pin.
        path: std::path::PathBuf,
        /// aya's reason.
        #[source]
        source: aya::maps::MapError,
    },
    /// Iterating a map failed.
    #[error("reading map {name}: {source}")]
    Read {
        /// The map's name.
        name: &'static str,
        /// aya's reason.
        #[source]
        source: aya::maps::MapError,
    },
}

/// Reads the three maps pinned by name in `bpffs_dir`.
pub fn read_pinned(bpffs_dir: &Path) -> Result<Contents, InspectError> {
    Ok(Contents {
        services: read(bpffs_dir, names::LB4_SERVICES)?,
        backends: read(bpffs_dir, names::LB4_BACKENDS)?,
        rev_nat: read(bpffs_dir, names::LB4_REV_NAT)?,
    })
}

fn read<K, V>(dir: &Path, name: &'static str) -> Result<BTreeMap<K, V>, InspectError>
where
    K: aya::Pod + Ord,
    V: aya::Pod,
{
    let path = dir.join(name);
    let open = |source| InspectError::Open {
        path: path.clone(),
        source,
    };
    let data = MapData::from_pin(&path).map_err(open)?;
    let map = BpfHashMap::<_, K, V>::try_from(Map::HashMap(data)).map_err(open)?;
    map.iter()
        .map(|entry| entry.map_err(|source| InspectError::Read { name, source }))
        .collect()
}

fn protocol(number: u8) -> String {
    match number {
        proto::TCP => "TCP".to_owned(),
        proto::UDP => "UDP".to_owned(),
        other => format!("proto {other}"),
    }
}

fn flag_names(flags: u16) -> String {
    const NAMES: [(u16, &str); 11] = [
        (service_flags::CLUSTER_IP, "ClusterIP"),
        (service_flags::NODE_PORT, "NodePort"),
        (service_flags::EXTERNAL_IP, "ExternalIP"),
        (service_flags::LOAD_BALANCER, "LoadBalancer"),
        (service_flags::EXT_LOCAL, "extLocal"),
        (service_flags::INT_LOCAL, "intLocal"),
        (service_flags::TWO_SCOPES, "twoScopes"),
        (service_flags::AFFINITY, "affinity"),
        (service_flags::MAGLEV, "maglev"),
        (service_flags::TERMINATING_FALLBACK, "terminatingFallback"),
        (service_flags::ENDPOINTS_ELSEWHERE, "endpointsElsewhere"),
    ];
    let names: Vec<&str> = NAMES
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, name)| *name)
        .collect();
    names.join(",")
}

/// One line per backend slot of every frontend, like `cilium bpf lb list`:
/// the frontend (address:port/protocol, scope, flags), then each slot's
/// backend with its state; a frontend without backends says so. Then the
/// backends map and the reverse-NAT map.
pub fn render(maps: &Contents) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "SERVICE ADDRESS\tSCOPE\tFLAGS\tSLOT\tBACKEND ADDRESS (ID) (REVNAT)"
    );
    for (key, head) in maps.services.iter().filter(|(k, _)| k.slot == SERVICE_SLOT) {
        let frontend = format!(
            "{}:{}/{}",
            key.address(),
            key.host_port(),
            protocol(key.proto)
        );
        let scope = if key.scope == scope::INTERNAL {
            "internal"
        } else {
            "external"
        };
        let flags = flag_names(head.flags);
        let slots = u32::from(head.count) + u32::from(head.terminating);
        if slots == 0 {
            let _ = writeln!(
                out,
                "{frontend}\t{scope}\t{flags}\t-\t(no backends: refused) ({})",
                head.rev_nat
            );
            continue;
        }
        for slot in 1..=slots {
            let Ok(slot16) = u16::try_from(slot) else {
                break;
            };
            let backend = maps
                .services
                .get(&key.with_slot(slot16))
                .map(|v| v.backend_id)
                .and_then(|id| maps.backends.get(&BackendKey { id }).map(|b| (id, b)));
            let what = match backend {
                Some((id, b)) => {
                    let state =
                        if slot > u32::from(head.count) || b.state == backend_state::TERMINATING {
                            " terminating"
                        } else {
                            ""
                        };
                    format!(
                        "{}:{}/{} ({id}){state}",
                        host_addr(b.addr),
                        host_port(b.port),
                        protocol(b.proto)
                    )
                }
                None => "(missing backend)".to_owned(),
            };
            let _ = writeln!(
                out,
                "{frontend}\t{scope}\t{flags}\t{slot}\t{what} ({})",
                head.rev_nat
            );
        }
    }
    let _ = writeln!(out, "\nBACKEND ID\tADDRESS\tSTATE");
    for (key, b) in &maps.backends {
        let state = if b.state == backend_state::TERMINATING {
            "terminating"
        } else {
            "active"
        };
        let _ = writeln!(
            out,
            "{}\t{}:{}/{}\t{state}",
            key.id,
            host_addr(b.addr),
            host_port(b.port),
            protocol(b.proto)
        );
    }
    let _ = writeln!(out, "\nREVNAT ID\tFRONTEND");
    for (key, r) in &maps.rev_nat {
        let _ = writeln!(
            out,
            "{}\t{}:{}",
            key.index,
            host_addr(r.addr),
            host_port(r.port)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use strait_proxy_maps::lb::{BackendValue, RevNatKey, RevNatValue, ServiceKey, ServiceValue};

    use super::*;

    fn head(count: u16, terminating: u16, flags: u16) -> ServiceValue {
        ServiceValue {
            count,
            terminating,
            rev_nat: 1,
            flags,
            ..ServiceValue::default()
        }
    }

    fn slot(backend_id: u32) -> ServiceValue {
        ServiceValue {
            backend_id,
            rev_nat: 1,
            ..ServiceValue::default()
        }
    }

    #[test]
    fn lists_every_slot_with_its_backend_and_marks_draining_ones() {
        let key = ServiceKey::new(
            Ipv4Addr::new(10, 96, 0, 50),
            80,
            proto::TCP,
            scope::EXTERNAL,
            0,
        );
        let empty = ServiceKey::new(
            Ipv4Addr::new(10, 96, 0, 51),
            53,
            proto::UDP,
            scope::EXTERNAL,
            0,
        );
        let mut maps = Contents::default();
        maps.services
            .insert(key, head(1, 1, service_flags::CLUSTER_IP));
        maps.services.insert(key.with_slot(1), slot(7));
        maps.services.insert(key.with_slot(2), slot(8));
        maps.services
            .insert(empty, head(0, 0, service_flags::CLUSTER_IP));
        let backend = |last, state| {
            BackendValue::new(Ipv4Addr::new(10, 244, 1, last), 8080, proto::TCP, state, 0)
        };
        maps.backends
            .insert(BackendKey { id: 7 }, backend(5, backend_state::ACTIVE));
        maps.backends
            .insert(BackendKey { id: 8 }, backend(6, backend_state::TERMINATING));
        maps.rev_nat.insert(
            RevNatKey { index: 1 },
            RevNatValue::new(Ipv4Addr::new(10, 96, 0, 50), 80),
        );
        let text = render(&maps);
        assert!(
            text.contains("10.96.0.50:80/TCP\texternal\tClusterIP\t1\t10.244.1.5:8080/TCP (7) (1)"),
            "{text}"
        );
        assert!(
            text.contains(
                "10.96.0.50:80/TCP\texternal\tClusterIP\t2\t10.244.1.6:8080/TCP (8) terminating (1)"
            ),
            "{text}"
        );
        assert!(
            text.contains("10.96.0.51:53/UDP\texternal\tClusterIP\t-\t(no backends: refused)"),
            "{text}"
        );
        assert!(
            text.contains("8\t10.244.1.6:8080/TCP\tterminating"),
            "{text}"
        );
        assert!(text.contains("1\t10.96.0.50:80"), "{text}");
    }

    #[test]
    fn a_slot_without_its_backend_is_shown_not_hidden() {
        let key = ServiceKey::new(
            Ipv4Addr::new(10, 96, 0, 50),
            80,
            proto::TCP,
            scope::EXTERNAL,
            0,
        );
        let mut maps = Contents::default();
        maps.services.insert(
            key,
            head(1, 0, service_flags::CLUSTER_IP | service_flags::AFFINITY),
        );
        maps.services.insert(key.with_slot(1), slot(9));
        let text = render(&maps);
        assert!(
            text.contains("ClusterIP,affinity\t1\t(missing backend)"),
            "{text}"
        );
    }

    #[test]
    fn reading_a_directory_without_pins_is_a_clear_error() {
        let dir = std::env::temp_dir().join(format!("strait-inspect-{}", std::process::id()));
        let err = read_pinned(&dir).expect_err("no pins there");
        assert!(err.to_string().contains("LB4_SERVICES"), "{err}");
    }
}
