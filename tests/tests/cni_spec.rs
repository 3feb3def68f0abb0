//! strait-cni against the CNI spec's edge cases, executed exactly as a
//! runtime does (clean environment, config on stdin, inside a node netns):
//! error codes, ADD/DEL/CHECK idempotence rules, GC, 100 concurrent ADDs
//! with no duplicate address, a chain with the reference plugins run the
//! way libcni runs a conflist, ADDs killed half-way then cleaned by GC,
//! and the pod CIDR read from the Node object through the API.

use std::{
    collections::BTreeSet,
    io::Write as _,
    path::Path,
    process::{Output, Stdio},
    time::Duration,
};

use serde_json::{Value, json};
use strait_tests::{
    Cluster, ClusterSpec, Netns, Node, PodNetwork, binary, cni::REFERENCE_PLUGIN_DIR, control,
    netns, privileged, wait_until,
};

/// Runs strait-cni with `vars` (CNI_COMMAND etc.) and `stdin` in `node`.
fn cni(node: &Node, vars: &[(&str, &str)], stdin: &str) -> Output {
    let plugin = binary("strait-cni").expect("strait-cni built");
    exec(node, &plugin, vars, stdin)
}

/// Runs plugin binary `plugin` as a runtime does: in `node`'s netns, with
/// only PATH and `vars` in its environment and `stdin` as its config.
fn exec(node: &Node, plugin: &Path, vars: &[(&str, &str)], stdin: &str) -> Output {
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
    for round in 0..10 {
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

/// The CNI_* variables of one attachment, with `cni_path` as CNI_PATH.
fn vars<'a>(
    command: &'a str,
    id: &'a str,
    netns: &'a Path,
    cni_path: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("CNI_COMMAND", command),
        ("CNI_CONTAINERID", id),
        ("CNI_NETNS", netns.to_str().expect("utf-8")),
        ("CNI_IFNAME", "eth0"),
        ("CNI_PATH", cni_path),
    ]
}

/// The config libcni hands one plugin of a conflist: the plugin's keys, the
/// list's name and cniVersion, the previous result when there is one, and
/// under runtimeConfig the runtime's values for the capabilities the
/// plugin declares.
fn plugin_conf(list: &Value, plugin: &Value, prev: Option<&Value>, runtime: &Value) -> Value {
    let mut conf = plugin.clone();
    conf["name"] = list["name"].clone();
    conf["cniVersion"] = list["cniVersion"].clone();
    if let Some(prev) = prev {
        conf["prevResult"] = prev.clone();
    }
    let mut runtime_config = serde_json::Map::new();
    for (capability, on) in plugin["capabilities"].as_object().into_iter().flatten() {
        if on.as_bool() == Some(true)
            && let Some(value) = runtime.get(capability)
        {
            runtime_config.insert(capability.clone(), value.clone());
        }
    }
    if !runtime_config.is_empty() {
        conf["runtimeConfig"] = Value::Object(runtime_config);
    }
    conf
}

/// The names of `node`'s links of `kind` (`ip link show type <kind>`).
fn links_of_type(node: &Node, kind: &str) -> Vec<String> {
    let out = node
        .netns()
        .ip(&["-o", "link", "show", "type", kind])
        .expect("ip link");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|name| name.split('@').next().unwrap_or(name).to_owned())
        .collect()
}

/// The addresses reserved in an IPAM store directory.
fn reservations(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| name.parse::<std::net::IpAddr>().is_ok())
        .collect()
}

/// The first address of a result, without its prefix length.
fn result_ip(result: &Value) -> std::net::Ipv4Addr {
    let address = result["ips"][0]["address"].as_str().expect("an address");
    let net: ipnet::Ipv4Net = address.parse().expect("an IPv4 address");
    net.addr()
}

