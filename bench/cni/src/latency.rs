//! ADD and DEL latency: strait-cni against the reference `bridge` +
//! `host-local` plugins, each on a node of its own in one virtual cluster.
//! Plugins are executed the way a runtime does: a clean environment with the
//! CNI_* variables, the netconf on stdin, from the node's network namespace
//! (the worker threads join it with setns(2) once, so nothing like
//! `ip netns exec` sits in the timed path). Only the exec is timed, from
//! spawn to exit; pod namespaces are made before and removed after.

use std::{
    collections::BTreeSet,
    io::Write as _,
    net::IpAddr,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::atomic::{AtomicBool, AtomicUsize, Ordering},
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, anyhow, bail};
use serde_json::json;
use strait_tests::{
    Cluster, ClusterSpec, Netns, Node, PodNetwork, binary,
    cni::REFERENCE_PLUGIN_DIR,
    stats::{Stats, ms, ratio},
};

use crate::check_interrupted;

/// The latency benchmark's flags.
#[derive(clap::Args, Clone, Debug)]
#[group(id = "latency")]
pub struct Args {
    /// Pods per plugin and mode (a /24 holds 253).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u16).range(1..=250))]
    pub pods: u16,
    /// Concurrent plugin executions in the parallel mode.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(2..=64))]
    pub parallel: u16,
}

/// One plugin under test, on its own node.
struct Side<'a> {
    /// For the tables.
    name: &'static str,
    /// Short tag for pod namespace and container names.
    tag: &'static str,
    node: &'a Node,
    binary: PathBuf,
    cni_path: PathBuf,
    netconf: String,
    /// Where its IPAM keeps one file per reserved address.
    ipam_dir: PathBuf,
    /// How the host ends of its veths are named.
    host_veth_prefix: &'static str,
}

/// What one plugin did in one mode.
#[derive(Default)]
struct Samples {
    add: Vec<Duration>,
    del: Vec<Duration>,
    add_wall: Duration,
    del_wall: Duration,
    /// From the first DEL to the moment no host veth of the side is left.
    del_settled: Duration,
}

pub fn run(args: &Args) -> Result<()> {
    let pods = usize::from(args.pods);
    let parallel = usize::from(args.parallel);
    let cluster = Cluster::start(ClusterSpec {
        nodes: 2,
        external: false,
        pod_network: PodNetwork::Strait,
    })?;
    let strait_bin = binary("strait-cni")?;
    let strait_node = cluster.node(1)?;
    let reference_node = cluster.node(2)?;
    let strait_data = strait_node.state_dir().join("ipam-strait");
    let reference_data = reference_node.state_dir().join("ipam-reference");
    let strait = Side {
        name: "strait-cni",
        tag: "s",
        node: strait_node,
        cni_path: strait_bin.parent().map(Path::to_owned).unwrap_or_default(),
        binary: strait_bin,
        netconf: json!({
            "cniVersion": "1.1.0",
            "name": "bench",
            "type": "strait-cni",
            "podCIDR": strait_node.pod_cidr().to_string(),
            "dataDir": strait_data,
        })
        .to_string(),
        ipam_dir: strait_data.join("bench"),
        host_veth_prefix: "strv",
    };
    // host-local's newest protocol here is 1.0.0; the fields are those of
    // the harness's reference network (no masquerade, the node's /24).
    let reference = Side {
        name: "bridge + host-local",
        tag: "r",
        node: reference_node,
        binary: Path::new(REFERENCE_PLUGIN_DIR).join("bridge"),
        cni_path: PathBuf::from(REFERENCE_PLUGIN_DIR),
        netconf: json!({
            "cniVersion": "1.0.0",
            "name": "bench",
            "type": "bridge",
            "bridge": "cni0",
            "isGateway": true,
            "ipMasq": false,
            "ipam": {
                "type": "host-local",
                "ranges": [[{ "subnet": reference_node.pod_cidr().to_string() }]],
                "routes": [{ "dst": "0.0.0.0/0" }],
                "dataDir": reference_data,
            },
        })
        .to_string(),
        ipam_dir: reference_data.join("bench"),
        host_veth_prefix: "veth",
    };
    for side in [&strait, &reference] {
        eprintln!(
            "latency: {} on {}: {}",
            side.name,
            side.node.name(),
            side.netconf
        );
        warm_up(&cluster, side)?;
    }

    let modes = [("sequential", 'q', 1), ("parallel", 'p', parallel)];
    let mut results = Vec::new();
    for (index, (mode, mode_tag, workers)) in modes.into_iter().enumerate() {
        // Alternate which plugin goes first, so drift in the machine's load
        // does not always favour the same one.
        let order = if index % 2 == 0 {
            [&strait, &reference]
        } else {
            [&reference, &strait]
        };
        let mut pair = [Samples::default(), Samples::default()];
        for side in order {
            eprintln!("latency: {} {mode}, {pods} pods", side.name);
            let samples = measure(&cluster, side, mode_tag, pods, workers)?;
            let slot = usize::from(!std::ptr::eq(side, &strait));
            if let Some(place) = pair.get_mut(slot) {
                *place = samples;
            }
        }
        results.push((workers, pair));
    }
    print_tables(pods, &results, &strait, &reference);
    Ok(())
}

