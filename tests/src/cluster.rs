//! A virtual cluster: underlay, nodes, pods and an external client, built
//! from network namespaces, and torn down in reverse order on drop.
//!
//! Addresses (private to the cluster's own namespaces, so parallel clusters
//! reuse them): underlay 172.30.0.0/24, node N at 172.30.0.(10+N), the
//! external client at 172.30.0.200, node N's pods in 10.244.N.0/24.

use std::{
    fs,
    net::Ipv4Addr,
    path::{Path, PathBuf},
    process::Output,
};

use ipnet::Ipv4Net;

use crate::{
    bpffs::BpfDir,
    cgroup::Cgroup,
    cni::{self, Attachment, NodeNetwork, PodNetwork},
    error::HarnessError,
    names::Prefix,
    netns::Netns,
    process::Process,
};

/// Where clusters keep per-test state (CNI IPAM leases, daemon data dirs).
pub const STATE_ROOT: &str = "/run/strait-tests";
/// The underlay prefix length.
pub const UNDERLAY_PREFIX_LEN: u8 = 24;
/// The external client's address on the underlay.
pub const EXTERNAL_IP: Ipv4Addr = Ipv4Addr::new(172, 30, 0, 200);
/// The most nodes a cluster can have (node IPs stay below the client's).
pub const MAX_NODES: usize = 100;

/// What to build.
#[derive(Clone, Debug)]
pub struct ClusterSpec {
    /// How many nodes (1 to [`MAX_NODES`]).
    pub nodes: usize,
    /// Whether to add an external client on the underlay.
    pub external: bool,
    /// The CNI plugin that wires pods.
    pub pod_network: PodNetwork,
}

impl ClusterSpec {
    /// `nodes` nodes, an external client, the default pod network.
    pub fn new(nodes: usize) -> ClusterSpec {
        ClusterSpec {
            nodes,
            external: true,
            pod_network: PodNetwork::default(),
        }
    }
}

/// Node `index`'s (1-based) address on the underlay.
pub fn node_ip(index: usize) -> Ipv4Addr {
    Ipv4Addr::new(172, 30, 0, 10 + index as u8)
}

/// Node `index`'s (1-based) pod CIDR.
pub fn pod_cidr(index: usize) -> Ipv4Net {
    Ipv4Net::new(Ipv4Addr::new(10, 244, index as u8, 0), 24).expect("24 is a valid prefix length")
}

/// A directory removed with its contents on drop.
#[derive(Debug)]
struct StateDir(PathBuf);

impl Drop for StateDir {
    fn drop(&mut self) {
        if let Err(e) = fs::remove_dir_all(&self.0) {
            eprintln!("harness: cleanup: removing {}: {e}", self.0.display());
        }
    }
}

/// A running virtual cluster. Fields drop in declaration order, so pods go
/// before nodes, nodes before the underlay, and the state directory last.
#[derive(Debug)]
pub struct Cluster {
    pods: Vec<Pod>,
    external: Option<External>,
    nodes: Vec<Node>,
    underlay: Netns,
    pod_network: PodNetwork,
    prefix: Prefix,
    state: StateDir,
}

impl Cluster {
    /// Builds the underlay, the nodes and the external client. On error,
    /// whatever was already built is torn down before returning.
    pub fn start(spec: ClusterSpec) -> Result<Cluster, HarnessError> {
        if spec.nodes == 0 || spec.nodes > MAX_NODES {
            return Err(HarnessError::Spec(format!(
                "{} nodes: a cluster has 1 to {MAX_NODES}",
                spec.nodes
            )));
        }
        let prefix = Prefix::unique();
        let state_path = Path::new(STATE_ROOT).join(prefix.as_str());
        fs::create_dir_all(&state_path)
            .map_err(|e| HarnessError::io("creating", &state_path, e))?;
        let state = StateDir(state_path);

        let underlay = Netns::create(&prefix.name("ul"))?;
        underlay.ip(&["link", "add", "br0", "type", "bridge"])?;
        underlay.ip(&["link", "set", "br0", "up"])?;

        let mut nodes = Vec::with_capacity(spec.nodes);
        for index in 1..=spec.nodes {
            nodes.push(Node::start(&prefix, index, &underlay, &state.0)?);
        }
        let external = if spec.external {
            Some(External::start(&prefix, &underlay)?)
        } else {
            None
        };
        Ok(Cluster {
            pods: Vec::new(),
            external,
            nodes,
            underlay,
            pod_network: spec.pod_network,
            prefix,
            state,
        })
    }

