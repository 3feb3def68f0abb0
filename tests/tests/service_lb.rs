//! Service load balancing end to end: `strait control` and a `strait agent`
//! per node of a two-node virtual cluster, Services and EndpointSlices
//! created with kubectl, clients in pods (and in their node's cgroup, where
//! the agent's socket hooks are attached) reaching ClusterIPs.

use std::{
    collections::BTreeSet,
    net::Ipv4Addr,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use serde_json::json;
use strait_tests::{
    Cluster, ClusterSpec, Node, Pod, PodNetwork, control, leaks, privileged, process::Process,
    wait_until,
};

/// A TCP server that answers every connection with its name, then echoes
/// what it receives until the client closes.
const TCP_NAME_SERVER: &str = r#"
import socket, sys, threading
name, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", port)); s.listen(128)
def serve(c):
    try:
        c.sendall(name.encode())
        while True:
            data = c.recv(64)
            if not data: break
            c.sendall(data)
    except OSError: pass
    finally: c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"#;

/// One long-lived connection: prints the backend's name, waits, then
/// checks the connection still echoes and prints "echo ok".
const TCP_LONG_CLIENT: &str = r#"
import socket, sys, time
ip, port, wait = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(); s.settimeout(5); s.connect((ip, port))
print(s.recv(64).decode(), flush=True)
time.sleep(wait)
s.sendall(b"still-there")
print("echo ok" if s.recv(64) == b"still-there" else "echo bad", flush=True)
"#;

/// A UDP server that answers every datagram with its name and the data.
const UDP_NAME_SERVER: &str = r#"
import socket, sys
name, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", port))
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(name.encode() + b":" + data, peer)
"#;

/// Connects `count` times to addr:port; prints one line per connection:
/// "ok <name> <peer ip>:<peer port>" or "err <errno name> <seconds>".
const TCP_CLIENT: &str = r#"
import socket, sys, time, errno
ip, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for _ in range(count):
    t = time.monotonic()
    s = socket.socket(); s.settimeout(3)
    try:
        s.connect((ip, port))
        peer = s.getpeername()
        name = s.recv(64).decode()
        print("ok", name, "%s:%d" % peer)
    except OSError as e:
        print("err", errno.errorcode.get(e.errno, str(e)), "%.3f" % (time.monotonic() - t))
    finally:
        s.close()
"#;

/// Like [`TCP_CLIENT`], connecting again and again for a number of seconds.
const TCP_CLIENT_FOR: &str = r#"
import socket, sys, time, errno
ip, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
end = time.monotonic() + seconds
while time.monotonic() < end:
    t = time.monotonic()
    s = socket.socket(); s.settimeout(3)
    try:
        s.connect((ip, port))
        name = s.recv(64).decode()
        print("ok", name, "%s:%d" % s.getpeername())
    except OSError as e:
        print("err", errno.errorcode.get(e.errno, str(e)), "%.3f" % (time.monotonic() - t))
    finally:
        s.close()
    time.sleep(0.002)
"#;

/// Sends one datagram to addr:port (unconnected socket), prints
/// "<reply> <source ip>:<source port>".
const UDP_CLIENT: &str = r#"
import socket, sys
ip, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)
s.sendto(b"ping", (ip, port))
data, src = s.recvfrom(2048)
print(data.decode(), "%s:%d" % src)
"#;

/// The virtual cluster with the control plane and an agent on each node.
struct Setup {
    cluster: Cluster,
    kubeconfig: PathBuf,
    agents: Vec<Process>,
    _control: Process,
    _servers: Vec<Process>,
}

fn start_agent(node: &Node, kubeconfig: &Path) -> Process {
    node.spawn_agent(kubeconfig, &[]).expect("agent starts")
}

impl Setup {
    fn start() -> Setup {
        let mut spec = ClusterSpec::new(2);
        spec.pod_network = PodNetwork::Strait;
        let mut cluster = Cluster::start(spec).expect("cluster starts");
        let (control, kubeconfig) = control::start_for_cluster(&cluster).expect("control");
        let agents = cluster
            .nodes()
            .iter()
            .map(|node| start_agent(node, &kubeconfig))
            .collect();
        for (node, name) in [(1, "client"), (1, "web1"), (2, "web2"), (2, "dns1")] {
            cluster.add_pod(node, name).expect("pod added");
        }
        let mut servers = Vec::new();
        for name in ["web1", "web2"] {
            let pod = cluster.pod(name).expect("pod");
            servers.push(
                pod.spawn(&["python3", "-c", TCP_NAME_SERVER, name, "8080"])
                    .expect("tcp server"),
            );
        }
        let dns1 = cluster.pod("dns1").expect("dns1");
        servers.push(
            dns1.spawn(&["python3", "-c", UDP_NAME_SERVER, "dns1", "5353"])
                .expect("udp server"),
        );
        // The overlay must carry cross-node pod traffic before anything else.
        let client = cluster.pod("client").expect("client");
        let web2 = cluster.pod("web2").expect("web2");
        wait_until(
            "the overlay to carry pod traffic",
            Duration::from_secs(15),
            || client.netns().ping(web2.ip()).ok(),
        )
        .expect("overlay up");
        Setup {
            cluster,
            kubeconfig,
            agents,
            _control: control,
            _servers: servers,
        }
    }

