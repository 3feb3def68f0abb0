//! Cross-node TCP throughput with iperf3: pod to pod over strait's VXLAN
//! overlay against node to node over the same underlay, in one virtual
//! cluster of two nodes running `strait control` (on node 1) and
//! `strait agent` (on both), pods wired by strait-cni. The two paths
//! alternate run by run so that load drift hits both.

use std::{process::Stdio, time::Duration};

use anyhow::{Context as _, Result, anyhow};
use strait_tests::{
    Cluster, ClusterSpec, Netns, Node, PodNetwork, Process, control,
    stats::{median, ratio},
    wait_until,
};

use crate::check_interrupted;

/// The throughput benchmark's flags.
#[derive(clap::Args, Clone, Debug)]
#[group(id = "throughput")]
pub struct Args {
    /// iperf3 runs per path.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..=50))]
    pub runs: u16,
    /// Seconds per iperf3 run.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..=60))]
    pub seconds: u16,
    /// Spread each node's underlay receive over every CPU (RPS on eth0),
    /// as a NIC's interrupt would, instead of running it in the sender's
    /// softirq as a veth does; applies to both paths.
    #[arg(long)]
    pub rps: bool,
}

/// One iperf3 run's outcome.
#[derive(Clone, Copy, Debug, Default)]
struct Run {
    gbits: f64,
    retransmits: u64,
}

pub fn run(args: &Args) -> Result<()> {
    let mut cluster = Cluster::start(ClusterSpec {
        nodes: 2,
        external: false,
        pod_network: PodNetwork::Strait,
    })?;
    eprintln!("throughput: starting strait control and two agents");
    let (_control, kubeconfig) = control::start_for_cluster(&cluster)?;
    let mut agents = Vec::new();
    for node in cluster.nodes() {
        agents.push(node.spawn_agent(&kubeconfig, &[])?);
    }
    cluster.add_pod(1, "client")?;
    cluster.add_pod(2, "server")?;
    for node in cluster.nodes() {
        wait_until(
            "the overlay route to the other node",
            Duration::from_secs(10),
            || (routes_on_vxlan(node).lines().count() == 1).then_some(()),
        )?;
    }
    let (client, server) = (cluster.pod("client")?, cluster.pod("server")?);
    wait_until("the server pod to answer", Duration::from_secs(5), || {
        client.netns().ping(server.ip()).ok()
    })?;
    let (node1, node2) = (cluster.node(1)?, cluster.node(2)?);
    if args.rps {
        for node in [node1, node2] {
            spread_receive(node.netns())?;
        }
    }
    let pod_mtu = mtu(client.netns(), "eth0")?;
    let underlay_mtu = mtu(node1.netns(), "eth0")?;

    let _pod_server = iperf3_server(server.netns(), &server.ip().to_string())?;
    let _node_server = iperf3_server(node2.netns(), &node2.ip().to_string())?;
    let seconds = args.seconds.to_string();
    let (mut overlay, mut underlay) = (Vec::new(), Vec::new());
    for index in 0..args.runs {
        let paths: [(&str, &Netns, String); 2] = [
            ("underlay", node1.netns(), node2.ip().to_string()),
            ("overlay", client.netns(), server.ip().to_string()),
        ];
        let order = if index % 2 == 0 { [0, 1] } else { [1, 0] };
        for slot in order {
            check_interrupted()?;
            let Some((name, netns, target)) = paths.get(slot) else {
                continue;
            };
            let result = iperf3(netns, target, &seconds)
                .with_context(|| format!("iperf3 over the {name}, run {}", index + 1))?;
            eprintln!(
                "throughput: run {} {name}: {:.2} Gbit/s, {} retransmits",
                index + 1,
                result.gbits,
                result.retransmits
            );
            if slot == 0 {
                underlay.push(result);
            } else {
                overlay.push(result);
            }
        }
    }
    print_table(args, &underlay, &overlay, pod_mtu, underlay_mtu, node1);
    drop(agents);
    Ok(())
}

/// An iperf3 server on `ip` in `netns`, quiet (its reports would clutter
/// the benchmark's own output), killed when the guard drops.
fn iperf3_server(netns: &Netns, ip: &str) -> Result<Process> {
    let mut cmd = netns.command("iperf3", None)?;
    cmd.args(["-s", "-B", ip])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    Ok(Process::spawn(cmd)?)
}

