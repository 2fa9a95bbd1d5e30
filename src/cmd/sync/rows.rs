//! The row loop of `anontrack sync`: every planned row in sheet order, printing each result as
//! it comes, and how the loop ended (all done, `--fail-fast`, Ctrl-C, a full disk).

use super::prose;
use crate::error::{Error, Result};
use crate::exit::Outcome;
use crate::interrupt;
use crate::plan::{Plan, Skip, Stage, WorkItem};
use crate::results::{RowResult, SyncReport};
use crate::runner;
use crate::staging;
use crate::study::Study;
use crate::ui::Ui;

/// Why the row loop ended.
pub(super) enum Stop {
    /// Every row was worked (or `--fail-fast` stopped it, which the report says).
    Finished,
    /// Ctrl-C or SIGTERM; the row being written when it came, if any.
    Interrupted { undone: Option<(u32, String)> },
    /// A row failed for want of space and not enough is free for the next one.
    DiskFull { message: String },
}

/// Says how an ended run stopped and gives its outcome.
pub(super) fn finish(report: &SyncReport, stop: Stop, ui: &Ui) -> Outcome {
    match stop {
        Stop::Finished => report.outcome(),
        Stop::Interrupted { undone } => {
            let saved = if report.results.is_empty() {
                "nothing was finished to save".to_string()
            } else {
                format!("the {} row(s) finished were saved", report.results.len())
            };
            let undone = match undone {
                Some((row, id)) => format!(
                    "row {row} ({id}) was left undone (its partial output removed; it runs again next time), "
                ),
                None => String::new(),
            };
            ui.note(format!(
                "interrupted: {undone}{} row(s) not started; {saved}",
                report.not_started
            ));
            Outcome::Interrupted
        }
        Stop::DiskFull { message } => {
            ui.note(format!("error: {message}"));
            Outcome::Error
        }
    }
}

/// One row to work on, in sheet order: a planned item, or a row the plan found a problem with.
enum Step<'a> {
    Work(&'a WorkItem),
    Problem(&'a Skip),
}

impl Step<'_> {
    fn row(&self) -> u32 {
        match self {
            Step::Work(i) => i.row,
            Step::Problem(s) => s.row,
        }
    }
}

/// Works every planned row (and records every refused one) in sheet order, printing each
/// result as it comes; `--fail-fast` stops after the first problem, Ctrl-C before the next row
/// (or file), a full disk when the next row cannot fit.
pub(super) fn run_rows(
    study: &Study,
    plan: &Plan,
    fail_fast: bool,
    ui: &Ui,
) -> Result<(SyncReport, Stop)> {
    // Sheet order, so `--fail-fast` stops where a person reading the sheet would expect.
    let mut steps: Vec<Step<'_>> = plan
        .items
        .iter()
        .map(Step::Work)
        .chain(plan.skipped.iter().filter(|s| s.problem).map(Step::Problem))
        .collect();
    steps.sort_by_key(Step::row);

    let mut report = SyncReport {
        workbook: study.workbook().to_path_buf(),
        results: Vec::new(),
        not_started: 0,
        applied: None,
    };
    let mut warned_vr = false;
    let mut stop = Stop::Finished;
    for (i, step) in steps.iter().enumerate() {
        if interrupt::requested() {
            report.not_started = steps.len() - i;
            stop = Stop::Interrupted { undone: None };
            break;
        }
        if fail_fast && report.problems() > 0 {
            report.not_started = steps.len() - i;
            ui.note(format!(
                "stopping after the first problem (--fail-fast); {} row(s) not started",
                report.not_started
            ));
            break;
        }
        let result = match step {
            Step::Problem(skip) => match runner::refused_row(study, skip) {
                Some(result) => result,
                None => continue,
            },
            Step::Work(item) => {
                let progress = ui.progress(0, &format!("row {} ({})", item.row, item.id));
                let result = match runner::run_row(study, item, &progress) {
                    Err(Error::Interrupted) => {
                        progress.finish_and_clear();
                        report.not_started = steps.len() - i - 1;
                        stop = Stop::Interrupted {
                            undone: Some((item.row, item.id.clone())),
                        };
                        break;
                    }
                    r => r?,
                };
                progress.finish_and_clear();
                result
            }
        };
        runner::record(study, &result)?;
        if !warned_vr {
            warned_vr = vr_note_once(study, ui, &result);
        }
        prose::print_row(&result, ui);
        print_id_check(&result, ui);
        let disk_full = result
            .note
            .as_deref()
            .is_some_and(|n| n.starts_with("disk full"));
        report.results.push(result);
        if disk_full && let Some(message) = no_room_for_next(study, &steps[i + 1..]) {
            report.not_started = steps.len() - i - 1;
            stop = Stop::DiskFull { message };
            break;
        }
    }
    if matches!(stop, Stop::Finished) && interrupt::requested() {
        // The signal came while the last row was being checked: all done, still a stop.
        stop = Stop::Interrupted { undone: None };
    }
    Ok((report, stop))
}

/// The note about values the profile wrote that their VR does not allow, for `result`, once per
/// study and profile (see [`note_once`]); true when the result had such values.
pub(crate) fn vr_note_once(study: &Study, ui: &Ui, result: &RowResult) -> bool {
    let profile = &study.profile().name;
    let Some(text) = prose::vr_warning_text(profile, &result.vr_warnings) else {
        return false;
    };
    note_once(study, ui, &format!("vr-note {profile}"), &text);
    true
}