#[test]
fn strait_cni_chains_with_the_reference_plugins() {
    if !privileged("strait_cni_chains_with_the_reference_plugins") {
        return;
    }
    let mut spec = ClusterSpec::new(1);
    spec.pod_network = PodNetwork::Strait;
    let cluster = Cluster::start(spec).expect("cluster");
    let node = cluster.node(1).expect("node");
    let external = cluster.external().expect("external client");
    let pod = Netns::create(&cluster.prefix().name("chain")).expect("pod netns");
    let strait = binary("strait-cni").expect("strait-cni built");
    let strait_dir = strait.parent().expect("a directory").display().to_string();
    let cni_path = format!("{strait_dir}:{REFERENCE_PLUGIN_DIR}");
    let state = node.state_dir();
    let list = json!({
        "cniVersion": "1.0.0",
        "name": "chain",
        "plugins": [
            {
                "type": "strait-cni",
                "podCIDR": node.pod_cidr().to_string(),
                "dataDir": state.join("ipam-chain"),
            },
            {"type": "portmap", "capabilities": {"portMappings": true}},
            {"type": "bandwidth", "capabilities": {"bandwidth": true}},
            {
                "type": "tuning",
                "sysctl": {"net.core.somaxconn": "777"},
                "dataDir": state.join("tuning"),
            },
        ],
    });
    let runtime = json!({
        "portMappings": [{"hostPort": 18080, "containerPort": 8080, "protocol": "tcp"}],
        "bandwidth": {
            "ingressRate": 100_000_000, "ingressBurst": 10_000_000,
            "egressRate": 100_000_000, "egressBurst": 10_000_000,
        },
    });
    let plugins = list["plugins"].as_array().expect("plugins").clone();
    let run = |command: &str, plugin: &Value, prev: Option<&Value>| -> Value {
        let conf = plugin_conf(&list, plugin, prev, &runtime);
        let kind = plugin["type"].as_str().expect("a type");
        let program = if kind == "strait-cni" {
            strait.clone()
        } else {
            Path::new(REFERENCE_PLUGIN_DIR).join(kind)
        };
        let env = vars(command, "chain-1", pod.path(), &cni_path);
        let out = exec(node, &program, &env, &conf.to_string());
        assert!(
            out.status.success(),
            "{kind} {command}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    };

    // ADD in order, each plugin handed the result of the one before.
    let mut result: Option<Value> = None;
    let mut strait_result = Value::Null;
    for plugin in &plugins {
        let out = run("ADD", plugin, result.as_ref());
        if plugin["type"] == "strait-cni" {
            strait_result = out.clone();
        }
        result = Some(out);
    }
    let result = result.expect("a final result");
    // strait-cni's interfaces and address reach the end of the chain
    // (bandwidth appends its ifb to the interfaces).
    assert_eq!(result["ips"], strait_result["ips"], "{result}");
    let interfaces = result["interfaces"].as_array().expect("interfaces");
    let ours = strait_result["interfaces"].as_array().expect("interfaces");
    assert_eq!(
        interfaces.get(..ours.len()),
        Some(ours.as_slice()),
        "{result}"
    );
    let host_end = interfaces
        .iter()
        .filter_map(|i| i["name"].as_str())
        .find(|n| n.starts_with("strv"))
        .expect("the host end in the result");
    assert!(
        interfaces
            .iter()
            .any(|i| i["name"] == "eth0" && i["sandbox"].as_str() == pod.path().to_str()),
        "{result}"
    );
    let pod_ip = result_ip(&result);
    assert!(node.pod_cidr().contains(&pod_ip), "{pod_ip}");

    // bandwidth found the host end through prevResult and shaped both ways.
    let qdisc = node
        .exec(&["tc", "qdisc", "show", "dev", host_end])
        .expect("tc");
    assert!(
        String::from_utf8_lossy(&qdisc.stdout).contains("tbf"),
        "no tbf on {host_end}: {}",
        String::from_utf8_lossy(&qdisc.stdout)
    );
    assert_eq!(links_of_type(node, "ifb").len(), 1, "bandwidth's ifb");
    // tuning's sysctl holds in the pod.
    let somaxconn = pod
        .exec(&["cat", "/proc/sys/net/core/somaxconn"])
        .expect("read sysctl");
    assert_eq!(String::from_utf8_lossy(&somaxconn.stdout).trim(), "777");
    // portmap: the node's port 18080 reaches the pod's 8080 from outside.
    // The server sends first and closes its side (-N), one connection at
    // a time, so a retried connect finds it listening again; the pod's
    // netns takes the loop with it.
    let _server = pod
        .spawn(
            &[
                "sh",
                "-c",
                "while :; do echo hello-from-pod | nc -N -l 8080; done",
            ],
            None,
        )
        .expect("server in the pod");
    let node_ip = node.ip().to_string();
    wait_until("the host port to forward", Duration::from_secs(10), || {
        let out = external.exec(&["nc", "-w", "2", &node_ip, "18080"]).ok()?;
        String::from_utf8_lossy(&out.stdout)
            .contains("hello-from-pod")
            .then_some(())
    })
    .expect("external client -> node:18080 -> pod:8080");

    // CHECK in order and DEL in reverse, each with the cached result.
    // portmap 1.1.1's CHECK looks for IPv6 rules an IPv4-only ADD never
    // made (containernetworking/plugins#819, fixed after Debian's 1.1.1),
    // so it is left out of CHECK.
    for plugin in plugins.iter().filter(|p| p["type"] != "portmap") {
        run("CHECK", plugin, Some(&result));
    }
    for plugin in plugins.iter().rev() {
        run("DEL", plugin, Some(&result));
    }
    wait_until("the chain's links removed", Duration::from_secs(2), || {
        (host_veths(node) == 0 && links_of_type(node, "ifb").is_empty()).then_some(())
    })
    .expect("DEL removed the veth and the ifb");
    let nat = node
        .exec(&["iptables-save", "-t", "nat"])
        .expect("iptables-save");
    let nat = String::from_utf8_lossy(&nat.stdout);
    assert!(
        !nat.contains("chain-1") && !nat.contains("CNI-DN-"),
        "portmap's rules are left: {nat}"
    );
    assert!(
        reservations(&state.join("ipam-chain").join("chain")).is_empty(),
        "the address was released"
    );
    let routes = node.netns().ip(&["route", "show", &pod_ip.to_string()]);
    assert!(
        routes.is_ok_and(|out| out.stdout.is_empty()),
        "the route to the pod is gone"
    );
}

#[test]
fn a_killed_add_leaves_nothing_after_gc() {
    if !privileged("a_killed_add_leaves_nothing_after_gc") {
        return;
    }
    let mut spec = ClusterSpec::new(1);
    spec.external = false;
    spec.pod_network = PodNetwork::Strait;
    let cluster = Cluster::start(spec).expect("cluster");
    let node = cluster.node(1).expect("node");
    let prefix = cluster.prefix().clone();
    // A /28: 13 pod addresses, so a leak would show as exhaustion.
    let data = node.state_dir().join("ipam-kill");
    let store = data.join("kill");
    let config = json!({
        "cniVersion": "1.1.0",
        "name": "kill",
        "type": "strait-cni",
        "podCIDR": "10.244.1.0/28",
        "dataDir": data,
    })
    .to_string();
    let plugin = binary("strait-cni").expect("strait-cni built");

    // One attachment that lives through everything.
    let keep_ns = Netns::create(&prefix.name("keep")).expect("netns");
    let out = cni(node, &attach("ADD", "keep", keep_ns.path()), &config);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let keep: Value = serde_json::from_slice(&out.stdout).expect("result");
    let keep_ip = result_ip(&keep).to_string();

    // SIGKILL ADDs after growing delays until some die between reserving
    // their address and finishing (a file left behind, maybe a veth).
    let mut namespaces = Vec::new();
    // (container ID, its netns's index in `namespaces`, the files it left)
    let mut killed: Vec<(String, usize, BTreeSet<String>)> = Vec::new();
    for attempt in 0..80u64 {
        if killed.len() >= 4 {
            break;
        }
        let id = format!("kill-{attempt}");
        let ns = Netns::create(&prefix.name(&format!("k{attempt}"))).expect("netns");
        let before = reservations(&store);
        let mut cmd = netns::command_in(node.netns().path(), &plugin, None).expect("command");
        cmd.env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .envs(attach("ADD", &id, ns.path()))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().expect("spawn");
        if let Some(mut input) = child.stdin.take() {
            input.write_all(config.as_bytes()).expect("stdin");
        }
        std::thread::sleep(Duration::from_micros(300 + 250 * (attempt % 40)));
        let _ = child.kill();
        let status = child.wait().expect("wait");
        let left: BTreeSet<String> = reservations(&store).difference(&before).cloned().collect();
        use std::os::unix::process::ExitStatusExt as _;
        match status.signal() {
            Some(9) if !left.is_empty() => killed.push((id, namespaces.len(), left)),
            Some(9) => {
                // Killed before it reserved anything; a runtime DELs anyway.
                assert!(
                    cni(node, &attach("DEL", &id, ns.path()), &config)
                        .status
                        .success()
                );
            }
            _ => {
                // It finished first: not the case under test.
                assert!(status.success(), "ADD {id} failed by itself: {status}");
                assert!(
                    cni(node, &attach("DEL", &id, ns.path()), &config)
                        .status
                        .success()
                );
            }
        }
        namespaces.push(ns);
    }
    assert!(
        !killed.is_empty(),
        "no SIGKILL landed after the reservation and before the end of ADD"
    );
    let killed_ips: BTreeSet<String> = killed.iter().flat_map(|(_, _, ips)| ips.clone()).collect();

    // GC with only the survivor listed, then DEL of every killed container
    // (a runtime does both): only the survivor's address, host end and
    // routes remain, each time.
    let only_keep = || {
        wait_until("only the survivor left", Duration::from_secs(2), || {
            let routes = node.netns().ip(&["-4", "route", "show"]).ok()?;
            let routes = String::from_utf8_lossy(&routes.stdout).into_owned();
            let no_route = killed_ips
                .iter()
                .all(|ip| !routes.lines().any(|r| r.starts_with(&format!("{ip} "))));
            (reservations(&store) == BTreeSet::from([keep_ip.clone()])
                && host_veths(node) == 1
                && no_route)
                .then_some(())
        })
    };
    let mut gc: Value = serde_json::from_str(&config).expect("conf");
    gc["cni.dev/valid-attachments"] = json!([{"containerID": "keep", "ifname": "eth0"}]);
    let out = cni(
        node,
        &[("CNI_COMMAND", "GC"), ("CNI_PATH", "/usr/lib/cni")],
        &gc.to_string(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    only_keep().expect("GC cleaned up after the killed ADDs");
    for (id, index, _) in &killed {
        let ns = namespaces.get(*index).expect("its netns");
        assert!(
            cni(node, &attach("DEL", id, ns.path()), &config)
                .status
                .success()
        );
    }

    only_keep().expect("DEL after GC changed nothing");

    // Every other address of the /28 can be handed out again, the killed
    // ADDs' included.
    let refill: Vec<Netns> = (0..12)
        .map(|i| Netns::create(&prefix.name(&format!("r{i}"))).expect("netns"))
        .collect();
    let mut ips = BTreeSet::from([keep_ip]);
    for (i, ns) in refill.iter().enumerate() {
        let out = cni(
            node,
            &attach("ADD", &format!("refill-{i}"), ns.path()),
            &config,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        let result: Value = serde_json::from_slice(&out.stdout).expect("result");
        ips.insert(result_ip(&result).to_string());
    }
    assert_eq!(ips.len(), 13, "all 13 addresses handed out: {ips:?}");
    assert!(killed_ips.is_subset(&ips), "{killed_ips:?} not reused");
}

#[test]
fn the_pod_cidr_comes_from_the_node_object() {
    if !privileged("the_pod_cidr_comes_from_the_node_object") {
        return;
    }
    let mut spec = ClusterSpec::new(1);
    spec.external = false;
    spec.pod_network = PodNetwork::Strait;
    let cluster = Cluster::start(spec).expect("cluster");
    let node = cluster.node(1).expect("node");
    let data_dir = node.state_dir().join("control");
    let kubeconfig = data_dir.join("admin.kubeconfig");
    let server = control::start(node, &data_dir, &[]).expect("strait control");
    let kubectl = control::kubectl("1.33").expect("kubectl");
    let run_kubectl = |args: &[&std::ffi::OsStr]| {
        let mut cmd = node.netns().command(&kubectl, None).expect("kubectl");
        let out = cmd
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(args)
            .output()
            .expect("kubectl runs");
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // A Node without a podCIDR: the API server allocates one.
    let manifest = node.state_dir().join("node.json");
    let node_object =
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": node.name()}});
    std::fs::write(&manifest, node_object.to_string()).expect("manifest");
    run_kubectl(&["create".as_ref(), "-f".as_ref(), manifest.as_os_str()]);
    let cidr = run_kubectl(&[
        "get".as_ref(),
        "node".as_ref(),
        node.name().as_ref(),
        "-o".as_ref(),
        "jsonpath={.spec.podCIDR}".as_ref(),
    ]);
    let cidr: ipnet::Ipv4Net = cidr.trim().parse().expect("an allocated podCIDR");

    // No podCIDR in the netconf: strait-cni reads the Node.
    let ipam = node.state_dir().join("ipam-kc");
    let config = json!({
        "cniVersion": "1.1.0",
        "name": "kc",
        "type": "strait-cni",
        "kubeconfig": kubeconfig,
        "nodeName": node.name(),
        "dataDir": ipam,
    })
    .to_string();
    let first = Netns::create(&cluster.prefix().name("kc1")).expect("netns");
    let out = cni(node, &attach("ADD", "kc-1", first.path()), &config);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let first_ip = result_ip(&serde_json::from_slice(&out.stdout).expect("result"));
    assert!(cidr.contains(&first_ip), "{first_ip} outside {cidr}");
    let cached = std::fs::read_to_string(ipam.join("kc.podcidr")).expect("kc.podcidr");
    assert_eq!(cached.trim(), cidr.to_string());

    // Cached: with the API server gone, the next ADD still knows the CIDR.
    let _ = server.stop(Duration::from_secs(5));
    let second = Netns::create(&cluster.prefix().name("kc2")).expect("netns");
    let out = cni(node, &attach("ADD", "kc-2", second.path()), &config);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let second_ip = result_ip(&serde_json::from_slice(&out.stdout).expect("result"));
    assert!(
        cidr.contains(&second_ip) && second_ip != first_ip,
        "{second_ip}"
    );
    for (id, ns) in [("kc-1", &first), ("kc-2", &second)] {
        assert!(
            cni(node, &attach("DEL", id, ns.path()), &config)
                .status
                .success()
        );
    }
    assert!(reservations(&ipam.join("kc")).is_empty());
}
