//! The agent's Prometheus metrics and its health endpoints: `/metrics`
//! (OpenMetrics text), `/healthz` (200 while the process serves) and
//! `/readyz` (200 once the load-balancer maps hold the first full state,
//! 503 before).

use std::{
    net::SocketAddr,
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode, body::Incoming, service::service_fn};
use hyper_util::rt::{TokioExecutor, TokioIo};
use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric as _, text::encode},
    metrics::{
        MetricType,
        counter::{ConstCounter, Counter},
        family::Family,
        gauge::Gauge,
        histogram::Histogram,
    },
    registry::Registry,
};
use tokio_util::sync::CancellationToken;

/// A map's name as a label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MapLabel {
    /// The map.
    pub map: &'static str,
}

/// Everything the agent exports.
pub struct Metrics {
    registry: Registry,
    programming: Histogram,
    entries: Family<MapLabel, Gauge>,
    write_errors: Counter,
    ready: AtomicBool,
}

impl Metrics {
    /// A fresh registry with every metric registered; with `bpffs`, the
    /// per-frontend translation counters are read from the maps pinned
    /// there at every scrape.
    pub fn new(bpffs: Option<PathBuf>) -> Arc<Metrics> {
        let mut registry = Registry::with_prefix("strait_lb");
        if let Some(dir) = bpffs {
            registry.register_collector(Box::new(SocketCounts { dir }));
        }
        // 50 us to about 13 s.
        let programming = Histogram::new(
            prometheus_client::metrics::histogram::exponential_buckets(0.000_05, 2.0, 18),
        );
        registry.register(
            "programming_duration_seconds",
            "From a watch event to its change written into the BPF maps",
            programming.clone(),
        );
        let entries = Family::<MapLabel, Gauge>::default();
        registry.register(
            "map_entries",
            "Entries in each load-balancer map",
            entries.clone(),
        );
        let write_errors = Counter::default();
        registry.register(
            "map_write_errors",
            "Map writes the kernel refused (the next reconcile retries)",
            write_errors.clone(),
        );
        Arc::new(Metrics {
            registry,
            programming,
            entries,
            write_errors,
            ready: AtomicBool::new(false),
        })
    }

    /// A change was written `latency` after its event; the maps now hold
    /// `sizes` entries (by map name). The first call makes `/readyz`
    /// answer 200.
    pub fn written(&self, latency: Duration, sizes: [(&'static str, usize); 3]) {
        self.programming.observe(latency.as_secs_f64());
        for (map, count) in sizes {
            self.entries
                .get_or_create(&MapLabel { map })
                .set(i64::try_from(count).unwrap_or(i64::MAX));
        }
        self.ready.store(true, Ordering::Relaxed);
    }

    /// A map write failed.
    pub fn write_failed(&self) {
        self.write_errors.inc();
    }

    /// Whether the first full state has been written.
    pub fn ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    /// The OpenMetrics text.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// A frontend as a label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FrontendLabel {
    frontend: String,
}

/// `strait_lb_socket_translations_total{frontend}`: the per-CPU counts of
/// `LB4_SOCK_COUNT` summed, named by `LB4_REV_NAT`. Read from the pins at
/// scrape time, so the loop that writes the maps is never blocked.
#[derive(Debug)]
struct SocketCounts {
    dir: PathBuf,
}

impl SocketCounts {
    fn read(&self) -> Vec<(String, u64)> {
        use aya::maps::{HashMap, Map, MapData, PerCpuHashMap};
        use strait_proxy_maps::lb::{RevNatKey, RevNatValue, host_addr, host_port, names};
        let open = |name: &str| MapData::from_pin(self.dir.join(name)).ok();
        let (Some(counts), Some(rev_nat)) = (open(names::LB4_SOCK_COUNT), open(names::LB4_REV_NAT))
        else {
            return Vec::new();
        };
        let (Ok(counts), Ok(rev_nat)) = (
            PerCpuHashMap::<_, u32, u64>::try_from(Map::PerCpuHashMap(counts)),
            HashMap::<_, RevNatKey, RevNatValue>::try_from(Map::HashMap(rev_nat)),
        ) else {
            return Vec::new();
        };
        counts
            .iter()
            .filter_map(Result::ok)
            .filter_map(|(index, per_cpu)| {
                let frontend = rev_nat.get(&RevNatKey { index }, 0).ok()?;
                let total = per_cpu.iter().fold(0u64, |a, b| a.saturating_add(*b));
                Some((
                    format!("{}:{}", host_addr(frontend.addr), host_port(frontend.port)),
                    total,
                ))
            })
            .collect()
    }
}

impl Collector for SocketCounts {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut family = encoder.encode_descriptor(
            "socket_translations",
            "Connections (and unconnected UDP messages) the socket hooks sent to a backend of this frontend",
            None,
            MetricType::Counter,
        )?;
        for (frontend, total) in self.read() {
            let labels = FrontendLabel { frontend };
            ConstCounter::new(total).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

/// The answer to one request.
pub fn respond(metrics: &Metrics, path: &str) -> (StatusCode, &'static str, String) {
    match path {
        "/metrics" => (
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            metrics.encode(),
        ),
        "/healthz" => (StatusCode::OK, "text/plain", "ok\n".to_owned()),
        "/readyz" if metrics.ready() => (StatusCode::OK, "text/plain", "ok\n".to_owned()),
        "/readyz" => (
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "the load-balancer maps are not programmed yet\n".to_owned(),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found\n".to_owned(),
        ),
    }
}

/// Serves [`respond`] on `listen` until `shutdown`.
pub async fn serve(
    listen: SocketAddr,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    loop {
        let (stream, _) = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            accepted = listener.accept() => accepted?,
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<Incoming>| {
                let (status, content_type, body) = respond(&metrics, request.uri().path());
                let response = Response::builder()
                    .status(status)
                    .header("content-type", content_type)
                    .body(Full::new(Bytes::from(body)));
                async move { response }
            });
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            // A client that goes away mid-request is its own business.
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readyz_flips_after_the_first_write_and_metrics_show_it() {
        let metrics = Metrics::new(None);
        assert_eq!(
            respond(&metrics, "/readyz").0,
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(respond(&metrics, "/healthz").0, StatusCode::OK);
        metrics.written(
            Duration::from_micros(300),
            [
                ("LB4_SERVICES", 11),
                ("LB4_BACKENDS", 10),
                ("LB4_REV_NAT", 1),
            ],
        );
        assert_eq!(respond(&metrics, "/readyz").0, StatusCode::OK);
        let (status, _, text) = respond(&metrics, "/metrics");
        assert_eq!(status, StatusCode::OK);
        assert!(
            text.contains("strait_lb_programming_duration_seconds_count 1"),
            "{text}"
        );
        assert!(
            text.contains("strait_lb_map_entries{map=\"LB4_SERVICES\"} 11"),
            "{text}"
        );
        assert!(
            text.contains("strait_lb_map_write_errors_total 0"),
            "{text}"
        );
        assert_eq!(respond(&metrics, "/nope").0, StatusCode::NOT_FOUND);
    }
}
