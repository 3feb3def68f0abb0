//! What exists from the first start: the default namespaces and the
//! `kubernetes` Service at the service CIDR's first address. Idempotent:
//! objects that exist are left as they are.

use std::net::IpAddr;

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

/// Creates whatever of the defaults is missing.
pub async fn ensure_defaults<S: Store>(
    objects: &Objects<S>,
    kubernetes_ip: IpAddr,
    api_port: u16,
) -> Result<(), ApiError> {
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
    )
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
        ensure_defaults(&objects, ip, 6443).await.expect("first");
        let after_first = objects.store().revision().await.expect("revision");
        ensure_defaults(&objects, ip, 6443)
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
    }
}
