//! `strait-bench-lb`: Service load balancing, strait against kube-proxy's
//! rule shapes, side by side in one run: new TCP connections per second
//! and connect latency from a client pod to a Service whose one backend
//! pod is on the same node, reached directly (the limit), through
//! kube-proxy-style iptables rules and nftables rules, at 1, 1,000,
//! 10,000 and 100,000 Services with the target Service last.
//! Prints Markdown for `bench/RESULTS.md`. Needs root: everything happens in
//! network namespaces of a virtual cluster (`strait_tests`), removed on exit.
//!
//! `serve` and `load` are the two ends, run by the orchestrator inside the
//! pods.

mod load;
mod rules;
mod strait_lb;

use std::{
    io::Write as _,
    net::{Ipv4Addr, SocketAddr, SocketAddrV4},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, anyhow, bail};
use clap::{Parser, Subcommand};
use load::LoadResult;
use strait_tests::{
    Cluster, ClusterSpec, Netns, PodNetwork, binary,
    stats::{ms, ratio},
};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Option<Bench>,
    #[command(flatten)]
    connect: ConnectArgs,
}

#[derive(Subcommand)]
enum Bench {
    /// The comparison (the default).
    Connect(ConnectArgs),
    /// Time to program N Services x M endpoints from empty and one endpoint
    /// change: strait's core + map writer vs iptables-restore and nft -f.
    Program(ProgramArgs),
    /// Answer every TCP connection on PORT with one byte, forever.
    Serve {
        #[arg(long)]
        port: u16,
        #[arg(long, default_value_t = 4)]
        threads: usize,
    },
    /// Open short-lived connections to TARGET; print one JSON line.
    Load {
        #[arg(long)]
        target: SocketAddr,
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
        #[arg(long, default_value_t = 4)]
        threads: usize,
    },
}

#[derive(clap::Args, Clone, Debug)]
struct ProgramArgs {
    /// Services.
    #[arg(long, default_value_t = 10_000)]
    services: u32,
    /// Endpoints per Service.
    #[arg(long, default_value_t = 10)]
    endpoints: u32,
}

#[derive(clap::Args, Clone, Debug)]
struct ConnectArgs {
    /// Service counts to measure at (the target is always the last one).
    #[arg(long, value_delimiter = ',', default_values_t = [1u32, 1_000, 10_000, 100_000])]
    services: Vec<u32>,
    /// Seconds of load per measurement.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// Client threads.
    #[arg(long, default_value_t = 4)]
    threads: usize,
    /// Only the direct and strait rows: at 100,000 Services the peers'
    /// rule installs alone take many minutes (iptables-restore with the
    /// nf_tables backend had not finished after 6).
    #[arg(long)]
    skip_peers: bool,
}

/// Fails once the run was interrupted (SIGINT or SIGTERM).
fn check_interrupted() -> Result<()> {
    if strait_tests::interrupt::interrupted() {
        bail!("interrupted");
    }
    Ok(())
}

/// The target Service's ClusterIP and port.
const CLUSTER_IP: Ipv4Addr = Ipv4Addr::new(10, 96, 0, 10);
const SERVICE_PORT: u16 = 80;
const BACKEND_PORT: u16 = 8080;

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Bench::Serve { port, threads }) => load::serve(port, threads),
        Some(Bench::Load {
            target,
            seconds,
            threads,
        }) => {
            let result = load::load(target, Duration::from_secs_f64(seconds), threads);
            println!("{}", result.to_json());
            Ok(())
        }
        Some(Bench::Connect(args)) => run_guarded(|| connect(&args)),
        Some(Bench::Program(args)) => run_guarded(|| program(&args)),
        None => run_guarded(|| connect(&cli.connect)),
    }
}

fn run_guarded(bench: impl FnOnce() -> Result<()>) -> Result<()> {
    if let Some(missing) = strait_tests::privilege::missing() {
        bail!("strait-bench-lb needs {missing}");
    }
    strait_tests::interrupt::install("strait-bench-lb")?;
    bench()
}

/// One row of the table: a path at a Service count.
struct Row {
    path: &'static str,
    services: u32,
    result: LoadResult,
    /// Seconds the rules took to install (`None` for the direct path).
    install: Option<f64>,
}

