//! What exists from the first start: the default namespaces and the
//! `kubernetes` Service at the service CIDR's first address, with Endpoints
//! and an EndpointSlice naming this API server. Idempotent: objects that
//! exist are left as they are, except that a replica adds its own address
//! to the `kubernetes` endpoints when it is missing.

use std::net::{IpAddr, SocketAddr};

use serde_json::{Value, json};

use crate::{objects::Objects, resources, status::ApiError, store::Store};

/// The namespaces every cluster has.
pub const DEFAULT_NAMESPACES: &[&str] =
    &["default", "kube-system", "kube-public", "kube-node-lease"];

fn namespace(name: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    })
}

fn kubernetes_service(cluster_ip: IpAddr, api_port: u16) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": {"component": "apiserver", "provider": "kubernetes"},
        },
        "spec": {
            "type": "ClusterIP",
            "clusterIP": cluster_ip.to_string(),
            "clusterIPs": [cluster_ip.to_string()],
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": api_port}],
            "sessionAffinity": "None",
            "ipFamilies": [if cluster_ip.is_ipv4() { "IPv4" } else { "IPv6" }],
            "ipFamilyPolicy": "SingleStack",
            "internalTrafficPolicy": "Cluster",
        },
    })
}

fn kubernetes_endpoints(addresses: &[IpAddr], api_port: u16) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"},
        },
        "subsets": [{
            "addresses": addresses.iter().map(|ip| json!({"ip": ip.to_string()})).collect::<Vec<_>>(),
            "ports": [{"name": "https", "port": api_port, "protocol": "TCP"}],
        }],
    })
}

fn kubernetes_slice(addresses: &[IpAddr], api_port: u16) -> Value {
    let family = match addresses.first() {
        Some(IpAddr::V6(_)) => "IPv6",
        _ => "IPv4",
    };
    json!({
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": {"kubernetes.io/service-name": "kubernetes"},
        },
        "addressType": family,
        "endpoints": addresses.iter().map(|ip| json!({
            "addresses": [ip.to_string()],
            "conditions": {"ready": true},
        })).collect::<Vec<_>>(),
        "ports": [{"name": "https", "port": api_port, "protocol": "TCP"}],
    })
}

