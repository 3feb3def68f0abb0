//! Running `strait control` inside a virtual node for end-to-end tests, and
//! finding the kubectl binaries the machine ships. Every suite that needs an
//! API server (control, agent, DNS, ingress) starts it the same way.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use serde_json::json;

use crate::{
    cluster::{Cluster, Node},
    error::HarnessError,
    process::Process,
    wait::wait_until,
};

/// Where the machine's kubectl binaries live (`kubectl.1.27` to `kubectl.1.33`).
pub const KUBECTL_DIR: &str = "/usr/lib/google-cloud-sdk/bin";

/// The API server's port on the node's IP.
pub const API_PORT: u16 = 6443;

/// The path of kubectl `version` (e.g. "1.33"), if the machine has it.
pub fn kubectl(version: &str) -> Result<PathBuf, HarnessError> {
    let path = Path::new(KUBECTL_DIR).join(format!("kubectl.{version}"));
    if path.is_file() {
        Ok(path)
    } else {
        Err(HarnessError::Spec(format!(
            "{} is missing: the machine should ship kubectl {version}",
            path.display()
        )))
    }
}

/// Runs kubectl `version` with `kubeconfig` inside `node`'s netns: its
/// stdout when it succeeds, else a message with its stdout and stderr.
pub fn run_kubectl(
    node: &Node,
    version: &str,
    kubeconfig: &Path,
    args: &[&str],
) -> Result<String, String> {
    let binary = kubectl(version).map_err(|e| e.to_string())?;
    let mut command = node
        .netns()
        .command(&binary, None)
        .map_err(|e| e.to_string())?;
    let out = command
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .map_err(|e| format!("kubectl {args:?} did not run: {e}"))?;
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    if out.status.success() {
        Ok(text(&out.stdout))
    } else {
        Err(format!(
            "kubectl {version} {args:?}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        ))
    }
}

/// Starts `strait control --data-dir DATA_DIR --listen <node ip>:6443
/// <extra>` on `node` and waits (up to 20 s) until it answers /readyz with
/// the admin kubeconfig it writes.
pub fn start(node: &Node, data_dir: &Path, extra: &[&str]) -> Result<Process, HarnessError> {
    start_on_port(node, data_dir, API_PORT, extra)
}

/// Like [`start`], listening on `port` (a second replica on one node).
pub fn start_on_port(
    node: &Node,
    data_dir: &Path,
    port: u16,
    extra: &[&str],
) -> Result<Process, HarnessError> {
    let listen = format!("{}:{port}", node.ip());
    let server = format!("https://{listen}");
    let data = data_dir
        .to_str()
        .ok_or_else(|| HarnessError::Spec("the data dir is not UTF-8".into()))?;
    let mut args = vec!["control", "--data-dir", data, "--listen", &listen];
    args.extend_from_slice(extra);
    let process = node.spawn_strait(&args)?;
    let kubectl = kubectl("1.33")?;
    let kubeconfig = data_dir.join("admin.kubeconfig");
    wait_until(
        "the API server to answer /readyz",
        Duration::from_secs(20),
        || {
            let mut cmd = node.netns().command(&kubectl, None).ok()?;
            cmd.arg("--kubeconfig")
                .arg(&kubeconfig)
                .args(["--server", &server, "get", "--raw", "/readyz"]);
            cmd.output().ok()?.status.success().then_some(())
        },
    )?;
    Ok(process)
}

/// Creates the Node object of `node` through `strait control` on
/// `control_node` (kubectl with `kubeconfig`, run in that node's netns):
/// its name, the pod CIDR the harness gave it (the API server honours a
/// requested podCIDR), then its InternalIP and Hostname in the status.
pub fn register_node(
    kubectl: &Path,
    kubeconfig: &Path,
    control_node: &Node,
    node: &Node,
) -> Result<(), HarnessError> {
    let cidr = node.pod_cidr().to_string();
    let manifest = json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": node.name()},
        "spec": {"podCIDR": cidr, "podCIDRs": [cidr]},
    });
    let file = control_node
        .state_dir()
        .join(format!("{}.json", node.name()));
    std::fs::write(&file, manifest.to_string())
        .map_err(|e| HarnessError::io("writing", &file, e))?;
    let status = json!({"status": {"addresses": [
        {"type": "InternalIP", "address": node.ip().to_string()},
        {"type": "Hostname", "address": node.name()},
    ]}});
    let kubectl_run = |args: &[&std::ffi::OsStr]| -> Result<(), HarnessError> {
        let mut cmd = control_node.netns().command(kubectl, None)?;
        cmd.arg("--kubeconfig").arg(kubeconfig).args(args);
        crate::process::output(&mut cmd).map(drop)
    };
    kubectl_run(&["create".as_ref(), "-f".as_ref(), file.as_os_str()])?;
    let status = status.to_string();
    kubectl_run(&[
        "patch".as_ref(),
        "node".as_ref(),
        node.name().as_ref(),
        "--subresource=status".as_ref(),
        "--type=merge".as_ref(),
        "-p".as_ref(),
        status.as_ref(),
    ])
}

/// `strait control` on node 1 of `cluster` with every node registered:
/// the running server and its admin kubeconfig.
pub fn start_for_cluster(cluster: &Cluster) -> Result<(Process, PathBuf), HarnessError> {
    let kubectl = kubectl("1.33")?;
    let control_node = cluster.node(1)?;
    let data_dir = control_node.state_dir().join("control");
    let kubeconfig = data_dir.join("admin.kubeconfig");
    let process = start(control_node, &data_dir, &[])?;
    for node in cluster.nodes() {
        register_node(&kubectl, &kubeconfig, control_node, node)?;
    }
    Ok((process, kubeconfig))
}
