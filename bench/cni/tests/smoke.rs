//! The benchmark on a few pods and one short iperf3 run per path, so the
//! suite proves it still runs (and cleans up: the suite's leak check runs
//! after it). The full run is `bench/README.md`'s command, never CI's.

use std::process::Command;

use strait_tests::privileged;

#[test]
fn the_benchmark_runs_in_smoke_mode() {
    if !privileged("the_benchmark_runs_in_smoke_mode") {
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_strait-bench-cni"))
        .args([
            "--pods",
            "5",
            "--parallel",
            "2",
            "--runs",
            "1",
            "--seconds",
            "1",
        ])
        .output()
        .expect("the benchmark starts");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for row in [
        "| ADD, sequential |",
        "| DEL, 2 in parallel |",
        "| median |",
    ] {
        assert!(stdout.contains(row), "no {row:?} in {stdout}");
    }
}
