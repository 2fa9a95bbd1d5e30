//! Terminal output: the one place that decides what goes to stdout and stderr.
//!
//! Results go to stdout (human lines, or one JSON object per line with `--json`); logs, warnings
//! and progress go to stderr. `--quiet` silences everything but errors. A closed stdout
//! (`anontrack sync WORKBOOK | head -1`) is not a reason to stop: later lines are dropped
//! quietly and the command finishes its work (and exits with its usual code), never a panic.
//! Progress bars are drawn here, for engines that report through [`Progress`]: one line per
//! row, `row 3 (S01) writing      [=======>        ] 120/410 files, 4s left`, under 80
//! columns, whole numbers only.

use crate::progress::{Phase, Progress};
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
    verbose: u8,
}

impl Ui {
    /// A printer for the given mode.
    pub fn new(verbosity: Verbosity) -> Self {
        Self {
            verbosity,
            verbose: 0,
        }
    }

    /// The same printer with `-v` given `verbose` times (notes shown once per study show
    /// every time with `-v`).
    pub fn with_verbose(self, verbose: u8) -> Self {
        Self { verbose, ..self }
    }

    /// The mode.
    pub fn verbosity(&self) -> Verbosity {
        self.verbosity
    }

    /// How many times `-v` was given.
    pub fn verbose(&self) -> u8 {
        self.verbose
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

    /// A progress bar over `len` steps labelled `what` (e.g. `row 3 (S01)`), drawn only when
    /// stderr is a terminal and not quiet. Each [`Phase`] an engine announces shows after the
    /// label.
    pub fn progress(&self, len: u64, what: &str) -> indicatif::ProgressBar {
        if self.verbosity == Verbosity::Quiet || !std::io::stderr().is_terminal() {
            return indicatif::ProgressBar::hidden();
        }
        styled_bar(indicatif::ProgressBar::new(len), what)
    }
}

/// The widest label a bar shows; a longer one is cut with `...` (the line stays under 80
/// columns).
const LABEL_WIDTH: usize = 18;

/// `bar` with anontrack's style and `what` as its label.
fn styled_bar(bar: indicatif::ProgressBar, what: &str) -> indicatif::ProgressBar {
    let style = indicatif::ProgressStyle::with_template("{prefix} {msg}{counts}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .with_key(
            "counts",
            |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = w.write_str(&counts(state.pos(), state.len(), state.eta()));
            },
        );
    bar.with_style(style).with_prefix(bar_label(what))
}

/// `[=====>          ] 120/410 files, 4s left`: whole numbers only (no `12.3456/s` rate), and
/// nothing before a pass has started (a bar of `0/0` would read as done).
fn counts(pos: u64, len: Option<u64>, eta: std::time::Duration) -> String {
    const WIDTH: usize = 16;
    let Some(len) = len.filter(|l| *l > 0) else {
        return String::new();
    };
    let pos = pos.min(len);
    let filled = usize::try_from(pos * WIDTH as u64 / len).unwrap_or(WIDTH);
    let bar = if filled >= WIDTH {
        "=".repeat(WIDTH)
    } else {
        format!("{}>{}", "=".repeat(filled), " ".repeat(WIDTH - filled - 1))
    };
    format!(
        "[{bar}] {pos}/{len} files, {:#} left",
        indicatif::HumanDuration(eta)
    )
}

