//! Waiting for conditions with deadlines, so no test hangs forever.

use std::{
    thread,
    time::{Duration, Instant},
};

use crate::error::HarnessError;

/// Polls `check` until it returns `Some`, backing off from 5 ms to 100 ms,
/// and fails with a [`HarnessError::Timeout`] naming `what` after `timeout`.
pub fn wait_until<T>(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> Result<T, HarnessError> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        if let Some(value) = check() {
            return Ok(value);
        }
        if start.elapsed() >= timeout {
            return Err(HarnessError::Timeout {
                what: what.to_owned(),
                seconds: start.elapsed().as_secs_f64(),
            });
        }
        thread::sleep(pause.min(timeout.saturating_sub(start.elapsed())));
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_the_value_once_the_condition_holds() {
        let mut calls = 0;
        let got = wait_until("third call", Duration::from_secs(5), || {
            calls += 1;
            (calls == 3).then_some(calls)
        });
        assert_eq!(got.ok(), Some(3));
    }

    #[test]
    fn times_out_naming_the_condition() {
        let err = wait_until("never", Duration::from_millis(30), || None::<()>);
        match err {
            Err(HarnessError::Timeout { what, seconds }) => {
                assert_eq!(what, "never");
                assert!(seconds >= 0.03);
            }
            other => panic!("expected a timeout, got {other:?}"),
        }
    }
}
