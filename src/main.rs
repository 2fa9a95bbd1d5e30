use std::process::ExitCode;

fn main() -> ExitCode {
    anontrack::run(std::env::args_os())
}