    /// The unique prefix of every resource of this cluster.
    pub fn prefix(&self) -> &Prefix {
        &self.prefix
    }

    /// This cluster's state directory under [`STATE_ROOT`].
    pub fn state_dir(&self) -> &Path {
        &self.state.0
    }

    /// The underlay namespace (holding bridge `br0`).
    pub fn underlay(&self) -> &Netns {
        &self.underlay
    }

    /// The nodes, in order (`nodes()[0]` is node 1).
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The node with 1-based `index`.
    pub fn node(&self, index: usize) -> Result<&Node, HarnessError> {
        index
            .checked_sub(1)
            .and_then(|i| self.nodes.get(i))
            .ok_or_else(|| HarnessError::Spec(format!("no node {index}")))
    }

    /// The external client, if the spec asked for one.
    pub fn external(&self) -> Result<&External, HarnessError> {
        self.external
            .as_ref()
            .ok_or_else(|| HarnessError::Spec("this cluster has no external client".into()))
    }

    /// The pods, in creation order.
    pub fn pods(&self) -> &[Pod] {
        &self.pods
    }

    /// The pod named `name`.
    pub fn pod(&self, name: &str) -> Result<&Pod, HarnessError> {
        self.pods
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| HarnessError::Spec(format!("no pod {name}")))
    }

    /// Creates pod `name` on node `node` (1-based): a netns wired by the CNI
    /// plugin's ADD, run inside the node's netns as a runtime would.
    pub fn add_pod(&mut self, node: usize, name: &str) -> Result<&Pod, HarnessError> {
        let valid_label = !name.is_empty()
            && name.len() <= 40
            && name
                .bytes()
                .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-'))
            && !name.starts_with('-')
            && !name.ends_with('-');
        if !valid_label {
            return Err(HarnessError::Spec(format!(
                "pod name {name:?}: use at most 40 of a-z, 0-9 and inner '-'"
            )));
        }
        if self.pods.iter().any(|p| p.name == name) {
            return Err(HarnessError::Spec(format!("pod {name} exists already")));
        }
        let node_ref = self.node(node)?;
        let netns = Netns::create(&self.prefix.name(&format!("p-{name}")))?;
        let netconf = self.pod_network.netconf(&node_ref.network);
        let attachment = Attachment {
            pod: name.to_owned(),
            container_id: self.prefix.name(name),
            netns: netns.path().to_owned(),
            ifname: "eth0".to_owned(),
        };
        let result = cni::invoke(
            "ADD",
            &self.pod_network,
            &netconf,
            node_ref.netns.path(),
            &attachment,
        )?;
        // From here on the Pod guard owns the attachment: a failure below
        // still runs DEL when it drops.
        let mut pod = Pod {
            name: name.to_owned(),
            node,
            ip: Ipv4Addr::UNSPECIFIED,
            attachment,
            netconf,
            // Kept as-is (even if undecodable) to hand back as prevResult.
            add_result: serde_json::from_slice(&result).unwrap_or(serde_json::Value::Null),
            pod_network: self.pod_network.clone(),
            node_netns: node_ref.netns.path().to_owned(),
            node_cgroup: node_ref.cgroup.path().to_owned(),
            netns,
        };
        pod.ip = cni::first_ipv4(&result).map_err(|detail| HarnessError::Cni {
            command: "ADD",
            pod: name.to_owned(),
            detail,
        })?;
        self.pods.push(pod);
        let index = self.pods.len() - 1;
        Ok(&self.pods[index])
    }

    /// Deletes pod `name` (CNI DEL, then its namespace).
    pub fn remove_pod(&mut self, name: &str) -> Result<(), HarnessError> {
        let index = self
            .pods
            .iter()
            .position(|p| p.name == name)
            .ok_or_else(|| HarnessError::Spec(format!("no pod {name}")))?;
        let pod = self.pods.remove(index);
        pod.delete()
    }

    /// Routes every node's pod CIDR via that node's IP on every other node
    /// and on the external client ("host-gw" style), so pods reach each other
    /// across nodes without an overlay.
    pub fn route_pod_cidrs(&self) -> Result<(), HarnessError> {
        for node in &self.nodes {
            let (cidr, via) = (node.network.pod_cidr.to_string(), node.ip.to_string());
            let others = self.nodes.iter().filter(|o| o.index != node.index);
            let routers = others
                .map(|o| &o.netns)
                .chain(self.external.as_ref().map(|e| &e.netns));
            for netns in routers {
                netns.ip(&["route", "replace", &cidr, "via", &via])?;
            }
        }
        Ok(())
    }
}

