//! Finding what the harness left behind: network namespaces, host links,
//! cgroups, bpffs pins and state directories whose names carry a harness
//! [`Prefix`](crate::Prefix). A killed test run leaves them; a correct one never does.

use std::{
    collections::BTreeSet,
    fmt, fs,
    path::{Path, PathBuf},
};

use crate::{
    bpffs::BPFFS_ROOT, cgroup::CGROUP2_ROOT, cluster::STATE_ROOT, names::is_harness_name,
    netns::NETNS_DIR, process,
};

/// Where the host's own links are listed.
const HOST_LINKS: &str = "/sys/class/net";

/// One leftover resource.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Leak {
    /// A named network namespace.
    Netns(String),
    /// A link in the host's own namespace.
    HostLink(String),
    /// A cgroup directory.
    Cgroup(PathBuf),
    /// A bpffs directory or pin.
    BpfPin(PathBuf),
    /// A state directory under [`STATE_ROOT`].
    StateDir(PathBuf),
}

impl fmt::Display for Leak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Leak::Netns(name) => write!(f, "netns {name}"),
            Leak::HostLink(name) => write!(f, "host link {name}"),
            Leak::Cgroup(path) => write!(f, "cgroup {}", path.display()),
            Leak::BpfPin(path) => write!(f, "bpf pin {}", path.display()),
            Leak::StateDir(path) => write!(f, "state dir {}", path.display()),
        }
    }
}

/// Every harness-made resource on the machine, from any run.
pub fn all() -> Vec<Leak> {
    scan(is_harness_name)
}

/// The resources whose names start with `prefix` (one cluster's).
pub fn of(prefix: &crate::Prefix) -> Vec<Leak> {
    let start = format!("{prefix}-");
    scan(|name| name.starts_with(&start))
}

/// The names of the links in the host's namespace right now.
pub fn host_links() -> BTreeSet<String> {
    entries(Path::new(HOST_LINKS)).collect()
}

/// Links in the host's namespace that were not in `baseline`: anything a
/// plugin or daemon created outside its namespaces, whatever its name.
pub fn new_host_links(baseline: &BTreeSet<String>) -> Vec<Leak> {
    host_links()
        .into_iter()
        .filter(|link| !baseline.contains(link))
        .map(Leak::HostLink)
        .collect()
}

fn scan(matches: impl Fn(&str) -> bool) -> Vec<Leak> {
    let mut leaks = Vec::new();
    let named = |dir: &str| {
        entries(Path::new(dir))
            .filter(|n| matches(n))
            .collect::<Vec<_>>()
    };
    leaks.extend(named(NETNS_DIR).into_iter().map(Leak::Netns));
    leaks.extend(named(HOST_LINKS).into_iter().map(Leak::HostLink));
    for (root, kind) in [
        (CGROUP2_ROOT, Leak::Cgroup as fn(PathBuf) -> Leak),
        (BPFFS_ROOT, Leak::BpfPin),
        (STATE_ROOT, Leak::StateDir),
    ] {
        leaks.extend(
            named(root)
                .into_iter()
                .map(|n| kind(Path::new(root).join(n))),
        );
    }
    leaks.sort();
    leaks
}

fn entries(dir: &Path) -> impl Iterator<Item = String> {
    fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
}

/// Removes `leaks`, returning the ones that could not be removed with why.
pub fn clean(leaks: &[Leak]) -> Vec<(Leak, String)> {
    let mut failed = Vec::new();
    for leak in leaks {
        let result = match leak {
            Leak::Netns(name) => process::ip(&["netns", "del", name])
                .map(drop)
                .map_err(|e| e.to_string()),
            Leak::HostLink(name) => process::ip(&["link", "del", name])
                .map(drop)
                .map_err(|e| e.to_string()),
            Leak::Cgroup(path) => {
                let _ = fs::write(path.join("cgroup.kill"), "1");
                std::thread::sleep(std::time::Duration::from_millis(50));
                crate::cgroup::remove_cgroup_tree(path).map_err(|e| e.to_string())
            }
            Leak::BpfPin(path) | Leak::StateDir(path) => {
                fs::remove_dir_all(path).map_err(|e| e.to_string())
            }
        };
        if let Err(why) = result {
            failed.push((leak.clone(), why));
        }
    }
    failed
}
