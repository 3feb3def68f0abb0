//! strait control against real kubectl binaries, inside a virtual node:
//! discovery, tables, apply, jsonpath, selectors, watch, errors,
//! authentication, and a restart that keeps everything.

use std::{
    path::{Path, PathBuf},
    process::Output,
    time::Duration,
};

use strait_tests::{Cluster, ClusterSpec, Node, Process, privileged, wait_until};

const KUBECTL_DIR: &str = "/usr/lib/google-cloud-sdk/bin";

fn kubectl_binary(version: &str) -> PathBuf {
    let path = Path::new(KUBECTL_DIR).join(format!("kubectl.{version}"));
    assert!(
        path.exists(),
        "{} is missing: the machine should ship kubectl {version}",
        path.display()
    );
    path
}

struct Kubectl<'a> {
    node: &'a Node,
    binary: PathBuf,
    kubeconfig: PathBuf,
}

impl Kubectl<'_> {
    fn run(&self, args: &[&str]) -> Output {
        let mut cmd = self
            .node
            .netns()
            .command(&self.binary, None)
            .expect("command in the node netns");
        cmd.arg("--kubeconfig").arg(&self.kubeconfig).args(args);
        cmd.output().expect("kubectl runs")
    }

    /// stdout of a command that must succeed.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// stderr of a command that must fail.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "kubectl {args:?} should have failed");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    fn apply(&self, manifest: &str) -> String {
        let path = self
            .kubeconfig
            .with_file_name(format!("manifest-{}.yaml", manifest.len()));
        std::fs::write(&path, manifest).expect("manifest written");
        self.ok(&[
            "apply",
            "--validate=false",
            "-f",
            path.to_str().expect("utf-8 path"),
        ])
    }
}

fn start_control(node: &Node, data_dir: &Path) -> Process {
    let listen = format!("{}:6443", node.ip());
    let process = node
        .spawn_strait(&[
            "control",
            "--data-dir",
            data_dir.to_str().expect("utf-8"),
            "--listen",
            &listen,
        ])
        .expect("strait control starts");
    let kubeconfig = data_dir.join("admin.kubeconfig");
    let probe = Kubectl {
        node,
        binary: kubectl_binary("1.33"),
        kubeconfig,
    };
    wait_until(
        "the API server to answer /readyz",
        Duration::from_secs(20),
        || {
            probe
                .run(&["get", "--raw", "/readyz"])
                .status
                .success()
                .then_some(())
        },
    )
    .expect("API server ready");
    process
}

fn namespace(name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n  labels:\n    e2e: \"yes\"\n"
    )
}

#[test]
fn kubectl_works_against_strait_control_and_state_survives_a_restart() {
    if !privileged("kubectl_works_against_strait_control_and_state_survives_a_restart") {
        return;
    }
    let cluster = Cluster::start(ClusterSpec::new(1)).expect("cluster");
    let node = cluster.node(1).expect("node");
    let data_dir = node.state_dir().join("control");
    let control = start_control(node, &data_dir);

    for version in ["1.31", "1.33"] {
        let k = Kubectl {
            node,
            binary: kubectl_binary(version),
            kubeconfig: data_dir.join("admin.kubeconfig"),
        };
        // The defaults exist, printed as kubectl prints them.
        let namespaces = k.ok(&["get", "ns"]);
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            assert!(
                namespaces.contains(ns),
                "{version}: {ns} missing from\n{namespaces}"
            );
        }
        assert!(
            namespaces.starts_with("NAME") && namespaces.contains("Active"),
            "{namespaces}"
        );
        let services = k.ok(&["get", "svc", "-A", "-o", "wide"]);
        assert!(
            services.contains("kubernetes")
                && services.contains("10.96.0.1")
                && services.contains("443/TCP"),
            "{services}"
        );
        assert!(services.contains("SELECTOR"), "wide columns: {services}");

        // Apply, read back with jsonpath, select by label, delete.
        let name = format!("e2e-{}", version.replace('.', "-"));
        assert!(k.apply(&namespace(&name)).contains("created"));
        assert_eq!(
            k.ok(&["get", "ns", &name, "-o", "jsonpath={.metadata.name}"]),
            name
        );
        let selected = k.ok(&["get", "ns", "-l", "e2e=yes", "-o", "name"]);
        assert!(
            selected.lines().any(|l| l == format!("namespace/{name}")),
            "{selected}"
        );
        assert!(!selected.contains("namespace/default"), "{selected}");
        let uid = k.ok(&["get", "ns", &name, "-o", "jsonpath={.metadata.uid}"]);
        assert_eq!(uid.len(), 36, "a uid was assigned: {uid:?}");

        // Errors read as kube-apiserver's.
        let missing = k.fails(&["get", "svc", "nope"]);
        assert!(
            missing.contains("(NotFound)") && missing.contains("services \"nope\" not found"),
            "{missing}"
        );
        let unknown = k.fails(&["get", "widgets"]);
        assert!(unknown.contains("widgets"), "{unknown}");
        let bad_selector = k.fails(&["get", "ns", "-l", "a in (b"]);
        assert!(bad_selector.contains("BadRequest"), "{bad_selector}");
        let anonymous = k.fails(&["--token", "not-a-token", "get", "ns"]);
        assert!(anonymous.contains("Unauthorized"), "{anonymous}");

        // get -w sees a namespace come and go.
        let watched = format!("{name}-w");
        let mut watch_cmd = node.netns().command(&k.binary, None).expect("command");
        watch_cmd.arg("--kubeconfig").arg(&k.kubeconfig).args([
            "get",
            "ns",
            "-w",
            "-l",
            "e2e=yes",
            "--request-timeout=6s",
        ]);
        let watcher = std::thread::spawn(move || watch_cmd.output().expect("kubectl get -w"));
        std::thread::sleep(Duration::from_millis(1500));
        k.apply(&namespace(&watched));
        k.ok(&["delete", "ns", &watched]);
        let output = watcher.join().expect("watcher thread");
        let printed = String::from_utf8_lossy(&output.stdout);
        assert!(
            printed.lines().filter(|l| l.starts_with(&watched)).count() >= 2,
            "{version}: the watch printed the namespace's creation and deletion:\n{printed}"
        );
        assert!(k.ok(&["delete", "ns", &name]).contains("deleted"));
    }

    // A restart keeps the data, the credentials and the revision counter.
    let k = Kubectl {
        node,
        binary: kubectl_binary("1.33"),
        kubeconfig: data_dir.join("admin.kubeconfig"),
    };
    k.apply(&namespace("survivor"));
    let before: i64 = k
        .ok(&[
            "get",
            "ns",
            "survivor",
            "-o",
            "jsonpath={.metadata.resourceVersion}",
        ])
        .parse()
        .expect("numeric resourceVersion");
    let status = control
        .stop(Duration::from_secs(10))
        .expect("control stops");
    assert!(status.success(), "SIGTERM is a clean shutdown: {status}");
    let _control = start_control(node, &data_dir);
    assert_eq!(
        k.ok(&["get", "ns", "survivor", "-o", "jsonpath={.metadata.name}"]),
        "survivor"
    );
    k.apply(&namespace("after-restart"));
    let after: i64 = k
        .ok(&[
            "get",
            "ns",
            "after-restart",
            "-o",
            "jsonpath={.metadata.resourceVersion}",
        ])
        .parse()
        .expect("numeric resourceVersion");
    assert!(
        after > before,
        "resourceVersions never go backwards ({before} then {after})"
    );
}