/// A node: a netns on the underlay with its own cgroup and bpffs directory.
/// Fields drop in order: processes (via the cgroup) first, the netns last.
#[derive(Debug)]
pub struct Node {
    cgroup: Cgroup,
    bpffs: BpfDir,
    netns: Netns,
    index: usize,
    name: String,
    ip: Ipv4Addr,
    network: NodeNetwork,
}

impl Node {
    fn start(
        prefix: &Prefix,
        index: usize,
        underlay: &Netns,
        state_root: &Path,
    ) -> Result<Node, HarnessError> {
        let short = format!("n{index}");
        let cgroup = Cgroup::create(&prefix.name(&short))?;
        let bpffs = BpfDir::create(&prefix.name(&short))?;
        let netns = Netns::create(&prefix.name(&short))?;
        let ip = node_ip(index);
        attach_to_underlay(underlay, &short, &netns, ip)?;
        // Nodes route for their pods.
        netns.sysctl("net/ipv4/ip_forward", "1")?;
        let state_dir = state_root.join(&short);
        fs::create_dir_all(&state_dir).map_err(|e| HarnessError::io("creating", &state_dir, e))?;
        Ok(Node {
            cgroup,
            bpffs,
            netns,
            index,
            name: format!("node-{index}"),
            ip,
            network: NodeNetwork {
                pod_cidr: pod_cidr(index),
                state_dir,
            },
        })
    }

    /// Its 1-based index.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Its Kubernetes node name, `node-<index>`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its address on the underlay (on `eth0`).
    pub fn ip(&self) -> Ipv4Addr {
        self.ip
    }

    /// Its pod CIDR.
    pub fn pod_cidr(&self) -> Ipv4Net {
        self.network.pod_cidr
    }

    /// A directory for its daemons' state, removed with the cluster.
    pub fn state_dir(&self) -> &Path {
        &self.network.state_dir
    }

    /// Its network namespace.
    pub fn netns(&self) -> &Netns {
        &self.netns
    }

    /// Its cgroup v2 directory (where BPF cgroup hooks attach).
    pub fn cgroup(&self) -> &Cgroup {
        &self.cgroup
    }

    /// Its bpffs directory (where its daemons pin maps).
    pub fn bpffs(&self) -> &Path {
        self.bpffs.path()
    }

    /// Runs a command in the node's netns to completion.
    pub fn exec(&self, args: &[&str]) -> Result<Output, HarnessError> {
        self.netns.exec(args)
    }

    /// Starts a daemon (a strait subcommand, a peer) in the node's netns
    /// and cgroup. It is killed when the returned guard or the node drops.
    pub fn spawn(&self, args: &[&str]) -> Result<Process, HarnessError> {
        self.netns.spawn(args, Some(self.cgroup.path()))
    }

    /// Starts `strait <args>` (e.g. `agent --kubeconfig ...`) on this node,
    /// in its netns and cgroup, with `NODE_NAME` set to the node's name.
    pub fn spawn_strait(&self, args: &[&str]) -> Result<Process, HarnessError> {
        let mut cmd = self
            .netns
            .command(crate::binaries::binary("strait")?, Some(self.cgroup.path()))?;
        cmd.args(args).env("NODE_NAME", &self.name);
        Process::spawn(cmd)
    }

    /// Starts `strait agent` for this node against the API server of
    /// `kubeconfig`, confined to the node: its name and IP, its bpffs
    /// directory for pins, its cgroup for the socket hooks, metrics on its
    /// own address. `extra` flags follow.
    pub fn spawn_agent(&self, kubeconfig: &Path, extra: &[&str]) -> Result<Process, HarnessError> {
        let path = |p: &Path| {
            p.to_str()
                .map(str::to_owned)
                .ok_or_else(|| HarnessError::Spec(format!("{} is not UTF-8", p.display())))
        };
        let ip = self.ip.to_string();
        let metrics = format!("{}:9962", self.ip);
        let (kubeconfig, bpffs, cgroup) = (
            path(kubeconfig)?,
            path(self.bpffs.path())?,
            path(self.cgroup.path())?,
        );
        let mut args = vec![
            "agent",
            "--kubeconfig",
            &kubeconfig,
            "--node-name",
            &self.name,
            "--node-ip",
            &ip,
            "--bpffs",
            &bpffs,
            "--cgroup",
            &cgroup,
            "--metrics",
            &metrics,
        ];
        args.extend_from_slice(extra);
        self.spawn_strait(&args)
    }
}

