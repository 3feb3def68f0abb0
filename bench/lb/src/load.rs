//! The two ends of the connection benchmark, each run as its own process in
//! a pod's network namespace: `serve` answers every connection with one
//! byte; `load` opens short-lived connections from several threads for a
//! while and reports each connect's latency. The client ends each
//! connection with a reset (SO_LINGER 0), so no side keeps TIME_WAIT
//! state: at tens of thousands of connections per second, TIME_WAIT on
//! either end (and its conntrack entries) would collide with reused ports
//! and measure that instead of the load balancer.

use std::{
    io::{Read as _, Write as _},
    net::{SocketAddr, TcpListener, TcpStream},
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result};
use strait_tests::stats::Stats;

/// Accepts forever on `port` with `threads` acceptors.
pub fn serve(port: u16, threads: usize) -> Result<()> {
    let listener =
        TcpListener::bind(("0.0.0.0", port)).with_context(|| format!("binding port {port}"))?;
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            let listener = &listener;
            scope.spawn(move || {
                loop {
                    if let Ok((mut stream, _)) = listener.accept() {
                        // A client gone already is its business. Wait for
                        // its reset, so the server never closes first.
                        if stream.write_all(b"x").is_ok() {
                            let mut rest = [0u8; 16];
                            let _ = stream.read(&mut rest);
                        }
                    }
                }
            });
        }
    });
    Ok(())
}

/// What one `load` run measured.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoadResult {
    /// Connections completed (connected and answered).
    pub connections: u64,
    /// Connections that failed.
    pub errors: u64,
    /// Wall time of the run.
    pub seconds: f64,
    /// Connect latency percentiles.
    pub stats: Stats,
}

impl LoadResult {
    /// Completed connections per second.
    pub fn rate(&self) -> f64 {
        if self.seconds > 0.0 {
            self.connections as f64 / self.seconds
        } else {
            0.0
        }
    }

    /// One JSON line, what `load` prints for the orchestrator.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "connections": self.connections,
            "errors": self.errors,
            "seconds": self.seconds,
            "p50_us": self.stats.p50.as_micros() as u64,
            "p90_us": self.stats.p90.as_micros() as u64,
            "p99_us": self.stats.p99.as_micros() as u64,
            "mean_us": self.stats.mean.as_micros() as u64,
        })
    }

    /// Reads what [`LoadResult::to_json`] wrote.
    pub fn from_json(value: &serde_json::Value) -> Option<LoadResult> {
        let us = |key: &str| value.get(key)?.as_u64().map(Duration::from_micros);
        Some(LoadResult {
            connections: value.get("connections")?.as_u64()?,
            errors: value.get("errors")?.as_u64()?,
            seconds: value.get("seconds")?.as_f64()?,
            stats: Stats {
                p50: us("p50_us")?,
                p90: us("p90_us")?,
                p99: us("p99_us")?,
                mean: us("mean_us")?,
            },
        })
    }
}

/// Makes dropping `stream` send a reset instead of a FIN (SO_LINGER 0).
fn reset_on_close(stream: &TcpStream) {
    let linger = nix::libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // Without it the connection closes normally: slower, still correct.
    let _ = nix::sys::socket::setsockopt(stream, nix::sys::socket::sockopt::Linger, &linger);
}

/// Opens connections to `target` from `threads` threads for `duration`.
pub fn load(target: SocketAddr, duration: Duration, threads: usize) -> LoadResult {
    let started = Instant::now();
    let deadline = started + duration;
    let per_thread: Vec<(Vec<Duration>, u64)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                scope.spawn(move || {
                    let mut samples = Vec::new();
                    let mut errors = 0u64;
                    while Instant::now() < deadline {
                        let t = Instant::now();
                        match TcpStream::connect_timeout(&target, Duration::from_secs(2)) {
                            Ok(mut stream) => {
                                let connected = t.elapsed();
                                let mut byte = [0u8; 1];
                                match stream.read(&mut byte) {
                                    Ok(1) => samples.push(connected),
                                    _ => errors += 1,
                                }
                                reset_on_close(&stream);
                            }
                            Err(_) => errors += 1,
                        }
                    }
                    (samples, errors)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_default())
            .collect()
    });
    let seconds = started.elapsed().as_secs_f64();
    let errors = per_thread.iter().map(|(_, e)| e).sum();
    let samples: Vec<Duration> = per_thread.into_iter().flat_map(|(s, _)| s).collect();
    LoadResult {
        connections: samples.len() as u64,
        errors,
        seconds,
        stats: Stats::of(&samples),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_survive_the_json_round_trip() {
        let r = LoadResult {
            connections: 1000,
            errors: 2,
            seconds: 2.0,
            stats: Stats {
                p50: Duration::from_micros(80),
                p90: Duration::from_micros(120),
                p99: Duration::from_micros(400),
                mean: Duration::from_micros(90),
            },
        };
        assert_eq!(LoadResult::from_json(&r.to_json()), Some(r.clone()));
        assert_eq!(r.rate(), 500.0);
    }

    #[test]
    fn load_against_a_local_server_counts_connections() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut stream = stream;
                let _ = stream.write_all(b"x");
                let mut rest = [0u8; 16];
                let _ = stream.read(&mut rest);
            }
        });
        let r = load(addr, Duration::from_millis(200), 2);
        assert!(r.connections > 10, "{r:?}");
        assert_eq!(r.errors, 0);
        assert!(r.stats.p50 > Duration::ZERO);
        // Nothing listens on port 1: every attempt is an error.
        let refused = load(
            "127.0.0.1:1".parse().expect("addr"),
            Duration::from_millis(50),
            1,
        );
        assert_eq!(refused.connections, 0);
        assert!(refused.errors > 0);
    }
}