    fn kubectl(&self, args: &[&str]) -> String {
        let node = self.cluster.node(1).expect("node 1");
        control::run_kubectl(node, "1.33", &self.kubeconfig, args).unwrap_or_else(|e| panic!("{e}"))
    }

    fn apply(&self, manifest: serde_json::Value) {
        let node = self.cluster.node(1).expect("node 1");
        let file = node.state_dir().join(format!(
            "manifest-{}.json",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::write(&file, manifest.to_string()).expect("manifest written");
        self.kubectl(&["apply", "-f", &file.to_string_lossy()]);
    }

    /// Service `web` (80/TCP) with web1 and web2 ready behind it.
    fn web_on_both_backends(&self) {
        self.apply(service("web", "TCP", 80, 8080, false));
        let both = [(self.pod("web1"), true), (self.pod("web2"), true)];
        self.apply(slice(self, "web", "TCP", 8080, &both));
    }

    fn cluster_ip(&self, service: &str) -> Ipv4Addr {
        self.kubectl(&[
            "get",
            "service",
            service,
            "-o",
            "jsonpath={.spec.clusterIP}",
        ])
        .trim()
        .parse()
        .expect("a ClusterIP")
    }

    fn pod(&self, name: &str) -> &Pod {
        self.cluster.pod(name).expect("pod")
    }

    /// A python client in `pod`'s netns and its node's cgroup (where the
    /// socket hooks are).
    fn client_command(&self, pod: &str, script: &str, args: &[&str]) -> std::process::Command {
        let pod = self.pod(pod);
        let node = self.cluster.node(pod.node()).expect("node");
        let mut cmd = pod
            .netns()
            .command("python3", Some(node.cgroup().path()))
            .expect("command");
        cmd.arg("-c").arg(script).args(args);
        cmd
    }

    /// Runs [`Setup::client_command`] to completion; its stdout.
    fn client(&self, pod: &str, script: &str, args: &[&str]) -> String {
        let out = self
            .client_command(pod, script, args)
            .output()
            .expect("python3 runs");
        assert!(
            out.status.success(),
            "client failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The names of the backends `count` TCP connections reached, and
    /// every line that was not a success.
    fn connect(&self, ip: Ipv4Addr, port: u16, count: usize) -> (BTreeSet<String>, Vec<String>) {
        let out = self.client(
            "client",
            TCP_CLIENT,
            &[&ip.to_string(), &port.to_string(), &count.to_string()],
        );
        let mut names = BTreeSet::new();
        let mut failures = Vec::new();
        let frontend = format!("{ip}:{port}");
        for line in out.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            match fields.as_slice() {
                ["ok", name, peer] if *peer == frontend => {
                    names.insert((*name).to_owned());
                }
                _ => failures.push(line.to_owned()),
            }
        }
        (names, failures)
    }
}

/// `strait inspect lb` on `node`'s pinned maps.
fn inspect(node: &Node) -> String {
    let strait = strait_tests::binary("strait").expect("strait");
    let out = node
        .exec(&[
            &strait.to_string_lossy(),
            "inspect",
            "lb",
            "--bpffs",
            &node.bpffs().to_string_lossy(),
        ])
        .expect("strait inspect lb");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn service(
    name: &str,
    protocol: &str,
    port: u16,
    target: u16,
    affinity: bool,
) -> serde_json::Value {
    let mut spec = json!({
        "ports": [{"name": "p", "protocol": protocol, "port": port, "targetPort": target}],
    });
    if affinity {
        spec["sessionAffinity"] = json!("ClientIP");
    }
    json!({"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": name, "namespace": "default"}, "spec": spec})
}

fn slice(
    setup: &Setup,
    service: &str,
    protocol: &str,
    port: u16,
    endpoints: &[(&Pod, bool)],
) -> serde_json::Value {
    let endpoints: Vec<_> = endpoints
        .iter()
        .map(|(pod, ready)| {
            let node = setup.cluster.node(pod.node()).expect("node");
            json!({
                "addresses": [pod.ip().to_string()],
                "conditions": {"ready": ready, "serving": true, "terminating": !ready},
                "nodeName": node.name(),
            })
        })
        .collect();
    json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": format!("{service}-manual"), "namespace": "default",
                     "labels": {"kubernetes.io/service-name": service}},
        "addressType": "IPv4",
        "ports": [{"name": "p", "protocol": protocol, "port": port}],
        "endpoints": endpoints,
    })
}

