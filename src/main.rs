//! The `anontrack` binary: everything lives in the library; this only hands over the arguments.

use std::process::ExitCode;

fn main() -> ExitCode {
    anontrack::run(std::env::args_os())
}
