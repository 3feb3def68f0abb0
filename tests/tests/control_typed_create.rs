//! kubectl's typed commands (`kubectl create <kind> ...`), which send
//! protobuf bodies, against strait control with kubectl 1.31 and 1.33.

use std::path::Path;

use strait_tests::{Cluster, ClusterSpec, Node, privileged};

fn get(node: &Node, version: &str, kc: &Path, args: &[&str]) -> String {
    strait_tests::control::run_kubectl(node, version, kc, args).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn kubectl_create_commands_work() {
    if !privileged("kubectl_create_commands_work") {
        return;
    }
    let cluster = Cluster::start(ClusterSpec::new(1)).expect("cluster");
    let node = cluster.node(1).expect("node");
    let data_dir = node.state_dir().join("control");
    let _control = strait_tests::control::start(node, &data_dir, &[]).expect("API server ready");
    let kc = data_dir.join("admin.kubeconfig");

    for version in ["1.31", "1.33"] {
        let ns = format!("typed-{}", version.replace('.', "-"));
        let run = |args: &[&str]| get(node, version, &kc, args);
        let in_ns = |args: &[&str]| {
            let mut all: Vec<&str> = args.to_vec();
            all.extend(["-n", ns.as_str()]);
            run(&all)
        };
        run(&["create", "namespace", &ns]);
        in_ns(&[
            "create",
            "configmap",
            "cfg",
            "--from-literal=a=b",
            "--from-literal=empty=",
        ]);
        in_ns(&[
            "create",
            "secret",
            "generic",
            "sec",
            "--from-literal=password=hunter2",
        ]);
        in_ns(&[
            "create",
            "deployment",
            "web",
            "--image=nginx",
            "--replicas=2",
            "--port=80",
        ]);
        in_ns(&["create", "service", "clusterip", "web", "--tcp=80:8080"]);
        in_ns(&["create", "service", "nodeport", "np", "--tcp=80:8080"]);
        in_ns(&["create", "serviceaccount", "robot"]);
        in_ns(&["create", "role", "reader", "--verb=get", "--resource=pods"]);
        in_ns(&[
            "create",
            "rolebinding",
            "reader",
            "--role=reader",
            "--serviceaccount",
            &format!("{ns}:robot"),
        ]);
        in_ns(&["create", "ingress", "web", "--rule=web.example/=web:80"]);

        // What they created is what was asked for, with server defaults.
        let jp = |kind: &str, name: &str, path: &str| {
            in_ns(&["get", kind, name, "-o", &format!("jsonpath={path}")])
        };
        assert_eq!(jp("cm", "cfg", "{.data.a}/{.data.empty}"), "b/");
        assert_eq!(jp("secret", "sec", "{.data.password}"), "aHVudGVyMg==");
        assert_eq!(
            jp(
                "deploy",
                "web",
                "{.spec.replicas} {.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].ports[0].containerPort} {.spec.strategy.type}"
            ),
            "2 nginx 80 RollingUpdate"
        );
        let ip = jp("svc", "web", "{.spec.clusterIP}");
        assert!(ip.starts_with("10."), "a ClusterIP was allocated: {ip:?}");
        assert_eq!(jp("svc", "web", "{.spec.ports[0].targetPort}"), "8080");
        let node_port: u16 = jp("svc", "np", "{.spec.ports[0].nodePort}")
            .parse()
            .expect("a NodePort");
        assert!((30000..=32767).contains(&node_port));
        assert_eq!(jp("role", "reader", "{.rules[0].verbs[0]}"), "get");
        assert_eq!(jp("rolebinding", "reader", "{.subjects[0].name}"), "robot");
        assert_eq!(jp("ingress", "web", "{.spec.rules[0].host}"), "web.example");
        assert!(in_ns(&["get", "sa", "robot", "-o", "name"]).contains("serviceaccount/robot"));

        // The same commands, cluster-scoped.
        let cr = format!("typed-reader-{}", version.replace('.', "-"));
        run(&[
            "create",
            "clusterrole",
            &cr,
            "--verb=list",
            "--resource=services",
        ]);
        run(&[
            "create",
            "clusterrolebinding",
            &cr,
            &format!("--clusterrole={cr}"),
            "--user=alice",
        ]);
        let can = strait_tests::control::run_kubectl(
            node,
            version,
            &kc,
            &["auth", "can-i", "list", "services", "--as=alice", "-A"],
        );
        assert_eq!(can.map(|s| s.trim().to_owned()), Ok("yes".to_owned()));

        // A kind strait does not serve is refused clearly.
        let job = strait_tests::control::run_kubectl(
            node,
            version,
            &kc,
            &["create", "job", "j", "--image=busybox", "-n", &ns],
        )
        .expect_err("jobs are not served");
        assert!(
            job.contains("could not find the requested resource"),
            "{job}"
        );
    }
}

#[test]
fn server_dry_runs_write_nothing() {
    if !privileged("server_dry_runs_write_nothing") {
        return;
    }
    let cluster = Cluster::start(ClusterSpec::new(1)).expect("cluster");
    let node = cluster.node(1).expect("node");
    let data_dir = node.state_dir().join("control");
    let _control = strait_tests::control::start(node, &data_dir, &[]).expect("API server ready");
    let kc = data_dir.join("admin.kubeconfig");
    let run = |args: &[&str]| strait_tests::control::run_kubectl(node, "1.33", &kc, args);
    let write = |name: &str, text: &str| {
        let path = data_dir.join(name);
        std::fs::write(&path, text).expect("manifest written");
        path.to_str().expect("utf-8").to_owned()
    };

    // A dry create answers with the object and stores nothing.
    let out = run(&[
        "create",
        "cm",
        "dry",
        "--from-literal=a=b",
        "--dry-run=server",
        "-o",
        "name",
    ]);
    assert_eq!(
        out.map(|s| s.trim().to_owned()),
        Ok("configmap/dry".to_owned())
    );
    assert!(run(&["get", "cm", "dry"]).is_err(), "nothing was stored");

    // A dry server-side apply of a Service with a fixed ClusterIP holds no
    // address: the real one gets it next.
    let svc = write(
        "svc.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: fixed\nspec:\n  clusterIP: 10.96.100.100\n  ports:\n  - port: 80\n",
    );
    run(&["apply", "--server-side", "--dry-run=server", "-f", &svc]).expect("dry apply");
    assert!(run(&["get", "svc", "fixed"]).is_err());
    run(&["apply", "--server-side", "-f", &svc]).expect("real apply gets the same address");
    assert_eq!(
        run(&["get", "svc", "fixed", "-o", "jsonpath={.spec.clusterIP}"]),
        Ok("10.96.100.100".to_owned())
    );

    // kubectl diff (a dry-run apply) shows the change and makes none.
    let edited = svc.replace("svc.yaml", "svc-edited.yaml");
    std::fs::write(
        &edited,
        std::fs::read_to_string(&svc)
            .expect("read")
            .replace("port: 80", "port: 81"),
    )
    .expect("edited");
    let diff = run(&["diff", "--server-side", "-f", &edited])
        .expect_err("diff exits 1 when there are changes");
    assert!(diff.contains("port: 81"), "{diff}");
    assert_eq!(
        run(&[
            "get",
            "svc",
            "fixed",
            "-o",
            "jsonpath={.spec.ports[0].port}"
        ]),
        Ok("80".to_owned())
    );

    // A dry delete of a namespace leaves it and its contents alone.
    run(&["create", "ns", "keep"]).expect("ns");
    run(&["create", "cm", "inside", "-n", "keep"]).expect("cm");
    run(&["delete", "ns", "keep", "--dry-run=server", "--wait=false"]).expect("dry delete");
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(
        run(&["get", "ns", "keep", "-o", "jsonpath={.status.phase}"]),
        Ok("Active".to_owned())
    );
    assert!(run(&["get", "cm", "inside", "-n", "keep"]).is_ok());
}
