//! strait-cni against the CNI spec's edge cases, executed exactly as a
//! runtime does (clean environment, config on stdin, inside a node netns):
//! error codes, ADD/DEL/CHECK idempotence rules, GC, and 100 concurrent
//! ADDs with no duplicate address.

use std::{
    collections::BTreeSet,
    io::Write as _,
    path::Path,
    process::{Output, Stdio},
    time::Duration,
};

use serde_json::{Value, json};
use strait_tests::{
    Cluster, ClusterSpec, Netns, Node, PodNetwork, binary, netns, privileged, wait_until,
};

/// Runs strait-cni with `vars` (CNI_COMMAND etc.) and `stdin` in `node`.
fn cni(node: &Node, vars: &[(&str, &str)], stdin: &str) -> Output {
    let plugin = binary("strait-cni").expect("strait-cni built");
    let mut cmd = netns::command_in(node.netns().path(), plugin, None).expect("command");
    cmd.env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .envs(vars.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin.as_bytes()).expect("stdin");
    }
    child.wait_with_output().expect("wait")
}

fn code(out: &Output) -> Option<u64> {
    let error: Value = serde_json::from_slice(&out.stdout).ok()?;
    error["code"].as_u64()
}

fn conf(node: &Node, version: &str) -> String {
    json!({
        "cniVersion": version,
        "name": "spec",
        "type": "strait-cni",
        "podCIDR": node.pod_cidr().to_string(),
        "dataDir": node.state_dir().join("ipam-spec"),
    })
    .to_string()
}

fn attach<'a>(command: &'a str, id: &'a str, netns: &'a Path) -> Vec<(&'a str, &'a str)> {
    vec![
        ("CNI_COMMAND", command),
        ("CNI_CONTAINERID", id),
        ("CNI_NETNS", netns.to_str().expect("utf-8")),
        ("CNI_IFNAME", "eth0"),
        ("CNI_PATH", "/usr/lib/cni"),
    ]
}

/// How many pod host ends (`strv...`) the node has.
fn host_veths(node: &Node) -> usize {
    let links = node.netns().ip(&["-o", "link", "show"]).expect("links");
    String::from_utf8_lossy(&links.stdout)
        .lines()
        .filter(|l| l.contains(": strv"))
        .count()
}

#[test]
fn strait_cni_follows_the_spec_edge_cases() {
    if !privileged("strait_cni_follows_the_spec_edge_cases") {
        return;
    }
    let mut spec = ClusterSpec::new(1);
    spec.external = false;
    spec.pod_network = PodNetwork::Strait;
    let cluster = Cluster::start(spec).expect("cluster");
    let node = cluster.node(1).expect("node");
    let prefix = cluster.prefix().clone();
    let config = conf(node, "1.1.0");

    // VERSION for every version; errors carry the spec's codes.
    for version in ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] {
        let out = cni(
            node,
            &[("CNI_COMMAND", "VERSION")],
            &json!({"cniVersion": version}).to_string(),
        );
        assert!(out.status.success(), "VERSION {version}");
        let v: Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(v["supportedVersions"].as_array().map(Vec::len), Some(5));
    }
    let ns = Netns::create(&prefix.name("spec-a")).expect("netns");
    let add = attach("ADD", "spec-a", ns.path());
    let out = cni(node, &add, "{not json");
    assert_eq!(code(&out), Some(6), "malformed stdin");
    assert!(!out.status.success());
    let out = cni(
        node,
        &add,
        r#"{"cniVersion":"1.1.0","name":"spec","type":"strait-cni"}"#,
    );
    assert_eq!(code(&out), Some(7), "no podCIDR");
    let out = cni(node, &add, &conf(node, "2.0.0"));
    assert_eq!(code(&out), Some(1), "unknown cniVersion");
    let out = cni(node, &[("CNI_COMMAND", "ADD")], &config);
    assert_eq!(code(&out), Some(4), "missing env");

    // ADD, then ADD again is an error; CHECK passes, then fails after tampering.
    let out = cni(node, &add, &config);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let result: Value = serde_json::from_slice(&out.stdout).expect("result");
    assert_eq!(result["cniVersion"], "1.1.0");
    let again = cni(node, &add, &config);
    assert!(!again.status.success(), "ADD twice must fail");
    let mut check_conf: Value = serde_json::from_str(&config).expect("conf");
    check_conf["prevResult"] = result.clone();
    let check = attach("CHECK", "spec-a", ns.path());
    let out = cni(node, &check, &check_conf.to_string());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    ns.ip(&["route", "del", "default"]).expect("tamper");
    let out = cni(node, &check, &check_conf.to_string());
    assert!(!out.status.success(), "CHECK sees the missing route");
    assert!(String::from_utf8_lossy(&out.stdout).contains("default route"));

    // DEL twice, and DEL with the netns gone, both succeed.
    let del = attach("DEL", "spec-a", ns.path());
    assert!(cni(node, &del, &config).status.success());
    assert!(cni(node, &del, &config).status.success(), "second DEL");
    let gone = vec![
        ("CNI_COMMAND", "DEL"),
        ("CNI_CONTAINERID", "never"),
        ("CNI_IFNAME", "eth0"),
    ];
    assert!(
        cni(node, &gone, &config).status.success(),
        "DEL without netns or ADD"
    );

    // DEL answers before the kernel has removed the veth (a forked child
    // finishes that): an ADD of the same attachment right after it
    // replaces the dying host end, and the last DEL's is soon gone.
    for round in 0..3 {
        let out = cni(node, &add, &config);
        assert!(
            out.status.success(),
            "ADD right after DEL, round {round}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(cni(node, &del, &config).status.success());
    }
    wait_until("the last host veth removed", Duration::from_secs(2), || {
        (host_veths(node) == 0).then_some(())
    })
    .expect("DEL's child deletes the veth");

    // 100 concurrent ADDs: 100 distinct addresses.
    let namespaces: Vec<Netns> = (0..100)
        .map(|i| Netns::create(&prefix.name(&format!("c{i}"))).expect("netns"))
        .collect();
    let ips: BTreeSet<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = namespaces
            .iter()
            .enumerate()
            .map(|(i, ns)| {
                let (config, id) = (config.clone(), format!("c{i}"));
                scope.spawn(move || {
                    let out = cni(node, &attach("ADD", &id, ns.path()), &config);
                    assert!(
                        out.status.success(),
                        "{}",
                        String::from_utf8_lossy(&out.stdout)
                    );
                    let result: Value = serde_json::from_slice(&out.stdout).expect("result");
                    result["ips"][0]["address"]
                        .as_str()
                        .expect("address")
                        .to_owned()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    assert_eq!(ips.len(), 100, "no duplicate addresses");

    // GC keeps the listed attachments and releases the rest (and their veths).
    let mut gc_conf: Value = serde_json::from_str(&config).expect("conf");
    gc_conf["cni.dev/valid-attachments"] = json!(
        (0..50)
            .map(|i| json!({"containerID": format!("c{i}"), "ifname": "eth0"}))
            .collect::<Vec<_>>()
    );
    let out = cni(
        node,
        &[("CNI_COMMAND", "GC"), ("CNI_PATH", "/usr/lib/cni")],
        &gc_conf.to_string(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let leases = std::fs::read_dir(node.state_dir().join("ipam-spec").join("spec"))
        .expect("ipam dir")
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .parse::<std::net::IpAddr>()
                .is_ok()
        })
        .count();
    assert_eq!(leases, 50, "GC released the 50 unlisted attachments");
    assert_eq!(host_veths(node), 50, "GC removed the unlisted host veths");
    drop(namespaces);
}