/// A pod: a netns wired by the CNI plugin, whose processes run in its node's
/// cgroup. Dropping it runs CNI DEL and deletes the netns.
#[derive(Debug)]
pub struct Pod {
    name: String,
    node: usize,
    ip: Ipv4Addr,
    attachment: Attachment,
    netconf: serde_json::Value,
    add_result: serde_json::Value,
    pod_network: PodNetwork,
    node_netns: PathBuf,
    node_cgroup: PathBuf,
    netns: Netns,
}

impl Pod {
    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 1-based index of its node.
    pub fn node(&self) -> usize {
        self.node
    }

    /// Its IP, from the plugin's ADD result.
    pub fn ip(&self) -> Ipv4Addr {
        self.ip
    }

    /// Its network namespace.
    pub fn netns(&self) -> &Netns {
        &self.netns
    }

    /// CNI_CONTAINERID of its attachment.
    pub fn container_id(&self) -> &str {
        &self.attachment.container_id
    }

    /// Runs a command in the pod's netns to completion.
    pub fn exec(&self, args: &[&str]) -> Result<Output, HarnessError> {
        self.netns.exec(args)
    }

    /// Starts a process in the pod's netns and its node's cgroup.
    pub fn spawn(&self, args: &[&str]) -> Result<Process, HarnessError> {
        self.netns.spawn(args, Some(&self.node_cgroup))
    }

    /// Runs the plugin's CHECK for this attachment.
    pub fn check(&self) -> Result<(), HarnessError> {
        self.cni("CHECK").map(drop)
    }

    /// Runs CHECK or DEL the way libcni does: with the cached ADD result as
    /// `prevResult` in the netconf.
    fn cni(&self, command: &'static str) -> Result<Vec<u8>, HarnessError> {
        let mut netconf = self.netconf.clone();
        if let (Some(conf), false) = (netconf.as_object_mut(), self.add_result.is_null()) {
            conf.insert("prevResult".into(), self.add_result.clone());
        }
        cni::invoke(
            command,
            &self.pod_network,
            &netconf,
            &self.node_netns,
            &self.attachment,
        )
    }

    /// DEL, reporting the error that a drop could only print.
    fn delete(mut self) -> Result<(), HarnessError> {
        let result = self.cni("DEL");
        // Mark done so Drop does not run DEL a second time.
        self.attachment.container_id.clear();
        result.map(drop)
    }
}

impl Drop for Pod {
    fn drop(&mut self) {
        if !self.attachment.container_id.is_empty()
            && let Err(e) = self.cni("DEL")
        {
            eprintln!("harness: cleanup: {e}");
        }
    }
}

/// A client outside the cluster, on the underlay.
#[derive(Debug)]
pub struct External {
    netns: Netns,
}

impl External {
    fn start(prefix: &Prefix, underlay: &Netns) -> Result<External, HarnessError> {
        let netns = Netns::create(&prefix.name("ext"))?;
        attach_to_underlay(underlay, "ext", &netns, EXTERNAL_IP)?;
        Ok(External { netns })
    }

    /// Its address on the underlay.
    pub fn ip(&self) -> Ipv4Addr {
        EXTERNAL_IP
    }

    /// Its network namespace.
    pub fn netns(&self) -> &Netns {
        &self.netns
    }

    /// Runs a command in the client's netns to completion.
    pub fn exec(&self, args: &[&str]) -> Result<Output, HarnessError> {
        self.netns.exec(args)
    }
}

/// Plugs `netns` into the underlay bridge: a veth created inside the underlay
/// namespace whose peer is born directly in `netns` as `eth0` with `ip`, so
/// no link ever appears in the host's namespace.
fn attach_to_underlay(
    underlay: &Netns,
    port: &str,
    netns: &Netns,
    ip: Ipv4Addr,
) -> Result<(), HarnessError> {
    underlay.ip(&[
        "link",
        "add",
        port,
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        netns.name(),
    ])?;
    underlay.ip(&["link", "set", port, "master", "br0", "up"])?;
    netns.ip(&[
        "addr",
        "add",
        &format!("{ip}/{UNDERLAY_PREFIX_LEN}"),
        "dev",
        "eth0",
    ])?;
    netns.ip(&["link", "set", "eth0", "up"])?;
    Ok(())
}
