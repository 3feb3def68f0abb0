//! `strait-leak-check`: the suite-level check that tests left nothing behind.
//!
//! `strait-leak-check --save-host-links FILE` records the host's links before
//! the suite; `strait-leak-check [--host-links FILE]` afterwards lists every
//! harness-made netns, cgroup, bpf pin and state dir, and every host link not
//! in FILE, and exits 1 if there is any. `--clean` removes them instead.

use std::{collections::BTreeSet, fs, process::ExitCode};

use anyhow::{Context as _, bail};
use strait_tests::leaks;

fn main() -> anyhow::Result<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut baseline = None;
    let mut clean = false;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--save-host-links" => {
                let file = rest.next().context("--save-host-links needs a file")?;
                let links: Vec<String> = leaks::host_links().into_iter().collect();
                fs::write(file, links.join("\n") + "\n")
                    .with_context(|| format!("writing {file}"))?;
                return Ok(ExitCode::SUCCESS);
            }
            "--host-links" => {
                let file = rest.next().context("--host-links needs a file")?;
                let text = fs::read_to_string(file).with_context(|| format!("reading {file}"))?;
                baseline = Some(
                    text.lines()
                        .map(str::to_owned)
                        .filter(|l| !l.is_empty())
                        .collect::<BTreeSet<_>>(),
                );
            }
            "--clean" => clean = true,
            "-h" | "--help" => {
                println!(
                    "usage: strait-leak-check [--host-links FILE] [--clean]\n       strait-leak-check --save-host-links FILE"
                );
                return Ok(ExitCode::SUCCESS);
            }
            other => bail!("unknown argument {other:?} (see --help)"),
        }
    }

    let mut found = leaks::all();
    if let Some(baseline) = &baseline {
        for link in leaks::new_host_links(baseline) {
            if !found.contains(&link) {
                found.push(link);
            }
        }
    }
    if found.is_empty() {
        println!("leak check: nothing left behind (netns, host links, cgroups, bpf pins, state)");
        return Ok(ExitCode::SUCCESS);
    }
    if clean {
        let failed = leaks::clean(&found);
        for (leak, why) in &failed {
            eprintln!("leak check: could not remove {leak}: {why}");
        }
        println!(
            "leak check: removed {} of {}",
            found.len() - failed.len(),
            found.len()
        );
        return Ok(if failed.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    for leak in &found {
        println!("leak check: LEAKED {leak}");
    }
    println!(
        "leak check: {} resources left behind (remove with --clean)",
        found.len()
    );
    Ok(ExitCode::FAILURE)
}
