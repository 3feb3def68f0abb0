//! `strait-bench-cni`: strait's pod network against its peers, side by side
//! in one run, printing Markdown tables with ratios for `bench/RESULTS.md`.
//! Two benchmarks: `latency` (ADD and DEL of strait-cni against the
//! reference `bridge` + `host-local` plugins) and `throughput` (iperf3
//! pod-to-pod over the VXLAN overlay against node-to-node on the underlay).
//! With no subcommand both run. Needs root: everything happens in network
//! namespaces of a virtual cluster (`strait_tests`), removed on exit.

mod latency;
mod throughput;

use std::process::Command;

use anyhow::{Result, bail};
use clap::{Parser, Subcommand};

/// strait-cni and the overlay against the reference plugins and the underlay.
#[derive(Parser)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Bench>,
    /// With no subcommand: both benchmarks' flags.
    #[command(flatten)]
    latency: latency::Args,
    #[command(flatten)]
    throughput: throughput::Args,
}

#[derive(Subcommand)]
enum Bench {
    /// ADD and DEL latency per pod, sequential and parallel: strait-cni vs
    /// the reference bridge + host-local plugins.
    Latency(latency::Args),
    /// Cross-node TCP throughput (iperf3): pod to pod over the VXLAN overlay
    /// vs node to node over the underlay.
    Throughput(throughput::Args),
}

/// Fails once the run was interrupted (SIGINT or SIGTERM).
fn check_interrupted() -> Result<()> {
    if strait_tests::interrupt::interrupted() {
        bail!("interrupted");
    }
    Ok(())
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    if let Some(missing) = strait_tests::privilege::missing() {
        bail!("strait-bench-cni needs {missing}");
    }
    strait_tests::interrupt::install("strait-bench-cni")?;

    println!("{}", context());
    match cli.command {
        Some(Bench::Latency(args)) => latency::run(&args),
        Some(Bench::Throughput(args)) => throughput::run(&args),
        None => {
            latency::run(&cli.latency)?;
            throughput::run(&cli.throughput)
        }
    }
}

/// One paragraph on what ran where, for the results file.
fn context() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| {
            let parts: Vec<&str> = l.split_whitespace().take(3).collect();
            (parts.len() == 3).then(|| parts.join(" "))
        })
        .unwrap_or_else(|| "unknown".into());
    format!(
        "kernel {}; {cpus} CPUs (shared and noisy: read the ratios); load average at start {load}; \
         reference plugins: containernetworking-plugins {}; {}.",
        first_line("uname", &["-r"]),
        first_line(
            "dpkg-query",
            &["-W", "-f", "${Version}", "containernetworking-plugins"]
        ),
        first_line("iperf3", &["--version"]),
    )
}

fn first_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().next().map(str::to_owned))
        .unwrap_or_else(|| format!("{program}: unknown"))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    #[test]
    fn the_command_line_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
