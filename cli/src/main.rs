//! `strait`: parse the command line, run the chosen component.

mod args;
mod daemon;
mod plan;

use std::process::ExitCode;

use clap::Parser as _;

use anyhow::Context as _;
use args::{Cli, Command, InspectCommand};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("strait: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Control(control) => daemon::control(control),
        Command::Agent(agent) => daemon::agent(agent),
        Command::Up(up) => {
            print!("{}", plan::up(&up));
            Ok(())
        }
        Command::Down(_) => {
            println!("strait down: nothing to stop (strait up does not start a cluster yet)");
            Ok(())
        }
        Command::Inspect(InspectCommand::Lb { bpffs }) => {
            let maps = strait_proxy_agent::inspect::read_pinned(&bpffs).with_context(|| {
                format!("reading the load-balancer maps in {}", bpffs.display())
            })?;
            print!("{}", strait_proxy_agent::inspect::render(&maps));
            Ok(())
        }
        other => Err(not_built(&other)),
    }
}

/// The error of a subcommand whose component has not landed yet.
fn not_built(command: &Command) -> anyhow::Error {
    let (name, issue) = match command {
        Command::Control(_) => ("control", 3),
        Command::Agent(_) => ("agent", 5),
        Command::Dns(_) => ("dns", 6),
        Command::Ingress(_) => ("ingress", 7),
        Command::Node(_) => ("node", 8),
        Command::Up(_) | Command::Down(_) => ("up", 8),
        Command::Inspect(_) => ("inspect", 5),
    };
    anyhow::anyhow!("`strait {name}` is not built yet (tracked in issue {issue})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unbuilt_daemons_fail_with_a_clear_error() {
        for argv in [
            &["strait", "dns", "--kubeconfig", "k"][..],
            &["strait", "ingress", "--kubeconfig", "k"],
            &["strait", "node", "--kubeconfig", "k"],
        ] {
            let cli = Cli::try_parse_from(argv).expect("valid arguments");
            let err = run(cli.command).expect_err("not built yet");
            assert!(err.to_string().contains("is not built yet"), "{err}");
        }
    }

    #[test]
    fn inspect_without_pins_fails_with_the_directory_named() {
        let cli =
            Cli::try_parse_from(["strait", "inspect", "lb", "--bpffs", "/nonexistent/strait"])
                .expect("valid arguments");
        let err = run(cli.command).expect_err("no pins");
        assert!(
            format!("{err:#}").contains("/nonexistent/strait"),
            "{err:#}"
        );
    }

    #[test]
    fn up_and_down_succeed() {
        for argv in [&["strait", "up"][..], &["strait", "down"]] {
            let cli = Cli::try_parse_from(argv).expect("valid arguments");
            run(cli.command).expect("succeeds");
        }
    }
}
