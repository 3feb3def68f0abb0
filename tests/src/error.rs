//! The harness's error type. Each variant says which step failed and why.

use std::{io, path::PathBuf};

/// A step of building, using or tearing down a virtual cluster failed.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// A command could not start or exited non-zero.
    #[error("`{command}` failed: {detail}")]
    Command {
        /// The command line, for the reader.
        command: String,
        /// Exit status and stderr, or the spawn error.
        detail: String,
    },
    /// A file or directory operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done ("creating", "opening", ...).
        action: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The OS's reason.
        #[source]
        source: io::Error,
    },
    /// Entering a network namespace failed.
    #[error("entering netns {name}: {source}")]
    Setns {
        /// The namespace.
        name: String,
        /// The OS's reason.
        #[source]
        source: nix::Error,
    },
    /// A CNI plugin returned an error result or output that is not a result.
    #[error("CNI {command} for pod {pod}: {detail}")]
    Cni {
        /// ADD, DEL, CHECK.
        command: &'static str,
        /// The pod's name.
        pod: String,
        /// The plugin's error message or the decode failure.
        detail: String,
    },
    /// A condition did not hold before its deadline.
    #[error("timed out after {seconds:.1}s waiting for {what}")]
    Timeout {
        /// The condition, for the reader.
        what: String,
        /// How long it waited.
        seconds: f64,
    },
    /// The spec asked for something the harness cannot build.
    #[error("invalid cluster spec: {0}")]
    Spec(String),
}

impl HarnessError {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        HarnessError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
