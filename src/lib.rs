//! anontrack: the lab's DICOM anonymization workflow, driven by its tracking workbook.
//!
//! Where things live:
//! - [`study`]: one study resolved once per run (workbook, folder, `.anontrack/` layout, config,
//!   table, profile, the run's date);
//! - [`sheet`]: the tracking workbook as plain data (reading, the `init` template, the in-place
//!   patch of the xlsx package, and [`sheet::writeback`], applying row results by participant ID);
//! - [`config`]: `anontrack.toml`, the folder templates (a row's two folders, refused when they
//!   overlap);
//! - [`plan`]: which rows need what, and why (a pure function of rows and config);
//! - [`deid`]: the standard's de-identification vocabulary (options, actions, keyed values);
//! - [`anonymize`]: profiles as data and their byte-surgical application to DICOM files;
//! - [`verify`]: the independent second reviewer, comparing anonymized files with raw ones;
//! - [`finding`]: what went wrong for a participant, in the lab's own words;
//! - [`folder`]: a participant's folder on disk, the rules writer and verifier share (listing
//!   and its symlink rule, renaming the ID inside paths, refusing overlapping folders);
//! - [`private`]: private blocks, the creator lookup writer and verifier share;
//! - [`records`]: per-participant JSON reports and the audit log under `.anontrack/`;
//! - [`runner`]: the row runner, one planned row worked to its end (anonymize, verify, report);
//! - [`staging`]: a participant written and checked under `.anontrack/`, flushed, then moved
//!   into AnonDcm; [`interrupt`]: Ctrl-C and SIGTERM ask the run to stop starting work;
//! - [`results`]: what a row and a sync came to, as data ([`results::RowResult`],
//!   [`results::SyncReport`]);
//! - [`progress`]: how engines report progress (a small trait; bars are drawn by [`ui`]);
//! - [`notify`]: the Slack/Mattermost notice after a sync (`[notify]` in anontrack.toml);
//! - [`lock`]: one sync per study at a time (`.anontrack/sync.lock`);
//! - [`near`]: the near-match behind every "did you mean ...?" hint;
//! - [`cluster`]: the plan file, work items and collect step of a sync split across a cluster,
//!   and the SLURM submit script;
//! - [`synth`]: synthetic DICOM files with made-up PHI, for the demo, tests and benchmarks;
//! - [`demo`]: the demo study of `anontrack demo` (one participant per state, synthetic scans);
//! - [`cli`], [`cmd`], [`ui`]: argument parsing, one module per subcommand, and terminal output.

pub mod anonymize;
pub mod cli;
pub mod cluster;
pub mod cmd;
pub mod config;
pub mod deid;
pub mod demo;
pub mod error;
pub mod exit;
pub mod finding;
pub mod folder;
pub mod interrupt;
pub mod lock;
pub mod near;
pub mod notify;
pub mod plan;
pub mod private;
pub mod progress;
pub mod records;
pub mod results;
pub mod runner;
pub mod sheet;
pub mod staging;
pub mod study;
pub mod synth;
pub mod ui;
pub mod verify;

pub use error::{Error, Result};

use std::ffi::OsString;
use std::process::ExitCode;

/// Runs anontrack with the given arguments (the first being the program name) and returns the
/// process exit code. `main` is only this call, so tests can drive the whole tool in-process.
pub fn run<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    cli::run(args).code()
}