/// One untimed ADD and DEL, so first-use costs (the reference's bridge, the
/// gateway address, the page cache) stay out of the samples.
fn warm_up(cluster: &Cluster, side: &Side) -> Result<()> {
    let netns = Netns::create(&cluster.prefix().name(&format!("{}-warm", side.tag)))?;
    let id = format!("bench-{}-warm", side.tag);
    side.node
        .netns()
        .run(|| -> Result<()> {
            exec(side, "ADD", &id, netns.path())?;
            exec(side, "DEL", &id, netns.path())?;
            Ok(())
        })
        .map_err(anyhow::Error::from)
        .and_then(|r| r)
        .with_context(|| format!("warming up {}", side.name))
}

fn measure(
    cluster: &Cluster,
    side: &Side,
    mode_tag: char,
    pods: usize,
    workers: usize,
) -> Result<Samples> {
    let tag = format!("{}{mode_tag}", side.tag);
    let namespaces = (0..pods)
        .map(|i| Netns::create(&cluster.prefix().name(&format!("{tag}{i}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let jobs: Vec<(String, &Path)> = namespaces
        .iter()
        .enumerate()
        .map(|(i, ns)| (format!("bench-{tag}-{i}"), ns.path()))
        .collect();

    let (add, add_wall, outputs) = phase(side, "ADD", &jobs, workers)?;
    let mut ips = BTreeSet::new();
    for out in &outputs {
        let ip = strait_tests::cni::first_ipv4(out).map_err(|e| anyhow!("{}: {e}", side.name))?;
        if !side.node.pod_cidr().contains(&ip) {
            bail!(
                "{}: ADD gave {ip}, outside {}",
                side.name,
                side.node.pod_cidr()
            );
        }
        ips.insert(ip);
    }
    if ips.len() != pods {
        bail!(
            "{}: {} distinct addresses for {pods} pods",
            side.name,
            ips.len()
        );
    }

    let del_start = Instant::now();
    let (del, del_wall, _) = phase(side, "DEL", &jobs, workers)?;
    let del_settled = wait_for_no_veths(side, del_start)?;
    let leftover = reservations(&side.ipam_dir)?;
    if !leftover.is_empty() {
        bail!("{}: DEL left reservations {leftover:?}", side.name);
    }
    drop(namespaces);
    Ok(Samples {
        add,
        del,
        add_wall,
        del_wall,
        del_settled,
    })
}

/// One finished exec: the job's index, its time, its stdout.
type Done = (usize, Duration, Vec<u8>);

/// Runs `command` for every job on `workers` threads inside the node's
/// namespace; returns the per-exec times (in job order), the phase's wall
/// time and each exec's stdout.
fn phase(
    side: &Side,
    command: &'static str,
    jobs: &[(String, &Path)],
    workers: usize,
) -> Result<(Vec<Duration>, Duration, Vec<Vec<u8>>)> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let start = Instant::now();
    let per_worker: Vec<Result<Vec<Done>>> = thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    side.node
                        .netns()
                        .run(|| {
                            let mut done = Vec::new();
                            while !failed.load(Ordering::Relaxed) {
                                let i = next.fetch_add(1, Ordering::Relaxed);
                                let Some((id, netns)) = jobs.get(i) else {
                                    break;
                                };
                                let step = check_interrupted()
                                    .and_then(|()| exec(side, command, id, netns));
                                match step {
                                    Ok((took, out)) => done.push((i, took, out)),
                                    Err(e) => {
                                        failed.store(true, Ordering::Relaxed);
                                        return Err(e);
                                    }
                                }
                            }
                            Ok(done)
                        })
                        .map_err(anyhow::Error::from)
                        .and_then(|r| r)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let wall = start.elapsed();
    let mut all = Vec::with_capacity(jobs.len());
    for result in per_worker {
        all.extend(result?);
    }
    all.sort_by_key(|(i, _, _)| *i);
    if all.len() != jobs.len() {
        bail!(
            "{}: {command} ran {} of {} jobs",
            side.name,
            all.len(),
            jobs.len()
        );
    }
    let (times, outputs) = all.into_iter().map(|(_, t, o)| (t, o)).unzip();
    Ok((times, wall, outputs))
}

/// Executes the plugin once, from the calling thread's network namespace,
/// as a runtime does; times spawn to exit. A failed command is an error
/// carrying the plugin's output.
fn exec(side: &Side, command: &str, id: &str, netns: &Path) -> Result<(Duration, Vec<u8>)> {
    let mut cmd = Command::new(&side.binary);
    cmd.env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("CNI_COMMAND", command)
        .env("CNI_CONTAINERID", id)
        .env("CNI_NETNS", netns)
        .env("CNI_IFNAME", "eth0")
        .env("CNI_PATH", &side.cni_path)
        .env(
            "CNI_ARGS",
            format!("IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME={id}"),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {}", side.binary.display()))?;
    let written = child
        .stdin
        .take()
        .map(|mut stdin| stdin.write_all(side.netconf.as_bytes()));
    let out = child.wait_with_output()?;
    let took = start.elapsed();
    if let Some(Err(e)) = written {
        bail!("{} {command} {id}: writing the netconf: {e}", side.name);
    }
    if !out.status.success() {
        bail!(
            "{} {command} {id}: {}: {}{}",
            side.name,
            out.status,
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok((took, out.stdout))
}

/// Waits (up to 10 s) until the node has no host veth of `side` left;
/// returns the time since `since`.
fn wait_for_no_veths(side: &Side, since: Instant) -> Result<Duration> {
    let deadline = since + Duration::from_secs(10);
    side.node.netns().run(|| {
        loop {
            // The calling thread's namespace, not the process's.
            let dev = std::fs::read_to_string("/proc/thread-self/net/dev")?;
            let left = dev
                .lines()
                .filter_map(|line| line.split_once(':'))
                .filter(|(name, _)| name.trim().starts_with(side.host_veth_prefix))
                .count();
            if left == 0 {
                return Ok(since.elapsed());
            }
            if Instant::now() > deadline {
                bail!(
                    "{}: {left} host veths still there 10 s after DEL",
                    side.name
                );
            }
            thread::sleep(Duration::from_millis(1));
        }
    })?
}

/// The addresses reserved in an IPAM directory (one file per address, the
/// layout of both host-local and strait-cni).
fn reservations(dir: &Path) -> Result<Vec<IpAddr>> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    Ok(entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<IpAddr>().ok())
        .collect())
}

fn print_tables(pods: usize, results: &[(usize, [Samples; 2])], strait: &Side, reference: &Side) {
    println!();
    println!(
        "#### ADD and DEL per pod, {pods} pods: {} vs {} (ms, spawn to exit)",
        strait.name, reference.name
    );
    println!();
    println!(
        "| command, mode | strait p50 | p90 | p99 | mean | reference p50 | p90 | p99 | mean | strait/reference p50 | mean |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for (workers, [s, r]) in results {
        let label = if *workers == 1 {
            "sequential".to_owned()
        } else {
            format!("{workers} in parallel")
        };
        for (command, a, b) in [("ADD", &s.add, &r.add), ("DEL", &s.del, &r.del)] {
            let (a, b) = (Stats::of(a), Stats::of(b));
            println!(
                "| {command}, {label} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                ms(a.p50),
                ms(a.p90),
                ms(a.p99),
                ms(a.mean),
                ms(b.p50),
                ms(b.p90),
                ms(b.p99),
                ms(b.mean),
                ratio(a.p50.as_secs_f64(), b.p50.as_secs_f64()),
                ratio(a.mean.as_secs_f64(), b.mean.as_secs_f64()),
            );
        }
    }
    println!();
    println!("#### Whole phases, {pods} pods (ms of wall time)");
    println!();
    println!("| phase | strait | reference | strait/reference |");
    println!("|---|---|---|---|");
    for (workers, [s, r]) in results {
        let label = if *workers == 1 {
            "sequential".to_owned()
        } else {
            format!("{workers} in parallel")
        };
        let rows = [
            ("every ADD", s.add_wall, r.add_wall),
            ("every DEL", s.del_wall, r.del_wall),
            (
                "every DEL, until the node has no pod veth left",
                s.del_settled,
                r.del_settled,
            ),
        ];
        for (what, a, b) in rows {
            println!(
                "| {what}, {label} | {} | {} | {} |",
                ms(a),
                ms(b),
                ratio(a.as_secs_f64(), b.as_secs_f64())
            );
        }
    }
    println!();
    println!("strait netconf: `{}`", strait.netconf);
    println!();
    println!("reference netconf: `{}`", reference.netconf);
}
