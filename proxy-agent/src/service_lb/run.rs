//! The loop `strait agent` runs for Services: watch Services,
//! EndpointSlices and this Node with kube reflectors; on every change (a
//! burst coalesced) compute the desired maps with the pure core, plan the
//! difference, write it. Nothing is written before all three watches have
//! listed once, so a restart never deletes entries of objects it has not
//! seen yet.

use std::time::{Duration, Instant};

use futures::StreamExt as _;
use k8s_openapi::api::{core::v1::Node, core::v1::Service, discovery::v1::EndpointSlice};
use kube::{
    Api, Client,
    runtime::{WatchStreamExt as _, reflector, watcher},
};
use strait_proxy_maps::lb::names;
use tokio_util::sync::CancellationToken;

use super::{
    maps::{LbMaps, MapWriteError},
    metrics::Metrics,
    writer::{as_desired, write},
};
use crate::lb::{Desired, LbOptions, NodeContext, desired_from, plan};

/// How long a burst of watch events may pause before its change is
/// written: long enough to batch a `kubectl apply` of many objects, short
/// against the programming-latency goal.
const COALESCE: Duration = Duration::from_millis(2);

/// What the loop needs to know.
#[derive(Clone, Debug)]
pub struct ServiceLbSettings {
    /// This node's name.
    pub node_name: String,
    /// How often the state is recomputed without a change (repairs a
    /// failed write).
    pub resync: Duration,
}

/// Why the loop stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServiceLbError {
    /// The maps could not be read at start.
    #[error("reading the load-balancer maps: {0}")]
    Read(#[from] MapWriteError),
}

/// Runs until `shutdown`, recording every write in `metrics`.
pub async fn run<M: LbMaps>(
    client: Client,
    settings: ServiceLbSettings,
    maps: &mut M,
    metrics: &Metrics,
    shutdown: CancellationToken,
) -> Result<(), ServiceLbError> {
    let (services, services_writer) = reflector::store::<Service>();
    let (slices, slices_writer) = reflector::store::<EndpointSlice>();
    let (nodes, nodes_writer) = reflector::store::<Node>();
    let mut service_events = watcher(
        Api::<Service>::all(client.clone()),
        watcher::Config::default(),
    )
    .default_backoff()
    .reflect(services_writer)
    .boxed();
    let mut slice_events = watcher(
        Api::<EndpointSlice>::all(client.clone()),
        watcher::Config::default(),
    )
    .default_backoff()
    .reflect(slices_writer)
    .boxed();
    let mut node_events = watcher(Api::<Node>::all(client), watcher::Config::default())
        .default_backoff()
        .reflect(nodes_writer)
        .boxed();
    let mut current: Desired = as_desired(maps.read()?);
    let mut listed = [false; 3];
    let mut dirty_since: Option<Instant> = None;
    let mut tick = tokio::time::interval(settings.resync);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // A change is written once the events of its burst have stopped
        // arriving for COALESCE, and only once every watch has listed.
        let ready = listed.iter().all(|l| *l);
        let debounce = async {
            match dirty_since {
                Some(_) if ready => tokio::time::sleep(COALESCE).await,
                _ => std::future::pending().await,
            }
        };
        let event = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            e = service_events.next() => Some((0, e.map(|e| e.map(|e| is_init_done(&e))))),
            e = slice_events.next() => Some((1, e.map(|e| e.map(|e| is_init_done(&e))))),
            e = node_events.next() => Some((2, e.map(|e| e.map(|e| is_init_done(&e))))),
            _ = tick.tick() => {
                dirty_since.get_or_insert_with(Instant::now);
                continue;
            }
            () = debounce => None,
        };
        match event {
            Some((which, Some(Ok(init_done)))) => {
                if let Some(slot) = listed.get_mut(which).filter(|_| init_done) {
                    *slot = true;
                }
                dirty_since.get_or_insert_with(Instant::now);
                continue;
            }
            Some((_, Some(Err(e)))) => {
                tracing::warn!(error = %e, "watching for load balancing");
                continue;
            }
            Some((_, None)) => return Ok(()),
            None => {}
        }
        let Some(since) = dirty_since else { continue };
        let node = nodes
            .state()
            .iter()
            .find(|n| n.metadata.name.as_deref() == Some(settings.node_name.as_str()))
            .and_then(|n| NodeContext::from_node(n, LbOptions::default()))
            .unwrap_or_else(|| NodeContext {
                name: settings.node_name.clone(),
                ..NodeContext::default()
            });
        let services: Vec<Service> = services.state().iter().map(|s| (**s).clone()).collect();
        let slices: Vec<EndpointSlice> = slices.state().iter().map(|s| (**s).clone()).collect();
        let next = desired_from(&services, &slices, &node, &current);
        for problem in &next.problems {
            tracing::debug!(%problem, "left out of load balancing");
        }
        let steps = plan(&current, &next);
        match write(&steps, maps) {
            Ok(writes) => {
                current = next;
                dirty_since = None;
                let latency = since.elapsed();
                metrics.written(
                    latency,
                    [
                        (names::LB4_SERVICES, current.services.len()),
                        (names::LB4_BACKENDS, current.backends.len()),
                        (names::LB4_REV_NAT, current.rev_nat.len()),
                    ],
                );
                tracing::debug!(
                    writes,
                    latency_us = latency.as_micros() as u64,
                    "load-balancer maps written"
                );
            }
            Err((done, e)) => {
                metrics.write_failed();
                tracing::warn!(error = %e, applied = done, "writing the load-balancer maps");
                // Plan the next attempt from what the maps really hold.
                match maps.read() {
                    Ok(contents) => current = as_desired(contents),
                    Err(e) => tracing::warn!(error = %e, "reading the load-balancer maps back"),
                }
            }
        }
    }
}

/// Whether a watch has delivered its first full list.
fn is_init_done<K>(event: &watcher::Event<K>) -> bool {
    matches!(event, watcher::Event::InitDone)
}
