//! Unique names for the resources of one virtual cluster. Every netns,
//! cgroup, bpffs directory and state directory the harness creates starts
//! with a [`Prefix`], which is how [`crate::leaks`] recognises them.

use std::{
    fmt,
    hash::{BuildHasher, RandomState},
    sync::atomic::{AtomicU64, Ordering},
    time::{SystemTime, UNIX_EPOCH},
};

/// `st` followed by six hex digits: short enough to leave room in names,
/// random enough that parallel tests and parallel test processes differ.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Prefix(String);

impl Prefix {
    /// A fresh prefix, different from every other one this process made.
    pub fn unique() -> Prefix {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        // RandomState is seeded per process; mixing in pid, time and a counter
        // makes collisions between concurrent runs vanishingly unlikely.
        let hash = RandomState::new().hash_one((std::process::id(), nanos, n));
        Prefix(format!("st{:06x}", hash & 0xff_ffff))
    }

    /// The prefix itself.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `<prefix>-<suffix>`, the name of one resource.
    pub fn name(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.0)
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `name` was made by the harness: `st` + six hex digits + `-`.
pub fn is_harness_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    bytes.len() > 9
        && bytes.starts_with(b"st")
        && bytes[2..8]
            .iter()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        && bytes[8] == b'-'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_prefixes_differ_and_are_recognised() {
        let a = Prefix::unique();
        let b = Prefix::unique();
        assert_ne!(a, b);
        assert!(is_harness_name(&a.name("n1")));
        assert_eq!(a.as_str().len(), 8);
    }

    #[test]
    fn foreign_names_are_not_harness_names() {
        for name in [
            "eth0",
            "st",
            "st12345-x",
            "stzzzzzz-n1",
            "st123456",
            "st123456n1",
            "cni0",
        ] {
            assert!(!is_harness_name(name), "{name}");
        }
        assert!(is_harness_name("st00abef-ul"));
    }
}
