//! Whether this process can build virtual clusters. Under CI a privileged
//! test that cannot run fails; it never silently passes as skipped.

use std::path::Path;

use nix::sys::statfs::{BPF_FS_MAGIC, CGROUP2_SUPER_MAGIC, FsType, statfs};

use crate::{bpffs::BPFFS_ROOT, cgroup::CGROUP2_ROOT};

/// What is missing for privileged tests, or `None` when they can run.
pub fn missing() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("root (network namespaces, cgroups, BPF)".into());
    }
    if !is_fs(BPFFS_ROOT, BPF_FS_MAGIC) {
        return Some(format!(
            "a bpffs mounted at {BPFFS_ROOT} (run scripts/setup)"
        ));
    }
    if !is_fs(CGROUP2_ROOT, CGROUP2_SUPER_MAGIC) {
        return Some(format!("a cgroup v2 hierarchy at {CGROUP2_ROOT}"));
    }
    if std::process::Command::new("ip").arg("-V").output().is_err() {
        return Some("the `ip` command (iproute2)".into());
    }
    None
}

fn is_fs(path: &str, magic: FsType) -> bool {
    statfs(Path::new(path)).is_ok_and(|fs| fs.filesystem_type() == magic)
}

/// Call first in every privileged test: `if !privileged("name") { return; }`.
///
/// Returns true when the test can run. Otherwise it panics when `CI` is set,
/// and returns false (after saying why on stderr) on a developer's machine.
pub fn privileged(test: &str) -> bool {
    match missing() {
        None => true,
        Some(what) if std::env::var_os("CI").is_some() => {
            panic!("{test}: privileged test cannot run under CI: needs {what}")
        }
        Some(what) => {
            eprintln!("SKIPPED {test}: needs {what}");
            false
        }
    }
}
