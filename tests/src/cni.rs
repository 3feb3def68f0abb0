//! Creating pod networking by executing a CNI plugin exactly as a container
//! runtime does: the netconf on stdin, the CNI_* variables in a clean
//! environment, the plugin running in the node's network namespace.
//!
//! [`PodNetwork`] says which plugin a cluster uses; this module builds its
//! netconf and runs it. It knows nothing of nodes beyond what the netconf needs.

use std::{
    io::Write as _,
    net::Ipv4Addr,
    path::{Path, PathBuf},
    process::Stdio,
};

use ipnet::Ipv4Net;
use serde::Deserialize;
use serde_json::json;

use crate::{error::HarnessError, netns, process};

/// Where Debian's containernetworking-plugins puts the reference plugins.
pub const REFERENCE_PLUGIN_DIR: &str = "/usr/lib/cni";

/// The plugin that wires a cluster's pods.
#[derive(Clone, Debug, Default)]
pub enum PodNetwork {
    /// The reference `bridge` plugin with `host-local` IPAM: a bridge per node
    /// that is the pods' gateway. Stands in until `strait-cni` lands.
    #[default]
    ReferenceBridge,
    /// `strait-cni` standalone: routed veths, IPAM from the node's podCIDR
    /// given in the netconf.
    Strait,
}

/// What a plugin needs to know about the node it runs on.
#[derive(Clone, Debug)]
pub struct NodeNetwork {
    /// The node's pod CIDR.
    pub pod_cidr: Ipv4Net,
    /// A directory for the plugin's state on this node (IPAM leases).
    pub state_dir: PathBuf,
}

impl PodNetwork {
    /// The directory holding the plugin binaries (CNI_PATH).
    pub fn bin_dir(&self) -> PathBuf {
        match self {
            PodNetwork::ReferenceBridge => PathBuf::from(REFERENCE_PLUGIN_DIR),
            PodNetwork::Strait => crate::binaries::binary("strait-cni")
                .ok()
                .and_then(|p| p.parent().map(Path::to_owned))
                .unwrap_or_default(),
        }
    }

    /// The network configuration for one node, as the runtime would read it.
    pub fn netconf(&self, node: &NodeNetwork) -> serde_json::Value {
        match self {
            PodNetwork::ReferenceBridge => json!({
                "cniVersion": "1.0.0",
                "name": "strait-harness",
                "type": "bridge",
                "bridge": "cni0",
                "isGateway": true,
                "ipMasq": false,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{ "subnet": node.pod_cidr.to_string() }]],
                    "routes": [{ "dst": "0.0.0.0/0" }],
                    "dataDir": node.state_dir.join("ipam"),
                },
            }),
            PodNetwork::Strait => json!({
                "cniVersion": "1.1.0",
                "name": "strait",
                "type": "strait-cni",
                "podCIDR": node.pod_cidr.to_string(),
                "dataDir": node.state_dir.join("ipam"),
            }),
        }
    }
}

/// One pod attachment: what CNI_CONTAINERID, CNI_NETNS and CNI_IFNAME name.
#[derive(Clone, Debug)]
pub struct Attachment {
    /// The pod's name, for CNI_ARGS and error messages.
    pub pod: String,
    /// CNI_CONTAINERID.
    pub container_id: String,
    /// CNI_NETNS: the pod's namespace file.
    pub netns: PathBuf,
    /// CNI_IFNAME.
    pub ifname: String,
}

/// The fields of a CNI result the harness uses.
#[derive(Debug, Deserialize)]
struct CniResult {
    #[serde(default)]
    ips: Vec<CniIp>,
}

#[derive(Debug, Deserialize)]
struct CniIp {
    address: String,
}

/// The spec's error object, printed on stdout with a non-zero exit.
#[derive(Debug, Deserialize)]
struct CniError {
    code: u32,
    msg: String,
    #[serde(default)]
    details: String,
}

