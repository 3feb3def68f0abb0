//! strait's control plane: a Kubernetes-compatible API server with an
//! embedded durable store, and the networking controllers (EndpointSlices,
//! IP and port allocation, node IPAM).
//!
//! Layout: pure cores ([`request`], [`resources`], [`discovery`], [`selector`],
//! [`allocate`], [`apply`] (server-side apply and managedFields),
//! [`objects::meta`], [`status`], [`table`], [`kubeconfig`]) around which
//! sit the adapters: the [`store`], the [`datadir`], and the HTTPS
//! [`server`]. [`run`] assembles them.

pub mod allocate;
pub mod allocation;
pub mod apply;
pub mod authn;
pub mod authz;
pub mod bootstrap;
pub mod claims;
pub mod controllers;
pub mod datadir;
pub mod defaults;
pub mod discovery;
pub mod endpointslice;
pub mod fields;
pub mod go_fmt;
pub mod kubeconfig;
pub mod leader;
pub mod namespaces;
pub mod objects;
pub mod openapi;
pub mod owners;
pub mod patch;
pub mod pki;
pub mod protobuf;
pub mod rbac;
pub mod request;
pub mod resources;
pub mod selector;
pub mod server;
pub mod status;
pub mod store;
pub mod table;
pub mod validation;

use std::{net::SocketAddr, path::PathBuf, sync::Arc};

use tokio_util::sync::CancellationToken;

/// How to run the control plane.
#[derive(Clone, Debug)]
pub struct ControlConfig {
    /// The data directory.
    pub data_dir: PathBuf,
    /// The HTTPS address.
    pub listen: SocketAddr,
    /// The Service CIDR; its first address is the `kubernetes` Service's.
    pub service_cidr: ipnet::IpNet,
    /// The CIDR node pod CIDRs are carved from.
    pub cluster_cidr: ipnet::IpNet,
    /// The prefix length of each node's pod CIDR.
    pub node_cidr_size: u8,
    /// The NodePort range.
    pub node_port_range: std::ops::RangeInclusive<u16>,
    /// How much watch history to keep and how often to compact the rest.
    pub compaction: store::CompactionPolicy,
}

