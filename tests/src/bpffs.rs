//! Per-node directories in the bpffs at `/sys/fs/bpf`, where a node's daemons
//! pin their maps and programs. Removed with everything pinned in them on drop.

use std::{
    fs,
    path::{Path, PathBuf},
};

use crate::error::HarnessError;

/// Where bpffs is mounted (scripts/setup mounts it if it is missing).
pub const BPFFS_ROOT: &str = "/sys/fs/bpf";

/// A directory in bpffs; on drop every pin in it is unlinked and it is removed.
#[derive(Debug)]
pub struct BpfDir {
    path: PathBuf,
}

impl BpfDir {
    /// Creates `BPFFS_ROOT/<name>`.
    pub fn create(name: &str) -> Result<BpfDir, HarnessError> {
        let path = Path::new(BPFFS_ROOT).join(name);
        fs::create_dir(&path).map_err(|e| HarnessError::io("creating bpffs dir", &path, e))?;
        Ok(BpfDir { path })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for BpfDir {
    fn drop(&mut self) {
        // Unlinking a pin drops the reference; the object goes when unused.
        if let Err(e) = fs::remove_dir_all(&self.path) {
            eprintln!("harness: cleanup: removing {}: {e}", self.path.display());
        }
    }
}
