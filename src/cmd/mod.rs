//! One module per subcommand: each holds its clap `Args` struct and one `run(args, ui)`.

pub mod anonymize;
pub mod demo;
pub mod gen_study;
pub mod init;
pub mod status;
pub mod sync;
pub mod verify;