/// The addresses an Endpoints object lists.
fn endpoint_addresses(endpoints: &Value) -> Vec<IpAddr> {
    endpoints
        .pointer("/subsets/0/addresses")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|a| a.get("ip").and_then(Value::as_str)?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Makes the `kubernetes` Endpoints and EndpointSlice list `api` (adding
/// it to what other replicas wrote).
async fn ensure_kubernetes_endpoints<S: Store>(
    objects: &Objects<S>,
    api: SocketAddr,
) -> Result<(), ApiError> {
    let endpoints_r = resources::find("", "v1", "endpoints")
        .ok_or_else(|| ApiError::internal("endpoints are not served"))?;
    let slices_r = resources::find("discovery.k8s.io", "v1", "endpointslices")
        .ok_or_else(|| ApiError::internal("endpointslices are not served"))?;
    let stored = match objects
        .get(endpoints_r, Some("default"), "kubernetes")
        .await
    {
        Ok(stored) => Some(stored),
        Err(e) if e.code == 404 => None,
        Err(e) => return Err(e),
    };
    let mut addresses = stored.as_ref().map(endpoint_addresses).unwrap_or_default();
    if addresses.contains(&api.ip()) && stored.is_some() {
        return Ok(());
    }
    addresses.push(api.ip());
    for (resource, desired) in [
        (endpoints_r, kubernetes_endpoints(&addresses, api.port())),
        (slices_r, kubernetes_slice(&addresses, api.port())),
    ] {
        match objects.get(resource, Some("default"), "kubernetes").await {
            Ok(_) => {
                objects
                    .update(
                        resource,
                        Some("default"),
                        "kubernetes",
                        desired,
                        false,
                        |_, _| Ok(()),
                    )
                    .await?;
            }
            Err(e) if e.code == 404 => create_if_missing(
                objects
                    .create(resource, Some("default"), desired, |_| Ok(()))
                    .await,
            )?,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Creates whatever of the defaults is missing. `api` is the address
/// clients reach this server at.
pub async fn ensure_defaults<S: Store>(
    objects: &Objects<S>,
    kubernetes_ip: IpAddr,
    api: SocketAddr,
) -> Result<(), ApiError> {
    let api_port = api.port();
    let namespaces = resources::find("", "v1", "namespaces")
        .ok_or_else(|| ApiError::internal("namespaces are not served"))?;
    for name in DEFAULT_NAMESPACES {
        create_if_missing(
            objects
                .create(namespaces, None, namespace(name), |_| Ok(()))
                .await,
        )?;
    }
    // The default RBAC policy: cluster-admin for system:masters, discovery
    // and self-review for everyone authenticated, system:node for nodes.
    let (cluster_roles, bindings) = crate::rbac::bootstrap_policy();
    let roles_resource = resources::find("rbac.authorization.k8s.io", "v1", "clusterroles")
        .ok_or_else(|| ApiError::internal("clusterroles are not served"))?;
    let bindings_resource =
        resources::find("rbac.authorization.k8s.io", "v1", "clusterrolebindings")
            .ok_or_else(|| ApiError::internal("clusterrolebindings are not served"))?;
    for role in cluster_roles {
        let value = serde_json::to_value(role).map_err(|e| ApiError::internal(e.to_string()))?;
        create_if_missing(
            objects
                .create(roles_resource, None, value, |_| Ok(()))
                .await,
        )?;
    }
    for binding in bindings {
        let value = serde_json::to_value(binding).map_err(|e| ApiError::internal(e.to_string()))?;
        create_if_missing(
            objects
                .create(bindings_resource, None, value, |_| Ok(()))
                .await,
        )?;
    }
    let services = resources::find("", "v1", "services")
        .ok_or_else(|| ApiError::internal("services are not served"))?;
    create_if_missing(
        objects
            .create(
                services,
                Some("default"),
                kubernetes_service(kubernetes_ip, api_port),
                |_| Ok(()),
            )
            .await,
    )?;
    ensure_kubernetes_endpoints(objects, api).await
}

fn create_if_missing(result: Result<Value, ApiError>) -> Result<(), ApiError> {
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.reason == "AlreadyExists" => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{request::Query, store::SqliteStore};

    #[tokio::test]
    async fn defaults_exist_after_one_or_many_starts() {
        let dir = tempfile::TempDir::new().expect("tempdir");
        let objects = Objects::new(SqliteStore::open(&dir.path().join("db")).expect("store"));
        let ip: IpAddr = "10.96.0.1".parse().expect("ip");
        let api: SocketAddr = "172.30.0.5:6443".parse().expect("addr");
        ensure_defaults(&objects, ip, api).await.expect("first");
        let after_first = objects.store().revision().await.expect("revision");
        ensure_defaults(&objects, ip, api)
            .await
            .expect("second is a no-op");
        let after_second = objects.store().revision().await.expect("revision");
        assert_eq!(after_second, after_first, "no writes on the second start");
        let namespaces = resources::find("", "v1", "namespaces").expect("ns");
        let list = objects
            .list(namespaces, None, &Query::default(), |_| true)
            .await
            .expect("list");
        let mut names: Vec<&str> = list["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|n| n["metadata"]["name"].as_str())
            .collect();
        names.sort_unstable();
        assert_eq!(
            names,
            ["default", "kube-node-lease", "kube-public", "kube-system"]
        );
        let bindings = resources::find("rbac.authorization.k8s.io", "v1", "clusterrolebindings")
            .expect("clusterrolebindings");
        let admin = objects
            .get(bindings, None, "cluster-admin")
            .await
            .expect("cluster-admin binding");
        assert_eq!(admin["subjects"][0]["name"], "system:masters");
        let services = resources::find("", "v1", "services").expect("svc");
        let svc = objects
            .get(services, Some("default"), "kubernetes")
            .await
            .expect("kubernetes svc");
        assert_eq!(svc["spec"]["clusterIP"], "10.96.0.1");
        let endpoints_r = resources::find("", "v1", "endpoints").expect("endpoints");
        let endpoints = objects
            .get(endpoints_r, Some("default"), "kubernetes")
            .await
            .expect("kubernetes endpoints");
        assert_eq!(endpoints["subsets"][0]["addresses"][0]["ip"], "172.30.0.5");
        assert_eq!(endpoints["subsets"][0]["ports"][0]["port"], 6443);

        // A second replica adds itself; both then serve.
        let other: SocketAddr = "172.30.0.6:6443".parse().expect("addr");
        ensure_defaults(&objects, ip, other).await.expect("replica");
        let slices_r = resources::find("discovery.k8s.io", "v1", "endpointslices").expect("slices");
        let slice = objects
            .get(slices_r, Some("default"), "kubernetes")
            .await
            .expect("kubernetes slice");
        let addresses: Vec<&str> = slice["endpoints"]
            .as_array()
            .expect("endpoints")
            .iter()
            .filter_map(|e| e["addresses"][0].as_str())
            .collect();
        assert_eq!(addresses, ["172.30.0.5", "172.30.0.6"]);
        assert_eq!(
            slice["metadata"]["labels"]["kubernetes.io/service-name"],
            "kubernetes"
        );
    }
}
