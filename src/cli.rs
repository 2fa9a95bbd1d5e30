//! Command-line parsing and the one dispatch `match`: flags become a [`Ui`] and a subcommand's
//! args, errors become one `error: ...` line on stderr and exit code 2.

use crate::cmd;
use crate::exit::Outcome;
use crate::ui::{Ui, Verbosity};
use clap::{Parser, Subcommand};
use std::ffi::OsString;

/// Anonymize MRI DICOM folders as the study's tracking workbook asks, verify them like a second
/// reviewer, and write the result back into the workbook.
///
/// Exit codes: 0 all done, 1 ran but problems were recorded, 2 could not proceed, 130 interrupted.
#[derive(Debug, Parser)]
#[command(
    name = "anontrack",
    version,
    about,
    long_about,
    after_help = "Start with `anontrack demo` to see it work on made-up data; then, in your study folder:\n  anontrack status STUDYNAME_dataprocessing.xlsx\n  anontrack sync STUDYNAME_dataprocessing.xlsx --dry-run\n  anontrack sync STUDYNAME_dataprocessing.xlsx"
)]
pub struct Cli {
    /// Print results as JSON, one object per line, and nothing else on stdout.
    #[arg(long, global = true, conflicts_with = "quiet", help_heading = "Output")]
    pub json: bool,

    /// Print nothing but errors.
    #[arg(long, short, global = true, help_heading = "Output")]
    pub quiet: bool,

    /// Print more about what is happening (on stderr); repeat for even more.
    #[arg(long, short, global = true, action = clap::ArgAction::Count, help_heading = "Output")]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Anonymize and verify every participant the workbook queues, then write the result back.
    Sync(cmd::sync::SyncArgs),
    /// Show every participant's state and each stage's progress. Never writes anything.
    Status(cmd::status::StatusArgs),
    /// Make a new, empty tracking workbook and a commented anontrack.toml.
    Init(cmd::init::InitArgs),
    /// Anonymize one participant's folder, outside any workbook.
    Anonymize(cmd::anonymize::AnonymizeArgs),
    /// Check anonymized folders against their raw folders, like the second reviewer. Changes nothing.
    Verify(cmd::verify::VerifyArgs),
    /// Make a demo study with synthetic scans, run `sync` on it and show `status`.
    Demo(cmd::demo::DemoArgs),
    /// Print a built-in anonymization profile to copy and edit, or check a profile file.
    Profile(cmd::profile::ProfileArgs),
    /// Work one item of a plan made by `sync --plan-out` (one participant; a SLURM array task).
    Work(cmd::work::WorkArgs),
    /// Print a bash script that submits a plan's work to SLURM as an array job, then the collect.
    SlurmScript(cmd::slurm_script::SlurmScriptArgs),
    /// Generate a synthetic study for benchmarks (made-up data only).
    #[command(hide = true)]
    GenStudy(cmd::gen_study::GenStudyArgs),
}

/// Parses `args`, runs the subcommand and returns how it ended.
pub fn run<I, T>(args: I) -> Outcome
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                Outcome::Error
            } else {
                Outcome::Success
            };
        }
    };
    let verbosity = if cli.quiet {
        Verbosity::Quiet
    } else if cli.json {
        Verbosity::Json
    } else {
        Verbosity::Normal
    };
    init_logging(verbosity, cli.verbose);
    let ui = Ui::new(verbosity).with_verbose(cli.verbose);
    let result = match cli.command {
        Command::Sync(args) => cmd::sync::run(args, &ui),
        Command::Status(args) => cmd::status::run(args, &ui),
        Command::Init(args) => cmd::init::run(args, &ui),
        Command::Anonymize(args) => cmd::anonymize::run(args, &ui),
        Command::Verify(args) => cmd::verify::run(args, &ui),
        Command::Demo(args) => cmd::demo::run(args, &ui),
        Command::Profile(args) => cmd::profile::run(args, &ui),
        Command::Work(args) => cmd::work::run(args, &ui),
        Command::SlurmScript(args) => cmd::slurm_script::run(args, &ui),
        Command::GenStudy(args) => cmd::gen_study::run(args, &ui),
    };
    match result {
        Ok(outcome) => outcome,
        Err(e) => {
            let mut shown = format!("error: {e}");
            eprintln!("{shown}");
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                // Most messages already end with their cause: don't say it twice.
                let text = cause.to_string();
                if !shown.contains(&text) {
                    eprintln!("  caused by: {text}");
                    shown.push_str(&text);
                }
                source = cause.source();
            }
            Outcome::Error
        }
    }
}

/// Logs go to stderr: warnings by default, more with `-v`, nothing but errors with `--quiet`.
fn init_logging(verbosity: Verbosity, verbose: u8) {
    let level = match (verbosity, verbose) {
        (Verbosity::Quiet, _) => tracing::Level::ERROR,
        (_, 0) => tracing::Level::WARN,
        (_, 1) => tracing::Level::INFO,
        _ => tracing::Level::DEBUG,
    };
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{Layer, filter};
    // Colour codes only on a terminal: in a log file or a pipe they are noise.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    // dicom-rs warns about details of every odd file it reads (an unknown character set, say);
    // our own findings already say what matters, so its warnings show only with `-v`.
    let quiet_libraries = verbose == 0;
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(false)
        .without_time()
        .with_filter(filter::LevelFilter::from_level(level))
        .with_filter(filter::filter_fn(move |meta| {
            !(quiet_libraries
                && meta.target().starts_with("dicom")
                && *meta.level() > tracing::Level::ERROR)
        }));
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }
}
