//! Garbage collection by ownerReferences through real kubectl: `kubectl
//! delete` with each `--cascade` policy, on objects whose owners are set
//! the way controllers set them.

use std::{path::Path, time::Duration};

use strait_tests::{Cluster, ClusterSpec, Node, privileged, wait_until};

/// Runs kubectl 1.33 in the node's netns; stdout when it succeeds.
fn kubectl(node: &Node, kubeconfig: &Path, args: &[&str]) -> Result<String, String> {
    strait_tests::control::run_kubectl(node, "1.33", kubeconfig, args)
}

/// Creates ConfigMap `name`, owned by `owner` (with its uid) when given.
fn config_map(node: &Node, kubeconfig: &Path, name: &str, owner: Option<&str>) {
    let mut manifest = format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n");
    if let Some(owner) = owner {
        let uid = kubectl(
            node,
            kubeconfig,
            &["get", "cm", owner, "-o", "jsonpath={.metadata.uid}"],
        )
        .expect("owner uid");
        manifest.push_str(&format!(
            "  ownerReferences:\n  - apiVersion: v1\n    kind: ConfigMap\n    name: {owner}\n    uid: {uid}\n    blockOwnerDeletion: true\n"
        ));
    }
    let path = kubeconfig.with_file_name(format!("{name}.yaml"));
    std::fs::write(&path, manifest).expect("manifest written");
    kubectl(
        node,
        kubeconfig,
        &["create", "-f", path.to_str().expect("utf-8")],
    )
    .expect("created");
}

fn exists(node: &Node, kubeconfig: &Path, name: &str) -> bool {
    kubectl(node, kubeconfig, &["get", "cm", name, "-o", "name"]).is_ok()
}

#[test]
fn kubectl_delete_cascades_as_asked() {
    if !privileged("kubectl_delete_cascades_as_asked") {
        return;
    }
    let cluster = Cluster::start(ClusterSpec::new(1)).expect("cluster");
    let node = cluster.node(1).expect("node");
    let data_dir = node.state_dir().join("control");
    let _control = strait_tests::control::start(node, &data_dir, &[]).expect("API server ready");
    let kc = data_dir.join("admin.kubeconfig");
    let gone = |name: &'static str| {
        let kc = kc.clone();
        move || (!exists(node, &kc, name)).then_some(())
    };

    // Background (kubectl's default): owner first, then the dependent.
    config_map(node, &kc, "bg-owner", None);
    config_map(node, &kc, "bg-dep", Some("bg-owner"));
    config_map(node, &kc, "bystander", None);
    kubectl(node, &kc, &["delete", "cm", "bg-owner"]).expect("delete");
    wait_until(
        "the background dependent is collected",
        Duration::from_secs(10),
        gone("bg-dep"),
    )
    .expect("collected");
    assert!(exists(node, &kc, "bystander"), "unrelated objects stay");

    // Foreground: kubectl waits for the owner, which waits for the dependent;
    // by the time kubectl returns both are gone.
    config_map(node, &kc, "fg-owner", None);
    config_map(node, &kc, "fg-dep", Some("fg-owner"));
    kubectl(
        node,
        &kc,
        &["delete", "cm", "fg-owner", "--cascade=foreground"],
    )
    .expect("delete");
    assert!(!exists(node, &kc, "fg-owner"));
    assert!(!exists(node, &kc, "fg-dep"), "deleted before its owner");

    // Orphan: the dependent stays, without the reference.
    config_map(node, &kc, "or-owner", None);
    config_map(node, &kc, "or-dep", Some("or-owner"));
    kubectl(node, &kc, &["delete", "cm", "or-owner", "--cascade=orphan"]).expect("delete");
    assert!(!exists(node, &kc, "or-owner"));
    let refs = kubectl(
        node,
        &kc,
        &[
            "get",
            "cm",
            "or-dep",
            "-o",
            "jsonpath={.metadata.ownerReferences}",
        ],
    )
    .expect("the orphan stays");
    assert_eq!(refs.trim(), "", "its reference is removed");

    // A policy the server does not know is refused, and nothing changes.
    let refused = kubectl(
        node,
        &kc,
        &[
            "delete",
            "--raw",
            "/api/v1/namespaces/default/configmaps/bystander?propagationPolicy=Sideways",
        ],
    )
    .expect_err("refused");
    assert!(refused.contains("Unsupported value"), "{refused}");
    assert!(exists(node, &kc, "bystander"));
}
