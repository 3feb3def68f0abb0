//! Reading this node's pod CIDR from its Node object through the API, for
//! configs that name a `kubeconfig` instead of a `podCIDR`.

use std::path::Path;

use ipnet::IpNet;
use k8s_openapi::api::core::v1::Node;

use crate::error::CniError;

/// The `spec.podCIDR` of Node `node_name`. An unreachable API is "try again
/// later" (11), a Node without a pod CIDR is "try again later" too (node
/// IPAM has not run yet); a bad kubeconfig is an invalid config (7).
pub async fn fetch(kubeconfig: &Path, node_name: &str) -> Result<IpNet, CniError> {
    let config = kube::config::Kubeconfig::read_from(kubeconfig).map_err(|e| {
        CniError::invalid_config(format!("reading {}", kubeconfig.display()), e.to_string())
    })?;
    let config =
        kube::Config::from_custom_kubeconfig(config, &kube::config::KubeConfigOptions::default())
            .await
            .map_err(|e| CniError::invalid_config("the kubeconfig is unusable", e.to_string()))?;
    let client = kube::Client::try_from(config)
        .map_err(|e| CniError::invalid_config("the kubeconfig is unusable", e.to_string()))?;
    let nodes: kube::Api<Node> = kube::Api::all(client);
    let node = nodes.get(node_name).await.map_err(|e| {
        CniError::try_again_later(format!("reading Node {node_name}"), e.to_string())
    })?;
    let cidr = node.spec.and_then(|s| s.pod_cidr).ok_or_else(|| {
        CniError::try_again_later(
            format!("Node {node_name} has no podCIDR yet"),
            "node IPAM assigns one when the Node registers",
        )
    })?;
    cidr.parse().map_err(|_| {
        CniError::invalid_config(format!("Node {node_name} has a malformed podCIDR"), cidr)
    })
}
