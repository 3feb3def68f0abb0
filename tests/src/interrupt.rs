//! Ctrl-C for the benchmarks: the first SIGINT or SIGTERM raises a flag the
//! benchmark checks between steps, so it unwinds and its virtual cluster
//! removes every namespace it made; a second signal ends the process at
//! once.

use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::signal::{SigSet, Signal};

use crate::error::HarnessError;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Blocks SIGINT and SIGTERM in the calling thread (and so in every thread
/// it starts later) and hands them to one thread that raises the flag.
/// Call first thing in `main`. Children start with an empty mask (std
/// resets it). `program` names the process in the message.
pub fn install(program: &'static str) -> Result<(), HarnessError> {
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGINT);
    signals.add(Signal::SIGTERM);
    signals
        .thread_block()
        .map_err(|e| HarnessError::Spec(format!("blocking SIGINT and SIGTERM: {e}")))?;
    std::thread::spawn(move || {
        if signals.wait().is_ok() {
            eprintln!("{program}: interrupted, cleaning up");
            INTERRUPTED.store(true, Ordering::Relaxed);
        }
        if let Ok(signal) = signals.wait() {
            std::process::exit(128 + signal as i32);
        }
    });
    Ok(())
}

/// Whether a signal arrived.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}
