//! Applying the [`allocate`](crate::allocate) allocators to objects: which
//! addresses a Service or Node claims, assigning what it asks the server to
//! choose, and what to give back when it goes. Pure: objects and
//! allocators in, objects and claims out; the server serializes calls.

use std::net::IpAddr;

use ipnet::IpNet;
use serde_json::{Value, json};

use crate::{
    allocate::{AllocError, ClusterIpAllocator, NodePortAllocator, PodCidrAllocator, RangeError},
    validation::{FieldCause, Path},
};

/// Everything allocated from the cluster's ranges.
#[derive(Debug)]
pub struct Allocators {
    /// Service ClusterIPs.
    pub cluster_ips: ClusterIpAllocator,
    /// Service NodePorts.
    pub node_ports: NodePortAllocator,
    /// Node pod CIDRs.
    pub pod_cidrs: PodCidrAllocator,
}

/// What one object holds from the allocators.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Claims {
    /// ClusterIPs.
    pub ips: Vec<IpAddr>,
    /// NodePorts (each once, even if used for TCP and UDP).
    pub ports: Vec<u16>,
    /// Pod CIDRs.
    pub cidrs: Vec<IpNet>,
}

fn str_at<'a>(object: &'a Value, pointer: &str) -> Option<&'a str> {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn service_type(service: &Value) -> &str {
    str_at(service, "/spec/type").unwrap_or("ClusterIP")
}

fn wants_node_ports(service: &Value) -> bool {
    matches!(service_type(service), "NodePort" | "LoadBalancer")
}

/// What `object` (a Service or Node) holds, as stored.
pub fn claims_of(kind: &str, object: &Value) -> Claims {
    let mut claims = Claims::default();
    match kind {
        "Service" => {
            if let Some(ip) = str_at(object, "/spec/clusterIP").and_then(|s| s.parse().ok()) {
                claims.ips.push(ip);
            }
            for port in object
                .pointer("/spec/ports")
                .and_then(Value::as_array)
                .filter(|_| wants_node_ports(object))
                .into_iter()
                .flatten()
            {
                if let Some(p) = port
                    .get("nodePort")
                    .and_then(Value::as_u64)
                    .and_then(|p| u16::try_from(p).ok())
                    && !claims.ports.contains(&p)
                {
                    claims.ports.push(p);
                }
            }
        }
        "Node" => {
            if let Some(cidr) = str_at(object, "/spec/podCIDR").and_then(|s| s.parse().ok()) {
                claims.cidrs.push(cidr);
            }
        }
        _ => {}
    }
    claims
}

/// A path such as `spec.ports[0].nodePort` from its dotted form.
fn path(dotted: &str) -> Path {
    let mut parts = dotted.split('.');
    let mut path = Path::new(parts.next().unwrap_or(""));
    for part in parts {
        path = path.child(part);
    }
    path
}

fn cause(field: &str, value: &str, error: &AllocError) -> FieldCause {
    FieldCause::invalid(&path(field), value, &format!("failed to allocate: {error}"))
}

impl Allocators {
    /// Allocators over the configured ranges.
    pub fn new(
        service_cidr: IpNet,
        node_ports: std::ops::RangeInclusive<u16>,
        cluster_cidr: IpNet,
        node_prefix_len: u8,
    ) -> Result<Allocators, RangeError> {
        Ok(Allocators {
            cluster_ips: ClusterIpAllocator::new(service_cidr)?,
            node_ports: NodePortAllocator::new(node_ports)?,
            pod_cidrs: PodCidrAllocator::new(cluster_cidr, node_prefix_len)?,
        })
    }

