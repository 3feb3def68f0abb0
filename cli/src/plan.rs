//! What `strait up` will do, as text. Pure: it starts nothing.

use crate::args::UpArgs;

/// The plan `strait up` prints until the node runtime issue makes it real.
pub fn up(args: &UpArgs) -> String {
    let mut plan = String::from(
        "strait up: the one-machine cluster is not built yet; this is what it will start:\n",
    );
    plan.push_str(&format!(
        "  1. strait control --data-dir {}: API server, store, controllers\n",
        args.data_dir.join("control").display()
    ));
    plan.push_str(&format!(
        "  2. an underlay bridge and {} node(s), each a network namespace with its own cgroup and bpffs dir\n",
        args.nodes
    ));
    for n in 1..=args.nodes {
        plan.push_str(&format!("     node-{n}: strait node + strait agent\n"));
    }
    plan.push_str("  3. strait dns at the tenth address of the service CIDR (10.96.0.10)\n");
    plan.push_str("  4. strait ingress on every node, ports 80 and 443\n");
    plan.push_str(&format!(
        "  then: KUBECONFIG={} kubectl apply -f examples/\n",
        args.data_dir.join("control/admin.kubeconfig").display()
    ));
    plan
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn the_plan_names_every_node_and_the_kubeconfig() {
        let plan = up(&UpArgs {
            nodes: 3,
            data_dir: PathBuf::from("/d"),
        });
        for expected in ["node-1", "node-2", "node-3", "/d/control/admin.kubeconfig"] {
            assert!(plan.contains(expected), "{expected} missing from:\n{plan}");
        }
        assert!(!plan.contains("node-4"));
    }
}
