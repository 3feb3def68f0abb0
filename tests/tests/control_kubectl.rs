//! strait control against real kubectl binaries, inside a virtual node:
//! discovery, tables, apply (client- and server-side), jsonpath, selectors,
//! watch, errors, authentication, and a restart that keeps everything.

use std::{
    path::{Path, PathBuf},
    process::Output,
    time::Duration,
};

use strait_tests::{Cluster, ClusterSpec, Node, Process, privileged, wait_until};

fn kubectl_binary(version: &str) -> PathBuf {
    strait_tests::control::kubectl(version).expect("kubectl")
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

    fn apply_file(&self, path: &Path) -> String {
        self.ok(&["apply", "-f", path.to_str().expect("utf-8 path")])
    }

    /// Writes `manifest` to `file` beside the kubeconfig; its path.
    fn write(&self, file: &str, manifest: &str) -> String {
        let path = self.kubeconfig.with_file_name(file);
        std::fs::write(&path, manifest).expect("manifest written");
        path.to_str().expect("utf-8 path").to_owned()
    }

    /// `kubectl apply --server-side` of `manifest` (written to `file`)
    /// with `extra` flags.
    fn server_side(&self, file: &str, manifest: &str, extra: &[&str]) -> Output {
        let path = self.write(file, manifest);
        let mut args = vec!["apply", "--server-side", "-f", &path];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    /// The managedFields entries of an object, one `manager:operation[:subresource]` each.
    fn managers(&self, kind: &str, name: &str, ns: &str) -> Vec<String> {
        self.ok(&[
            "get",
            kind,
            name,
            "-n",
            ns,
            "--show-managed-fields",
            "-o",
            "jsonpath={range .metadata.managedFields[*]}{.manager}:{.operation}:{.subresource}{\"\\n\"}{end}",
        ])
        .lines()
        .map(|l| l.trim_end_matches(':').to_owned())
        .collect()
    }

    fn apply(&self, manifest: &str) -> String {
        let path = self
            .kubeconfig
            .with_file_name(format!("manifest-{}.yaml", manifest.len()));
        std::fs::write(&path, manifest).expect("manifest written");
        self.ok(&["apply", "-f", path.to_str().expect("utf-8 path")])
    }
}

fn start_control(node: &Node, data_dir: &Path) -> Process {
    strait_tests::control::start(node, data_dir, &[]).expect("API server ready")
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
        // Edits: re-apply, label, annotate, scale, set image, patch, explain.
        let deploy = format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: {name}\n\
             spec:\n  replicas: 2\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    \
             metadata: {{labels: {{app: web}}}}\n    spec:\n      containers:\n      \
             - {{name: web, image: \"nginx:1\", env: [{{name: A, value: \"1\"}}, {{name: B, value: \"2\"}}]}}\n"
        );
        assert!(k.apply(&deploy).contains("created"));
        // Re-apply an edit: replicas and image change, env B is removed.
        let edited = deploy
            .replace("replicas: 2", "replicas: 3")
            .replace("nginx:1", "nginx:2")
            .replace(", {name: B, value: \"2\"}", "");
        assert!(
            k.apply(&edited).contains("configured"),
            "client-side apply patch"
        );
        let shown = k.ok(&[
            "get",
            "deploy",
            "web",
            "-n",
            &name,
            "-o",
            "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].image} \
             {.spec.template.spec.containers[0].env[*].name} {.metadata.generation}",
        ]);
        assert_eq!(shown, "3 nginx:2 A 2", "{version}");
        k.ok(&["label", "deploy", "web", "-n", &name, "tier=front"]);
        k.ok(&["annotate", "deploy", "web", "-n", &name, "note=hello"]);
        k.ok(&["scale", "deploy", "web", "-n", &name, "--replicas=5"]);
        k.ok(&["set", "image", "deploy/web", "-n", &name, "web=nginx:3"]);
        let shown = k.ok(&[
            "get",
            "deploy",
            "web",
            "-n",
            &name,
            "-o",
            "jsonpath={.metadata.labels.tier} {.metadata.annotations.note} {.spec.replicas} \
             {.spec.template.spec.containers[0].image}",
        ]);
        assert_eq!(shown, "front hello 5 nginx:3", "{version}");
        let yaml = k.ok(&["get", "deploy", "web", "-n", &name, "-o", "yaml"]);
        assert!(
            yaml.contains("kind: Deployment") && yaml.contains("tier: front"),
            "{yaml}"
        );
        let described = k.ok(&["describe", "deploy", "web", "-n", &name]);
        assert!(
            described.contains("nginx:3") && described.contains("Replicas:"),
            "{described}"
        );
        let explained = k.ok(&["explain", "deployment.spec.replicas"]);
        assert!(
            explained.contains("replicas") && explained.contains("integer"),
            "{explained}"
        );
        let typo = k.kubeconfig.with_file_name("typo.yaml");
        std::fs::write(
            &typo,
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: typo\ndta: {a: b}\n",
        )
        .expect("write");
        let strict = k.fails(&["apply", "-n", &name, "-f", typo.to_str().expect("utf-8")]);
        assert!(
            strict.contains("unknown field \"dta\""),
            "{version}: {strict}"
        );

        assert!(k.ok(&["delete", "ns", &name]).contains("deleted"));
    }

    // The example manifests apply; Services get addresses, bad objects are refused.
    let k = Kubectl {
        node,
        binary: kubectl_binary("1.33"),
        kubeconfig: data_dir.join("admin.kubeconfig"),
    };
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    for manifest in [
        "webserver.yaml",
        "blue-green-ingress.yaml",
        "rsvp.yaml",
        "headless-dns.yaml",
    ] {
        let path = examples.join(manifest);
        let out = k.ok(&["apply", "-f", path.to_str().expect("utf-8")]);
        assert!(out.contains("created"), "{manifest}: {out}");
    }
    let all = k.ok(&["get", "all"]);
    for expected in [
        "deployment.apps/webserver",
        "service/web-service",
        "pod/db-0",
        "NodePort",
    ] {
        assert!(
            all.contains(expected),
            "{expected} missing from get all:\n{all}"
        );
    }
    let node_port: u16 = k
        .ok(&[
            "get",
            "svc",
            "web-service",
            "-o",
            "jsonpath={.spec.ports[0].nodePort}",
        ])
        .parse()
        .expect("a node port was allocated");
    assert!((30000..=32767).contains(&node_port));
    let cluster_ip = k.ok(&[
        "get",
        "svc",
        "web-service",
        "-o",
        "jsonpath={.spec.clusterIP}",
    ]);
    assert!(
        cluster_ip.starts_with("10.96.") && cluster_ip != "10.96.0.1",
        "{cluster_ip}"
    );
    assert_eq!(
        k.ok(&["get", "svc", "db", "-o", "jsonpath={.spec.clusterIP}"]),
        "None"
    );
    let clash = format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: clash\nspec:\n  type: NodePort\n  \
         selector: {{app: x}}\n  ports:\n  - port: 80\n    nodePort: {node_port}\n"
    );
    let clash_path = data_dir.join("clash.yaml");
    std::fs::write(&clash_path, clash).expect("write");
    let refused = k.run(&["apply", "-f", clash_path.to_str().expect("utf-8")]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success()
            && stderr.contains("spec.ports[0].nodePort")
            && stderr.contains("already allocated"),
        "{stderr}"
    );
    let invalid = data_dir.join("invalid.yaml");
    std::fs::write(
        &invalid,
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: mismatch\nspec:\n  \
         selector: {matchLabels: {app: a}}\n  template:\n    metadata: {labels: {app: b}}\n    \
         spec: {containers: [{name: c, image: x}]}\n",
    )
    .expect("write");
    let refused = k.run(&["apply", "-f", invalid.to_str().expect("utf-8")]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("The Deployment \"mismatch\" is invalid")
            && stderr.contains("`selector` does not match template `labels`"),
        "{stderr}"
    );

    // Deleting a namespace deletes what is in it and frees its addresses.
    let doomed = data_dir.join("doomed.yaml");
    std::fs::write(
        &doomed,
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: doomed\n---\n\
         apiVersion: v1\nkind: Service\nmetadata:\n  name: np\n  namespace: doomed\n\
         spec:\n  type: NodePort\n  selector: {app: x}\n  ports:\n  - port: 80\n    nodePort: 31000\n---\n\
         apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n  namespace: doomed\ndata: {a: b}\n",
    )
    .expect("write");
    k.ok(&["apply", "-f", doomed.to_str().expect("utf-8")]);
    assert!(
        k.ok(&["delete", "ns", "doomed", "--timeout=30s"])
            .contains("deleted")
    );
    assert!(k.fails(&["get", "ns", "doomed"]).contains("NotFound"));
    let leftovers = k.run(&["get", "cm,svc", "-n", "doomed", "-o", "name"]);
    assert_eq!(
        String::from_utf8_lossy(&leftovers.stdout),
        "",
        "contents deleted"
    );
    let reuse = data_dir.join("reuse.yaml");
    std::fs::write(
        &reuse,
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: reuse\nspec:\n  type: NodePort\n  \
         selector: {app: x}\n  ports:\n  - port: 80\n    nodePort: 31000\n",
    )
    .expect("write");
    assert!(
        k.apply_file(&reuse).contains("created"),
        "the namespace's NodePort was released"
    );

    // A restart keeps the data, the credentials and the revision counter.
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

/// RBAC through kubectl: the admin may do anything; a node credential may
/// read what a node needs and nothing more; `auth can-i` (a protobuf
/// SelfSubjectAccessReview) answers for both.
#[test]
fn rbac_decides_what_each_credential_may_do() {
    if !privileged("rbac_decides_what_each_credential_may_do") {
        return;
    }
    let cluster = Cluster::start(ClusterSpec::new(1)).expect("cluster");
    let node = cluster.node(1).expect("node");
    let data_dir = node.state_dir().join("control");
    // The first start initialises the data dir; node credentials are read
    // at start, so mint one and restart.
    let first = start_control(node, &data_dir);
    let _ = first.stop(Duration::from_secs(10));
    let minted = node
        .netns()
        .command(strait_tests::binary("strait").expect("strait binary"), None)
        .expect("command")
        .args(["control", "--data-dir", data_dir.to_str().expect("utf-8")])
        .args([
            "--listen",
            &format!("{}:6443", node.ip()),
            "--node-kubeconfig",
            "node-1",
        ])
        .output()
        .expect("strait control --node-kubeconfig");
    assert!(
        minted.status.success(),
        "{}",
        String::from_utf8_lossy(&minted.stderr)
    );
    let node_kubeconfig = PathBuf::from(String::from_utf8_lossy(&minted.stdout).trim());
    let _control = start_control(node, &data_dir);

    let admin = Kubectl {
        node,
        binary: kubectl_binary("1.33"),
        kubeconfig: data_dir.join("admin.kubeconfig"),
    };
    let kubelet = Kubectl {
        node,
        binary: kubectl_binary("1.33"),
        kubeconfig: node_kubeconfig,
    };
    assert_eq!(
        admin.ok(&["auth", "can-i", "delete", "namespaces"]).trim(),
        "yes"
    );
    assert_eq!(
        kubelet.ok(&["auth", "can-i", "list", "pods", "-A"]).trim(),
        "yes"
    );
    let no = kubelet.run(&["auth", "can-i", "delete", "namespaces"]);
    assert_eq!(
        String::from_utf8_lossy(&no.stdout).trim(),
        "no",
        "exit code 1 with 'no'"
    );

    kubelet.ok(&["get", "pods", "-A"]);
    kubelet.ok(&["get", "services", "-n", "default"]);
    let refused = kubelet.fails(&["delete", "ns", "kube-public"]);
    assert!(
        refused.contains("(Forbidden)")
            && refused
                .contains("User \"system:node:node-1\" cannot delete resource \"namespaces\""),
        "{refused}"
    );
    let refused = kubelet.fails(&["get", "clusterroles"]);
    assert!(
        refused.contains("Forbidden") || refused.contains("forbidden"),
        "{refused}"
    );
    // The policy follows writes: binding the node to view lets it read roles.
    let binding = data_dir.join("node-view.yaml");
    std::fs::write(
        &binding,
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: node-view\n\
         roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}\n\
         subjects:\n- {apiGroup: rbac.authorization.k8s.io, kind: User, name: \"system:node:node-1\"}\n",
    )
    .expect("write");
    assert!(
        kubelet
            .fails(&["get", "deploy", "-A"])
            .contains("Forbidden"),
        "not yet"
    );
    admin.apply_file(&binding);
    wait_until(
        "the new binding to take effect",
        Duration::from_secs(5),
        || {
            kubelet
                .run(&["get", "deploy", "-A"])
                .status
                .success()
                .then_some(())
        },
    )
    .expect("binding applied");
}

/// The EndpointSlice controller: a Service's slice follows its Pods'
/// readiness within a moment of the write.
#[test]
fn endpoint_slices_follow_pod_readiness() {
    if !privileged("endpoint_slices_follow_pod_readiness") {
        return;
    }
    let cluster = Cluster::start(ClusterSpec::new(1)).expect("cluster");
    let node = cluster.node(1).expect("node");
    let data_dir = node.state_dir().join("control");
    let _control = start_control(node, &data_dir);
    let k = Kubectl {
        node,
        binary: kubectl_binary("1.33"),
        kubeconfig: data_dir.join("admin.kubeconfig"),
    };
    k.apply(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector: {app: web}\n  \
         ports:\n  - {name: http, port: 80, targetPort: 8080}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata:\n  name: web-1\n  labels: {app: web}\nspec:\n  \
         nodeName: node-1\n  containers:\n  - {name: c, image: x}\n",
    );
    let addresses = || {
        k.ok(&[
            "get",
            "endpointslices",
            "-l",
            "kubernetes.io/service-name=web",
            "-o",
            "jsonpath={range .items[*].endpoints[*]}{.addresses[0]}={.conditions.ready} {end}",
        ])
    };
    wait_until(
        "the Service's (empty) slice",
        Duration::from_secs(5),
        || {
            k.ok(&[
                "get",
                "endpointslices",
                "-l",
                "kubernetes.io/service-name=web",
                "-o",
                "name",
            ])
            .contains("endpointslice")
            .then_some(())
        },
    )
    .expect("a slice exists");
    assert_eq!(addresses(), "", "no pod IP yet");

    // The runtime would report this; here kubectl plays the node.
    k.ok(&[
        "patch", "pod", "web-1", "--subresource=status", "--type=merge", "-p",
        r#"{"status":{"phase":"Running","podIP":"10.244.1.5","podIPs":[{"ip":"10.244.1.5"}],"conditions":[{"type":"Ready","status":"True"}]}}"#,
    ]);
    let started = std::time::Instant::now();
    wait_until("the pod in the slice", Duration::from_secs(5), || {
        (addresses().trim() == "10.244.1.5=true").then_some(())
    })
    .expect("slice updated");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // The legacy Endpoints object is written right after the slice.
    wait_until("the pod in the Endpoints", Duration::from_secs(2), || {
        let ip = k.ok(&[
            "get",
            "endpoints",
            "web",
            "-o",
            "jsonpath={.subsets[0].addresses[0].ip}",
        ]);
        (ip == "10.244.1.5").then_some(())
    })
    .expect("Endpoints updated");

    // Not ready any more: the endpoint stays, marked not ready.
    k.ok(&[
        "patch",
        "pod",
        "web-1",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"conditions":[{"type":"Ready","status":"False"}]}}"#,
    ]);
    wait_until("the pod marked not ready", Duration::from_secs(5), || {
        (addresses().trim() == "10.244.1.5=false").then_some(())
    })
    .expect("slice updated");
    k.ok(&["delete", "svc", "web"]);
    wait_until(
        "the slice removed with its Service",
        Duration::from_secs(5),
        || {
            k.ok(&[
                "get",
                "endpointslices",
                "-l",
                "kubernetes.io/service-name=web",
                "-o",
                "name",
            ])
            .trim()
            .is_empty()
            .then_some(())
        },
    )
    .expect("slice removed");
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `kubectl apply --server-side`: create, re-apply an edit, fields dropped
/// from the file leave the object, ownership recorded for every writer,
/// conflicts after `kubectl scale` and after client-side apply, and
/// `--force-conflicts` and `--field-manager`.
#[test]
fn server_side_apply_merges_prunes_and_reports_conflicts() {
    if !privileged("server_side_apply_merges_prunes_and_reports_conflicts") {
        return;
    }
    let cluster = Cluster::start(ClusterSpec::new(1)).expect("cluster");
    let node = cluster.node(1).expect("node");
    let data_dir = node.state_dir().join("control");
    let _control = start_control(node, &data_dir);

    for version in ["1.31", "1.33"] {
        let k = Kubectl {
            node,
            binary: kubectl_binary(version),
            kubeconfig: data_dir.join("admin.kubeconfig"),
        };
        let ns = format!("ssa-{}", version.replace('.', "-"));
        let created = k.server_side("ns.yaml", &namespace(&ns), &[]);
        assert!(
            created.status.success() && stdout(&created).contains("serverside-applied"),
            "{version}: {}{}",
            stdout(&created),
            stderr(&created)
        );

        let deploy = format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: {ns}\n  \
             labels: {{app: web, tier: front}}\nspec:\n  replicas: 2\n  selector: {{matchLabels: {{app: web}}}}\n  \
             template:\n    metadata: {{labels: {{app: web}}}}\n    spec:\n      containers:\n      \
             - name: web\n        image: \"nginx:1\"\n        ports: [{{containerPort: 80}}]\n        \
             env: [{{name: A, value: \"1\"}}, {{name: B, value: \"2\"}}]\n"
        );
        let out = k.server_side("deploy.yaml", &deploy, &[]);
        assert!(
            out.status.success() && stdout(&out).contains("serverside-applied"),
            "{version}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        assert_eq!(
            k.managers("deploy", "web", &ns),
            ["kubectl:Apply"],
            "{version}"
        );
        let plain = k.ok(&["get", "deploy", "web", "-n", &ns, "-o", "yaml"]);
        assert!(!plain.contains("managedFields"), "kubectl hides them");
        let shown = k.ok(&[
            "get",
            "deploy",
            "web",
            "-n",
            &ns,
            "-o",
            "yaml",
            "--show-managed-fields",
        ]);
        assert!(
            shown.contains("managedFields")
                && shown.contains("f:replicas: {}")
                && shown.contains("k:{\"name\":\"web\"}")
                && shown.contains("k:{\"containerPort\":80,\"protocol\":\"TCP\"}"),
            "{version}: {shown}"
        );

        // Re-apply an edit: the image changes, env B and the tier label are
        // dropped from the file and so from the object.
        let edited = deploy
            .replace("nginx:1", "nginx:2")
            .replace(", {name: B, value: \"2\"}", "")
            .replace(", tier: front", "");
        let out = k.server_side("deploy.yaml", &edited, &[]);
        assert!(out.status.success(), "{version}: {}", stderr(&out));
        let jsonpath = "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].image} \
                        {.spec.template.spec.containers[0].env[*].name} \
                        {.metadata.labels.tier}|{.metadata.generation}";
        assert_eq!(
            k.ok(&["get", "deploy", "web", "-n", &ns, "-o", jsonpath]),
            "2 nginx:2 A |2",
            "{version}"
        );

        // Other writers are recorded; kubectl scale takes spec.replicas, so
        // re-applying the old count conflicts until forced.
        k.ok(&["label", "deploy", "web", "-n", &ns, "owner=ops"]);
        k.ok(&["scale", "deploy", "web", "-n", &ns, "--replicas=5"]);
        let managers = k.managers("deploy", "web", &ns);
        assert!(
            managers.iter().any(|m| m.ends_with(":Update:scale"))
                && managers.iter().any(|m| m == "kubectl-label:Update"),
            "{version}: {managers:?}"
        );
        let refused = k.server_side("deploy.yaml", &edited, &[]);
        let message = stderr(&refused);
        assert!(
            !refused.status.success()
                && message.contains("Apply failed with 1 conflict: conflict with")
                && message.contains("with subresource \"scale\"")
                && message.contains(": .spec.replicas"),
            "{version}: {message}"
        );
        let forced = k.server_side("deploy.yaml", &edited, &["--force-conflicts"]);
        assert!(forced.status.success(), "{version}: {}", stderr(&forced));
        assert_eq!(
            k.ok(&[
                "get",
                "deploy",
                "web",
                "-n",
                &ns,
                "-o",
                "jsonpath={.spec.replicas} {.metadata.labels.owner}"
            ]),
            "2 ops",
            "{version}: forced back, the label's owner kept its field"
        );

        // A second applier with its own --field-manager: it owns what it
        // sends, and changing the first applier's field conflicts.
        let team = format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: {ns}\n  \
             labels: {{team: blue}}\n"
        );
        let out = k.server_side("team.yaml", &team, &["--field-manager=team"]);
        assert!(out.status.success(), "{version}: {}", stderr(&out));
        let managers = k.managers("deploy", "web", &ns);
        assert!(
            managers.iter().any(|m| m == "team:Apply"),
            "{version}: {managers:?}"
        );
        let grab = format!("{team}spec:\n  replicas: 7\n");
        let refused = k.server_side("team.yaml", &grab, &["--field-manager=team"]);
        assert!(
            !refused.status.success()
                && stderr(&refused).contains("conflict with \"kubectl\": .spec.replicas"),
            "{version}: {}",
            stderr(&refused)
        );
        assert_eq!(
            k.ok(&[
                "get",
                "deploy",
                "web",
                "-n",
                &ns,
                "-o",
                "jsonpath={.metadata.labels.team} {.metadata.labels.app}"
            ]),
            "blue web"
        );

        // From client-side to server-side apply: changing a field the
        // client-side applier set conflicts with it; applying it unchanged
        // lets kubectl move its fields over, after which edits go through.
        let cm = |value: &str| {
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: {ns}\n\
                 data:\n  mode: \"{value}\"\n"
            )
        };
        k.ok(&["apply", "-f", &k.write("cm.yaml", &cm("a"))]);
        let refused = k.server_side("cm.yaml", &cm("b"), &[]);
        assert!(
            !refused.status.success()
                && stderr(&refused).contains(
                    "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using v1: .data.mode"
                ),
            "{version}: {}",
            stderr(&refused)
        );
        let same = k.server_side("cm.yaml", &cm("a"), &[]);
        assert!(same.status.success(), "{version}: {}", stderr(&same));
        // kubectl keeps the annotation up to date under kubectl-last-applied.
        let managers = k.managers("cm", "settings", &ns);
        assert!(
            managers.contains(&"kubectl:Apply".to_owned())
                && !managers
                    .iter()
                    .any(|m| m.starts_with("kubectl-client-side-apply")),
            "{version}: kubectl migrated the client-side manager: {managers:?}"
        );
        let changed = k.server_side("cm.yaml", &cm("b"), &[]);
        assert!(changed.status.success(), "{version}: {}", stderr(&changed));
        assert_eq!(
            k.ok(&[
                "get",
                "cm",
                "settings",
                "-n",
                &ns,
                "-o",
                "jsonpath={.data.mode}"
            ]),
            "b"
        );

        // Configurations the schema refuses read as kube-apiserver's.
        let typo = k.server_side(
            "typo.yaml",
            &format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: typo\n  namespace: {ns}\n\
                 dta: {{a: b}}\n"
            ),
            &[],
        );
        assert!(
            !typo.status.success() && stderr(&typo).contains(".dta: field not declared in schema"),
            "{version}: {}",
            stderr(&typo)
        );
        let refused = k.server_side(
            "dup.yaml",
            &format!(
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: dup\n  namespace: {ns}\n\
                 spec:\n  containers:\n  - {{name: c, image: x}}\n  - {{name: c, image: y}}\n"
            ),
            &[],
        );
        assert!(
            !refused.status.success()
                && stderr(&refused).contains(&format!(
                    "failed to create typed patch object ({ns}/dup; /v1, Kind=Pod): \
                     .spec.containers: duplicate entries for key [name=\"c\"]"
                )),
            "{version}: {}",
            stderr(&refused)
        );
        assert!(k.ok(&["delete", "ns", &ns]).contains("deleted"));
    }

    // Every example manifest applies server-side, allocation included, and
    // applies again unchanged.
    let k = Kubectl {
        node,
        binary: kubectl_binary("1.33"),
        kubeconfig: data_dir.join("admin.kubeconfig"),
    };
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    for round in 0..2 {
        for manifest in [
            "webserver.yaml",
            "blue-green-ingress.yaml",
            "rsvp.yaml",
            "headless-dns.yaml",
        ] {
            let path = examples.join(manifest);
            let out = k.run(&[
                "apply",
                "--server-side",
                "-f",
                path.to_str().expect("utf-8"),
            ]);
            assert!(
                out.status.success() && stdout(&out).contains("serverside-applied"),
                "round {round}, {manifest}: {}{}",
                stdout(&out),
                stderr(&out)
            );
        }
    }
    let all = k.ok(&["get", "all"]);
    for expected in [
        "deployment.apps/webserver",
        "service/web-service",
        "pod/db-0",
    ] {
        assert!(all.contains(expected), "{expected} missing:\n{all}");
    }
    let node_port: u16 = k
        .ok(&[
            "get",
            "svc",
            "web-service",
            "-o",
            "jsonpath={.spec.ports[0].nodePort}",
        ])
        .parse()
        .expect("a node port was allocated");
    assert!((30000..=32767).contains(&node_port));
    assert!(
        k.ok(&[
            "get",
            "svc",
            "web-service",
            "-o",
            "jsonpath={.spec.clusterIP}"
        ])
        .starts_with("10.96."),
        "a ClusterIP was allocated"
    );
}