/// Sets RPS on `netns`'s eth0 to every CPU. A netns's devices show in a
/// sysfs mounted from inside it, which `ip netns exec` does (for setup
/// only; nothing timed runs that way).
fn spread_receive(netns: &Netns) -> Result<()> {
    let cpus = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(32);
    let mask = format!("{:x}", (1u64 << cpus) - 1);
    let status = std::process::Command::new("ip")
        .args(["netns", "exec", netns.name(), "sh", "-c"])
        .arg(format!(
            "echo {mask} > /sys/class/net/eth0/queues/rx-0/rps_cpus"
        ))
        .status()?;
    if !status.success() {
        anyhow::bail!("setting RPS on eth0 in {}: {status}", netns.name());
    }
    Ok(())
}

/// One iperf3 client run from `netns` to `target`, retried for a few
/// seconds while the server is not listening yet.
fn iperf3(netns: &Netns, target: &str, seconds: &str) -> Result<Run> {
    let args = ["iperf3", "-c", target, "-t", seconds, "-J"];
    // iperf3 3.12 can exit 0 with only an "error" in its JSON (a refused
    // connect while the server is still starting): retry then.
    let report = wait_until("iperf3 to connect", Duration::from_secs(5), || {
        let out = netns.exec(&args).ok()?;
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        (out.status.success() && report.get("error").is_none()).then_some(report)
    })?;
    let end = &report["end"];
    Ok(Run {
        gbits: end["sum_received"]["bits_per_second"]
            .as_f64()
            .ok_or_else(|| anyhow!("iperf3 reported no received rate: {end}"))?
            / 1e9,
        retransmits: end["sum_sent"]["retransmits"].as_u64().unwrap_or(0),
    })
}

/// The routes through the overlay device (empty until the agent made it).
fn routes_on_vxlan(node: &Node) -> String {
    node.netns()
        .ip(&["-4", "route", "show", "dev", "strait-vxlan"])
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
        .unwrap_or_default()
}

/// The MTU of `link` in `netns`.
fn mtu(netns: &Netns, link: &str) -> Result<u32> {
    let out = netns.ip(&["-o", "link", "show", link])?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut words = text.split_whitespace();
    words
        .find(|w| *w == "mtu")
        .and_then(|_| words.next())
        .and_then(|m| m.parse().ok())
        .ok_or_else(|| anyhow!("no MTU in {text}"))
}

fn print_table(
    args: &Args,
    underlay: &[Run],
    overlay: &[Run],
    pod_mtu: u32,
    underlay_mtu: u32,
    node: &Node,
) {
    println!();
    println!(
        "#### Cross-node TCP throughput, iperf3, {} runs of {} s per path, alternating (Gbit/s)",
        args.runs, args.seconds
    );
    println!();
    println!(
        "underlay: {} to node 2 on eth0 (MTU {underlay_mtu}) through the underlay bridge; \
         overlay: a pod on node 1 to a pod on node 2 (MTU {pod_mtu}) through strait-vxlan; \
         underlay receive: {}.",
        node.name(),
        if args.rps {
            "spread over every CPU (RPS on each node's eth0, --rps)"
        } else {
            "in the sender's softirq, as veths do"
        }
    );
    println!();
    println!(
        "| run | node to node | retransmits | pod to pod (VXLAN) | retransmits | overlay/underlay |"
    );
    println!("|---|---|---|---|---|---|");
    for (i, (u, o)) in underlay.iter().zip(overlay).enumerate() {
        println!(
            "| {} | {:.2} | {} | {:.2} | {} | {} |",
            i + 1,
            u.gbits,
            u.retransmits,
            o.gbits,
            o.retransmits,
            ratio(o.gbits, u.gbits)
        );
    }
    let u: Vec<f64> = underlay.iter().map(|r| r.gbits).collect();
    let o: Vec<f64> = overlay.iter().map(|r| r.gbits).collect();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    println!(
        "| median | {:.2} | | {:.2} | | {} |",
        median(&u),
        median(&o),
        ratio(median(&o), median(&u))
    );
    println!(
        "| mean | {:.2} | | {:.2} | | {} |",
        mean(&u),
        mean(&o),
        ratio(mean(&o), mean(&u))
    );
}
