//! `strait-bench-control`: strait's control plane against etcd, side by
//! side in one run, printing a Markdown table of both and their ratios for
//! `bench/RESULTS.md`. Two benchmarks: `store` (the default) calls the
//! embedded store in-process; `api` runs `strait control` and goes through
//! its HTTPS API and kubectl. Needs root (etcd runs in a network namespace
//! of its own).

mod api;
mod apiserver;
mod etcd;
mod store;
mod usage;

use std::{
    future::Future,
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, anyhow, bail};
use clap::{Parser, Subcommand};
use tokio::sync::mpsc;

/// strait's control plane vs etcd, side by side.
#[derive(Parser)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Bench>,
    /// With no subcommand: the store benchmark's flags.
    #[command(flatten)]
    store: store::Args,
}

#[derive(Subcommand)]
enum Bench {
    /// The embedded store in-process vs etcd: durable writes, watch fan-out
    /// (the default).
    Store(store::Args),
    /// `strait control` over HTTPS vs etcd: kubectl apply, create latency,
    /// watch fan-out, memory and disk with 10,000 Services.
    Api(api::Args),
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    let bench = async {
        match cli.command.unwrap_or(Bench::Store(cli.store)) {
            Bench::Store(args) => store::main(args).await,
            Bench::Api(args) => api::main(args).await,
        }
    };
    // Interrupting drops the benchmark, and with it every process it
    // started and every directory it made.
    tokio::select! {
        result = bench => result,
        signal = interrupted() => Err(anyhow!("interrupted by {}", signal?)),
    }
}

async fn interrupted() -> Result<&'static str> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.map(|()| "SIGINT").map_err(Into::into),
        _ = term.recv() => Ok("SIGTERM"),
    }
}

/// Removes `dir` when `result` is a success; keeps it, for its logs, and
/// says where, when it is an error.
fn keep_on_error<T>(dir: tempfile::TempDir, result: Result<T>) -> Result<T> {
    match result {
        Ok(value) => Ok(value),
        Err(e) => {
            let kept = dir.keep();
            Err(e.context(format!("data and logs kept in {}", kept.display())))
        }
    }
}

/// Runs `work` against etcd from a thread inside its namespace.
async fn on_etcd<T, F, Fut>(netns: &str, work: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Result<T>>,
{
    let netns = netns.to_owned();
    tokio::task::spawn_blocking(move || etcd::in_netns(&netns, work)).await?
}

/// Writes each of `keys` with `write`, one at a time, and after each waits
/// until all `watchers` have reported that key on `seen`. One sample per
/// watcher per write: from just before the write is sent to the watcher
/// receiving it.
async fn fan_out<F, Fut>(
    keys: impl IntoIterator<Item = String>,
    watchers: usize,
    seen: &mut mpsc::Receiver<(String, Instant)>,
    write: F,
) -> Result<Vec<Duration>>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let mut samples = Vec::new();
    for key in keys {
        let start = Instant::now();
        write(key.clone()).await?;
        for _ in 0..watchers {
            let (got, at) = tokio::time::timeout(Duration::from_secs(10), seen.recv())
                .await
                .with_context(|| format!("{key} not delivered to every watcher in 10s"))?
                .context("the watchers ended")?;
            if got != key {
                bail!("a watcher got {got} while waiting for {key}");
            }
            samples.push(at - start);
        }
    }
    Ok(samples)
}

#[derive(Default, Clone, Copy)]
struct Stats {
    p50: Duration,
    p99: Duration,
    mean: Duration,
}

fn stats(mut samples: Vec<Duration>) -> Stats {
    if samples.is_empty() {
        return Stats::default();
    }
    samples.sort();
    let rank = |p: f64| samples[((p * samples.len() as f64).ceil() as usize).max(1) - 1];
    Stats {
        p50: rank(0.50),
        p99: rank(0.99),
        mean: samples.iter().sum::<Duration>() / samples.len() as u32,
    }
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