/// `what` safe to print and cut to [`LABEL_WIDTH`] characters.
fn bar_label(what: &str) -> String {
    let safe = crate::sheet::display_safe(what);
    if safe.chars().count() <= LABEL_WIDTH {
        return safe.into_owned();
    }
    let cut: String = safe.chars().take(LABEL_WIDTH - 3).collect();
    format!("{cut}...")
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

/// An indicatif bar shows an engine's progress: each phase shows after the label, each pass
/// restarts the bar at its length (also after an engine finished: the verifier follows the
/// anonymizer on the same bar).
impl Progress for indicatif::ProgressBar {
    fn phase(&self, phase: Phase) {
        // The last pass's counts go first: `writing` beside the ID check's `800/800` would read
        // as written.
        self.update(|state| {
            state.set_len(0);
            state.set_pos(0);
        });
        self.set_message(format!("{:<width$} ", phase.label(), width = Phase::WIDTH));
    }

    fn start(&self, total: u64) {
        self.reset();
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A terminal that records every line drawn, as wide as asked.
    #[derive(Debug, Clone, Default)]
    struct Screen {
        width: u16,
        lines: Arc<Mutex<Vec<String>>>,
    }

    impl indicatif::TermLike for Screen {
        fn width(&self) -> u16 {
            self.width
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            self.write_str(s)
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            // Blank writes clear what an earlier, longer line left.
            if !s.trim().is_empty() {
                self.lines.lock().unwrap().push(s.to_string());
            }
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What a bar labelled `what` draws on a 200-column terminal after `steps`.
    fn drawn(what: &str, steps: impl FnOnce(&indicatif::ProgressBar)) -> Vec<String> {
        let screen = Screen {
            width: 200,
            ..Screen::default()
        };
        let target = indicatif::ProgressDrawTarget::term_like(Box::new(screen.clone()));
        let bar = styled_bar(
            indicatif::ProgressBar::with_draw_target(Some(0), target),
            what,
        );
        steps(&bar);
        bar.tick();
        screen.lines.lock().unwrap().clone()
    }

    #[test]
    fn a_bar_names_the_row_and_phase_in_whole_numbers() {
        let lines = drawn("row 3 (S01)", |bar| {
            bar.phase(Phase::Writing);
            bar.start(410);
            for _ in 0..120 {
                bar.file_done();
            }
        });
        let last = lines.last().expect("a line was drawn");
        assert!(
            last.starts_with("row 3 (S01) writing      [====>"),
            "{last}"
        );
        assert!(last.contains("] 120/410 files, "), "{last}");
        assert!(last.ends_with(" left"), "{last}");
        assert!(!last.contains('.'), "whole numbers only: {last}");
    }

    #[test]
    fn the_verify_pass_draws_again_after_the_anonymizer_finished() {
        let lines = drawn("row 3 (S01)", |bar| {
            for (phase, n) in [(Phase::CheckingIds, 5), (Phase::Writing, 5)] {
                bar.phase(phase);
                bar.start(n);
                (0..n).for_each(|_| bar.file_done());
            }
            bar.finish();
            bar.phase(Phase::Verifying);
            bar.start(5);
            bar.file_done();
        });
        let last = lines.last().expect("a line was drawn");
        assert!(
            last.contains("verifying    [") && last.contains("] 1/5 files"),
            "{last}"
        );
    }

    #[test]
    fn lines_stay_under_80_columns_on_a_wide_terminal() {
        let long = format!("row 12345 ({})", "SUBJECT-".repeat(8));
        for phase in [Phase::CheckingIds, Phase::Writing, Phase::Verifying] {
            for done in [0, 1, 50_000, 99_999] {
                let lines = drawn(&long, |bar| {
                    bar.phase(phase);
                    bar.start(99_999);
                    bar.set_position(done);
                });
                for line in &lines {
                    assert!(line.chars().count() < 80, "{} columns: {line}", line.len());
                }
                assert!(lines.last().unwrap().starts_with("row 12345 (SUBJ... "));
            }
        }
    }

    #[test]
    fn counts_are_whole_and_empty_before_a_pass() {
        let eta = std::time::Duration::from_secs(4);
        assert_eq!(counts(0, Some(0), eta), "");
        assert_eq!(counts(0, None, eta), "");
        assert_eq!(
            counts(120, Some(410), eta),
            "[====>           ] 120/410 files, 4s left"
        );
        assert_eq!(
            counts(0, Some(3), eta),
            "[>               ] 0/3 files, 4s left"
        );
        assert_eq!(
            counts(3, Some(3), std::time::Duration::ZERO),
            "[================] 3/3 files, 0s left"
        );
    }

    #[test]
    fn a_phase_before_its_pass_shows_no_counts() {
        let lines = drawn("row 3 (S01)", |bar| bar.phase(Phase::CheckingIds));
        assert_eq!(lines.last().unwrap().trim_end(), "row 3 (S01) checking IDs");
        // Nor after the last pass: the ID check's `5/5` is not the writing's.
        let lines = drawn("row 3 (S01)", |bar| {
            bar.phase(Phase::CheckingIds);
            bar.start(5);
            (0..5).for_each(|_| bar.file_done());
            bar.phase(Phase::Writing);
        });
        assert_eq!(lines.last().unwrap().trim_end(), "row 3 (S01) writing");
    }

    #[test]
    fn labels_are_cut_and_escaped() {
        assert_eq!(bar_label("row 3 (S01)"), "row 3 (S01)");
        assert_eq!(bar_label("row 3 (a\u{1b}b)"), "row 3 (a\\u{1b}b)");
        assert_eq!(bar_label("row 12345 (SUBJECT-01)"), "row 12345 (SUBJ...");
    }
}
