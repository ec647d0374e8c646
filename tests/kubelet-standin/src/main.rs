//! `plinth-kubelet-standin`: runs static Pod manifests as host processes for plinth's e2e tests.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = plinth_kubelet_standin::cli::Cli::parse();
    match plinth_kubelet_standin::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
