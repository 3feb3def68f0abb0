//! Running a daemon subcommand: logging, the async runtime, and shutdown on
//! SIGTERM or SIGINT. Each component's own crate does the work.

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;

use crate::args::ControlArgs;

/// Logs to stderr at `RUST_LOG` (default `info`).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// A token cancelled on the first SIGTERM or SIGINT.
fn shutdown_on_signal() -> anyhow::Result<CancellationToken> {
    use tokio::signal::unix::{SignalKind, signal};
    let token = CancellationToken::new();
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let cancel = token.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
            _ = int.recv() => tracing::info!("SIGINT: shutting down"),
        }
        cancel.cancel();
    });
    Ok(token)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// `strait control`.
pub fn control(args: ControlArgs) -> anyhow::Result<()> {
    init_logging();
    if let Some(node) = &args.node_kubeconfig {
        let path = strait_control::write_node_kubeconfig(&args.data_dir, args.listen, node)
            .with_context(|| format!("writing a kubeconfig for node {node}"))?;
        println!("{}", path.display());
        return Ok(());
    }
    runtime()?.block_on(async {
        let shutdown = shutdown_on_signal()?;
        let config = strait_control::ControlConfig {
            data_dir: args.data_dir,
            listen: args.listen,
            service_cidr: args.service_cidr,
            cluster_cidr: args.cluster_cidr,
            node_cidr_size: args.node_cidr_size,
            node_port_range: args.node_port_range.first..=args.node_port_range.last,
            compaction: strait_control::store::CompactionPolicy {
                keep: args.watch_history,
                every: std::time::Duration::from_secs(args.compaction_interval),
            },
        };
        strait_control::run(config, shutdown)
            .await
            .context("strait control")
    })
}
