//! Running a daemon subcommand: logging, the async runtime, and shutdown on
//! SIGTERM or SIGINT. Each component's own crate does the work.

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;

use crate::args::{AgentArgs, ControlArgs};

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

/// This machine's host name, the default node name.
fn host_name() -> anyhow::Result<String> {
    nix::unistd::gethostname()
        .context("reading the host name")?
        .into_string()
        .map_err(|_| anyhow::anyhow!("the host name is not UTF-8; pass --node-name"))
}

/// `strait agent`: the overlay loop, eBPF host routing and socket-level
/// service load balancing.
pub fn agent(args: AgentArgs) -> anyhow::Result<()> {
    init_logging();
    let node_name = match args.node_name {
        Some(name) => name,
        None => host_name()?,
    };
    runtime()?.block_on(async {
        let shutdown = shutdown_on_signal()?;
        let kubeconfig = kube::config::Kubeconfig::read_from(&args.kubeconfig)
            .with_context(|| format!("reading {}", args.kubeconfig.display()))?;
        let config = kube::Config::from_custom_kubeconfig(
            kubeconfig,
            &kube::config::KubeConfigOptions::default(),
        )
        .await
        .context("building the API client configuration")?;
        let client = kube::Client::try_from(config).context("building the API client")?;
        let underlay_mtu = match args.underlay_mtu {
            Some(mtu) => mtu,
            None => match args.node_ip {
                Some(ip) => strait_cni::netlink::mtu_of_address(ip.into())
                    .await
                    .context("finding the underlay MTU")?
                    .unwrap_or(1500),
                None => 1500,
            },
        };
        let node_name_for_lb = node_name.clone();
        let settings = strait_proxy_agent::overlay::OverlaySettings {
            node_name,
            node_ip: args.node_ip,
            cluster_cidr: (!args.no_masquerade).then_some(args.cluster_cidr),
            config: strait_cni::overlay::OverlayConfig {
                vni: args.vxlan_vni,
                port: args.vxlan_port,
                underlay_mtu,
                ..Default::default()
            },
            resync: std::time::Duration::from_secs(30),
        };
        let overlay_device = settings.config.device.clone();
        let overlay = strait_proxy_agent::overlay::run(client.clone(), settings, shutdown.clone());
        let host_routing = async {
            if args.no_host_routing {
                return Ok(());
            }
            strait_proxy_agent::host_routing::run(
                overlay_device,
                std::time::Duration::from_secs(30),
                shutdown.clone(),
            )
            .await
        };
        let service_lb = async {
            if args.no_service_lb {
                return Ok(());
            }
            service_lb(
                client.clone(),
                node_name_for_lb,
                &args.bpffs,
                &args.cgroup,
                args.metrics,
                shutdown.clone(),
            )
            .await
        };
        // Any loop failing stops the agent; the others are told to stop.
        let stop_on_error = |result: &Result<(), _>| {
            if result.is_err() {
                shutdown.cancel();
            }
        };
        let (overlay, host_routing, service_lb) = tokio::join!(
            async {
                let result = overlay.await.context("the overlay loop");
                stop_on_error(&result);
                result
            },
            async {
                let result = host_routing.await.context("eBPF host routing");
                stop_on_error(&result);
                result
            },
            async {
                let result = service_lb.await;
                stop_on_error(&result);
                result
            }
        );
        overlay?;
        host_routing?;
        service_lb
    })
}

/// Socket-level load balancing: the programs attached to `cgroup` with their
/// maps pinned in `bpffs`, and the loop that keeps the maps at the
/// Services' desired state.
async fn service_lb(
    client: kube::Client,
    node_name: String,
    bpffs: &std::path::Path,
    cgroup: &std::path::Path,
    listen: std::net::SocketAddr,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    use strait_proxy_agent::{service_lb, sock_lb::SocketLb};
    let mut lb = SocketLb::load(bpffs).context("loading the load-balancing programs")?;
    lb.attach(cgroup)
        .with_context(|| format!("attaching the socket hooks to {}", cgroup.display()))?;
    let settings = service_lb::ServiceLbSettings {
        node_name,
        resync: std::time::Duration::from_secs(30),
    };
    let metrics = service_lb::metrics::Metrics::new(Some(bpffs.to_owned()));
    let server = tokio::spawn(service_lb::metrics::serve(
        listen,
        metrics.clone(),
        shutdown.clone(),
    ));
    let result = service_lb::run(client, settings, &mut lb, &metrics, shutdown.clone())
        .await
        .context("the service load-balancing loop");
    shutdown.cancel();
    match server.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e).with_context(|| format!("serving metrics on {listen}")),
        Err(e) => return Err(e).context("the metrics server task"),
    }
    result
}
