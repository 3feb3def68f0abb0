//! `strait-cni`: the CNI plugin container runtimes execute for every pod.
//!
//! Until the pod networking issue lands it answers every command with the
//! CNI error object on stdout and a non-zero exit, as the spec requires of
//! a failing plugin, so a runtime pointed at it fails loudly, not silently.

use std::process::ExitCode;

/// The spec leaves codes 100 and up to plugins; 100 here means "not built".
const NOT_BUILT: &str = r#"{"cniVersion":"1.1.0","code":100,"msg":"strait-cni is not built yet","details":"pod networking lands with issue 4; use the reference bridge plugin meanwhile"}"#;

fn main() -> ExitCode {
    println!("{NOT_BUILT}");
    ExitCode::FAILURE
}
