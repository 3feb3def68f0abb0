//! What a process and its data directory use, read from `/proc` and the
//! filesystem: resident memory, CPU time (to tell when it has gone quiet)
//! and bytes on disk.

use std::{
    os::unix::fs::MetadataExt as _,
    path::Path,
    sync::OnceLock,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, anyhow};

/// A process's resident memory, in bytes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Memory {
    /// `VmRSS`: resident now.
    pub rss: u64,
    /// `VmHWM`: the most it has been resident.
    pub peak: u64,
}

/// Reads `VmRSS` and `VmHWM` from `/proc/<pid>/status`.
pub fn memory(pid: u32) -> Result<Memory> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let field = |name: &str| -> Result<u64> {
        let line = status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .ok_or_else(|| anyhow!("{path}: no {name}"))?;
        let kib: u64 = line
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .with_context(|| format!("{path}: {name}{line}"))?;
        Ok(kib * 1024)
    };
    Ok(Memory {
        rss: field("VmRSS:")?,
        peak: field("VmHWM:")?,
    })
}

/// User plus system CPU time of `pid` so far, in seconds.
pub fn cpu_seconds(pid: u32) -> Result<f64> {
    static TICKS_PER_SEC: OnceLock<f64> = OnceLock::new();
    let hz = TICKS_PER_SEC.get_or_init(|| {
        crate::first_line("getconf", &["CLK_TCK"])
            .parse()
            .unwrap_or(100.0)
    });
    Ok(cpu_ticks(pid)? as f64 / hz)
}

/// User plus system CPU time of this process's children that have been
/// waited for, in seconds.
pub fn children_cpu_seconds() -> f64 {
    use nix::sys::resource::{UsageWho, getrusage};
    getrusage(UsageWho::RUSAGE_CHILDREN).map_or(0.0, |u| {
        let seconds = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
        seconds(u.user_time()) + seconds(u.system_time())
    })
}

/// User plus system CPU time of `pid` so far, in clock ticks.
fn cpu_ticks(pid: u32) -> Result<u64> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    // The command name may hold spaces; the fields after it do not.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| anyhow!("{path}: no command name"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat(5), 12th and 13th here.
    let tick = |i: usize| -> Result<u64> {
        fields
            .get(i)
            .ok_or_else(|| anyhow!("{path}: too few fields"))?
            .parse()
            .with_context(|| format!("{path}: field {i}"))
    };
    Ok(tick(11)? + tick(12)?)
}

/// Waits until `pid` uses under 5% of one CPU over a second (background
/// work after a load, such as a controller pass, has finished), for at
/// most `limit`; returns how long that took.
pub async fn settle(pid: u32, limit: Duration) -> Result<Duration> {
    const QUIET_TICKS_PER_SEC: u64 = 5;
    let start = Instant::now();
    let mut before = cpu_ticks(pid)?;
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = cpu_ticks(pid)?;
        if now - before < QUIET_TICKS_PER_SEC || start.elapsed() > limit {
            return Ok(start.elapsed());
        }
        before = now;
    }
}

/// Bytes allocated on disk under `path` (as `du` counts them).
pub fn disk_usage(path: &Path) -> Result<u64> {
    let meta =
        std::fs::symlink_metadata(path).with_context(|| format!("reading {}", path.display()))?;
    let mut total = meta.blocks() * 512;
    if meta.is_dir() {
        for entry in std::fs::read_dir(path)? {
            total += disk_usage(&entry?.path())?;
        }
    }
    Ok(total)
}
