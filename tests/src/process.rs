//! Running commands: one-shot commands whose failure is an error, and
//! long-running [`Process`]es that are killed when their guard drops.

use std::{
    process::{Child, Command, Output, Stdio},
    thread,
    time::{Duration, Instant},
};

use crate::error::HarnessError;

/// The command line of `cmd`, for error messages.
pub fn describe(cmd: &Command) -> String {
    let mut line = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        line.push(' ');
        line.push_str(&arg.to_string_lossy());
    }
    line
}

/// Runs `cmd` to completion; a non-zero exit is an error carrying its stderr.
pub fn output(cmd: &mut Command) -> Result<Output, HarnessError> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| HarnessError::Command {
            command: describe(cmd),
            detail: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(HarnessError::Command {
            command: describe(cmd),
            detail: format!(
                "{}: {}{}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim(),
                String::from_utf8_lossy(&out.stdout).trim()
            ),
        });
    }
    Ok(out)
}

/// Runs `ip` with `args` in the caller's namespace (use `ip -n NS` to reach
/// another one).
pub(crate) fn ip(args: &[&str]) -> Result<Output, HarnessError> {
    output(Command::new("ip").args(args))
}

/// A child process that is killed (SIGKILL) and reaped when dropped.
#[derive(Debug)]
pub struct Process {
    name: String,
    child: Child,
}

impl Process {
    /// Starts `cmd` with stdin closed.
    pub fn spawn(mut cmd: Command) -> Result<Process, HarnessError> {
        let name = describe(&cmd);
        let child = cmd
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| HarnessError::Command {
                command: name.clone(),
                detail: e.to_string(),
            })?;
        Ok(Process { name, child })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits up to `timeout` for the process to exit by itself; a process
    /// still running then is killed and that is an error.
    pub fn stop_after_exit(
        mut self,
        timeout: Duration,
    ) -> Result<std::process::ExitStatus, HarnessError> {
        let exited =
            crate::wait::wait_until(&self.name, timeout, || self.child.try_wait().ok().flatten());
        exited.map_err(|e| HarnessError::Command {
            command: self.name.clone(),
            detail: format!("did not exit by itself: {e}"),
        })
    }

    /// Sends SIGTERM and waits up to `grace` for the exit, then SIGKILL.
    pub fn stop(mut self, grace: Duration) -> Result<std::process::ExitStatus, HarnessError> {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        // ESRCH means it already exited; the wait below reaps it either way.
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Ok(status);
            }
            thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        self.child.wait().map_err(|e| HarnessError::Command {
            command: self.name.clone(),
            detail: format!("waiting for exit: {e}"),
        })
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
