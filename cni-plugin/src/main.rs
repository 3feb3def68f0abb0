//! `strait-cni`: the CNI plugin container runtimes execute for every pod.
//! Reads the CNI_* environment and the config on stdin, runs the command,
//! prints the result (or the spec's error object) on stdout. Logs go to
//! stderr only: stdout belongs to the runtime.

use std::{collections::HashMap, io::Read as _, process::ExitCode};

use strait_cni::{error::CniError, plugin};

fn main() -> ExitCode {
    let mut stdin = Vec::new();
    let vars: HashMap<String, String> = std::env::vars().collect();
    // Every command reads the config (VERSION for the cniVersion it asks).
    if let Err(e) = std::io::stdin().read_to_end(&mut stdin) {
        return fail(
            &CniError::io("reading the config from stdin", e.to_string()),
            &stdin,
        );
    }
    // One thread: a plugin exec is short, and netns sockets are opened on
    // helper threads anyway.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(&CniError::io("starting the runtime", e.to_string()), &stdin),
    };
    match runtime.block_on(plugin::run(&vars, &stdin)) {
        Ok(out) => {
            if !out.is_empty() {
                println!("{out}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e, &stdin),
    }
}

fn fail(error: &CniError, stdin: &[u8]) -> ExitCode {
    println!("{}", error.render(plugin::error_version(stdin)));
    eprintln!("strait-cni: {error}");
    ExitCode::FAILURE
}