/// Why the control plane stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The data directory could not be used.
    #[error(transparent)]
    DataDir(#[from] datadir::DataDirError),
    /// The store could not be opened.
    #[error("opening the store: {0}")]
    Store(#[from] store::StoreError),
    /// The server could not start.
    #[error(transparent)]
    Serve(#[from] server::ServeError),
    /// Creating the default objects failed.
    #[error("creating the default objects: {}", .0.message)]
    Bootstrap(status::ApiError),
    /// The service CIDR has no first address.
    #[error("service CIDR {0} has no usable address")]
    ServiceCidr(ipnet::IpNet),
    /// An allocation range is unusable.
    #[error("allocation ranges: {0}")]
    Ranges(#[from] allocate::RangeError),
}

/// The address clients should use for `listen` (loopback for a wildcard).
fn advertised(listen: SocketAddr) -> SocketAddr {
    let mut addr = listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    addr
}

/// Waits (briefly) until the RBAC follower has loaded a policy, so the first
/// requests are not refused for want of one.
async fn wait_for_policy(policy: &authz::PolicyCache) {
    for _ in 0..200 {
        if policy.get().cluster_role("cluster-admin").is_some() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    tracing::warn!("the RBAC policy has not loaded after 2 s; requests may be refused");
}

/// Allocators holding what every stored Service and Node already has.
async fn restore_allocators<S: store::Store>(
    objects: &objects::Objects<S>,
    config: &ControlConfig,
) -> Result<allocation::Allocators, ControlError> {
    let mut allocators = allocation::Allocators::new(
        config.service_cidr,
        config.node_port_range.clone(),
        config.cluster_cidr,
        config.node_cidr_size,
    )?;
    for plural in ["services", "nodes"] {
        let Some(resource) = resources::find("", "v1", plural) else {
            continue;
        };
        let list = objects
            .list(resource, None, &request::Query::default(), |_| true)
            .await
            .map_err(ControlError::Bootstrap)?;
        let items = list["items"].as_array().cloned().unwrap_or_default();
        for problem in allocators.restore(items.iter().map(|o| (resource.kind, o))) {
            tracing::warn!(%problem, "a stored object holds an address that cannot be allocated");
        }
    }
    Ok(allocators)
}

/// Writes `data_dir/nodes/<node>.kubeconfig` for node `node` (creating its
/// token) against the server at `listen`, and returns its path. The data
/// directory must have been initialised by a first start.
pub fn write_node_kubeconfig(
    data_dir: &std::path::Path,
    listen: SocketAddr,
    node: &str,
) -> Result<PathBuf, ControlError> {
    let server = format!("https://{}", advertised(listen));
    Ok(datadir::DataDir::new(data_dir).write_node_kubeconfig(node, &server)?)
}

/// Runs the API server until `shutdown` fires.
pub async fn run(config: ControlConfig, shutdown: CancellationToken) -> Result<(), ControlError> {
    let kubernetes_ip = config
        .service_cidr
        .hosts()
        .next()
        .ok_or(ControlError::ServiceCidr(config.service_cidr))?;
    let advertised = advertised(config.listen);
    let data = datadir::DataDir::new(&config.data_dir);
    let names = pki::serving_names(config.listen.ip(), kubernetes_ip);
    let material = data.init(&names, &format!("https://{advertised}"))?;
    let store = store::SqliteStore::open(&data.store_path())?;
    let objects_store = store.clone();
    let objects = objects::Objects::new(store);
    let objects_store_for_authz = objects.clone();
    bootstrap::ensure_defaults(&objects, kubernetes_ip, advertised)
        .await
        .map_err(ControlError::Bootstrap)?;
    let allocators = restore_allocators(&objects, &config).await?;
    let tls = server::tls_config(&material.serving)?;
    let listener = server::bind(config.listen).await?;
    tracing::info!(
        listen = %config.listen,
        kubeconfig = %data.kubeconfig_path().display(),
        "API server ready"
    );
    let policy = Arc::new(authz::PolicyCache::default());
    let (terminating, finalize_requests) = tokio::sync::mpsc::unbounded_channel();
    let api = Arc::new(server::Api::new(
        objects,
        allocators,
        authn::Authenticator::from_tokens(&material.tokens),
        advertised.to_string(),
        terminating.clone(),
        policy.clone(),
        shutdown.clone(),
    ));
    claims::restore(api.objects(), api.allocators())
        .await
        .map_err(ControlError::Bootstrap)?;
    let claims_follower = tokio::spawn(claims::follow(
        objects_store.clone(),
        api.allocators().clone(),
        shutdown.clone(),
    ));
    // The policy is loaded before the first request and followed after.
    let rbac_follower = {
        let objects = objects_store_for_authz;
        tokio::spawn(authz::follow(objects, policy.clone(), shutdown.clone()))
    };
    wait_for_policy(&policy).await;
    // Namespaces a previous run left Terminating are finished first.
    for name in namespaces::terminating(&api)
        .await
        .map_err(ControlError::Bootstrap)?
    {
        let _ = terminating.send(name);
    }
    let finalizer = tokio::spawn(namespaces::run(
        api.clone(),
        finalize_requests,
        shutdown.clone(),
    ));
    let identity = format!("{advertised}-{}", std::process::id());
    let controllers = tokio::spawn(controllers::run(
        api.objects().clone(),
        identity,
        shutdown.clone(),
    ));
    let shutdown_token = shutdown;
    let compactor = tokio::spawn(compact_periodically(
        objects_store,
        config.compaction,
        shutdown_token.clone(),
    ));
    server::serve(listener, tls, api).await;
    shutdown_token.cancel();
    let _ = compactor.await;
    let _ = finalizer.await;
    let _ = rbac_follower.await;
    let _ = controllers.await;
    let _ = claims_follower.await;
    Ok(())
}

/// Compacts the store's history every `policy.every`, keeping
/// `policy.keep` revisions, until `shutdown`. Watchers further behind get
/// 410 Gone and re-list, as they would against etcd.
async fn compact_periodically<S: store::Store>(
    store: S,
    policy: store::CompactionPolicy,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(policy.every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.cancelled() => return,
        }
        let current = match store.revision().await {
            Ok(current) => current,
            Err(e) => {
                tracing::warn!(error = %e, "compaction: reading the revision failed");
                continue;
            }
        };
        if let Some(target) = store::compaction_target(policy, current) {
            match store.compact(target).await {
                Ok(()) => tracing::debug!(revision = target, "compacted"),
                Err(e) => tracing::warn!(error = %e, "compaction failed"),
            }
        }
    }
}
