//! Finding the workspace's own binaries (`strait`, `strait-cni`) from a test.
//! Cargo gives `CARGO_BIN_EXE_*` only to the crate that defines a binary, so
//! tests look next to themselves in the target directory instead.

use std::path::PathBuf;

use crate::error::HarnessError;

/// The path of workspace binary `name`: `$STRAIT_BIN_DIR/name` if that
/// variable is set, else the target directory the running test was built in
/// (`target/<profile>/deps/<test>` → `target/<profile>/<name>`).
pub fn binary(name: &str) -> Result<PathBuf, HarnessError> {
    let dir = match std::env::var_os("STRAIT_BIN_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let exe = std::env::current_exe()
                .map_err(|e| HarnessError::io("locating", "the test executable", e))?;
            let deps = exe.parent().map(PathBuf::from).unwrap_or_default();
            if deps.ends_with("deps") {
                deps.parent().map(PathBuf::from).unwrap_or(deps)
            } else {
                deps
            }
        }
    };
    let path = dir.join(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(HarnessError::Spec(format!(
            "{} does not exist: run `cargo build --bins` first (scripts/test does)",
            path.display()
        )))
    }
}