#[test]
fn pods_reach_cluster_ips_through_the_socket_hooks() {
    if !privileged("pods_reach_cluster_ips_through_the_socket_hooks") {
        return;
    }
    let setup = Setup::start();
    let prefix = setup.cluster.prefix().clone();
    let (web1, web2, dns1) = (setup.pod("web1"), setup.pod("web2"), setup.pod("dns1"));

    setup.web_on_both_backends();
    setup.apply(service("dns", "UDP", 53, 5353, false));
    setup.apply(slice(&setup, "dns", "UDP", 5353, &[(dns1, true)]));
    setup.apply(service("empty", "TCP", 80, 8080, false));
    setup.apply(service("sticky", "TCP", 80, 8080, true));
    setup.apply(slice(
        &setup,
        "sticky",
        "TCP",
        8080,
        &[(web1, true), (web2, true)],
    ));
    let web = setup.cluster_ip("web");

    // Both backends, on this node and the other, by random choice; the
    // socket's peer is the ClusterIP, as if nothing had been translated.
    let (names, failures) = wait_until("web reachable", Duration::from_secs(10), || {
        let (names, failures) = setup.connect(web, 80, 40);
        (names.len() == 2).then_some((names, failures))
    })
    .expect("both backends reached through the ClusterIP");
    assert_eq!(
        names,
        BTreeSet::from(["web1".to_owned(), "web2".to_owned()])
    );
    assert!(failures.is_empty(), "{failures:?}");

    // UDP: the reply comes back from the ClusterIP and port.
    let dns = setup.cluster_ip("dns");
    let reply = setup.client("client", UDP_CLIENT, &[&dns.to_string(), "53"]);
    assert_eq!(reply.trim(), format!("dns1:ping {dns}:53"));

    // No endpoints: refused at once, not a timeout.
    let empty = setup.cluster_ip("empty");
    let (names, failures) = setup.connect(empty, 80, 3);
    assert!(names.is_empty());
    assert_eq!(failures.len(), 3, "{failures:?}");
    for line in &failures {
        let seconds: f64 = line
            .split_whitespace()
            .last()
            .and_then(|s| s.parse().ok())
            .unwrap_or(f64::MAX);
        assert!(seconds < 1.0, "refusal took {seconds} s: {line}");
    }

    // Session affinity: one client, one backend.
    let sticky = setup.cluster_ip("sticky");
    let (names, failures) = setup.connect(sticky, 80, 30);
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(failures.is_empty(), "{failures:?}");

    // Scaling down: within a second every new connection goes to web2.
    setup.apply(slice(&setup, "web", "TCP", 8080, &[(web2, true)]));
    let started = Instant::now();
    wait_until("web1 out of rotation", Duration::from_secs(5), || {
        let (names, _) = setup.connect(web, 80, 20);
        (names == BTreeSet::from(["web2".to_owned()])).then_some(())
    })
    .expect("scaled down");
    assert!(started.elapsed() < Duration::from_secs(5));

    // The inspection command shows the frontend and its one backend.
    let node1 = setup.cluster.node(1).expect("node 1");
    let text = inspect(node1);
    assert!(text.contains(&format!("{web}:80/TCP")), "{text}");
    assert!(text.contains(&format!("{}:8080/TCP", web2.ip())), "{text}");

    // Deleted Services leave the maps (frontends that never carried a
    // connection included), and the agent goes on programming.
    setup.kubectl(&["delete", "service", "sticky", "empty"]);
    wait_until("deleted frontends gone", Duration::from_secs(5), || {
        let text = inspect(node1);
        (!text.contains(&format!("{sticky}:80/")) && !text.contains(&format!("{empty}:80/")))
            .then_some(())
    })
    .expect("deleted Services leave the maps");
    setup.web_on_both_backends();
    wait_until("both web backends again", Duration::from_secs(5), || {
        let (names, _) = setup.connect(web, 80, 20);
        (names.len() == 2).then_some(())
    })
    .expect("the agent still programs after deletions");

    // The agent reports itself ready and its programming latency.
    let url = |path: &str| format!("http://{}:9962{path}", node1.ip());
    let curl = |path: &str| {
        let out = node1
            .exec(&["curl", "-s", "-o", "-", "-w", "\n%{http_code}", &url(path)])
            .expect("curl");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(curl("/readyz").ends_with("\n200"), "{}", curl("/readyz"));
    assert!(curl("/healthz").ends_with("\n200"));
    let metrics = curl("/metrics");
    assert!(
        metrics.contains("strait_lb_programming_duration_seconds_count"),
        "{metrics}"
    );
    assert!(
        metrics.contains("strait_lb_map_entries{map=\"LB4_SERVICES\"}"),
        "{metrics}"
    );
    // Per frontend: at least the 40 + 20 connections made to web above.
    let web_line = format!("strait_lb_socket_translations_total{{frontend=\"{web}:80\"}}");
    let web_count = metrics
        .lines()
        .find(|l| l.starts_with(&web_line))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    assert!(web_count >= 60, "{web_count}: {metrics}");
    // Every write went through, deletions of never-used frontends included.
    assert!(
        metrics.contains("strait_lb_map_write_errors_total 0"),
        "{metrics}"
    );

    drop(setup);
    assert_eq!(leaks::of(&prefix), vec![]);
}

#[test]
fn restarting_the_agent_refuses_no_connection() {
    if !privileged("restarting_the_agent_refuses_no_connection") {
        return;
    }
    let mut setup = Setup::start();
    let prefix = setup.cluster.prefix().clone();
    setup.web_on_both_backends();
    let web = setup.cluster_ip("web");
    wait_until("web reachable", Duration::from_secs(10), || {
        let (names, _) = setup.connect(web, 80, 10);
        (!names.is_empty()).then_some(())
    })
    .expect("web reachable");

    // A client connecting in a loop for 4 s while node 1's agent is
    // stopped (at 1 s) and started again (at 2 s): every connection
    // succeeds, the ones in the gap included.
    let mut cmd = setup.client_command("client", TCP_CLIENT_FOR, &[&web.to_string(), "80", "4"]);
    let load = std::thread::spawn(move || cmd.output());
    std::thread::sleep(Duration::from_secs(1));
    let agent = setup.agents.remove(0);
    agent.stop(Duration::from_secs(5)).expect("agent stops");
    std::thread::sleep(Duration::from_secs(1));
    let kubeconfig = setup.kubeconfig.clone();
    setup.agents.insert(
        0,
        start_agent(setup.cluster.node(1).expect("node 1"), &kubeconfig),
    );
    let out = load.join().expect("load thread").expect("python3 runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let failures: Vec<&str> = text.lines().filter(|l| !l.starts_with("ok ")).collect();
    assert!(text.lines().count() > 200, "too few connections: {text}");
    assert!(
        failures.is_empty(),
        "{} failures: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );

    drop(setup);
    assert_eq!(leaks::of(&prefix), vec![]);
}

#[test]
fn terminating_endpoints_keep_their_connections_and_pods_reach_their_own_service() {
    if !privileged("terminating_endpoints_keep_their_connections_and_pods_reach_their_own_service")
    {
        return;
    }
    let setup = Setup::start();
    let prefix = setup.cluster.prefix().clone();
    let (web1, web2) = (setup.pod("web1"), setup.pod("web2"));
    setup.apply(service("solo", "TCP", 80, 8080, false));
    setup.apply(slice(&setup, "solo", "TCP", 8080, &[(web1, true)]));
    let solo = setup.cluster_ip("solo");
    wait_until("solo reachable", Duration::from_secs(10), || {
        let (names, _) = setup.connect(solo, 80, 3);
        (names == BTreeSet::from(["web1".to_owned()])).then_some(())
    })
    .expect("solo reachable");

    // A connection to web1 stays open while web1 becomes terminating
    // (serving, not ready) and web2 takes over new connections.
    let mut long = setup.client_command("client", TCP_LONG_CLIENT, &[&solo.to_string(), "80", "3"]);
    let long = std::thread::spawn(move || long.output());
    std::thread::sleep(Duration::from_millis(800));
    setup.apply(slice(
        &setup,
        "solo",
        "TCP",
        8080,
        &[(web1, false), (web2, true)],
    ));
    wait_until(
        "new connections to web2 only",
        Duration::from_secs(5),
        || {
            let (names, _) = setup.connect(solo, 80, 10);
            (names == BTreeSet::from(["web2".to_owned()])).then_some(())
        },
    )
    .expect("web2 takes new connections");
    let out = long.join().expect("long client").expect("python3 runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        ["web1", "echo ok"],
        "{text}"
    );

    // Hairpin: a backend reaching its own Service gets answers, itself
    // among them.
    setup.web_on_both_backends();
    let web = setup.cluster_ip("web");
    let out = wait_until("hairpin", Duration::from_secs(10), || {
        let out = setup.client("web1", TCP_CLIENT, &[&web.to_string(), "80", "30"]);
        (out.contains("ok web1") && out.contains("ok web2")).then_some(out)
    })
    .expect("web1 reaches web through itself and web2");
    assert!(out.lines().all(|l| l.starts_with("ok ")), "{out}");

    drop(setup);
    assert_eq!(leaks::of(&prefix), vec![]);
}