/// Runs `command` (ADD, DEL, CHECK) of the plugin named by `netconf`'s
/// `type`, inside the node namespace `node_netns`. Returns its stdout.
pub fn invoke(
    command: &'static str,
    network: &PodNetwork,
    netconf: &serde_json::Value,
    node_netns: &Path,
    attachment: &Attachment,
) -> Result<Vec<u8>, HarnessError> {
    let cni_error = |detail: String| HarnessError::Cni {
        command,
        pod: attachment.pod.clone(),
        detail,
    };
    let plugin = netconf
        .get("type")
        .and_then(|t| t.as_str())
        .ok_or_else(|| cni_error("netconf has no \"type\"".into()))?;
    let bin_dir = network.bin_dir();
    let mut cmd = netns::command_in(node_netns, bin_dir.join(plugin), None)?;
    cmd.env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("CNI_COMMAND", command)
        .env("CNI_CONTAINERID", &attachment.container_id)
        .env("CNI_NETNS", &attachment.netns)
        .env("CNI_IFNAME", &attachment.ifname)
        .env("CNI_PATH", &bin_dir)
        .env(
            "CNI_ARGS",
            format!(
                "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME={};K8S_POD_INFRA_CONTAINER_ID={}",
                attachment.pod, attachment.container_id
            ),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| HarnessError::Command {
        command: process::describe(&cmd),
        detail: e.to_string(),
    })?;
    // Write, close stdin, then always reap the plugin, even if the write failed.
    let written = child
        .stdin
        .take()
        .map(|mut stdin| stdin.write_all(netconf.to_string().as_bytes()));
    let out = child
        .wait_with_output()
        .map_err(|e| cni_error(format!("waiting for the plugin: {e}")))?;
    if let Some(Err(e)) = written {
        return Err(cni_error(format!("writing the netconf: {e}")));
    }
    if !out.status.success() {
        let detail = match serde_json::from_slice::<CniError>(&out.stdout) {
            Ok(err) => format!("code {}: {} {}", err.code, err.msg, err.details),
            Err(_) => format!(
                "{}: {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout).trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        };
        return Err(cni_error(detail));
    }
    Ok(out.stdout)
}

/// The first IPv4 address in an ADD result.
pub fn first_ipv4(result: &[u8]) -> Result<Ipv4Addr, String> {
    let result: CniResult =
        serde_json::from_slice(result).map_err(|e| format!("decoding the ADD result: {e}"))?;
    result
        .ips
        .iter()
        .filter_map(|ip| ip.address.parse::<Ipv4Net>().ok())
        .map(|net| net.addr())
        .next()
        .ok_or_else(|| "the ADD result has no IPv4 address".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_first_ipv4_of_a_result() {
        let result = br#"{"cniVersion":"1.0.0","ips":[
            {"address":"fd00::2/64"},{"address":"10.244.1.7/24","gateway":"10.244.1.1"}]}"#;
        assert_eq!(first_ipv4(result), Ok(Ipv4Addr::new(10, 244, 1, 7)));
    }

    #[test]
    fn a_result_without_ipv4_is_an_error() {
        assert!(first_ipv4(br#"{"ips":[]}"#).is_err());
        assert!(first_ipv4(b"not json").is_err());
    }

    #[test]
    fn the_bridge_netconf_uses_the_node_cidr_and_state_dir() {
        let node = NodeNetwork {
            pod_cidr: "10.244.3.0/24".parse().unwrap(),
            state_dir: PathBuf::from("/run/strait-tests/x/n3"),
        };
        let conf = PodNetwork::ReferenceBridge.netconf(&node);
        assert_eq!(conf["type"], "bridge");
        assert_eq!(conf["ipam"]["ranges"][0][0]["subnet"], "10.244.3.0/24");
        assert_eq!(conf["ipam"]["dataDir"], "/run/strait-tests/x/n3/ipam");
    }
}
