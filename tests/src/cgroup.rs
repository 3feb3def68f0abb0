//! cgroup v2 subtrees for virtual nodes under `/sys/fs/cgroup/unified`. The
//! harness only creates children: it never enables controllers on, or moves
//! processes out of, the root cgroup.

use std::{
    fs,
    path::{Path, PathBuf},
    thread,
    time::{Duration, Instant},
};

use crate::error::HarnessError;

/// Where this machine mounts the cgroup v2 hierarchy.
pub const CGROUP2_ROOT: &str = "/sys/fs/cgroup/unified";

/// A cgroup directory; on drop every process in it is killed and it is removed.
#[derive(Debug)]
pub struct Cgroup {
    path: PathBuf,
}

impl Cgroup {
    /// Creates `CGROUP2_ROOT/<name>`.
    pub fn create(name: &str) -> Result<Cgroup, HarnessError> {
        let path = Path::new(CGROUP2_ROOT).join(name);
        fs::create_dir(&path).map_err(|e| HarnessError::io("creating cgroup", &path, e))?;
        Ok(Cgroup { path })
    }

    /// The cgroup's directory, as BPF cgroup hooks and `cgroup.procs` want it.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Pids of the processes directly in this cgroup.
    pub fn pids(&self) -> Result<Vec<i32>, HarnessError> {
        let procs = self.path.join("cgroup.procs");
        let text =
            fs::read_to_string(&procs).map_err(|e| HarnessError::io("reading", &procs, e))?;
        Ok(text.lines().filter_map(|l| l.trim().parse().ok()).collect())
    }

    fn populated(&self) -> bool {
        fs::read_to_string(self.path.join("cgroup.events"))
            .map(|events| events.lines().any(|l| l == "populated 1"))
            .unwrap_or(false)
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        // cgroup.kill (Linux 5.14+) kills the whole subtree at once.
        let _ = fs::write(self.path.join("cgroup.kill"), "1");
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.populated() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        // Children first: runtimes may have made per-pod cgroups inside.
        if let Err(e) = remove_cgroup_tree(&self.path) {
            eprintln!(
                "harness: cleanup: removing cgroup {}: {e}",
                self.path.display()
            );
        }
    }
}

/// Removes a cgroup directory and its child cgroups, deepest first. A cgroup
/// is removed with rmdir: its interface files cannot be unlinked.
pub(crate) fn remove_cgroup_tree(path: &Path) -> std::io::Result<()> {
    for entry in fs::read_dir(path)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            remove_cgroup_tree(&entry.path())?;
        }
    }
    fs::remove_dir(path)
}
