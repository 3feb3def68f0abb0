//! The per-node overlay loop `strait agent` runs: watches Node objects,
//! turns them into the desired overlay with the pure
//! [`strait_cni::overlay::desired`], and keeps the kernel at exactly that
//! set (on every change, and every resync period to repair drift). Also
//! keeps the node's nftables table: the masquerade rule for pod traffic
//! leaving the cluster, and conntrack off for the overlay's own packets.

use std::{net::Ipv4Addr, time::Duration};

use futures::StreamExt as _;
use ipnet::Ipv4Net;
use k8s_openapi::api::core::v1::Node;
use kube::{
    Api, Client,
    runtime::{WatchStreamExt as _, reflector, watcher},
};
use strait_cni::{
    netlink::{self, NetError},
    overlay::{self, NodeInfo, OverlayConfig},
};
use tokio_util::sync::CancellationToken;

/// Why the overlay loop stopped.
#[derive(Debug, thiserror::Error)]
pub enum OverlayError {
    /// Netlink failed in a way a retry will not fix.
    #[error(transparent)]
    Net(#[from] NetError),
    /// The node's nftables table could not be installed.
    #[error("installing the node's nftables table (ip strait) with nft: {0}")]
    Nftables(String),
}

/// What the overlay loop needs to know.
#[derive(Clone, Debug)]
pub struct OverlaySettings {
    /// This node's name.
    pub node_name: String,
    /// This node's underlay address (its InternalIP when not given).
    pub node_ip: Option<Ipv4Addr>,
    /// The cluster's pod CIDR (for the masquerade rule; `None` skips it).
    pub cluster_cidr: Option<Ipv4Net>,
    /// The VXLAN device's settings.
    pub config: OverlayConfig,
    /// How often the kernel state is re-read and repaired without a change.
    pub resync: Duration,
}

/// The overlay's view of a Node: name, InternalIP and podCIDR.
pub fn node_info(node: &Node) -> Option<NodeInfo> {
    let name = node.metadata.name.clone()?;
    let pod_cidr = node.spec.as_ref()?.pod_cidr.as_deref()?.parse().ok()?;
    let ip = node
        .status
        .as_ref()?
        .addresses
        .as_ref()?
        .iter()
        .filter(|a| a.type_ == "InternalIP")
        .find_map(|a| a.address.parse().ok())?;
    Some(NodeInfo { name, ip, pod_cidr })
}

/// The node's nftables table `ip strait`: pod traffic to anything outside
/// the cluster CIDR leaves with the node's address (pod-to-pod traffic
/// keeps its source), and the overlay's own UDP packets skip conntrack
/// (the masquerade rule loads it for every packet of the node; tracking
/// the tunnel's packets, whose inner flows are what matter, costs per
/// packet and buys nothing). Built only from parsed values, never from
/// user text.
pub fn node_ruleset(cluster_cidr: Option<Ipv4Net>, vxlan_port: u16) -> String {
    let masquerade = match cluster_cidr {
        Some(cidr) => format!(
            "\tchain postrouting {{\n\
             \t\ttype nat hook postrouting priority srcnat; policy accept;\n\
             \t\tip saddr {cidr} ip daddr != {cidr} masquerade\n\
             \t}}\n"
        ),
        None => String::new(),
    };
    format!(
        "table ip strait {{}}\n\
         delete table ip strait\n\
         table ip strait {{\n\
         \tchain overlay_prerouting {{\n\
         \t\ttype filter hook prerouting priority raw; policy accept;\n\
         \t\tudp dport {vxlan_port} notrack\n\
         \t}}\n\
         \tchain overlay_output {{\n\
         \t\ttype filter hook output priority raw; policy accept;\n\
         \t\tudp dport {vxlan_port} notrack\n\
         \t}}\n\
         {masquerade}\
         }}\n"
    )
}

fn install_ruleset(ruleset: &str) -> Result<(), OverlayError> {
    use std::io::Write as _;
    let mut child = std::process::Command::new("nft")
        .args(["-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| OverlayError::Nftables(e.to_string()))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(ruleset.as_bytes())
            .map_err(|e| OverlayError::Nftables(e.to_string()))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| OverlayError::Nftables(e.to_string()))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(OverlayError::Nftables(
            String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        ))
    }
}

/// Runs the overlay loop until `shutdown`.
pub async fn run(
    client: Client,
    settings: OverlaySettings,
    shutdown: CancellationToken,
) -> Result<(), OverlayError> {
    install_ruleset(&node_ruleset(settings.cluster_cidr, settings.config.port))?;
    let handle = netlink::own_handle()?;
    let (reader, writer) = reflector::store::<Node>();
    let nodes: Api<Node> = Api::all(client);
    let mut changes = watcher(nodes, watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .boxed();
    let mut resync = tokio::time::interval(settings.resync);
    resync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ready = false;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            change = changes.next() => match change {
                // Until the first full list, a restart must not remove
                // entries of nodes it has not been told about yet.
                Some(Ok(watcher::Event::InitDone)) => ready = true,
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "watching nodes");
                    continue;
                }
                None => return Ok(()),
            },
            _ = resync.tick() => {}
        }
        if !ready {
            continue;
        }
        let infos: Vec<NodeInfo> = reader.state().iter().filter_map(|n| node_info(n)).collect();
        let node_ip = settings.node_ip.or_else(|| {
            infos
                .iter()
                .find(|n| n.name == settings.node_name)
                .map(|n| n.ip)
        });
        let Some(node_ip) = node_ip else {
            tracing::info!(node = %settings.node_name, "waiting for this node's InternalIP");
            continue;
        };
        let desired = overlay::desired(&settings.node_name, &infos);
        match overlay::apply::reconcile(&handle, &settings.config, node_ip, &desired).await {
            Ok(plan) if !plan.is_empty() => tracing::info!(
                added = plan.add_routes.len(),
                removed = plan.remove_routes.len(),
                "overlay converged"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "reconciling the overlay"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_without_an_address_or_cidr_are_skipped() {
        let node: Node = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "n1"},
            "spec": {"podCIDR": "10.244.1.0/24"},
            "status": {"addresses": [
                {"type": "Hostname", "address": "n1"},
                {"type": "InternalIP", "address": "172.30.0.11"},
            ]},
        }))
        .expect("node");
        let info = node_info(&node).expect("info");
        assert_eq!(info.ip, Ipv4Addr::new(172, 30, 0, 11));
        assert_eq!(info.pod_cidr.to_string(), "10.244.1.0/24");
        let mut bare = node.clone();
        bare.spec = None;
        assert!(node_info(&bare).is_none());
        let mut no_ip = node;
        no_ip.status = None;
        assert!(node_info(&no_ip).is_none());
    }

    #[test]
    fn the_node_ruleset_replaces_its_table_atomically() {
        let rules = node_ruleset(Some("10.244.0.0/16".parse().expect("cidr")), 8472);
        assert!(rules.starts_with("table ip strait {}\ndelete table ip strait\n"));
        assert!(rules.contains("ip saddr 10.244.0.0/16 ip daddr != 10.244.0.0/16 masquerade"));
        assert_eq!(rules.matches("udp dport 8472 notrack").count(), 2);
        // Without masquerading only the notrack chains remain.
        let rules = node_ruleset(None, 4789);
        assert!(!rules.contains("masquerade"));
        assert_eq!(rules.matches("udp dport 4789 notrack").count(), 2);
    }
}
