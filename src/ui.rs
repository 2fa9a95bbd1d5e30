//! Terminal output: the one place that decides what goes to stdout and stderr.
//!
//! Results go to stdout (human lines, or one JSON object per line with `--json`); logs, warnings
//! and progress go to stderr. `--quiet` silences everything but errors. A closed stdout
//! (`anontrack status | head`) is a quiet success, not a panic.

use serde::Serialize;
use std::io::{IsTerminal, Write};

/// How much to print, and in which form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    /// Only errors (on stderr).
    Quiet,
    /// Human-readable results on stdout, progress on stderr.
    Normal,
    /// One JSON object per line on stdout and nothing else there.
    Json,
}

/// Where commands send their results.
#[derive(Debug, Clone)]
pub struct Ui {
    verbosity: Verbosity,
}

impl Ui {
    /// A printer for the given mode.
    pub fn new(verbosity: Verbosity) -> Self {
        Self { verbosity }
    }

    /// The mode.
    pub fn verbosity(&self) -> Verbosity {
        self.verbosity
    }

    /// True with `--json`.
    pub fn is_json(&self) -> bool {
        self.verbosity == Verbosity::Json
    }

    /// Prints a human result line on stdout (not in `--quiet` or `--json` mode).
    pub fn line(&self, text: impl AsRef<str>) {
        if self.verbosity == Verbosity::Normal {
            write_stdout(text.as_ref());
        }
    }

    /// Prints one JSON object on its own line on stdout (only in `--json` mode).
    pub fn json<T: Serialize>(&self, value: &T) {
        if self.verbosity == Verbosity::Json {
            match serde_json::to_string(value) {
                Ok(s) => write_stdout(&s),
                Err(e) => tracing::error!("cannot encode JSON output: {e}"),
            }
        }
    }

    /// Prints a note for the user on stderr (not in `--quiet` mode).
    pub fn note(&self, text: impl AsRef<str>) {
        if self.verbosity != Verbosity::Quiet {
            eprintln!("{}", text.as_ref());
        }
    }

    /// A progress bar over `len` steps, drawn only when stderr is a terminal and not quiet.
    pub fn progress(&self, len: u64, what: &str) -> indicatif::ProgressBar {
        if self.verbosity == Verbosity::Quiet || !std::io::stderr().is_terminal() {
            return indicatif::ProgressBar::hidden();
        }
        let style = indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {pos}/{len} files ({per_sec}, {eta} left)",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> ");
        indicatif::ProgressBar::new(len)
            .with_style(style)
            .with_message(what.to_string())
    }
}

/// Writes a line to stdout; a closed pipe ends the process quietly with success.
fn write_stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{text}")
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(0);
    }
}
