//! strait's side of the comparison: the same Services as the peers' rules,
//! as Kubernetes objects through the agent's pure core (`desired`, `plan`)
//! and its writer into the socket load balancer's pinned maps.

use std::{
    net::Ipv4Addr,
    path::Path,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, anyhow};
use k8s_openapi::api::{core::v1::Service, discovery::v1::EndpointSlice};
use strait_proxy_agent::{
    lb::{Desired, NodeContext, desired_from, plan},
    service_lb::{self, LbMaps as _},
    sock_lb::SocketLb,
};

use crate::rules;

/// The objects for `services` (one port each, TCP), as an API server would
/// hand them to the agent.
pub fn objects(services: &[rules::Service]) -> Result<(Vec<Service>, Vec<EndpointSlice>)> {
    let mut svcs = Vec::with_capacity(services.len());
    let mut slices = Vec::with_capacity(services.len());
    for (i, s) in services.iter().enumerate() {
        let target = s.endpoints.first().map_or(8080, |(_, port)| *port);
        svcs.push(serde_json::from_value(serde_json::json!({
            "metadata": {"name": format!("svc-{i}"), "namespace": "default"},
            "spec": {"clusterIP": s.ip.to_string(), "clusterIPs": [s.ip.to_string()],
                     "ports": [{"name": "p", "port": s.port, "protocol": "TCP", "targetPort": target}]},
        }))?);
        let endpoints: Vec<_> = s
            .endpoints
            .iter()
            .map(|(ip, _)| {
                serde_json::json!({"addresses": [ip.to_string()],
                                   "conditions": {"ready": true, "serving": true, "terminating": false}})
            })
            .collect();
        slices.push(serde_json::from_value(serde_json::json!({
            "metadata": {"name": format!("svc-{i}-1"), "namespace": "default",
                         "labels": {"kubernetes.io/service-name": format!("svc-{i}")}},
            "addressType": "IPv4",
            "ports": [{"name": "p", "port": target, "protocol": "TCP"}],
            "endpoints": endpoints,
        }))?);
    }
    Ok((svcs, slices))
}

/// The socket load balancer on one node and what its maps hold.
pub struct StraitLb {
    lb: SocketLb,
    current: Desired,
    node: NodeContext,
}

/// How long a state change took: computing it, and writing it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Programmed {
    /// `desired_from` + `plan`.
    pub compute: Duration,
    /// The map writes.
    pub write: Duration,
    /// How many writes.
    pub writes: usize,
}

impl Programmed {
    /// Both together.
    pub fn total(&self) -> Duration {
        self.compute + self.write
    }
}

impl StraitLb {
    /// Loads the programs with maps pinned in `bpffs` and attaches them to
    /// `cgroup`.
    pub fn start(bpffs: &Path, cgroup: &Path, node: &str, node_ip: Ipv4Addr) -> Result<StraitLb> {
        let mut lb = SocketLb::load(bpffs).context("loading strait's load balancer")?;
        lb.attach(cgroup).context("attaching the socket hooks")?;
        let current = service_lb::writer::as_desired(lb.read().map_err(|e| anyhow!("{e}"))?);
        Ok(StraitLb {
            lb,
            current,
            node: NodeContext {
                name: node.to_owned(),
                ips: vec![node_ip],
                ..NodeContext::default()
            },
        })
    }

    /// Makes the maps hold these objects' state.
    pub fn program(
        &mut self,
        services: &[Service],
        slices: &[EndpointSlice],
    ) -> Result<Programmed> {
        let started = Instant::now();
        let next = desired_from(services, slices, &self.node, &self.current);
        let steps = plan(&self.current, &next);
        let compute = started.elapsed();
        let started = Instant::now();
        let writes = service_lb::write(&steps, &mut self.lb)
            .map_err(|(done, e)| anyhow!("writing the maps failed after {done} writes: {e}"))?;
        let write = started.elapsed();
        self.current = next;
        Ok(Programmed {
            compute,
            write,
            writes,
        })
    }
}
