//! The `plinth` binary: parse the command line, run, map errors to exit codes
//! (0 ok, 1 runtime failure, 2 usage or config error).

use std::process::ExitCode;

fn main() -> ExitCode {
    plinth::cli::main()
}
