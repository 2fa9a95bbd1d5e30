//! Terminal output: the one place that decides what goes to stdout and stderr.
//!
//! Results go to stdout (human lines, or one JSON object per line with `--json`); logs, warnings
//! and progress go to stderr. `--quiet` silences everything but errors. A closed stdout
//! (`anontrack sync WORKBOOK | head -1`) is not a reason to stop: later lines are dropped
//! quietly and the command finishes its work (and exits with its usual code), never a panic.
//! Progress bars are drawn here, for engines that report through [`Progress`].

use crate::progress::Progress;
use serde::Serialize;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

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

/// Set once stdout turned out to be closed: later lines are not even tried.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes a line to stdout. A closed pipe (the reader is gone, as with `| head -1`) drops this
/// and every later line, but never ends the process: the work and the workbook's save must
/// still happen.
fn write_stdout(text: &str) {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{text}").and_then(|()| out.flush())
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
    }
}

/// An indicatif bar shows an engine's progress: each pass restarts the bar at its length.
impl Progress for indicatif::ProgressBar {
    fn start(&self, total: u64) {
        self.set_length(total);
        self.set_position(0);
    }

    fn file_done(&self) {
        self.inc(1);
    }

    fn finish(&self) {
        self.finish_and_clear();
    }
}
