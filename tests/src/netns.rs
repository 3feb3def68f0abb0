//! Named network namespaces (`ip netns`), and running code and commands
//! inside them without touching the caller's own namespace.
//!
//! Commands enter a namespace with setns(2) between fork and exec, never with
//! `ip netns exec`: that one also remounts /sys, which would hide bpffs and
//! the cgroup hierarchy from strait's daemons.

use std::{
    ffi::OsStr,
    fs::{File, OpenOptions},
    os::unix::process::CommandExt as _,
    path::{Path, PathBuf},
    process::{Command, Output},
    thread,
};

use nix::sched::{CloneFlags, setns};

use crate::{
    error::HarnessError,
    process::{self, Process},
};

/// Where `ip netns` keeps its bind mounts.
pub const NETNS_DIR: &str = "/run/netns";

/// A named network namespace, deleted (with every process in it) on drop.
#[derive(Debug)]
pub struct Netns {
    name: String,
    path: PathBuf,
}

impl Netns {
    /// Creates the namespace `name` with its loopback up.
    pub fn create(name: &str) -> Result<Netns, HarnessError> {
        process::ip(&["netns", "add", name])?;
        let netns = Netns {
            name: name.to_owned(),
            path: Path::new(NETNS_DIR).join(name),
        };
        netns.ip(&["link", "set", "lo", "up"])?;
        Ok(netns)
    }

    /// Its name, as `ip netns` lists it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its bind-mounted file, the form CNI_NETNS takes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `ip -n <this> args...`.
    pub fn ip(&self, args: &[&str]) -> Result<Output, HarnessError> {
        let mut cmd = Command::new("ip");
        cmd.arg("-n").arg(&self.name).args(args);
        process::output(&mut cmd)
    }

    /// Writes a per-namespace sysctl such as `net/ipv4/ip_forward`.
    pub fn sysctl(&self, key: &str, value: &str) -> Result<(), HarnessError> {
        let path = Path::new("/proc/sys").join(key);
        self.run(move || {
            std::fs::write(&path, value).map_err(|e| HarnessError::io("writing", &path, e))
        })?
    }

    /// A command that will run inside this namespace and, if given, in the
    /// cgroup `cgroup` (a cgroup v2 directory).
    pub fn command(
        &self,
        program: impl AsRef<OsStr>,
        cgroup: Option<&Path>,
    ) -> Result<Command, HarnessError> {
        command_in(&self.path, program, cgroup)
    }

    /// Runs `args` inside this namespace to completion.
    pub fn exec(&self, args: &[&str]) -> Result<Output, HarnessError> {
        let (program, rest) = args
            .split_first()
            .ok_or_else(|| HarnessError::Spec("empty command".into()))?;
        let mut cmd = self.command(program, None)?;
        cmd.args(rest);
        process::output(&mut cmd)
    }

    /// Starts `args` inside this namespace (and `cgroup`, if given).
    pub fn spawn(&self, args: &[&str], cgroup: Option<&Path>) -> Result<Process, HarnessError> {
        let (program, rest) = args
            .split_first()
            .ok_or_else(|| HarnessError::Spec("empty command".into()))?;
        let mut cmd = self.command(program, cgroup)?;
        cmd.args(rest);
        Process::spawn(cmd)
    }

    /// Runs `f` on a fresh thread that has entered this namespace, so
    /// in-process code (netlink, aya attach, sockets) sees its interfaces.
    /// The caller's thread never changes namespace.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T, HarnessError> {
        let ns = File::open(&self.path).map_err(|e| HarnessError::io("opening", &self.path, e))?;
        thread::scope(|scope| {
            let handle = scope.spawn(move || {
                setns(&ns, CloneFlags::CLONE_NEWNET).map_err(|source| HarnessError::Setns {
                    name: self.name.clone(),
                    source,
                })?;
                Ok(f())
            });
            match handle.join() {
                Ok(result) => result,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    }

    /// One ICMP echo to `ip` that must be answered within two seconds.
    pub fn ping(&self, ip: std::net::Ipv4Addr) -> Result<(), HarnessError> {
        self.exec(&["ping", "-n", "-q", "-c", "1", "-W", "2", &ip.to_string()])
            .map(drop)
    }

    /// Pids of every process in this namespace.
    pub fn pids(&self) -> Result<Vec<i32>, HarnessError> {
        let out = process::ip(&["netns", "pids", &self.name])?;
        Ok(String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|pid| pid.parse().ok())
            .collect())
    }
}

/// A command that will run inside the namespace whose file is `netns` and,
/// if given, in the cgroup `cgroup` (a cgroup v2 directory).
pub fn command_in(
    netns: &Path,
    program: impl AsRef<OsStr>,
    cgroup: Option<&Path>,
) -> Result<Command, HarnessError> {
    let ns = File::open(netns).map_err(|e| HarnessError::io("opening", netns, e))?;
    let procs = cgroup
        .map(|dir| {
            let path = dir.join("cgroup.procs");
            OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(|e| HarnessError::io("opening", path, e))
        })
        .transpose()?;
    let mut cmd = Command::new(program);
    // SAFETY: the closure runs in the child between fork and exec. It makes
    // only setns(2) and write(2) calls on descriptors opened before the fork;
    // both are async-signal-safe and nothing is allocated.
    unsafe {
        cmd.pre_exec(move || {
            setns(&ns, CloneFlags::CLONE_NEWNET)?;
            if let Some(procs) = &procs {
                // "0" moves the writing process itself.
                nix::unistd::write(procs, b"0")?;
            }
            Ok(())
        });
    }
    Ok(cmd)
}

impl Drop for Netns {
    fn drop(&mut self) {
        // A namespace outlives its file while a process is in it: kill them first.
        if let Ok(pids) = self.pids() {
            for pid in pids {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        if let Err(e) = process::ip(&["netns", "del", &self.name]) {
            eprintln!("harness: cleanup: {e}");
        }
    }
}