fn connect(args: &ConnectArgs) -> Result<()> {
    println!("{}", context());
    let mut cluster = Cluster::start(ClusterSpec {
        nodes: 1,
        external: false,
        pod_network: PodNetwork::Strait,
    })?;
    cluster.add_pod(1, "client")?;
    cluster.add_pod(1, "server")?;
    let node = cluster.node(1)?;
    let client = cluster.pod("client")?;
    let server = cluster.pod("server")?;
    let me = binary("strait-bench-lb")?;
    let me_str = me
        .to_str()
        .ok_or_else(|| anyhow!("binary path is not UTF-8"))?;
    let port = BACKEND_PORT.to_string();
    let _server = server.spawn(&[me_str, "serve", "--port", &port])?;
    let backend = SocketAddrV4::new(server.ip(), BACKEND_PORT);
    let frontend = SocketAddrV4::new(CLUSTER_IP, SERVICE_PORT);
    // The client's ephemeral ports turn over fast.
    client
        .netns()
        .sysctl("net/ipv4/ip_local_port_range", "1024 65000")?;

    let measure_for = |target: SocketAddrV4, seconds: f64| -> Result<LoadResult> {
        check_interrupted()?;
        let out = client
            .netns()
            .command(&me, Some(node.cgroup().path()))?
            .args([
                "load",
                "--target",
                &target.to_string(),
                "--seconds",
                &seconds.to_string(),
                "--threads",
                &args.threads.to_string(),
            ])
            .output()
            .context("running the load client")?;
        if !out.status.success() {
            bail!(
                "load client failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let value: serde_json::Value = serde_json::from_slice(&out.stdout)
            .with_context(|| format!("load output: {}", String::from_utf8_lossy(&out.stdout)))?;
        LoadResult::from_json(&value).ok_or_else(|| anyhow!("load output lacks fields: {value}"))
    };

    let measure = |target: SocketAddrV4| measure_for(target, args.seconds);

    // Wait for the server to answer before measuring anything.
    let deadline = Instant::now() + Duration::from_secs(10);
    while measure_for(backend, 0.1)?.connections == 0 {
        if Instant::now() > deadline {
            bail!("the server pod does not answer on {backend}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }

    let mut strait =
        strait_lb::StraitLb::start(node.bpffs(), node.cgroup().path(), node.name(), node.ip())?;
    let mut rows = Vec::new();
    for &count in &args.services {
        let services = rules::services(
            count,
            CLUSTER_IP,
            SERVICE_PORT,
            &[(server.ip(), BACKEND_PORT)],
        );
        eprintln!("strait-bench-lb: {count} Services");
        rows.push(Row {
            path: "direct to pod IP",
            services: count,
            result: measure(backend)?,
            install: None,
        });

        let (svcs, slices) = strait_lb::objects(&services)?;
        let programmed = strait.program(&svcs, &slices)?;
        let result = measure(frontend);
        // Empty maps again: the hooks stay attached for the peers' rows and
        // cost them one map miss per connect.
        strait.program(&[], &[])?;
        rows.push(Row {
            path: "strait socket-LB",
            services: count,
            result: result?,
            install: Some(programmed.total().as_secs_f64()),
        });

        if args.skip_peers {
            continue;
        }
        let started = Instant::now();
        feed(
            node.netns(),
            "iptables-restore",
            &["--noflush"],
            &rules::iptables(&services),
        )?;
        let install = started.elapsed().as_secs_f64();
        let result = measure(frontend);
        feed(node.netns(), "iptables", &["-t", "nat", "-F"], "")?;
        feed(node.netns(), "iptables", &["-t", "nat", "-X"], "")?;
        rows.push(Row {
            path: "kube-proxy iptables",
            services: count,
            result: result?,
            install: Some(install),
        });

        let started = Instant::now();
        feed(
            node.netns(),
            "nft",
            &["-f", "-"],
            &rules::nftables(&services),
        )?;
        let install = started.elapsed().as_secs_f64();
        let result = measure(frontend);
        remove_nft(node.netns())?;
        rows.push(Row {
            path: "kube-proxy nftables",
            services: count,
            result: result?,
            install: Some(install),
        });
    }
    print!("{}", table(args, &rows));
    Ok(())
}

/// Programming time: strait's core and writer vs the peers' restores.
fn program(args: &ProgramArgs) -> Result<()> {
    println!("{}", context());
    let cluster = Cluster::start(ClusterSpec {
        nodes: 1,
        external: false,
        pod_network: PodNetwork::Strait,
    })?;
    let node = cluster.node(1)?;
    // Every Service gets `endpoints` endpoints of its own.
    let mut services = rules::services(args.services, CLUSTER_IP, SERVICE_PORT, &[]);
    for (i, s) in services.iter_mut().enumerate() {
        s.endpoints = (0..args.endpoints)
            .map(|e| {
                let n = (i as u32) * args.endpoints + e;
                (
                    Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 128, 0, 0)) + n),
                    BACKEND_PORT,
                )
            })
            .collect();
    }
    let (svcs, mut slices) = strait_lb::objects(&services)?;
    check_interrupted()?;

    let mut strait =
        strait_lb::StraitLb::start(node.bpffs(), node.cgroup().path(), node.name(), node.ip())?;
    let full = strait.program(&svcs, &slices)?;
    // One endpoint of the last Service moves.
    if let Some(endpoint) = slices
        .last_mut()
        .and_then(|s| s.endpoints.first_mut())
        .and_then(|e| e.addresses.first_mut())
    {
        *endpoint = "10.127.255.254".to_owned();
    }
    let one = strait.program(&svcs, &slices)?;
    check_interrupted()?;

    // The legacy (x_tables) backend: iptables-restore with the nf_tables
    // backend took 144 s for 10,000 x 10 here, the legacy one is the
    // kube-proxy peer people measure.
    let iptables = rules::iptables(&services);
    let started = Instant::now();
    feed(node.netns(), "iptables-legacy-restore", &[], &iptables)?;
    let iptables_full = started.elapsed();
    // kube-proxy before 1.28 rewrote everything on any change; restoring
    // the same input again stands for that.
    let started = Instant::now();
    feed(node.netns(), "iptables-legacy-restore", &[], &iptables)?;
    let iptables_again = started.elapsed();
    feed(node.netns(), "iptables-legacy", &["-t", "nat", "-F"], "")?;
    feed(node.netns(), "iptables-legacy", &["-t", "nat", "-X"], "")?;
    check_interrupted()?;
    let nft = rules::nftables(&services);
    let started = Instant::now();
    feed(node.netns(), "nft", &["-f", "-"], &nft)?;
    let nft_full = started.elapsed();
    remove_nft(node.netns())?;

    let secs = |d: Duration| format!("{:.3}", d.as_secs_f64());
    println!(
        "\n#### Programming {} Services x {} endpoints (s)\n\n\
         | what | strait (compute + map writes) | iptables-legacy-restore | nft -f | strait / iptables |\n\
         |---|---|---|---|---|\n\
         | from empty | {} ({} + {}, {} writes) | {} | {} | {} |\n\
         | one endpoint changed | {} ({} + {}, {} writes) | {} (whole input again) | — | {} |",
        args.services,
        args.endpoints,
        secs(full.total()),
        secs(full.compute),
        secs(full.write),
        full.writes,
        secs(iptables_full),
        secs(nft_full),
        ratio(full.total().as_secs_f64(), iptables_full.as_secs_f64()),
        secs(one.total()),
        secs(one.compute),
        secs(one.write),
        one.writes,
        secs(iptables_again),
        ratio(one.total().as_secs_f64(), iptables_again.as_secs_f64()),
    );
    Ok(())
}

/// Removes the nftables peer's table.
fn remove_nft(netns: &Netns) -> Result<()> {
    feed(netns, "nft", &["delete", "table", "ip", "kube-proxy"], "")
}

/// Runs `program args` in `netns` with `input` on stdin.
fn feed(netns: &Netns, program: &str, args: &[&str], input: &str) -> Result<()> {
    let mut child = netns
        .command(program, None)?
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {program}"))?;
    // A program that stops reading early fails the write; its own exit
    // status and message say why, so collect them before reporting.
    let written = child
        .stdin
        .take()
        .map_or(Ok(()), |mut stdin| stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    written.with_context(|| format!("writing to {program}"))
}

fn table(args: &ConnectArgs, rows: &[Row]) -> String {
    let mut out = format!(
        "\n#### New TCP connections to a Service (one backend on the same node), {} s per cell, {} client threads\n\n\
         | Services | path | connections/s | vs direct | connect p50 (ms) | p99 (ms) | errors | rules installed in (s) |\n\
         |---|---|---|---|---|---|---|---|\n",
        args.seconds, args.threads
    );
    for row in rows {
        let direct = rows
            .iter()
            .find(|r| r.services == row.services && r.path == "direct to pod IP")
            .map_or(0.0, |r| r.result.rate());
        out.push_str(&format!(
            "| {} | {} | {:.0} | {} | {} | {} | {} | {} |\n",
            row.services,
            row.path,
            row.result.rate(),
            ratio(row.result.rate(), direct),
            ms(row.result.stats.p50),
            ms(row.result.stats.p99),
            row.result.errors,
            row.install.map_or("—".to_owned(), |s| format!("{s:.2}")),
        ));
    }
    out
}

fn context() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into());
    let version = |program: &str, arg: &str| {
        Command::new(program)
            .arg(arg)
            .output()
            .ok()
            .and_then(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .next()
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| "unknown".into())
    };
    format!(
        "{cpus} CPUs (shared and noisy: read the ratios); load average at start {load}; {}; {}.",
        version("iptables", "-V"),
        version("nft", "-v"),
    )
}
