//! The virtual-cluster harness itself: that it builds real, connected
//! clusters, that pods are wired through CNI, and that nothing outlives them.

use std::{
    fs,
    net::Ipv4Addr,
    os::unix::fs::MetadataExt as _,
    path::Path,
    sync::{Arc, Mutex},
};

use strait_tests::{Cluster, ClusterSpec, Prefix, leaks, privileged};

/// The acceptance scenario: 3 nodes, 2 pods each, an external client; every
/// endpoint reaches every other across the underlay; teardown leaves nothing.
#[test]
fn three_node_cluster_pings_across_the_underlay_and_leaves_nothing() {
    if !privileged("three_node_cluster_pings_across_the_underlay_and_leaves_nothing") {
        return;
    }
    let host_links_before = leaks::host_links();
    let mut cluster = Cluster::start(ClusterSpec::new(3)).expect("cluster starts");
    let prefix = cluster.prefix().clone();
    for node in 1..=3 {
        for i in 1..=2 {
            cluster
                .add_pod(node, &format!("web-{node}-{i}"))
                .expect("pod added");
        }
    }
    cluster.route_pod_cidrs().expect("pod routes");

    // IPAM gave each pod a distinct address in its node's CIDR.
    let mut ips: Vec<Ipv4Addr> = cluster.pods().iter().map(|p| p.ip()).collect();
    for pod in cluster.pods() {
        let node = cluster.node(pod.node()).expect("pod's node");
        assert!(
            node.pod_cidr().contains(&pod.ip()),
            "{} {}",
            pod.name(),
            pod.ip()
        );
        pod.check().expect("CNI CHECK passes on a fresh pod");
    }
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), 6, "pod IPs are unique");

    // Node to node and the external client to every node, over the underlay.
    let external = cluster.external().expect("external client");
    for node in cluster.nodes() {
        external.netns().ping(node.ip()).expect("external -> node");
        for other in cluster.nodes() {
            node.netns().ping(other.ip()).expect("node -> node");
        }
    }
    // Every pod to every pod (same node and across nodes), to every node,
    // and from the external client.
    for pod in cluster.pods() {
        for other in cluster.pods() {
            pod.netns()
                .ping(other.ip())
                .unwrap_or_else(|e| panic!("{} -> {}: {e}", pod.name(), other.name()));
        }
        for node in cluster.nodes() {
            pod.netns().ping(node.ip()).expect("pod -> node");
        }
        external.netns().ping(pod.ip()).expect("external -> pod");
    }

    // A pod process runs in the pod's netns and in its node's cgroup.
    let pod = cluster.pod("web-2-1").expect("pod");
    let process = pod.spawn(&["sleep", "600"]).expect("process starts");
    let pid = process.pid();
    let ns_of = |path: &Path| fs::metadata(path).expect("ns file").ino();
    assert_eq!(
        ns_of(&Path::new("/proc").join(pid.to_string()).join("ns/net")),
        ns_of(pod.netns().path()),
        "the process is in the pod's netns"
    );
    let node = cluster.node(2).expect("node 2");
    assert!(
        node.cgroup()
            .pids()
            .expect("cgroup.procs")
            .contains(&(pid as i32)),
        "the process is in node 2's cgroup"
    );
    // A daemon on the node: same cgroup, the node's netns.
    let daemon = node.spawn(&["sleep", "600"]).expect("daemon starts");
    assert!(
        node.cgroup()
            .pids()
            .expect("cgroup.procs")
            .contains(&(daemon.pid() as i32))
    );
    let daemon_pid = daemon.pid();
    std::mem::forget(daemon); // teardown of the node must kill it anyway

    let status = process
        .stop(std::time::Duration::from_secs(5))
        .expect("process stops");
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(15),
        "stopped by SIGTERM"
    );
    drop(cluster);
    assert_eq!(leaks::of(&prefix), vec![], "teardown left resources behind");
    assert_eq!(
        leaks::new_host_links(&host_links_before),
        vec![],
        "host links appeared"
    );
    assert!(
        !Path::new("/proc").join(daemon_pid.to_string()).exists()
            || fs::read_to_string(format!("/proc/{daemon_pid}/stat"))
                .is_ok_and(|s| s.contains(") Z ")),
        "the node's daemon was killed with its node"
    );
}

