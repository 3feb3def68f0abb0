//! The command line: every subcommand and flag, parsed into typed values
//! ("parse, don't validate"). Nothing here starts anything.

use std::{fmt, net::SocketAddr, path::PathBuf, str::FromStr};

use clap::{Args, Parser, Subcommand, ValueEnum};
use ipnet::IpNet;

/// strait: a node-level data plane for Kubernetes-style clusters.
#[derive(Debug, Parser)]
#[command(name = "strait", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the API server, its embedded store and the controllers.
    Control(ControlArgs),
    /// Run the per-node agent: eBPF service load balancing and the overlay.
    Agent(AgentArgs),
    /// Run cluster DNS.
    Dns(DnsArgs),
    /// Run the HTTP(S) ingress.
    Ingress(IngressArgs),
    /// Run the node runtime: pods as network namespaces and processes.
    Node(NodeArgs),
    /// Start a whole cluster on this machine.
    Up(UpArgs),
    /// Stop the cluster `up` started and remove everything it created.
    Down(DownArgs),
    /// Print what a node's pinned BPF maps hold.
    #[command(subcommand)]
    Inspect(InspectCommand),
}

#[derive(Debug, Subcommand)]
pub enum InspectCommand {
    /// Service load balancing: frontends, their backend slots, backends and
    /// reverse NAT (like `cilium bpf lb list`).
    Lb {
        /// bpffs directory where the agent pins its maps.
        #[arg(long, default_value = "/sys/fs/bpf/strait")]
        bpffs: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct ControlArgs {
    /// Directory for the store, the CA, certificates and admin.kubeconfig.
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Address to serve the HTTPS API on.
    #[arg(long, default_value = "127.0.0.1:6443")]
    pub listen: SocketAddr,
    /// CIDR that Service ClusterIPs are allocated from.
    #[arg(long, default_value = "10.96.0.0/12")]
    pub service_cidr: IpNet,
    /// CIDR that node pod CIDRs are carved from.
    #[arg(long, default_value = "10.244.0.0/16")]
    pub cluster_cidr: IpNet,
    /// Prefix length of each node's pod CIDR.
    #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u8).range(8..=30))]
    pub node_cidr_size: u8,
    /// Port range NodePorts are allocated from, FIRST-LAST.
    #[arg(long, default_value = "30000-32767")]
    pub node_port_range: PortRange,
    /// Revisions of watch history kept; watchers further behind get 410 Gone.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(i64).range(1..))]
    pub watch_history: i64,
    /// Write DATA_DIR/nodes/NAME.kubeconfig holding node NAME's credential
    /// (user system:node:NAME, group system:nodes) and exit. The server
    /// reads credentials at start: mint before starting it.
    #[arg(long, value_name = "NAME")]
    pub node_kubeconfig: Option<String>,
    /// Seconds between compactions of the store's history.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub compaction_interval: u64,
}

#[derive(Debug, Args)]
pub struct AgentArgs {
    /// Kubeconfig to reach the API server with.
    #[arg(long)]
    pub kubeconfig: PathBuf,
    /// This node's name (defaults to the host name).
    #[arg(long, env = "NODE_NAME")]
    pub node_name: Option<String>,
    /// cgroup v2 directory whose sockets get socket-level load balancing.
    #[arg(long, default_value = "/sys/fs/cgroup/unified")]
    pub cgroup: PathBuf,
    /// bpffs directory where maps and programs are pinned.
    #[arg(long, default_value = "/sys/fs/bpf/strait")]
    pub bpffs: PathBuf,
    /// Address for /metrics, /healthz and /readyz.
    #[arg(long, default_value = "0.0.0.0:9962")]
    pub metrics: SocketAddr,
    /// This node's underlay address (defaults to its Node's InternalIP).
    #[arg(long)]
    pub node_ip: Option<std::net::Ipv4Addr>,
    /// The cluster's pod CIDR: pod traffic leaving it is masqueraded.
    #[arg(long, default_value = "10.244.0.0/16")]
    pub cluster_cidr: ipnet::Ipv4Net,
    /// Do not install the masquerade rule.
    #[arg(long)]
    pub no_masquerade: bool,
    /// VXLAN network identifier of the overlay.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..16_777_216))]
    pub vxlan_vni: u32,
    /// UDP port of the overlay.
    #[arg(long, default_value_t = 8472)]
    pub vxlan_port: u16,
    /// Underlay MTU (defaults to the MTU of the link holding the node IP).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1280..=65535))]
    pub underlay_mtu: Option<u32>,
    /// Forward pod traffic through the node's IP stack only, without the
    /// eBPF host routing that redirects it between pod veths and the
    /// overlay device.
    #[arg(long)]
    pub no_host_routing: bool,
    /// Do not load balance Services (no socket hooks, no maps).
    #[arg(long)]
    pub no_service_lb: bool,
}

/// How pod A records (`a-b-c-d.<ns>.pod.<zone>`) are answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PodRecords {
    /// Answer any well-formed name.
    Insecure,
    /// Answer only names of pods that exist in that namespace.
    Verified,
    /// Do not answer pod records.
    Disabled,
}

#[derive(Debug, Args)]
pub struct DnsArgs {
    /// Kubeconfig to reach the API server with.
    #[arg(long)]
    pub kubeconfig: PathBuf,
    /// Address to serve DNS on, UDP and TCP.
    #[arg(long, default_value = "0.0.0.0:53")]
    pub listen: SocketAddr,
    /// The cluster domain.
    #[arg(long, default_value = "cluster.local")]
    pub zone: String,
    /// Upstream resolver for names outside the zone (repeatable).
    #[arg(long)]
    pub upstream: Vec<SocketAddr>,
    /// TTL of cluster records, in seconds.
    #[arg(long, default_value_t = 30)]
    pub ttl: u32,
    /// Pod record mode.
    #[arg(long, value_enum, default_value_t = PodRecords::Insecure)]
    pub pods: PodRecords,
    /// Address for /metrics, /health and /ready.
    #[arg(long, default_value = "0.0.0.0:9153")]
    pub metrics: SocketAddr,
}

#[derive(Debug, Args)]
pub struct IngressArgs {
    /// Kubeconfig to reach the API server with.
    #[arg(long)]
    pub kubeconfig: PathBuf,
    /// Address for plain HTTP.
    #[arg(long, default_value = "0.0.0.0:80")]
    pub http: SocketAddr,
    /// Address for HTTPS.
    #[arg(long, default_value = "0.0.0.0:443")]
    pub https: SocketAddr,
    /// The IngressClass this controller serves.
    #[arg(long, default_value = "strait")]
    pub class: String,
    /// Address for /metrics and /healthz.
    #[arg(long, default_value = "0.0.0.0:10254")]
    pub metrics: SocketAddr,
}

#[derive(Debug, Args)]
pub struct NodeArgs {
    /// Kubeconfig to reach the API server with.
    #[arg(long)]
    pub kubeconfig: PathBuf,
    /// This node's name (defaults to the host name).
    #[arg(long, env = "NODE_NAME")]
    pub node_name: Option<String>,
    /// Directory of CNI network configurations.
    #[arg(long, default_value = "/etc/cni/net.d")]
    pub cni_conf_dir: PathBuf,
    /// Directory of CNI plugin binaries (CNI_PATH).
    #[arg(long, default_value = "/opt/cni/bin")]
    pub cni_bin_dir: PathBuf,
    /// cgroup v2 directory under which pod cgroups are made.
    #[arg(long, default_value = "/sys/fs/cgroup/unified/strait")]
    pub cgroup: PathBuf,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// How many simulated nodes to start.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=100))]
    pub nodes: u8,
    /// Where the cluster keeps its state and kubeconfig.
    #[arg(long, default_value = "/var/lib/strait")]
    pub data_dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    /// The data dir `up` used.
    #[arg(long, default_value = "/var/lib/strait")]
    pub data_dir: PathBuf,
}

/// An inclusive port range, written FIRST-LAST.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortRange {
    pub first: u16,
    pub last: u16,
}