    /// Records what stored objects already hold (at startup). Returns a
    /// description of each claim that could not be honoured.
    pub fn restore<'a>(
        &mut self,
        objects: impl IntoIterator<Item = (&'a str, &'a Value)>,
    ) -> Vec<String> {
        let mut problems = Vec::new();
        for (kind, object) in objects {
            let name = str_at(object, "/metadata/name").unwrap_or("?");
            for problem in self.restore_claims(&claims_of(kind, object)) {
                problems.push(format!("{kind} {name}: {problem}"));
            }
        }
        problems
    }

    /// Marks `claims` taken (held elsewhere, e.g. by another replica).
    /// Returns a description of each value that could not be marked
    /// (already taken here, or outside the configured ranges).
    pub fn restore_claims(&mut self, claims: &Claims) -> Vec<String> {
        let mut problems = Vec::new();
        for ip in &claims.ips {
            if let Err(e) = self.cluster_ips.allocate(*ip) {
                problems.push(format!("clusterIP {ip}: {e}"));
            }
        }
        for port in &claims.ports {
            if let Err(e) = self.node_ports.allocate(*port) {
                problems.push(format!("nodePort {port}: {e}"));
            }
        }
        for cidr in &claims.cidrs {
            if let Err(e) = self.pod_cidrs.allocate(*cidr) {
                problems.push(format!("podCIDR {cidr}: {e}"));
            }
        }
        problems
    }

    /// Gives back `claims`.
    pub fn release(&mut self, claims: &Claims) {
        for ip in &claims.ips {
            self.cluster_ips.release(*ip);
        }
        for port in &claims.ports {
            self.node_ports.release(*port);
        }
        for cidr in &claims.cidrs {
            self.pod_cidrs.release(*cidr);
        }
    }

    /// Assigns what a new object asks for (explicit values are honoured or
    /// refused, empty ones chosen) and returns what it now holds. On error
    /// nothing stays allocated.
    pub fn assign(&mut self, kind: &str, object: &mut Value) -> Result<Claims, Vec<FieldCause>> {
        self.reassign(kind, &Claims::default(), object)
    }

    /// Like [`Allocators::assign`], for an update of an object that held
    /// `old`: values it keeps stay allocated, new ones are allocated, and
    /// the caller releases `old` minus the returned claims once the update
    /// is stored.
    pub fn reassign(
        &mut self,
        kind: &str,
        old: &Claims,
        object: &mut Value,
    ) -> Result<Claims, Vec<FieldCause>> {
        let mut taken = Claims::default();
        let result = match kind {
            "Service" => self.assign_service(old, object, &mut taken),
            "Node" => self.assign_node(old, object, &mut taken),
            _ => Ok(()),
        };
        match result {
            Ok(()) => Ok(claims_of(kind, object)),
            Err(cause) => {
                self.release(&taken);
                Err(vec![cause])
            }
        }
    }

    fn assign_service(
        &mut self,
        old: &Claims,
        svc: &mut Value,
        taken: &mut Claims,
    ) -> Result<(), FieldCause> {
        let external_name = service_type(svc) == "ExternalName";
        match str_at(svc, "/spec/clusterIP") {
            _ if external_name => {}
            Some("None") => {}
            Some(requested) => {
                let ip: IpAddr = requested.parse().map_err(|_| {
                    FieldCause::invalid(
                        &path("spec.clusterIPs[0]"),
                        requested,
                        "must be a valid IP address",
                    )
                })?;
                if !old.ips.contains(&ip) {
                    self.cluster_ips
                        .allocate(ip)
                        .map_err(|e| cause("spec.clusterIPs[0]", requested, &e))?;
                    taken.ips.push(ip);
                }
                set_cluster_ip(svc, ip);
            }
            None => {
                let ip = self
                    .cluster_ips
                    .allocate_next()
                    .map_err(|e| cause("spec.clusterIPs", "", &e))?;
                taken.ips.push(ip);
                set_cluster_ip(svc, ip);
            }
        }
        if !wants_node_ports(svc) {
            return Ok(());
        }
        let count = svc
            .pointer("/spec/ports")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        for i in 0..count {
            let pointer = format!("/spec/ports/{i}/nodePort");
            let requested = svc
                .pointer(&pointer)
                .and_then(Value::as_u64)
                .filter(|p| *p != 0);
            let port = match requested {
                Some(p) => {
                    let port = u16::try_from(p).map_err(|_| {
                        FieldCause::invalid(
                            &path(&format!("spec.ports[{i}].nodePort")),
                            i64::try_from(p).unwrap_or(i64::MAX),
                            "must be between 1 and 65535, inclusive",
                        )
                    })?;
                    // The same port may serve TCP and UDP of one Service.
                    if !old.ports.contains(&port) && !taken.ports.contains(&port) {
                        self.node_ports.allocate(port).map_err(|e| {
                            cause(&format!("spec.ports[{i}].nodePort"), &p.to_string(), &e)
                        })?;
                        taken.ports.push(port);
                    }
                    port
                }
                None => {
                    let port = self
                        .node_ports
                        .allocate_next()
                        .map_err(|e| cause(&format!("spec.ports[{i}].nodePort"), "", &e))?;
                    taken.ports.push(port);
                    port
                }
            };
            if let Some(slot) = svc
                .pointer_mut(&format!("/spec/ports/{i}"))
                .and_then(Value::as_object_mut)
            {
                slot.insert("nodePort".into(), json!(port));
            }
        }
        Ok(())
    }

    fn assign_node(
        &mut self,
        old: &Claims,
        node: &mut Value,
        taken: &mut Claims,
    ) -> Result<(), FieldCause> {
        let cidr = match str_at(node, "/spec/podCIDR") {
            Some(requested) => {
                let cidr: IpNet = requested.parse().map_err(|_| {
                    FieldCause::invalid(&path("spec.podCIDR"), requested, "must be a valid CIDR")
                })?;
                if !old.cidrs.contains(&cidr) {
                    self.pod_cidrs
                        .allocate(cidr)
                        .map_err(|e| cause("spec.podCIDR", requested, &e))?;
                    taken.cidrs.push(cidr);
                }
                cidr
            }
            None => {
                let cidr = self
                    .pod_cidrs
                    .allocate_next()
                    .map_err(|e| cause("spec.podCIDR", "", &e))?;
                taken.cidrs.push(cidr);
                cidr
            }
        };
        if let Some(spec) = node
            .as_object_mut()
            .map(|o| o.entry("spec").or_insert_with(|| json!({})))
        {
            spec["podCIDR"] = json!(cidr.to_string());
            spec["podCIDRs"] = json!([cidr.to_string()]);
        }
        Ok(())
    }
}