/// With `-v`, the ID check's failure in full on stderr: the counts by field and the first
/// failing files, relative to the raw folder (the sheet's note names no file).
pub(crate) fn print_id_check(result: &RowResult, ui: &Ui) {
    let Some(m) = result.id_check.as_ref().filter(|_| ui.verbose() > 0) else {
        return;
    };
    let id = crate::sheet::display_safe(&result.id);
    for (i, line) in prose::id_check_lines(m).into_iter().enumerate() {
        ui.note(if i == 0 {
            format!("note: row {} (`{id}`): {line}", result.row)
        } else {
            format!("      {line}")
        });
    }
}

/// The file in `.anontrack/` listing the notes already shown for this study, one key a line.
const SHOWN_NOTES: &str = "notes-shown";

/// Prints `note: TEXT` the first time `key` comes up in this study, and every time with `-v`.
/// Remembered in `.anontrack/notes-shown` only once a person could have read it (not with
/// `--quiet`); a file that cannot be written only means the note shows again.
fn note_once(study: &Study, ui: &Ui, key: &str, text: &str) {
    if ui.verbosity() == crate::ui::Verbosity::Quiet {
        return;
    }
    let file = study.state_dir().join(SHOWN_NOTES);
    let shown = std::fs::read_to_string(&file).unwrap_or_default();
    let known = shown.lines().any(|l| l == key);
    if ui.verbose() > 0 {
        ui.note(format!("note: {text}"));
    } else if known {
        tracing::info!("a note shown before for this study is not repeated ({key})");
        return;
    } else {
        ui.note(format!(
            "note: {text} (shown once per study; `-v` always shows it)"
        ));
    }
    if !known {
        let updated = format!("{shown}{key}\n");
        let written = std::fs::create_dir_all(study.state_dir())
            .map_err(|e| e.to_string())
            .and_then(|()| {
                crate::records::write_atomic(&file, updated.as_bytes()).map_err(|e| e.to_string())
            });
        if let Err(e) = written {
            tracing::debug!("cannot remember a shown note: {e}");
        }
    }
}

/// After a row failed for want of space (its output removed): `None` when the next row to
/// anonymize fits in what is free now, else what to tell the person.
fn no_room_for_next(study: &Study, rest: &[Step<'_>]) -> Option<String> {
    let next = rest.iter().find_map(|s| match s {
        Step::Work(item) if item.action == Stage::Anonymize => Some(*item),
        _ => None,
    })?;
    let needed = staging::bytes_under(&next.raw_dir);
    // Where free space cannot be known (Windows), the next row simply tries.
    let free = staging::free_bytes(&next.anon_dir)?;
    (free < needed).then(|| {
        format!(
            "the disk holding {} is full: {} free, row {} ({}) needs about {}; free at least {} and run sync again (the rows done so far were saved)",
            study.shown(next.anon_dir.parent().unwrap_or(&next.anon_dir)),
            staging::human(free),
            next.row,
            next.id,
            staging::human(needed),
            staging::human(needed - free)
        )
    })
}

#[cfg(test)]
mod tests {
    use crate::plan::Stage;
    use crate::progress::{Phase, Progress};
    use crate::sheet::template::{TemplateCell, TemplateRow, write_template_with_rows};
    use crate::study::{Study, StudyOptions};
    use crate::synth::{ParticipantSpec, write_participant};
    use std::sync::Mutex;

    /// Keeps the phases a row announces and the size of each pass.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);

    impl Progress for Recorder {
        fn phase(&self, phase: Phase) {
            self.0.lock().unwrap().push(phase.label().into());
        }
        fn start(&self, total: u64) {
            self.0.lock().unwrap().push(total.to_string());
        }
    }

    #[test]
    fn a_rows_progress_names_each_phase_before_its_pass() {
        let dir = tempfile::tempdir().unwrap();
        let workbook = dir.path().join("W_dataprocessing.xlsx");
        let row = TemplateRow {
            id: "S1".into(),
            original_id: "5890001".into(),
            anonymized: TemplateCell::claimed("KH"),
            ..TemplateRow::default()
        };
        write_template_with_rows(&workbook, &[row]).unwrap();
        let study = Study::open(&StudyOptions {
            workbook,
            ..StudyOptions::default()
        })
        .unwrap();
        write_participant(
            &dir.path().join("sourcedata/5890001"),
            &ParticipantSpec::new("5890001", 3),
        )
        .unwrap();
        let plan = crate::plan::plan(study.table(), study.config(), study.folder());
        let item = &plan.items[0];
        assert_eq!(item.action, Stage::Anonymize);
        let seen = Recorder::default();
        let r = crate::runner::run_row(&study, item, &seen).unwrap();
        assert!(r.passed, "{:?}", r.findings);
        assert_eq!(
            *seen.0.lock().unwrap(),
            ["checking IDs", "8", "write+verify", "8"]
        );
        // A file the writer leaves alone (a notes file) is the verifier's own pass, after.
        std::fs::write(dir.path().join("sourcedata/5890001/notes.txt"), b"notes").unwrap();
        let seen = Recorder::default();
        let r = crate::runner::run_row(&study, item, &seen).unwrap();
        assert!(r.passed, "{:?}", r.findings);
        assert_eq!(
            *seen.0.lock().unwrap(),
            ["checking IDs", "9", "write+verify", "8", "verifying", "1"]
        );
    }
}