/// Why a port range did not parse.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PortRangeError {
    #[error("expected FIRST-LAST, e.g. 30000-32767")]
    Shape,
    #[error("{0:?} is not a port number (1-65535)")]
    Port(String),
    #[error("the range is empty: {first} is above {last}")]
    Empty { first: u16, last: u16 },
}

impl FromStr for PortRange {
    type Err = PortRangeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (first, last) = s.split_once('-').ok_or(PortRangeError::Shape)?;
        let port = |p: &str| match p.trim().parse::<u16>() {
            Ok(0) | Err(_) => Err(PortRangeError::Port(p.to_owned())),
            Ok(n) => Ok(n),
        };
        let (first, last) = (port(first)?, port(last)?);
        if first > last {
            return Err(PortRangeError::Empty { first, last });
        }
        Ok(PortRange { first, last })
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn port_ranges_parse_or_say_why_not() {
        let ok = |s: &str| s.parse::<PortRange>();
        assert_eq!(
            ok("30000-32767"),
            Ok(PortRange {
                first: 30000,
                last: 32767
            })
        );
        assert_eq!(
            ok("80-80"),
            Ok(PortRange {
                first: 80,
                last: 80
            })
        );
        assert_eq!(ok("30000"), Err(PortRangeError::Shape));
        assert_eq!(ok("0-10"), Err(PortRangeError::Port("0".into())));
        assert_eq!(ok("1-70000"), Err(PortRangeError::Port("70000".into())));
        assert_eq!(ok("9-8"), Err(PortRangeError::Empty { first: 9, last: 8 }));
        assert_eq!(PortRange { first: 1, last: 2 }.to_string(), "1-2");
    }

    #[test]
    fn control_defaults_match_kubernetes() {
        let cli = Cli::try_parse_from(["strait", "control", "--data-dir", "d"]).expect("parses");
        let Command::Control(c) = cli.command else {
            panic!("not control")
        };
        assert_eq!(c.service_cidr.to_string(), "10.96.0.0/12");
        assert_eq!(c.cluster_cidr.to_string(), "10.244.0.0/16");
        assert_eq!(
            c.node_port_range,
            PortRange {
                first: 30000,
                last: 32767
            }
        );
    }

    #[test]
    fn bad_flags_are_refused() {
        for argv in [
            &["strait", "control"][..],
            &[
                "strait",
                "control",
                "--data-dir",
                "d",
                "--service-cidr",
                "10.96.0.0/33",
            ],
            &[
                "strait",
                "control",
                "--data-dir",
                "d",
                "--node-port-range",
                "5-1",
            ],
            &[
                "strait",
                "control",
                "--data-dir",
                "d",
                "--node-cidr-size",
                "31",
            ],
            &["strait", "dns", "--kubeconfig", "k", "--pods", "sometimes"],
            &["strait", "up", "--nodes", "0"],
        ] {
            assert!(Cli::try_parse_from(argv).is_err(), "{argv:?}");
        }
    }
}