fn set_cluster_ip(svc: &mut Value, ip: IpAddr) {
    if let Some(spec) = svc
        .as_object_mut()
        .map(|o| o.entry("spec").or_insert_with(|| json!({})))
    {
        spec["clusterIP"] = json!(ip.to_string());
        spec["clusterIPs"] = json!([ip.to_string()]);
        spec["ipFamilies"] = json!([if ip.is_ipv4() { "IPv4" } else { "IPv6" }]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allocators() -> Allocators {
        Allocators::new(
            "10.96.0.0/12".parse().expect("cidr"),
            30000..=32767,
            "10.244.0.0/16".parse().expect("cidr"),
            24,
        )
        .expect("ranges")
    }

    #[test]
    fn services_get_an_ip_and_node_ports_and_give_them_back() {
        let mut a = allocators();
        let mut svc = json!({"spec": {"type": "NodePort", "ports": [{"port": 80}, {"port": 53, "nodePort": 30053}]}});
        let claims = a.assign("Service", &mut svc).expect("assigned");
        let ip: IpAddr = svc["spec"]["clusterIP"]
            .as_str()
            .expect("ip")
            .parse()
            .expect("ip");
        assert!(a.cluster_ips.is_allocated(ip));
        assert_eq!(svc["spec"]["clusterIPs"], json!([ip.to_string()]));
        assert_eq!(svc["spec"]["ports"][1]["nodePort"], 30053);
        let dynamic = svc["spec"]["ports"][0]["nodePort"].as_u64().expect("port");
        assert!((30000..=32767).contains(&dynamic));
        assert_eq!(claims, claims_of("Service", &svc));

        // The same explicit IP or port again is refused and leaks nothing.
        let used_before = (a.cluster_ips.used(), a.node_ports.used());
        let mut clash = json!({"spec": {"type": "NodePort", "clusterIP": "10.96.100.100",
                                        "ports": [{"port": 1, "nodePort": 30053}]}});
        let causes = a.assign("Service", &mut clash).expect_err("port taken");
        assert_eq!(causes[0].field, "spec.ports[0].nodePort");
        assert!(
            causes[0].message.contains("already allocated"),
            "{}",
            causes[0].message
        );
        assert_eq!(
            (a.cluster_ips.used(), a.node_ports.used()),
            used_before,
            "rolled back"
        );

        a.release(&claims);
        assert_eq!((a.cluster_ips.used(), a.node_ports.used()), (0, 0));
    }

    #[test]
    fn headless_external_name_and_cluster_ip_services() {
        let mut a = allocators();
        let mut headless = json!({"spec": {"clusterIP": "None", "ports": [{"port": 80}]}});
        assert_eq!(
            a.assign("Service", &mut headless).expect("ok"),
            Claims::default()
        );
        let mut external = json!({"spec": {"type": "ExternalName", "externalName": "example.com"}});
        assert_eq!(
            a.assign("Service", &mut external).expect("ok"),
            Claims::default()
        );
        let mut plain = json!({"spec": {"ports": [{"port": 80, "nodePort": 30001}]}});
        let claims = a.assign("Service", &mut plain).expect("ok");
        assert!(
            claims.ports.is_empty(),
            "ClusterIP Services take no node port"
        );
        let mut bad = json!({"spec": {"clusterIP": "10.0.0.300"}});
        assert!(a.assign("Service", &mut bad).is_err());
    }

    #[test]
    fn updates_keep_what_stays_and_allocate_what_is_new() {
        let mut a = allocators();
        let mut svc = json!({"spec": {"ports": [{"port": 80}]}});
        let old = a.assign("Service", &mut svc).expect("ok");
        svc["spec"]["type"] = json!("NodePort");
        let new = a.reassign("Service", &old, &mut svc).expect("ok");
        assert_eq!(new.ips, old.ips, "the IP is kept, not re-allocated");
        assert_eq!(new.ports.len(), 1);
        assert_eq!(a.cluster_ips.used(), 1);
    }

    #[test]
    fn nodes_get_pod_cidrs_and_restore_rebuilds_state() {
        let mut a = allocators();
        let mut n1 = json!({"metadata": {"name": "n1"}});
        let mut n2 = json!({"metadata": {"name": "n2"}, "spec": {"podCIDR": "10.244.7.0/24"}});
        a.assign("Node", &mut n1).expect("ok");
        a.assign("Node", &mut n2).expect("ok");
        assert_eq!(n2["spec"]["podCIDRs"], json!(["10.244.7.0/24"]));
        assert_ne!(n1["spec"]["podCIDR"], n2["spec"]["podCIDR"]);
        let mut clash = json!({"spec": {"podCIDR": "10.244.7.0/24"}});
        assert!(a.assign("Node", &mut clash).is_err());

        let mut fresh = allocators();
        let svc = json!({"metadata": {"name": "s"}, "spec": {"clusterIP": "10.96.0.1"}});
        let problems = fresh.restore([
            ("Node", &n1),
            ("Node", &n2),
            ("Service", &svc),
            ("Node", &clash),
        ]);
        assert_eq!(fresh.pod_cidrs.used(), 2);
        assert!(
            fresh
                .cluster_ips
                .is_allocated("10.96.0.1".parse().expect("ip"))
        );
        assert_eq!(problems.len(), 1, "{problems:?}");
    }
}