/// A panicking test still tears its cluster down.
#[test]
fn teardown_runs_when_a_test_panics() {
    if !privileged("teardown_runs_when_a_test_panics") {
        return;
    }
    let seen: Arc<Mutex<Option<Prefix>>> = Arc::default();
    let seen_in_test = seen.clone();
    let outcome = std::thread::spawn(move || {
        let mut cluster = Cluster::start(ClusterSpec::new(2)).expect("cluster starts");
        cluster.add_pod(1, "doomed").expect("pod added");
        *seen_in_test.lock().expect("lock") = Some(cluster.prefix().clone());
        assert!(
            !leaks::of(cluster.prefix()).is_empty(),
            "the cluster exists"
        );
        panic!("deliberate panic with a live cluster");
    })
    .join();
    assert!(outcome.is_err(), "the test body panicked");
    let prefix = seen
        .lock()
        .expect("lock")
        .clone()
        .expect("cluster was built");
    assert_eq!(leaks::of(&prefix), vec![]);
}

/// Removing a pod runs CNI DEL (its veth goes from the node) and deletes
/// its netns; bad requests are refused with clear errors.
#[test]
fn pods_are_removed_through_cni_del_and_bad_requests_are_refused() {
    if !privileged("pods_are_removed_through_cni_del_and_bad_requests_are_refused") {
        return;
    }
    let mut cluster = Cluster::start(ClusterSpec::new(1)).expect("cluster starts");
    let node_links = |c: &Cluster| {
        let out = c
            .node(1)
            .expect("node")
            .exec(&["ip", "-o", "link"])
            .expect("ip link");
        String::from_utf8_lossy(&out.stdout).lines().count()
    };
    let before = node_links(&cluster);
    let pod = cluster.add_pod(1, "short-lived").expect("pod added");
    let pod_ns = pod.netns().path().to_owned();
    assert!(node_links(&cluster) > before, "ADD made a host-side veth");

    let dup = cluster
        .add_pod(1, "short-lived")
        .expect_err("duplicate name refused");
    assert!(dup.to_string().contains("exists already"), "{dup}");
    let missing = cluster
        .add_pod(7, "elsewhere")
        .expect_err("unknown node refused");
    assert!(missing.to_string().contains("no node 7"), "{missing}");
    assert!(
        Cluster::start(ClusterSpec::new(0)).is_err(),
        "a cluster needs nodes"
    );

    cluster.remove_pod("short-lived").expect("DEL succeeds");
    assert!(!pod_ns.exists(), "the pod netns is gone");
    // The bridge stays; the pod's veth does not.
    assert_eq!(node_links(&cluster), before + 1, "only cni0 remains");
    assert!(
        cluster.remove_pod("short-lived").is_err(),
        "a second remove is an error"
    );
}

/// The leak check is not a check that cannot fail: it finds resources left
/// by a "crashed" run, and `clean` removes them.
#[test]
fn leak_check_finds_and_cleans_what_a_crashed_run_left() {
    if !privileged("leak_check_finds_and_cleans_what_a_crashed_run_left") {
        return;
    }
    let prefix = Prefix::unique();
    // Simulate a killed run: build resources and skip their destructors.
    let netns = strait_tests::Netns::create(&prefix.name("n1")).expect("netns");
    std::mem::forget(netns);
    fs::create_dir(Path::new("/sys/fs/cgroup/unified").join(prefix.name("n1"))).expect("cgroup");
    fs::create_dir(Path::new("/sys/fs/bpf").join(prefix.name("n1"))).expect("bpffs dir");

    let found = leaks::of(&prefix);
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(leaks::all().iter().any(|l| found.contains(l)));
    assert_eq!(leaks::clean(&found), vec![]);
    assert_eq!(leaks::of(&prefix), vec![]);
}

/// Strait daemons start inside a node: its netns, its cgroup, its name.
#[test]
fn strait_runs_inside_a_node() {
    if !privileged("strait_runs_inside_a_node") {
        return;
    }
    let cluster = Cluster::start(ClusterSpec::new(1)).expect("cluster starts");
    let node = cluster.node(1).expect("node");
    // `strait up` prints its plan and exits 0; a daemon that is not built
    // yet exits 1 with its reason. Both ran as processes of the node.
    let up = node
        .spawn_strait(&["up", "--nodes", "1"])
        .expect("strait starts");
    let status = up
        .stop_after_exit(std::time::Duration::from_secs(10))
        .expect("exits");
    assert!(status.success(), "strait up: {status}");
    let agent = node
        .spawn_strait(&["agent", "--kubeconfig", "/nonexistent"])
        .expect("strait starts");
    let status = agent
        .stop_after_exit(std::time::Duration::from_secs(10))
        .expect("exits");
    assert_eq!(status.code(), Some(1), "an unbuilt daemon fails loudly");
}
